"""The cost-model contract: every device kind turns an Op into an OpCost."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from accelsim.workload.ir import Op

BOUNDS = ("compute", "memory", "overhead")


@dataclass(frozen=True)
class Energy:
    """Energy in joules by component."""

    compute: float = 0.0     # MACs and vector arithmetic
    onchip: float = 0.0      # registers, SRAM/cache accesses
    offchip: float = 0.0     # DRAM/HBM accesses and host transfers
    static: float = 0.0      # leakage/idle power x latency

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

    @property
    def dram_bytes(self) -> float:
        """Off-chip bytes read plus written."""
        return self.dram_read_bytes + self.dram_write_bytes


class DeviceModel(Protocol):
    """A device kind's cost model."""

    def __call__(self, op: Op, device) -> OpCost:
        """Cost of `op` on `device` (a validated config of this kind)."""
