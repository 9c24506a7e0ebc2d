"""Resources of the event engine: compute units with lanes, and processor-shared transfer channels."""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial
from typing import NamedTuple

import simpy

# Relative slack under which a transfer counts as finished at its op's own latency event, so float
# rounding never costs an extra event (nor more than 1e-12 x the current time).
TOLERANCE = 1e-12


class Busy(NamedTuple):
    """One op holding one lane of a resource over [start_s, end_s)."""

    resource: str
    lane: int
    op: int          # index of the op in trace order
    start_s: float
    end_s: float
    prefetch: bool = False   # a transfer of the op's weights ahead of the op (sim.run's prefetch)


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector (a run allocates many small objects and frees none early;
    collections would only rescan them): the same results, sooner."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def busy_records(rows) -> list[Busy]:
    """Busy intervals from plain (resource, lane, op, start_s, end_s, prefetch) tuples."""
    return list(map(partial(tuple.__new__, Busy), rows))


class Lanes:
    """Lane numbers of a channel: the lowest free one is reused, a new one opened when none is free."""

    __slots__ = ("free", "count")

    def __init__(self):
        self.free: list[int] = []   # a heap
        self.count = 0

    def take(self) -> int:
        """The lowest free lane, or a new one."""
        if self.free:
            return heapq.heappop(self.free)
        self.count += 1
        return self.count - 1

    def give(self, lane: int) -> None:
        """Free a lane."""
        heapq.heappush(self.free, lane)


class Unit:
    """A compute unit with `capacity` lanes, each running one op at a time; ready ops wait in trace order."""

    __slots__ = ("name", "free", "ready")

    def __init__(self, name: str, capacity: int):
        if capacity < 1:
            raise ValueError(f"unit {name!r} needs capacity >= 1, got {capacity}")
        self.name = name
        self.free = list(range(capacity))   # heap of free lanes
        self.ready: list[int] = []           # heap of ready op indices


def pop_ended(flows: list, clock: float, virtual: float, now: float) -> tuple[list, float, float]:
    """Processor sharing in virtual time: n transfers each move at 1/n of the bandwidth, so a
    transfer of w seconds of work started at virtual time v ends at virtual time v + w (`flows`, a
    heap of tuples led by that end). Pops those that ended by `now`; returns ([(flow, end time)],
    clock, virtual) as of `now`."""
    ended = []
    while flows:
        end = clock + (flows[0][0] - virtual) * len(flows)
        if end > now + TOLERANCE * now:
            virtual += (now - clock) / len(flows)
            break
        flow = heapq.heappop(flows)
        clock, virtual = min(end, now), flow[0]
        ended.append((flow, clock))
    return ended, now, virtual


class Channel:
    """A transfer path (off-chip memory, host link) that n concurrent transfers share equally.

    Work is in seconds at the full bandwidth (an OpCost's memory_s). The channel keeps virtual time:
    the work each active transfer has received, which grows at 1/n per second; a transfer that joins
    at virtual time v with work w ends when virtual time reaches v + w. Finished transfers are
    collected whenever the channel is touched; a wake-up event is scheduled only when a transfer's end
    changes someone else's rate (n >= 2) or outlasts its own op's latency, so a lone transfer that
    ends inside its op costs no event at all.
    """

    def __init__(self, env: simpy.Environment, name: str, done: Callable[[int], None]):
        self.env = env
        self.name = name
        self.done = done                 # called with the op index when its transfer ends
        self.clock = 0.0                 # real time of the last update
        self.virtual = 0.0
        self.flows: list[tuple[float, int, float, int, float]] = []  # (end virtual, op, floor, lane, start)
        self.lanes = Lanes()
        self.version = 0                 # only the latest wake-up counts
        self.wakeups = 0                 # wake-up events scheduled
        self.ended: list[tuple[int, int, float, float]] = []   # (lane, op, start, end)

    @property
    def busy(self) -> list[Busy]:
        """Busy intervals of the transfers that have ended."""
        name = self.name
        return busy_records((name, *ended, False) for ended in self.ended)

    def join(self, op: int, work: float, floor: float) -> None:
        """Start a transfer of `work` seconds for `op`, whose own latency ends at `floor` (math.inf for
        a transfer no op waits on, such as a prefetch)."""
        now = self.env.now
        if not self.flows:        # alone, it ends within its op's latency: no wake-up needed
            self.clock = now
            self.flows.append((self.virtual + work, op, floor, self.lanes.take(), now))
            return
        finished = self._update()
        heapq.heappush(self.flows, (self.virtual + work, op, floor, self.lanes.take(), now))
        self._arm()
        self._report(finished)

    def withdraw(self, op: int) -> float:
        """End `op`'s transfer now, done or not; returns the work it had left (0 if it had ended)."""
        finished = self._update()
        flows = self.flows
        left = 0.0
        for k, (end_virtual, key, _, lane, start) in enumerate(flows):
            if key == op:
                left = end_virtual - self.virtual
                last = flows.pop()
                if k < len(flows):
                    flows[k] = last
                    heapq.heapify(flows)
                self.lanes.give(lane)
                self.ended.append((lane, op, start, self.env.now))
                self._arm()
                break
        else:
            if finished:
                self._arm()
        self._report(finished)
        return left

    def poll(self) -> None:
        """Collect transfers that have ended by now (the pending wake-up stays valid if none has)."""
        flows = self.flows
        if len(flows) == 1:      # the common case, a lone transfer: _update, _arm and _report inline
            end_virtual, op, _, lane, start = flows[0]
            now = self.env.now
            end = self.clock + (end_virtual - self.virtual)
            if end <= now + TOLERANCE * now:
                flows.clear()
                self.clock, self.virtual = now, end_virtual
                self.lanes.give(lane)
                self.ended.append((lane, op, start, min(end, now)))
                self.version += 1
                self.done(op)
                return
        finished = self._update()
        if finished:
            self._arm()
        self._report(finished)

    def _update(self) -> list[int]:
        """Advance virtual time to now, popping transfers that ended on the way."""
        ended, self.clock, self.virtual = pop_ended(self.flows, self.clock, self.virtual,
                                                    self.env.now)
        finished = []
        for (_, op, _, lane, start), end in ended:
            self.lanes.give(lane)
            self.ended.append((lane, op, start, end))
            finished.append(op)
        return finished

    def _arm(self) -> None:
        """Schedule a wake-up at the next transfer end if anyone but that transfer's op needs it."""
        self.version += 1
        if not self.flows:
            return
        end_virtual, _, floor, _, _ = self.flows[0]
        delay = max((end_virtual - self.virtual) * len(self.flows), 0.0)
        if len(self.flows) == 1 and self.clock + delay <= floor + TOLERANCE * floor:
            return
        self.wakeups += 1
        wake = self.env.timeout(delay, self.version)
        wake.callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        """A scheduled wake-up: collect ended transfers unless a later change superseded it."""
        if event.value == self.version:
            finished = self._update()
            self._arm()
            self._report(finished)

    def _report(self, finished: list[int]) -> None:
        """Tell the engine which transfers ended (after the channel's own state is consistent)."""
        for op in finished:
            self.done(op)

