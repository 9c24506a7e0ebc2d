"""Mobile/edge NPU schema: int8 MAC array, small SRAM, host fallback, milliwatt power."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from accelsim.config.common import DeviceBase, MacArray
from accelsim.config.derived import NpuDerived
from accelsim.config.explain import did_you_mean
from accelsim.config.types import (Bandwidth, Bytes, Count, FlopRate, Frequency, Precision, Seconds,
                                   Strict)
from accelsim.workload.ir import OP_TRAITS, OpKind

NPU_OPS = tuple(kind.value for kind, traits in OP_TRAITS.items() if traits.npu)
DEFAULT_NPU_OPS = tuple(kind.value for kind in (OpKind.CONV2D, OpKind.MATMUL, OpKind.ELEMENTWISE,
                                                OpKind.POOL, OpKind.NORM))


def _npu_op(name: str) -> str:
    """An op kind an NPU may run, else a ValueError with the closest one."""
    if name not in NPU_OPS:
        raise ValueError(f"expected an op kind an NPU runs ({', '.join(NPU_OPS)}), got {name!r}"
                         + did_you_mean(name, NPU_OPS))
    return name


NpuOp = Annotated[str, AfterValidator(_npu_op)]


class Host(Strict):
    """The CPU that runs ops the NPU cannot, and the link between them."""

    flops: FlopRate
    link_bandwidth: Bandwidth
    invoke_overhead: Seconds = 0.0     # fixed host+driver time per inference (runtime call, sync)


class NpuConfig(NpuDerived, DeviceBase):
    """An NPU: a MAC array at `clock` with on-chip SRAM and op fallback to a host CPU."""

    kind: Literal["npu"]
    clock: Frequency
    macs_per_cycle: dict[Precision, Count]               # per precision, e.g. {int8: 4096, fp16: 1024}
    array: MacArray | None = None                  # lane shape at the widest precision (None: ideal)
    sram: Bytes
    supported_ops: tuple[NpuOp, ...] = DEFAULT_NPU_OPS     # op kinds it runs; the rest go to the host
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
