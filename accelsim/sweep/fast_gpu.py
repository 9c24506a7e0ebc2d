"""The GPU fast path: a trace on every design point (SMs, clock, HBM, L2) at once.

Follows accelsim.devices.gpu op for op: GEMMs take kernels.gpu's fastest tile plan, found for every
(distinct GEMM, distinct design) pair in one kernel call (kernels.gpu_grid), and the thin-GEMM,
streaming, energy and power-limit rules are evaluated on an (ops x designs) numpy grid. Prices
(pJ per MAC, byte, FLOP) do not depend on the swept keys, so they are the device model's own.
"""

from __future__ import annotations

import numpy as np

from accelsim.sweep.fast_grid import (METRICS, FastTotals, broadcast_designs, distinct_op_totals,
                                      finish_grid, prepare_run)

# swept key -> (fast_gpu argument, unit family or None)
FAST_KEYS = {"sms": ("sms", None), "clock": ("clock", "frequency"),
             "memory.bandwidth": ("bandwidth", "bandwidth"),
             "memory.capacity": ("capacity", "bytes"),
             "l2.size": ("l2_size", "bytes"), "l2.bandwidth": ("l2_bandwidth", "bandwidth")}


def fast_gpu(graph, *, device="h100", sms=None, clock=None, bandwidth=None, capacity=None,
             l2_size=None, l2_bandwidth=None, precision: str | None = None,
             mode: str = "inference", batch: int = 1, overrides=(), stack: str | None = None,
             **workload_params) -> FastTotals:
    """Cost `graph` (Graph, zoo name or file) on every design point of a GPU `device`.

    sms, clock (Hz), bandwidth (peak HBM B/s), capacity (bytes), l2_size (bytes) and l2_bandwidth
    (B/s) are scalars or arrays, broadcast together; None keeps the device's value.
    """
    spec = device
    device, graph, trace = prepare_run(graph, device, overrides=overrides, precision=precision,
                                       mode=mode, batch=batch, stack=stack, kind="gpu",
                                       **workload_params)
    l2 = device.l2
    design = broadcast_designs(
        {"sms": sms, "clock": clock, "bandwidth": bandwidth, "capacity": capacity,
         "l2_size": l2_size, "l2_bandwidth": l2_bandwidth},
        {"sms": device.sms, "clock": device.clock, "bandwidth": device.memory.bandwidth,
         "capacity": device.memory.capacity or np.inf, "l2_size": l2.size if l2 else 0.0,
         "l2_bandwidth": l2.bandwidth if l2 and l2.bandwidth else 0.0},
        positive=("sms", "clock", "bandwidth", "capacity"), integers=("sms",))
    return distinct_op_totals(device, spec, overrides, trace, design, FAST_KEYS, _features,
                              FEATURES, lambda dev, col, points, idle, _counts:
                              _op_grid(dev, col, points, idle), stack=graph.info("stack"))


def _op_grid(device, columns: dict, design: dict, idle_w):
    """OpGrid of the distinct ops (`columns`: their FEATURES); L2 traffic priced by each design's
    L2 size, as devices.gpu prices it."""
    from accelsim.devices.energy import PJ, sram_pj_per_byte

    scale = _peak_scale(device, design)
    fp32 = device.peak.get("fp32") or min(device.peak.values())      # GpuConfig.vector_flops
    vector_rate = fp32 * scale * device.efficiency.vector
    bandwidth = design["bandwidth"] * device.memory.efficiency
    gemm = columns["is_gemm"] > 0
    compute_s = columns["flops"][:, None] / vector_rate          # streaming ops and CUDA-core GEMMs
    memory_s = (columns["reads"] + columns["writes"])[:, None] / bandwidth
    reads = np.broadcast_to(columns["reads"][:, None], compute_s.shape).copy()
    writes = np.broadcast_to(columns["writes"][:, None], compute_s.shape).copy()
    onchip = reads + writes
    tensor = np.zeros(compute_s.shape, bool)
    if gemm.any():
        g = _gemm_grid(device, columns, gemm, design, scale, vector_rate, bandwidth)
        compute_s[gemm], memory_s[gemm], reads[gemm], writes[gemm], onchip[gemm], tensor[gemm] = g
    prices = [columns[name][:, None] for name in ("compute_j", "onchip_pj", "offchip_pj", "rf_j")]
    l2_pj = sram_pj_per_byte(device, design["l2_size"]) if device.l2 else prices[1]
    onchip_j = onchip * l2_pj * PJ + np.where(tensor, prices[3], 0.0)
    dram = reads + writes
    return finish_grid(compute_s, memory_s, device.launch_overhead, prices[0], onchip_j,
                       dram * prices[2] * PJ, dram, idle_w=idle_w,
                       tdp_w=device.power.tdp)


FEATURES = ("is_gemm", "m", "n", "k", "count", "elem", "a", "b", "reads", "writes", "flops",
            "vector_flops", "peak", "rate_factor", "tensor", "compute_j", "onchip_pj", "offchip_pj",
            "rf_j")


def _features(op, device) -> list[float]:
    """The numbers of `op` that its cost on any design point depends on (FEATURES)."""
    from accelsim.devices.energy import dram_pj_per_byte, op_energy, sram_pj_per_byte
    from accelsim.devices.gpu import CUDA_CORE_PRECISIONS, gemm_operands, register_file_energy
    from accelsim.workload.ir import BYTES_PER_ELEMENT

    is_gemm = op.gemm is not None and op.macs > 0
    prices = [op_energy(device, op, dram_bytes=0.0).compute, sram_pj_per_byte(device),
              dram_pj_per_byte(device)]
    if not is_gemm:
        reads = op.input_bytes + op.weight_bytes
        return [0, 0, 0, 0, 0, 0, 0, 0, reads, op.output_bytes, op.flops, 0, 0, 0, 0, *prices, 0]
    a_bytes, b_bytes = gemm_operands(op)
    peak = device.peak.get(op.precision, 0.0)
    # rate = peak at the design's SMs x clock x rate_factor; rate_factor 0: the CUDA-core rate
    factor = peak and device.efficiency.gemm(op.precision) * (
        2.0 if op.precision not in CUDA_CORE_PRECISIONS and op.attr("sparsity") == "2:4"
        and device.sparsity_2_4 else 1.0)
    tensor = peak > 0 and op.precision not in CUDA_CORE_PRECISIONS
    g = op.gemm
    return [1, g.m, g.n, g.k, g.count, BYTES_PER_ELEMENT[op.precision], a_bytes, b_bytes,
            a_bytes + b_bytes, op.output_bytes, op.flops, op.vector_flops, peak, factor, tensor,
            *prices, register_file_energy(op, device) if tensor else 0.0]


def _peak_scale(device, design: dict) -> np.ndarray:
    """GpuConfig.peak_scale of each design point."""
    basis = device.peak_at
    if basis is None:
        return np.ones(design["sms"].shape)
    return design["sms"] / basis.sms * (design["clock"] / basis.clock)


def _gemm_grid(device, columns: dict, gemm: np.ndarray, design: dict, scale, vector_rate,
               bandwidth):
    """devices.gpu._gemm_cost of the GEMM rows on every design: (compute_s, memory_s, reads,
    writes, on-chip bytes, on tensor cores)."""
    from accelsim.kernels import gpu as tiling
    from accelsim.kernels.gpu_grid import plan_grid

    col = {name: values[gemm] for name, values in columns.items()}
    # peak_flops(p) = peak[p] x peak_scale; then x efficiency (x2 sparse), as gpu.gemm_rate does
    rate = np.where(col["rate_factor"][:, None] > 0,
                    (col["peak"][:, None] * scale) * col["rate_factor"][:, None], vector_rate)
    sms = design["sms"]
    shapes = np.stack([col[name] for name in ("m", "n", "k", "count")], axis=1).astype(np.int64)
    l2_size, l2_bw = design["l2_size"], design["l2_bandwidth"]
    common = dict(tiles=device.tiles, k_overhead=device.efficiency.tile_overhead_k,
                  tile_intensity=device.efficiency.tile_intensity)
    plan = plan_grid(shapes, col["elem"], col["a"], col["b"], col["writes"], slots=sms,
                     slot_flops=rate / sms, l2_size=l2_size, l2_bw=l2_bw, dram_bw=bandwidth,
                     **common)
    alone = _memory_free_plans(shapes, col["elem"], sms, rate, common)
    epilogue = col["vector_flops"][:, None] / vector_rate
    partial = plan[..., tiling.PARTIAL_BYTES] / 2
    c_bytes = col["writes"][:, None] + partial
    compute_s = plan[..., tiling.COMPUTE_S] + epilogue
    reads = plan[..., tiling.DRAM_READ_BYTES] + partial
    onchip = plan[..., tiling.L2_BYTES]
    memory_s = np.maximum((reads + c_bytes) / bandwidth,
                          np.where(l2_bw > 0, onchip / np.where(l2_bw > 0, l2_bw, 1.0), 0.0))
    operands = (col["a"] + col["b"])[:, None]
    simt_compute = col["flops"][:, None] / vector_rate
    simt_memory = (operands + col["writes"][:, None]) / bandwidth
    tensor = np.broadcast_to(col["tensor"][:, None] > 0, compute_s.shape)
    padding = np.where(tensor, 1.0, 2.0)
    thin = (np.maximum(simt_compute, simt_memory) <= np.maximum(compute_s, memory_s)) & (
        padding * simt_compute <= alone[..., tiling.COMPUTE_S] + epilogue)
    writes = np.where(thin, col["writes"][:, None], c_bytes)
    reads = np.where(thin, operands, reads)
    return (np.where(thin, simt_compute, compute_s), np.where(thin, simt_memory, memory_s), reads,
            writes, np.where(thin, reads + writes, onchip), tensor & ~thin)


def _memory_free_plans(shapes, elem, sms, rate, common):
    """kernels.gpu plans with free memory (devices.gpu.tile_compute_s), computed once per distinct
    (SMs, rates) column."""
    from accelsim.kernels.gpu_grid import plan_grid

    columns = np.concatenate([sms[None, :].astype(np.float64), rate], axis=0).T
    distinct, which = np.unique(columns, axis=0, return_inverse=True)
    zeros = np.zeros(len(shapes))
    plans = plan_grid(shapes, elem, zeros, zeros, zeros, slots=distinct[:, 0].astype(np.int64),
                      slot_flops=(distinct[:, 1:] / distinct[:, :1]).T,
                      l2_size=np.zeros(len(distinct)), l2_bw=np.zeros(len(distinct)),
                      dram_bw=np.ones(len(distinct)), **common)
    return plans[:, which.reshape(-1)]
