"""Energy per op by component: MACs (compute), registers/SRAM (on-chip), DRAM (off-chip), static.

Defaults are the 45 nm figures of Horowitz (ISSCC 2014) in ../shared/reference/energy_45nm.csv:
- a MAC is one multiply plus one accumulate-add (integers accumulate in int32, fp16/bf16/fp8/fp4
  in fp16, tf32/fp32 in fp32); widths the paper does not list scale the multiplier with width squared (array
  multiplier area), e.g. int16 mult = int8 mult x 4, fp64 MAC = fp32 MAC x 4;
- SRAM costs 10/20/100 pJ per 64-bit access at 8 KB/32 KB/1 MB, interpolated log-linearly in size and
  clamped at 1 MB (larger arrays are built of banks of at most that size);
- registers and inter-PE links follow the Eyeriss ladder (Chen et al., ISCA 2016): register file 1x,
  inter-PE 2x, global buffer 6x, DRAM 200x the energy of one 16-bit MAC, per 16-bit access (global
  buffers are priced by size from the SRAM rows, DRAM by memory type);
- off-chip traffic is priced by memory type (DRAM_PJ_PER_BIT), an interface cost not scaled by node.
Scaling rule: logic and SRAM energies scale linearly with the process node, E(node) = E45 x node / 45
(switched capacitance shrinks with feature size while supply voltage has stayed near 0.8-1 V since
45 nm: a first-order rule). Every entry can be overridden per device in YAML (`energy:` block, pJ).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np

from accelsim.devices.base import Energy
from accelsim.workload.ir import Op

PJ = 1e-12
REFERENCE_NM = 45.0

# Horowitz ISSCC 2014, 45 nm 0.9 V: pJ per operation, keyed like energy_45nm.csv.
HOROWITZ_OP_PJ = {"int8 add": 0.03, "int8 mult": 0.2, "int32 add": 0.1, "int32 mult": 3.1,
                  "fp16 add": 0.4, "fp16 mult": 1.1, "fp32 add": 0.9, "fp32 mult": 3.7}
# Horowitz ISSCC 2014: pJ per 64-bit SRAM read by array size in bytes.
HOROWITZ_SRAM_PJ_PER_64BIT = {8 * 1024: 10.0, 32 * 1024: 20.0, 1024 * 1024: 100.0}
# Horowitz ISSCC 2014: pJ per 64-bit DRAM access (a DDR3-class interface), low and high end.
HOROWITZ_DRAM_PJ_PER_64BIT = (1300.0, 2600.0)
# Chen et al. ISCA 2016 (Eyeriss): access energy relative to one 16-bit MAC.
EYERISS_LADDER = {"register": 1.0, "inter_pe": 2.0, "global_buffer": 6.0, "dram": 200.0}


def _mac(mult: float, add: str) -> float:
    """One MAC: a multiply plus an accumulate-add of the named Horowitz width."""
    return mult + HOROWITZ_OP_PJ[f"{add} add"]


_OP = HOROWITZ_OP_PJ
MAC_PJ_45NM = {
    "int4": _mac(_OP["int8 mult"] / 4, "int32"),
    "int8": _mac(_OP["int8 mult"], "int32"),
    "int16": _mac(_OP["int8 mult"] * 4, "int32"),
    "int32": _mac(_OP["int32 mult"], "int32"),
    "fp8": _mac(_OP["fp16 mult"] / 4, "fp16"),
    "fp4": _mac(_OP["fp16 mult"] / 16, "fp16"),
    "fp16": _mac(_OP["fp16 mult"], "fp16"),
    "bf16": _mac(_OP["fp16 mult"], "fp16"),
    "tf32": _mac(_OP["fp16 mult"], "fp32"),       # tf32 has fp16's 10-bit mantissa
    "fp32": _mac(_OP["fp32 mult"], "fp32"),
    "fp64": _mac(_OP["fp32 mult"], "fp32") * 4,
}
VECTOR_FLOP_PJ_45NM = _OP["fp32 add"]            # one non-MAC FLOP: an fp32 add

_DDR3_PJ_PER_BIT = sum(HOROWITZ_DRAM_PJ_PER_64BIT) / 2 / 64
_HBM2_PJ_PER_BIT = 3.9        # O'Connor et al., "Fine-Grained DRAM", MICRO 2017
# pJ per bit moved off chip, by memory type. Measured anchors: DDR3 (Horowitz 2014 midpoint), HBM2
# (O'Connor et al. 2017), GDDR5 14 pJ/bit (O'Connor et al. 2017, Fig. 1). Other types scale their
# family's anchor by (core supply voltage / anchor's)^2 (CV^2), with JEDEC supply voltages:
# DDR3 1.5 V (JESD79-3), DDR4 1.2 V (JESD79-4), LPDDR4 VDD2 1.1 V (JESD209-4), LPDDR5 VDD2H 1.05 V
# (JESD209-5), HBM2/HBM2e 1.2 V (JESD235), HBM3 1.1 V (JESD238).
DRAM_PJ_PER_BIT = {
    "DDR3": _DDR3_PJ_PER_BIT,
    "DDR4": _DDR3_PJ_PER_BIT * (1.2 / 1.5) ** 2,
    "LPDDR4": _DDR3_PJ_PER_BIT * (1.1 / 1.5) ** 2,
    "LPDDR5": _DDR3_PJ_PER_BIT * (1.05 / 1.5) ** 2,
    "GDDR5": 14.0,
    "HBM2": _HBM2_PJ_PER_BIT,
    "HBM2E": _HBM2_PJ_PER_BIT,
    "HBM3": _HBM2_PJ_PER_BIT * (1.1 / 1.2) ** 2,
}
DEFAULT_DRAM_TYPE = "DDR3"    # unknown or generic "DRAM": the Horowitz figure


def node_scale(device) -> float:
    """Logic/SRAM energy scale factor from 45 nm to the device's process node (linear in node)."""
    return device.process_nm / REFERENCE_NM


def mac_pj(device, precision: str) -> float:
    """Energy of one MAC in pJ at the device's node (YAML override first)."""
    override = device.energy.mac_pj.get(precision)
    if override is not None:
        return override
    return MAC_PJ_45NM.get(precision, MAC_PJ_45NM["fp32"]) * node_scale(device)


def vector_flop_pj(device) -> float:
    """Energy of one non-MAC FLOP in pJ at the device's node (YAML override first)."""
    if device.energy.vector_flop_pj is not None:
        return device.energy.vector_flop_pj
    return VECTOR_FLOP_PJ_45NM * node_scale(device)


def sram_pj_per_byte(device, sram_bytes: float = 1024 * 1024) -> float:
    """Energy per byte of an SRAM access for an array of `sram_bytes` (log-linear between rows)."""
    if device.energy.sram_pj_per_byte is not None:
        return device.energy.sram_pj_per_byte
    sizes = sorted(HOROWITZ_SRAM_PJ_PER_64BIT)
    pj_per_64bit = np.interp(math.log(sram_bytes), [math.log(s) for s in sizes],
                             [HOROWITZ_SRAM_PJ_PER_64BIT[s] for s in sizes])
    return float(pj_per_64bit) / 8 * node_scale(device)


def _ladder_pj_per_byte(device, level: str) -> float:
    """Eyeriss-ladder energy per byte of `level`: multiples of a 16-bit MAC per 2-byte access."""
    return EYERISS_LADDER[level] * mac_pj(device, "int16") / 2


def register_pj_per_byte(device) -> float:
    """Energy per byte of a PE register-file access (YAML override first)."""
    if device.energy.register_pj_per_byte is not None:
        return device.energy.register_pj_per_byte
    return _ladder_pj_per_byte(device, "register")


def noc_pj_per_byte(device) -> float:
    """Energy per byte moved between PEs over the array's network (YAML override first)."""
    if device.energy.noc_pj_per_byte is not None:
        return device.energy.noc_pj_per_byte
    return _ladder_pj_per_byte(device, "inter_pe")


def dram_type(device) -> str:
    """The DRAM_PJ_PER_BIT key that starts the memory type's first word ("HBM2e" -> "HBM2E",
    "LPDDR5X" -> "LPDDR5"); DEFAULT_DRAM_TYPE when none does."""
    words = device.memory.type.upper().split()
    word = re.sub(r"[^A-Z0-9]", "", words[0]) if words else ""
    matches = [key for key in DRAM_PJ_PER_BIT if word.startswith(key)]
    return max(matches, key=len) if matches else DEFAULT_DRAM_TYPE


def dram_pj_per_byte(device) -> float:
    """Energy per byte of off-chip traffic, by memory type (YAML override first)."""
    if device.energy.dram_pj_per_byte is not None:
        return device.energy.dram_pj_per_byte
    return DRAM_PJ_PER_BIT[dram_type(device)] * 8


def op_energy(device, op: Op, *, dram_bytes: float, latency_s: float = 0.0,
              onchip_bytes: float = 0.0, sram_size: float = 1024 * 1024,
              register_bytes: float = 0.0, noc_bytes: float = 0.0) -> Energy:
    """Energy of one op: its MACs and vector FLOPs, bytes per memory level, and idle power x time.

    `onchip_bytes` are SRAM accesses priced for an array of `sram_size` bytes; `register_bytes` and
    `noc_bytes` are PE register-file and inter-PE traffic (spatial arrays that count them). Without
    `latency_s` the energy is dynamic only (devices.base.finish adds the static part).
    """
    compute = op.macs * mac_pj(device, op.precision) + op.vector_flops * vector_flop_pj(device)
    onchip = (onchip_bytes * sram_pj_per_byte(device, sram_size)
              + register_bytes * register_pj_per_byte(device) + noc_bytes * noc_pj_per_byte(device))
    return Energy(compute=compute * PJ, onchip=onchip * PJ,
                  offchip=dram_bytes * dram_pj_per_byte(device) * PJ,
                  static=device.power.idle * latency_s)


def active_power(device, energy: Energy, busy_s: float) -> Energy:
    """`energy` with its dynamic components rescaled to sum to (tdp - idle) x `busy_s`, split in
    their bottom-up proportions (unchanged where the device has no TDP or no dynamic energy)."""
    dynamic = energy.compute + energy.onchip + energy.offchip
    if device.power.tdp is None or dynamic == 0:
        return energy
    scale = max(device.power.tdp - device.power.idle, 0.0) * busy_s / dynamic
    return replace(energy, compute=energy.compute * scale, onchip=energy.onchip * scale,
                   offchip=energy.offchip * scale)
