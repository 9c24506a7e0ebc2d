"""Systolic-array cost model (TPU-style chips, Eyeriss, SCALE-Sim configs).

GEMM-like ops (convolutions as implicit GEMMs, linear layers, batched matmuls) run on the chip's
cores x arrays_per_core arrays with SCALE-Sim v2 timing and the memory model documented in
accelsim.kernels.systolic: each layer runs on as many of each core's arrays as run it fastest (a
compiler idles arrays rather than starve them: the core's SRAMs are split evenly over its active
arrays, and halved when double-buffered), sram.loop_order picks SCALE-Sim's loop order or each
layer's cheapest tiling, DRAM delivers memory.bandwidth * efficiency / clock bytes per cycle,
operands weigh their tensors' bytes (GEMM size at the op's precision where the op carries no
tensors), and latency = (compute cycles + stall cycles) / clock, with SCALE-Sim's cycle count.
A grouped convolution's `count` GEMMs are dealt to groups of arrays and run back to back on each.
A GEMM's vector epilogue (bias, activation) is pipelined behind the array on the vector unit, so
the op takes the longer of the two.

Every other op runs on the vector unit (flops_per_cycle per core, on all cores, at any precision)
and streams its tensors through DRAM once (an embedding reads its indices and the gathered rows,
not the table): cycles = max(ceil(vector FLOPs / FLOPs per cycle), DRAM bytes / bytes per cycle).

Row stationary (dataflow rs, Eyeriss): a GEMM-like op is seen as G groups of a convolution (a matmul
is a 1 x 1 one) and mapped by accelsim.kernels.row_stationary onto the array, its per-PE
scratchpads and the global buffer (sram.ifmap + sram.ofmap, halved when double-buffered). Latency is
compute plus waiting for DRAM: the filter ramp-up of each pass and ifmap/ofmap stalls; the op is
memory bound when it waits longer than it computes. Energy prices the mapping's register-file,
inter-PE, global-buffer and DRAM accesses. The chip's own mapping follows its rules (row_stationary's
`chip` policy); the global buffer feeds the array through a port of sram.bytes_per_cycle.

Mapping search (`mapping.mode: search`, `accelsim run --mapping search`): an os/ws/is GEMM's tiles
and loop order are searched by accelsim.devices.mapper for `mapping.objective` (compute cycles stay
the fixed mapping's; DRAM, SRAM bytes and stalls are the searched mapping's; resident activations are
not seen by the search, so there the fixed mapping usually wins), a row-stationary op's mapping among
every one the hardware holds; the fixed mapping is kept where it scores as well, and the chosen one
goes into the layer's `mapping`.

Energy: each GEMM's SRAM bytes are priced by the size of the buffer they hit (ifmap, filter, ofmap:
energy.sram_pj_per_byte, the component library's fit), a vector op's by the ifmap buffer's (where
activations live between layers); a YAML `energy.sram_pj_per_byte` prices every buffer alike.

Activation residency (devices with `shared_sram`, the chip's on-chip activation store: TPU v1's
Unified Buffer, TPU v4's CMEM): `costs` walks a run's ops in order and keeps each activation on chip
for its whole live range when it fits beside those already kept, a pointwise op (BatchNorm, ReLU,
residual add) writing in place of an input that dies there (mapping.resident_activations).
An op's resident inputs and outputs move no DRAM bytes: its GEMM is planned with those operands'
bytes set to zero (their re-reads and partial-sum spills hit the on-chip store), so its stalls
follow the reduced traffic. Network inputs are read from DRAM, final outputs written to it, and an
activation that does not fit goes through DRAM as an op costed alone (`cost`) does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from accelsim.devices import components, mapper
from accelsim.devices.base import NONE_RESIDENT, OpCost, with_resident
from accelsim.devices.energy import (PJ, dram_pj_per_byte, mac_pj, noc_pj_per_byte, op_energy,
                                     register_pj_per_byte, sram_pj_per_byte)
from accelsim.devices.mapping import layer_shape, resident_activations
from accelsim.errors import UsageError
from accelsim.kernels import systolic as kernel
from accelsim.kernels.systolic_scalesim_layer import (LayerReport, Memory, fold_stats, layer_report,
                                                      scalesim_layer)
from accelsim.workload.ir import BYTES_PER_ELEMENT, Op, Tensor
from accelsim.workload.trace import storage

if TYPE_CHECKING:
    from accelsim.config.systolic import SystolicConfig


def cost(op: Op, device: SystolicConfig, resident: frozenset[str] = NONE_RESIDENT) -> OpCost:
    """Cost of one op on one systolic-array chip (GEMMs need a precision the arrays support);
    `resident`: stored activations held on chip, which move no DRAM bytes."""
    if op.gemm is None or op.macs == 0:
        return _vector_cost(op, device, resident)
    check_precision(op, device)
    return _array_cost(op, device, resident)


def check_precision(op: Op, device: SystolicConfig) -> None:
    """Refuse a GEMM at a precision the arrays do not compute at."""
    if op.precision not in device.precisions:
        raise UsageError(f"{device.name} arrays do not compute at {op.precision} "
                         f"(supported: {', '.join(device.precisions)})", key="precision")


def resident_tensors(ops: Sequence[Op], device: SystolicConfig) -> frozenset[str]:
    """Stored activations a run of `ops` keeps in the device's shared SRAM (none without one)."""
    return resident_activations(ops, device.shared_sram) if device.shared_sram else NONE_RESIDENT


costs = with_resident(cost, resident_tensors)


def bytes_per_cycle(device: SystolicConfig) -> float:
    """Achievable DRAM bytes per clock cycle."""
    return device.memory.effective_bandwidth / device.clock


def vector_cycles(op: Op, device: SystolicConfig) -> int:
    """Cycles of the op's vector FLOPs on the vector units of all cores."""
    return math.ceil(op.vector_flops / (device.vector.flops_per_cycle * device.cores))


def design_row(device: SystolicConfig) -> tuple[list[int], list[float]]:
    """The device as one kernel design point: [rows, cols, dataflow, arrays, loop order] and its
    memory row."""
    usable = (0.5 if device.sram.double_buffered else 1.0) / device.arrays_per_core
    design = [device.array.rows, device.array.cols, kernel.DATAFLOWS.index(device.array.dataflow),
              device.cores * device.arrays_per_core, kernel.LOOP_ORDERS.index(device.sram.loop_order)]
    memory = [device.sram.ifmap * usable, device.sram.filter * usable, device.sram.ofmap * usable,
              bytes_per_cycle(device)]
    return design, memory


def offchip_bytes(tensors: Sequence[Tensor], resident: frozenset[str]) -> float:
    """Bytes of the tensors not held on chip."""
    return sum(t.bytes for t in tensors if storage(t.name) not in resident)


def operand_bytes(op: Op, resident: frozenset[str] = NONE_RESIDENT) -> list[float]:
    """DRAM bytes of a GEMM's ifmap (A), filter (B) and output, and bytes per element; a resident
    operand (part) weighs nothing."""
    g = op.gemm
    elem = BYTES_PER_ELEMENT[op.precision]
    if op.weights:
        a, b = op.inputs, op.weights
    else:
        a, b = op.inputs[:1], op.inputs[1:]
    read = [1.0, op.weight_fraction if op.weights else 1.0, 1.0]   # a MoE op: the touched experts
    sizes = [(sum(t.bytes for t in part) * share, offchip_bytes(part, resident) * share)
             for part, share in zip((a, b, op.outputs), read)]
    fallback = [g.m * g.k, g.k * g.n, g.m * g.n]
    return [dram if total else elements * g.count * elem
            for (total, dram), elements in zip(sizes, fallback)] + [elem]


def rs_layer(op: Op) -> list[int]:
    """A GEMM-like op as a row-stationary layer [N, M, C, E, F, R, S, U, G]."""
    shape = layer_shape(op)
    stride = op.attr("stride", 1)
    stride = stride[0] if isinstance(stride, (tuple, list)) else stride
    return [shape.frames, shape.out_channels, shape.in_channels, shape.out_h, shape.out_w,
            shape.kernel_h, shape.kernel_w, int(stride), shape.groups]


def global_buffer(device: SystolicConfig) -> float:
    """Bytes of a row-stationary chip's global buffer (ifmaps and psums)."""
    return device.sram.ifmap + device.sram.ofmap


def rs_design_row(device: SystolicConfig, precision: str) -> tuple[list[float], list[float]]:
    """The device as one row-stationary design point and its energy prices at `precision`."""
    pads = device.array.scratchpad
    usable = global_buffer(device) * (0.5 if device.sram.double_buffered else 1.0)
    design = [device.array.rows, device.array.cols, pads.ifmap, pads.filter, pads.psum, usable,
              bytes_per_cycle(device), device.sram.bytes_per_cycle or math.inf]
    prices = [mac_pj(device, precision), register_pj_per_byte(device), noc_pj_per_byte(device),
              sram_pj_per_byte(device, global_buffer(device)), dram_pj_per_byte(device),
              device.power.busy / device.clock / PJ]
    return design, prices


def _row_stationary_cost(op: Op, device: SystolicConfig, resident: frozenset[str]) -> OpCost:
    """A GEMM-like op on a row-stationary array (Eyeriss): the chip's mapping (its rules, lowest
    EDP), or under `mapping.mode: search` the better of it and the mapping best for
    `mapping.objective` among all the hardware holds."""
    fixed = _row_stationary_plan(op, device, resident, "edp", "chip")
    if device.mapping.mode == "fixed":
        return fixed
    searched = _row_stationary_plan(op, device, resident, device.mapping.objective, "free")
    return _pick(fixed, searched, device.mapping.objective)


def _row_stationary_plan(op: Op, device: SystolicConfig, resident: frozenset[str],
                         objective: str, policy: str) -> OpCost:
    """The op's cost under the row-stationary mapping best for `objective` under `policy`."""
    from accelsim.kernels import row_stationary      # its import is not paid by the other dataflows

    design, prices = rs_design_row(device, op.precision)
    try:
        p = row_stationary.plan(rs_layer(op), operand_bytes(op, resident), design, prices,
                                objective, policy)
    except ValueError as exc:
        raise UsageError(f"{op.name}: {exc}", key="array.scratchpad") from None
    compute = max(int(p.compute_cycles[0, 0]), vector_cycles(op, device))
    waiting = int(p.ramp_cycles[0, 0]) + int(p.stall_cycles[0, 0])
    result = _finish(op, device, compute, waiting, float(p.dram_read[0, 0]),
                     float(p.dram_write[0, 0]), float(p.glb_bytes[0, 0]), "array",
                     sram_size=global_buffer(device), register_bytes=float(p.rf_bytes[0, 0]),
                     noc_bytes=float(p.noc_bytes[0, 0]))
    mapping = {key: int(value) for key, value in zip(row_stationary.MAPPING, p.mapping[0, 0])}
    return replace(result, bound="memory" if waiting > compute else "compute",
                   mapping={"objective": objective, **mapping})


def _objective(cost: OpCost, objective: str) -> float:
    """The value of an OpCost that `objective` minimises."""
    if objective == "energy":
        return cost.energy.total
    if objective == "latency":
        return cost.latency_s
    return cost.energy.total * cost.latency_s


def _pick(fixed: OpCost, searched: OpCost, objective: str) -> OpCost:
    """The searched cost unless the fixed one scores at least as well (then fixed, so marked)."""
    if _objective(searched, objective) < _objective(fixed, objective):
        return replace(searched, mapping={**searched.mapping, "objective": objective,
                                          "source": "search"})
    return replace(fixed, mapping={**(fixed.mapping or {}), "objective": objective,
                                   "source": "fixed"})


def mapper_problem(op: Op, device: SystolicConfig) -> tuple[mapper.Layer, mapper.Hardware, int]:
    """One array's share of a GEMM (M split over the chip's arrays), the array with its share of
    the buffers and DRAM link and its prices, and the number of arrays."""
    g = op.gemm
    design, memory = design_row(device)
    arrays = design[kernel.ARRAYS]
    elem = float(BYTES_PER_ELEMENT[op.precision])
    layer = mapper.Layer(math.ceil(g.m / arrays), g.n, g.k, g.count, elem,
                         min(1.0, operand_bytes(op)[0] / (g.m * g.k * g.count * elem)))
    sram = device.sram.ifmap + device.sram.filter + device.sram.ofmap
    hardware = mapper.Hardware(
        device.array.rows, device.array.cols, *memory[:3], memory[3] / arrays,
        mac_pj(device, op.precision), sram_pj_per_byte(device, sram), dram_pj_per_byte(device),
        device.power.busy / device.clock / PJ / arrays, (device.array.dataflow,))
    return layer, hardware, arrays


def _searched_array_cost(op: Op, device: SystolicConfig, fixed: OpCost) -> OpCost:
    """The op with its tiles and loop order searched (accelsim.devices.mapper) for the device's
    objective, compute as the fixed mapping's; the fixed cost where it scores as well."""
    layer, hardware, arrays = mapper_problem(op, device)
    objective = device.mapping.objective
    best = mapper.search(layer, hardware, objective)
    reads, writes = best.dram_read * arrays, best.dram_write * arrays
    stalls = max(0, math.ceil((reads + writes) / bytes_per_cycle(device)) - fixed.cycles)
    searched = replace(_finish(op, device, fixed.cycles, stalls, reads, writes,
                               best.sram_bytes * arrays, "array"),
                       mapping_efficiency=fixed.mapping_efficiency,
                       compute_utilization=fixed.compute_utilization, mapping=best.describe())
    return _pick(replace(fixed, mapping=mapper.fixed(layer, hardware).describe()), searched,
                 objective)


def active_plan(layers, layer_bytes, designs, memory, arrays_per_core: int,
                vector: np.ndarray) -> kernel.Plan:
    """kernel.plan with each layer (row) on each design (column) run by the number of each core's
    arrays, up to arrays_per_core, that is fastest (ties: more): fewer get more SRAM each."""
    designs = np.array(designs, dtype=np.int64, ndmin=2)
    memory = np.array(memory, dtype=np.float64, ndmin=2)
    active = np.tile(np.arange(arrays_per_core, 0, -1), len(designs))
    tried = np.repeat(designs, arrays_per_core, axis=0)
    tried[:, kernel.ARRAYS] = tried[:, kernel.ARRAYS] // arrays_per_core * active
    sram = np.repeat(memory, arrays_per_core, axis=0)
    sram[:, :kernel.BYTES_PER_CYCLE] *= (arrays_per_core / active)[:, None]
    plans = kernel.plan(layers, layer_bytes, tried, sram)
    grids = [field.reshape(len(field), len(designs), arrays_per_core, -1) for field in plans]
    total = np.maximum(grids[0][..., 0], np.asarray(vector)[..., None]) + grids[1][..., 0]
    best = np.argmin(total, axis=2)[..., None, None]
    return kernel.Plan(*(np.take_along_axis(grid, best, axis=2).reshape(
        len(field), len(designs), *field.shape[2:]) for grid, field in zip(grids, plans)))


@lru_cache(maxsize=4096)
def gemm_plan(dims: tuple[int, ...], layer_bytes: tuple[float, ...], design: tuple[int, ...],
              memory: tuple[float, ...], arrays_per_core: int, vector: int) -> tuple:
    """(cycles, stall cycles, DRAM reads, DRAM writes, SRAM bytes, operand bytes) of one GEMM
    (m, n, k, count) on one design from active_plan, kept: a network repeats its layers."""
    p = active_plan(list(dims), list(layer_bytes), list(design), list(memory), arrays_per_core,
                    np.array([[vector]]))
    return (int(p.cycles[0, 0]), int(p.stall_cycles[0, 0]), float(p.dram_read[0, 0]),
            float(p.dram_write[0, 0]), float(p.sram_bytes[0, 0]), tuple(p.operands[0, 0].tolist()))


def _array_cost(op: Op, device: SystolicConfig, resident: frozenset[str]) -> OpCost:
    """A GEMM-like op on the systolic arrays."""
    if device.array.dataflow == "rs":
        return _row_stationary_cost(op, device, resident)
    if device.memory.model == "scalesim":
        return _scalesim_cost(op, device)
    g = op.gemm
    design, memory = design_row(device)
    vector = vector_cycles(op, device)
    cycles, stalls, reads, writes, sram_bytes, operands = gemm_plan(
        (g.m, g.n, g.k, g.count), tuple(operand_bytes(op, resident)), tuple(design), tuple(memory),
        device.arrays_per_core, vector)
    cost = _finish(op, device, max(cycles, vector), stalls, reads, writes, sram_bytes, "array",
                   sram_pj=buffers_pj(device, operands))
    mapping, utilization = fold_stats(scalesim_memory(device, op.precision),
                                      *kernel.roles(g.m, g.n, g.k, design[kernel.DATAFLOW]))
    cost = replace(cost, traffic=traffic_levels(operands),
                   mapping_efficiency=mapping / 100, compute_utilization=utilization / 100)
    return cost if device.mapping.mode == "fixed" else _searched_array_cost(op, device, cost)


def scalesim_memory(device: SystolicConfig, precision: str) -> Memory:
    """The device as SCALE-Sim's array and memory system, in words of `precision`."""
    elem = BYTES_PER_ELEMENT[precision]
    words = bytes_per_cycle(device) / elem
    user = max(1, round(words)) if device.memory.interface == "user" else 0
    return Memory(device.array.rows, device.array.cols, device.array.dataflow,
                  int(device.sram.ifmap // elem), int(device.sram.filter // elem),
                  int(device.sram.ofmap // elem), user)


def buffer_pj_per_byte(device: SystolicConfig) -> np.ndarray:
    """Energy per byte of the ifmap, filter and ofmap SRAMs, each priced by its own size (as
    devices.energy.sram_pj_per_byte prices them: the YAML's `sram_pj_per_byte` overrides)."""
    override = device.energy.sram_pj_per_byte
    if override is not None:
        return np.broadcast_to(override, (3,))
    return _sram_prices((device.sram.ifmap, device.sram.filter, device.sram.ofmap), device.process_nm)


@lru_cache(maxsize=1024)
def _sram_prices(sizes: tuple[float, ...], process_nm: float) -> np.ndarray:
    """Energy per byte of SRAMs of `sizes` bytes at `process_nm`, kept: every GEMM of a run asks."""
    prices = components.sram_pj_per_byte(np.array(sizes), process_nm=process_nm)
    prices.flags.writeable = False
    return prices


def buffers_pj(device: SystolicConfig, operands: Sequence[float]) -> float:
    """Mean energy per byte of a GEMM's SRAM traffic (`operands`: LEVELS x OPERANDS x DIRECTIONS
    bytes), each operand's bytes priced by its own buffer's size."""
    sram = np.asarray(operands[:2 * len(kernel.OPERANDS)], dtype=np.float64).reshape(-1, 2).sum(axis=1)
    total = sram.sum()
    prices = buffer_pj_per_byte(device)
    return float(sram @ prices / total) if total else float(prices[0])


def traffic_values(moved: dict) -> list[float]:
    """traffic_levels' nested dicts back in LEVELS x OPERANDS x DIRECTIONS order."""
    return [moved[level][operand][direction] for level in kernel.LEVELS
            for operand in kernel.OPERANDS for direction in kernel.DIRECTIONS]


def traffic_levels(values: Sequence[float]) -> dict:
    """Bytes in LEVELS x OPERANDS x DIRECTIONS order (kernels.systolic) as nested dicts."""
    flat = iter(values)
    return {level: {operand: {direction: float(next(flat)) for direction in kernel.DIRECTIONS}
                    for operand in kernel.OPERANDS} for level in kernel.LEVELS}


def traffic(report: LayerReport, scale: float) -> dict:
    """Per-operand SRAM and DRAM reads and writes of a SCALE-Sim layer, in bytes (`scale` per word):
    ifmap and filter read, ofmap written."""
    values: list[float] = []
    for counts in (report.sram_reads, report.dram_reads):
        values += [counts[0] * scale, 0.0, counts[1] * scale, 0.0, 0.0, counts[2] * scale]
    return traffic_levels(values)


def _scalesim_cost(op: Op, device: SystolicConfig) -> OpCost:
    """A GEMM-like op through SCALE-Sim v2's memory system, its `count` GEMMs back to back."""
    report = layer_report(scalesim_layer(op), scalesim_memory(device, op.precision))
    count = op.gemm.count
    scale = BYTES_PER_ELEMENT[op.precision] * count
    moved = traffic(report, scale)
    reads = moved["dram"]["ifmap"]["reads"] + moved["dram"]["filter"]["reads"]
    onchip = scale * sum(report.sram_reads)
    compute = max((report.total_cycles - report.stall_cycles) * count, vector_cycles(op, device))
    cost = _finish(op, device, compute, report.stall_cycles * count, reads,
                   moved["dram"]["ofmap"]["writes"], onchip, "array",
                   sram_pj=buffers_pj(device, traffic_values(moved)))
    return replace(cost, traffic=moved, mapping_efficiency=report.mapping_efficiency / 100,
                   compute_utilization=report.compute_util / 100)


def _vector_cost(op: Op, device: SystolicConfig, resident: frozenset[str]) -> OpCost:
    """A non-GEMM op on the vector unit, streaming its tensors once through the SRAM and, unless
    they are resident, through DRAM."""
    table = op.weight_bytes     # an embedding reads only the rows it gathers
    reads = offchip_bytes(op.inputs, resident) + table
    writes = offchip_bytes(op.outputs, resident)
    compute = vector_cycles(op, device)
    memory = math.ceil((reads + writes) / bytes_per_cycle(device))
    onchip = op.input_bytes + table + op.output_bytes
    return _finish(op, device, compute, max(0, memory - compute), reads, writes, onchip, "vector",
                   sram_size=device.sram.ifmap)


def _finish(op: Op, device: SystolicConfig, compute: int, stalls: int, reads: float, writes: float,
            onchip: float, unit: str, **levels: float) -> OpCost:
    """OpCost from compute and stall cycles and the traffic (`levels`: more op_energy counts)."""
    latency = (compute + stalls) / device.clock
    return OpCost(
        flops=op.flops, macs=op.macs, latency_s=latency, dram_read_bytes=reads,
        dram_write_bytes=writes, bound="compute" if stalls == 0 else "memory",
        energy=op_energy(device, op, dram_bytes=reads + writes, onchip_bytes=onchip,
                         latency_s=latency, **levels),
        onchip_bytes=onchip, cycles=compute, stall_cycles=stalls, compute_s=compute / device.clock,
        memory_s=(reads + writes) / device.memory.effective_bandwidth, unit=unit)
