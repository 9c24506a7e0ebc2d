"""Speed of `accelsim scalesim` end to end (CLI subprocess wall time) against SCALE-Sim v2.0.2.

SCALE-Sim's wall times (same .cfg and topology, measured once on this machine, never run here)
are in scalesim_times.csv (ResNet-50: the first 8 columns of workloads/scalesim/Resnet50.csv, which
SCALE-Sim v2 cannot read with its extra ones; both measured while other jobs loaded the machine).
Run: python benchmarks/bench_scalesim.py.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CFG = ROOT / "tests" / "golden" / "scalesim" / "alexnet_32x32_os_calc" / "scale.cfg"
TOPOLOGIES = {"alexnet": ROOT / "accelsim" / "workloads" / "scalesim" / "alexnet.csv",
              "resnet50": ROOT / "accelsim" / "workloads" / "scalesim" / "Resnet50.csv"}


def cli_seconds(topology: Path) -> float:
    """Wall time of one `accelsim scalesim` run in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "accelsim", "scalesim", "-c", str(CFG), "-t",
                        str(topology), "-p", out], check=True, env=env, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    """Print accelsim's wall time per topology and its ratio to SCALE-Sim's stored one."""
    with (Path(__file__).parent / "scalesim_times.csv").open() as handle:
        measured = {row["topology"]: row for row in csv.DictReader(handle)}
    cli_seconds(TOPOLOGIES["alexnet"])                      # compile and cache the kernels once
    for name, topology in TOPOLOGIES.items():
        ours = cli_seconds(topology)
        row = measured.get(name)
        if row is None:
            print(f"{name}: accelsim scalesim {ours:.2f} s (no SCALE-Sim time stored)")
            continue
        theirs = float(row["wall_s"])
        print(f"{name}: accelsim scalesim {ours:.2f} s, SCALE-Sim {row['scalesim_version']} "
              f"{theirs:.1f} s ({row['measured']}): {theirs / ours:.0f}x faster")


if __name__ == "__main__":
    main()
