"""Design-space sweep speed: the vectorised systolic fast path against the general path.

Run: python benchmarks/bench_sweep.py. Sweeps array rows x cols x SRAM x bandwidth of scalesim_32x32
(ws) on the SCALE-Sim ResNet-50 topology and prints design points per second of:
- general: accelsim.sweep.run_sweep, one accelsim.simulate per point (1 process, then a pool);
- fast: accelsim.sweep.fast_systolic, all points in one call (warm: best of a few runs);
and the fast path's speed as a multiple of the one-process general path, measured in this process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from accelsim.sweep import fast_systolic, run_sweep
from accelsim.sweep.runner import evaluate
from accelsim.sweep.space import Space
from _timing import best_of

RESNET50 = str(Path(__file__).resolve().parents[1] / "accelsim" / "workloads" / "scalesim" / "Resnet50.csv")
DEVICE = "scalesim_32x32"
FIXED = ("array.dataflow=ws",)
FAST_POINTS = 20_000


def random_designs(count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`count` random points: rows, cols in 8..256, SRAMs of 16 KiB..1 MiB, 5..80 GB/s."""
    rng = np.random.default_rng(seed)
    return {"rows": rng.integers(8, 257, count), "cols": rng.integers(8, 257, count),
            "ifmap_sram": 2.0 ** rng.integers(14, 21, count),
            "filter_sram": 2.0 ** rng.integers(14, 21, count),
            "bandwidth": rng.choice([5e9, 10e9, 20e9, 40e9, 80e9], count)}


def general_rate(workers: int) -> float:
    """Points per second of run_sweep over a 4 x 4 x 3 x 3 grid (144 points)."""
    space = Space(workload=RESNET50, device=DEVICE, fixed=FIXED, parameters=(
        ("array.rows", (8, 32, 128, 256)), ("array.cols", (8, 32, 128, 256)),
        ("sram.ifmap", ("16 KiB", "128 KiB", "1 MiB")), ("memory.bandwidth", (10e9, 20e9, 40e9))))
    evaluate(space, space.points()[0])                                # warm-up
    start = time.perf_counter()
    records = run_sweep(space, workers=workers)
    elapsed = time.perf_counter() - start
    assert not any("error" in record for record in records)
    return len(records) / elapsed


def main() -> None:
    """Print points/s of both paths and their ratio."""
    designs = random_designs(FAST_POINTS)
    fast_s = best_of(lambda: fast_systolic(RESNET50, device=DEVICE, overrides=FIXED, **designs), 3)
    fast = FAST_POINTS / fast_s
    general = general_rate(1)
    workers = min(4, os.cpu_count() or 1)
    pooled = general_rate(workers) if workers > 1 else general
    print(f"ResNet-50 (SCALE-Sim CSV) on {DEVICE}, ws; rows, cols, SRAMs and bandwidth swept")
    print(f"  general path, 1 process:  {general:12,.0f} points/s")
    print(f"  general path, {workers} processes: {pooled:11,.0f} points/s")
    print(f"  fast path ({FAST_POINTS:,} points): {fast:10,.0f} points/s "
          f"(x{fast / general:,.0f} the 1-process general path)")


if __name__ == "__main__":
    main()
