"""Latency metrics of a serving run: percentiles, SLOs and goodput.

TTFT is arrival to first token (queueing included), TBT the gap between consecutive tokens of a
request (all gaps of all requests pooled), e2e arrival to last token. An SLO such as
"ttft_p90=2s,tbt_p99=200ms" (Vidur's, Agrawal et al. MLSys 2024, the default) bounds percentiles of
these; a request counts towards goodput when its own TTFT, mean TBT (its time per output token) and
e2e are within the bounds given for those metrics (DistServe's per-request goodput, Zhong et al.
OSDI 2024).
"""

from __future__ import annotations

import re

import numpy as np

from accelsim.errors import UsageError
from accelsim.units import UnitError, parse

METRICS = ("ttft", "tbt", "e2e")
DEFAULT_SLO = "ttft_p90=2s,tbt_p99=200ms"
REPORTED = (("ttft", 50), ("ttft", 90), ("ttft", 99), ("tbt", 50), ("tbt", 99), ("e2e", 50),
            ("e2e", 99))
_SLO_KEY = re.compile(r"^(ttft|tbt|e2e)_p(\d{1,2}(?:\.\d+)?)$")


def parse_slo(text: str) -> dict[tuple[str, float], float]:
    """{(metric, percentile): seconds} from "ttft_p90=2s,tbt_p99=200ms" (seconds if no unit)."""
    slo = {}
    for item in str(text).split(","):
        key, sep, value = item.partition("=")
        match = _SLO_KEY.match(key.strip())
        if not sep or not match:
            raise UsageError(f"expected METRIC_pNN=TIME with METRIC one of {', '.join(METRICS)} "
                             f"(e.g. ttft_p90=2s), got {item.strip()!r}", key="slo")
        try:
            seconds = parse(value.strip(), "time")
        except UnitError as exc:
            raise UsageError(f"{key.strip()}: {exc}", key="slo") from None
        if seconds <= 0:
            raise UsageError(f"{key.strip()} must be a positive time, got {value.strip()!r}",
                             key="slo")
        slo[match.group(1), float(match.group(2))] = seconds
    return slo


def percentile_key(metric: str, q: float) -> str:
    """Totals key of a percentile, e.g. ttft_p90_s."""
    return f"{metric}_p{q:g}_s"


def percentile(values: np.ndarray, q: float) -> float:
    """The q-th percentile (0 for no values)."""
    return float(np.percentile(values, q)) if len(values) else 0.0


def latency_totals(samples: dict[str, np.ndarray], slo: dict) -> dict[str, float]:
    """Reported percentiles and those the SLO names, in seconds."""
    keys = dict.fromkeys([*REPORTED, *slo])
    return {percentile_key(m, q): percentile(samples[m], q) for m, q in keys}


def meets_slo(totals: dict[str, float], slo: dict) -> bool:
    """Whether every percentile the SLO bounds is within its bound."""
    return all(totals[percentile_key(m, q)] <= limit for (m, q), limit in slo.items())


def good_requests(per_request: dict[str, np.ndarray], slo: dict) -> np.ndarray:
    """Per request: within every SLO bound on its own TTFT, mean TBT and e2e."""
    good = np.ones(len(per_request["ttft"]), dtype=bool)
    for (metric, _q), limit in slo.items():
        good &= per_request[metric] <= limit
    return good
