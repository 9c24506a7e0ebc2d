"""Component energy and area: SRAM, register files, MACs, wires and DRAM, by size and process node.

Pure functions on numbers or numpy arrays (broadcast together), so sweeps call them on whole design
spaces. Every anchor is a row of components.csv with its source; the fits:
- SRAM read energy per 64-bit access at 45 nm: a power law in the array's capacity fitted (least
  squares in log-log) to Horowitz's 8 KB / 32 KB / 1 MB points (ISSCC 2014), about capacity^0.47,
  the square-root growth of word- and bit-line length with array size that CACTI models. A memory
  of `banks` banks reads one bank of capacity/banks and routes the word over an H-tree from the
  array's centre to that bank: wire energy x (side/2) x (1 - 1/sqrt(banks)). Energy is priced per
  bit moved (an access of w bits costs w/64 of the 64-bit one); writes are priced as reads (the
  source lists reads only). More ports lengthen every word and bit line: access energy x (1+p)/2 and
  cell area x ((1+p)/2)^2 (Rixner et al., "Register organization for media processing", HPCA 2000:
  a register file's area grows with the square of its ports).
- SRAM area: bits x the node's published 6T cell area (log-log interpolation between the rows,
  the end segments extended) x SRAM_ARRAY_FACTOR, the periphery and wiring overhead of TPU v1's
  Unified Buffer (Jouppi et al. ISCA 2017: 29% of a 331 mm^2 28 nm die for 24 MiB).
- Logic area: Horowitz's 45 nm adder/multiplier areas x the transistor-density ratio of the node
  (published densities, log-log interpolated) x PE_LAYOUT_FACTOR, the registers and wiring of one
  TPU v1 int8 PE (its Matrix Multiply Unit: 24% of the die for 65,536 PEs) over its bare MAC.
  Register files are flip-flops: bits x the 45 nm DFF cell area x the density ratio.
- Energy node scaling: logic and SRAM energy linear in the node, E(node) = E45 x node / 45 (switched
  capacitance shrinks with feature size while the supply has stayed near 0.8-1 V since 45 nm: a
  first-order rule); wire energy per bit per mm interpolated log-log between Keckler et al.'s 40 nm
  and 10 nm figures (IEEE Micro 2011), since wire capacitance per mm barely shrinks.
- DRAM energy per bit by memory type: measured anchors (Horowitz 2014 DDR3, O'Connor et al. MICRO
  2017 HBM2 and GDDR5), other types scaled from their family's anchor by (supply voltage)^2 (CV^2)
  with JEDEC supply voltages.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

REFERENCE_NM = 45.0
MIB = 2.0**20
BITS_PER_BYTE = 8
UM2_PER_MM2 = 1e6
MAX_BANK_BYTES = 1024 * 1024     # the largest array Horowitz measured: larger memories are banked


def _table(path: Path) -> dict[str, dict[float, float]]:
    """components.csv as {quantity: {key: value}}."""
    table: dict[str, dict[float, float]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            table.setdefault(row["quantity"], {})[float(row["key"])] = float(row["value"])
    return table


TABLE = _table(Path(__file__).with_name("components.csv"))
SRAM_READ_PJ_45NM = TABLE["sram_read_pj_45nm"]        # bytes -> pJ per 64-bit read
SRAM_CELL_UM2 = TABLE["sram_cell_um2"]                # node nm -> um^2 per bit
LOGIC_DENSITY = TABLE["logic_density_mtr_mm2"]        # node nm -> million transistors per mm^2
WIRE_PJ_PER_BIT_MM = TABLE["wire_pj_per_bit_mm"]      # node nm -> pJ per bit per mm
DFF_UM2_45NM = TABLE["dff_um2"][45.0]
FPGA_AREA_GAP = TABLE["fpga_area_gap"][0.0]


def _loglog(x, table: dict[float, float]):
    """Piecewise power law through the table's points, its end segments extended."""
    keys = sorted(table)
    logs, values = np.log(keys), np.log([table[key] for key in keys])
    lx = np.log(np.asarray(x, dtype=np.float64))
    slope_lo = (values[1] - values[0]) / (logs[1] - logs[0])
    slope_hi = (values[-1] - values[-2]) / (logs[-1] - logs[-2])
    inside = np.interp(lx, logs, values)
    below = values[0] + slope_lo * (lx - logs[0])
    above = values[-1] + slope_hi * (lx - logs[-1])
    return np.exp(np.where(lx < logs[0], below, np.where(lx > logs[-1], above, inside)))


def power_law_fit(table: dict[float, float]) -> tuple[float, float]:
    """(a, b) of value = a x key^b, least squares in log-log."""
    b, log_a = np.polyfit(np.log(list(table)), np.log(list(table.values())), 1)
    return float(math.exp(log_a)), float(b)


SRAM_FIT = power_law_fit(SRAM_READ_PJ_45NM)


def energy_scale(process_nm):
    """Logic/SRAM energy at `process_nm` relative to 45 nm (linear in the node)."""
    return np.asarray(process_nm, dtype=np.float64) / REFERENCE_NM


def logic_area_scale(process_nm):
    """Logic area at `process_nm` relative to 45 nm: the inverse transistor-density ratio."""
    return LOGIC_DENSITY[REFERENCE_NM] / _loglog(process_nm, LOGIC_DENSITY)


def sram_cell_um2(process_nm):
    """Area of one 6T SRAM bit cell at `process_nm` (um^2)."""
    return _loglog(process_nm, SRAM_CELL_UM2)


def wire_pj_per_bit_mm(process_nm):
    """Energy to move one bit one mm over an on-chip wire at `process_nm`."""
    return _loglog(process_nm, WIRE_PJ_PER_BIT_MM)


def default_banks(capacity_bytes):
    """Banks of MAX_BANK_BYTES each (one for smaller memories; fractional, so that energy grows
    smoothly with capacity)."""
    return np.maximum(1.0, np.asarray(capacity_bytes, dtype=np.float64) / MAX_BANK_BYTES)


def _port_factor(ports):
    """Word/bit-line length of a `ports`-ported cell relative to a single-ported one."""
    return (1.0 + np.asarray(ports, dtype=np.float64)) / 2.0


def sram_area_mm2(capacity_bytes, *, ports=1, process_nm=REFERENCE_NM):
    """Area of an SRAM of `capacity_bytes` with `ports` ports at `process_nm`."""
    bits = np.asarray(capacity_bytes, dtype=np.float64) * BITS_PER_BYTE
    return bits * sram_cell_um2(process_nm) * SRAM_ARRAY_FACTOR * _port_factor(ports) ** 2 \
        / UM2_PER_MM2


def sram_read_pj(capacity_bytes, *, word_bits=64, ports=1, banks=None, process_nm=REFERENCE_NM):
    """Energy of one `word_bits` access to an SRAM of `capacity_bytes` (`banks`: default_banks)."""
    capacity = np.asarray(capacity_bytes, dtype=np.float64)
    banks = default_banks(capacity) if banks is None else np.asarray(banks, dtype=np.float64)
    a, b = SRAM_FIT
    array = a * (capacity / banks) ** b * energy_scale(process_nm) * _port_factor(ports)
    side = np.sqrt(sram_area_mm2(capacity, ports=ports, process_nm=process_nm))
    route = 64 * wire_pj_per_bit_mm(process_nm) * side / 2 * (1 - 1 / np.sqrt(banks))
    return (array + route) * np.asarray(word_bits, dtype=np.float64) / 64


def sram_pj_per_byte(capacity_bytes, *, ports=1, banks=None, process_nm=REFERENCE_NM):
    """Energy per byte read from or written to an SRAM of `capacity_bytes`."""
    return sram_read_pj(capacity_bytes, word_bits=BITS_PER_BYTE, ports=ports, banks=banks,
                        process_nm=process_nm)


def register_file_area_mm2(capacity_bytes, *, process_nm=REFERENCE_NM):
    """Area of a flip-flop register file of `capacity_bytes`."""
    bits = np.asarray(capacity_bytes, dtype=np.float64) * BITS_PER_BYTE
    return bits * DFF_UM2_45NM * logic_area_scale(process_nm) / UM2_PER_MM2


# Horowitz ISSCC 2014, 45 nm 0.9 V: pJ per operation and um^2 per unit.
HOROWITZ_OP_PJ = {"int8 add": 0.03, "int8 mult": 0.2, "int32 add": 0.1, "int32 mult": 3.1,
                  "fp16 add": 0.4, "fp16 mult": 1.1, "fp32 add": 0.9, "fp32 mult": 3.7}
HOROWITZ_OP_UM2 = {"int8 add": 36.0, "int8 mult": 282.0, "int32 add": 137.0, "int32 mult": 3495.0,
                   "fp16 add": 1360.0, "fp16 mult": 1640.0, "fp32 add": 4184.0, "fp32 mult": 7700.0}
# A MAC is one multiply plus an accumulate-add (integers accumulate in int32, fp16/bf16/fp8/fp4 in
# fp16, tf32/fp32 in fp32); widths the paper does not list scale the multiplier with width squared
# (array multiplier), e.g. int16 mult = int8 mult x 4, fp64 MAC = fp32 MAC x 4.
# precision -> (multiplier, its scale, accumulator, scale of the whole MAC)
MAC_RECIPE = {"int4": ("int8", 1 / 4, "int32", 1.0), "int8": ("int8", 1.0, "int32", 1.0),
              "int16": ("int8", 4.0, "int32", 1.0), "int32": ("int32", 1.0, "int32", 1.0),
              "fp8": ("fp16", 1 / 4, "fp16", 1.0), "fp4": ("fp16", 1 / 16, "fp16", 1.0),
              "fp16": ("fp16", 1.0, "fp16", 1.0), "bf16": ("fp16", 1.0, "fp16", 1.0),
              "tf32": ("fp16", 1.0, "fp32", 1.0),       # tf32 has fp16's 10-bit mantissa
              "fp32": ("fp32", 1.0, "fp32", 1.0), "fp64": ("fp32", 1.0, "fp32", 4.0)}


def _mac(table: dict[str, float], precision: str) -> float:
    """One MAC of `precision` from a per-operation table."""
    mult, mult_scale, add, scale = MAC_RECIPE[precision]
    return (table[f"{mult} mult"] * mult_scale + table[f"{add} add"]) * scale


MAC_PJ_45NM = {precision: _mac(HOROWITZ_OP_PJ, precision) for precision in MAC_RECIPE}
MAC_UM2_45NM = {precision: _mac(HOROWITZ_OP_UM2, precision) for precision in MAC_RECIPE}


def mac_pj(precision: str, process_nm=REFERENCE_NM):
    """Energy of one MAC of `precision` (fp32's for unknown precisions)."""
    return MAC_PJ_45NM.get(precision, MAC_PJ_45NM["fp32"]) * energy_scale(process_nm)


def mac_area_mm2(precision: str, process_nm=REFERENCE_NM):
    """Area of one bare MAC unit of `precision` (fp32's for unknown precisions)."""
    return MAC_UM2_45NM.get(precision, MAC_UM2_45NM["fp32"]) * logic_area_scale(process_nm) \
        / UM2_PER_MM2


# TPU v1 (Jouppi et al. ISCA 2017, 28 nm, <= 331 mm^2): the floor plan's layout overheads.
TPU_V1_NM = 28.0
_TPU_DIE = TABLE["tpu_v1_die_mm2"][TPU_V1_NM]
SRAM_ARRAY_FACTOR = float(TABLE["tpu_v1_ub_share"][TPU_V1_NM] * _TPU_DIE * UM2_PER_MM2
                          / (24 * MIB * BITS_PER_BYTE * sram_cell_um2(TPU_V1_NM)))
PE_LAYOUT_FACTOR = float(TABLE["tpu_v1_mmu_share"][TPU_V1_NM] * _TPU_DIE / 65536
                         / mac_area_mm2("int8", TPU_V1_NM))


def pe_area_mm2(precision: str, process_nm=REFERENCE_NM):
    """Area of one array PE (MAC, operand registers, wiring) of `precision`."""
    return mac_area_mm2(precision, process_nm) * PE_LAYOUT_FACTOR


_DDR3_PJ_PER_BIT = (1300.0 + 2600.0) / 2 / 64    # Horowitz 2014: 1.3-2.6 nJ per 64-bit access
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
