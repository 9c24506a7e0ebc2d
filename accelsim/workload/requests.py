"""Serving requests: arrival times and prompt/output lengths, sampled or read from a trace file.

Lengths are a number ("512") or a distribution: "uniform:A:B" (integers A..B), "lognormal:MEAN:SIGMA"
(mean MEAN tokens, log-space sigma SIGMA), "zipf:THETA:MAX" (P(k) ~ k^-THETA over 1..MAX, as Vidur's
Zipf length generator). Profiles (`LENGTH_PROFILES`) are lognormals fitted to a published median and
90th percentile. Arrivals: "poisson" (exponential gaps), "gamma" (gaps of coefficient of variation
`cv`, burstier than Poisson when cv > 1) or "constant" (every 1/qps seconds), as in Vidur's interval
generators, or "offline" (all at time 0, as MLPerf's Offline scenario and vLLM's throughput benchmark). A trace file (CSV with a header, or JSON lines) gives arrival_s, prompt_tokens and
output_tokens per request.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass

import numpy as np

from accelsim.errors import UsageError

ARRIVALS = ("poisson", "gamma", "constant", "offline")
LENGTH_SHAPES = {"uniform": "uniform:A:B", "lognormal": "lognormal:MEAN:SIGMA",
                 "zipf": "zipf:THETA:MAX"}      # a drawn length spec's kind -> its form
TRACE_KEYS = ("arrival_s", "prompt_tokens", "output_tokens")
Z90 = 1.2815515655446004        # standard normal 90th percentile

# name -> ((prompt median, P90), (output median, P90)) in tokens, and the source of the figures
# (Llama-2 tokenizer counts). The prompt medians, 1730 and 7059, are confirmed by a published summary
# of the paper's Table 2; the P90s and output lengths were entered without the table at hand.
LENGTH_PROFILES = {
    "sharegpt": (((1730, 5696), (415, 834)),
                 "openchat_sharegpt4 (ShareGPT GPT-4 chats): Agrawal et al., Sarathi-Serve, "
                 "OSDI 2024, Table 2"),
    "arxiv": (((7059, 12985), (208, 371)),
              "arxiv_summarization: Agrawal et al., Sarathi-Serve, OSDI 2024, Table 2"),
}


@dataclass(frozen=True)
class Requests:
    """Arrival times (s, ascending) and prompt / output token counts of a serving run."""

    arrival_s: np.ndarray
    prompt: np.ndarray
    output: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival_s)


def _number(text: str, key: str, spec: str) -> float:
    """A finite positive number from a length spec's field."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"expected a positive number in {spec!r}, got {text!r}", key=key)
    return value


def lognormal_profile(median: float, p90: float) -> str:
    """The "lognormal:MEAN:SIGMA" spec with this median and 90th percentile."""
    sigma = math.log(p90 / median) / Z90
    return f"lognormal:{median * math.exp(sigma**2 / 2):.6g}:{sigma:.6g}"


def length_spec(spec: str, key: str) -> tuple[str, tuple[float, ...]]:
    """A length spec (see the module docstring) checked and split: ("fixed", (tokens,)) or
    ("uniform" | "lognormal" | "zipf", (a, b))."""
    kind, *args = str(spec).strip().split(":")
    if not args:
        value = _number(kind, key, spec)
        if value != int(value) or value > 2**31:
            raise UsageError(f"expected a whole number of tokens, got {spec!r}", key=key)
        return "fixed", (int(value),)
    if kind not in LENGTH_SHAPES or len(args) != LENGTH_SHAPES[kind].count(":"):
        *forms, last = LENGTH_SHAPES.values()
        raise UsageError(f"expected a number, {', '.join(forms)} or {last}, got {spec!r}", key=key)
    a, b = (_number(arg, key, spec) for arg in args)
    if kind == "uniform" and a > b:
        raise UsageError(f"uniform:A:B needs A <= B, got {spec!r}", key=key)
    return kind, (a, b)


def sample_lengths(spec: str, n: int, rng: np.random.Generator, key: str) -> np.ndarray:
    """`n` token counts (>= 1) drawn from length spec `spec` (see the module docstring)."""
    kind, args = length_spec(spec, key)
    if kind == "fixed":
        return np.full(n, args[0], dtype=np.int64)
    a, b = args
    if kind == "uniform":
        values = rng.integers(math.ceil(a), math.floor(b) + 1, size=n)
    elif kind == "lognormal":
        values = np.rint(rng.lognormal(math.log(a) - b * b / 2, b, size=n))
    else:
        ranks = np.arange(1, int(b) + 1, dtype=np.float64)
        weights = ranks ** -a
        values = rng.choice(ranks, size=n, p=weights / weights.sum())
    return np.clip(values, 1, 2**31).astype(np.int64)


def arrival_times(n: int, qps: float, arrival: str, cv: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Arrival times of `n` requests at mean rate `qps` (see the module docstring)."""
    if arrival == "poisson":
        gaps = rng.exponential(1 / qps, size=n)
    elif arrival == "gamma":
        shape = 1 / (cv * cv)
        gaps = rng.gamma(shape, 1 / (qps * shape), size=n)
    elif arrival == "constant":
        gaps = np.full(n, 1 / qps)
    elif arrival == "offline":
        gaps = np.zeros(n)
    else:
        raise UsageError(f"unknown arrival process {arrival!r}; expected one of "
                         f"{', '.join(ARRIVALS)}", key="arrival")
    return np.cumsum(gaps)


def _trace_rows(text: str, path: str):
    """(line number, row dict) of a CSV or JSON-lines trace."""
    first = text.lstrip()[:1]
    if first == "{":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UsageError(f"not a JSON object: {exc.msg}", file=path,
                                     line=number) from None
                if not isinstance(row, dict):
                    raise UsageError("expected a JSON object per line", file=path, line=number)
                yield number, row
        return
    reader = csv.DictReader(io.StringIO(text))
    missing = [key for key in TRACE_KEYS if key not in (reader.fieldnames or ())]
    if missing:
        raise UsageError(f"CSV header lacks {', '.join(missing)} (needs {', '.join(TRACE_KEYS)})",
                         file=path, line=1)
    for row in reader:
        yield reader.line_num, row


def _field(row: dict, key: str, path: str, line: int, whole: bool) -> float:
    """One trace field as a finite number (a positive integer if `whole`)."""
    if key not in row or row[key] in (None, ""):
        raise UsageError("missing value", file=path, line=line, key=key)
    try:
        value = float(row[key])
    except (TypeError, ValueError):
        raise UsageError(f"expected a number, got {row[key]!r}", file=path, line=line,
                         key=key) from None
    if not math.isfinite(value) or value < 0 or (whole and (value < 1 or value != int(value)
                                                              or value > 2**31)):
        kind = "a positive whole number of tokens" if whole else "a finite time >= 0"
        raise UsageError(f"expected {kind}, got {row[key]!r}", file=path, line=line, key=key)
    return value


def load_trace(path: str, limit: int | None = None) -> Requests:
    """Requests from a trace file (the first `limit` rows, if given), sorted by arrival."""
    from accelsim.files import read_text      # PyYAML with it: off the run path

    text = read_text(path, path, UsageError)
    if not text.strip():
        raise UsageError("the trace has no requests", file=path)
    rows = []
    for line, row in _trace_rows(text, path):
        rows.append(tuple(_field(row, key, path, line, key != "arrival_s") for key in TRACE_KEYS))
        if limit and len(rows) == limit:
            break
    if not rows:
        raise UsageError("the trace has no requests", file=path)
    table = np.array(sorted(rows))
    return Requests(table[:, 0], table[:, 1].astype(np.int64), table[:, 2].astype(np.int64))


def profile_lengths(name: str) -> tuple[str, str]:
    """(prompt spec, output spec) of a named length profile."""
    if name not in LENGTH_PROFILES:
        raise UsageError(f"unknown length profile {name!r}; expected one of "
                         f"{', '.join(LENGTH_PROFILES)}", key="lengths")
    (prompt, output), _source = LENGTH_PROFILES[name]
    return lognormal_profile(*prompt), lognormal_profile(*output)


def is_distribution(spec: str) -> bool:
    """Whether a length spec draws lengths (not one fixed number)."""
    return ":" in str(spec)


def fit_lengths(prompt: np.ndarray, output: np.ndarray, max_tokens: int):
    """Prompt and output lengths scaled down together where their sum exceeds `max_tokens` (as
    Vidur's trace length generator does with its max_tokens)."""
    scale = np.minimum(1.0, max_tokens / (prompt + output))
    return (np.maximum(1, np.floor(prompt * scale)).astype(np.int64),
            np.maximum(1, np.floor(output * scale)).astype(np.int64))


def synthetic_requests(n: int, qps: float, *, arrival: str = "poisson", cv: float = 1.0,
                       prompt: str = "512", output: str = "128", seed: int = 0,
                       max_tokens: int | None = None) -> Requests:
    """`n` requests arriving at `qps` with lengths drawn from the `prompt` and `output` specs;
    drawn lengths (not fixed ones) are fitted to `max_tokens` if given."""
    rng = np.random.default_rng(seed)
    times = arrival_times(n, qps, arrival, cv, rng)
    prompts, outputs = sample_lengths(prompt, n, rng, "prompt"), sample_lengths(output, n, rng,
                                                                                "generate")
    if max_tokens and (is_distribution(prompt) or is_distribution(output)):
        prompts, outputs = fit_lengths(prompts, outputs, max_tokens)
    return Requests(times, prompts, outputs)
