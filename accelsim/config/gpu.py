"""GPU schema: SMs, tensor-core peaks per precision, L2, HBM, launch overhead."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from accelsim.config.common import DeviceBase
from accelsim.config.types import Bandwidth, Bytes, Count, FlopRate, Fraction, Frequency, Seconds, Strict


class Cache(Strict):
    """An on-chip cache level."""

    size: Bytes
    bandwidth: Bandwidth | None = None


class GpuEfficiency(Strict):
    """Achievable fractions of peak, each with its source in the YAML."""

    compute: Fraction = 1.0
    memory: Fraction = 1.0


class GpuConfig(DeviceBase):
    """A GPU: streaming multiprocessors with tensor cores and HBM."""

    kind: Literal["gpu"]
    clock: Frequency
    sms: Count
    peak: dict[str, FlopRate]                      # dense peak per precision (fp32, tf32, fp16, ...)
    sparsity_2_4: bool = False
    l2: Cache | None = None
    launch_overhead: Seconds = 0.0
    efficiency: GpuEfficiency = GpuEfficiency()
    extra: dict[str, float] = Field(default_factory=dict)

    def peak_flops(self, precision: str) -> float:
        """Peak dense FLOP/s from the datasheet table."""
        return self.peak.get(precision, 0.0)
