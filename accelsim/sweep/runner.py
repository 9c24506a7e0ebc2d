"""Evaluate a design space through accelsim.simulate: in process, on a process pool, or on Dask.

A record is {"id", "point", "precision", "area_mm2", <every numeric total of the Result>} or, for a
point the simulator rejects, {"id", "point", "error"}. Records come back in the space's point order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext

from accelsim.errors import AccelsimError, UsageError
from accelsim.sweep.space import Space
from accelsim.sweep.store import ResultStore

BACKENDS = ("process", "dask")


def evaluate(space: Space, point: dict) -> dict:
    """The record of one point."""
    from accelsim.api import load_device, simulate
    from accelsim.sweep.area import device_area_mm2

    record = {"id": space.point_id(point), "point": point}
    args = space.run_args(point)
    try:
        device = load_device(args.pop("device"), args.pop("overrides"))
        result = simulate(args.pop("workload"), device, **args)
    except AccelsimError as exc:
        return {**record, "error": str(exc)}
    totals = {key: value for key, value in result.totals.items()
              if isinstance(value, (int, float)) and not isinstance(value, bool)}
    return {**record, "precision": result.precision, "area_mm2": device_area_mm2(device), **totals}


def run_sweep(space: Space, *, workers: int = 1, backend: str = "process",
              store: ResultStore | None = None, resume: bool = False, scheduler: str | None = None,
              progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Records of every point of `space`, evaluated by `workers` processes of `backend`.

    store: append each record as it finishes; resume: keep the store's records (without an error)
    and evaluate only the other points. scheduler: a Dask scheduler address (backend "dask"; a local
    cluster of `workers` processes otherwise). progress(done, total) is called after each point.
    """
    if backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}",
                         key="backend")
    if workers < 1:
        raise UsageError(f"workers must be >= 1, got {workers}", key="workers")
    points = space.points()
    ids = [space.point_id(point) for point in points]
    records = store.done() if store is not None and resume else {}
    records = {key: records[key] for key in ids if key in records}
    todo = [point for key, point in zip(ids, points) if key not in records]
    run = _dask if backend == "dask" else _processes
    with store.writer(resume=resume) if store is not None else nullcontext(_ignore) as write:
        for record in run(space, todo, workers, scheduler):
            write(record)
            records[record["id"]] = record
            if progress is not None:
                progress(len(records), len(ids))
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
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(task, points, chunksize=chunk)


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
