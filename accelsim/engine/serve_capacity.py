"""Capacity: the highest arrival rate whose run meets an SLO, by bisection over QPS (as Vidur's
search, Agrawal et al. MLSys 2024), and QPS per dollar from the device's price_per_hour.

The arrivals of the run at capacity should span many request latencies (else it is warned): a
short burst meets an SLO at rates no server sustains. Every trial replays the same requests (one seed: the same lengths and the same unit-rate arrival
pattern, scaled to the trial's QPS), so a higher rate only compresses the same arrivals.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from accelsim.engine.serve_load import ServeLoadResult, ServeSetup, run_load
from accelsim.workload.requests import Requests

TOLERANCE = 0.02          # stop when the bracket is within 2% of its upper end
STEADY_RATIO = 5          # arrivals should span this many mean e2e latencies for a steady state
LOWEST_QPS = 1e-3
HIGHEST_QPS = 1e5


def _meets(setup: ServeSetup, requests: Requests, slo: str) -> tuple[bool, ServeLoadResult]:
    """Whether a run meets the SLO, and the run."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # refusals are warned once, by the first run
        result = run_load(setup, requests, slo)
    return result.totals["slo_met"], result


def search_capacity(setup: ServeSetup, requests_at: Callable[[float], Requests], slo: str,
                    start_qps: float = 1.0) -> tuple[float, ServeLoadResult | None, int]:
    """(capacity QPS, the run at it, runs made); capacity 0 and no run if even LOWEST_QPS fails."""
    runs = 0
    best: ServeLoadResult | None = None

    def trial(qps: float) -> bool:
        nonlocal runs, best
        runs += 1
        ok, result = _meets(setup, requests_at(qps), slo)
        if ok:
            best = result
        return ok

    factor = 2.0 if trial(start_qps) else 0.5
    lo = hi = start_qps
    while LOWEST_QPS <= hi <= HIGHEST_QPS:
        hi *= factor
        if trial(hi) != (factor > 1):
            break
        lo = hi
    else:
        if factor < 1:
            return 0.0, None, runs
        hi = lo                            # met at the highest rate tried: no bracket to bisect
    lo, hi = sorted((lo, hi))
    while hi - lo > TOLERANCE * hi:
        mid = (lo + hi) / 2
        if trial(mid):
            lo = mid
        else:
            hi = mid
    _check_steady(lo, best)
    return lo, best, runs


def _check_steady(qps: float, run: ServeLoadResult | None) -> None:
    """Warn when the run at capacity is too short for its queues to reach a steady state (a short
    burst of requests meets an SLO at rates no server sustains)."""
    if run is None or not qps:
        return
    window = run.totals["requests"] / qps
    if window < STEADY_RATIO * run.totals["e2e_mean_s"]:
        warnings.warn(f"capacity {qps:.3g} QPS comes from {window:.3g} s of arrivals, under "
                      f"{STEADY_RATIO} mean e2e latencies: queues may not reach a steady state; "
                      f"simulate more requests", stacklevel=3)


def price_totals(capacity_qps: float, devices: int, price_per_hour: float | None) -> dict:
    """Capacity per dollar: QPS per USD/hour of the devices serving it (absent without a price)."""
    if not price_per_hour:
        return {}
    hourly = devices * price_per_hour
    return {"usd_per_hour": hourly, "qps_per_usd_per_hour": capacity_qps / hourly,
            "usd_per_million_requests": hourly / (capacity_qps * 3600) * 1e6
            if capacity_qps else None}
