"""Shared timing helper for the benchmark scripts."""

import time


def best_of(run, repeats: int = 20, clock=time.perf_counter) -> float:
    """Fastest time of `repeats` calls (after one warm-up call): wall time, or by `clock` (e.g.
    time.process_time: this process's CPU time, which other processes' load barely changes)."""
    run()
    times = []
    for _ in range(repeats):
        start = clock()
        run()
        times.append(clock() - start)
    return min(times)
