"""Results to files: CSV (stdlib), Parquet and pandas DataFrames (the optional `results` extra).

Two tables: "layers" (one row per layer, or per pipeline stage of a parallel run, led by the run's
workload, device, device_id, device_kind, mode, precision and batch) and "totals" (one row per run: the run columns, every total, nested totals and
the memory breakdown flattened to "energy_breakdown_j.compute", "memory.weights", ...). Columns are
the JSON names, a layer's nested traffic as "traffic.dram.ifmap.reads", ... (SI units: seconds,
bytes, joules, FLOPs).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from accelsim.errors import UsageError
from accelsim.result import Result

RUN_COLUMNS = ("workload", "device", "device_id", "device_kind", "mode", "precision", "batch")
TABLES = ("layers", "totals")
FORMATS = (".csv", ".parquet", ".json")


def _runs(results) -> list:
    """One result (a Result or a ParallelResult) or several, as a list."""
    return list(results) if isinstance(results, Sequence) else [results]


def _run_rows(result, table: str) -> list[dict]:
    """A run's rows of a table, each led by the columns that name the run."""
    data = result.to_dict()
    run = {column: data[column] for column in RUN_COLUMNS}
    if table == "layers":
        return [{**run, **flatten(item)} for item in data.get("layers", data.get("stages"))]
    return [{**run, **flatten(data["totals"]), **flatten(data["memory"], "memory.")}]


def flatten(data: dict, prefix: str = "") -> dict:
    """Nested mappings as one level of dotted keys."""
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def rows(results, table: str = "layers") -> list[dict]:
    """The rows of a table ("layers" or "totals") of one or several results."""
    if table in TABLES:
        return [row for result in _runs(results) for row in _run_rows(result, table)]
    raise UsageError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}", key="table")


def write_rows(table: Sequence[dict], path: str | Path) -> None:
    """Rows of dicts as CSV; the columns are every key in order of first appearance."""
    columns = list(dict.fromkeys(key for row in table for key in row))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows({key: "" if value is None else value for key, value in row.items()}
                         for row in table)


def write_csv(results: Result | Sequence[Result], path: str | Path, table: str = "layers") -> None:
    """A table of one or several results as CSV."""
    write_rows(rows(results, table), path)


def to_dataframe(results, table: str = "layers"):
    """A pandas DataFrame of a table of one or several results (needs the `results` extra)."""
    try:
        import pandas
    except ImportError:
        raise UsageError("DataFrames need pandas: pip install 'accelsim[results]'",
                         key="table") from None
    return pandas.DataFrame.from_records(rows(results, table))


def write_parquet(results: Result | Sequence[Result], path: str | Path,
                  table: str = "layers") -> None:
    """A table of one or several results as Parquet (needs the `results` extra: pandas, pyarrow)."""
    frame = to_dataframe(results, table)
    try:
        import pyarrow  # noqa: F401  (the engine pandas writes Parquet with)
    except ImportError:
        raise UsageError("Parquet needs pyarrow: pip install 'accelsim[results]'",
                         file=str(path)) from None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, engine="pyarrow", index=False)


def export(results: Result | Sequence[Result], path: str | Path, table: str = "layers") -> None:
    """Write results in the format of the file's suffix: .csv, .parquet (a table) or .json (all)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        write_csv(results, path, table)
    elif suffix == ".parquet":
        write_parquet(results, path, table)
    elif suffix == ".json":
        data = [r.to_dict() for r in _runs(results)]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data if isinstance(results, Sequence) else data[0],
                                         indent=1))
    else:
        raise UsageError(f"cannot tell the format of {str(path)!r}; use a "
                         f"{', '.join(FORMATS)} file name", key="export")
