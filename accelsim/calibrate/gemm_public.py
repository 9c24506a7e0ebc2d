"""Single-GEMM latency against public measurements (gemm_public.csv): signed error by regime.

Each row of gemm_public.csv is one measured GEMM (A m x k times B k x n, B the weight) on a bundled
device, with its source. Rows alternate "fit" / "held-out" within each shape regime (`regime`), in
file order: the GEMM efficiency parameters of the device YAMLs (efficiency.tile_overhead_k,
efficiency.tile_intensity, h100 per_precision.fp32) were fitted on the fit rows only; read the
error report on the held-out rows. benchmarks/gemm_public_report.py prints it.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import ConfigError
from accelsim.files import read_text

GEMM_CSV = Path(__file__).with_name("gemm_public.csv")
COLUMNS = ("id", "device", "m", "n", "k", "precision", "metric", "value", "unit", "library",
           "split", "source")
UNITS = {("latency", "ms"): 1e-3, ("latency", "us"): 1e-6, ("throughput", "TFLOP/s"): 1e12}
REGIMES = ("small", "gemv", "decode", "prefill", "large")


@dataclass(frozen=True)
class GemmRow:
    """One measured GEMM and the model's prediction of its latency."""

    id: str
    device: str
    m: int
    n: int
    k: int
    precision: str
    split: str
    regime: str
    measured_s: float
    predicted_s: float

    @property
    def error_pct(self) -> float:
        """Signed latency error, 100 x (predicted - measured) / measured."""
        return 100.0 * (self.predicted_s - self.measured_s) / self.measured_s


def regime(m: int, n: int, k: int) -> str:
    """Shape class: gemv (m <= 4), small (no side over 1024), decode (m <= 64), prefill
    (m < 2048), large (the rest)."""
    if m <= 4:
        return "gemv"
    if max(m, n, k) <= 1024:
        return "small"
    if m <= 64:
        return "decode"
    return "prefill" if m < 2048 else "large"


def read_rows(path: Path = GEMM_CSV) -> list[dict]:
    """The CSV's rows as dicts, checked for the expected columns, units and positive numbers."""
    rows = list(csv.DictReader(read_text(path, "GEMM measurements", ConfigError).splitlines()))
    for line, row in enumerate(rows, start=2):
        where = f"{path}:{line}"
        if tuple(row) != COLUMNS:
            raise ConfigError(f"{where}: columns must be {','.join(COLUMNS)}")
        if (row["metric"], row["unit"]) not in UNITS:
            raise ConfigError(f"{where}: unknown metric/unit {row['metric']}/{row['unit']}")
        try:
            numbers = [float(row[key]) for key in ("m", "n", "k", "value")]
        except ValueError:
            raise ConfigError(f"{where}: m, n, k and value must be numbers") from None
        if min(numbers) <= 0:
            raise ConfigError(f"{where}: m, n, k and value must be positive")
    return rows


def measured_latency(row: dict) -> float:
    """Seconds of the measured GEMM (throughput rows converted with 2 m n k FLOPs)."""
    value = float(row["value"]) * UNITS[row["metric"], row["unit"]]
    if row["metric"] == "latency":
        return value
    return 2.0 * int(row["m"]) * int(row["n"]) * int(row["k"]) / value


def evaluate(path: Path = GEMM_CSV, devices=None) -> list[GemmRow]:
    """Every row with the model's latency; `devices` maps a name to a config (default: bundled)."""
    from accelsim.api import load_device
    from accelsim.calibrate.validate import gemm_op
    from accelsim.devices import cost

    devices = dict(devices or {})
    out = []
    for row in read_rows(path):
        name = row["device"]
        if name not in devices:
            devices[name] = load_device(name)
        m, n, k = int(row["m"]), int(row["n"]), int(row["k"])
        op = gemm_op(m, n, k, row["precision"])
        out.append(GemmRow(row["id"], name, m, n, k, row["precision"], row["split"],
                           regime(m, n, k), measured_latency(row),
                           cost(op, devices[name]).latency_s))
    return out


def error_stats(rows) -> tuple[int, float, float]:
    """(rows, median |error| %, 90th-percentile |error| %) over `rows`."""
    errors = sorted(abs(r.error_pct) for r in rows)
    if not errors:
        return 0, float("nan"), float("nan")
    p90 = errors[min(len(errors) - 1, round(0.9 * (len(errors) - 1)))]
    return len(errors), statistics.median(errors), p90


def report(rows, split: str = "held-out") -> dict[str, tuple[int, float, float]]:
    """error_stats per regime and over all rows of one split ("fit", "held-out" or "all")."""
    chosen = [r for r in rows if split == "all" or r.split == split]
    table = {name: error_stats([r for r in chosen if r.regime == name]) for name in REGIMES}
    table["all"] = error_stats(chosen)
    return table
