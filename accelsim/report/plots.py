"""Matplotlib figures of results; matplotlib is imported only when a plot is asked for."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from accelsim.errors import UsageError
from accelsim.result import ENERGY_PARTS, Result
from accelsim.units import fmt


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


BOUND_COLOURS = {"compute": "tab:blue", "memory": "tab:red", "overhead": "tab:gray"}
ENERGY_COLOURS = ("tab:blue", "tab:green", "tab:red", "tab:gray")
SUFFIXES = (".png", ".svg", ".pdf")


class Roofline(NamedTuple):
    """A run's ops placed under its device's roofs (ops without FLOPs or DRAM bytes are left out)."""

    peak_flops: float             # FLOP/s at the run's precision
    bandwidth: float              # peak off-chip B/s
    names: tuple[str, ...]
    intensity: np.ndarray         # FLOPs per DRAM byte
    achieved: np.ndarray          # FLOP/s
    bound: tuple[str, ...]

    @property
    def ridge(self) -> float:
        """Arithmetic intensity where the memory roof meets the compute roof."""
        return self.peak_flops / self.bandwidth


def roofline_data(result: Result, device) -> Roofline:
    """The roofline of `result` on `device` (its loaded config: peak rates and bandwidth)."""
    placed = [layer for layer in result.layers
              if layer.flops > 0 and layer.dram_bytes > 0 and layer.latency_s > 0]
    return Roofline(
        peak_flops=device.peak_flops(result.precision), bandwidth=device.memory.bandwidth,
        names=tuple(layer.name for layer in placed),
        intensity=np.array([layer.flops / layer.dram_bytes for layer in placed]),
        achieved=np.array([layer.flops / layer.latency_s for layer in placed]),
        bound=tuple(layer.bound for layer in placed))


def roofline_figure(result: Result, device, path: str) -> None:
    """Ops as points (FLOPs per DRAM byte, achieved FLOP/s) under the compute and memory roofs."""
    data = roofline_data(result, device)
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(8, 5.5))
    low = min(data.intensity.min(initial=data.ridge), data.ridge) / 10
    high = max(data.intensity.max(initial=data.ridge), data.ridge) * 10
    xs = np.geomspace(low, high, 200)
    axis.plot(xs, np.minimum(data.peak_flops, xs * data.bandwidth), color="black", lw=1.5,
              label=f"roofs: {fmt(data.peak_flops, 'FLOP/s')} ({result.precision}), "
                    f"{fmt(data.bandwidth, 'B/s')}")
    axis.axvline(data.ridge, color="black", ls=":", lw=1, label=f"ridge {data.ridge:.3g} FLOP/B")
    for bound, colour in BOUND_COLOURS.items():
        picked = [i for i, b in enumerate(data.bound) if b == bound]
        if picked:
            axis.scatter(data.intensity[picked], data.achieved[picked], s=14, color=colour,
                         alpha=0.7, label=f"{bound}-bound ops")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("arithmetic intensity (FLOPs / DRAM byte)")
    axis.set_ylabel("achieved FLOP/s")
    axis.grid(which="both", alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(_title(result))
    _save(fig, path)


def layers_figure(result: Result, path: str) -> None:
    """Per-layer latency bars in trace order, coloured by what bounds each layer."""
    plt = _pyplot()
    layers = result.layers
    fig, axis = plt.subplots(figsize=(max(8, min(0.25 * len(layers), 16)), 5))
    axis.bar(range(len(layers)), [layer.latency_s for layer in layers], width=0.85,
             color=[BOUND_COLOURS.get(layer.bound, "tab:gray") for layer in layers])
    if len(layers) <= 60:
        axis.set_xticks(range(len(layers)), [layer.name for layer in layers], rotation=90,
                        fontsize=7)
    else:
        axis.set_xlabel("layer (trace order)")
    axis.yaxis.set_major_formatter(_seconds_formatter())
    axis.set_ylabel("latency")
    _bound_legend(axis)
    axis.set_title(_title(result))
    _save(fig, path)


def energy_figure(results: Result | Sequence[Result], path: str) -> None:
    """Stacked energy per run: compute, on-chip, off-chip and static."""
    results = [results] if isinstance(results, Result) else list(results)
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(max(6, 1.1 * len(results)), 5))
    bottom = np.zeros(len(results))
    for part, colour in zip(ENERGY_PARTS, ENERGY_COLOURS):
        values = np.array([r.totals.get("energy_breakdown_j", {}).get(part, 0.0) for r in results])
        axis.bar(range(len(results)), values, bottom=bottom, color=colour, label=part, width=0.6)
        bottom += values
    axis.set_xticks(range(len(results)),
                    [f"{r.workload}\n{r.device}\n{r.mode}" for r in results], fontsize=7)
    axis.set_ylabel("energy per step (J)")
    axis.legend(fontsize=8)
    axis.set_title("energy breakdown" if len(results) > 1 else _title(results[0]))
    _save(fig, path)


def timeline_figure(result: Result, path: str) -> None:
    """Gantt chart of layers by start and latency, one row per (unit, phase), coloured by bound."""
    plt = _pyplot()
    rows = list(dict.fromkeys(_lane(layer) for layer in result.layers))
    fig, axis = plt.subplots(figsize=(10, 1.2 + 0.5 * len(rows)))
    for row, lane in enumerate(rows):
        for bound, colour in BOUND_COLOURS.items():
            spans = [(layer.start_s, layer.latency_s) for layer in result.layers
                     if _lane(layer) == lane and layer.bound == bound]
            if spans:
                axis.broken_barh(spans, (row - 0.4, 0.8), facecolors=colour, edgecolor="white",
                                 linewidth=0.2)
    axis.set_yticks(range(len(rows)), rows, fontsize=8)
    axis.invert_yaxis()
    axis.xaxis.set_major_formatter(_seconds_formatter())
    axis.set_xlabel("time")
    _bound_legend(axis)
    axis.set_title(_title(result))
    _save(fig, path)


def pareto_figure(records: Sequence[dict], front: Sequence[dict], metrics: Sequence[str],
                  path: str) -> None:
    """Sweep points on the first two metrics with their Pareto `front` (of all `metrics`) highlighted."""
    if len(metrics) < 2:
        raise UsageError("a Pareto plot needs two metrics, e.g. latency_s,energy_j", key="pareto")
    valid = [record for record in records if "error" not in record]
    names = [metric.lstrip("-") for metric in metrics[:2]]
    everything = _columns(valid, names)
    best = _columns(front, names)
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(7, 5.5))
    axis.scatter(everything[:, 0], everything[:, 1], s=10, color="tab:gray", alpha=0.5,
                 label=f"{len(valid)} design points")
    order = np.argsort(best[:, 0], kind="stable")
    flat = len(metrics) == 2      # a 2-D front is a staircase; a deeper one is only its points
    axis.plot(best[order, 0], best[order, 1], marker="o", color="tab:red", ms=5, lw=1,
              ls="-" if flat else "none", drawstyle="steps-post" if flat else "default",
              label=f"Pareto front ({len(front)})")
    for column, set_scale in ((0, axis.set_xscale), (1, axis.set_yscale)):
        values = everything[:, column]
        if len(values) and values.min() > 0 and values.max() / values.min() > 100:
            set_scale("log")
    axis.set_xlabel(names[0])
    axis.set_ylabel(names[1])
    axis.grid(which="both", alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(f"Pareto front over {', '.join(metrics)}")
    _save(fig, path)


def _columns(records: Sequence[dict], names: Sequence[str]) -> np.ndarray:
    """(records, names) array of the records' values."""
    return np.array([[record[name] for name in names] for record in records],
                    dtype=np.float64).reshape(len(records), len(names))


KINDS = ("layers", "roofline", "energy", "timeline")


def plot_result(result: Result, kind: str, path: str, *, device=None):
    """Draw one kind of figure of a run to `path` (.png, .svg or .pdf); roofline needs `device`."""
    check_path(path)
    if kind == "roofline":
        if device is None:
            raise UsageError("the roofline plot needs the device (its peak rates)", key="device")
        return roofline_figure(result, device, path)
    draw = {"layers": layers_figure, "energy": energy_figure, "timeline": timeline_figure}.get(kind)
    if draw is None:
        raise UsageError(f"unknown plot kind {kind!r}; expected one of {', '.join(KINDS)}",
                         key="plot-kind")
    return draw(result, path)


def save_plot(result: Result, path: str, kind: str = "layers", *, device=None) -> None:
    """plot_result with the argument order of `accelsim run --plot FILE --plot-kind KIND`."""
    plot_result(result, kind, path, device=device)


def check_path(path: str) -> None:
    """Refuse a figure path whose suffix picks no supported format."""
    if Path(path).suffix.lower() not in SUFFIXES:
        raise UsageError(f"cannot tell the figure format of {path!r}; use a "
                         f"{', '.join(SUFFIXES)} file name", key="plot")


def _save(fig, path: str) -> None:
    """Write the figure (format by suffix) and release it."""
    import matplotlib.pyplot as plt

    check_path(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _title(result: Result) -> str:
    """One line naming the run."""
    return f"{result.workload} on {result.device} ({result.mode}, {result.precision}, " \
           f"batch {result.batch})"


def _lane(layer) -> str:
    """The timeline row of a layer."""
    return f"{layer.unit or 'device'} · {layer.phase}"


def _bound_legend(axis) -> None:
    """A legend of the bound colours."""
    from matplotlib.patches import Patch

    axis.legend(handles=[Patch(color=c, label=f"{b}-bound") for b, c in BOUND_COLOURS.items()],
                fontsize=8)


def _seconds_formatter():
    """Tick labels in seconds with SI prefixes."""
    from matplotlib.ticker import EngFormatter

    return EngFormatter(unit="s")
