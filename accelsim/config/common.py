"""Schema blocks shared by every device kind."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from accelsim.config.calibration import Calibration
from accelsim.config.derived import DeviceDerived, MacArrayDerived, MemoryDerived, PowerDerived
from accelsim.config.types import Bandwidth, Bytes, Count, Fraction, Power, Precision, Strict


class Memory(MemoryDerived, Strict):
    """Off-chip memory (HBM, DDR, LPDDR): capacity and peak bandwidth."""

    type: str = "DRAM"
    capacity: Bytes | None = None
    bandwidth: Bandwidth
    efficiency: Fraction = 1.0   # achievable fraction of peak bandwidth (streaming benchmarks)


class PowerSpec(PowerDerived, Strict):
    """Board/chip power: thermal design power and idle (static) power; `active`, what a busy device
    draws above idle before its work's dynamic energy (boost clocks, cores and caches powered, while
    kernels run or it waits on the host between them); `host`, a device's share of the rest of its
    server (CPUs, NICs, switches, fans), counted in multi-device training energy."""

    tdp: Power | None = None
    idle: Power = 0.0
    active: Power = 0.0
    host: Power = 0.0

    @model_validator(mode="after")
    def _idle_within_tdp(self) -> PowerSpec:
        """Idle power, and idle plus active power, cannot exceed the board's TDP."""
        if self.tdp is not None and self.idle > self.tdp:
            raise ValueError(f"idle power {self.idle:g} W is above the TDP {self.tdp:g} W")
        if self.tdp is not None and self.busy > self.tdp:
            raise ValueError(f"idle + active power {self.busy:g} W is above the TDP {self.tdp:g} W")
        return self


class EnergyOverrides(Strict):
    """Per-device energy entries in picojoules that replace the scaled 45 nm defaults."""

    mac_pj: dict[Precision, float] = Field(default_factory=dict)   # precision -> pJ per MAC
    sram_pj_per_byte: float | None = Field(default=None, gt=0)
    dram_pj_per_byte: float | None = Field(default=None, gt=0)
    fabric_pj_per_byte: float | None = Field(default=None, gt=0)  # a DRAM byte's route on chip
    register_pj_per_byte: float | None = Field(default=None, gt=0)
    noc_pj_per_byte: float | None = Field(default=None, gt=0)    # inter-PE links
    vector_flop_pj: float | None = Field(default=None, gt=0)     # one non-MAC FLOP


class MacArray(MacArrayDerived, Strict):
    """A MAC array's parallelism per cycle: output pixels x input channels x output channels."""

    pixels: Count = 1
    in_channels: Count = 1
    out_channels: Count = 1
    depthwise_pixels: Count | None = None    # pixels per cycle in depthwise convs (None: `pixels`)
    channel_augmentation: bool = False       # pack kernel-width taps into idle input channels


class Fabric(Strict):
    """The links a device is deployed with, by bundled interconnect name (hw_configs/interconnect/)."""

    intra: str                   # between the devices of one node (NVLink, PCIe, TPU ICI)
    inter: str | None = None     # between nodes (None: the intra fabric spans the whole job)


class DeviceBase(DeviceDerived, Strict):
    """Fields every device has: identity, process node, off-chip memory, power, price."""

    name: str
    source: str = ""
    process_nm: float = Field(default=45.0, gt=0)
    memory: Memory
    power: PowerSpec = Field(default_factory=PowerSpec)
    energy: EnergyOverrides = Field(default_factory=EnergyOverrides)
    price_per_hour: float | None = Field(default=None, ge=0)   # USD per device-hour (cloud list price)
    default_precision: Precision | None = None   # precision used when a run names none
    modes: tuple[Literal["inference", "training"], ...] = Field(
        default=("inference", "training"), min_length=1)   # what the part can run (serve is inference)
    interconnect: Fabric | None = None     # None: PCIe 4 x16 and InfiniBand HDR (a generic server)
    calibration: Calibration | None = None  # written by `accelsim calibrate`: runs report intervals
