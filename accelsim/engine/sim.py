"""The discrete-event engine: ops run as their dependencies allow, on the units the device has, sharing
off-chip memory bandwidth with whatever else runs at the same time.

Model:
- Resources. Each op needs one lane of its compute unit (OpCost.unit, "" -> "compute"; one lane per
  unit unless `capacity` says more) for its whole run, and moves memory_s seconds' worth of traffic
  (time at full bandwidth) over a channel: the host link for ops on the "host" unit, off-chip memory
  for all others. Channels are processor-shared: n concurrent transfers each get 1/n of the bandwidth.
- Dependencies. The trace's ops form a DAG through Op.deps. An op is ready when every op it depends on
  has ended; ready ops take free lanes in trace order. `serial=True` adds a dependency on the previous
  op, so ops run one at a time in trace order (a single in-order stream, as the analytic engine assumes).
- Time. An op that starts at t ends at max(t + latency_s, end of its transfer): alone, its transfer ends
  within latency_s (memory_s <= latency_s under any overlap rule, max or sum; larger memory_s is capped),
  so it takes exactly latency_s and the cost model's overlap of compute and memory is authoritative.
  Under contention its transfer slows, and the op is stretched only by the part the slowdown exceeds
  its own latency. A single chain of ops therefore reproduces analytic.schedule; concurrent
  memory-bound streams of b1 and b2 bytes on bandwidth W all end by (b1 + b2) / W.
- Prefetch (`prefetch=True`: double-buffered weights, as TPUs, NPUs, FPGA DPUs and GPUs with async
  copies do). Each unit looks one op ahead: the first of its ops with weights (trace order) that has
  not started may move them over its channel before it starts -- while the op before it on the unit
  runs, or at once if the unit waits -- sharing the channel with the transfers running then. It moves
  only what keeps the op memory-bound: min(the weights' share of the transfer, i.e. transfer x
  min(Op.weight_bytes, dram_read_bytes) / dram_bytes, and transfer - compute_s); more would not
  shorten the op, only slow the ops running meanwhile. When the op starts its prefetch stops, the f
  seconds' worth fetched leave its transfer, and its own time becomes max(compute_s, transfer - f) +
  overhead, the overhead being what the cost model put on top (latency_s - max(compute_s,
  transfer)): with nothing fetched, exactly latency_s. Prefetches are busy intervals of the channel
  (Busy.prefetch). A chain run one op at a time is never slower: a running op's transfer is slowed
  by at most the prefetch work done meanwhile, and each second of it later saves its own op a second.
- Events. One simpy timeout per op (its latency), plus one wake-up per change in a channel's set of
  transfers while two or more overlap: never per cycle, byte or tile.
- Not modelled: prefetch of activations (they exist only once their producer ends); kernel launch
  queues; more than one device.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import simpy

from accelsim.devices.base import OpCost
from accelsim.engine.analytic import layer_result
from accelsim.engine.resources import Busy, Channel, Unit, busy_records, gc_paused
from accelsim.errors import WorkloadError
from accelsim.result import LayerResult
from accelsim.workload.ir import Op

MEMORY = "memory"         # the device's off-chip memory channel
HOST_LINK = "host_link"   # the link to the host, used by ops on the "host" unit
WAITING, FETCHING, STARTED = range(3)   # where an op with weights to prefetch stands


@dataclass(frozen=True)
class Timeline:
    """A simulated run: per-op results in trace order and the busy intervals of every resource lane."""

    layers: tuple[LayerResult, ...]
    busy: tuple[Busy, ...]
    makespan_s: float
    events: int              # simpy events scheduled: one per op plus channel wake-ups


def unit_name(unit: str) -> str:
    """The compute unit an op occupies, from OpCost.unit / LayerResult.unit."""
    return unit or "compute"


def channel_name(cost: OpCost) -> str:
    """The channel an op's off-chip traffic crosses."""
    return HOST_LINK if cost.unit == "host" else MEMORY


def prefetch_work(op: Op, cost: OpCost) -> float:
    """Transfer seconds of op's weights that a prefetch may move ahead of it (0: nothing to gain)."""
    latency, read = cost.latency_s, cost.dram_read_bytes
    work = min(cost.memory_s, latency)
    gain = work - min(cost.compute_s, latency)     # transfer time beyond the compute
    if gain <= 0.0 or read <= 0.0 or not op.weights:
        return 0.0
    return min(work * min(op.weight_bytes, read) / (read + cost.dram_write_bytes), gain)


def dependency_graph(ops: Sequence[Op], serial: bool = False) -> tuple[list[list[int]], list[int]]:
    """(children of each op, number of ops each op waits for), by op index."""
    index = {op.name: i for i, op in enumerate(ops)}
    if len(index) != len(ops):
        dup = next(op.name for i, op in enumerate(ops) if index[op.name] != i)
        raise WorkloadError(f"two ops are named {dup!r}; the event engine needs unique names", key="ops")
    children: list[list[int]] = [[] for _ in ops]
    waits = [0] * len(ops)
    for i, op in enumerate(ops):
        try:
            parents = set(map(index.__getitem__, op.deps))
        except KeyError as missing:
            raise WorkloadError(f"op {op.name!r} depends on unknown op {missing.args[0]!r}",
                                key="deps") from None
        if serial and i:
            parents.add(i - 1)
        for p in parents:
            children[p].append(i)
        waits[i] = len(parents)
    return children, waits


class _Run:
    """One simulation: per-op state in lists by op index, resources by name."""

    def __init__(self, ops: Sequence[Op], costs: Sequence[OpCost], serial: bool,
                 capacity: Mapping[str, int], prefetch: bool):
        self.env = simpy.Environment(initial_time=0.0)
        self.ops, self.costs = ops, costs
        self.children, self.waits = dependency_graph(ops, serial)
        self.units: dict[str, Unit] = {}
        self.channels: dict[str, Channel] = {}
        unit_names = [c.unit for c in costs]
        by_name = {u: self._unit(unit_name(u), capacity) for u in dict.fromkeys(unit_names)}
        self.unit_of = list(map(by_name.__getitem__, unit_names))
        self.latency = [c.latency_s for c in costs]
        self.work = [min(c.memory_s, c.latency_s) for c in costs]
        self.channel_of = [self._channel(channel_name(c)) if w > 0 else None
                           for c, w in zip(costs, self.work)]
        n = len(ops)
        self.start = [0.0] * n
        self.end: list[float | None] = [None] * n
        self.lane = [0] * n
        self.parts = [0] * n          # parts (latency, transfer) still running, per started op
        self.ahead = [0.0] * n        # transfer seconds each op's prefetch may move (prefetch_work)
        self.state = [WAITING] * n
        self.upcoming: dict[Unit, deque[int]] = {}   # per unit, its ops with weights to prefetch
        self._on_latency = self._latency_done        # bound once: one callback per op
        if prefetch:
            self.upcoming = {unit: deque() for unit in self.units.values()}
            for i, (o, c) in enumerate(zip(ops, costs)):
                if o.weights and (ahead := prefetch_work(o, c)) > 0.0:
                    self.ahead[i] = ahead
                    self.upcoming[self.unit_of[i]].append(i)

    def _unit(self, name: str, capacity: Mapping[str, int]) -> Unit:
        """The unit called `name`, created on first use."""
        if name not in self.units:
            self.units[name] = Unit(name, capacity.get(name, 1))
        return self.units[name]

    def _channel(self, name: str) -> Channel:
        """The channel called `name`, created on first use."""
        if name not in self.channels:
            self.channels[name] = Channel(self.env, name, self._part_done)
        return self.channels[name]

    def timeline(self) -> Timeline:
        """Run to completion and collect the results."""
        for i, waits in enumerate(self.waits):
            if waits == 0:
                self.unit_of[i].ready.append(i)
        for unit in self.units.values():
            heapq.heapify(unit.ready)
            self._dispatch(unit)
        for unit in self.upcoming:
            self._prefetch(unit)
        self.env.run()
        stuck = [op.name for op, end in zip(self.ops, self.end) if end is None]
        if stuck:
            raise WorkloadError(f"dependency cycle: {len(stuck)} ops never became ready, "
                                f"e.g. {stuck[0]!r}", key="deps")
        start, end, lane = self.start, self.end, self.lane
        layers = tuple(map(layer_result, self.ops, self.costs, start,
                           [t1 - t0 for t0, t1 in zip(start, end)]))
        busy = busy_records(zip([unit.name for unit in self.unit_of], lane, range(len(lane)),
                                start, end, [False] * len(lane)))
        busy += busy_records((channel.name, ln, op, t0, t1, False) if op >= 0 else
                             (channel.name, ln, ~op, t0, t1, True)
                             for channel in self.channels.values() for ln, op, t0, t1 in channel.ended)
        events = len(self.ops) + sum(channel.wakeups for channel in self.channels.values())
        return Timeline(layers=layers, busy=tuple(busy), makespan_s=max(end, default=0.0),
                        events=events)

    def _dispatch(self, unit: Unit) -> None:
        """Start ready ops, lowest trace index first, on the unit's free lanes."""
        ready, free = unit.ready, unit.free
        while ready and free:
            self._begin(heapq.heappop(ready), heapq.heappop(free))

    def _prefetch(self, unit: Unit) -> None:
        """Start fetching the weights of the unit's next op with weights, unless started or fetching."""
        upcoming, state = self.upcoming[unit], self.state
        while upcoming and state[upcoming[0]] == STARTED:
            upcoming.popleft()
        if upcoming and state[upcoming[0]] == WAITING:
            i = upcoming[0]
            state[i] = FETCHING
            self.channel_of[i].join(~i, self.ahead[i], math.inf)   # ~i: op i's prefetch

    def _begin(self, i: int, lane: int) -> None:
        """Op i takes `lane` of its unit now: its latency starts, and its transfer if it has one."""
        env = self.env
        now = env.now
        latency, work, ahead = self.latency[i], self.work[i], self.ahead[i]
        if ahead:
            latency, work = self._prefetched(i, latency, work)
        self.start[i] = now
        self.lane[i] = lane
        env.timeout(latency, i).callbacks.append(self._on_latency)
        if work <= 0.0:
            self.parts[i] = 1
        else:
            self.parts[i] = 2
            self.channel_of[i].join(i, work, now + latency)
        if ahead:          # it leaves the head of its unit's prefetch queue: fetch the next
            self._prefetch(self.unit_of[i])

    def _prefetched(self, i: int, latency: float, work: float) -> tuple[float, float]:
        """Op i starts: stop its prefetch; its (latency, transfer) less the part already fetched."""
        fetching = self.state[i] == FETCHING
        self.state[i] = STARTED
        if not fetching:
            return latency, work
        fetched = self.ahead[i] - self.channel_of[i].withdraw(~i)
        if fetched <= 0.0:
            return latency, work
        compute = min(self.costs[i].compute_s, latency)
        return max(compute, work - fetched) + latency - max(compute, work), work - fetched

    def _latency_done(self, event: simpy.Event) -> None:
        """Op i's own latency has passed; it ends now unless its transfer is still running."""
        i = event.value
        if self.parts[i] == 2:
            self.channel_of[i].poll()
        self._part_done(i)

    def _part_done(self, i: int) -> None:
        """One of op i's parts (latency, transfer) ended; the op ends with the later one."""
        if i < 0:          # op ~i's prefetch ended: the op collects it when it starts
            return
        parts = self.parts
        parts[i] -= 1
        if parts[i]:
            return
        self.end[i] = self.env.now
        unit = self.unit_of[i]
        heapq.heappush(unit.free, self.lane[i])
        waits, unit_of = self.waits, self.unit_of
        woken = []
        for child in self.children[i]:
            waits[child] -= 1
            if not waits[child]:
                heapq.heappush(unit_of[child].ready, child)
                woken.append(unit_of[child])
        self._dispatch(unit)
        for other in woken:
            if other is not unit:
                self._dispatch(other)


def run(ops: Sequence[Op], costs: Sequence[OpCost], *, serial: bool = False,
        capacity: Mapping[str, int] | None = None, prefetch: bool = False) -> Timeline:
    """Simulate ops (trace order, deps by name) with their costs; `capacity`: lanes per unit (default 1),
    `prefetch`: fetch each unit's next weights while the op before runs (see the module docstring).
    """
    if len(ops) != len(costs):
        raise ValueError(f"{len(ops)} ops but {len(costs)} costs")
    with gc_paused():
        return _Run(ops, costs, serial, capacity or {}, prefetch).timeline()


def schedule(ops: Sequence[Op], costs: Sequence[OpCost], *, serial: bool = False,
             capacity: Mapping[str, int] | None = None,
             prefetch: bool = False) -> tuple[LayerResult, ...]:
    """Per-layer results placed by the simulation: a drop-in for analytic.schedule."""
    return run(ops, costs, serial=serial, capacity=capacity, prefetch=prefetch).layers
