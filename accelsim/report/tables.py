"""Rich tables of results that fit the terminal: rich on a terminal, plain ASCII when piped.

Numeric columns carry their unit in the header ("latency (ms)"); a table wider than the console
hides its low-priority columns (and says which) unless the console is wide (--wide).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from accelsim.result import Result
from accelsim.units import fmt, fmt_bytes

WIDE = 1000        # console width under --wide: no table is cut
DECIMAL = ((1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""),
           (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p"))
BINARY = ((2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"), (2.0**10, "Ki"), (1.0, ""))


def console(wide: bool = False):
    """A rich console as wide as the terminal (COLUMNS, else 80, when piped); `wide`: unlimited."""
    from rich.console import Console

    return Console(highlight=False, width=WIDE if wide else None)


class Column(NamedTuple):
    """A table column: its name (for hiding), header and cells."""

    name: str
    header: str
    cells: list[str]


def number(value: float) -> str:
    """A plain number: whole with separators from 100 up, else 3 significant digits."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def column(name: str, values: Sequence, unit: str | None = None, prefixes=DECIMAL) -> Column:
    """A column of text (unit None) or of numbers in one prefix of `unit`, named in the header."""
    if unit is None:
        return Column(name, name, [str(value) for value in values])
    magnitudes = [abs(value) for value in values if value]
    middle = math.exp(statistics.fmean(map(math.log, magnitudes))) if magnitudes else 1.0
    scale, prefix = next(((s, p) for s, p in prefixes if middle >= s * 0.9995), prefixes[-1])
    suffix = f"{prefix}{unit}"
    return Column(name, f"{name} ({suffix})" if suffix else name,
                  [number(value / scale) for value in values])


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[str]], *, terminal: bool,
          widths: Sequence[int] | None = None):
    """A rich Table: the first column never wraps, numeric ones are right-aligned; `widths` fixes
    the column widths (headers wrap at spaces)."""
    from rich import box
    from rich.table import Table

    rows = [list(row) for row in rows]
    out = Table(title=title, box=box.SIMPLE_HEAVY if terminal else box.ASCII, show_lines=False)
    for i, name in enumerate(columns):
        numeric = i > 0 and all(_looks_numeric(row[i]) for row in rows)
        out.add_column(name, justify="right" if numeric else "left", no_wrap=i == 0,
                       width=widths[i] if widths else None)
    for row in rows:
        out.add_row(*row)
    return out


def _widths(columns: Sequence[Column], tight: bool) -> list[int]:
    """Each column's width: its widest cell and its header (only the header's longest word if
    `tight`)."""
    def header(text):
        return max(map(len, text.split()), default=0) if tight else len(text)

    return [max([header(c.header), *map(len, c.cells)]) for c in columns]


def show(out, title: str, columns: Sequence[Column], drop: Sequence[str] = ()) -> None:
    """Print the columns as a table, hiding the `drop` columns in order while it is too wide (no
    cell is ever cut; headers wrap first)."""
    hidden: list[str] = []
    while True:
        kept = [c for c in columns if c.name not in hidden]
        widths = next((w for w in (_widths(kept, False), _widths(kept, True))
                       if sum(w) + 3 * len(w) + 1 <= out.width), None)
        if widths or len(hidden) == len(drop):
            break
        hidden.append(drop[len(hidden)])
    out.print(table(title, [c.header for c in kept], zip(*(c.cells for c in kept)),
                    terminal=out.is_terminal, widths=widths))
    if hidden:
        out.print(f"(hidden: {', '.join(hidden)}; --wide shows all)")


def show_rows(out, title: str, names: Sequence[str], rows: Sequence[Sequence[str]],
              drop: Sequence[str] = ()) -> None:
    """show() for text rows under plain column names."""
    cells = list(zip(*rows)) if rows else [()] * len(names)
    show(out, title, [Column(name, name, list(c)) for name, c in zip(names, cells)], drop)


def _looks_numeric(cell: str) -> bool:
    """Whether a table cell shows a number (right-aligned) rather than text."""
    text = str(cell).lstrip("+-$x")
    return not text or text[0].isdigit()


def costliest(result: Result, limit: int | None) -> list:
    """Every layer in trace order, or the `limit` costliest, costliest first."""
    if limit is None:
        return list(result.layers)
    return sorted(result.layers, key=lambda layer: -layer.latency_s)[:limit]


def layer_columns(result: Result, limit: int | None = None) -> list[Column]:
    """Per-layer columns: name, phase, kind, FLOPs, DRAM, latency, share, energy, bound, cycles."""
    layers = costliest(result, limit)
    step = {}            # latency of each phase's step: a serve run lists prefill and one decode step
    for layer in result.layers:
        step[layer.phase] = step.get(layer.phase, 0.0) + layer.latency_s
    total = result.totals["latency_s"] if result.mode != "serve" else None
    values = {key: [getattr(layer, key) for layer in layers]
              for key in ("name", "phase", "kind", "flops", "dram_bytes", "latency_s", "energy_j",
                          "bound")}
    return [column("layer", values["name"]), column("phase", values["phase"]),
            column("kind", values["kind"]), column("FLOPs", values["flops"], "FLOP"),
            column("DRAM", values["dram_bytes"], "B", BINARY),
            column("latency", values["latency_s"], "s"),
            Column("share", "share (%)", [f"{100 * layer.latency_s / (total or step[layer.phase] or 1):.3g}"
                                          for layer in layers]),
            column("energy", values["energy_j"], "J"), column("bound", values["bound"]),
            column("cycles", ["" if layer.cycles is None else f"{layer.cycles:,}"
                              for layer in layers])]


LAYER_DROP = ("cycles", "kind", "phase", "energy", "DRAM", "FLOPs")


def summary_columns(results: Sequence[Result]) -> list[Column]:
    """One row per run: workload, device, mode, precision, batch and the headline totals."""
    def total(key):
        return [r.totals[key] for r in results]

    return [column("workload", [r.workload for r in results]),
            column("device", [r.short_device for r in results]),
            column("mode", [r.mode for r in results]), column("prec", [r.precision for r in results]),
            column("batch", [r.batch for r in results]), column("latency", total("latency_s"), "s"),
            column("throughput", total("throughput"), "/s", ((1.0, ""),)),
            column("energy", total("energy_j"), "J"), column("power", total("average_power_w"), "W"),
            column("FLOPs", total("flops"), "FLOP"), column("DRAM", total("dram_bytes"), "B", BINARY),
            column("peak mem", total("peak_memory_bytes"), "B", BINARY)]


SUMMARY_DROP = ("DRAM", "FLOPs", "peak mem", "power", "prec", "batch")


def _title(result: Result) -> str:
    """One line naming a run."""
    return (f"{result.workload} on {result.short_device} "
            f"({result.mode}, {result.precision}, batch {result.batch})")


def print_result(result: Result, *, limit: int | None = None, wide: bool = False) -> None:
    """A serve run's summary, or a run's layers (all, or the `limit` costliest) then its totals."""
    out = console(wide)
    if result.mode == "serve":
        print_serving(result, out)
        if limit:
            show(out, f"{limit} costliest ops (prefill, and one decode step)",
                 layer_columns(result, limit), [c for c in LAYER_DROP if c != "phase"])
        return
    title = f"{_title(result)}: " + (f"{limit} costliest layers" if limit else "layers")
    show(out, title, layer_columns(result, limit), LAYER_DROP)
    _pairs(out, "totals", flatten(_shown(result.totals)))
    out.print("memory: " + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in result.memory.items()))


SERVING = (("ttft_s", "time to first token (TTFT)"), ("tpot_s", "time per output token (TPOT)"),
           ("tokens_per_s", "generated tokens/s (whole request)"),
           ("decode_tokens_per_s", "decode tokens/s"), ("prefill_tokens_per_s", "prefill tokens/s"),
           ("latency_s", "request latency"), ("ttft_s_lo", "TTFT interval low"),
           ("ttft_s_hi", "TTFT interval high"), ("tpot_s_lo", "TPOT interval low"),
           ("tpot_s_hi", "TPOT interval high"), ("latency_s_lo", "latency interval low"),
           ("latency_s_hi", "latency interval high"), ("interval", "interval"),
           ("kv_cache_bytes", "KV cache"),
           ("peak_memory_bytes", "peak memory"), ("fits_in_memory", "fits in memory"),
           ("energy_per_token_j", "energy per generated token"), ("energy_j", "energy"),
           ("average_power_w", "average power"))


def print_serving(result: Result, out) -> None:
    """The serving summary: latency to first and per token, token rates, memory and energy."""
    t = result.totals
    out.print(f"serving {result.workload} on {result.short_device} ({result.precision}): "
              f"{result.batch} x ({t['prompt_tokens']} prompt + {t['generated_tokens']} generated "
              "tokens)")
    _pairs(out, "summary", [(label, display(key, t[key])) for key, label in SERVING if key in t])
    out.print("memory: " + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in result.memory.items() if v))
    out.print("share (%): of the op's prefill or decode step; per-op detail: --layers N")


def _shown(totals: dict) -> dict:
    """Totals without their notes (warned on stderr instead)."""
    return {key: value for key, value in totals.items() if key != "memory_note"}


def _pairs(out, title: str, pairs: Sequence[tuple[str, str]]) -> None:
    """A two-column (name, value) table."""
    show_rows(out, title, ("total", "value"), pairs)


def display(key: str, value) -> str:
    """A total's value in readable units, chosen by its key's name."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    key = key.removesuffix("_lo").removesuffix("_hi")     # an interval's bound: its total's unit
    if key.endswith("_per_s") or key == "throughput":
        return fmt(value, "FLOP/s") if "flops" in key else f"{number(value)}/s"
    if "flops" in key:
        return fmt(value, "FLOP")
    for suffix, unit in (("_s", "s"), ("_j", "J"), ("_w", "W")):
        if key.endswith(suffix):
            return fmt(value, unit)
    if key.endswith("_bytes"):
        return fmt_bytes(value)
    return f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"


def flatten(totals: dict, prefix: str = "") -> list[tuple[str, str]]:
    """Nested totals as (dotted key, value) pairs; a nested dict's key suffix applies to its values."""
    rows = []
    for key, value in totals.items():
        if isinstance(value, dict):
            suffix = key[key.rfind("_"):] if "_" in key else ""
            rows += [(f"{prefix}{key}.{k}", v, suffix) for k, v in value.items()]
        else:
            rows.append((f"{prefix}{key}", value, ""))
    return [(name, display(name + suffix, value)) for name, value, suffix in rows]


def print_totals(title: str, totals: dict, *, wide: bool = False) -> None:
    """A two-column table of totals (nested dicts flattened; notes are warned on stderr instead)."""
    _pairs(console(wide), title, flatten(_shown(totals)))


def print_summary(results: Sequence[Result], title: str, *, wide: bool = False) -> None:
    """One table with a row per run."""
    show(console(wide), title, summary_columns(results), SUMMARY_DROP)
