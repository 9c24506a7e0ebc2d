"""Chrome/Perfetto trace export: one track per resource lane, each op a complete ("X") event on it.

The file is the JSON object form of the Trace Event Format: {"traceEvents": [...],
"displayTimeUnit": "ns"}, with ts and dur in microseconds, one process (the run) and one thread per
track, named by "M" metadata events. A Timeline (the event engine) gives compute-unit and memory-
channel tracks; a Result gives compute-unit tracks placed from its layers' start_s and latency_s.
Open the file in ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from accelsim.engine.cluster_sim import StepTimeline
from accelsim.engine.resources import TOLERANCE, Busy
from accelsim.engine.sim import HOST_LINK, MEMORY, Timeline, unit_name
from accelsim.result import LayerResult, Result

MICROSECONDS = 1e6
PID = 0


def unit_intervals(layers: Sequence[LayerResult]) -> list[Busy]:
    """Busy intervals of each layer on its unit, overlapping layers of one unit on separate lanes."""
    lane_ends: dict[str, list[float]] = {}
    busy = []
    for i in sorted(range(len(layers)), key=lambda i: (layers[i].start_s, i)):
        layer = layers[i]
        start, end = layer.start_s, layer.start_s + layer.latency_s
        ends = lane_ends.setdefault(unit_name(layer.unit), [])
        lane = next((k for k, free_at in enumerate(ends) if free_at <= start + TOLERANCE * end),
                    len(ends))
        ends[lane:lane + 1] = [end]
        busy.append(Busy(unit_name(layer.unit), lane, i, start, end))
    return busy


def _track_names(busy: Sequence[Busy]) -> dict[tuple[str, int], str]:
    """(resource, lane) -> track name, compute units first in order of first use, then channels."""
    first: dict[str, float] = {}
    lanes: dict[str, set[int]] = {}
    for b in busy:
        first[b.resource] = min(first.get(b.resource, b.start_s), b.start_s)
        lanes.setdefault(b.resource, set()).add(b.lane)
    order = sorted(first, key=lambda r: (r in (MEMORY, HOST_LINK), first[r], r))
    return {(r, lane): r if len(lanes[r]) == 1 else f"{r} {lane}"
            for r in order for lane in sorted(lanes[r])}


def chrome_trace(run: Result | Timeline, *, name: str | None = None) -> dict:
    """The run as a Trace Event Format object; `name` labels the process (default: from a Result)."""
    if isinstance(run, Timeline):
        layers, busy, title = run.layers, run.busy, name or "accelsim run"
    else:
        layers, busy = run.layers, unit_intervals(run.layers)
        title = name or f"{run.workload} {run.mode} on {run.device}"
    tracks = _track_names(busy)
    tid = {track: i for i, track in enumerate(tracks)}
    events: list[dict] = [{"ph": "M", "name": "process_name", "pid": PID, "args": {"name": title}}]
    for track, label in tracks.items():
        events.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": tid[track],
                       "args": {"name": label}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": tid[track],
                       "args": {"sort_index": tid[track]}})
    for b in sorted(busy, key=lambda b: (b.start_s, tid[b.resource, b.lane])):
        layer = layers[b.op]
        events.append({"name": f"{layer.name} (prefetch)" if b.prefetch else layer.name,
                       "cat": b.resource, "ph": "X",
                       "ts": b.start_s * MICROSECONDS, "dur": (b.end_s - b.start_s) * MICROSECONDS,
                       "pid": PID, "tid": tid[b.resource, b.lane],
                       "args": {"flops": layer.flops, "bytes": layer.dram_bytes,
                                "bound": layer.bound, "phase": layer.phase}})
    return {"traceEvents": events, "displayTimeUnit": "ns"}


def step_chrome_trace(timeline: StepTimeline, *, name: str = "training step") -> dict:
    """A multi-device training step (cluster_sim) as a Trace Event Format object: a track per device
    (its compute) and per link lane (concurrent transfers on a link take separate lanes)."""
    def order(track: tuple[str, int]) -> tuple:
        kind, _, index = track[0].rpartition(" ")
        return kind != "device", kind, int(index), track[1]

    tracks = sorted({(s.track, s.lane) for s in timeline.slices}, key=order)
    lanes = {track: sum(1 for t in tracks if t[0] == track) for track, _ in tracks}
    tid = {track: i for i, track in enumerate(tracks)}
    events: list[dict] = [{"ph": "M", "name": "process_name", "pid": PID, "args": {"name": name}}]
    for (track, lane), i in tid.items():
        label = track if lanes[track] == 1 else f"{track} #{lane}"
        events.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": i,
                       "args": {"name": label}})
        events.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": i,
                       "args": {"sort_index": i}})
    for s in sorted(timeline.slices, key=lambda s: (s.start_s, tid[s.track, s.lane])):
        events.append({"name": s.name, "cat": s.category, "ph": "X", "ts": s.start_s * MICROSECONDS,
                       "dur": (s.end_s - s.start_s) * MICROSECONDS, "pid": PID,
                       "tid": tid[s.track, s.lane]})
    return {"traceEvents": events, "displayTimeUnit": "ns"}


def write_chrome_trace(run: Result | Timeline | StepTimeline, path: str | Path, *,
                       name: str | None = None) -> Path:
    """Write chrome_trace(run) (step_chrome_trace for a training step) as JSON to `path`; returns
    the path."""
    path = Path(path)
    trace = step_chrome_trace(run, name=name or "training step") if isinstance(run, StepTimeline) \
        else chrome_trace(run, name=name)
    path.write_text(json.dumps(trace))
    return path
