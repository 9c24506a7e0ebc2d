"""The systolic fast path: every GEMM of a trace on every design point in one kernel call.

Gives the same cycles, latency, DRAM bytes and energy as accelsim.simulate on the device with the
design's overrides (analytic engine), without building a device, a trace or a Result per point:
GEMMs go through accelsim.kernels.systolic.plan on a (layers x designs) grid, and the ops that do
not depend on the array (vector ops, energy prices) are costed once per distinct memory variant
(SRAM sizes and bandwidth) with the device model itself. Which activations stay in the shared SRAM
(systolic.resident_tensors) depends on neither, so it is planned once and holds for every point.
Each SRAM's accesses are priced by its own size (accelsim.devices.components); area comes from
accelsim.devices.area.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from accelsim.errors import UsageError
from accelsim.sweep.fast_grid import summary

# swept key -> (fast_systolic argument, unit family or None)
FAST_KEYS = {"array.rows": ("rows", None), "array.cols": ("cols", None),
             "array.dataflow": ("dataflow", None), "sram.ifmap": ("ifmap_sram", "bytes"),
             "sram.filter": ("filter_sram", "bytes"), "sram.ofmap": ("ofmap_sram", "bytes"),
             "memory.bandwidth": ("bandwidth", "bandwidth")}
METRICS = ("latency_s", "energy_j", "cycles", "stall_cycles", "dram_bytes", "area_mm2",
           "throughput", "average_power_w", "fits_in_memory")


class FastSweep(NamedTuple):
    """Whole-trace totals of each design point (arrays of one length)."""

    rows: np.ndarray
    cols: np.ndarray
    dataflow: np.ndarray          # "ws", "os" or "is"
    ifmap_sram: np.ndarray        # bytes per core, as in the device YAML
    filter_sram: np.ndarray
    ofmap_sram: np.ndarray
    bandwidth: np.ndarray         # peak off-chip B/s
    cycles: np.ndarray            # compute + stall cycles of all ops
    stall_cycles: np.ndarray
    dram_bytes: np.ndarray
    latency_s: np.ndarray
    energy_j: np.ndarray
    area_mm2: np.ndarray
    throughput: np.ndarray        # samples per second
    average_power_w: np.ndarray
    fits_in_memory: np.ndarray    # bool


def fast_systolic(graph, rows=None, cols=None, dataflow=None, *, device="scalesim_32x32", ifmap_sram=None,
                  filter_sram=None, ofmap_sram=None, bandwidth=None, precision: str | None = None,
                  mode: str = "inference", batch: int = 1, overrides=(), stack: str | None = None,
                  **workload_params) -> FastSweep:
    """Cost `graph` (Graph, zoo name or file) on every design point of a systolic `device`.

    rows, cols, dataflow ("ws"/"os"/"is"), SRAM sizes (bytes per core) and bandwidth (B/s) are
    scalars or arrays, broadcast together; None keeps the device's value. The graph runs under
    `stack` (default: the device kind's for the mode), as accelsim.simulate runs it.
    """
    from accelsim.devices.systolic import check_precision, resident_tensors
    from accelsim.devices.area import leakage_w, systolic_area_mm2, widest_precision
    from accelsim.devices.energy import PJ, sram_pj_per_byte
    from accelsim.engine.single import prepare_on

    device, modelled_power = _device(device, overrides)
    if device.kind != "systolic":
        raise UsageError(f"the fast path needs a systolic device, {device.name} is {device.kind}",
                         key="device")
    if device.mapping.mode != "fixed":
        raise UsageError("the fast path runs the device's fixed mapping; sweep mapping.mode "
                         "without --fast", key="mapping.mode")
    _graph, _precision, trace = prepare_on(device, graph, mode=mode, batch=batch,
                                           precision=precision, stack=stack, **workload_params)
    design = _designs(device, rows, cols, dataflow, ifmap_sram, filter_sram, ofmap_sram, bandwidth)
    gemms = [op for op in trace.ops if _on_array(op)]
    for op in gemms:
        check_precision(op, device)
    memory_keys = np.stack([design[key] for key in ("ifmap_sram", "filter_sram", "ofmap_sram",
                                                    "bandwidth")], axis=1)
    rows_of_variants, which = np.unique(memory_keys, axis=0, return_inverse=True)
    resident = resident_tensors(trace.ops, device)
    variants = [_variant(device, trace.ops, resident, *row) for row in rows_of_variants]

    def per_point(name: str) -> np.ndarray:
        return np.array([getattr(variant, name) for variant in variants])[which.reshape(-1)]

    cycles, stalls, dram, buffers = _gemm_totals(device, gemms, resident, design,
                                                 per_point("memory_row"))
    cycles += per_point("vector_cycles")
    dram += per_point("vector_dram")
    latency = cycles / device.clock
    prices = np.stack([sram_pj_per_byte(device, design[key]) * np.ones(len(latency))
                       for key in ("ifmap_sram", "filter_sram", "ofmap_sram")], axis=1) * PJ
    onchip_j = (buffers * prices).sum(axis=1) + per_point("vector_onchip") * prices[:, 0]
    area = systolic_area_mm2(design["rows"] * design["cols"] * device.arrays_per_core * device.cores,
                             per_point("sram_bytes"), precision=widest_precision(device.precisions),
                             process_nm=device.process_nm)
    static_w = leakage_w(area) if modelled_power else device.power.busy
    energy = per_point("compute_j") + onchip_j + dram * per_point("dram_j_per_byte") \
        + static_w * latency
    return FastSweep(**design, cycles=cycles, stall_cycles=stalls, dram_bytes=dram,
                     latency_s=latency, energy_j=energy, area_mm2=area,
                     **dict(zip(("throughput", "average_power_w", "fits_in_memory"),
                                summary(latency, energy, trace, device.memory.capacity))))


def _device(spec, overrides):
    """(device, whether its idle power is the modelled leakage of each design point's die): a
    device named without a `power:` block draws it, as accelsim.api.load_device gives it."""
    from accelsim.api import load_device
    from accelsim.config.loader import load_device as load_config
    from accelsim.devices.area import has_power_block

    if not isinstance(spec, (str, os.PathLike)):
        return load_device(spec, overrides), False
    device = load_config(spec, overrides)
    return device, not has_power_block(device)


def _on_array(op) -> bool:
    """Whether the device model runs `op` on the systolic arrays (else on the vector unit)."""
    return op.gemm is not None and op.macs > 0


class _Variant(NamedTuple):
    """What one SRAM/bandwidth variant of the device fixes, whatever the array's shape."""

    memory_row: list           # the kernel's design_memory row
    vector_cycles: int         # the ops off the arrays: cycles, DRAM and SRAM bytes
    vector_dram: float
    vector_onchip: float       # priced at the ifmap SRAM's size, as the device model prices it
    dram_j_per_byte: float
    compute_j: float           # MAC and vector-FLOP energy of every op
    sram_bytes: float          # on-chip SRAM of the whole chip


def _designs(device, rows, cols, dataflow, ifmap, filt, ofmap, bandwidth) -> dict:
    """The design arguments broadcast to one length, None replaced by the device's values."""
    from accelsim.kernels.systolic import DATAFLOWS

    values = {"rows": device.array.rows if rows is None else rows,
              "cols": device.array.cols if cols is None else cols,
              "dataflow": device.array.dataflow if dataflow is None else dataflow,
              "ifmap_sram": device.sram.ifmap if ifmap is None else ifmap,
              "filter_sram": device.sram.filter if filt is None else filt,
              "ofmap_sram": device.sram.ofmap if ofmap is None else ofmap,
              "bandwidth": device.memory.bandwidth if bandwidth is None else bandwidth}
    arrays = dict(zip(values, np.broadcast_arrays(*(np.atleast_1d(v) for v in values.values()))))
    unknown = set(arrays["dataflow"].tolist()) - set(DATAFLOWS)
    if unknown:
        raise UsageError(f"the fast path runs dataflows {', '.join(DATAFLOWS)}, not "
                         f"{', '.join(sorted(unknown))}", key="dataflow")
    out = {key: arrays[key].astype(np.int64) for key in ("rows", "cols")}
    if (out["rows"] < 1).any() or (out["cols"] < 1).any():
        raise UsageError("array rows and cols must be >= 1", key="rows")
    out["dataflow"] = arrays["dataflow"].astype(str)
    for key in ("ifmap_sram", "filter_sram", "ofmap_sram", "bandwidth"):
        out[key] = arrays[key].astype(np.float64)
        if (out[key] <= 0).any():
            raise UsageError(f"{key} must be > 0", key=key)
    return out


def _variant(device, ops, resident, ifmap, filt, ofmap, bandwidth) -> _Variant:
    """The device with these SRAM sizes and bandwidth, costed by the device model itself."""
    from accelsim.devices.area import sram_bytes
    from accelsim.devices.energy import PJ, dram_pj_per_byte, op_energy
    from accelsim.devices.systolic import cost, design_row

    variant = device.model_copy(update={
        "sram": device.sram.model_copy(update={"ifmap": ifmap, "filter": filt, "ofmap": ofmap}),
        "memory": device.memory.model_copy(update={"bandwidth": bandwidth})})
    costs = [cost(op, variant, resident) for op in ops if not _on_array(op)]
    return _Variant(
        memory_row=design_row(variant)[1], vector_cycles=sum(c.cycles + c.stall_cycles for c in costs),
        vector_dram=sum(c.dram_bytes for c in costs),
        vector_onchip=sum(c.onchip_bytes for c in costs),
        dram_j_per_byte=dram_pj_per_byte(variant) * PJ,
        compute_j=sum(op_energy(variant, op, dram_bytes=0.0, latency_s=0.0).compute for op in ops),
        sram_bytes=sram_bytes(variant))


def _gemm_totals(device, gemms, resident, design: dict, memory_rows: np.ndarray):
    """(cycles incl. stalls, stall cycles, DRAM bytes, SRAM bytes by operand (points x 3: ifmap,
    filter, ofmap)) of all GEMMs per design point."""
    from accelsim.devices.systolic import active_plan, design_row, operand_bytes, vector_cycles
    from accelsim.kernels import systolic as kernel

    points = design["rows"].shape[0]
    if not gemms:
        return np.zeros(points, np.int64), np.zeros(points, np.int64), np.zeros(points), \
            np.zeros((points, len(kernel.OPERANDS)))
    device_row = design_row(device)[0]
    codes = np.zeros(points, dtype=np.int64)
    for code, name in enumerate(kernel.DATAFLOWS):
        codes[design["dataflow"] == name] = code
    designs = np.stack([design["rows"], design["cols"], codes,
                        np.full(points, device_row[kernel.ARRAYS], dtype=np.int64),
                        np.full(points, device_row[kernel.LOOP_ORDER], dtype=np.int64)], axis=1)
    layers = [[op.gemm.m, op.gemm.n, op.gemm.k, op.gemm.count] for op in gemms]
    vector = np.array([vector_cycles(op, device) for op in gemms], dtype=np.int64)[:, None]
    plan = active_plan(layers, [operand_bytes(op, resident) for op in gemms], designs, memory_rows,
                       device.arrays_per_core, vector)
    cycles = (np.maximum(plan.cycles, vector) + plan.stall_cycles).sum(axis=0)
    sram = plan.operands[..., :2 * len(kernel.OPERANDS)].sum(axis=0)
    return cycles, plan.stall_cycles.sum(axis=0), (plan.dram_read + plan.dram_write).sum(axis=0), \
        sram.reshape(points, -1, 2).sum(axis=2)
