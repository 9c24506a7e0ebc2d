"""Camera frames with deadlines: periodic inference streams sharing one device, in simpy.

Model:
- Streams. A model at f frames per second (period T = 1/f) gets frame k at k*T + u_k for every
  k*T < duration, u_k uniform in [0, jitter) from a generator seeded with `seed` (jitter 0: exactly
  periodic). A frame is due `deadline` after it arrives (default T: when the next frame is due).
- A frame is one batch-1 inference: its ops one after another in trace order (the analytic engine's
  order), each for its cost model's latency_s; a stream runs one frame at a time, in arrival order.
- Resources. The accelerator (every unit of the device but the host) and the host CPU (ops the
  device cannot run, unit "host": the NPU fallback) each run one op at a time, so one stream's host
  ops overlap other streams' accelerator ops.
- Scheduling: non-preemptive at op granularity. When a resource frees it takes the next op of one
  stream waiting for it: `priority` picks the highest frame rate (rate-monotonic; ties: stream
  order), `round_robin` the next waiting stream after the one it served last, in stream order. A
  higher-priority frame therefore waits at most one op of another stream.
- Overload: a frame whose first op could only start at or after its deadline is dropped, never run;
  a started frame runs to its end. Missed = ended after the deadline (late) + dropped.
- Horizon: the run goes on until every frame has ended or been dropped; span = max(duration, that).
- Energy: the dynamic energy (compute, on-chip, off-chip) of every op run, plus the device's idle
  (static) power over the whole span.
- Events: one simpy timeout per frame arrival and one per op run, plus one per instant at which
  several things happen, so that frames arriving together are all seen before a resource picks one.
- Not modelled: memory-bandwidth contention between streams, several lanes per unit, batching.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from accelsim.devices import cost_all
from accelsim.engine.feasibility import memory_fit
from accelsim.engine.single import prepare
from accelsim.errors import UsageError
from accelsim.result import DYNAMIC_ENERGY
from accelsim.workload.trace import MemoryBreakdown

ACCELERATOR, HOST = "accelerator", "host"
POLICIES = ("priority", "round_robin")
MAX_FRAMES = 100_000      # frames one simulation may hold: beyond, a run takes minutes


@dataclass(frozen=True)
class Stream:
    """One model's periodic frames: each op's latency and resource, and a frame's totals."""

    name: str
    fps: float
    latencies: tuple[float, ...]
    on_host: tuple[bool, ...]
    dynamic_energy_j: float = 0.0     # compute + on-chip + off-chip energy of one frame
    flops: float = 0.0                # of one frame
    memory: MemoryBreakdown = MemoryBreakdown()   # what the model holds at its peak

    @property
    def latency_s(self) -> float:
        """One frame alone on the device."""
        return math.fsum(self.latencies)


@dataclass(frozen=True)
class Frame:
    """What happened to one frame; `end_s` is the drop time for a dropped frame."""

    stream: int
    index: int
    arrival_s: float
    deadline_s: float
    start_s: float | None     # None: dropped, never started
    end_s: float
    dropped: bool

    @property
    def status(self) -> str:
        """'dropped', 'late' or 'on time'."""
        if self.dropped:
            return "dropped"
        return "late" if self.end_s > self.deadline_s else "on time"

    @property
    def latency_s(self) -> float:
        """Arrival to end."""
        return self.end_s - self.arrival_s


@dataclass(frozen=True)
class Slice:
    """One op of one frame on one resource over [start_s, end_s)."""

    resource: str
    frame: int          # index into FrameRun.frames
    start_s: float
    end_s: float


@dataclass(frozen=True)
class FrameRun:
    """A simulated run of frame streams on one device."""

    streams: tuple[Stream, ...]
    frames: tuple[Frame, ...]
    slices: tuple[Slice, ...]
    duration_s: float
    span_s: float
    idle_power_w: float
    policy: str
    deadline_s: float | None      # relative deadline of every frame; None: each stream's period
    jitter_s: float
    seed: int


def frames_in(fps: float, duration_s: float) -> int:
    """How many frames k a stream at `fps` brings in `duration_s` (k/fps < duration)."""
    return math.ceil(round(duration_s * fps, 9))


def arrivals(fps: float, duration_s: float, jitter_s: float,
             rng: np.random.Generator) -> np.ndarray:
    """Sorted arrival times of a stream's frames: k/fps + uniform [0, jitter), k/fps < duration."""
    count = frames_in(fps, duration_s)
    times = np.arange(count) / fps
    if jitter_s > 0:
        times = np.sort(times + rng.uniform(0.0, jitter_s, count))
    return times


def check_frames(streams: Sequence[Stream], duration_s: float, jitter_s: float,
                 deadline_s: float | None, policy: str, seed: int) -> None:
    """Reject settings the simulation cannot run."""
    if not (isinstance(seed, int) and seed >= 0):
        raise UsageError(f"must be an integer >= 0, got {seed!r}", key="seed")
    if policy not in POLICIES:
        raise UsageError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}",
                         key="policy")
    for key, value in (("duration", duration_s), ("deadline", deadline_s)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"must be a positive finite time, got {value!r}", key=key)
    if not (math.isfinite(jitter_s) and jitter_s >= 0):
        raise UsageError(f"must be a finite time >= 0, got {jitter_s!r}", key="jitter")
    for s in streams:
        if not (math.isfinite(s.fps) and s.fps > 0):
            raise UsageError(f"{s.name}: must be a positive frame rate, got {s.fps!r}", key="fps")
    count = sum(frames_in(s.fps, duration_s) for s in streams)
    if count > MAX_FRAMES:
        rates = " + ".join(f"{s.fps:g}" for s in streams)
        raise UsageError(f"{duration_s:g} s of frames at {rates} fps is {count:,} frames; at most "
                         f"{MAX_FRAMES:,} are simulated: shorten --duration", key="duration")


class _Run:
    """One simulation: streams' queues and in-progress frames, the two resources' state."""

    def __init__(self, streams: Sequence[Stream], policy: str):
        self.env = simpy.Environment(initial_time=0.0)
        self.streams = streams
        self.policy = policy
        self.rank = {s: r for r, s in enumerate(sorted(range(len(streams)),
                                                       key=lambda s: (-streams[s].fps, s)))}
        self.frames: list[list] = []   # [stream, index, arrival, deadline, start, end, dropped]
        self.slices: list[Slice] = []
        self.queue = [deque() for _ in streams]       # frames waiting to start, per stream
        self.current: list[int | None] = [None] * len(streams)   # frame in progress
        self.next_op = [0] * len(streams)
        self.waiting: dict[str, set[int]] = {ACCELERATOR: set(), HOST: set()}
        self.idle = {ACCELERATOR: True, HOST: True}
        self.served = {ACCELERATOR: -1, HOST: -1}
        self.settling = False                 # a settle is due at the current time

    def add(self, stream: int, times: np.ndarray, deadline: float) -> None:
        """Schedule the arrivals of a stream's frames."""
        for k, t in enumerate(times.tolist()):
            frame = len(self.frames)
            self.frames.append([stream, k, t, t + deadline, None, math.nan, False])
            self.env.timeout(t, frame).callbacks.append(self._arrive)

    def _resource(self, stream: int) -> str:
        """The resource the stream's next op needs."""
        return HOST if self.streams[stream].on_host[self.next_op[stream]] else ACCELERATOR

    def _arrive(self, event: simpy.Event) -> None:
        """A frame arrives: it queues behind its stream's frames."""
        stream = self.frames[event.value][0]
        self.queue[stream].append(event.value)
        if self.current[stream] is None:
            self._next_frame(stream)
        self._due()

    def _next_frame(self, stream: int) -> None:
        """The stream takes its oldest queued frame, if any, and waits for its first op's unit."""
        if not self.queue[stream]:
            self.current[stream] = None
            return
        self.current[stream] = self.queue[stream].popleft()
        self.next_op[stream] = 0
        self.waiting[self._resource(stream)].add(stream)

    def _due(self) -> None:
        """Settle once every event of this instant is in (arrivals and op ends at one time): now if
        none is left, else after them."""
        if self.settling:
            return
        if self.env.peek() > self.env.now:
            self._settle()
        else:
            self.settling = True
            self.env.timeout(0.0).callbacks.append(self._settle)

    def _settle(self, _event: simpy.Event | None = None) -> None:
        """Give every idle resource work until none can take any."""
        self.settling = False
        progress = True
        while progress:
            progress = False
            for resource, waiting in self.waiting.items():
                if self.idle[resource] and waiting:
                    self._serve(resource, self._pick(resource, waiting))
                    progress = True

    def _pick(self, resource: str, waiting: set[int]) -> int:
        """The waiting stream the policy serves next."""
        if self.policy == "priority":
            return min(waiting, key=self.rank.__getitem__)
        last, n = self.served[resource], len(self.streams)
        return min(waiting, key=lambda s: (s - last - 1) % n)

    def _serve(self, resource: str, stream: int) -> None:
        """Start the stream's next op on the resource, or drop its frame if it would start late."""
        self.waiting[resource].discard(stream)
        self.served[resource] = stream
        now = self.env.now
        frame = self.frames[self.current[stream]]
        if self.next_op[stream] == 0:
            if now >= frame[3]:
                frame[5], frame[6] = now, True
                self._next_frame(stream)
                return
            frame[4] = now
        self.idle[resource] = False
        latency = self.streams[stream].latencies[self.next_op[stream]]
        self.env.timeout(latency, (resource, stream, now)).callbacks.append(self._op_done)

    def _op_done(self, event: simpy.Event) -> None:
        """An op ended: its resource frees; the stream goes on to its next op or frame."""
        resource, stream, start = event.value
        now = self.env.now
        frame = self.current[stream]
        self.slices.append(Slice(resource, frame, start, now))
        self.idle[resource] = True
        self.next_op[stream] += 1
        if self.next_op[stream] == len(self.streams[stream].latencies):
            self.frames[frame][5] = now
            self._next_frame(stream)
        else:
            self.waiting[self._resource(stream)].add(stream)
        self._due()


def simulate_frames(streams: Sequence[Stream], *, duration_s: float, idle_power_w: float = 0.0,
                    policy: str = "priority", deadline_s: float | None = None,
                    jitter_s: float = 0.0, seed: int = 0) -> FrameRun:
    """Run `streams` on one device for `duration_s` of frame arrivals (see the module docstring)."""
    streams = tuple(streams)
    check_frames(streams, duration_s, jitter_s, deadline_s, policy, seed)
    for s in streams:
        if not s.latencies:
            raise UsageError(f"{s.name}: a frame with no ops to run", key="workload")
    rng = np.random.default_rng(seed)
    run = _Run(streams, policy)
    for i, s in enumerate(streams):
        run.add(i, arrivals(s.fps, duration_s, jitter_s, rng), deadline_s or 1.0 / s.fps)
    run.env.run()
    frames = tuple(Frame(*f) for f in run.frames)
    span = max([duration_s, *(f.end_s for f in frames)])
    return FrameRun(streams=streams, frames=frames, slices=tuple(run.slices), duration_s=duration_s,
                    span_s=span, idle_power_w=idle_power_w, policy=policy, deadline_s=deadline_s,
                    jitter_s=jitter_s, seed=seed)


def model_stream(workload, device, fps: float, *, name: str, precision: str | None = None,
                 **workload_params) -> Stream:
    """The frame stream of `workload`'s batch-1 inference on `device` (a name, path or config) at
    `fps`: the ops that take time, in trace order, and the energy and FLOPs of them all."""
    device, _graph, _precision, trace = prepare(workload, device, batch=1, precision=precision,
                                                **workload_params)
    costs = cost_all(trace.ops, device)
    timed = [c for c in costs if c.latency_s > 0]     # fused ops take no time but may use energy
    return Stream(name=name, fps=fps, latencies=tuple(c.latency_s for c in timed),
                  on_host=tuple(c.unit == HOST for c in timed),
                  dynamic_energy_j=sum(getattr(c.energy, part)
                                       for c in costs for part in DYNAMIC_ENERGY),
                  flops=sum(c.flops for c in costs), memory=trace.memory)


def fit_together(streams: Sequence[Stream], device) -> dict:
    """memory_fit of every stream's model resident at once (weights and peak activations summed:
    frames of different models interleave op by op), on a device config."""
    parts = {name: sum(getattr(s.memory, name) for s in streams)
             for name in MemoryBreakdown.__dataclass_fields__}
    return memory_fit(MemoryBreakdown(**parts), device.memory.capacity, device.name,
                      per=" for all models at once")
