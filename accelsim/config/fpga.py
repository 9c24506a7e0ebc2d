"""FPGA schema: DPU/DSP array, BRAM/URAM buffers, DDR."""

from __future__ import annotations

from typing import Literal

from accelsim.config.common import DeviceBase
from accelsim.config.types import Bytes, Count, Frequency, Strict


class Dpu(Strict):
    """The DSP-based engine: `cores` instances each doing `ops_per_cycle` ops (2 per MAC)."""

    cores: Count = 1
    ops_per_cycle: Count


class FpgaConfig(DeviceBase):
    """An FPGA running a DPU-style overlay."""

    kind: Literal["fpga"]
    clock: Frequency
    dpu: Dpu
    bram: Bytes
    precisions: tuple[str, ...] = ("int8",)

    def peak_flops(self, precision: str) -> float:
        """cores x ops/cycle x clock at a supported precision."""
        if precision not in self.precisions:
            return 0.0
        return float(self.dpu.cores * self.dpu.ops_per_cycle) * self.clock
