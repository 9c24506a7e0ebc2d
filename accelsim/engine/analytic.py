"""The analytic engine: ops run one after another, so a run's latency is the sum of op latencies."""

from __future__ import annotations

from collections.abc import Sequence

from accelsim.devices.base import OpCost
from accelsim.report.result import LayerResult
from accelsim.workload.ir import Op


def schedule(ops: Sequence[Op], costs: Sequence[OpCost]) -> tuple[LayerResult, ...]:
    """Place ops back to back in trace order and return their per-layer results."""
    layers = []
    clock = 0.0
    for op, cost in zip(ops, costs):
        layers.append(LayerResult(
            name=op.name, phase=op.phase.value, kind=op.kind.value, flops=cost.flops,
            macs=cost.macs, dram_bytes=cost.dram_bytes, latency_s=cost.latency_s,
            energy_j=cost.energy.total, bound=cost.bound, cycles=cost.cycles, unit=cost.unit,
            start_s=clock, compute_s=cost.compute_s, memory_s=cost.memory_s))
        clock += cost.latency_s
    return tuple(layers)
