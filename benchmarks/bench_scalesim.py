"""Speed of `accelsim scalesim` end to end (CLI subprocess wall time) against SCALE-Sim v2.0.2.

SCALE-Sim's wall times (same .cfg and topology, measured once on this machine, never run here)
are in scalesim_times.csv (ResNet-50: the first 8 columns of workloads/scalesim/Resnet50.csv, which
SCALE-Sim v2 cannot read with its extra ones; both measured while other jobs loaded the machine).
accelsim's times are the fastest of three fresh processes, after one run that builds the replay's
ahead-of-time extension (or JIT cache) where missing, with the package's bytecode compiled first
(as bench_cli.py does); its CPU seconds (user + system) print beside
its wall time: on a loaded machine the wall time mostly measures the wait for a core.
Run: python benchmarks/bench_scalesim.py.
"""

from __future__ import annotations

import compileall
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import children_cpu

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
CFG = ROOT / "tests" / "golden" / "scalesim" / "alexnet_32x32_os_calc" / "scale.cfg"
TOPOLOGIES = {"alexnet": ROOT / "accelsim" / "workloads" / "scalesim" / "alexnet.csv",
              "resnet50": ROOT / "accelsim" / "workloads" / "scalesim" / "Resnet50.csv"}


def cli_seconds(topology: Path) -> tuple[float, float]:
    """Wall time and CPU seconds of one `accelsim scalesim` run in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as out:
        start, cpu = time.perf_counter(), children_cpu()
        subprocess.run([sys.executable, "-m", "accelsim", "scalesim", "-c", str(CFG), "-t",
                        str(topology), "-p", out], check=True, env=env, capture_output=True)
        return time.perf_counter() - start, children_cpu() - cpu


def main() -> None:
    """Print accelsim's wall time per topology and its ratio to SCALE-Sim's stored one."""
    with (Path(__file__).parent / "scalesim_times.csv").open() as handle:
        measured = {row["topology"]: row for row in csv.DictReader(handle)}
    compileall.compile_dir(ROOT / "accelsim", quiet=1)
    cli_seconds(TOPOLOGIES["alexnet"])          # build the replay's extension (or JIT cache) once
    for name, topology in TOPOLOGIES.items():
        ours, cpu = min(cli_seconds(topology) for _ in range(REPEATS))
        row = measured.get(name)
        if row is None:
            print(f"{name}: accelsim scalesim {ours:.3f} s ({cpu:.3f} s CPU; no SCALE-Sim time "
                  "stored)")
            continue
        theirs = float(row["wall_s"])
        print(f"{name}: accelsim scalesim {ours:.3f} s ({cpu:.3f} s CPU), SCALE-Sim "
              f"{row['scalesim_version']} {theirs:.1f} s ({row['measured']}): {theirs / ours:.0f}x "
              f"faster ({theirs / cpu:.0f}x against accelsim's CPU seconds)")


if __name__ == "__main__":
    main()
