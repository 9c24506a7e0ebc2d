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
@click.option("--search", type=click.Choice(["grid", "random", "lhs", "optuna"]), default=None,
              help="How points are picked (default: the space's; optuna needs the `optuna` extra).")
@click.option("--sample", type=click.IntRange(min=1), default=None, metavar="N",
              help="Points that random/lhs draw (trials of optuna).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed of the search.")
@click.option("--constraint", "constraints", multiple=True, metavar="TEXT",
              help='Keep points off the front unless TEXT holds, e.g. "area_mm2 <= 800", '
                   '"power_w < 700 W", fits_in_memory (repeatable; added to the space\'s).')
@click.option("--reference", default=None, metavar="VALUE,VALUE",
              help="Hypervolume reference point, a value per metric (default: the worst of each).")
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
def sweep(space_file, workers, backend, scheduler, search, sample, seed, constraints, reference,
          fast, out_path, resume, metrics, plot_path, csv_path, as_json, max_points, wide):
    """Evaluate every point of a design space and report its Pareto front.

    \b
    Examples:
      accelsim sweep sweeps/systolic_array.yaml --workers 2 --out out/array.jsonl
      accelsim sweep sweeps/systolic_array.yaml --fast --pareto latency_s,area_mm2 --plot front.png
      accelsim sweep sweeps/systolic_array.yaml --out out/array.jsonl --resume
      accelsim sweep sweeps/systolic_array.yaml --fast --search lhs --sample 200 --seed 1
      accelsim sweep sweeps/systolic_array.yaml --fast --constraint "area_mm2 <= 20"
      accelsim sweep sweeps/gpu_sm_hbm_l2_20k.yaml --fast --csv out/gpu.csv
    """
    from accelsim.errors import UsageError
    from accelsim.report.plots import check_path
    from accelsim.sweep.pareto import front_summary, parse_metrics
    from accelsim.sweep.space import MAX_POINTS, load_space

    if resume and not out_path:
        raise click.BadParameter("needs --out, the store to resume from", param_hint="--resume")
    if plot_path:
        check_path(plot_path)
    _check_outputs(space_file, {"--out": out_path, "--plot": plot_path, "--csv": csv_path})
    space = load_space(space_file, max_points or MAX_POINTS, search=search, sample=sample,
                       seed=seed, constraints=constraints)
    objectives = parse_metrics(metrics) if metrics else space.metrics
    if plot_path and len(objectives) < 2:
        raise click.BadParameter("the plot needs two metrics", param_hint="--pareto")
    ref = _reference(reference, objectives)
    records = _evaluate(space, objectives, fast=fast, workers=workers, backend=backend,
                        scheduler=scheduler, out_path=out_path, resume=resume)
    failed = [record for record in records if "error" in record]
    if len(failed) == len(records):
        raise UsageError(f"all {len(records)} points failed; the first: {failed[0]['error']}",
                         file=space_file)
    summary = front_summary(records, objectives, ref)
    front = summary["front"]
    if plot_path:
        from accelsim.report.plots import pareto_figure

        pareto_figure(records, front, objectives, plot_path)
    if csv_path:
        from accelsim.report.export import flatten, write_rows

        write_rows([flatten(record) for record in records], csv_path)
    if as_json:
        click.echo(json.dumps({"space": space_file, "points": len(records), "failed": len(failed),
                               "infeasible": len(infeasible(records)),
                               "violating": len(violating(records)), **space.origin,
                               "constraints": [item.text for item in space.constraints],
                               "metrics": list(objectives), "hypervolume": summary["hypervolume"],
                               "hypervolume_reference": summary["reference"],
                               "hypervolume_ratio": summary["ratio"], "front": front}, indent=2))
        return
    _print_front(space, records, failed, summary, objectives, wide)


def _reference(text: str | None, objectives) -> list[float] | None:
    """The --reference values (unit strings of each metric's family allowed), one per metric."""
    from accelsim.errors import UsageError
    from accelsim.sweep.constraints import parse_constraint

    if text is None:
        return None
    values = text.split(",")
    if len(values) != len(objectives):
        raise UsageError(f"expected {len(objectives)} values, one per metric of the front "
                         f"({', '.join(objectives)}), got {len(values)}", key="--reference")
    return [parse_constraint(f"{metric.lstrip('-')} <= {value}", key="--reference").bound
            for metric, value in zip(objectives, values)]


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

    from accelsim.errors import UsageError
    from accelsim.sweep.pareto import check_metrics
    from accelsim.sweep.store import ResultStore

    store = ResultStore(out_path) if out_path else None
    if fast:
        from accelsim.sweep.constraints import flag, with_power
        from accelsim.sweep.fastpath import fast_records

        if space.mix or space.search == "optuna":
            raise UsageError("the fast path runs one workload on points it is given; drop --fast "
                             "for a mix or search: optuna", key="fast")
        records = [flag(with_power({**record, **space.origin}), space.constraints)
                   for record in fast_records(space)]
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
        if space.search == "optuna":
            if resume:
                raise UsageError("an optuna search starts afresh; drop --resume", key="resume")
            return _guided(space, objectives, store, advance)
        return run_sweep(space, workers=workers, backend=backend, store=store, resume=resume,
                         scheduler=scheduler, progress=advance)


def _guided(space, objectives, store, advance) -> list[dict]:
    """The records of an optuna search, each written to `store` (if any) as it finishes."""
    from contextlib import nullcontext

    from accelsim.sweep.guided import run_guided

    writer = nullcontext(lambda record: None) if store is None else \
        store.writer(space.header, append=False)
    with writer as write:
        return run_guided(space, objectives, write, advance)


def infeasible(records) -> list[dict]:
    """The records of points that ran but do not fit the device's memory (kept off the front)."""
    return [record for record in records if record.get("fits_in_memory") is False]


def violating(records) -> list[dict]:
    """The records of points that break a constraint (kept off the front)."""
    return [record for record in records if record.get("feasible") is False]


def _print_front(space, records, failed, summary, objectives, wide: bool) -> None:
    """A table of the front's points (swept values and metrics) and a summary line; swept values
    are hidden from the last while the table is wider than the terminal."""
    from accelsim.report.tables import console, show_rows

    out = console(wide)
    front = summary["front"]
    metrics = [metric.lstrip("-") for metric in objectives]
    shown = _spread(front, FRONT_ROWS)
    rows = [[_swept(record["point"][key]) for key in space.keys]
            + [_cell(name, record[name]) for name in metrics] for record in shown]
    show_rows(out, f"Pareto front over {', '.join(objectives)}", [*space.keys, *metrics], rows,
              drop=list(reversed(space.keys[1:])))
    if len(shown) < len(front):
        out.print(f"({len(shown)} of {len(front)} front points shown, evenly spread; --json and "
                  "--csv give all)")
    broken = f", {len(violating(records))} break a constraint" if space.constraints else ""
    out.print(f"{len(records)} points, {len(failed)} failed, "
              f"{len(infeasible(records))} do not fit memory{broken}, {len(front)} on the front")
    reference = ", ".join(_cell(name, value) for name, value in zip(metrics, summary["reference"]))
    out.print(f"{_search(space)}; hypervolume {summary['hypervolume']:.4g}, {summary['ratio']:.1%} "
              f"of the box from the best values to {reference}")
    if failed:
        out.print(f"first failure: {failed[0]['error']}")


def _spread(front: list, count: int) -> list:
    """At most `count` points of the front, evenly spaced along it, both ends included."""
    if len(front) <= count:
        return front
    return [front[round(i * (len(front) - 1) / (count - 1))] for i in range(count)]


def _search(space) -> str:
    """How the summary names the search: "grid search" or e.g. "lhs search, seed 0"."""
    return "grid search" if space.search == "grid" else f"{space.search} search, seed {space.seed}"


def _swept(value) -> str:
    """A swept value for display (a drawn float to 4 significant digits)."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


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
