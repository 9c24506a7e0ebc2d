"""`accelsim scalesim`: SCALE-Sim v2's reports from its own .cfg and topology files."""

from __future__ import annotations

import click


@click.command(epilog="""\b
Examples:
  accelsim scalesim -c my.cfg -t my_topology.csv -p runs
  accelsim scalesim -c workloads/scalesim/scale.cfg -t workloads/scalesim/alexnet.csv -p runs
  accelsim scalesim -c workloads/scalesim/google.cfg -t workloads/scalesim/gpt2.csv  # GEMMs
""")
@click.option("-c", "config", required=True, type=click.Path(dir_okay=False),
              help="SCALE-Sim .cfg (run_name, array, SRAM kB, Dataflow, InterfaceBandwidth).")
@click.option("-t", "topology", required=True, type=click.Path(dir_okay=False),
              help="SCALE-Sim topology CSV, conv or GEMM (Layer, M, N, K) layout.")
@click.option("-p", "outdir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder that receives <run_name>/ with the three reports.")
def scalesim(config: str, topology: str, outdir: str) -> None:
    """Run a topology as SCALE-Sim v2 does and write its COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv
    and DETAILED_ACCESS_REPORT.csv (same names, headers and layout) under OUTDIR/<run_name>/."""
    from accelsim.bundled import bundled
    from accelsim.config.scalesim_cfg import read_scalesim_cfg
    from accelsim.report.scalesim import reports, write_reports
    from accelsim.workload.importers.scalesim_csv import import_scalesim_csv

    cfg = read_scalesim_cfg(bundled(config))
    layers = reports(cfg, import_scalesim_csv(bundled(topology), precision="int8"))
    folder = write_reports(outdir, cfg, layers)
    total = sum(layer.total_cycles for layer in layers)
    stalls = sum(layer.stall_cycles for layer in layers)
    click.echo(f"{len(layers)} layers, {total} cycles ({stalls} stalls): {folder}")
