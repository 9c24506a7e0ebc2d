"""Outputs of a serving-under-load run: tables, per-request records (CSV / Parquet) and a
Chrome/Perfetto trace of the iterations (one track per replica)."""

from __future__ import annotations

import json
from pathlib import Path

from accelsim.engine.chrome_trace import MICROSECONDS
from accelsim.errors import UsageError
from accelsim.report.export import write_rows
from accelsim.report.tables import column, console, print_totals, show

SWEEP_COLUMNS = (("ttft_p50_s", "TTFT p50", "s"), ("ttft_p90_s", "TTFT p90", "s"),
                 ("tbt_p99_s", "TBT p99", "s"), ("e2e_p50_s", "e2e p50", "s"),
                 ("requests_per_s", "done", "req/s"), ("mean_batch_size", "batch", ""),
                 ("preemptions", "preempted", ""))


def print_serve(result, *, wide: bool = False) -> None:
    """The run's totals as a two-column table."""
    config = result.config
    layout = ",".join(f"{key}={config[key]}" for key in ("tp", "ep") if config.get(key, 1) > 1)
    title = (f"{result.workload} on {config['replicas']} x {result.device}"
             f"{' (' + layout + ')' if layout else ''}: "
             f"{config['scheduler']} batching")
    print_totals(title, result.totals, wide=wide)


def print_sweep(points: list[dict], title: str, *, wide: bool = False) -> None:
    """One row per offered QPS of a --qps-sweep."""
    columns = [column("QPS", [p["qps"] for p in points], "")]
    for key, name, unit in SWEEP_COLUMNS:
        columns.append(column(name, [p["totals"][key] for p in points], unit))
    columns.append(column("SLO met", ["yes" if p["totals"]["slo_met"] else "no" for p in points]))
    show(console(wide), title, columns)


def request_rows(result) -> list[dict]:
    """One dict per request (the columns of ServeLoadResult.requests)."""
    names = list(result.requests)
    columns = [result.requests[name].tolist() for name in names]
    return [dict(zip(names, values)) for values in zip(*columns)]


def write_requests(result, path: str) -> None:
    """Per-request records as .csv, or .parquet (needs pyarrow)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        write_rows(request_rows(result), path)
    elif suffix == ".parquet":
        try:
            import pyarrow
            import pyarrow.parquet as parquet
        except ImportError:
            raise UsageError("Parquet needs pyarrow: pip install 'accelsim[results]'",
                             file=path) from None
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        parquet.write_table(pyarrow.table(result.requests), path)
    else:
        raise UsageError(f"cannot tell the format of {path!r}; use a .csv or .parquet file name",
                         key="requests-out")


def serve_trace(result) -> dict:
    """The iterations as a Trace Event Format object: one thread per replica."""
    replicas = result.config["replicas"]
    events: list[dict] = [{"ph": "M", "name": "process_name", "pid": 0,
                           "args": {"name": f"{result.workload} serving on {result.device}"}}]
    events += [{"ph": "M", "name": "thread_name", "pid": 0, "tid": k,
                "args": {"name": f"replica {k}"}} for k in range(replicas)]
    for k, start, seconds, prefill, decodes, batch in result.iterations:
        name = " + ".join(part for part in (f"prefill {prefill} tok" if prefill else "",
                                            f"decode {decodes}" if decodes else "") if part)
        events.append({"name": name, "cat": "iteration", "ph": "X", "pid": 0, "tid": k,
                       "ts": start * MICROSECONDS, "dur": seconds * MICROSECONDS,
                       "args": {"prefill_tokens": prefill, "decodes": decodes,
                                "batch_size": batch}})
    return {"traceEvents": events, "displayTimeUnit": "ms"}


def write_serve_trace(result, path: str) -> None:
    """serve_trace(result) as JSON at `path`."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(serve_trace(result)))
