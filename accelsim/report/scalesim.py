"""SCALE-Sim v2's three report CSVs, with its file names, headers and number formats.

COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and DETAILED_ACCESS_REPORT.csv under OUTDIR/<run_name>/,
one row per topology layer ("0, 609, 0, 73.89...,"), so scripts that read SCALE-Sim's reports
read these unchanged. Cycles of the detailed report print as floats, counts as integers, as
SCALE-Sim prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from accelsim.config.scalesim_cfg import ScalesimCfg
from accelsim.kernels.systolic_scalesim_layer import LayerReport, Memory, layer_report, scalesim_layer
from accelsim.workload.ir import Graph

COMPUTE = "LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,"
BANDWIDTH = ("LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, "
             "Avg IFMAP DRAM BW, Avg FILTER DRAM BW, Avg OFMAP DRAM BW,")
DETAILED = "LayerID, " + ", ".join(
    f"{level} {operand} {edge}" for level in ("SRAM", "DRAM")
    for operand, access in (("IFMAP", "Reads"), ("Filter", "Reads"), ("OFMAP", "Writes"))
    for edge in ("Start Cycle", "Stop Cycle", access)) + ","


def memory(cfg: ScalesimCfg) -> Memory:
    """The .cfg's array and memory system."""
    return Memory(cfg.rows, cfg.cols, cfg.dataflow, cfg.ifmap_sram, cfg.filter_sram,
                  cfg.ofmap_sram, cfg.user_bandwidth)


def reports(cfg: ScalesimCfg, graph: Graph) -> list[LayerReport]:
    """Each layer of a SCALE-Sim topology (imported by accelsim.workload) run as SCALE-Sim runs it."""
    return [layer_report(scalesim_layer(op), memory(cfg)) for op in graph.ops]


def _rows(layers: Sequence[LayerReport]) -> dict[str, list[list]]:
    """The cells of each report, per layer."""
    tables: dict[str, list[list]] = {"COMPUTE_REPORT.csv": [], "BANDWIDTH_REPORT.csv": [],
                                     "DETAILED_ACCESS_REPORT.csv": []}
    for r in layers:
        tables["COMPUTE_REPORT.csv"].append([r.total_cycles, r.stall_cycles, r.overall_util,
                                             r.mapping_efficiency, r.compute_util])
        dram = [count / (r.dram_cycles[2 * i + 1] - r.dram_cycles[2 * i] + 1)
                for i, count in enumerate(r.dram_reads)]
        tables["BANDWIDTH_REPORT.csv"].append([x / r.total_cycles for x in r.sram_reads] + dram)
        detail = []
        for cycles, counts in ((r.sram_cycles, r.sram_reads), (r.dram_cycles, r.dram_reads)):
            for i, count in enumerate(counts):
                detail += [float(cycles[2 * i]), float(cycles[2 * i + 1]), count]
        tables["DETAILED_ACCESS_REPORT.csv"].append(detail)
    return tables


def write_reports(outdir: str | Path, cfg: ScalesimCfg, layers: Sequence[LayerReport]) -> Path:
    """Write the three reports under outdir/<run_name>/; that folder."""
    folder = Path(outdir) / cfg.run_name
    folder.mkdir(parents=True, exist_ok=True)
    headers = {"COMPUTE_REPORT.csv": COMPUTE, "BANDWIDTH_REPORT.csv": BANDWIDTH,
               "DETAILED_ACCESS_REPORT.csv": DETAILED}
    for name, rows in _rows(layers).items():
        lines = [headers[name]] + [f"{i}, " + ", ".join(str(x) for x in row) + ","
                                   for i, row in enumerate(rows)]
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder
