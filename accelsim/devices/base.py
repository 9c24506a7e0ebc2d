"""The cost-model contract: every device kind turns an Op into an OpCost.

A kind's model is the module accelsim.devices.<kind>, one per entry of accelsim.config.KINDS, and
implements DeviceModel: `cost(op, device)` for one op alone and `costs(ops, device)` for a whole
run in order, where a kind with whole-run state (an NPU's weight cache, a systolic chip's resident
activations) plans it (`costs = with_resident(cost, plan)` for resident activations); the
others take the default, `costs = op_by_op(cost)`. A kind may also define
`batch_parallel(costs, ops, device, samples)`: how a batch spread over independent instances
changes the run's costs (CPUs, one instance per core).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from accelsim.workload.ir import Op

BOUNDS = ("compute", "memory", "overhead")


@dataclass(frozen=True)
class Energy:
    """Energy in joules by component."""

    compute: float = 0.0     # MACs and vector arithmetic
    onchip: float = 0.0      # registers, SRAM/cache accesses
    offchip: float = 0.0     # DRAM/HBM accesses and host transfers
    static: float = 0.0      # idle + active (busy) power x latency

    @property
    def total(self) -> float:
        """Sum of the components."""
        return self.compute + self.onchip + self.offchip + self.static


@dataclass(frozen=True)
class OpCost:
    """What one op costs on one device."""

    flops: int
    macs: int
    latency_s: float
    dram_read_bytes: float
    dram_write_bytes: float
    bound: str                                   # one of BOUNDS
    energy: Energy = field(default_factory=Energy)
    onchip_bytes: float = 0.0
    cycles: int | None = None                    # compute cycles, where the model counts cycles
    stall_cycles: int | None = None              # cycles waiting for memory, where counted
    compute_s: float = 0.0                       # time the math alone would take
    memory_s: float = 0.0                        # time the off-chip traffic alone would take
    unit: str = ""                               # where it ran, e.g. "tensor", "vector", "host"
    traffic: dict | None = None                  # {"sram"|"dram": {operand: {"reads", "writes"}}}
    mapping_efficiency: float | None = None      # used / all PEs over the folds (systolic arrays)
    compute_utilization: float | None = None     # busy / all PE-cycles over the folds
    mapping: dict | None = None                  # the searched mapping (--mapping search)

    @property
    def dram_bytes(self) -> float:
        """Off-chip bytes read plus written."""
        return self.dram_read_bytes + self.dram_write_bytes


@runtime_checkable
class DeviceModel(Protocol):
    """A device kind's cost model (a module: accelsim.devices.<kind>)."""

    def cost(self, op: Op, device) -> OpCost:
        """Cost of `op` run alone on `device` (a validated config of this kind)."""

    def costs(self, ops: Sequence[Op], device) -> list[OpCost]:
        """Costs of a run's ops in order, planned as one run."""


def op_by_op(cost: Callable[[Op, Any], OpCost]) -> Callable[[Sequence[Op], Any], list[OpCost]]:
    """The default `costs` of a kind without whole-run state: each op costed alone."""
    def costs(ops: Sequence[Op], device) -> list[OpCost]:
        """Costs of a run's ops in order, each costed alone."""
        return [cost(op, device) for op in ops]
    return costs


NONE_RESIDENT: frozenset[str] = frozenset()


def with_resident(cost: Callable[[Op, Any, frozenset[str]], OpCost],
                  plan: Callable[[Sequence[Op], Any], frozenset[str]]
                  ) -> Callable[[Sequence[Op], Any], list[OpCost]]:
    """The `costs` of a kind that keeps activations on chip: `plan` picks the resident ones for
    the whole run, then each op is costed with them."""
    def costs(ops: Sequence[Op], device) -> list[OpCost]:
        """Costs of a run's ops in order, activations kept on chip where the plan holds them."""
        resident = plan(ops, device)
        return [cost(op, device, resident) for op in ops]
    return costs


def bound(compute_s: float, memory_s: float, overhead_s: float = 0.0) -> str:
    """What limits an op: its fixed overhead if longer than its work, else compute or memory."""
    if overhead_s > max(compute_s, memory_s):
        return "overhead"
    return "compute" if compute_s >= memory_s else "memory"


def within_power_limit(energy: Energy, latency_s: float, tdp: float | None) -> Energy:
    """`energy` with its dynamic parts scaled down so that it draws at most `tdp` over `latency_s`.

    A part at its board power limit lowers its clocks (power capping) and the work drawn at the limit
    takes what the measured efficiencies say it takes: latency is left as given, since the GEMM
    efficiencies are fitted to throughputs measured at the power limit.
    """
    if tdp is None:
        return energy
    budget = tdp * latency_s
    dynamic = energy.total - energy.static
    if energy.total <= budget or dynamic <= 0:
        return energy
    scale = max(budget - energy.static, 0.0) / dynamic
    return Energy(compute=energy.compute * scale, onchip=energy.onchip * scale,
                  offchip=energy.offchip * scale, static=energy.static)


def finish(op: Op, device, *, compute_s: float, memory_s: float, reads: float, writes: float,
           energy: Energy, onchip: float = 0.0, overhead_s: float = 0.0,
           work_s: float | None = None,       # None: compute and memory overlap
           cycles: int | None = None,         # None: latency x clock
           unit: str = "") -> OpCost:
    """OpCost of an op that takes overhead + work; `energy` is dynamic, static (the device's busy
    power, idle + active, over the latency) is added here."""
    latency = overhead_s + (max(compute_s, memory_s) if work_s is None else work_s)
    energy = within_power_limit(replace(energy, static=device.power.busy * latency), latency,
                                device.power.tdp)
    return OpCost(
        flops=op.flops, macs=op.macs, latency_s=latency, dram_read_bytes=reads,
        dram_write_bytes=writes, bound=bound(compute_s, memory_s, overhead_s),
        energy=energy, onchip_bytes=onchip,
        cycles=round(latency * device.clock) if cycles is None else cycles,
        compute_s=compute_s, memory_s=memory_s, unit=unit)
