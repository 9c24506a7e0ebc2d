"""Figures of serving under load: latency CDFs of a run, latency against offered load of a sweep."""

from __future__ import annotations

import numpy as np

from accelsim.report.plots import _formatter, _pyplot, _save, check_path

PLOT_KINDS = ("cdf", "load")
CDF_METRICS = (("ttft_s", "TTFT"), ("tbt_mean_s", "mean TBT (per request)"), ("e2e_s", "e2e"))
LOAD_METRICS = (("ttft_p90_s", "TTFT p90"), ("tbt_p99_s", "TBT p99"), ("e2e_p50_s", "e2e p50"))


def _seconds_scale(axes, which: str) -> None:
    """Seconds with SI labels on the `which` ("x"/"y") axis: log scale if it spans a decade, else
    at most five ticks (SI labels such as "520 us" are wide)."""
    from matplotlib.ticker import MaxNLocator

    axis = axes.xaxis if which == "x" else axes.yaxis
    low, high = axis.get_data_interval()
    if low > 0 and high >= 10 * low:
        (axes.set_xscale if which == "x" else axes.set_yscale)("log")
    else:
        axis.set_major_locator(MaxNLocator(nbins=5))
    axis.set_major_formatter(_formatter("s"))


def latency_cdf_figure(results: dict, path: str) -> None:
    """Empirical CDFs of TTFT, per-request mean TBT and e2e, one line per labelled run."""
    check_path(path)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(CDF_METRICS), figsize=(12, 3.6))
    for axis, (key, name) in zip(axes, CDF_METRICS):
        for label, result in results.items():
            values = np.sort(result.requests[key][~np.isnan(result.requests[key])])
            axis.step(values, np.arange(1, len(values) + 1) / len(values), where="post",
                      label=label)
        _seconds_scale(axis, "x")
        axis.set_xlabel(name)
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("fraction of requests")
    axes[-1].legend(fontsize=8)
    _save(fig, path)


def latency_load_figure(sweeps: dict, path: str, slo: dict | None = None) -> None:
    """TTFT p90, TBT p99 and e2e p50 against offered QPS, one line per labelled sweep; dashed
    lines mark the SLO's bounds on the same percentiles."""
    check_path(path)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(LOAD_METRICS), figsize=(12, 3.6))
    for axis, (key, name) in zip(axes, LOAD_METRICS):
        for label, points in sweeps.items():
            axis.plot([p["qps"] for p in points], [p["totals"][key] for p in points], "o-",
                      label=label, markersize=3)
        if slo and key in slo:
            axis.axhline(slo[key], color="gray", linestyle="--", linewidth=1, label="SLO")
        _seconds_scale(axis, "y")
        axis.set_xlabel("offered load (requests/s)")
        axis.set_title(name)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("latency")
    axes[-1].legend(fontsize=8)
    _save(fig, path)
