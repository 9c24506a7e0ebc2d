"""Systolic-array schema (TPU, Eyeriss, SCALE-Sim configs): array shape, dataflow, SRAMs."""

from __future__ import annotations

from typing import Literal

from accelsim.config.common import DeviceBase
from accelsim.config.types import Bytes, Count, Frequency, Strict


class Array(Strict):
    """One systolic array: rows x cols PEs and the dataflow (output/weight/input stationary)."""

    rows: Count
    cols: Count
    dataflow: Literal["os", "ws", "is"] = "ws"


class Sram(Strict):
    """On-chip scratchpads for the three operands of one core, shared equally by its arrays."""

    ifmap: Bytes
    filter: Bytes
    ofmap: Bytes
    double_buffered: bool = True   # half of each SRAM holds the working set, half prefetches (SCALE-Sim)


class VectorUnit(Strict):
    """The unit that runs non-matmul ops (activations, norms, pooling)."""

    flops_per_cycle: Count = 128   # per core


class SystolicConfig(DeviceBase):
    """A chip of `cores` x `arrays_per_core` systolic arrays with SRAM and off-chip memory."""

    kind: Literal["systolic"]
    clock: Frequency
    array: Array
    arrays_per_core: Count = 1
    cores: Count = 1
    precisions: tuple[str, ...] = ("int8",)
    sram: Sram
    shared_sram: Bytes | None = None   # on-chip memory shared by all cores behind `sram` (TPU v4 CMEM)
    vector: VectorUnit = VectorUnit()

    @property
    def pes(self) -> int:
        """Processing elements (MAC units) on the chip."""
        return self.array.rows * self.array.cols * self.arrays_per_core * self.cores

    def peak_flops(self, precision: str) -> float:
        """2 FLOPs per PE per cycle at any supported precision."""
        return 2.0 * self.pes * self.clock if precision in self.precisions else 0.0
