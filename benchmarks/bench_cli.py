"""Start-up speed of one single run: `accelsim run resnet50 --device tpu_v4 --json` (CLI subprocess
wall time, fastest of three) against `python -c pass` in the same way. The package's bytecode is
compiled first, as an installed package's is (PYTHONDONTWRITEBYTECODE would otherwise time the
compiler).

Run: python benchmarks/bench_cli.py.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["-m", "accelsim", "run", "resnet50", "--device", "tpu_v4", "--json"]


def wall_seconds(args: list[str], repeats: int = 3) -> float:
    """Fastest wall time of `repeats` fresh `python args` processes."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    compileall.compile_dir(ROOT / "accelsim", quiet=1)
    baseline = wall_seconds(["-c", "pass"])
    run = wall_seconds(COMMAND)
    print(f"accelsim run resnet50 --device tpu_v4 --json: {run:.3f} s, "
          f"{run / baseline:.1f}x python -c pass ({baseline:.3f} s)")
