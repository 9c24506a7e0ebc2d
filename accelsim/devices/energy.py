"""Energy per op by component: MACs (compute), registers/SRAM (on-chip), DRAM (off-chip), static.

Prices come from the component library (accelsim.devices.components, every anchor cited in
components.csv): Horowitz's 45 nm MACs (ISSCC 2014), SRAM energy per access as a function of the
array's capacity and banks (a power-law fit to Horowitz's 8 KB / 32 KB / 1 MB points, banks of at
most 1 MB reached over an H-tree), DRAM energy per bit by memory type, and logic/SRAM energy linear
in the process node, E(node) = E45 x node / 45. Registers and inter-PE links follow the Eyeriss
ladder (Chen et al., ISCA 2016): register file 1x, inter-PE 2x, global buffer 6x, DRAM 200x the
energy of one 16-bit MAC, per 16-bit access (global buffers are priced by size from the SRAM fit,
DRAM by memory type). Every entry can be overridden per device in YAML (`energy:` block, pJ): an
explicit `sram_pj_per_byte` prices every SRAM of the device whatever its size.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from accelsim.devices import components
from accelsim.devices.base import Energy
from accelsim.devices.components import (DRAM_PJ_PER_BIT, HOROWITZ_OP_PJ, MAC_PJ_45NM,
                                         REFERENCE_NM)
from accelsim.workload.ir import Op

PJ = 1e-12
# Horowitz ISSCC 2014: pJ per 64-bit SRAM read by array size in bytes (the SRAM fit's anchors).
HOROWITZ_SRAM_PJ_PER_64BIT = {int(size): pj for size, pj in components.SRAM_READ_PJ_45NM.items()}
# Horowitz ISSCC 2014: pJ per 64-bit DRAM access (a DDR3-class interface), low and high end.
HOROWITZ_DRAM_PJ_PER_64BIT = (1300.0, 2600.0)
# Chen et al. ISCA 2016 (Eyeriss): access energy relative to one 16-bit MAC.
EYERISS_LADDER = {"register": 1.0, "inter_pe": 2.0, "global_buffer": 6.0, "dram": 200.0}
VECTOR_FLOP_PJ_45NM = HOROWITZ_OP_PJ["fp32 add"]            # one non-MAC FLOP: an fp32 add
DEFAULT_DRAM_TYPE = "DDR3"    # unknown or generic "DRAM": the Horowitz figure
# DRAM_PJ_PER_BIT, MAC_PJ_45NM and REFERENCE_NM stay importable from here (their home before the
# component library).


def node_scale(device) -> float:
    """Logic/SRAM energy scale factor from 45 nm to the device's process node (linear in node)."""
    return device.process_nm / REFERENCE_NM


def mac_pj(device, precision: str) -> float:
    """Energy of one MAC in pJ at the device's node (YAML override first)."""
    override = device.energy.mac_pj.get(precision)
    if override is not None:
        return override
    return float(components.mac_pj(precision, device.process_nm))


def vector_flop_pj(device) -> float:
    """Energy of one non-MAC FLOP in pJ at the device's node (YAML override first)."""
    if device.energy.vector_flop_pj is not None:
        return device.energy.vector_flop_pj
    return VECTOR_FLOP_PJ_45NM * node_scale(device)


def sram_pj_per_byte(device, sram_bytes=1024 * 1024, banks=None):
    """Energy per byte of an access to an SRAM of `sram_bytes` (a number or an array) with `banks`
    banks (None: banks of at most 1 MB); the YAML's `sram_pj_per_byte` overrides it."""
    if device.energy.sram_pj_per_byte is not None:
        return device.energy.sram_pj_per_byte
    price = components.sram_pj_per_byte(sram_bytes, banks=banks, process_nm=device.process_nm)
    return float(price) if np.ndim(price) == 0 else price


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
    """Energy per byte of off-chip traffic: the DRAM access, by memory type (YAML override first),
    plus the byte's route across the chip between the memory PHYs and the cores where the YAML
    gives it (`energy.fabric_pj_per_byte`: wires and crossbar, priced from the die's size)."""
    access = device.energy.dram_pj_per_byte
    if access is None:
        access = DRAM_PJ_PER_BIT[dram_type(device)] * 8
    return access + (device.energy.fabric_pj_per_byte or 0.0)


def op_energy(device, op: Op, *, dram_bytes: float, latency_s: float = 0.0,
              onchip_bytes: float = 0.0, sram_size: float = 1024 * 1024,
              register_bytes: float = 0.0, noc_bytes: float = 0.0,
              sram_pj: float | None = None) -> Energy:
    """Energy of one op: its MACs and vector FLOPs, bytes per memory level, and busy power x time.

    `onchip_bytes` are SRAM accesses priced for an array of `sram_size` bytes; `register_bytes` and
    `noc_bytes` are PE register-file and inter-PE traffic (spatial arrays that count them);
    `sram_pj` prices the on-chip bytes per byte instead (a mix of buffers priced by the caller). Without
    `latency_s` the energy is dynamic only (devices.base.finish adds the static part).
    """
    compute = op.macs * mac_pj(device, op.precision) + op.vector_flops * vector_flop_pj(device)
    price = sram_pj_per_byte(device, sram_size) if sram_pj is None else sram_pj
    onchip = (onchip_bytes * price
              + register_bytes * register_pj_per_byte(device) + noc_bytes * noc_pj_per_byte(device))
    return Energy(compute=compute * PJ, onchip=onchip * PJ,
                  offchip=dram_bytes * dram_pj_per_byte(device) * PJ,
                  static=device.power.busy * latency_s)


def active_power(device, energy: Energy, busy_s: float) -> Energy:
    """`energy` with its dynamic components rescaled to sum to (tdp - busy power) x `busy_s`, split
    in their bottom-up proportions (unchanged where the device has no TDP or no dynamic energy)."""
    dynamic = energy.compute + energy.onchip + energy.offchip
    if device.power.tdp is None or dynamic == 0:
        return energy
    scale = max(device.power.tdp - device.power.busy, 0.0) * busy_s / dynamic
    return replace(energy, compute=energy.compute * scale, onchip=energy.onchip * scale,
                   offchip=energy.offchip * scale)
