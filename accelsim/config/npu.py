"""Mobile/edge NPU schema: int8 MAC array, small SRAM, host fallback, milliwatt power."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from accelsim.config.common import DeviceBase
from accelsim.config.types import Bandwidth, Bytes, Count, FlopRate, Frequency, Strict

DEFAULT_NPU_OPS = ("conv2d", "matmul", "elementwise", "pool", "norm")


class Host(Strict):
    """The CPU that runs ops the NPU cannot, and the link between them."""

    flops: FlopRate
    link_bandwidth: Bandwidth


class NpuConfig(DeviceBase):
    """An NPU: a MAC array at `clock` with on-chip SRAM and op fallback to a host CPU."""

    kind: Literal["npu"]
    clock: Frequency
    macs_per_cycle: dict[str, Count]               # per precision, e.g. {int8: 4096, fp16: 1024}
    sram: Bytes
    supported_ops: tuple[str, ...] = DEFAULT_NPU_OPS
    host: Host
    extra: dict[str, float] = Field(default_factory=dict)

    def peak_flops(self, precision: str) -> float:
        """2 x MACs/cycle x clock at a supported precision."""
        return 2.0 * self.macs_per_cycle.get(precision, 0) * self.clock
