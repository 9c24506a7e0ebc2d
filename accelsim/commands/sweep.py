"""`accelsim sweep SPACE.yaml`: evaluate a design space, store its records, print the Pareto front."""

from __future__ import annotations

import json
import os

import click

from accelsim.commands.common import WIDE

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
FRONT_ROWS = 40          # front points a table shows at most


@click.command(context_settings=CONTEXT)
@click.argument("space_file", metavar="SPACE.yaml", type=click.Path(dir_okay=False))
@click.option("--workers", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes.")
@click.option("--backend", type=click.Choice(["process", "dask"]), default="process",
              show_default=True, help="dask needs the `dask` extra.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler address (default: a local cluster of --workers processes).")
@click.option("--fast", is_flag=True,
              help="Every point in one vectorised call, by the device's kind (systolic, gpu, "
                   "fpga, npu, cpu); refuses keys the kind's fast path cannot vary.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Store every record in this JSONL file as it finishes.")
@click.option("--resume", is_flag=True, help="Keep the records already in --out; run the rest.")
@click.option("--pareto", "metrics", default=None, metavar="METRIC,METRIC",
              help="Metrics the front minimises ('-name' maximises); default: the space's.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Draw the points and the front (.png or .svg).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Write every record as a CSV row.")
@click.option("--json", "as_json", is_flag=True, help="Print the front as JSON.")
@click.option("--max-points", type=click.IntRange(min=1), default=None,
              help="Run a space of more points than the limit (100,000).")
@WIDE
def sweep(space_file, workers, backend, scheduler, fast, out_path, resume, metrics, plot_path,
          csv_path, as_json, max_points, wide):
    """Evaluate every point of a design space and report its Pareto front.

    \b
    Examples:
      accelsim sweep sweeps/systolic_array.yaml --workers 2 --out out/array.jsonl
      accelsim sweep sweeps/systolic_array.yaml --fast --pareto latency_s,area_mm2 --plot front.png
      accelsim sweep sweeps/systolic_array.yaml --out out/array.jsonl --resume
      accelsim sweep sweeps/gpu_sm_hbm_l2.yaml --fast --csv out/gpu.csv
    """
    from accelsim.errors import UsageError
    from accelsim.report.plots import check_path
    from accelsim.sweep.pareto import pareto_front, parse_metrics
    from accelsim.sweep.space import MAX_POINTS, load_space

    if resume and not out_path:
        raise click.BadParameter("needs --out, the store to resume from", param_hint="--resume")
    if plot_path:
        check_path(plot_path)
    _check_outputs(space_file, {"--out": out_path, "--plot": plot_path, "--csv": csv_path})
    space = load_space(space_file, max_points or MAX_POINTS)
    objectives = parse_metrics(metrics) if metrics else space.metrics
    if plot_path and len(objectives) < 2:
        raise click.BadParameter("the plot needs two metrics", param_hint="--pareto")
    records = _evaluate(space, objectives, fast=fast, workers=workers, backend=backend,
                        scheduler=scheduler, out_path=out_path, resume=resume)
    failed = [record for record in records if "error" in record]
    if len(failed) == len(records):
        raise UsageError(f"all {len(records)} points failed; the first: {failed[0]['error']}",
                         file=space_file)
    front = pareto_front(records, objectives)
    if plot_path:
        from accelsim.report.plots import pareto_figure

        pareto_figure(records, front, objectives, plot_path)
    if csv_path:
        from accelsim.report.export import flatten, write_rows

        write_rows([flatten(record) for record in records], csv_path)
    if as_json:
        click.echo(json.dumps({"space": space_file, "points": len(records), "failed": len(failed),
                               "infeasible": len(infeasible(records)), "metrics": list(objectives),
                               "front": front}, indent=2))
        return
    _print_front(space, records, failed, front, objectives, wide)


def _check_outputs(space_file: str, outputs: dict) -> None:
    """Refuse an output path (by option) that would overwrite the space file or another output, or
    whose folder cannot be created."""
    from pathlib import Path

    from accelsim.errors import UsageError

    taken = {Path(space_file).resolve(): "the space file"}
    for option, path in outputs.items():
        if path is None:
            continue
        target = Path(path).resolve()
        if target in taken:
            raise UsageError(f"would overwrite {taken[target]}", file=path, key=option)
        taken[target] = option
        folder = next(parent for parent in target.parents if parent.exists())
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise UsageError(f"cannot create it: {folder} is not a writable folder", file=path,
                             key=option)


def _evaluate(space, objectives, *, fast, workers, backend, scheduler, out_path,
              resume) -> list[dict]:
    """The space's records, by the fast path or the runner (with a progress bar on a terminal); a
    record without one of the objectives stops the runner."""
    from rich.console import Console
    from rich.progress import Progress

    from accelsim.sweep.pareto import check_metrics
    from accelsim.sweep.store import ResultStore

    store = ResultStore(out_path) if out_path else None
    if fast:
        from accelsim.sweep.fastpath import fast_records

        records = fast_records(space)
        if store is not None:
            with store.writer(space.header, append=False) as write:
                for record in records:
                    write(record)
        return records
    from accelsim.sweep.runner import run_sweep

    def advance(record: dict, done: int, total: int) -> None:
        check_metrics([record], objectives)
        progress.update(task, completed=done, total=total)

    with Progress(transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task("sweeping", total=None)
        return run_sweep(space, workers=workers, backend=backend, store=store, resume=resume,
                         scheduler=scheduler, progress=advance)


def infeasible(records) -> list[dict]:
    """The records of points that ran but do not fit the device's memory (kept off the front)."""
    return [record for record in records if record.get("fits_in_memory") is False]


def _print_front(space, records, failed, front, objectives, wide: bool) -> None:
    """A table of the front's points (swept values and metrics) and a summary line; swept values
    are hidden from the last while the table is wider than the terminal."""
    from accelsim.report.tables import console, show_rows

    out = console(wide)
    metrics = [metric.lstrip("-") for metric in objectives]
    shown = _spread(front, FRONT_ROWS)
    rows = [[str(record["point"][key]) for key in space.keys]
            + [_cell(name, record[name]) for name in metrics] for record in shown]
    show_rows(out, f"Pareto front over {', '.join(objectives)}", [*space.keys, *metrics], rows,
              drop=list(reversed(space.keys[1:])))
    if len(shown) < len(front):
        out.print(f"({len(shown)} of {len(front)} front points shown, evenly spread; --json and "
                  "--csv give all)")
    out.print(f"{len(records)} points, {len(failed)} failed, {len(infeasible(records))} do not fit "
              f"memory, {len(front)} on the front")
    if failed:
        out.print(f"first failure: {failed[0]['error']}")


def _spread(front: list, count: int) -> list:
    """At most `count` points of the front, evenly spaced along it, both ends included."""
    if len(front) <= count:
        return front
    return [front[round(i * (len(front) - 1) / (count - 1))] for i in range(count)]


def _cell(name: str, value) -> str:
    """A metric for display, with its unit read off its name."""
    from accelsim.units import fmt, fmt_bytes

    if name.endswith("_bytes"):
        return fmt_bytes(value)
    if name.endswith("_mm2"):
        return f"{value:.4g} mm²"
    for suffix, unit in (("_s", "s"), ("_j", "J"), ("_w", "W")):
        if name.endswith(suffix):
            return fmt(value, unit)
    return f"{value:.4g}" if isinstance(value, float) else f"{value:,}"
