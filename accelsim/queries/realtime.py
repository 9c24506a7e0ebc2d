"""Real-time budgets: can a device keep up with a frame rate, with what headroom and at what power.

Frames arrive one at a time and are processed at batch 1, so with latency L per frame:
  deadline  D = 1 / fps;  meets: L <= D;  headroom = (D - L) / D (negative when the deadline is missed)
  max_fps   = 1 / L (the highest sustainable frame rate)
  busy      = min(1, L x fps), the fraction of each frame period the device computes
  power     = E_frame x min(fps, max_fps) + P_idle x (1 - busy)
E_frame is the simulated energy of one frame, which already counts idle (static) power while the frame
runs; P_idle (the device's power.idle) is drawn for the rest of the period. A device that misses the
deadline runs flat out at max_fps and draws E_frame / L.

Frames in time (accelsim.engine.frames): on the first device, the workload's frames at fps and those
of every model sharing the device (`sharing`: (model, fps) pairs) arrive for `duration_s`, with
jitter, and compete for its accelerator and host CPU under a scheduling policy; the answer adds each
model's deadline miss rate, latency percentiles, utilisation and power, and their total.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from accelsim.engine.frame_stats import all_stats
from accelsim.engine.frames import FrameRun, fit_together, model_stream, simulate_frames
from accelsim.errors import AccelsimError, UsageError
from accelsim.queries.common import OnRun, envelope, notify

POWER_FORMULA = "power = energy/frame x min(fps, max_fps) + idle power x (1 - min(1, latency x fps))"
OVERLOAD = "a frame that could only start at or after its deadline is dropped"
PREEMPTION = "non-preemptive at op granularity"


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
    frames: FrameRun | None = None    # the frame simulation on the first device
    frames_fit: dict = field(default_factory=dict)   # fits_in_memory of its models at once

    def to_dict(self) -> dict:
        """The versioned JSON object of the query."""
        body = {"fps": self.fps, "power_formula": POWER_FORMULA,
                "devices": [b.to_dict() for b in self.budgets]}
        if self.frames is not None:
            body["frames"] = {**frames_dict(self.frames, self.budgets[0].device_id),
                              **self.frames_fit}
        return envelope("realtime", body)


def frames_dict(run: FrameRun, device_id: str) -> dict:
    """The JSON object of a frame simulation: its settings, each model's figures and the total."""
    each, total = all_stats(run)
    models = [{**stats.to_dict(), "period_s": 1.0 / stream.fps,
               "deadline_s": run.deadline_s or 1.0 / stream.fps, "latency_alone_s": stream.latency_s}
              for stream, stats in zip(run.streams, each)]
    return {"device_id": device_id, "duration_s": run.duration_s, "span_s": run.span_s,
            "policy": run.policy, "preemption": PREEMPTION, "overload": OVERLOAD,
            "deadline_s": run.deadline_s, "jitter_s": run.jitter_s, "seed": run.seed,
            "idle_power_w": run.idle_power_w, "models": models, "total": total.to_dict()}


def parse_sharing(text: str) -> tuple[str, float]:
    """A --with value MODEL@FPS as (model, fps)."""
    model, at, rate = text.rpartition("@")
    if not at or not model.strip():
        raise UsageError(f"expected MODEL@FPS, e.g. selfie_seg@30, got {text!r}", key="--with")
    try:
        fps = float(rate)
    except ValueError:
        raise UsageError(f"{text!r}: the frame rate after @ must be a number, got {rate!r}",
                         key="--with") from None
    if not (math.isfinite(fps) and fps > 0):
        raise UsageError(f"{text!r}: the frame rate must be positive and finite, got {rate!r}",
                         key="--with")
    return model.strip(), fps


def _labels(models: Sequence[tuple[str, float]]) -> list[str]:
    """'model@fps' for each stream, numbered from the second time one repeats."""
    labels: list[str] = []
    for model, fps in models:
        label = f"{model}@{fps:g}"
        repeats = sum(1 for other in labels if other.split(" (")[0] == label)
        labels.append(f"{label} ({repeats + 1})" if repeats else label)
    return labels


def frame_budget(result, fps: float, idle_power_w: float) -> FrameBudget:
    """The budget of a batch-1 inference result at `fps`."""
    return FrameBudget(workload=result.workload, device=result.device, device_id=result.device_id,
                       precision=result.precision, stack=result.stack,
                       fps=fps, latency_s=result.totals["latency_s"],
                       energy_per_frame_j=result.totals["energy_j"], idle_power_w=idle_power_w)


def frame_run(workload, device, fps: float, *, sharing: Sequence[tuple[str, float]] = (),
              precision: str | None = None, duration_s: float = 2.0, jitter_s: float = 0.0,
              seed: int = 0, policy: str = "priority", deadline_s: float | None = None,
              stack: str | None = None, **workload_params) -> tuple[FrameRun, dict]:
    """Frames of `workload` at `fps` and of each (model, fps) in `sharing` on one device under
    `stack`, and whether their models fit its memory at once; the workload parameters apply to
    `workload` only."""
    from accelsim.api import load_device

    config = load_device(device)
    labels = _labels([(getattr(workload, "name", workload), fps), *sharing])
    streams = [model_stream(workload, config, fps, name=labels[0], precision=precision,
                            stack=stack, **workload_params)]
    for (model, rate), label in zip(sharing, labels[1:]):
        try:
            streams.append(model_stream(model, config, rate, name=label, precision=precision,
                                        stack=stack))
        except AccelsimError as error:
            raise type(error)(f"{model}@{rate:g}: {error.render()}", key="--with") from None
    run = simulate_frames(streams, duration_s=duration_s, idle_power_w=config.power.idle,
                          policy=policy, deadline_s=deadline_s, jitter_s=jitter_s, seed=seed)
    return run, fit_together(streams, config)


def realtime(workload, devices: Sequence, fps: float, *, precision: str | None = None,
             on_run: OnRun = None, sharing: Sequence[tuple[str, float]] = (),
             duration_s: float = 2.0, jitter_s: float = 0.0, seed: int = 0,
             policy: str = "priority", deadline_s: float | None = None,
             stack: str | None = None, **workload_params) -> Realtime:
    """Whether each device runs `workload` at `fps` frames per second (batch 1 inference), and its
    frames in time on the first device beside the `sharing` models (see frame_run)."""
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
    frames, fit = frame_run(workload, devices[0], fps, sharing=sharing, precision=precision,
                            duration_s=duration_s, jitter_s=jitter_s, seed=seed, policy=policy,
                            deadline_s=deadline_s, stack=stack, **workload_params)
    notify(on_run, "frames")
    return Realtime(fps, tuple(budgets), frames, fit)
