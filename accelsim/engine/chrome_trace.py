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


def write_chrome_trace(run: Result | Timeline, path: str | Path, *, name: str | None = None) -> Path:
    """Write chrome_trace(run) as JSON to `path`; returns the path."""
    path = Path(path)
    path.write_text(json.dumps(chrome_trace(run, name=name)))
    return path
