"""Measurements CSVs and the runs that predict them: the one reader `validate` and `calibrate` share.

Measurements file (one measured number a row; extra columns such as `source` are kept out)::

    workload,device,mode,batch,precision,metric,value,unit
    resnet50,a100,inference,256,int8,throughput,42379,samples/s
    llama2_7b,a100,serve,1,fp16,tpot,12.5,ms

workload: zoo name or workload file; device: bundled name or YAML path; mode: inference (default
when empty), training or serve; batch: default 1; precision: default the device's own. metric and
the totals key that predicts it (units: any of the family's, e.g. ms, us, mW, mJ):
latency -> latency_s, ttft -> ttft_s and tpot -> tpot_s (serve mode), power -> average_power_w,
energy -> energy_j, throughput -> throughput (samples/s, frames/s, images/s, queries/s),
tokens_per_s (tokens/s) or flops_per_s (FLOP/s, e.g. TFLOP/s).

The bundled reference files (measurements_public.csv, measurements_extra.csv) are keyed by row id
instead (columns id, device, workload, metric, value, unit), each id modelled by a case in
accelsim.calibrate.validate; read_reference_rows reads them.
"""

from __future__ import annotations

import csv
import math
import shlex
from dataclasses import dataclass
from pathlib import Path

from accelsim import units
from accelsim.errors import UsageError, did_you_mean
from accelsim.files import read_text
from accelsim.workload.ir import PRECISIONS
from accelsim.workload.limits import MAX_SIZE

COLUMNS = ("workload", "device", "mode", "batch", "precision", "metric", "value", "unit")
REFERENCE_COLUMNS = ("id", "device", "workload", "metric", "value", "unit")
MODES = ("inference", "training", "serve")
METRIC_FAMILY = {"latency": "time", "ttft": "time", "tpot": "time", "power": "power",
                 "energy": "energy", "throughput": None}
METRIC_KEY = {"latency": "latency_s", "ttft": "ttft_s", "tpot": "tpot_s",
              "power": "average_power_w", "energy": "energy_j"}
SERVE_METRICS = ("ttft", "tpot")
ITEM_RATES = ("samples/s", "frames/s", "images/s", "queries/s", "inferences/s")
TOKEN_RATE = "tokens/s"


@dataclass(frozen=True)
class RunSpec:
    """One `accelsim run` invocation: what the CLI takes, and the same run through the API."""

    workload: str
    device: str
    mode: str = "inference"
    batch: int = 1
    precision: str | None = None
    params: tuple[tuple[str, object], ...] = ()
    only: str | None = None
    stack: str | None = None

    def command(self) -> str:
        """The `accelsim run ...` line (add --json and read totals[key] for the number)."""
        argv = ["accelsim", "run", self.workload, "--device", self.device]
        if self.mode != "inference":
            argv += ["--mode", self.mode]
        argv += ["--batch", str(self.batch)]
        if self.precision:
            argv += ["--precision", self.precision]
        for key, value in self.params:
            argv += ["--param", f"{key}={value}"]
        if self.only:
            argv += ["--only", self.only]
        if self.stack:
            argv += ["--stack", self.stack]
        return shlex.join(argv)

    def simulate(self):
        """The Result the command prints."""
        from accelsim.api import simulate

        return simulate(self.workload, self.device, mode=self.mode, batch=self.batch,
                        precision=self.precision, only=self.only, stack=self.stack,
                        **dict(self.params))


@dataclass(frozen=True)
class Measurement:
    """One row of a measurements file, its value in SI units."""

    run: RunSpec
    metric: str
    value: float                 # as written, in `unit`
    unit: str
    value_si: float
    key: str                     # the Result totals key that predicts it
    file: str = ""
    line: int = 0


def unit_head(unit: str) -> str:
    """The unit proper of a unit cell: "samples/s per accelerator" -> "samples/s"."""
    return unit.split()[0] if unit.split() else ""


def totals_key(metric: str, unit: str) -> str:
    """The Result totals key predicting `metric` (first word: "latency p90" -> latency_s)."""
    name = metric.split()[0] if metric.split() else metric
    if name != "throughput":
        return METRIC_KEY[name]
    head = unit_head(unit)
    if head == TOKEN_RATE:
        return "tokens_per_s"
    return "throughput" if head in ITEM_RATES else "flops_per_s"


def to_si(value: float, unit: str, metric: str = "") -> float:
    """A value in SI units: ms -> s, TFLOP/s -> FLOP/s, mW -> W; item and token rates unchanged.
    With `metric`, only its unit family is accepted."""
    head = unit_head(unit)
    name = metric.split()[0] if metric.split() else ""
    if head in (*ITEM_RATES, TOKEN_RATE) and name in ("", "throughput"):
        return value
    family = METRIC_FAMILY.get(name)
    families = (family,) if family else ("flops",) if name == "throughput" else \
        ("time", "flops", "power", "energy")
    for candidate in families:
        try:
            return units.parse(f"{value} {head}", candidate)
        except units.UnitError:
            continue
    raise UsageError(f"unknown unit {unit!r}" + (f" for {metric}" if metric else ""), key="unit")


def read_measurements(path: str | Path) -> tuple[Measurement, ...]:
    """The rows of a measurements file (format in the module docstring), each checked; errors
    name the file, the line and the column."""
    source = str(path)
    rows = _dict_rows(Path(path), source, COLUMNS)
    measurements = tuple(_measurement(row, source, line) for line, row in rows)
    if not measurements:
        raise UsageError("no measurement rows", file=source)
    return measurements


def read_reference_rows(path: str | Path) -> list[dict]:
    """The rows of an id-keyed reference CSV (REFERENCE_COLUMNS; a missing device or workload as
    ""), each with a finite value and its `line`."""
    source = str(path)
    if not Path(path).is_file():
        raise UsageError(f"no measurements CSV at {path}; pass one with --csv", key="csv")
    out = []
    for line, row in _dict_rows(Path(path), source, REFERENCE_COLUMNS):
        row = {column: row.get(column) or "" for column in REFERENCE_COLUMNS}
        for column in ("id", "metric", "unit"):
            if not row[column].strip():
                raise UsageError("empty cell", file=source, line=line, key=column)
        _number(row["value"], source, line)
        out.append({**row, "line": line})
    return out


def _dict_rows(path: Path, source: str, columns: tuple[str, ...]) -> list[tuple[int, dict]]:
    """(line, row) of every data row of a CSV holding `columns` (stripped cells)."""
    reader = csv.DictReader(read_text(path, source, UsageError).splitlines())
    try:
        header = [name.strip() for name in reader.fieldnames or ()]
        missing = [column for column in columns if column not in header]
        if missing:
            raise UsageError(f"missing column{'s' * (len(missing) > 1)} {', '.join(missing)}; "
                             f"expected {','.join(columns)}", file=source, line=1,
                             key=missing[0])
        reader.fieldnames = header
        rows = []
        for row in reader:
            if None in row:
                raise UsageError(f"{len(header) + len(row[None])} cells for {len(header)} columns",
                                 file=source, line=reader.line_num)
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
        return rows
    except csv.Error as exc:
        raise UsageError(f"invalid CSV: {exc}", file=source, line=reader.line_num) from None


def _number(text: str, source: str, line: int, key: str = "value") -> float:
    """A finite number, else a usage error at file:line: key."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UsageError(f"expected a finite number, got {text[:30]!r}", file=source, line=line,
                         key=key)
    return value


def _choice(text: str, choices, source: str, line: int, key: str) -> str:
    """`text` if it is one of `choices`, else a usage error with a did-you-mean hint."""
    if text not in choices:
        raise UsageError(f"expected one of {', '.join(choices)}, got {text[:30]!r}"
                         f"{did_you_mean(text, choices)}", file=source, line=line, key=key)
    return text


def _measurement(row: dict, source: str, line: int) -> Measurement:
    """One checked row."""
    for column in ("workload", "device", "metric", "value", "unit"):
        if not row[column]:
            raise UsageError("empty cell", file=source, line=line, key=column)
    mode = _choice(row["mode"] or "inference", MODES, source, line, "mode")
    batch = row["batch"] or "1"
    if not (batch.isdigit() and 1 <= int(batch) <= MAX_SIZE):
        raise UsageError(f"expected a positive integer up to {MAX_SIZE}, got {batch[:30]!r}",
                         file=source, line=line, key="batch")
    precision = row["precision"] or None
    if precision is not None:
        _choice(precision, PRECISIONS, source, line, "precision")
    metric = _choice(row["metric"], tuple(METRIC_FAMILY), source, line, "metric")
    if metric in SERVE_METRICS and mode != "serve":
        raise UsageError(f"{metric} is a serving metric; set mode to serve", file=source,
                         line=line, key="mode")
    value = _number(row["value"], source, line)
    if value <= 0:
        raise UsageError(f"expected a positive number, got {row['value'][:30]!r}", file=source,
                         line=line, key="value")
    try:
        value_si = to_si(value, row["unit"], metric)
    except UsageError as exc:
        raise UsageError(exc.message, file=source, line=line, key="unit") from None
    run = RunSpec(workload=row["workload"], device=row["device"], mode=mode, batch=int(batch),
                  precision=precision)
    return Measurement(run=run, metric=metric, value=value, unit=row["unit"], value_si=value_si,
                       key=totals_key(metric, row["unit"]), file=source, line=line)
