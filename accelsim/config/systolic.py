"""Systolic-array schema (TPU, Eyeriss, SCALE-Sim configs): array shape, dataflow, SRAMs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from accelsim.config.common import DeviceBase, Memory
from accelsim.config.derived import SystolicDerived
from accelsim.config.types import Bytes, Count, Frequency, Precision, Strict


class Scratchpad(Strict):
    """Register files inside each PE of a row-stationary array (bytes per PE)."""

    ifmap: Bytes
    filter: Bytes
    psum: Bytes


class Array(Strict):
    """One array: rows x cols PEs and the dataflow (output/weight/input stationary, or row
    stationary as Eyeriss runs it: see accelsim.kernels.row_stationary)."""

    rows: Count
    cols: Count
    dataflow: Literal["os", "ws", "is", "rs"] = "ws"
    scratchpad: Scratchpad | None = None   # per-PE register files, required by rs

    @model_validator(mode="after")
    def _rs_has_scratchpads(self) -> Array:
        """Row stationary keeps filter rows, ifmap windows and psums in per-PE scratchpads."""
        if self.dataflow == "rs" and self.scratchpad is None:
            raise ValueError("dataflow rs needs array.scratchpad (ifmap, filter, psum bytes per PE)")
        return self


class Sram(Strict):
    """On-chip scratchpads for the three operands of one core, shared equally by its arrays.

    Under rs, ifmap + ofmap is one global buffer for ifmaps and psums, split per layer by the
    mapping, and filters bypass it (`filter` and `loop_order` are not used)."""

    ifmap: Bytes
    filter: Bytes
    ofmap: Bytes
    double_buffered: bool = True   # half of each SRAM holds the working set, half prefetches (SCALE-Sim)
    loop_order: Literal["scalesim", "best"] = "scalesim"   # best: each layer's cheapest tiling
    bytes_per_cycle: float | None = Field(default=None, gt=0)   # rs: global-buffer port to the PEs; None: unlimited


class MappingPolicy(Strict):
    """How each layer is mapped: the device's fixed mapping, or the best one found by searching
    loop orders, tiles and (rs) PE-set mappings for `objective` (accelsim.devices.mapper)."""

    mode: Literal["fixed", "search"] = "fixed"
    objective: Literal["energy", "latency", "edp"] = "energy"


class SystolicMemory(Memory):
    """Off-chip memory of a systolic chip and the traffic model that moves its operands.

    model accelsim: accelsim.kernels.systolic (each tensor read once per pass it is needed, psums
    kept on chip where they fit, one shared DRAM link). model scalesim: SCALE-Sim v2's memory system
    replayed (accelsim.kernels.systolic_scalesim): im2col-duplicated ifmap fetches, every ws/is
    partial-sum fold written out; interface user gives each of the three buffers its own port of
    bandwidth / clock / word bytes words per cycle, calc never stalls (SCALE-Sim's CALC mode).
    """

    model: Literal["accelsim", "scalesim"] = "accelsim"
    interface: Literal["user", "calc"] = "user"   # scalesim only: SCALE-Sim's InterfaceBandwidth


class VectorUnit(Strict):
    """The unit that runs non-matmul ops (activations, norms, pooling)."""

    flops_per_cycle: Count = 128   # per core


class SystolicConfig(SystolicDerived, DeviceBase):
    """A chip of `cores` x `arrays_per_core` systolic arrays with SRAM and off-chip memory."""

    kind: Literal["systolic"]
    clock: Frequency
    array: Array
    arrays_per_core: Count = 1
    cores: Count = 1
    precisions: tuple[Precision, ...] = Field(default=("int8",), min_length=1)
    sram: Sram
    memory: SystolicMemory
    shared_sram: Bytes | None = None   # on-chip memory shared by all cores behind `sram` (TPU v4 CMEM)
    shared_sram_is_ifmap: bool = False   # the shared SRAM is also the ifmap buffer (TPU v1): one memory
    vector: VectorUnit = Field(default_factory=VectorUnit)
    mapping: MappingPolicy = Field(default_factory=MappingPolicy)

    @model_validator(mode="after")
    def _rs_is_one_array(self) -> SystolicConfig:
        """The row-stationary model maps a layer onto one array."""
        if self.array.dataflow == "rs" and self.cores * self.arrays_per_core != 1:
            raise ValueError("dataflow rs models one array: set cores and arrays_per_core to 1")
        return self

    @model_validator(mode="after")
    def _scalesim_is_one_array(self) -> SystolicConfig:
        """SCALE-Sim's memory system feeds one ws/os/is array."""
        if self.memory.model == "scalesim" and (self.cores * self.arrays_per_core != 1
                                                or self.array.dataflow == "rs"):
            raise ValueError("memory.model scalesim models one os/ws/is array: set cores and "
                             "arrays_per_core to 1")
        return self
