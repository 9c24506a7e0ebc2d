"""Start-up speed of one single run: `accelsim run resnet50 --device tpu_v4 --json` (CLI subprocess
wall time, fastest of three) against `python -c pass` in the same way, with the CPU time (user +
system) of those runs and the load average, since other processes' load stretches wall times. The
package's bytecode is compiled first, as an installed package's is (PYTHONDONTWRITEBYTECODE would
otherwise time the compiler).

Run: python benchmarks/bench_cli.py.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time
from pathlib import Path

from _timing import children_cpu

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["-m", "accelsim", "run", "resnet50", "--device", "tpu_v4", "--json"]


def seconds(args: list[str], repeats: int = 3) -> tuple[float, float]:
    """Fastest wall time and fastest CPU time of `repeats` fresh `python args` processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    walls, cpus = [], []
    for _ in range(repeats):
        before = children_cpu()
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        cpus.append(children_cpu() - before)
    return min(walls), min(cpus)


if __name__ == "__main__":
    compileall.compile_dir(ROOT / "accelsim", quiet=1)
    seconds(COMMAND, repeats=1)              # keeps the validated device (accelsim.config.cache)
    (baseline, baseline_cpu), (run, run_cpu) = seconds(["-c", "pass"]), seconds(COMMAND)
    print(f"accelsim run resnet50 --device tpu_v4 --json: {run:.3f} s, "
          f"{run / baseline:.1f}x python -c pass ({baseline:.3f} s); CPU {run_cpu:.3f} s, "
          f"{run_cpu / baseline_cpu:.1f}x ({baseline_cpu:.3f} s); load average "
          f"{os.getloadavg()[0]:.1f}")
