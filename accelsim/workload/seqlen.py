"""Sequence-length distributions of transformer batches: `--param seq_len=SPEC`.

A batch of B sequences of lengths L_i costs, where the runtime removes padding (TensorRT's
variable-length BERT, FasterTransformer's remove-padding, FlashAttention's varlen kernels), its
token-wise ops (embeddings, projections, MLP, norms) on sum L_i = B E[L] tokens and its attention
scores, softmax and context on sum L_i^2 = B E[L^2] query-key pairs per head; a mean length alone
undercounts attention by E[L^2] / E[L]^2. A padded batch runs every sequence at the padded length.
Expected values, never samples: the cost is deterministic.

The graph keeps its [B, S, ...] layout: S = round(E[L]) tokens a sequence, and every query attends
over round(E[L^2] / E[L]) keys (its own sequence's length, averaged over tokens), so the sums hold
to rounding (within 0.5 / E[L] of each). The ragged attention GEMMs (one per sequence, of varied
size) are costed as their sum: B equal GEMMs of that mean shape, at the mean shape's efficiency
(each sequence's own tile quantization is not modelled).

SPEC: a whole number (a fixed length, as before); uniform:A:B, lognormal:MEAN:SIGMA or
zipf:THETA:MAX as `accelsim serve --prompt` reads them (accelsim.workload.requests), a lognormal
rounded to whole tokens and clipped at the model's context (tokenizers truncate there); file:PATH
(a CSV of one length per line, or `length,count` rows; a header line and # comments allowed); or
a name in NAMED. Padding-free runs: the compiled stack on GPUs and CPUs (PADDING_FREE); others pad
to the longest length the distribution gives (uniform's B, zipf's MAX, the file's longest, a named
distribution's maximum, the model's context for a lognormal).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from accelsim.errors import UsageError, WorkloadError, did_you_mean
from accelsim.workload.requests import LENGTH_SHAPES, length_spec

KEY = "seq_len"
PADDING_FREE = (("compiled", "gpu"), ("compiled", "cpu"))  # (stack, kind) whose runtime drops padding
MAX_SIGMA = 10.0                          # a lognormal wider than this spans > 40 decades
TAIL_SIGMAS = 12.0                        # lognormal mass beyond mu + 12 sigma (< 2e-33) is dropped
# SQuAD v1.1 dev under BERT's WordPiece at max_seq_length 384 (doc stride 128), as MLPerf runs it:
# no per-feature histogram is published, so the shape is assumed lognormal, fitted to two
# published facts: padding is 54% of the tokens at 384 (Zhang et al., "Reducing BERT Computation
# by Padding Removal and Curriculum Learning", ISPASS 2021, OpenReview 3nzKUh9a4M), a mean of
# 176.6 tokens; and the 10,570 dev questions (Rajpurkar et al. 2016) make 10,833 features
# (MLPerf Inference's BERT sample count, mlcommons/inference docs), so 263 / 10,833 = 2.4% of
# the features are a long paragraph's first window, cut at the full 384.
NAMED = {"squad": ("lognormal:178.4:0.436", 384)}     # name -> (spec, longest length)


@dataclass(frozen=True)
class SeqLengths:
    """A length distribution as given, and whether the run pads its batches to the longest."""

    spec: str
    padded: bool = False


@dataclass(frozen=True)
class Shape:
    """Per sequence of a batch: tokens through the token-wise ops and keys each query attends
    over, with the distribution's figures for Graph.meta (empty for a plain length)."""

    tokens: int
    keys: int
    meta: dict


def is_lengths(value: object) -> bool:
    """Whether a seq_len parameter is a distribution (a spec or SeqLengths), not a plain int."""
    return isinstance(value, (str, SeqLengths))


def padding_free(stack: str, kind: str) -> bool:
    """Whether a run on `stack` and a device of `kind` removes padding (see PADDING_FREE)."""
    return (stack, kind) in PADDING_FREE


def run_lengths(params: dict, stack: str, kind: str) -> dict:
    """Workload `params` with a seq_len distribution marked padded where the run pads."""
    value = params.get(KEY)
    if not is_lengths(value) or padding_free(stack, kind):
        return params
    spec = value.spec if isinstance(value, SeqLengths) else value
    return params | {KEY: SeqLengths(spec, padded=True)}


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF, elementwise."""
    return 0.5 * np.vectorize(math.erfc, otypes=[float])(-z / math.sqrt(2.0))


def _lognormal(mean: float, sigma: float, cap: int, spec: str) -> tuple[np.ndarray, np.ndarray]:
    """(lengths, probabilities) of a lognormal of `mean` and log-space `sigma` rounded to whole
    tokens, clipped to 1..cap."""
    if sigma > MAX_SIGMA:
        raise UsageError(f"a lognormal sigma over {MAX_SIGMA:g} is out of range, got {spec!r}",
                         key=KEY)
    mu = math.log(mean) - sigma * sigma / 2
    reach = mu + TAIL_SIGMAS * sigma
    upper = cap - 1 if reach >= math.log(cap) else min(cap - 1, math.ceil(math.exp(reach)))
    below = _normal_cdf((np.log(np.arange(1, upper + 1) + 0.5) - mu) / sigma)   # P(X < L + 0.5)
    top = 1.0 - float(_normal_cdf(np.array([(math.log(cap - 0.5) - mu) / sigma]))[0]) \
        if cap > 1 else 1.0
    return (np.append(np.arange(1, upper + 1), cap),
            np.append(np.diff(below, prepend=0.0), top))


def _csv_lengths(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(lengths, counts) of a lengths file (see the module docstring)."""
    from accelsim.files import read_text      # PyYAML with it: off the run path

    text = read_text(path, path, UsageError)
    lengths, counts = [], []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        fields = [field.strip() for field in row]
        if not any(fields) or fields[0].startswith("#"):
            continue
        if len(fields) > 2:
            raise UsageError("expected a length, or length,count", file=path, line=number)
        try:
            values = [float(field) for field in fields]
        except ValueError:
            if number == 1 and not lengths:
                continue                                  # a header
            raise UsageError(f"expected numbers, got {','.join(fields)!r}", file=path,
                             line=number) from None
        length, count = values[0], values[1] if len(values) == 2 else 1.0
        if not (math.isfinite(length) and length == int(length) and 1 <= length <= 2**31):
            raise UsageError(f"a length must be a positive whole number, got {fields[0]!r}",
                             file=path, line=number)
        if not (math.isfinite(count) and 0 <= count <= 2**53):
            raise UsageError(f"a count must be a number >= 0, got {fields[1]!r}", file=path,
                             line=number)
        lengths.append(int(length))
        counts.append(count)
    if not sum(counts):
        raise UsageError("the file lists no sequence lengths", file=path)
    return np.array(lengths, dtype=np.int64), np.array(counts)


def _is_number(text: str) -> bool:
    """Whether `text` reads as a number."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_longest(longest: int, cap: int, spec: str) -> None:
    """Refuse lengths over the model's context (less any cached tokens)."""
    if longest > cap:
        raise WorkloadError(f"{spec!r} gives lengths up to {longest}, over the {cap} tokens the "
                            f"model's context leaves", key=KEY)


def distribution(spec: str, cap: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(lengths, probabilities, padded length) of length spec `spec` for a model whose context
    leaves `cap` tokens (see the module docstring)."""
    name = spec.strip()
    if name.lower() in NAMED:
        named, longest = NAMED[name.lower()]
        _check_longest(longest, cap, spec)
        return distribution(named, longest)
    if name.lower().startswith("file:"):
        lengths, counts = _csv_lengths(name[len("file:"):])
        longest = int(lengths[counts > 0].max())
        _check_longest(longest, cap, spec)
        return lengths, counts / counts.sum(), longest
    if name.split(":")[0] not in LENGTH_SHAPES and not _is_number(name):
        raise UsageError(f"expected a length, {', '.join(LENGTH_SHAPES.values())}, file:PATH or "
                         f"{' or '.join(NAMED)}; got {spec!r}{did_you_mean(name, list(NAMED))}",
                         key=KEY)
    kind, args = length_spec(spec, KEY)
    if kind == "fixed":
        _check_longest(args[0], cap, spec)
        return np.array(args, dtype=np.int64), np.ones(1), args[0]
    a, b = args
    if kind == "lognormal":
        if a > cap:
            raise WorkloadError(f"{spec!r} has a mean over the {cap} tokens the model's context "
                                f"leaves", key=KEY)
        return (*_lognormal(a, b, cap, spec), cap)
    lo, hi = (math.ceil(a), math.floor(b)) if kind == "uniform" else (1, int(b))
    if lo > hi:
        raise UsageError(f"{spec!r} holds no whole length", key=KEY)
    _check_longest(hi, cap, spec)
    lengths = np.arange(lo, hi + 1)
    weights = np.ones(len(lengths)) if kind == "uniform" else lengths.astype(np.float64) ** -a
    return lengths, weights / weights.sum(), hi


def moments(spec: str, cap: int) -> tuple[float, float, int]:
    """(E[L], E[L^2], padded length) of length spec `spec` (see distribution)."""
    lengths, probs, longest = distribution(spec, cap)
    values = lengths.astype(np.float64)
    return float(probs @ values), float(probs @ (values * values)), longest


def shape(seq_len: int | str | SeqLengths, max_positions: int, past: int = 0) -> Shape:
    """What each sequence of a batch costs (Shape), `past` cached tokens counting against the
    model's `max_positions`; a plain int is that many tokens and keys, exactly."""
    if not is_lengths(seq_len):
        if seq_len + past > max_positions:
            raise WorkloadError(f"must be at most {max_positions} (the model's context), got "
                                f"{seq_len + past}", key=KEY)
        return Shape(seq_len, seq_len, {})
    lengths = seq_len if isinstance(seq_len, SeqLengths) else SeqLengths(seq_len)
    if past >= max_positions:
        raise WorkloadError(f"past={past} leaves no room in the model's {max_positions}-token "
                            f"context", key="past")
    mean, mean_square, longest = moments(lengths.spec, max_positions - past)
    tokens, keys = (longest, longest) if lengths.padded else \
        (max(1, round(mean)), max(1, round(mean_square / mean)))
    return Shape(tokens, keys, {"seq_lengths": lengths.spec, "seq_mean": mean,
                                "seq_mean_square": mean_square, "seq_padded": lengths.padded,
                                "seq_padded_length": longest, "seq_keys": keys})
