"""The NCCL collective model against public nccl-tests rows (nccl_public.csv): signed error by
message-size regime, and the fit of each fabric's few free parameters.

    python -m accelsim.calibrate.nccl_fit        # fit on half the rows, report both halves

Rows alternate by size within each source: even positions fit, odd positions are held out. Rows
timed with one process driving all GPUs (nccl-tests -g 8) carry extra launch time, so they count
only from 64 MiB up, where launch is under 1% of the time.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from accelsim.config.interconnect import InterconnectConfig, ProtocolScale, load_interconnect
from accelsim.devices.interconnect import collective
from accelsim.devices.nccl import clear_cache

NCCL_CSV = Path(__file__).with_name("nccl_public.csv")
KIB, MIB = 1024, 1024 ** 2
REGIMES = (("< 64 KiB", 0, 64 * KIB), ("64 KiB - 1 MiB", 64 * KIB, MIB),
           (">= 1 MiB", MIB, math.inf))
LAUNCH_FREE = 64 * MIB          # single-process rows count from this size up
# the parameters fitted per fabric; a fabric's others are NCCL's or its YAML's sourced values
FREE = {"nvlink3": ("ll_latency", "ll128_latency", "simple_latency", "efficiency", "pipeline"),
        "nvlink4": ("ll_latency", "nvls_bandwidth")}
# NVLink 4 rows cover tiny and NVLS sizes only: its LL128 and Simple latencies and pipeline are
# NVLink 3's
CARRIED = {"nvlink4": ("nvlink3", ("ll128_latency", "simple_latency", "pipeline"))}
# start of the search: NCCL's own latencies, its A100 bus bandwidth cap (235 of 300 GB/s,
# tuning.cc),
# NVLS at the NCCL maintainers' ~275 GB/s algorithm bandwidth on 8 H100 (NVIDIA/nccl-tests#212)
START = {"ll_latency": 1.0, "ll128_latency": 1.0, "simple_latency": 1.0, "efficiency": 0.78, "pipeline": 50e-6,
         "nvls_bandwidth": 275e9}
SCALES = [round(0.2 + 0.05 * i, 2) for i in range(100)]
GRID = {"ll_latency": SCALES, "ll128_latency": SCALES, "simple_latency": SCALES,
        "efficiency": [round(0.6 + 0.01 * i, 2) for i in range(36)],
        "pipeline": [round(5e-6 * i, 9) for i in range(61)],
        "nvls_bandwidth": [1e9 * b for b in range(200, 401, 5)]}


@dataclass(frozen=True)
class Row:
    """One published nccl-tests measurement."""

    collective: str
    interconnect: str
    gpus: int
    nbytes: int
    seconds: float
    launcher: str
    held_out: bool


def read_rows(path: Path = NCCL_CSV) -> list[Row]:
    """The usable rows of a public nccl-tests CSV, every other size of each source held out."""
    rows, position = [], {}
    with open(path, newline="") as handle:
        for record in csv.DictReader(handle):
            nbytes = int(record["bytes"])
            if record["launcher"] == "single_process" and nbytes < LAUNCH_FREE:
                continue
            key = (record["source"], record["launcher"])
            position[key] = position.get(key, -1) + 1
            rows.append(Row(record["collective"], record["interconnect"], int(record["gpus"]),
                            nbytes, float(record["time_us"]) * 1e-6, record["launcher"],
                            position[key] % 2 == 1))
    return rows


def signed_error(row: Row, link: InterconnectConfig) -> float:
    """(predicted - measured) / measured for one row on `link`, NCCL's tuner picking."""
    return collective(row.collective, row.nbytes, row.gpus, link, "auto") / row.seconds - 1


def regime_report(rows: list[Row], links: dict[str, InterconnectConfig]) -> list[dict]:
    """Median |error| and median signed error per fabric and size regime."""
    out = []
    for name, link in links.items():
        for label, low, high in REGIMES:
            errors = [signed_error(r, link) for r in rows
                      if r.interconnect == name and low <= r.nbytes < high]
            if errors:
                out.append({"interconnect": name, "regime": label, "rows": len(errors),
                            "median_abs_error": statistics.median(abs(e) for e in errors),
                            "median_signed_error": statistics.median(errors)})
    return out


def current(link: InterconnectConfig) -> dict:
    """The fittable values of a fabric as bundled."""
    model = link.nccl
    return {"ll_latency": model.latency_scale.ll, "ll128_latency": model.latency_scale.ll128,
            "simple_latency": model.latency_scale.simple,
            "efficiency": link.efficiency, "pipeline": model.pipeline,
            "nvls_bandwidth": model.nvls_bandwidth}


def alpha_beta(link: InterconnectConfig) -> InterconnectConfig:
    """The same fabric under the plain alpha-beta ring and tree model (no NCCL model)."""
    return link.model_copy(update={"nccl": None})


def with_values(link: InterconnectConfig, values: dict) -> InterconnectConfig:
    """`link` with fitted values set."""
    model = link.nccl
    scale = ProtocolScale(ll=values.get("ll_latency", model.latency_scale.ll),
                          ll128=values.get("ll128_latency", model.latency_scale.ll128),
                          simple=values.get("simple_latency", model.latency_scale.simple))
    nccl = model.model_copy(update={"latency_scale": scale, **{
        key: values[key] for key in ("pipeline", "nvls_bandwidth") if key in values}})
    return link.model_copy(update={"nccl": nccl,
                                   "efficiency": values.get("efficiency", link.efficiency)})


def loss(rows: list[Row], link: InterconnectConfig) -> float:
    """Mean |log(predicted / measured)| over message sizes, rows of one size averaged first (so
    that sizes several sources measured do not outweigh the others)."""
    clear_cache()
    by_size: dict[int, list[float]] = {}
    for r in rows:
        by_size.setdefault(r.nbytes, []).append(abs(math.log1p(signed_error(r, link))))
    return statistics.fmean(statistics.fmean(errors) for errors in by_size.values())


def fit(name: str, rows: list[Row], given: dict | None = None, sweeps: int = 3) -> dict:
    """Coordinate search of the fabric's FREE parameters on their grids from START (`given`:
    values fixed from elsewhere); the fitted values, `given` included."""
    link = with_values(load_interconnect(name), given or {})
    mine = [r for r in rows if r.interconnect == name]
    values = {key: START[key] for key in FREE[name]}
    for _ in range(sweeps):
        for key in FREE[name]:
            values[key] = min(GRID[key],
                              key=lambda v: loss(mine, with_values(link, {**values, key: v})))
    return {**(given or {}), **values}


def fit_all(rows: list[Row]) -> dict[str, dict]:
    """Fitted values of every fabric in FREE, carried values taken from their source fabric."""
    out = {}
    for name in FREE:
        source, keys = CARRIED.get(name, (None, ()))
        out[name] = fit(name, rows, {key: out[source][key] for key in keys})
    return out


def check_report(path: Path = NCCL_CSV) -> dict:
    """Every usable row against the bundled fabrics: errors by regime, NCCL model and alpha-beta
    ring of the same fabric, as JSON."""
    rows = read_rows(path)
    links = {name: load_interconnect(name) for name in sorted({r.interconnect for r in rows})}
    ring = regime_report(rows, {name: alpha_beta(link) for name, link in links.items()})
    regimes = [{**mine, "alpha_beta_median_abs_error": old["median_abs_error"],
                "alpha_beta_median_signed_error": old["median_signed_error"]}
               for mine, old in zip(regime_report(rows, links), ring)]
    return {"csv": path.name, "fit_command": "python -m accelsim.calibrate.nccl_fit",
            "regimes": regimes}


def main() -> None:
    """Fit every fabric on the even rows; print the values and the errors of both halves."""
    rows = read_rows()
    train = [r for r in rows if not r.held_out]
    values = fit_all(train)
    fitted = {name: with_values(load_interconnect(name), values[name]) for name in FREE}
    for name in FREE:
        print(name, {key: round(value, 9) for key, value in values[name].items()})
    for label, part in (("fit rows", train), ("held-out rows", [r for r in rows if r.held_out])):
        print(f"\n{label}: NCCL model | alpha-beta ring of the same YAML")
        ring = regime_report(part, {n: alpha_beta(link) for n, link in fitted.items()})
        for mine, old in zip(regime_report(part, fitted), ring):
            print(f"  {mine['interconnect']:8} {mine['regime']:15} n={mine['rows']:3} "
                  f"{mine['median_abs_error']:6.1%} ({mine['median_signed_error']:+6.1%}) | "
                  f"{old['median_abs_error']:6.1%} ({old['median_signed_error']:+6.1%})")


if __name__ == "__main__":
    main()
