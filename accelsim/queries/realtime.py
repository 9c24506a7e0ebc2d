"""Real-time budgets: can a device keep up with a frame rate, with what headroom and at what power.

Frames arrive one at a time and are processed at batch 1, so with latency L per frame:
  deadline  D = 1 / fps;  meets: L <= D;  headroom = (D - L) / D (negative when the deadline is missed)
  max_fps   = 1 / L (the highest sustainable frame rate)
  busy      = min(1, L x fps), the fraction of each frame period the device computes
  power     = E_frame x min(fps, max_fps) + P_idle x (1 - busy)
E_frame is the simulated energy of one frame, which already counts idle (static) power while the frame
runs; P_idle (the device's power.idle) is drawn for the rest of the period. A device that misses the
deadline runs flat out at max_fps and draws E_frame / L.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from accelsim.errors import UsageError
from accelsim.queries.common import OnRun, envelope, notify

POWER_FORMULA = "power = energy/frame x min(fps, max_fps) + idle power x (1 - min(1, latency x fps))"


@dataclass(frozen=True)
class FrameBudget:
    """One device against one frame rate."""

    workload: str
    device: str
    precision: str
    fps: float
    latency_s: float
    energy_per_frame_j: float
    idle_power_w: float
    device_id: str = ""             # the bundled name or file stem, e.g. "a100"
    stack: str = ""                 # software stack of the run (accelsim.workload.stack)

    @property
    def deadline_s(self) -> float:
        """Time available per frame."""
        return 1.0 / self.fps

    @property
    def meets(self) -> bool:
        """Whether one frame finishes within its period."""
        return self.latency_s <= self.deadline_s

    @property
    def headroom(self) -> float:
        """Unused fraction of the frame period (negative when the deadline is missed)."""
        return (self.deadline_s - self.latency_s) / self.deadline_s

    @property
    def max_fps(self) -> float:
        """Highest sustainable frame rate at batch 1."""
        return 1.0 / self.latency_s if self.latency_s > 0 else float("inf")

    @property
    def busy_fraction(self) -> float:
        """Fraction of each frame period spent computing."""
        return min(1.0, self.latency_s * self.fps)

    @property
    def average_power_w(self) -> float:
        """Average power while running at the requested (or the highest reachable) frame rate."""
        return (self.energy_per_frame_j * min(self.fps, self.max_fps)
                + self.idle_power_w * (1.0 - self.busy_fraction))

    def to_dict(self) -> dict:
        """Fields plus the derived quantities."""
        return {**asdict(self), "deadline_s": self.deadline_s, "meets": self.meets,
                "headroom": self.headroom, "max_fps": self.max_fps,
                "busy_fraction": self.busy_fraction, "average_power_w": self.average_power_w}


@dataclass(frozen=True)
class Realtime:
    """The frame budget of every device asked about; the first is the device in question."""

    fps: float
    budgets: tuple[FrameBudget, ...]

    def to_dict(self) -> dict:
        """The versioned JSON object of the query."""
        return envelope("realtime", {"fps": self.fps, "power_formula": POWER_FORMULA,
                                     "devices": [b.to_dict() for b in self.budgets]})


def frame_budget(result, fps: float, idle_power_w: float) -> FrameBudget:
    """The budget of a batch-1 inference result at `fps`."""
    return FrameBudget(workload=result.workload, device=result.device, device_id=result.device_id,
                       precision=result.precision, stack=result.stack,
                       fps=fps, latency_s=result.totals["latency_s"],
                       energy_per_frame_j=result.totals["energy_j"], idle_power_w=idle_power_w)


def realtime(workload, devices: Sequence, fps: float, *, precision: str | None = None,
             on_run: OnRun = None, stack: str | None = None, **workload_params) -> Realtime:
    """Whether each device runs `workload` at `fps` frames per second (batch 1 inference)."""
    from accelsim.api import load_device, simulate

    if not fps > 0:
        raise UsageError(f"must be a positive frame rate, got {fps!r}", key="fps")
    budgets = []
    for device in devices:
        config = load_device(device)
        result = simulate(workload, device, batch=1, precision=precision, stack=stack,
                          **workload_params)
        budgets.append(frame_budget(result, fps, config.power.idle))
        notify(on_run, result.device)
    return Realtime(fps, tuple(budgets))
