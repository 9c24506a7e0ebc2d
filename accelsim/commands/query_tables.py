"""Tables for the query and validate commands (fitted to the terminal, plain when piped) and the
query progress bar."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from accelsim.queries.common import OnRun
from accelsim.report.tables import (SUMMARY_DROP, Column, column, console, show, show_rows,
                                   summary_columns)
from accelsim.units import fmt, fmt_bytes

METRIC_FORMAT = {   # whatif metric -> (label, formatter)
    "latency_s": ("latency", lambda v: fmt(v, "s")),
    "throughput": ("throughput", lambda v: f"{v:,.1f}/s"),
    "energy_j": ("energy", lambda v: fmt(v, "J")),
    "average_power_w": ("power", lambda v: fmt(v, "W")),
    "dram_bytes": ("DRAM traffic", fmt_bytes),
    "peak_memory_bytes": ("peak memory", fmt_bytes),
    "flops": ("FLOPs", lambda v: fmt(v, "FLOP")),
    "macs": ("MACs", lambda v: fmt(v, "MAC")),
    "params": ("params", lambda v: fmt(v, "")),
}


@contextmanager
def progress(total: int, description: str) -> Iterator[OnRun]:
    """A transient progress bar on a terminal's stderr, advanced by the yielded callback (None when
    stderr is not a terminal)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    err = Console(stderr=True)
    if not err.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda label: bar.update(task, advance=1, description=f"{description}: {label}")


def ratio(value: float | None) -> str:
    """A ratio as '1.23x' ('-' when undefined)."""
    return "-" if value is None else f"{value:.3g}x"


def print_comparison(comparison, *, wide: bool = False) -> None:
    """One row per run with its ratios to the group's first device."""
    ratios = [Column(f"x {label}", f"x {label}",
                     [ratio(row.ratios[key]).rstrip("x") for row in comparison.rows])
              for key, label in (("latency_s", "latency"), ("throughput", "thru"),
                                 ("energy_j", "energy"))]
    show(console(wide), "runs, and ratios (x) to the first device of the same workload, mode and "
         "batch", summary_columns([row.result for row in comparison.rows]) + ratios,
         (*SUMMARY_DROP, "x thru", "throughput"))


def print_whatif(answer, limit: int = 10, *, wide: bool = False) -> None:
    """Metric changes, the layers that changed bound and, for a student, the size deltas."""
    out = console(wide)
    base = answer.base
    title = (f"what-if {', '.join(answer.what)}: {base.workload} on {base.short_device} "
             f"({base.mode}, {base.precision} -> {answer.variant.precision}, batch {base.batch})")
    rows = []
    for change in answer.changes:
        label, show = METRIC_FORMAT[change.metric]
        sign = "+" if change.delta > 0 else ""
        rows.append([label, show(change.before), show(change.after), sign + show(change.delta),
                     ratio(change.ratio)])
    rows.append(["ops", str(len(base.layers)), str(len(answer.variant.layers)),
                 f"{len(answer.variant.layers) - len(base.layers):+d}", ""])
    show_rows(out, title, ("metric", "before", "after", "change", "ratio"), rows)
    if all(change.delta == 0 for change in answer.changes):
        out.print(f"nothing changed: {', '.join(answer.what)} does not touch what limits this run "
                  f"({bound_shares(base)} of its latency)")
    if answer.bound_changes:
        shown = answer.bound_changes[:limit]
        rows = [[b.layer, b.phase, b.before, b.after] for b in shown]
        more = len(answer.bound_changes) - len(shown)
        show_rows(out, f"layers that changed bound ({len(answer.bound_changes)}"
                  + (f", first {len(shown)}" if more else "") + ")",
                  ("layer", "phase", "before", "after"), rows)
    else:
        out.print("no layer changed bound")
    if answer.distillation:
        d = answer.distillation
        rows = [[key, *(f"{value:,}" for value in getattr(d, key)), ratio(d.ratio(key))]
                for key in ("params", "macs", "flops", "ops")]
        show_rows(out, f"distillation: {d.teacher} -> {d.student}",
                  ("", "teacher", "student", "ratio"), rows)


def bound_shares(result) -> str:
    """The share of a run's latency in ops of each bound, e.g. '98% compute-bound, 2% memory-bound'."""
    seconds: dict[str, float] = {}
    for layer in result.layers:
        seconds[layer.bound] = seconds.get(layer.bound, 0.0) + layer.latency_s
    total = sum(seconds.values()) or 1.0
    return ", ".join(f"{100 * s / total:.0f}% {bound}-bound"
                     for bound, s in sorted(seconds.items(), key=lambda item: -item[1]))


def print_realtime(answer, *, wide: bool = False) -> None:
    """One row per device against the frame rate, then the power formula."""
    from accelsim.queries.realtime import POWER_FORMULA

    out = console(wide)
    budgets = answer.budgets
    columns = [column("device", [b.device_id for b in budgets]),
               column("prec", [b.precision for b in budgets]),
               column("latency", [b.latency_s for b in budgets], "s"),
               column("deadline", [b.deadline_s for b in budgets], "s"),
               column("meets", ["yes" if b.meets else "NO" for b in budgets]),
               Column("headroom", "headroom (%)", [f"{100 * b.headroom:.1f}" for b in budgets]),
               Column("max fps", "max fps", [f"{b.max_fps:,.1f}" for b in budgets]),
               column("energy/frame", [b.energy_per_frame_j for b in budgets], "J"),
               column(f"power @ {answer.fps:g} fps", [b.average_power_w for b in budgets], "W")]
    title = f"{budgets[0].workload} at {answer.fps:g} fps (batch 1)"
    show(out, title, columns, ("prec", "deadline", "energy/frame"))
    out.print(POWER_FORMULA)
    if answer.frames is not None:
        print_frames(out, answer.frames, budgets[0].device_id)


def print_frames(out, run, device_id: str) -> None:
    """One row per model sharing the device and a total row, then how frames were scheduled."""
    from accelsim.engine.frame_stats import all_stats
    from accelsim.queries.realtime import OVERLOAD, PREEMPTION

    each, total = all_stats(run)
    rows = [*each, total]
    p50 = [s.latency_p50_s or 0.0 for s in rows]
    p99 = [s.latency_p99_s or 0.0 for s in rows]
    columns = [column("model", [s.name for s in rows]),
               column("frames", [f"{s.frames:,}" for s in rows]),
               column("missed", [f"{s.missed:,}" for s in rows]),
               column("dropped", [f"{s.dropped:,}" for s in rows]),
               Column("miss rate", "miss (%)", [f"{100 * s.deadline_miss_rate:.1f}" for s in rows]),
               column("p50", p50, "s"),
               column("p99", p99, "s"),
               Column("accel util", "accel util (%)",
                      [f"{100 * s.accelerator_utilization:.1f}" for s in rows]),
               Column("host util", "host util (%)", [f"{100 * s.host_utilization:.1f}" for s in rows]),
               column("power", [s.average_power_w for s in rows], "W")]
    jitter = f", jitter {run.jitter_s * 1e3:g} ms (seed {run.seed})" if run.jitter_s else ""
    title = (f"frames on {device_id} over {run.duration_s:g} s ({run.policy}{jitter})")
    show(out, title, columns, ("dropped", "host util"))
    out.print(f"{PREEMPTION}; {OVERLOAD}; deadline = "
              + (f"{run.deadline_s * 1e3:g} ms after arrival" if run.deadline_s else "the period")
              + f"; model power: its frames' dynamic energy / {run.span_s:.3g} s, total adds "
              f"{fmt(run.idle_power_w, 'W')} idle")


def _money(value: float | None) -> str:
    """USD with thousands separators, or a hint when no price is known."""
    if value is None:
        return "no price (give --price)"
    return f"${value:,.2f}" if value >= 1 else f"${value:.3g}"


def _price(cost) -> str:
    """The price per device-hour and where it came from."""
    if cost.price_per_hour is None:
        return _money(None)
    return f"{_money(cost.price_per_hour)} ({cost.price_source})"


def _kwh(value: float) -> str:
    """Kilowatt-hours, whole above 1000."""
    return f"{value:,.0f} kWh" if value >= 1000 else f"{value:.3g} kWh"


def _duration(seconds: float) -> str:
    """Seconds, or hours and days when long."""
    if seconds < 3600:
        return fmt(seconds, "s")
    return f"{seconds / 3600:,.1f} h ({seconds / 86400:,.2f} days)"


def print_training_cost(cost, *, wide: bool = False) -> None:
    """The training run's inputs and results as a two-column table."""
    rows = [["FLOPs", f"{cost.flops:.4g}"], ["devices", f"{cost.devices:,}"],
            ["peak per device", fmt(cost.peak_flops, "FLOP/s") + f" ({cost.precision})"],
            ["batch per device", f"{cost.batch:,} ({cost.batch_source}; --batch to change)"],
            ["MFU", f"{100 * cost.mfu:.1f}% ({cost.mfu_source})"],
            ["time = FLOPs / (devices x peak x MFU)", _duration(cost.time_s)],
            ["device-hours", f"{cost.device_hours:,.0f}"],
            ["power per device", fmt(cost.power_w, "W") + f" ({cost.power_source})"],
            ["energy = devices x power x time", _kwh(cost.energy_kwh)],
            ["price per device-hour", _price(cost)],
            ["cost = device-hours x price", _money(cost.cost_usd)]]
    show_rows(console(wide), f"training {cost.workload} on {cost.devices:,} x {cost.device}",
              ("", "value"), rows)


def print_serving_cost(cost, *, wide: bool = False) -> None:
    """Throughput and the cost of a million items as a two-column table."""
    rows = [["throughput", f"{cost.items_per_s:,.1f} {cost.item}/s ({cost.mode}, batch {cost.batch})"],
            ["power", fmt(cost.power_w, "W") + f" ({cost.power_source})"],
            [f"energy per {cost.item[:-1]}", fmt(cost.energy_per_item_j, "J")],
            ["device time per million", _duration(cost.seconds_per_million)],
            ["energy per million", _kwh(cost.kwh_per_million)],
            ["price per device-hour", _price(cost)],
            ["cost per million", _money(cost.usd_per_million)]]
    show_rows(console(wide), f"serving {cost.workload} on {cost.device}", ("", "value"), rows)


def print_validation(report, *, wide: bool = False) -> None:
    """A table of rows (measured, predicted, signed error, status), the notes, and the summaries."""
    out = console(wide)
    rows = [[r.id, r.metric, f"{r.measured:g} {r.unit.split()[0]}",
             "" if r.predicted is None else f"{r.predicted_in_unit:.4g}",
             "" if r.error_pct is None else f"{r.error_pct:+.1f}%", r.status, r.stack]
            for r in report.rows]
    columns = ("id", "metric", "measured", "predicted", "error", "status", "stack")
    show_rows(out, f"validation against {report.csv_path}", columns, rows)
    out.print("each prediction is totals.KEY of the row's command with --json:")
    for r in report.rows:
        if r.command:
            out.print(f"{r.id}: {r.command}  [{r.key}]", soft_wrap=wide, highlight=False,
                      markup=False)
        if r.note:
            out.print(f"{r.id}: {r.note}")
    kinds = sorted({r.kind for r in report.rows if r.status == "validated"})
    for label, s in [("all", report.summary())] + [(k, report.summary(kind=k)) for k in kinds]:
        if s.rows:
            out.print(f"{label}: {s.rows} validated rows, median |error| "
                      f"{s.median_abs_error_pct:.1f}%, worst {s.worst_abs_error_pct:.1f}% "
                      f"({s.worst_id})")
