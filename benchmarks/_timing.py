"""Shared timing helper for the benchmark scripts."""

import resource
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


def children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
