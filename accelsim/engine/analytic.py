"""The analytic engine: ops run one after another, so a run's latency is the sum of op latencies."""

from __future__ import annotations

from collections.abc import Sequence

from accelsim.devices.base import OpCost
from accelsim.result import LayerResult
from accelsim.workload.ir import Op


def layer_result(op: Op, cost: OpCost, start_s: float, latency_s: float) -> LayerResult:
    """The result of `op` run from start_s for latency_s (the engine's placement of its cost)."""
    return LayerResult(
        name=op.name, phase=op.phase.value, kind=op.kind.value, flops=cost.flops, macs=cost.macs,
        dram_bytes=cost.dram_bytes, latency_s=latency_s, energy_j=cost.energy.total,
        bound=cost.bound, cycles=cost.cycles, stall_cycles=cost.stall_cycles, unit=cost.unit,
        start_s=start_s,
        compute_s=cost.compute_s, memory_s=cost.memory_s, traffic=cost.traffic,
        mapping_efficiency=cost.mapping_efficiency, compute_utilization=cost.compute_utilization,
        mapping=cost.mapping)


def schedule(ops: Sequence[Op], costs: Sequence[OpCost]) -> tuple[LayerResult, ...]:
    """Place ops back to back in trace order and return their per-layer results."""
    layers = []
    clock = 0.0
    for op, cost in zip(ops, costs):
        layers.append(layer_result(op, cost, clock, cost.latency_s))
        clock += cost.latency_s
    return tuple(layers)
