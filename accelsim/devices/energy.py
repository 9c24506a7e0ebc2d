"""Energy per op: MACs, on-chip and off-chip bytes priced from the 45 nm tables, plus static power.

Defaults come from Horowitz (ISSCC 2014, 45 nm, 0.9 V), as in ../shared/reference/energy_45nm.csv:
a MAC is one multiply plus one add at the accumulator's width; SRAM costs 10/20/100 pJ per 64-bit
access at 8 KB/32 KB/1 MB; DRAM 1300-2600 pJ per 64-bit access. Logic and SRAM energies are scaled to
the device's process node linearly in feature size (E(node) = E45 * node / 45), the first-order
Dennard rule used by e.g. Accelergy's technology scaling; DRAM energy is an interface cost and is not
scaled. Every entry can be overridden per device in YAML (`energy:`), in picojoules.
"""

from __future__ import annotations

from accelsim.devices.base import Energy
from accelsim.workload.ir import Op

PJ = 1e-12
# pJ per MAC at 45 nm: multiply + accumulate-add (int8 accumulates in int32).
MAC_PJ_45NM = {"int4": 0.1, "int8": 0.2 + 0.1, "int16": 0.8 + 0.1, "int32": 3.1 + 0.1,
               "fp8": 0.55 + 0.4, "fp16": 1.1 + 0.4, "bf16": 1.1 + 0.4, "tf32": 1.1 + 0.9,
               "fp32": 3.7 + 0.9, "fp64": 4 * (3.7 + 0.9)}
VECTOR_FLOP_PJ_45NM = 0.9          # one fp32 add (Horowitz 2014)
SRAM_PJ_PER_BYTE_45NM = ((8 * 1024, 10 / 8), (32 * 1024, 20 / 8), (1024 * 1024, 100 / 8))
DRAM_PJ_PER_BYTE = 1950 / 8        # midpoint of 1300-2600 pJ per 64-bit access
REFERENCE_NM = 45.0


def node_scale(device) -> float:
    """Logic/SRAM energy scale factor from 45 nm to the device's process node."""
    return device.process_nm / REFERENCE_NM


def mac_pj(device, precision: str) -> float:
    """Energy of one MAC in pJ at the device's node (YAML override first)."""
    override = device.energy.mac_pj.get(precision)
    if override is not None:
        return override
    return MAC_PJ_45NM.get(precision, MAC_PJ_45NM["fp32"]) * node_scale(device)


def sram_pj_per_byte(device, sram_bytes: float = 1024 * 1024) -> float:
    """Energy per byte of an SRAM access of a given array size (log-linear between table rows)."""
    if device.energy.sram_pj_per_byte is not None:
        return device.energy.sram_pj_per_byte
    import math

    rows = SRAM_PJ_PER_BYTE_45NM
    size = min(max(sram_bytes, rows[0][0]), rows[-1][0])
    for (s0, e0), (s1, e1) in zip(rows, rows[1:]):
        if size <= s1:
            t = math.log(size / s0) / math.log(s1 / s0)
            return (e0 + t * (e1 - e0)) * node_scale(device)
    return rows[-1][1] * node_scale(device)


def dram_pj_per_byte(device) -> float:
    """Energy per byte of off-chip memory traffic (YAML override first)."""
    if device.energy.dram_pj_per_byte is not None:
        return device.energy.dram_pj_per_byte
    return DRAM_PJ_PER_BYTE


def op_energy(device, op: Op, *, dram_bytes: float, onchip_bytes: float, latency_s: float) -> Energy:
    """Energy of one op from its MACs, vector FLOPs, traffic and the device's idle power."""
    compute = op.macs * mac_pj(device, op.precision) + op.vector_flops * VECTOR_FLOP_PJ_45NM * node_scale(device)
    return Energy(
        compute=compute * PJ,
        onchip=onchip_bytes * sram_pj_per_byte(device) * PJ,
        offchip=dram_bytes * dram_pj_per_byte(device) * PJ,
        static=device.power.idle * latency_s,
    )
