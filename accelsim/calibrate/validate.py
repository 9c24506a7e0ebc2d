"""Predictions against published measurements: signed error per row, median and worst |error|.

Rows come from measurements_public.csv (a verbatim copy of the project's public reference rows,
shared/reference/measurements_public.csv, shipped in the package), plus accelsim's own
measurements_extra.csv (or any CSVs with the same columns). CASES says how each row id is modelled:
device, workload, precision, batch. GPU networks run as TensorRT deployed them, with GEMM epilogues
fused (transforms.fuse with residual adds; the NPU and FPGA models fuse inside their cost models).
A row that a device parameter was taken from is reported as "fitted" and left out of the error
summary; a row accelsim cannot model yet is "not modelled", with the reason.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from accelsim import units
from accelsim.errors import AccelsimError, UsageError
from accelsim.files import read_text

REFERENCE_CSV = Path(__file__).with_name("measurements_public.csv")
EXTRA_CSV = Path(__file__).with_name("measurements_extra.csv")   # rows accelsim adds, with sources
COLUMNS = ("id", "device", "workload", "metric", "value", "unit")   # of a measurements CSV
SQUARE_SIZES = range(256, 16384 + 1, 256)      # search space of "best achievable square GEMM"
OFFLINE_BATCH = 256                            # MLPerf offline: a batch large enough to amortize
SQUAD_MEAN_TOKENS = round(384 * (1 - 0.54))    # SQuAD v1.1 at max length 384 is 54% padding
DECODE_CONTEXT = 512                           # tokens in the KV cache of an LLM decode-step case
DECODE_STEP = (("seq_len", 1), ("past", DECODE_CONTEXT))


@dataclass(frozen=True)
class Case:
    """How accelsim models one measurement row."""

    kind: str                    # device kind, for per-kind summaries
    device: str                  # bundled device name
    workload: str                # "gemm MxNxK", "best square gemm" or a zoo name
    precision: str
    batch: int = 1
    params: tuple[tuple[str, object], ...] = ()   # zoo builder parameters
    only: str = ""               # keep only ops of this OpKind value (e.g. "conv2d")
    fuse: bool = False           # fold GEMM epilogues first (transforms.fuse(residual=True))
    fitted: str = ""             # the device parameter taken from this very row, if any
    note: str = ""


CASES: dict[str, Case] = {
    "P01": Case("gpu", "v100", "gemm 4096x7000x4096", "fp16"),
    "P02": Case("gpu", "v100", "gemm 4096x7000x4096", "fp32"),
    "P03": Case("gpu", "a100", "best square gemm", "bf16",
                fitted="a100 efficiency.compute = 271.2/312 is this measurement",
                note=f"max over square GEMMs {SQUARE_SIZES.start}..{SQUARE_SIZES.stop - 1} "
                     f"step {SQUARE_SIZES.step}"),
    "P04": Case("gpu", "a100", "gemm 8192x8192x8192", "fp16"),
    "P05": Case("gpu", "a100", "resnet50", "int8", batch=OFFLINE_BATCH, fuse=True,
                note="TensorRT layer fusion"),
    "P06": Case("gpu", "a100", "bert_large", "int8", batch=OFFLINE_BATCH, fuse=True,
                params=(("seq_len", SQUAD_MEAN_TOKENS),),
                note=f"TensorRT layer fusion; padding-free: mean {SQUAD_MEAN_TOKENS} tokens "
                     "(SQuAD v1.1 at 384 is 54% padding, OpenReview 3nzKUh9a4M)"),
    "P07": Case("gpu", "jetson_orin", "resnet50", "int8", fuse=True,
                note="TensorRT layer fusion; Orin efficiencies carried over from the A100"),
    "P08": Case("npu", "coral_edgetpu", "mobilenet_v2", "int8",
                note="Edge TPU invoke overhead derived from the same page's MobileNet V1 row"),
    "P09": Case("fpga", "zcu102_dpu", "resnet50", "int8", batch=3,
                note="one frame per DPU core, as the Vitis AI multi-thread benchmark runs"),
    "X01": Case("npu", "phone_npu", "mobilenet_v2", "fp16",
                note="Qualcomm AI Hub compiles float models to fp16 on the NPU"),
    "X02": Case("npu", "phone_npu", "resnet50", "fp16",
                note="Qualcomm AI Hub compiles float models to fp16 on the NPU"),
    "P10": Case("systolic", "eyeriss", "alexnet", "int16", batch=4, only="conv2d",
                note="conv layers only, row-stationary mapping of Chen et al. (JSSC 2017)"),
    "E01": Case("gpu", "a100", "gemm 8192x8192x8192", "fp16",
                fitted="a100 energy.mac_pj is fitted to this GEMM drawing the 400 W limit"),
    "E02": Case("gpu", "h100", "gemm 8192x8192x8192", "bf16",
                fitted="h100 energy.mac_pj is fitted to its best matmul drawing the 700 W limit"),
    "E03": Case("gpu", "a100", "llama2_7b", "fp16", params=DECODE_STEP,
                note=f"one decode step at {DECODE_CONTEXT} tokens of context"),
    "E04": Case("gpu", "a100", "llama2_7b", "fp16", params=DECODE_STEP,
                note=f"one decode step at {DECODE_CONTEXT} tokens of context; the leaderboard's "
                     "HF transformers stack generated 44 tokens/s"),
    "E05": Case("gpu", "h100", "llama2_7b", "bf16", params=DECODE_STEP,
                note=f"one decode step at {DECODE_CONTEXT} tokens of context; the source names "
                     "no model: a 7B dense decoder stands in"),
    "E06": Case("gpu", "h100", "llama2_7b", "bf16", batch=128, params=DECODE_STEP,
                note=f"one decode step at {DECODE_CONTEXT} tokens of context; the source names "
                     "no model: a 7B dense decoder stands in"),
    "X03": Case("gpu", "h200", "resnet50", "int8", batch=OFFLINE_BATCH, fuse=True,
                note="TensorRT layer fusion; Hopper int8 efficiency is the fp8 fraction (estimate)"),
    "X04": Case("gpu", "h200", "bert_large", "int8", batch=OFFLINE_BATCH, fuse=True,
                params=(("seq_len", SQUAD_MEAN_TOKENS),),
                note=f"TensorRT layer fusion; padding-free: mean {SQUAD_MEAN_TOKENS} tokens, as P06"),
    "X05": Case("cpu", "xeon_8480", "resnet50", "int8", batch=OFFLINE_BATCH, fuse=True,
                note="oneDNN post-op fusion; one socket of the two-socket system"),
    "X06": Case("cpu", "xeon_8480", "bert_large", "int8", batch=OFFLINE_BATCH, fuse=True,
                note="oneDNN post-op fusion; full 384-token sequences (no padding removal "
                     "assumed on CPU); one socket of the two-socket system"),
}


@dataclass(frozen=True)
class RowResult:
    """One measurement row: what was measured, what accelsim predicts, and the signed error."""

    id: str
    kind: str
    device: str
    workload: str
    metric: str
    unit: str
    measured: float
    predicted: float | None      # in the row's unit
    error_pct: float | None      # 100 * (predicted - measured) / measured
    status: str                  # "validated", "fitted" or "not modelled"
    modelled_as: str = ""        # workload on device, precision, batch
    note: str = ""

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Summary:
    """Error statistics over validated rows."""

    rows: int
    median_abs_error_pct: float | None
    worst_abs_error_pct: float | None
    worst_id: str | None

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class ValidationReport:
    """All rows of a measurements file with their predictions."""

    csv_path: str
    rows: tuple[RowResult, ...]

    def summary(self, ids=None, kind: str | None = None) -> Summary:
        """Median and worst |error| over validated rows (optionally only `ids` or one `kind`)."""
        rows = [r for r in self.rows if r.status == "validated"
                and (ids is None or r.id in ids) and (kind is None or r.kind == kind)]
        if not rows:
            return Summary(0, None, None, None)
        worst = max(rows, key=lambda r: abs(r.error_pct))
        return Summary(len(rows), statistics.median(abs(r.error_pct) for r in rows),
                       abs(worst.error_pct), worst.id)

    def to_dict(self) -> dict:
        """JSON object: the CSV path, every row, and summaries overall and per device kind."""
        kinds = sorted({r.kind for r in self.rows if r.status == "validated"})
        return {"csv": self.csv_path, "rows": [r.to_dict() for r in self.rows],
                "summary": self.summary().to_dict(),
                "summary_by_kind": {k: self.summary(kind=k).to_dict() for k in kinds}}


def validate(csv_paths=None) -> ValidationReport:
    """Model every row of the measurements CSVs (default: the bundled copy of the public reference
    rows plus accelsim's own measurements_extra.csv); `csv_paths` is a path or a sequence of paths."""
    if csv_paths is None:
        paths = [p for p in (REFERENCE_CSV, EXTRA_CSV) if p.is_file()]
    elif isinstance(csv_paths, (str, Path)):
        paths = [Path(csv_paths)]
    else:
        paths = [Path(p) for p in csv_paths]
    rows = [row for path in paths for row in _read_rows(path)]
    return ValidationReport("; ".join(str(p) for p in paths), tuple(map(_row_result, rows)))


def _read_rows(path: Path) -> list[dict]:
    """The rows of one measurements CSV, its columns checked."""
    if not path.is_file():
        raise UsageError(f"no measurements CSV at {path}; pass one with --csv", key="csv")
    reader = csv.DictReader(read_text(path, str(path), UsageError).splitlines())
    try:
        missing = set(COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise UsageError(f"{path}: missing columns {', '.join(sorted(missing))}", key="csv")
        return [_checked(row, str(path), reader.line_num) for row in reader]
    except csv.Error as exc:
        raise UsageError(f"invalid CSV: {exc}", file=str(path), line=reader.line_num) from None


def _checked(row: dict, file: str, line: int) -> dict:
    """The row's COLUMNS (a missing device or workload as ""), if id, metric and unit are filled
    and its value is a finite number."""
    row = {column: row.get(column) or "" for column in COLUMNS}
    for column in ("id", "metric", "unit"):
        if not row[column].strip():
            raise UsageError("empty cell", file=file, line=line, key=column)
    try:
        value = float(row["value"])
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise UsageError(f"expected a finite number, got {row['value'][:30]!r}", file=file,
                         line=line, key="value")
    return row


def _row_result(row: dict) -> RowResult:
    """Predict one CSV row and compare."""
    case = CASES.get(row["id"])
    measured = float(row["value"])
    base = RowResult(id=row["id"], kind=case.kind if case else "", device=row["device"],
                     workload=row["workload"], metric=row["metric"], unit=row["unit"],
                     measured=measured, predicted=None, error_pct=None, status="not modelled")
    if case is None:
        return replace(base, note="not modelled: no entry in accelsim.calibrate.validate.CASES")
    base = replace(base, modelled_as=f"{case.workload} on {case.device}, {case.precision}, "
                                     f"batch {case.batch}")
    try:
        predicted_si = predict(case, row["metric"])
    except (AccelsimError, ImportError, NotImplementedError) as exc:
        return replace(base, note=f"not modelled: {exc}")
    predicted = predicted_si * measured / to_si(measured, row["unit"])
    error = 100.0 * (predicted - measured) / measured
    note = "; ".join(part for part in (case.fitted and f"fitted: {case.fitted}", case.note) if part)
    return replace(base, predicted=predicted, error_pct=error,
                   status="fitted" if case.fitted else "validated", note=note)


def to_si(value: float, unit: str) -> float:
    """A CSV value in SI: ms -> s, TFLOP/s -> FLOP/s, kW -> W, mJ -> J; samples/s and frames/s stay
    as they are."""
    head = unit.split()[0]
    if head.endswith(("samples/s", "frames/s")):
        return value
    for family in ("time", "flops", "power", "energy"):
        try:
            return units.parse(f"{value} {head}", family)
        except units.UnitError:
            continue
    raise UsageError(f"unknown unit {unit!r}", key="unit")


def predict(case: Case, metric: str) -> float:
    """The predicted metric in SI units: seconds for latency, FLOP/s or samples/s for throughput,
    watts for power, joules per token (or per sample) for energy."""
    from accelsim.api import load_device

    device = load_device(case.device)
    if case.workload.startswith("gemm "):
        m, n, k = (int(x) for x in case.workload.split()[1].split("x"))
        return _gemm_metric(device, m, n, k, case.precision, metric)
    if case.workload == "best square gemm":
        return max(_gemm_metric(device, size, size, size, case.precision, "throughput")
                   for size in SQUARE_SIZES)
    return _network_metric(device, case, metric)


def gemm_op(m: int, n: int, k: int, precision: str):
    """A single (m x k) @ (k x n) GEMM with its operands and result at `precision`."""
    from accelsim.workload.ir import Gemm, Op, OpKind, Tensor

    return Op(name=f"gemm_{m}x{n}x{k}", kind=OpKind.MATMUL,
              inputs=(Tensor("a", (m, k), precision),), outputs=(Tensor("c", (m, n), precision),),
              weights=(Tensor("b", (k, n), precision),), gemm=Gemm(m, n, k), precision=precision)


def _gemm_metric(device, m: int, n: int, k: int, precision: str, metric: str) -> float:
    """Latency (s), FLOP/s or average power (W) of one GEMM."""
    from accelsim.devices import cost

    op = gemm_op(m, n, k, precision)
    result = cost(op, device)
    if metric.startswith("power"):
        return result.energy.total / result.latency_s
    return result.latency_s if metric.startswith("latency") else op.flops / result.latency_s


def _network_metric(device, case: Case, metric: str) -> float:
    """Latency (s), samples/s, average power (W) or energy per token (J) of a zoo network,
    optionally fused or restricted to one op kind."""
    from accelsim.api import load_workload, simulate
    from accelsim.workload.transforms import fuse

    graph = load_workload(case.workload, batch=case.batch, precision=case.precision,
                          **dict(case.params))
    if case.only:
        graph = replace(graph, name=f"{graph.name} ({case.only} only)",
                        ops=tuple(op for op in graph.ops if op.kind.value == case.only))
    if case.fuse:
        graph = fuse(graph, residual=True)
    totals = simulate(graph, device, batch=case.batch, precision=case.precision).totals
    if metric.startswith("power"):
        return totals["average_power_w"]
    if metric.startswith("energy"):
        return totals["energy_j"] / totals.get("tokens_per_step", totals["samples_per_step"])
    return totals["latency_s" if metric.startswith("latency") else "throughput"]
