"""Matplotlib figures of results; matplotlib is imported only when a plot is asked for."""

from __future__ import annotations

from collections.abc import Sequence

from accelsim.report.result import Result


def _pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def comparison_figure(results: Sequence[Result], path: str) -> None:
    """Grouped log-scale bars of latency and energy per (workload, mode), one colour per device."""
    plt = _pyplot()
    groups = list(dict.fromkeys((r.workload, r.mode) for r in results))
    devices = list(dict.fromkeys(r.device for r in results))
    lookup = {(r.workload, r.mode, r.device): r for r in results}
    width = 0.8 / len(devices)
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 1.2 * len(groups)), 8), sharex=True)
    for axis, key, label in ((axes[0], "latency_s", "latency per step (s)"),
                             (axes[1], "energy_j", "energy per step (J)")):
        for d, device in enumerate(devices):
            xs, ys = [], []
            for g, (workload, mode) in enumerate(groups):
                result = lookup.get((workload, mode, device))
                if result is not None:
                    xs.append(g + (d - (len(devices) - 1) / 2) * width)
                    ys.append(result.totals[key])
            axis.bar(xs, ys, width=width, label=device)
        axis.set_yscale("log")
        axis.set_ylabel(label)
        axis.grid(axis="y", which="both", alpha=0.3)
    axes[1].set_xticks(range(len(groups)), [f"{w}\n{m}" for w, m in groups], fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", fontsize=8, ncol=2, frameon=False)
    fig.suptitle("accelsim: one device of each kind, inference and training")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)
