"""FPGA schema: DPU/DSP array, BRAM/URAM buffers, DDR."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from accelsim.config.common import DeviceBase, MacArray
from accelsim.config.derived import FpgaDerived
from accelsim.config.types import Bandwidth, Bytes, Count, Frequency, Precision, Seconds, Strict


class Dpu(Strict):
    """The DSP-based engine: `cores` instances each doing `ops_per_cycle` ops (2 per MAC)."""

    cores: Count = 1
    ops_per_cycle: Count
    array: MacArray | None = None            # None: an ideal array with no channel quantisation
    feature_buffer: Bytes | None = None      # activation banks per core (None: half of `bram`)
    port_bandwidth: Bandwidth | None = None  # one core's AXI data ports (None: no cap below DDR)
    layer_overhead: Seconds = 0.0            # fixed time per layer (instruction fetch, setup)

    @model_validator(mode="after")
    def _array_matches_peak(self) -> Dpu:
        """The array's lanes must add up to `ops_per_cycle`."""
        if self.array is not None and 2 * self.array.macs != self.ops_per_cycle:
            raise ValueError(f"array gives {2 * self.array.macs} ops/cycle, "
                             f"ops_per_cycle says {self.ops_per_cycle}")
        return self


class FpgaConfig(FpgaDerived, DeviceBase):
    """An FPGA running a DPU-style overlay; `bram` is the on-chip buffer of one DPU core."""

    kind: Literal["fpga"]
    clock: Frequency
    dpu: Dpu
    bram: Bytes
    bram_block: Bytes = 4.5 * 1024     # one block RAM, the unit BRAM energy is priced per (BRAM36)
    fabric_energy_factor: float = Field(7.0, ge=1)   # dynamic energy / an ASIC's at the same node
    precisions: tuple[Precision, ...] = Field(default=("int8",), min_length=1)

    @model_validator(mode="after")
    def _feature_buffer_fits(self) -> FpgaConfig:
        """The activation banks are part of the core's BRAM."""
        if self.dpu.feature_buffer is not None and self.dpu.feature_buffer >= self.bram:
            raise ValueError("dpu.feature_buffer must be smaller than bram")
        return self
