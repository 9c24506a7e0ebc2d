"""The NPU fast path: a trace on every design point (clock, SRAM, off-chip bandwidth) at once.

Follows accelsim.devices.npu: each op's latency under its four placements (weights cached or not,
activations on chip or not) on an (ops x designs) grid, the weight cache of the fastest run chosen
per design by one kernel call (kernels.npu_cache, over devices.npu.cache_candidates), then the
chosen placements' energy with the active-power and power-limit rules. Array cycles and host
fallbacks do not depend on the swept keys and are the device model's own.
"""

from __future__ import annotations

import numpy as np

from accelsim.sweep.fast_grid import (METRICS, FastTotals, active_parts, broadcast_designs,
                                      design_power, finish_grid, prepare_run, run_totals)

# swept key -> (fast_npu argument, unit family or None)
FAST_KEYS = {"clock": ("clock", "frequency"), "sram": ("sram", "bytes"),
             "memory.bandwidth": ("bandwidth", "bandwidth"),
             "memory.capacity": ("capacity", "bytes")}


def fast_npu(graph, *, device="coral_edgetpu", clock=None, sram=None, bandwidth=None, capacity=None,
             precision: str | None = None, mode: str = "inference", batch: int = 1, overrides=(),
             stack: str | None = None, **workload_params) -> FastTotals:
    """Cost `graph` (Graph, zoo name or file) on every design point of an NPU `device`.

    clock (Hz), sram (bytes), bandwidth (peak off-chip B/s) and capacity (bytes) are scalars or
    arrays, broadcast together; None keeps the device's value.
    """
    spec = device
    device, _graph, trace = prepare_run(graph, device, overrides=overrides, precision=precision,
                                        mode=mode, batch=batch, stack=stack, kind="npu",
                                        **workload_params)
    values = {"clock": clock, "sram": sram, "bandwidth": bandwidth, "capacity": capacity}
    design = broadcast_designs(values, {
        "clock": device.clock, "sram": device.sram, "bandwidth": device.memory.bandwidth,
        "capacity": device.memory.capacity or np.inf}, positive=tuple(values))
    ops = _op_table(trace.ops, device)
    placed = _placed(ops, trace.ops, design)
    area, idle = design_power(device, spec, overrides, design, FAST_KEYS)
    return run_totals(_op_grid(device, ops, design, *placed, idle), np.ones(len(trace.ops)),
                      design, device, trace, area, idle)


def _op_table(ops, device) -> dict:
    """Per-op numbers the cost on any design point depends on, as arrays over the ops."""
    from accelsim.devices.energy import PJ, dram_pj_per_byte, op_energy
    from accelsim.devices.npu import _host_cost, _npu_cycles, _placements, _working_set

    rows = []
    for op, placements in zip(ops, _placements(ops, device)):
        placement = placements[1][1]
        host = op.kind.value not in device.supported_ops
        fixed = _host_cost(op, device, placement) if host else None
        energy = op_energy(device, op, dram_bytes=0.0)
        rows.append({
            "host": host, "cycles": 0 if host else _npu_cycles(op, device),
            "inputs": op.input_bytes, "outputs": op.output_bytes, "weights": op.weight_bytes,
            "offchip_inputs": placement.offchip_inputs,
            "offchip_outputs": placement.offchip_outputs,
            "overhead": device.layer_overhead + (device.host.invoke_overhead if placement.first
                                                 else 0.0),
            "working": _working_set(op), "compute_j": energy.compute,
            "host_latency": fixed.latency_s if host else 0.0,
            "host_dynamic_j": fixed.energy.compute + fixed.energy.onchip + fixed.energy.offchip
            if host else 0.0, "host_dram": fixed.dram_bytes if host else 0.0})
    table = {key: np.array([row[key] for row in rows], dtype=np.float64) for key in rows[0]}
    table["dram_pj"] = dram_pj_per_byte(device) * PJ
    table["efficiency"] = device.memory.efficiency
    return table


def _traffic(ops: dict, cached, on_chip) -> tuple[np.ndarray, np.ndarray]:
    """(reads, writes) off chip of each NPU op under a placement (arrays broadcast together)."""
    reads = np.where(on_chip, ops["offchip_inputs"], ops["inputs"])
    writes = np.where(on_chip, ops["offchip_outputs"], ops["outputs"])
    return reads + np.where(cached, 0.0, ops["weights"]), writes


def _placed(ops: dict, trace_ops, design: dict):
    """(weights cached, activations on chip) of each op on each design: the fastest run's cache."""
    from accelsim.devices.npu import cache_candidates
    from accelsim.kernels.npu_cache import best_caches

    used, cached = cache_candidates(trace_ops)
    fits = used <= design["sram"].max()
    used, cached = used[fits], cached[fits]
    _, first = np.unique(np.concatenate([cached, used[:, None]], axis=1), axis=0, return_index=True)
    keep = np.sort(first)
    used, cached = used[keep], cached[keep]
    col = {key: value[:, None, None, None] for key, value in ops.items() if np.ndim(value)}
    flags = np.array([False, True])
    reads, writes = _traffic(col, flags[None, :, None, None], flags[None, None, :, None])
    latency = np.where(col["host"] > 0, col["host_latency"], col["overhead"] + np.maximum(
        col["cycles"] / design["clock"], (reads + writes) / _bandwidth(design, ops)))
    best = best_caches(cached, used, ops["working"], design["sram"], latency)
    on_chip = ops["working"][:, None] <= design["sram"] - used[best]
    return cached[best].T, on_chip


def _bandwidth(design: dict, ops: dict) -> np.ndarray:
    """Achievable off-chip bandwidth of each design."""
    return design["bandwidth"] * ops["efficiency"]


def _op_grid(device, ops: dict, design: dict, cached, on_chip, idle):
    """devices.npu's op costs under the chosen placements on every design point."""
    from accelsim.devices.energy import PJ, sram_pj_per_byte

    col = {key: value[:, None] if np.ndim(value) else value for key, value in ops.items()}
    reads, writes = _traffic(col, cached, on_chip)
    compute_s = col["cycles"] / design["clock"]
    memory_s = (reads + writes) / _bandwidth(design, ops)
    sram_pj = sram_pj_per_byte(device, design["sram"])
    onchip = col["inputs"] + col["outputs"] + col["weights"]
    parts = [np.broadcast_to(col["compute_j"], reads.shape), onchip * sram_pj * PJ,
             (reads + writes) * col["dram_pj"]]
    tdp = device.power.tdp
    parts = active_parts(parts, tdp, idle, np.maximum(compute_s, memory_s))
    host = col["host"] > 0
    npu = finish_grid(compute_s, memory_s, col["overhead"], *parts, reads + writes, idle_w=idle,
                      tdp_w=tdp)
    return npu._replace(latency_s=np.where(host, col["host_latency"], npu.latency_s),
                        dynamic_j=np.where(host, col["host_dynamic_j"], npu.dynamic_j),
                        dram_bytes=np.where(host, col["host_dram"], npu.dram_bytes))
