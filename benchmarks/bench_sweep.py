"""Design-space sweep speed per device kind: each kind's fast path against the general path.

Run: python benchmarks/bench_sweep.py. For every kind, ResNet-50 inference (the SCALE-Sim CSV on
the systolic array, the zoo model elsewhere) on one bundled device, and prints design points per
second of:
- general: accelsim.sweep.run_sweep over a small grid, one accelsim.simulate per point, 1 process
  (the systolic kind also on a pool);
- fast: the kind's fast path (accelsim.sweep.fast_<kind>) on 20,000 random points in one call, one
  process (warm: best of a few runs), so its points/s are per core;
and the fast path's speed as a multiple of the general path's, both measured in this process, and
its points per CPU-second of this process (what other processes' load on a shared machine barely
changes).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from accelsim.sweep import fast_systolic, run_sweep
from accelsim.sweep.fast_cpu import fast_cpu
from accelsim.sweep.fast_fpga import fast_fpga
from accelsim.sweep.fast_gpu import fast_gpu
from accelsim.sweep.fast_npu import fast_npu
from accelsim.sweep.runner import evaluate
from accelsim.sweep.space import Space
from _timing import best_of

RESNET50_CSV = str(Path(__file__).resolve().parents[1] / "accelsim" / "workloads" / "scalesim"
                   / "Resnet50.csv")
FAST_POINTS = 20_000


def _choice(rng, values, count: int) -> np.ndarray:
    """`count` draws from `values`."""
    return rng.choice(np.asarray(values, dtype=np.float64), count)


def designs(kind: str, count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`count` random design points of a kind, as fast-path arguments."""
    rng = np.random.default_rng(seed)
    if kind == "systolic":     # rows, cols 8..256, SRAMs of 16 KiB..1 MiB, 5..80 GB/s
        return {"rows": rng.integers(8, 257, count), "cols": rng.integers(8, 257, count),
                "ifmap_sram": 2.0 ** rng.integers(14, 21, count),
                "filter_sram": 2.0 ** rng.integers(14, 21, count),
                "bandwidth": _choice(rng, [5e9, 10e9, 20e9, 40e9, 80e9], count)}
    if kind == "gpu":          # 16..208 SMs, 0.5..8 TB/s, 2..128 MiB of L2
        return {"sms": rng.integers(16, 209, count), "bandwidth": rng.uniform(0.5e12, 8e12, count),
                "l2_size": 2.0 ** rng.integers(21, 28, count)}
    if kind == "fpga":         # 1..4 DPU cores, 200..350 MHz, 1..8 MiB of BRAM, 5..40 GB/s DDR
        return {"cores": rng.integers(1, 5, count), "clock": rng.uniform(200e6, 350e6, count),
                "bram": 2.0 ** rng.integers(20, 24, count),
                "bandwidth": rng.uniform(5e9, 40e9, count)}
    if kind == "npu":          # 0.5..16 MiB of SRAM, 0.5..1 GHz, 2..32 GB/s
        return {"sram": 2.0 ** rng.integers(19, 25, count), "clock": rng.uniform(0.5e9, 1e9, count),
                "bandwidth": rng.uniform(2e9, 32e9, count)}
    return {"cores": rng.integers(8, 129, count), "bandwidth": rng.uniform(100e9, 1e12, count),
            "llc": 2.0 ** rng.integers(24, 29, count)}     # cpu: 8..128 cores, 16..256 MiB LLC


# kind -> (device, fixed overrides, workload, fast path, general grid)
KINDS = {
    "systolic": ("scalesim_32x32", ("array.dataflow=ws",), RESNET50_CSV, fast_systolic, (
        ("array.rows", (8, 32, 128, 256)), ("array.cols", (8, 32, 128, 256)),
        ("sram.ifmap", ("16 KiB", "128 KiB", "1 MiB")), ("memory.bandwidth", (10e9, 20e9, 40e9)))),
    "gpu": ("h100", (), "resnet50", fast_gpu, (
        ("sms", (66, 132)), ("memory.bandwidth", (1e12, 3.35e12)),
        ("l2.size", ("8 MiB", "50 MiB")))),
    "fpga": ("zcu102_dpu", (), "resnet50", fast_fpga, (
        ("dpu.cores", (1, 3)), ("bram", ("1 MiB", "2 MiB")), ("memory.bandwidth", (10e9, 20e9)))),
    "npu": ("coral_edgetpu", (), "resnet50", fast_npu, (
        ("sram", ("2 MiB", "8 MiB")), ("memory.bandwidth", (4e9, 8e9)), ("clock", (5e8, 1e9)))),
    "cpu": ("xeon_8480", (), "resnet50", fast_cpu, (
        ("cores", (28, 56)), ("memory.bandwidth", (150e9, 300e9)),
        ("cache.llc", ("64 MiB", "105 MiB")))),
}


def general_rate(kind: str, workers: int = 1) -> float:
    """Points per second of run_sweep over the kind's small grid."""
    device, fixed, workload, _fast, grid = KINDS[kind]
    space = Space(workload=workload, device=device, fixed=fixed, parameters=grid)
    evaluate(space, space.points()[0])                                # warm-up
    start = time.perf_counter()
    records = run_sweep(space, workers=workers)
    elapsed = time.perf_counter() - start
    assert not any("error" in record for record in records)
    return len(records) / elapsed


def fast_rate(kind: str, clock=time.perf_counter) -> float:
    """Points per second (of `clock`) of the kind's fast path on FAST_POINTS random points."""
    device, fixed, workload, fast, _grid = KINDS[kind]
    points = designs(kind, FAST_POINTS)
    def run():
        return fast(workload, device=device, overrides=fixed, **points)

    return FAST_POINTS / best_of(run, 3, clock)


def main() -> None:
    """Print points/s of both paths per kind and their ratio (fast: also per CPU-second)."""
    print(f"ResNet-50 inference; fast path on {FAST_POINTS:,} random points, 1 process")
    print(f"  {'kind':9}{'device':16}{'general/s':>11}{'fast/s':>11}{'fast/general':>14}"
          f"{'fast/CPU-s':>12}")
    for kind, (device, *_rest) in KINDS.items():
        general, fast = general_rate(kind), fast_rate(kind)
        per_cpu = fast_rate(kind, time.process_time)
        print(f"  {kind:9}{device:16}{general:11,.0f}{fast:11,.0f}{fast / general:13,.0f}x"
              f"{per_cpu:12,.0f}")
    workers = min(4, os.cpu_count() or 1)
    if workers > 1:
        pooled = general_rate("systolic", workers)
        print(f"  systolic general path, {workers} processes: {pooled:,.0f} points/s")


if __name__ == "__main__":
    main()
