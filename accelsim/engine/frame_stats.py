"""What a frame run amounts to: deadline misses, latency percentiles, utilisation, energy and power,
per stream and in total, and the run as a Chrome trace timeline.

Per stream, energy is the dynamic energy of its frames that ran and power that energy over the span;
the total adds the idle (static) power drawn over the whole span. Latency percentiles are over the
frames that ran (dropped frames have none), interpolated linearly between ranks (numpy's default).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass

import numpy as np

from accelsim.engine.chrome_trace import unit_intervals
from accelsim.engine.frames import ACCELERATOR, HOST, FrameRun
from accelsim.engine.sim import Timeline
from accelsim.result import LayerResult


@dataclass(frozen=True)
class FrameStats:
    """Deadline, latency, utilisation and power figures of one stream or of all."""

    name: str
    fps: float | None               # None for the total
    frames: int
    on_time: int
    late: int
    dropped: int
    latency_p50_s: float | None     # None when no frame ran
    latency_p99_s: float | None
    accelerator_utilization: float  # busy time / span
    host_utilization: float
    energy_j: float
    average_power_w: float

    @property
    def missed(self) -> int:
        """Frames late or dropped."""
        return self.late + self.dropped

    @property
    def deadline_miss_rate(self) -> float:
        """Missed frames / frames."""
        return self.missed / self.frames if self.frames else 0.0

    def to_dict(self) -> dict:
        """Fields plus the miss counts."""
        return {**asdict(self), "missed": self.missed,
                "deadline_miss_rate": self.deadline_miss_rate}


def frame_stats(run: FrameRun, streams: Collection[int], name: str, *,
                total: bool = False) -> FrameStats:
    """The figures of `streams` (indices into run.streams); `total` adds the idle power."""
    frames = [f for f in run.frames if f.stream in streams]
    ran = [f for f in frames if not f.dropped]
    latency = np.array([f.latency_s for f in ran])
    p50, p99 = np.percentile(latency, [50, 99]).tolist() if ran else (None, None)
    indices = {i for i, f in enumerate(run.frames) if f.stream in streams}
    busy = {ACCELERATOR: 0.0, HOST: 0.0}
    for s in run.slices:
        if s.frame in indices:
            busy[s.resource] += s.end_s - s.start_s
    dynamic = sum(run.streams[f.stream].dynamic_energy_j for f in ran)
    energy = dynamic + (run.idle_power_w * run.span_s if total else 0.0)
    status = [f.status for f in frames]
    return FrameStats(name=name, fps=None if total else run.streams[frames[0].stream].fps,
                      frames=len(frames), on_time=status.count("on time"),
                      late=status.count("late"),
                      dropped=status.count("dropped"), latency_p50_s=p50, latency_p99_s=p99,
                      accelerator_utilization=busy[ACCELERATOR] / run.span_s,
                      host_utilization=busy[HOST] / run.span_s, energy_j=energy,
                      average_power_w=energy / run.span_s)


def all_stats(run: FrameRun) -> tuple[tuple[FrameStats, ...], FrameStats]:
    """(each stream's figures, the total's)."""
    each = tuple(frame_stats(run, {i}, s.name) for i, s in enumerate(run.streams))
    return each, frame_stats(run, range(len(run.streams)), "total", total=True)


def frame_timeline(run: FrameRun) -> Timeline:
    """The run for chrome_trace: a track per resource (each frame's ops there, back-to-back ones
    merged) and one per stream (each frame from arrival to end or drop, named with its status)."""
    layers = []
    merged: dict[tuple[str, int], tuple[LayerResult, float]] = {}   # -> (event, its end)
    for s in run.slices:
        last, end = merged.get((s.resource, s.frame), (None, None))
        if last is not None and end == s.start_s:
            last.latency_s = s.end_s - last.start_s
        else:
            last = _event(run, s.frame, s.resource, s.start_s, s.end_s)
            layers.append(last)
        merged[s.resource, s.frame] = (last, s.end_s)
    for i, f in enumerate(run.frames):
        layers.append(_event(run, i, f"{run.streams[f.stream].name} frames", f.arrival_s, f.end_s))
    return Timeline(layers=tuple(layers), busy=tuple(unit_intervals(layers)), makespan_s=run.span_s,
                    events=len(run.frames) + len(run.slices))


def _event(run: FrameRun, frame: int, track: str, start: float, end: float) -> LayerResult:
    """One trace event of a frame on a track: named 'model #k', its status as the phase."""
    f = run.frames[frame]
    stream = run.streams[f.stream]
    return LayerResult(name=f"{stream.name} #{f.index}", phase=f.status, kind="frame",
                       flops=int(stream.flops), macs=0, dram_bytes=0.0, latency_s=end - start,
                       energy_j=0.0 if f.dropped else stream.dynamic_energy_j, bound=f.status,
                       unit=track, start_s=start)
