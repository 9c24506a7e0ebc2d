"""The CPU fast path: a trace on every design point (cores, clock, DRAM bandwidth, caches) at once.

Follows accelsim.devices.cpu op for op on an (ops x designs) numpy grid: GEMMs at peak x efficiency
on the faster unit with cache-blocked DRAM and LLC-to-L2 traffic (blocking sides worked out once
per distinct cache size), other ops streamed, activations kept on chip as planned once per distinct
on-chip capacity (cores x L2 + LLC), energy at TDP while an op works.
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.sweep.fast_grid import (METRICS, FastTotals, active_parts, broadcast_designs,
                                      distinct_op_totals, finish_grid, prepare_run)

# swept key -> (fast_cpu argument, unit family or None)
FAST_KEYS = {"cores": ("cores", None), "clock": ("clock", "frequency"),
             "memory.bandwidth": ("bandwidth", "bandwidth"),
             "memory.capacity": ("capacity", "bytes"),
             "cache.llc": ("llc", "bytes"), "cache.l2": ("l2", "bytes")}
FEATURES = ("gemm", "m", "n", "elem", "a", "b", "reads", "writes", "flops", "vector_flops",
            "flops_per_cycle", "efficiency", "compute_j")


def fast_cpu(graph, *, device="xeon_8480", cores=None, clock=None, bandwidth=None, capacity=None,
             llc=None, l2=None, precision: str | None = None, mode: str = "inference",
             batch: int = 1, overrides=(), stack: str | None = None,
             **workload_params) -> FastTotals:
    """Cost `graph` (Graph, zoo name or file) on every design point of a CPU `device`.

    cores, clock (Hz), bandwidth (peak DRAM B/s), capacity, llc and l2 (bytes; l2 per core) are
    scalars or arrays, broadcast together; None keeps the device's value.
    """
    from accelsim.errors import UsageError

    spec = device
    device, _graph, trace = prepare_run(graph, device, overrides=overrides, precision=precision,
                                        mode=mode, batch=batch, stack=stack, kind="cpu",
                                        **workload_params)
    values = {"cores": cores, "clock": clock, "bandwidth": bandwidth, "capacity": capacity,
              "llc": llc, "l2": l2}
    design = broadcast_designs(values, {
        "cores": device.cores, "clock": device.clock, "bandwidth": device.memory.bandwidth,
        "capacity": device.memory.capacity or np.inf, "llc": device.cache.llc,
        "l2": device.cache.l2}, positive=tuple(values), integers=("cores",))
    if not (device.cache.l1 < design["l2"]).all() or not (design["l2"] < design["llc"]).all():
        raise UsageError("caches must grow: l1 < l2 < llc", key="llc")
    from accelsim.devices.cpu import instance_per_core, on_chip_bytes
    from accelsim.devices.mapping import resident_activations

    capacities, plan = np.unique(on_chip_bytes(design["cores"], design["l2"], design["llc"]),
                                 return_inverse=True)
    plans = [resident_activations(trace.ops, capacity) for capacity in capacities]
    names = FEATURES + tuple(f"held_{part}{j}" for j in range(len(plans)) for part in "abc")
    return distinct_op_totals(device, spec, overrides, trace, design, FAST_KEYS,
                              lambda op, dev: _features(op, dev, plans), names,
                              lambda dev, col, points, idle, counts: _op_grid(
                                  dev, col, points, idle, plan.reshape(-1),
                                  instance_per_core(trace.ops, trace.samples_per_step,
                                                    points["cores"], points["llc"]), counts))


def _features(op, device, plans) -> list[float]:
    """The numbers of `op` that its cost on any design point depends on (FEATURES, then its
    resident A, B and output bytes under each on-chip plan)."""
    from accelsim.devices.cpu import on_chip_parts, stream_reads
    from accelsim.devices.energy import op_energy
    from accelsim.devices.gpu import gemm_operands
    from accelsim.workload.ir import BYTES_PER_ELEMENT

    compute_j = op_energy(device, op, dram_bytes=0.0).compute
    held = [part for resident in plans for part in on_chip_parts(op, resident)]
    if op.gemm is not None and op.macs > 0:
        a_bytes, b_bytes = gemm_operands(op)
        return [1, op.gemm.m, op.gemm.n, BYTES_PER_ELEMENT[op.precision], a_bytes, b_bytes,
                a_bytes + b_bytes, op.output_bytes, op.flops, op.vector_flops,
                device.flops_per_cycle(op.precision), device.efficiency.gemm(op.precision),
                compute_j, *held]
    return [0, 0, 0, 0, 0, 0, stream_reads(op), op.output_bytes, op.flops, 0, 0, 0, compute_j,
            *held]


def _held(col: dict, part: str, plan: np.ndarray) -> np.ndarray:
    """Resident bytes of operand `part` (a, b or c) of every op under each design's plan."""
    table = np.stack([col[f"held_{part}{j}"] for j in range(plan.max() + 1)], axis=1)
    return table[:, plan]


def _blocked_reads(col: dict, cache: np.ndarray, held_a=0.0, held_b=0.0) -> np.ndarray:
    """devices.cpu.blocked_reads of the GEMM rows into caches of these sizes (designs), less
    the operand bytes held on chip."""
    from accelsim.devices.cpu import block_side

    sizes, which = np.unique(cache, return_inverse=True)
    elems = np.unique(col["elem"][col["gemm"] > 0])
    sides = {(size, elem): block_side(size, elem) for size in sizes for elem in elems}
    side = np.array([[sides.get((size, elem), 1) for size in sizes] for elem in col["elem"]])
    side = side[:, which.reshape(-1)]
    a_read, b_read = col["a"][:, None] - held_a, col["b"][:, None] - held_b
    blocked = a_read * np.ceil(col["n"][:, None] / side) + b_read * np.ceil(col["m"][:, None] / side)
    fits = (col["a"] + col["b"] + col["writes"])[:, None] <= cache
    return np.where(fits, a_read + b_read, blocked)


def _op_grid(device, col: dict, design: dict, idle, plan: np.ndarray, spread: np.ndarray,
             counts: np.ndarray):
    """devices.cpu.costs of the distinct ops (`counts` of each) on every design point (`plan`:
    each point's index into the on-chip plans; `spread`: where the batch runs one instance per
    core, devices.cpu.batch_parallel)."""
    from accelsim.devices.energy import PJ, dram_pj_per_byte, sram_pj_per_byte

    held_a, held_b, held_c = (_held(col, part, plan) for part in "abc")
    gemm = col["gemm"][:, None] > 0
    simd = device.simd.get("fp32") or min(device.simd.values())     # CpuConfig.vector_flops
    vector_rate = (design["cores"] * simd).astype(np.float64) * design["clock"] \
        * device.efficiency.vector
    peak = (design["cores"] * col["flops_per_cycle"][:, None]) * design["clock"]
    rate = np.where(peak > 0, peak * col["efficiency"][:, None], vector_rate)
    compute_s = np.where(gemm, col["flops"][:, None] / rate
                         + col["vector_flops"][:, None] / vector_rate,
                         col["flops"][:, None] / vector_rate)
    reads = np.where(gemm, _blocked_reads(col, design["llc"], held_a, held_b),
                     col["reads"][:, None] - held_a)
    writes = col["writes"][:, None] - held_c
    full = col["reads"][:, None] + col["writes"][:, None]
    onchip = np.where(gemm, _blocked_reads(col, design["l2"]) + col["writes"][:, None],
                      np.broadcast_to(full, reads.shape))
    memory_s = (reads + writes) / (design["bandwidth"] * device.memory.efficiency)
    sram_pj = sram_pj_per_byte(device, design["llc"])
    parts = [np.broadcast_to(col["compute_j"][:, None], reads.shape), onchip * sram_pj * PJ,
             (reads + writes) * dram_pj_per_byte(device) * PJ]
    by_compute = counts @ compute_s >= counts @ memory_s
    work = np.where(spread, np.where(by_compute, compute_s, memory_s),
                    np.maximum(compute_s, memory_s))
    tdp = device.power.tdp
    parts = active_parts(parts, tdp, idle, work)
    return finish_grid(compute_s, memory_s, device.op_overhead, *parts, reads + writes,
                       idle_w=idle, tdp_w=tdp, work_s=work)
