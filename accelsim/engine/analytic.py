"""The analytic engine: ops run one after another, so a run's latency is the sum of op latencies."""

from __future__ import annotations

from collections.abc import Sequence

from accelsim.devices.base import OpCost
from accelsim.result import LayerResult
from accelsim.workload.ir import Op


def layer_result(op: Op, cost: OpCost, start_s: float, latency_s: float) -> LayerResult:
    """The result of `op` run from start_s for latency_s (the engine's placement of its cost)."""
    # positional, in LayerResult's field order, and the enums' _value_: engines build one per op
    return LayerResult(
        op.name, op.phase._value_, op.kind._value_, cost.flops, cost.macs, cost.dram_bytes,
        latency_s, cost.energy.total, cost.bound, cost.cycles, cost.stall_cycles, cost.unit,
        start_s, cost.compute_s, cost.memory_s, cost.traffic, cost.mapping_efficiency,
        cost.compute_utilization, cost.mapping)


def schedule(ops: Sequence[Op], costs: Sequence[OpCost]) -> tuple[LayerResult, ...]:
    """Place ops back to back in trace order and return their per-layer results."""
    layers = []
    clock = 0.0
    for op, cost in zip(ops, costs):
        layers.append(layer_result(op, cost, clock, cost.latency_s))
        clock += cost.latency_s
    return tuple(layers)
