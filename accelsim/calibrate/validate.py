"""Predictions against published measurements: signed error per row, median and worst |error|.

Rows come from measurements_public.csv (a verbatim copy of the project's public reference rows,
shared/reference/measurements_public.csv, shipped in the package), plus accelsim's own
measurements_extra.csv (or any CSVs with the same columns, keyed by row id), or from a measurements
file (accelsim.calibrate.measurements: workload, device, mode, batch, precision, metric, value,
unit). CASES says how each reference id is modelled: an `accelsim run` command line (RunSpec) and
the totals key read, under the default software stack of the device (accelsim.workload.stack), so
that every prediction is what a user's `accelsim run` answers. A row that a device parameter was
taken from is reported as "fitted" and left out of the error summary; a row accelsim cannot model
yet is "not modelled", with the reason.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from accelsim.calibrate.measurements import (Measurement, predicted, read_measurements, to_si,
                                             totals_key)
from accelsim.calibrate.runs import RunSpec, ServeSpec, read_reference_rows, run_of
from accelsim.errors import AccelsimError, InfeasibleError, UsageError

REFERENCE_CSV = Path(__file__).with_name("measurements_public.csv")
EXTRA_CSV = Path(__file__).with_name("measurements_extra.csv")   # rows accelsim adds, with sources
SQUARE_SIZES = range(256, 16384 + 1, 256)      # search space of "best achievable square GEMM"
OFFLINE_BATCH = 256                            # MLPerf offline: a batch large enough to amortize
# SQuAD v1.1 dev at max length 384 as a length distribution (accelsim.workload.seqlen.NAMED: a
# 176.6-token mean, 54% padding): TensorRT's variable-length BERT runs the real tokens, and each
# sequence's attention over its own length
SQUAD = (("seq_len", "squad"),)
DECODE_CONTEXT = 512                           # tokens in the KV cache of an LLM decode-step case
DECODE_STEP = (("seq_len", 1), ("past", DECODE_CONTEXT))
# ML.ENERGY leaderboard v1 ran Hugging Face PyTorch models op by op (github.com/ml-energy/
# leaderboard scripts/benchmark.py: FastChat load_model + generate_stream, energy from Zeus)
LEADERBOARD_V1_DECODE = RunSpec("llama2_7b", "a100", precision="fp16", params=DECODE_STEP,
                                stack="eager")
LEADERBOARD_V1_NOTE = (f"one decode step at {DECODE_CONTEXT} tokens of context under the eager "
                       "stack (the leaderboard ran HF transformers via FastChat), bound by its host")
V3_STAND_IN = ("the source names no model: an 8B grouped-query-attention decoder stands in, as the "
               "v3.0 benchmark runs (its README's example: Qwen/Qwen3-8B on vLLM)")
VLLM_GAP = ("vLLM's per-step host work (scheduling, input preparation, sampling for thousands of "
            "sequences) and bf16 activations between fp8 GEMMs (all-reduces twice the bytes)")


@dataclass(frozen=True)
class Case:
    """How accelsim models one measurement row: the run, and for "best of" rows the square GEMM
    sizes searched (the best one's command is the row's)."""

    kind: str                    # device kind, for per-kind summaries
    run: RunSpec | ServeSpec
    best_of: tuple[int, ...] = ()   # square gemm sizes m = n = k searched for the highest rate
    fitted: str = ""             # the device parameter taken from this very row, if any
    gap: str = ""                # a cost the measurement includes and accelsim does not model
    note: str = ""


def gemm_op(m: int, n: int, k: int, precision: str):
    """The one op of the zoo's gemm workload: (m x k) @ (k x n) at `precision`."""
    from accelsim.workload.zoo import build

    return build("gemm", precision=precision, m=m, n=n, k=k).ops[0]


def gemm(device: str, m: int, n: int, k: int, precision: str) -> RunSpec:
    """The run of one m x n x k GEMM (the zoo's gemm workload)."""
    return RunSpec("gemm", device, precision=precision, params=(("m", m), ("n", n), ("k", k)))


def megatron(workload_params: tuple, devices: int, tp: int, pp: int, global_batch: int,
             workload: str = "megatron_gpt", **options) -> RunSpec:
    """A training run as Megatron-LM ran its GPTs on A100s (Narayanan et al. SC21, Section 5):
    fp16 mixed precision, micro-batch 1, full activation recomputation, tp x pp x dp, gradients
    accumulated in fp32 by a separate kernel and all-reduced after the backward (its DDP then);
    `options` override."""
    recipe = {"recompute": "full", "grad_reduce": "after", "grad_accumulation": "separate"}
    training = (("parallel", f"tp={tp},pp={pp}"), ("global_batch", global_batch),
                *(recipe | options).items())
    return RunSpec(workload, "a100", mode="training", precision="fp16", params=workload_params,
                   devices=devices, training=training)


GPT3_RECIPE = megatron((), 1024, 8, 16, 1536, workload="gpt3_175b", tokens=300e9)
MT_NLG = (("layers", 105), ("hidden", 20480), ("heads", 128))     # 529.6B, SC21 Table 1
KORTHIKANTI_NOTE = ("Megatron-LM 3.0 as released with the paper: gradient accumulation fused "
                    "into the wgrad GEMM; global batch 2240 (one sequence per GPU) assumed")
MEGATRON_NOTE = ("Megatron-LM eq. 3 counts recomputation: compared with hardware FLOP/s per GPU; "
                 "no interleaving (SC21 does not list v per Table 1 row)")


CASES: dict[str, Case] = {
    "P01": Case("gpu", gemm("v100", 4096, 7000, 4096, "fp16")),
    "P02": Case("gpu", gemm("v100", 4096, 7000, 4096, "fp32")),
    "P03": Case("gpu", RunSpec("gemm", "a100", precision="bf16"), best_of=tuple(SQUARE_SIZES),
                fitted="a100 efficiency.compute = 271.2/312 is this measurement",
                note=f"best of square GEMMs {SQUARE_SIZES.start}..{SQUARE_SIZES.stop - 1} "
                     f"step {SQUARE_SIZES.step}"),
    "P04": Case("gpu", gemm("a100", 8192, 8192, 8192, "fp16")),
    "P05": Case("gpu", RunSpec("resnet50", "a100", batch=OFFLINE_BATCH, precision="int8"),
                note="compiled stack (TensorRT layer fusion)"),
    "P06": Case("gpu", RunSpec("bert_large", "a100", batch=OFFLINE_BATCH, precision="int8",
                               params=SQUAD),
                note="compiled stack; padding-free over SQuAD v1.1's length distribution (a "
                     "176.6-token mean at 384, OpenReview 3nzKUh9a4M; lognormal shape assumed)"),
    "P07": Case("gpu", RunSpec("resnet50", "jetson_orin", precision="int8"),
                note="compiled stack; Orin efficiencies carried over from the A100"),
    "P08": Case("npu", RunSpec("mobilenet_v2", "coral_edgetpu", precision="int8"),
                note="Edge TPU invoke overhead derived from the same page's MobileNet V1 row"),
    "P09": Case("fpga", RunSpec("resnet50", "zcu102_dpu", batch=3, precision="int8"),
                note="one frame per DPU core, as the Vitis AI multi-thread benchmark runs"),
    "X01": Case("npu", RunSpec("mobilenet_v2", "phone_npu", precision="fp16"),
                note="Qualcomm AI Hub compiles float models to fp16 on the NPU"),
    "X02": Case("npu", RunSpec("resnet50", "phone_npu", precision="fp16"),
                note="Qualcomm AI Hub compiles float models to fp16 on the NPU"),
    "P10": Case("systolic", RunSpec("alexnet", "eyeriss", batch=4, precision="int16",
                                    only="conv2d"),
                note="conv layers only, row-stationary mapping of Chen et al. (JSSC 2017)"),
    "X07": Case("systolic", RunSpec("vgg16", "eyeriss", batch=3, precision="int16", only="conv2d"),
                note="conv layers only, row-stationary mapping as P10: batch 3 per pass where "
                     "it fits, bound by the global buffer's port on the wide layers (its 15 B "
                     "per cycle is derived from the same paper's Table VI GLB accesses)"),
    "X03": Case("gpu", RunSpec("resnet50", "h200", batch=OFFLINE_BATCH, precision="int8"),
                note="compiled stack; Hopper int8 efficiency is the fp8 fraction (estimate)"),
    "X04": Case("gpu", RunSpec("bert_large", "h200", batch=OFFLINE_BATCH, precision="int8",
                               params=SQUAD),
                note="compiled stack; padding-free over SQuAD v1.1's length distribution, as P06"),
    "X05": Case("cpu", RunSpec("resnet50", "xeon_8480", batch=OFFLINE_BATCH, precision="int8"),
                note="compiled stack (oneDNN post-op fusion); one instance per core, as Intel's "
                     "run_offline.sh pins them; one socket of the two-socket system"),
    "X06": Case("cpu", RunSpec("bert_large", "xeon_8480", batch=OFFLINE_BATCH, precision="int8",
                               params=SQUAD),
                note="compiled stack; padding-free over SQuAD v1.1's length distribution, as P06: "
                     "Intel's offline SUT sorts samples by length and packs whole samples up to "
                     "1300 tokens per batch (inference_results v3.0/v3.1 closed/Intel bert-99 "
                     "torch_sut.cpp, run.sh -w 1300); one socket of the two-socket system"),
    "S01": Case("gpu", ServeSpec("llama31_70b", "mi300x", prompt=128, generate=2048,
                                 requests=3200, max_batch=3200, tp=8, precision="fp8"),
                note="vLLM offline: 3200 prompts, max-num-seqs 3200; output tokens/s (the page's "
                     "rate, if it counts prompt tokens too, is 2176/2048 of that)", gap=VLLM_GAP),
    "S02": Case("gpu", ServeSpec("llama31_405b", "mi300x", prompt=128, generate=2048,
                                 requests=1500, max_batch=1500, tp=8, precision="fp8"),
                note="vLLM offline: 1500 prompts, max-num-seqs 1500; output tokens/s, as S01",
                gap=VLLM_GAP),
    "E01": Case("gpu", gemm("a100", 8192, 8192, 8192, "fp16"),
                fitted="a100 energy.mac_pj is fitted to this GEMM drawing the 400 W limit"),
    "E02": Case("gpu", gemm("h100", 8192, 8192, 8192, "bf16"),
                fitted="h100 energy.mac_pj is fitted to its best matmul drawing the 700 W limit"),
    "E03": Case("gpu", LEADERBOARD_V1_DECODE, note=LEADERBOARD_V1_NOTE),
    "E04": Case("gpu", LEADERBOARD_V1_DECODE,
                note=f"{LEADERBOARD_V1_NOTE} (one token; it generated 44 tokens/s)"),
    "E05": Case("gpu", RunSpec("llama3_8b", "h100", precision="bf16", params=DECODE_STEP),
                note=f"one decode step at {DECODE_CONTEXT} tokens of context; {V3_STAND_IN}"),
    "E06": Case("gpu", RunSpec("llama3_8b", "h100", batch=128, precision="bf16",
                               params=DECODE_STEP),
                note=f"one decode step at {DECODE_CONTEXT} tokens of context; {V3_STAND_IN}"),
    **{row: Case("area", RunSpec("gemm", device), note="die area of the component library "
                                                       "(accelsim.devices.area); any run reports it",
                 fitted=fitted)
       for row, device, fitted in (
           ("A01", "tpu_v1", "the library's SRAM, PE and uncore area factors are TPU v1's floor plan"),
           ("A02", "eyeriss", ""), ("A03", "a100", ""),
           ("A04", "v100", "the library's GPU uncore share is V100's die"), ("A05", "h100", ""))},
    "T01": Case("gpu", GPT3_RECIPE, note="tp=8, pp=16, dp=8 (the layout the estimate's 1024 "
                                         "GPUs and batch 1536 allow), full recomputation"),
    "T02": Case("gpu", GPT3_RECIPE, note=MEGATRON_NOTE),
    "T03": Case("gpu", megatron((), 32, 1, 1, 512), note=MEGATRON_NOTE),
    "T04": Case("gpu", megatron((("layers", 80), ("hidden", 12288), ("heads", 96)), 1536, 8, 8,
                                2304), note=MEGATRON_NOTE),
    "T05": Case("gpu", megatron((("layers", 128), ("hidden", 25600), ("heads", 160)), 3072, 8, 64,
                                3072), note=MEGATRON_NOTE),
    "T08": Case("gpu", megatron(MT_NLG, 2240, 8, 35, 2240, recompute="selective",
                                sequence_parallel=True, grad_accumulation="fused"),
                note=KORTHIKANTI_NOTE),
    "T09": Case("gpu", megatron(MT_NLG, 2240, 8, 35, 2240, grad_accumulation="fused"),
                note=KORTHIKANTI_NOTE),
}

# rows accelsim cannot reproduce yet, with the reason
NOT_MODELLED = {
    "T06": "TPU v4 pods: accelsim's parallel model has no 3-D torus, no cross-pod data "
           "parallelism and no PaLM parallel-block layer",
    "T07": "Meta's pipeline schedule (interleaving depth, lighter first and last stages) is not "
           "published in enough detail to reproduce its bubble, and FSDP that keeps gathered "
           "weights between forward and backward is not a ZeRO stage accelsim models",
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
    measured: float              # in `unit`
    measured_si: float           # in SI units, as the totals key reads
    predicted: float | None      # totals[key] of `command --json` (SI units)
    error_pct: float | None      # 100 * (predicted - measured_si) / measured_si
    status: str                  # "validated", "fitted" or "not modelled"
    command: str = ""            # the `accelsim run ...` line whose totals[key] is `predicted`
    key: str = ""                # the Result totals key read
    stack: str = ""              # the software stack the run modelled
    note: str = ""

    @property
    def predicted_in_unit(self) -> float | None:
        """The prediction in the row's unit."""
        if self.predicted is None:
            return None
        return self.predicted * self.measured / self.measured_si

    def to_dict(self) -> dict:
        """JSON-ready dict, with the prediction also in the row's unit."""
        return {**asdict(self), "predicted_in_unit": self.predicted_in_unit}


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


def validate(csv_paths=None, measurements=()) -> ValidationReport:
    """Model every row of the id-keyed reference CSVs (default, when no `measurements` file is
    given either: the bundled public rows plus accelsim's own measurements_extra.csv) and of the
    `measurements` files (accelsim.calibrate.measurements format); each is a path or a sequence."""
    measurements = _paths(measurements)
    if csv_paths is None:
        paths = [] if measurements else [p for p in (REFERENCE_CSV, EXTRA_CSV) if p.is_file()]
    else:
        paths = _paths(csv_paths)
    rows = [_reference_result(row) for path in paths for row in read_reference_rows(path)]
    rows += [_measurement_result(m) for path in measurements for m in read_measurements(path)]
    return ValidationReport("; ".join(str(p) for p in (*paths, *measurements)), tuple(rows))


def _paths(spec) -> list[Path]:
    """A path or a sequence of paths as a list of Paths."""
    if isinstance(spec, (str, Path)):
        return [Path(spec)]
    return [Path(p) for p in spec]


def _reference_result(row: dict) -> RowResult:
    """Predict one id-keyed reference row and compare."""
    case = CASES.get(row["id"])
    measured = float(row["value"])
    base = RowResult(id=row["id"], kind=case.kind if case else "", device=row["device"],
                     workload=row["workload"], metric=row["metric"], unit=row["unit"],
                     measured=measured, measured_si=to_si(measured, row["unit"], row["metric"]),
                     predicted=None, error_pct=None, status="not modelled")
    if row["id"] in NOT_MODELLED:
        return replace(base, note=f"not modelled: {NOT_MODELLED[row['id']]}")
    if case is None:
        return replace(base, note="not modelled: no entry in accelsim.calibrate.validate.CASES")
    note = "; ".join(part for part in (case.fitted and f"fitted: {case.fitted}", case.note,
                                       case.gap and f"known gap: {case.gap}") if part)
    return _predicted(base, case.run, totals_key(row["metric"], row["unit"]), case.best_of,
                      note, "fitted" if case.fitted else "validated")


def _measurement_result(m: Measurement) -> RowResult:
    """Predict one row of a measurements file and compare; a run the device cannot do is "not
    modelled", a bad workload or device an error naming the file and line."""
    base = RowResult(id=m.id or f"{Path(m.file).name}:{m.line}", kind="", device=m.device,
                     workload=m.workload, metric=m.metric, unit=m.unit, measured=m.value,
                     measured_si=m.si, predicted=None, error_pct=None, status="not modelled")
    return _predicted(base, run_of(m), totals_key(m.metric, m.unit), (), m.source, "validated",
                      where=(m.file, m.line))


def _predicted(base: RowResult, run: RunSpec, key: str, best_of: tuple[int, ...], note: str,
               status: str, where: tuple[str, int] | None = None) -> RowResult:
    """The row with the run's prediction at `key` (the best square GEMM of `best_of` sizes),
    or "not modelled" with the reason; with `where` (file, line), only a run the device cannot
    do is "not modelled" and any other error is raised there."""
    try:
        runs = [replace(run, params=(("m", s), ("n", s), ("k", s))) for s in best_of] or [run]
        results = [(spec, spec.simulate()) for spec in runs]
        spec, result = max(results, key=lambda pair: predicted(pair[1].totals, key))
    except (AccelsimError, ImportError, NotImplementedError) as exc:
        if where and isinstance(exc, AccelsimError) and not isinstance(exc, InfeasibleError):
            raise UsageError(exc.message, file=where[0], line=where[1], key=exc.key) from None
        return replace(base, command=run.command(), key=key, note=f"not modelled: {exc}")
    value = result.totals[key]
    error = 100.0 * (value - base.measured_si) / base.measured_si
    return replace(base, kind=base.kind or result.device_kind, predicted=value,
                   error_pct=error, status=status, command=spec.command(), key=key,
                   stack=result.stack, note=note)
