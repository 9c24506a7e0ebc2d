"""Rich tables of results: rich on a terminal, plain ASCII when piped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from accelsim.result import Result
from accelsim.units import fmt, fmt_bytes


def console():
    """A rich console; plain (no colour, ASCII boxes) when stdout is not a terminal."""
    import sys

    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 250)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *, terminal: bool):
    """A rich Table: text columns left-aligned, numeric ones right-aligned."""
    from rich import box
    from rich.table import Table

    rows = [list(row) for row in rows]
    out = Table(title=title, box=box.SIMPLE_HEAVY if terminal else box.ASCII, show_lines=False)
    for i, name in enumerate(columns):
        numeric = i > 0 and all(_looks_numeric(row[i]) for row in rows)
        out.add_column(name, justify="right" if numeric else "left", no_wrap=i == 0)
    for row in rows:
        out.add_row(*row)
    return out


def _looks_numeric(cell: str) -> bool:
    """Whether a table cell shows a number (right-aligned) rather than text."""
    text = str(cell).lstrip("+-$x")
    return not text or text[0].isdigit()


def _seconds(value: float) -> str:
    """Seconds with an SI prefix."""
    return fmt(value, "s")


def layer_rows(result: Result, limit: int | None = None) -> list[list[str]]:
    """One row per layer: name, phase, kind, FLOPs, DRAM, latency, share, energy, bound, cycles."""
    total = result.totals["latency_s"] or 1.0
    rows = []
    for layer in result.layers[:limit]:
        rows.append([layer.name, layer.phase, layer.kind, fmt(layer.flops, "FLOP"),
                     fmt_bytes(layer.dram_bytes), _seconds(layer.latency_s),
                     f"{100 * layer.latency_s / total:.1f}%", fmt(layer.energy_j, "J"), layer.bound,
                     "" if layer.cycles is None else f"{layer.cycles:,}"])
    return rows


LAYER_COLUMNS = ("layer", "phase", "kind", "FLOPs", "DRAM", "latency", "share", "energy", "bound",
                 "cycles")
SUMMARY_COLUMNS = ("workload", "device", "mode", "prec", "batch", "latency", "throughput", "energy",
                   "power", "FLOPs", "DRAM", "peak mem")


def summary_row(result: Result) -> list[str]:
    """One line per run with the headline numbers."""
    t = result.totals
    return [result.workload, result.device, result.mode, result.precision, str(result.batch),
            _seconds(t["latency_s"]), f"{t['throughput']:,.1f}/s", fmt(t["energy_j"], "J"),
            fmt(t["average_power_w"], "W"), fmt(t["flops"], "FLOP"), fmt_bytes(t["dram_bytes"]),
            fmt_bytes(t["peak_memory_bytes"])]


def print_result(result: Result, *, limit: int | None = None) -> None:
    """Per-layer table then the totals line."""
    out = console()
    terminal = out.is_terminal
    title = f"{result.workload} on {result.device} ({result.mode}, {result.precision}, batch {result.batch})"
    out.print(table(title, LAYER_COLUMNS, layer_rows(result, limit), terminal=terminal))
    out.print(table("totals", SUMMARY_COLUMNS, [summary_row(result)], terminal=terminal))
    memory = ", ".join(f"{k} {fmt_bytes(v)}" for k, v in result.memory.items())
    out.print(f"memory: {memory}")
    extra = {k: v for k, v in result.totals.items() if k not in SUMMARY_TOTALS}
    if result.mode == "serve":
        print_totals("serving", extra)


SUMMARY_TOTALS = {"params", "flops", "macs", "dram_bytes", "latency_s", "energy_j",
                  "energy_breakdown_j", "peak_memory_bytes", "samples_per_step", "throughput",
                  "average_power_w", "fits_in_memory", "memory_note"}


def display(key: str, value) -> str:
    """A total's value in readable units, chosen by its key's name."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if key.endswith("_per_s"):
        return fmt(value, "FLOP/s") if "flops" in key else f"{value:,.4g}/s"
    if "flops" in key:
        return fmt(value, "FLOP")
    for suffix, show in (("_bytes", fmt_bytes), ("_s", _seconds), ("_j", lambda v: fmt(v, "J")),
                         ("_w", lambda v: fmt(v, "W"))):
        if key.endswith(suffix):
            return show(value)
    return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"


def flatten(totals: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Nested totals as (dotted key, value) pairs; a nested dict's key suffix applies to its values."""
    rows = []
    for key, value in totals.items():
        if isinstance(value, dict):
            suffix = key[key.rfind("_"):] if "_" in key else ""
            rows += [(f"{prefix}{key}.{k}", v, suffix) for k, v in value.items()]
        else:
            rows.append((f"{prefix}{key}", value, ""))
    return [(name, display(name + suffix, value)) for name, value, suffix in rows]


def print_totals(title: str, totals: dict) -> None:
    """A two-column table of totals (nested dicts flattened; notes are warned on stderr instead)."""
    out = console()
    shown = {key: value for key, value in totals.items() if key != "memory_note"}
    out.print(table(title, ("total", "value"), flatten(shown), terminal=out.is_terminal))


def print_summary(results: Sequence[Result], title: str) -> None:
    """One table with a row per run."""
    out = console()
    out.print(table(title, SUMMARY_COLUMNS, [summary_row(r) for r in results],
                    terminal=out.is_terminal))
