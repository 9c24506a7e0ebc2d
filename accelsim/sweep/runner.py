"""Evaluate a design space through accelsim.simulate: in process, on a process pool, or on Dask.

A record is {"id", "point", "search"[, "seed"], "precision", "stack", "area_mm2", "power_w", <every
numeric total of the Result>} or, for a point the simulator rejects, {"id", "point", "search",
"error"}; with constraints, also "feasible" and "violated". A mix's record holds the weighted sums
of latency_s and energy_j, fits_in_memory of all its workloads, and each one's under "mix".
Records come back in the space's point order.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, nullcontext

from accelsim.errors import AccelsimError, UsageError
from accelsim.sweep.constraints import flag, with_power
from accelsim.sweep.space import Space
from accelsim.sweep.store import ResultStore

BACKENDS = ("process", "dask")
MAX_WORKERS = 4 * (os.cpu_count() or 1)


def evaluate(space: Space, point: dict) -> dict:
    """The record of one point, flagged by the space's constraints."""
    from accelsim.api import load_device

    record = {"id": space.point_id(point), "point": point, **space.origin}
    args = space.run_args(point)
    try:
        device = load_device(args.pop("device"), args.pop("overrides"))
        if space.mix:
            metrics = mixed([(weight, _run(device, run)) for weight, run in
                             space.component_args(point)], space.mix)
        else:
            metrics = _run(device, args)
    except AccelsimError as exc:
        return {**record, "error": str(exc)}
    return flag(with_power({**record, **metrics}), space.constraints)


def _run(device, args: dict) -> dict:
    """The metrics of one simulation of `device` (keyword arguments of simulate; device ignored)."""
    from accelsim.api import simulate
    from accelsim.sweep.area import device_area_mm2

    args = {key: value for key, value in args.items() if key not in ("device", "overrides")}
    with warnings.catch_warnings():          # a point that does not fit says so in its record
        warnings.simplefilter("ignore")
        result = simulate(args.pop("workload"), device, **args)
    totals = {key: value for key, value in result.totals.items()
              if isinstance(value, (int, float, str)) and not isinstance(value, bool)}
    return {"precision": result.precision, "stack": result.stack,
            "area_mm2": device_area_mm2(device), "fits_in_memory": result.totals["fits_in_memory"],
            **totals}


MIXED = ("latency_s", "energy_j")          # the metrics a mix sums, weighted


def mixed(parts: list[tuple[float, dict]], mix: tuple) -> dict:
    """The metrics of a mix: weighted sums of MIXED, fits_in_memory of all, the design's area and
    precision, and each workload's metrics under "mix"."""
    first = parts[0][1]
    return {"precision": first["precision"], "stack": first["stack"],
            "area_mm2": first["area_mm2"],
            "fits_in_memory": all(metrics["fits_in_memory"] for _, metrics in parts),
            **{name: sum(weight * metrics[name] for weight, metrics in parts) for name in MIXED},
            "mix": [{"workload": workload, "weight": weight, "params": dict(params),
                     "fits_in_memory": metrics["fits_in_memory"],
                     **{name: metrics[name] for name in MIXED}}
                    for (workload, weight, params), (_, metrics) in zip(mix, parts)]}


def run_sweep(space: Space, *, workers: int = 1, backend: str = "process",
              store: ResultStore | None = None, resume: bool = False, scheduler: str | None = None,
              progress: Callable[[dict, int, int], None] | None = None) -> list[dict]:
    """Records of every point of `space`, evaluated by `workers` processes of `backend`.

    store: append each record as it finishes; resume: keep the store's records (without an error)
    if it holds this space's, and evaluate only the other points. scheduler: a Dask scheduler
    address (backend "dask"; a local cluster of `workers` processes otherwise). progress(record,
    done, total) is called after each point.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}",
                         key="backend")
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"expected 1 to {MAX_WORKERS} worker processes (4 per CPU), "
                         f"got {workers}", key="workers")
    points = space.points()
    ids = [space.point_id(point) for point in points]
    records = store.resume(space.header) if store is not None and resume else {}
    records = {key: flag(records[key], space.constraints) for key in ids if key in records}
    todo = [point for key, point in zip(ids, points) if key not in records]
    run = _dask if backend == "dask" else _processes
    writer = nullcontext(_ignore) if store is None else store.writer(space.header, append=resume)
    running = closing(run(space, todo, min(workers, max(len(todo), 1)), scheduler))
    with writer as write, running as finished:      # closed at once on an error or Ctrl-C
        for record in finished:
            write(record)
            records[record["id"]] = record
            if progress is not None:
                progress(record, len(records), len(ids))
    return [records[key] for key in ids]


def _ignore(record: dict) -> None:
    """The writer when there is no store."""


def _processes(space: Space, points: list[dict], workers: int, _scheduler) -> Iterable[dict]:
    """Records in point order: in this process for one worker, else on a process pool."""
    task = functools.partial(evaluate, space)
    if workers == 1 or len(points) < 2:
        yield from map(task, points)
        return
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, len(points) // (workers * 8))
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_start)
    try:
        yield from pool.map(task, points, chunksize=chunk)
    finally:
        pool.shutdown(cancel_futures=True)


def _worker_start() -> None:
    """Pool initializer: leave Ctrl-C to the parent, and end this worker when the parent dies."""
    import multiprocessing
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(multiprocessing.parent_process(),),
                     daemon=True).start()


def _exit_with(parent) -> None:
    """Block until `parent` (a process) has died, then end this one at once."""
    parent.join()
    os._exit(1)


def _dask(space: Space, points: list[dict], workers: int, scheduler: str | None) -> Iterator[dict]:
    """Records as they finish on a Dask cluster (at `scheduler`, or local with `workers`)."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise UsageError("the dask backend needs dask.distributed: "
                         "pip install 'accelsim[dask]'", key="backend") from None
    if not points:
        return
    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        futures = client.map(evaluate, [space] * len(points), points, pure=False)
        for future in as_completed(futures):
            yield future.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
