"""What-if: a baseline run beside the same run with something changed, metric by metric.

What can change: device fields (`overrides`, as --set), the network (quantize, prune from
accelsim.workload.transforms, in that order), the network itself (`student`: a distilled network
replacing the teacher) and the software stack (`fuse`: the baseline runs eager, the what-if
compiled; accelsim.workload.stack). Both runs use `stack` otherwise (default: the device's). Layers are matched by (name, phase): fused ops
keep their producer's name, so a layer that changed bound (compute / memory / overhead) is listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from accelsim.errors import UsageError
from accelsim.devices import run_precision
from accelsim.queries.common import OnRun, envelope, notify, summary
from accelsim.result import Result
from accelsim.workload.run_load import load_for_run
from accelsim.workload.transforms import Distillation

METRICS = ("latency_s", "throughput", "energy_j", "average_power_w", "dram_bytes",
           "peak_memory_bytes", "flops", "macs", "params")


@dataclass(frozen=True)
class Change:
    """One metric before and after."""

    metric: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        """after - before."""
        return self.after - self.before

    @property
    def ratio(self) -> float | None:
        """after / before (None when before is 0)."""
        return self.after / self.before if self.before else None

    def to_dict(self) -> dict:
        """Fields plus delta and ratio."""
        return {**asdict(self), "delta": self.delta, "ratio": self.ratio}


@dataclass(frozen=True)
class BoundChange:
    """A layer whose limiting resource changed."""

    layer: str
    phase: str
    before: str
    after: str


@dataclass(frozen=True)
class WhatIf:
    """Baseline and changed runs, the metric changes and the layers that changed bound."""

    what: tuple[str, ...]
    base: Result
    variant: Result
    changes: tuple[Change, ...]
    bound_changes: tuple[BoundChange, ...]
    distillation: Distillation | None = None

    def to_dict(self) -> dict:
        """The versioned JSON object of the query."""
        return envelope("whatif", {
            "what": list(self.what), "base": summary(self.base), "variant": summary(self.variant),
            "changes": {c.metric: c.to_dict() for c in self.changes},
            "ops": {"before": len(self.base.layers), "after": len(self.variant.layers)},
            "bound_changes": [asdict(b) for b in self.bound_changes],
            "distillation": self.distillation.to_dict() if self.distillation else None})


def changes(base: Result, variant: Result) -> tuple[tuple[Change, ...], tuple[BoundChange, ...]]:
    """Each of METRICS before and after, and the layers (by name and phase) that changed bound."""
    metrics = tuple(Change(key, base.totals[key], variant.totals[key]) for key in METRICS)
    after = {(layer.name, layer.phase): layer.bound for layer in variant.layers}
    bounds = tuple(BoundChange(layer.name, layer.phase, layer.bound, after[key])
                   for layer in base.layers
                   if (key := (layer.name, layer.phase)) in after and after[key] != layer.bound)
    return metrics, bounds


def primary_input(graph) -> tuple[str, tuple[int, ...]]:
    """Name and shape of the first tensor a graph reads that none of its ops produces."""
    produced = {t.name for op in graph.ops for t in op.outputs}
    return next(((t.name, t.shape) for op in graph.ops for t in op.inputs
                 if t.name.split(":")[0] not in produced), ("", ()))


def check_student(teacher, student) -> None:
    """A student network must read the same kind of input as its teacher (tokens, image, ...)."""
    (name, shape), (student_name, student_shape) = primary_input(teacher), primary_input(student)
    if (name, len(shape)) != (student_name, len(student_shape)):
        dims = "x".join(map(str, shape))
        student_dims = "x".join(map(str, student_shape))
        raise UsageError(f"{student.name} reads {student_name} ({student_dims}) but {teacher.name} "
                         f"reads {name} ({dims}); a student must take its teacher's input",
                         key="student")


def whatif(workload, device, *, overrides: Sequence[str] = (), quantize: str | None = None,
           prune: float | str | None = None, fuse: bool = False, student=None,
           layers: Iterable[str] | None = None, mode: str = "inference", batch: int = 1,
           precision: str | None = None, stack: str | None = None, on_run: OnRun = None,
           **workload_params) -> WhatIf:
    """Simulate `workload` on `device` as it is and with the requested changes."""
    from accelsim import api
    from accelsim.workload import transforms

    if mode not in api.MODES:
        raise UsageError(f"unknown mode {mode!r}; expected one of {', '.join(api.MODES)}", key="mode")
    if layers is not None and quantize is None and prune is None:
        raise UsageError("--layers selects the ops to quantize or prune; give --quantize or --prune",
                         key="layers")
    if fuse and stack is not None:
        raise UsageError("--fuse runs an eager baseline against the compiled stack; leave out "
                         "--stack", key="stack")
    base_device = api.load_device(device)
    new_device = api.load_device(device, overrides) if overrides else base_device
    precision = run_precision(base_device, precision)
    base_stack, variant_stack = ("eager", "compiled") if fuse else (stack, stack)
    # each run sizes a seq_len distribution as its own stack and device pad it
    graph, changed = (
        load_for_run(spec, run_stack, run_device.kind, mode, batch=batch, precision=precision,
                     **workload_params)[1]
        for spec, run_stack, run_device in ((workload, base_stack, base_device),
                                            (workload if student is None else student,
                                             variant_stack, new_device)))
    what, distilled = [f"set {item}" for item in overrides], None
    if student is not None:
        check_student(graph, changed)
        distilled = transforms.distillation(graph, changed)
        what.append(f"student {changed.name}")
    if fuse:
        what.append("fuse")
    if prune is not None:
        changed = transforms.prune(changed, prune, layers=layers)
        what.append(f"prune {prune}")
    if quantize is not None:
        changed = transforms.quantize(changed, quantize, layers=layers)
        what.append(f"quantize {quantize}")
    if not what:
        raise UsageError("nothing to change: give --set, --quantize, --prune, --fuse or --student",
                         key="whatif")
    base = api.simulate(graph, base_device, mode=mode, stack=base_stack)
    notify(on_run, "baseline")
    variant = api.simulate(changed, new_device, mode=mode, stack=variant_stack)
    notify(on_run, "what-if")
    metrics, bounds = changes(base, variant)
    return WhatIf(tuple(what), base, variant, metrics, bounds, distilled)
