"""Regenerate the SCALE-Sim v2 golden reports (tests never run SCALE-Sim).

    python3 -m venv /tmp/ssenv2 && /tmp/ssenv2/bin/pip install "scalesim==2.0.2" "numpy<2.4"
    cd tests/golden/scalesim && /tmp/ssenv2/bin/python generate.py

Runs every topology (conv_small.csv, gemm_small.csv) on every array of ARRAYS under every dataflow
and both interface-bandwidth modes, and keeps SCALE-Sim's three report CSVs under
runs/<run_name>/ with the .cfg that made them.
"""

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# rows, cols, ifmap/filter/ofmap SRAM KB, USER bandwidth (words per cycle)
ARRAYS = [(4, 4, 1, 1, 1, 4), (8, 8, 1, 2, 1, 10), (8, 4, 2, 1, 1, 6)]
TOPOLOGIES = {"conv_small": "conv", "gemm_small": "gemm"}
CFG = """[general]
run_name = {name}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:   {ifmap}
FilterSramSzkB:  {filt}
OfmapSramSzkB:   {ofmap}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : {bw}
Dataflow : {df}
MemoryBanks:   1

[run_presets]
InterfaceBandwidth: {mode}
"""


def main() -> None:
    """Run every case and keep its reports."""
    runs = HERE / "runs"
    work = HERE / "_work"
    for (rows, cols, ifmap, filt, ofmap, bw), df, mode, topo in itertools.product(
            ARRAYS, ("os", "ws", "is"), ("CALC", "USER"), TOPOLOGIES):
        name = f"{topo}_{rows}x{cols}_{df}_{mode.lower()}"
        work.mkdir(exist_ok=True)
        cfg = work / f"{name}.cfg"
        cfg.write_text(CFG.format(name=name, rows=rows, cols=cols, ifmap=ifmap, filt=filt,
                                  ofmap=ofmap, bw=bw, df=df, mode=mode))
        subprocess.run([sys.executable, "-m", "scalesim.scale", "-c", str(cfg),
                        "-t", str(HERE / f"{topo}.csv"), "-p", str(work), "-i", TOPOLOGIES[topo]],
                       check=True, capture_output=True)
        (runs / name).mkdir(parents=True, exist_ok=True)
        for report in ("COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv"):
            shutil.copy(work / name / report, runs / name / report)
        shutil.copy(cfg, runs / name / "scale.cfg")
        print(name, flush=True)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
