"""A first-order silicon area model of systolic-array chips: MAC array plus on-chip SRAM.

Calibrated on Google TPU v1 (Jouppi et al., "In-Datacenter Performance Analysis of a Tensor
Processing Unit", ISCA 2017): a 28 nm die of at most 331 mm^2 (Table 2) whose floor plan (Fig. 2)
gives 24% to the Matrix Multiply Unit (65,536 int8 MAC PEs with their registers and wiring) and 29%
to the 24 MiB Unified Buffer. So at 28 nm one int8 PE takes 0.24 * 331 / 65536 mm^2 and one MiB of
SRAM 0.29 * 331 / 24 mm^2. Wider MACs scale the PE by the MAC's area relative to an int8 one, from
Horowitz (ISSCC 2014, 45 nm, um^2): adders int8 36, int32 137, fp16 1360, fp32 4184; multipliers int8
282, int32 3495, fp16 1640, fp32 7700 (a MAC is one multiplier plus its accumulator, paired as in
accelsim.devices.energy). A chip's PEs are sized for the widest precision it supports. Area scales
with the square of the process node. Control, I/O, vector units and interconnect are not counted.
"""

from __future__ import annotations

import numpy as np

TPU_V1_NM = 28.0
PE_MM2_28NM = 0.24 * 331 / 65536          # one int8 MAC PE
SRAM_MM2_PER_MIB_28NM = 0.29 * 331 / 24   # MiB of SRAM
MIB = 2.0**20

_ADD = {"int8": 36.0, "int32": 137.0, "fp16": 1360.0, "fp32": 4184.0}
_MULT = {"int8": 282.0, "int32": 3495.0, "fp16": 1640.0, "fp32": 7700.0}
MAC_UM2_45NM = {
    "int4": _MULT["int8"] / 4 + _ADD["int32"],
    "int8": _MULT["int8"] + _ADD["int32"],
    "int16": _MULT["int8"] * 4 + _ADD["int32"],
    "int32": _MULT["int32"] + _ADD["int32"],
    "fp8": _MULT["fp16"] / 4 + _ADD["fp16"],
    "fp4": _MULT["fp16"] / 16 + _ADD["fp16"],
    "fp16": _MULT["fp16"] + _ADD["fp16"],
    "bf16": _MULT["fp16"] + _ADD["fp16"],
    "tf32": _MULT["fp16"] + _ADD["fp32"],
    "fp32": _MULT["fp32"] + _ADD["fp32"],
    "fp64": (_MULT["fp32"] + _ADD["fp32"]) * 4,
}


def pe_mm2(precision: str, process_nm: float = TPU_V1_NM) -> float:
    """Area of one MAC PE of `precision` at `process_nm`."""
    width = MAC_UM2_45NM[precision] / MAC_UM2_45NM["int8"]
    return PE_MM2_28NM * width * (process_nm / TPU_V1_NM) ** 2


def chip_area_mm2(pes, sram_bytes, *, precision: str = "int8", process_nm: float = TPU_V1_NM):
    """Area of `pes` PEs and `sram_bytes` of SRAM (numbers or arrays, broadcast together)."""
    sram = np.asarray(sram_bytes, dtype=np.float64) / MIB * SRAM_MM2_PER_MIB_28NM \
        * (process_nm / TPU_V1_NM) ** 2
    return np.asarray(pes, dtype=np.float64) * pe_mm2(precision, process_nm) + sram


def widest_precision(precisions) -> str:
    """The precision (of those the model knows; int8 if none) whose MAC takes the most area."""
    return max((p for p in precisions if p in MAC_UM2_45NM), key=MAC_UM2_45NM.__getitem__,
               default="int8")


def sram_bytes(device) -> float:
    """All on-chip SRAM of a systolic chip: each core's three buffers plus the shared one (counted
    once where it is the ifmap buffer itself, as TPU v1's Unified Buffer)."""
    per_core = device.sram.ifmap + device.sram.filter + device.sram.ofmap
    shared = 0.0 if device.shared_sram_is_ifmap else (device.shared_sram or 0.0)
    return device.cores * per_core + shared


def device_area_mm2(device) -> float | None:
    """Modelled area of a systolic-array device; None for kinds the model does not cover."""
    if device.kind != "systolic":
        return None
    return float(chip_area_mm2(device.pes, sram_bytes(device),
                               precision=widest_precision(device.precisions),
                               process_nm=device.process_nm))
