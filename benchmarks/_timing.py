"""Shared timing helper for the benchmark scripts."""

import time


def best_of(run, repeats: int = 20) -> float:
    """Fastest wall time of `repeats` calls (after one warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)
