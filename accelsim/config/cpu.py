"""CPU schema: cores, SIMD and matrix-unit FLOPs per cycle per precision, clock, caches, DRAM."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from accelsim.config.common import DeviceBase, Memory
from accelsim.config.derived import CpuDerived, EfficiencyDerived
from accelsim.config.types import Bytes, Count, Fraction, Frequency, Precision, Seconds, Strict


class CpuCaches(Strict):
    """The cache hierarchy: private L1 data and L2 per core, one last-level cache per socket."""

    l1: Bytes                  # L1 data cache per core
    l2: Bytes                  # L2 per core
    llc: Bytes                 # last-level (L3) cache shared by all cores

    @model_validator(mode="after")
    def _levels_grow(self) -> CpuCaches:
        """Each level is larger than the one before it."""
        if not self.l1 < self.l2 < self.llc:
            raise ValueError(f"expected l1 < l2 < llc, got {self.l1:g} B, {self.l2:g} B, "
                             f"{self.llc:g} B")
        return self


class CpuMemory(Memory):
    """DRAM behind the socket's memory controllers."""

    channels: Count | None = None    # memory channels per socket (bandwidth is their sum)


class CpuEfficiency(EfficiencyDerived, Strict):
    """Achievable fractions of peak, each with its source in the YAML."""

    compute: Fraction = 1.0          # best large-GEMM fraction of the peak
    per_precision: dict[Precision, Fraction] = Field(default_factory=dict)   # where it differs
    vector: Fraction = 1.0           # SIMD fraction for non-GEMM math


class CpuConfig(CpuDerived, DeviceBase):
    """A CPU socket: `cores` cores at `clock`, each with SIMD units and optionally a matrix unit.

    `simd` and `matrix` give FLOPs per cycle per core by precision (2 per FMA lane; int8 counts
    ops); a GEMM at a precision runs on whichever of the two is faster there, everything else on
    the SIMD fp32 lanes. `clock` is the all-core frequency the units sustain under load.
    """

    kind: Literal["cpu"]
    clock: Frequency
    cores: Count
    simd: dict[Precision, Count] = Field(min_length=1)       # FLOPs/cycle/core (AVX-512, NEON, ...)
    matrix: dict[Precision, Count] = Field(default_factory=dict)   # FLOPs/cycle/core (AMX, SME)
    cache: CpuCaches
    memory: CpuMemory
    op_overhead: Seconds = 0.0       # fixed time per op (primitive dispatch, thread fork/join)
    efficiency: CpuEfficiency = CpuEfficiency()
