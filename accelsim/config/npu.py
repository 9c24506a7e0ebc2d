"""Mobile/edge NPU schema: int8 MAC array, small SRAM, host fallback, milliwatt power."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from accelsim.config.common import DeviceBase, MacArray
from accelsim.config.types import Bandwidth, Bytes, Count, FlopRate, Frequency, Seconds, Strict

DEFAULT_NPU_OPS = ("conv2d", "matmul", "elementwise", "pool", "norm")


class Host(Strict):
    """The CPU that runs ops the NPU cannot, and the link between them."""

    flops: FlopRate
    link_bandwidth: Bandwidth
    invoke_overhead: Seconds = 0.0     # fixed host+driver time per inference (runtime call, sync)


class NpuConfig(DeviceBase):
    """An NPU: a MAC array at `clock` with on-chip SRAM and op fallback to a host CPU."""

    kind: Literal["npu"]
    clock: Frequency
    macs_per_cycle: dict[str, Count]               # per precision, e.g. {int8: 4096, fp16: 1024}
    array: MacArray | None = None                  # lane shape at the widest precision (None: ideal)
    sram: Bytes
    supported_ops: tuple[str, ...] = DEFAULT_NPU_OPS
    host: Host
    layer_overhead: Seconds = 0.0                  # fixed time per op run on the NPU
    extra: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _array_matches_peak(self) -> NpuConfig:
        """The array's lanes must equal the largest MACs/cycle entry."""
        if self.array is not None and self.array.macs != max(self.macs_per_cycle.values()):
            raise ValueError(f"array has {self.array.macs} MAC lanes, macs_per_cycle peaks at "
                             f"{max(self.macs_per_cycle.values())}")
        return self

    def peak_flops(self, precision: str) -> float:
        """2 x MACs/cycle x clock at a supported precision."""
        return 2.0 * self.macs_per_cycle.get(precision, 0) * self.clock
