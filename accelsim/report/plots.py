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


VECTOR_UNITS = ("vector", "cuda", "simd")   # units that run non-matmul math (systolic, GPU, CPU)
ROOF_COLOURS = {"memory": "tab:red", "matrix": "tab:blue", "vector": "tab:green"}


class Roofline(NamedTuple):
    """A run's ops placed under its device's roofs (ops without FLOPs or DRAM bytes are left out)."""

    peak_flops: float             # matrix unit FLOP/s at the run's precision
    vector_flops: float | None    # vector unit FLOP/s, where the device has one
    bandwidth: float              # peak off-chip B/s
    names: tuple[str, ...]
    intensity: np.ndarray         # FLOPs per DRAM byte
    achieved: np.ndarray          # FLOP/s
    roof: tuple[str, ...]         # the roof over each op: "memory", "matrix" or "vector"

    @property
    def ridge(self) -> float:
        """Arithmetic intensity where the memory roof meets the matrix roof."""
        return self.peak_flops / self.bandwidth


def vector_peak(device) -> float | None:
    """The device's vector-unit FLOP/s (systolic: per-core rate x cores; GPU: CUDA cores)."""
    if hasattr(device, "vector_flops"):
        return device.vector_flops
    vector = getattr(device, "vector", None)
    return vector.flops_per_cycle * device.cores * device.clock if vector else None


def roofline_data(result: Result, device) -> Roofline:
    """The roofline of `result` on `device` (its loaded config: peak rates and bandwidth)."""
    placed = [layer for layer in result.layers
              if layer.flops > 0 and layer.dram_bytes > 0 and layer.latency_s > 0]
    peak, vector, bandwidth = device.peak_flops(result.precision), vector_peak(device), \
        device.memory.bandwidth
    intensity = np.array([layer.flops / layer.dram_bytes for layer in placed])
    units = ["vector" if vector and layer.unit in VECTOR_UNITS else "matrix" for layer in placed]
    ridges = [(vector if unit == "vector" else peak) / bandwidth for unit in units]
    return Roofline(
        peak_flops=peak, vector_flops=vector, bandwidth=bandwidth,
        names=tuple(layer.name for layer in placed), intensity=intensity,
        achieved=np.array([layer.flops / layer.latency_s for layer in placed]),
        roof=tuple("memory" if i < ridge else unit
                   for i, ridge, unit in zip(intensity, ridges, units)))


def roofline_figure(result: Result, device, path: str) -> None:
    """Ops as points (FLOPs per DRAM byte, achieved FLOP/s) under every roof of the device: memory
    bandwidth, the matrix unit and the vector unit; each op coloured by the roof it sits under."""
    data = roofline_data(result, device)
    plt = _pyplot()
    fig, axis = plt.subplots(figsize=(9, 5.5))
    ridges = [data.ridge] + ([data.vector_flops / data.bandwidth] if data.vector_flops else [])
    low = min(data.intensity.min(initial=min(ridges)), min(ridges)) / 10
    high = max(data.intensity.max(initial=max(ridges)), max(ridges)) * 10
    roofs = [("matrix", data.peak_flops, f"matrix unit {fmt(data.peak_flops, 'FLOP/s')} "
                                         f"({result.precision})")]
    if data.vector_flops:
        roofs.append(("vector", data.vector_flops,
                      f"vector unit {fmt(data.vector_flops, 'FLOP/s')}"))
    for roof, peak, label in roofs:
        flat = np.geomspace(peak / data.bandwidth, high, 50)
        axis.plot(flat, np.full_like(flat, peak), color=ROOF_COLOURS[roof], lw=1.5)
        axis.annotate(label, (high, peak), xytext=(-4, 4), textcoords="offset points",
                      ha="right", va="bottom", fontsize=8, color=ROOF_COLOURS[roof])
    slope = np.geomspace(low, data.ridge, 50)
    axis.plot(slope, slope * data.bandwidth, color=ROOF_COLOURS["memory"], lw=1.5)
    axis.annotate(f"memory {fmt(data.bandwidth, 'B/s')}", (low * 3, low * 3 * data.bandwidth),
                  xytext=(8, -2), textcoords="offset points", ha="left", va="top", fontsize=8,
                  color=ROOF_COLOURS["memory"])
    for roof, colour in ROOF_COLOURS.items():
        picked = [i for i, r in enumerate(data.roof) if r == roof]
        if picked:
            axis.scatter(data.intensity[picked], data.achieved[picked], s=16, color=colour,
                         alpha=0.7, label=f"{len(picked)} ops under the {roof} roof")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlim(low, high)
    axis.set_ylim(top=data.peak_flops * 3)
    axis.set_xlabel("arithmetic intensity (FLOP per DRAM byte)")
    axis.set_ylabel("achieved rate (FLOP/s)")
    axis.grid(which="both", alpha=0.3)
    axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
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
    axis.yaxis.set_major_formatter(_formatter("s"))
    axis.set_ylabel("latency")
    _bound_legend(axis)
    axis.set_title(_title(result))
    _save(fig, path)


def energy_figure(results: Result | Sequence[Result], path: str) -> None:
    """A run's energy by component, or for several runs their totals (log scale) beside the share
    of each component."""
    results = [results] if isinstance(results, Result) else list(results)
    if len(results) == 1:
        return _energy_parts_figure(results[0], path)
    plt = _pyplot()
    rows = np.arange(len(results))
    fig, (total, share) = plt.subplots(1, 2, sharey=True, figsize=(11, 1.6 + 0.28 * len(results)),
                                       gridspec_kw={"width_ratios": (1, 1.3)})
    total.barh(rows, [r.totals["energy_j"] for r in results], color="tab:gray", height=0.7)
    total.set_xscale("log")
    total.set_xlabel("energy per step (J, log scale)")
    total.grid(axis="x", which="both", alpha=0.3)
    left = np.zeros(len(results))
    for part, colour in zip(ENERGY_PARTS, ENERGY_COLOURS):
        values = np.array([_part(r, part) / (r.totals["energy_j"] or 1.0) * 100 for r in results])
        share.barh(rows, values, left=left, color=colour, label=part, height=0.7)
        left += values
    share.set_xlim(0, 100)
    share.set_xlabel("share of the step's energy (%)")
    share.legend(fontsize=8, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    total.set_yticks(rows, [f"{r.workload} · {r.short_device} · {r.mode}" for r in results],
                     fontsize=8)
    total.invert_yaxis()
    fig.suptitle("energy per step by component")
    _save(fig, path)


def _part(result: Result, part: str) -> float:
    """Joules of one energy component of a run."""
    return result.totals.get("energy_breakdown_j", {}).get(part, 0.0)


def _energy_parts_figure(result: Result, path: str) -> None:
    """One run's energy per component as labelled horizontal bars."""
    plt = _pyplot()
    values = [_part(result, part) for part in ENERGY_PARTS]
    total = sum(values) or 1.0
    fig, axis = plt.subplots(figsize=(8, 3.2))
    axis.barh(range(len(values)), values, color=ENERGY_COLOURS, height=0.6)
    for row, value in enumerate(values):
        axis.annotate(f"{fmt(value, 'J')} ({100 * value / total:.0f}%)", (value, row),
                      xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    axis.set_yticks(range(len(values)), ENERGY_PARTS)
    axis.invert_yaxis()
    axis.set_xlim(0, max(values) * 1.3 or 1.0)
    axis.xaxis.set_major_formatter(_formatter("J"))
    axis.set_xlabel(f"energy per step (total {fmt(total, 'J')})")
    axis.set_title(_title(result))
    _save(fig, path)


def timeline_figure(result: Result, path: str) -> None:
    """Gantt chart of layers by start and latency, one row per (unit, phase), coloured by bound; a
    serve run shows its whole request (prefill, then every decode step) above the ops."""
    plt = _pyplot()
    rows = list(dict.fromkeys(_lane(layer) for layer in result.layers))
    serve = result.mode == "serve"
    fig, axes = plt.subplots(2 if serve else 1, 1, squeeze=False,
                             figsize=(10, 1.2 + 0.5 * len(rows) + (2.2 if serve else 0)),
                             gridspec_kw={"height_ratios": (1.4, len(rows))} if serve else None)
    if serve:
        _request_phases(axes[0, 0], result)
    axis = axes[-1, 0]
    for row, lane in enumerate(rows):
        for bound, colour in BOUND_COLOURS.items():
            spans = [(layer.start_s, layer.latency_s) for layer in result.layers
                     if _lane(layer) == lane and layer.bound == bound]
            if spans:
                axis.broken_barh(spans, (row - 0.4, 0.8), facecolors=colour, edgecolor="white",
                                 linewidth=0.2)
    axis.set_yticks(range(len(rows)), rows, fontsize=8)
    axis.invert_yaxis()
    axis.xaxis.set_major_formatter(_formatter("s"))
    axis.set_xlabel("time" + (" (ops of the prefill and of one decode step)" if serve else ""))
    _bound_legend(axis)
    axes[0, 0].set_title(_title(result))
    _save(fig, path)


PHASE_COLOURS = {"prefill": "tab:purple", "decode": ("tab:orange", "navajowhite")}


def _request_phases(axis, result: Result) -> None:
    """A serve request's prefill then its decode steps (each at the mean time per output token)."""
    t = result.totals
    steps = t["generated_tokens"] - 1
    axis.broken_barh([(0.0, t["ttft_s"])], (-0.4, 0.8), facecolors=PHASE_COLOURS["prefill"])
    decode = [(t["ttft_s"] + i * t["tpot_s"], t["tpot_s"]) for i in range(steps)]
    axis.broken_barh(decode, (0.6, 0.8), facecolors=[PHASE_COLOURS["decode"][i % 2]
                                                      for i in range(steps)])
    axis.set_yticks((0, 1), (f"prefill (TTFT {fmt(t['ttft_s'], 's')})",
                             f"decode: {steps} steps x {fmt(t['tpot_s'], 's')}"), fontsize=8)
    axis.set_ylim(-0.7, 1.7)
    axis.invert_yaxis()
    axis.set_xlim(0, t["latency_s"])
    axis.xaxis.set_major_formatter(_formatter("s"))
    axis.set_xlabel(f"time (the whole request: {fmt(t['latency_s'], 's')})")
    axis.grid(axis="x", alpha=0.3)


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
    for column, (scaled, set_scale) in enumerate(((axis.xaxis, axis.set_xscale),
                                                  (axis.yaxis, axis.set_yscale))):
        _scale_axis(scaled, set_scale, everything[:, column], metric_label(names[column]))
    axis.grid(which="both", alpha=0.3)
    axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    axis.set_title("Pareto front over " + ", ".join(metric_label(m.lstrip("-")).split(" (")[0]
                                                    + (" (max)" if m.startswith("-") else "")
                                                    for m in metrics))
    _save(fig, path)


SI_UNITS = ("s", "J", "W", "B")        # axes labelled with SI prefixes (10 ms, 2 mJ)
UNIT_SUFFIXES = (("_mm2", "mm²"), ("_bytes", "B"), ("_per_s", "/s"), ("_s", "s"), ("_j", "J"),
                 ("_w", "W"))
METRIC_NAMES = {"latency_s": "latency", "energy_j": "energy", "area_mm2": "area",
                "average_power_w": "average power", "throughput": "throughput (samples/s)",
                "peak_memory_bytes": "peak memory", "dram_bytes": "DRAM traffic"}


def metric_label(name: str) -> str:
    """A readable axis label of a result key with its unit: "latency_s" -> "latency (s)"."""
    suffix, unit = next(((s, u) for s, u in UNIT_SUFFIXES if name.endswith(s)), ("", ""))
    words = METRIC_NAMES.get(name) or name[:len(name) - len(suffix)].replace("_", " ")
    return f"{words} ({unit})" if unit and "(" not in words else words


def _scale_axis(scaled, set_scale, values: np.ndarray, label: str) -> None:
    """Label an axis; log scale (ticks at 1, 2, 5 per decade) when its values span over a decade;
    SI prefixes on SI units."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    log = len(values) and values.min() > 0 and values.max() / values.min() > 10
    set_scale("log" if log else "linear")
    words, _, unit = label.partition(" (")
    unit = unit.rstrip(")")
    scaled.set_label_text(words if unit in SI_UNITS else label)   # SI ticks carry the unit
    if log:
        scaled.set_major_locator(LogLocator(subs=(1, 2, 5)))
        scaled.set_minor_formatter(NullFormatter())
    if unit in SI_UNITS:
        scaled.set_major_formatter(_formatter(unit))
    elif log:
        scaled.set_major_formatter(FormatStrFormatter("%g"))


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
                fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0,
                frameon=False)


def _formatter(unit: str):
    """Tick labels in `unit` with SI prefixes."""
    from matplotlib.ticker import EngFormatter

    return EngFormatter(unit=unit)
