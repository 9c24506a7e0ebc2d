"""Measurement files: one measured number per CSV row, each cell checked where it is read.

Columns (a header row names them, in any order):
  workload   a zoo name, a workload file (relative to the CSV's folder or the working directory)
             or a single GEMM "gemm MxNxK" ((M x K) @ (K x N); the batch multiplies M)
  device     a bundled device name or a device YAML path
  mode       inference (blank), training or serve
  batch      samples per step (blank: 1); serve: concurrent requests
  precision  fp32, tf32, bf16, fp16, fp8, int8, int4 (blank: the device's default)
  metric     latency, throughput, ttft, tpot (serve), power or energy
  value      the measured number, finite and positive
  unit       latency, ttft, tpot: a time ("ms"); throughput: a rate of FLOPs ("TFLOP/s") or of
             samples ("samples/s", "frames/s", "images/s", "tokens/s", "queries/s");
             power: "W"; energy: "J" (SI prefixes allowed: "mJ", "kW")
Optional: params ("seq_len=384; image_size=160", workload parameters; serve also takes prompt and
generate; stack=eager or compiled, accelsim.workload.stack), source (where the number comes
from) and id. Any other column, an empty required cell or
a value that does not read is one error naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from accelsim import units
from accelsim.errors import UsageError, did_you_mean
from accelsim.files import load_yaml, read_text
from accelsim.workload.ir import PRECISIONS
from accelsim.workload.limits import is_size

REQUIRED = ("workload", "device", "mode", "batch", "precision", "metric", "value", "unit")
OPTIONAL = ("params", "source", "id")
MODES = ("inference", "training", "serve")
METRICS = ("latency", "throughput", "ttft", "tpot", "power", "energy", "area")
SERVE_ONLY = ("ttft", "tpot")
FAMILY = {"latency": "time", "ttft": "time", "tpot": "time", "power": "power", "energy": "energy",
          "area": "area", "train_time": "time", "hw_flops": "flops"}
TOTAL = {"latency": "latency_s", "ttft": "ttft_s", "tpot": "tpot_s", "power": "average_power_w",
         "energy": "energy_j", "area": "area_mm2", "train_time": "time_to_train_s",
         "hw_flops": "hardware_flops_per_device_per_s", "mfu": "mfu", "hfu": "hfu"}
SECONDS_PER = {"days": 86400.0, "day": 86400.0, "h": 3600.0}   # time units units.parse lacks
FRACTION_UNITS = {"%": 0.01}                    # utilisation (mfu, hfu) as a percentage
ITEM_RATES = ("samples/s", "frames/s", "images/s", "queries/s", "inferences/s")
TOKEN_RATE = "tokens/s"
GEMM = re.compile(r"^gemm[\s:]+(\d+)x(\d+)x(\d+)$", re.I)
MAX_BATCH = 10**7


@dataclass(frozen=True)
class Measurement:
    """One measured number and what was run to get it."""

    file: str
    line: int
    workload: str
    device: str
    mode: str
    batch: int
    precision: str | None      # None: the device's default
    metric: str
    value: float               # as written, in `unit`
    unit: str
    si: float                  # the value in SI: seconds, FLOP/s, items/s, watts, joules
    params: dict = field(default_factory=dict)
    source: str = ""
    id: str = ""

    @property
    def gemm(self) -> tuple[int, int, int] | None:
        """(M, N, K) of a "gemm MxNxK" workload, else None."""
        match = GEMM.match(self.workload.strip())
        return tuple(int(g) for g in match.groups()) if match else None

    @property
    def flop_rate(self) -> bool:
        """Whether a throughput is in FLOP/s (else in samples or tokens per second)."""
        return totals_key(self.metric, self.unit) == "flops_per_s"

    @property
    def label(self) -> str:
        """The row as tables name it: its id, else its line."""
        return self.id or f"line {self.line}"


def read_measurements(path) -> list[Measurement]:
    """Every row of the measurements CSV at `path`, checked; a bad cell raises UsageError naming
    the file, line and column."""
    name = str(path)
    text = read_text(path, name, UsageError)
    reader = csv.reader(text.splitlines(), strict=True)
    try:
        header = [cell.strip() for cell in next(reader, [])]
        _check_header(header, name)
        rows = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise UsageError(f"expected {len(header)} cells as in the header, got {len(cells)}",
                                 file=name, line=reader.line_num)
            rows.append(_measurement(dict(zip(header, cells)), name, reader.line_num,
                                     Path(path).parent))
    except csv.Error as exc:
        raise UsageError(f"invalid CSV: {exc}", file=name, line=reader.line_num) from None
    if not rows:
        raise UsageError("no measurement rows after the header", file=name)
    return rows


def _check_header(header: list[str], file: str) -> None:
    """Every required column once, nothing unknown."""
    if not any(header):
        raise UsageError(f"empty file; expected a header naming {', '.join(REQUIRED)}", file=file,
                         line=1)
    known = REQUIRED + OPTIONAL
    for column in header:
        if column not in known:
            raise UsageError(f"unknown column {column!r}{did_you_mean(column, known)}; expected "
                             f"{', '.join(REQUIRED)} (and optionally {', '.join(OPTIONAL)})",
                             file=file, line=1, key=column)
        if header.count(column) > 1:
            raise UsageError("column named twice", file=file, line=1, key=column)
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        raise UsageError(f"missing column(s) {', '.join(missing)}", file=file, line=1)


def _measurement(row: dict, file: str, line: int, folder: Path) -> Measurement:
    """One row's cells checked and converted."""
    def fail(column: str, message: str):
        raise UsageError(message, file=file, line=line, key=column)

    cell = {key: (value or "").strip() for key, value in row.items()}
    for column in ("workload", "device", "metric", "value", "unit"):
        if not cell[column]:
            fail(column, "empty cell")
    mode = cell["mode"] or "inference"
    if mode not in MODES:
        fail("mode", f"expected one of {', '.join(MODES)}, got {mode!r}{did_you_mean(mode, MODES)}")
    metric = cell["metric"]
    if metric not in METRICS:
        fail("metric", f"expected one of {', '.join(METRICS)}, got {metric!r}"
                       f"{did_you_mean(metric, METRICS)}")
    if metric in SERVE_ONLY and mode != "serve":
        fail("metric", f"{metric} is measured on serve runs; set mode to serve")
    precision = cell["precision"] or None
    if precision is not None and precision not in PRECISIONS:
        fail("precision", f"expected one of {', '.join(PRECISIONS)}, got {precision!r}"
                          f"{did_you_mean(precision, PRECISIONS)}")
    batch = _batch(cell["batch"], fail)
    value = _positive(cell["value"], fail)
    si = _to_si(value, cell["unit"], metric, fail)
    workload = _workload(cell["workload"], folder)
    measurement = Measurement(file=file, line=line, workload=workload, device=cell["device"],
                              mode=mode, batch=batch, precision=precision, metric=metric,
                              value=value, unit=cell["unit"], si=si,
                              params=_params(cell.get("params", ""), fail),
                              source=cell.get("source", ""), id=cell.get("id", ""))
    _check_gemm(measurement, cell["workload"], fail)
    return measurement


def _batch(text: str, fail) -> int:
    """A blank batch is 1; else a whole number in [1, MAX_BATCH]."""
    if not text:
        return 1
    try:
        batch = int(text)
    except ValueError:
        fail("batch", f"expected a whole number, got {units.short(text)}")
    if not 1 <= batch <= MAX_BATCH:
        fail("batch", f"expected 1 to {MAX_BATCH}, got {batch}")
    return batch


def _positive(text: str, fail) -> float:
    """A finite number above zero."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        fail("value", f"expected a finite number above 0, got {units.short(text)}")
    return value


def _to_si(value: float, unit: str, metric: str, fail) -> float:
    """`value` `unit` in SI for `metric`; a unit of another quantity fails."""
    try:
        si = to_si(value, unit, metric)
    except UsageError:
        expected = units.FAMILIES[FAMILY.get(metric, "flops")][1]
        if metric == "throughput":
            expected += ' or "samples/s", "frames/s", "images/s", "tokens/s", "queries/s"'
        fail("unit", f"{unit!r} is not a unit of {metric}; expected {expected}")
    if not 0 < si < math.inf:
        fail("value", f"{value!r} {unit} is out of range")
    return si


def unit_head(unit: str) -> str:
    """The unit proper of a unit cell: "samples/s per accelerator" -> "samples/s"."""
    return unit.split()[0] if unit.split() else ""


def totals_key(metric: str, unit: str) -> str:
    """The Result totals key predicting `metric` (first word: "latency p90" -> latency_s)."""
    name = metric.split()[0] if metric.split() else metric
    if name != "throughput":
        return TOTAL[name]
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
    if head in SECONDS_PER and FAMILY.get(name, "time") == "time":
        return value * SECONDS_PER[head]
    if head in FRACTION_UNITS and name in ("mfu", "hfu"):
        return value * FRACTION_UNITS[head]
    family = FAMILY.get(name)
    families = (family,) if family else ("flops",) if name == "throughput" else \
        ("time", "flops", "power", "energy")
    for candidate in families:
        try:
            return units.parse(f"{value!r} {head}", candidate)
        except units.UnitError:
            continue
    raise UsageError(f"unknown unit {unit!r}" + (f" for {metric}" if metric else ""), key="unit")


def predicted(totals: dict, key: str) -> float:
    """totals[key] of a run, or an error naming the unit when the run reports no such total."""
    if key not in totals:
        raise UsageError(f"this run reports no {key}; give the measurement in another unit",
                         key="unit")
    return totals[key]


def _workload(text: str, folder: Path) -> str:
    """A workload file named relative to the CSV's folder, if one is there; else `text`."""
    beside = folder / text
    return str(beside) if not GEMM.match(text) and beside.is_file() else text


def _params(text: str, fail) -> dict:
    """"key=value; key=value" -> {key: value} with values read as YAML scalars."""
    params = {}
    for item in filter(None, (part.strip() for part in re.split(r"[;\s]+", text))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            fail("params", f"expected key=value pairs separated by ';', got {units.short(item)}")
        try:
            params[key.strip().replace("-", "_")] = load_yaml(value, "params", UsageError)
        except UsageError as exc:
            fail("params", f"{key.strip()}: {exc.message}")
    return params


def _check_gemm(measurement: Measurement, text: str, fail) -> None:
    """A "gemm ..." workload names three sizes and runs in inference mode."""
    if not text.lower().startswith("gemm"):
        return
    dims = measurement.gemm
    if dims is None or not all(map(is_size, (dims[0] * measurement.batch, *dims[1:]))):
        fail("workload", f"expected a GEMM as \"gemm MxNxK\" with sizes from 1 to 2**31, got "
                         f"{units.short(text)}")
    if measurement.mode != "inference":
        fail("mode", "a single GEMM is measured in inference mode")
    if measurement.params:
        fail("params", "a single GEMM takes no workload parameters")
