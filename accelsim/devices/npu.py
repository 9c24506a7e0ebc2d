"""Mobile/edge NPU cost model: an int8 MAC array with a small SRAM and a host CPU behind a link.

- Compute: the layer's pixels and channels are quantised onto the array's lanes (mapping.array_cycles,
  batch frames packed into the pixel lanes), slowed by macs_per_cycle[widest] / macs_per_cycle[p] at
  narrower-throughput precisions; non-MAC ops use the pixel x output-channel lanes, one FLOP per
  lane per cycle, at any precision. BatchNorm and activations arrive fused into their producer
  under the compiled software stack (accelsim.workload.stack), as NPU compilers deploy them.
- SRAM: the first weights in execution order are cached (the Edge TPU compiler's parameter
  caching), the rest stream from off-chip memory on every inference; the planner caches as many as
  give the fastest run, since the SRAM they leave holds activations. An op's activations stay on
  chip when its inputs and outputs fit beside the cached weights (graph inputs are read from and
  final outputs written to off-chip memory); otherwise the op reads its inputs from and writes its
  outputs to off-chip memory.
- Host fallback: ops whose kind is not in `supported_ops` run on the host CPU at host.flops, their
  inputs and outputs crossing host.link_bandwidth both ways (unit "host").
- Time: max(compute, memory) per op plus `layer_overhead`; host.invoke_overhead once per inference.
- Energy: bottom-up components (energy.op_energy); with power.tdp set, the NPU draws tdp while it
  runs an op and power.idle otherwise, the dynamic part (tdp - idle) split over compute/on-chip/
  off-chip in the bottom-up proportions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from accelsim.devices.base import Energy, OpCost, bound, finish
from accelsim.devices.energy import active_power, op_energy
from accelsim.devices.mapping import array_cycles, layer_shape
from accelsim.errors import UsageError
from accelsim.workload.ir import Op

if TYPE_CHECKING:
    from accelsim.config.npu import NpuConfig


@dataclass(frozen=True)
class Placement:
    """Where one op's data lives for one inference."""

    weights_cached: bool = True
    activations_on_chip: bool = True
    offchip_inputs: float = 0.0      # bytes of graph inputs read from off-chip memory
    offchip_outputs: float = 0.0     # bytes of final outputs written to off-chip memory
    first: bool = False              # the op that pays the per-inference overhead


def _working_set(op: Op) -> float:
    """Activation bytes an op needs on chip at once."""
    return op.input_bytes + op.output_bytes


def _placements(ops: Sequence[Op], device: NpuConfig) -> list[list[list[Placement]]]:
    """Each op's placement with its weights cached or not (first index) and its activations on
    chip or not (second index)."""
    produced = {t.name for op in ops for t in op.outputs}
    consumed = {t.name for op in ops for t in op.inputs}
    return [[[Placement(
        weights_cached=cached, activations_on_chip=on_chip,
        offchip_inputs=sum(t.bytes for t in op.inputs if t.name not in produced),
        offchip_outputs=sum(t.bytes for t in op.outputs if t.name not in consumed),
        first=i == 0) for on_chip in (False, True)] for cached in (False, True)]
        for i, op in enumerate(ops)]


def _npu_cycles(op: Op, device: NpuConfig) -> int:
    """Array cycles of `op`: GEMMs at their precision's MAC rate, other ops on the vector lanes."""
    widest = max(device.macs_per_cycle.values())
    array = device.array
    shape = layer_shape(op)
    if shape is None:
        lanes = array.pixels * array.out_channels if array else widest
        work = max(op.vector_flops, max((t.elements for t in op.outputs), default=0))
        return math.ceil(work / lanes)
    rate = device.macs_per_cycle.get(op.precision, 0)
    if rate == 0:
        raise UsageError(f"{device.name} has no {op.precision} MACs; it computes at "
                         f"{', '.join(device.macs_per_cycle)}", key="precision")
    packed = replace(shape, frames=1, out_h=shape.frames * shape.out_h)
    return math.ceil(array_cycles(packed, array, widest) * widest / rate)


def _host_cost(op: Op, device: NpuConfig, placement: Placement) -> OpCost:
    """An op the NPU cannot run: to the host and back over the link, computed on the host CPU."""
    link = op.input_bytes + op.output_bytes
    compute_s = op.flops / device.host.flops
    memory_s = link / device.host.link_bandwidth
    overhead = device.host.invoke_overhead if placement.first else 0.0
    latency = compute_s + memory_s + overhead
    return OpCost(flops=op.flops, macs=op.macs, latency_s=latency, dram_read_bytes=op.input_bytes,
                  dram_write_bytes=op.output_bytes, bound=bound(compute_s, memory_s),
                  energy=op_energy(device, op, dram_bytes=link, latency_s=latency),
                  compute_s=compute_s, memory_s=memory_s, unit="host")


def _npu_cost(op: Op, device: NpuConfig, placement: Placement) -> OpCost:
    """An op on the NPU array."""
    cycles = _npu_cycles(op, device)
    if placement.activations_on_chip:
        reads, writes = placement.offchip_inputs, placement.offchip_outputs
    else:
        reads, writes = op.input_bytes, op.output_bytes
    reads += 0.0 if placement.weights_cached else op.weight_bytes
    compute_s = cycles / device.clock
    memory_s = (reads + writes) / device.memory.effective_bandwidth
    overhead = device.layer_overhead + (device.host.invoke_overhead if placement.first else 0.0)
    onchip = op.input_bytes + op.output_bytes + op.weight_bytes
    energy = op_energy(device, op, dram_bytes=reads + writes, onchip_bytes=onchip,
                       sram_size=device.sram)
    return finish(op, device, compute_s=compute_s, memory_s=memory_s, reads=reads, writes=writes,
                  energy=active_power(device, energy, max(compute_s, memory_s)), onchip=onchip,
                  overhead_s=overhead, cycles=cycles, unit="npu")


def _op_cost(op: Op, device: NpuConfig, placement: Placement) -> OpCost:
    """Route one placed op to the host or to the array."""
    if op.kind.value not in device.supported_ops:
        return _host_cost(op, device, placement)
    return _npu_cost(op, device, placement)


def cache_candidates(ops: Sequence[Op]) -> tuple[np.ndarray, np.ndarray]:
    """(bytes used, which ops' weights are cached) of every weight cache the planner weighs: the
    first weights in execution order up to some point, skipping any above some size."""
    sizes = {w.name: w.bytes for op in ops for w in op.weights}
    position = {name: i + 1 for i, name in enumerate(sizes)}
    last = np.array([max((position[w.name] for w in op.weights), default=0) for op in ops])
    largest = np.array([max((w.bytes for w in op.weights), default=0.0) for op in ops])
    limits = np.unique([0.0, *sizes.values()])[:, None, None]           # (limit, point, op)
    points = np.arange(len(sizes) + 1)[None, :, None]
    weights = np.array([0.0, *sizes.values()])[None, :]
    used = np.cumsum(np.where(weights <= limits[:, :, 0], weights, 0.0), axis=1).reshape(-1)
    return used, ((largest <= limits) & (last <= points)).reshape(len(used), len(ops))


def costs(ops: Sequence[Op], device: NpuConfig) -> list[OpCost]:
    """Costs of one inference's ops in order under the fastest weight cache (ties: the fullest)."""
    used, cached = cache_candidates(ops)
    working = np.array([_working_set(op) for op in ops])
    on_chip = working[None, :] <= device.sram - used[:, None]
    table = [[[_op_cost(op, device, p) for p in row] for row in rows]
             for op, rows in zip(ops, _placements(ops, device))]
    latency = np.array([[[c.latency_s for c in row] for row in rows] for rows in table])
    totals = latency[np.arange(len(ops)), cached.astype(int), on_chip.astype(int)].sum(axis=1)
    feasible = np.flatnonzero(used <= device.sram)
    best = feasible[np.lexsort((-used[feasible], totals[feasible]))[0]]
    return [rows[w][a] for rows, w, a in zip(table, cached[best].tolist(), on_chip[best].tolist())]


def cost(op: Op, device: NpuConfig) -> OpCost:
    """Cost of `op` run on its own: inputs from and outputs to off-chip memory, one invocation."""
    return costs((op,), device)[0]
