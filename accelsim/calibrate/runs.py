"""`accelsim run` and `accelsim serve` invocations that predict measured numbers, and the id-keyed
reference rows.

A RunSpec is one `accelsim run` command line and the same run through the API (a ServeSpec one
`accelsim serve` of requests that all arrive at once, as throughput benchmarks send them)
(accelsim.calibrate.measurements.totals_key names the Result totals key that predicts a metric).
The bundled reference files (measurements_public.csv, measurements_extra.csv) are keyed by row id
(columns id, device, workload, metric, value, unit), each id modelled by a case in
accelsim.calibrate.validate; read_reference_rows reads them. Measurement files (one run a row) are
read by accelsim.calibrate.measurements, and `run_of` turns a row into its RunSpec.
"""

from __future__ import annotations

import csv
import math
import shlex
from dataclasses import dataclass
from pathlib import Path

from accelsim.calibrate.measurements import Measurement
from accelsim.errors import UsageError
from accelsim.files import read_text

REFERENCE_COLUMNS = ("id", "device", "workload", "metric", "value", "unit")


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
class ServeSpec:
    """One offline `accelsim serve` invocation: `requests` requests of fixed prompt and output
    lengths, all arriving at once, on one tp group."""

    workload: str
    device: str
    prompt: int
    generate: int
    requests: int
    max_batch: int
    tp: int = 1
    precision: str | None = None

    def command(self) -> str:
        """The `accelsim serve ...` line (add --json and read totals[key] for the number)."""
        argv = ["accelsim", "serve", self.workload, "--device", self.device, "--tp", str(self.tp)]
        if self.precision:
            argv += ["--precision", self.precision]
        argv += ["--prompt", str(self.prompt), "--generate", str(self.generate), "--requests",
                 str(self.requests), "--max-batch", str(self.max_batch), "--arrival", "offline"]
        return shlex.join(argv)

    def simulate(self):
        """The ServeLoadResult the command prints."""
        from accelsim.engine.serve_load import prepare_serving, run_load
        from accelsim.workload.requests import synthetic_requests

        setup = prepare_serving(self.workload, self.device, max_batch=self.max_batch, tp=self.tp,
                                precision=self.precision, max_prompt=self.prompt)
        return run_load(setup, synthetic_requests(self.requests, 1.0, arrival="offline",
                                                  prompt=str(self.prompt),
                                                  output=str(self.generate)))


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


def run_of(measurement: Measurement) -> RunSpec:
    """The `accelsim run` of a measurements-file row (a "gemm MxNxK" as the zoo's gemm workload)."""
    params = dict(measurement.params)
    stack = params.pop("stack", None)
    workload = measurement.workload
    if measurement.gemm:
        workload = "gemm"
        params.update(zip("mnk", measurement.gemm))
    return RunSpec(workload=workload, device=measurement.device, mode=measurement.mode,
                   batch=measurement.batch, precision=measurement.precision,
                   params=tuple(params.items()), stack=stack)
