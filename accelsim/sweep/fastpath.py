"""`accelsim sweep --fast`: a space's records through the fast path of its device's kind.

Each kind's fast path (systolic: accelsim.sweep.fast; gpu, fpga, npu, cpu: fast_<kind>) names the
swept keys it can vary (FAST_KEYS) and evaluates every point in one call, with the same latency,
energy and DRAM bytes as accelsim.simulate point by point.
"""

from __future__ import annotations

import importlib

from accelsim.errors import UsageError
from accelsim.units import parse

# device kind -> (module, its evaluating function)
PATHS = {"systolic": ("accelsim.sweep.fast", "fast_systolic"),
         "gpu": ("accelsim.sweep.fast_gpu", "fast_gpu"),
         "fpga": ("accelsim.sweep.fast_fpga", "fast_fpga"),
         "npu": ("accelsim.sweep.fast_npu", "fast_npu"),
         "cpu": ("accelsim.sweep.fast_cpu", "fast_cpu")}


def fast_path(kind: str):
    """(FAST_KEYS, evaluate, metrics) of a kind's fast path; a kind without one is refused."""
    if kind not in PATHS:
        raise UsageError(f"no fast path for {kind} devices; it covers {', '.join(PATHS)} "
                         "(drop --fast to run the general path)", key="fast")
    module_name, function = PATHS[kind]
    module = importlib.import_module(module_name)
    return module.FAST_KEYS, getattr(module, function), module.METRICS


def fast_records(space) -> list[dict]:
    """Sweep records of a space whose parameters the fast path of its device's kind can vary."""
    from accelsim.api import load_device

    kind = load_device(space.device, space.fixed).kind
    keys, evaluate, metrics = fast_path(kind)
    unsupported = [key for key in space.keys if key not in keys]
    if unsupported:
        raise UsageError(f"the fast path of {kind} devices sweeps {', '.join(keys)}; not "
                         f"{', '.join(unsupported)}", key="fast")
    points = space.points()
    args = {}
    for key in space.keys:
        name, family = keys[key]
        si = {}                       # each distinct value parsed once
        for point in points:
            value = point[key]
            if value not in si:
                si[value] = value if family is None else _parse(value, family, key)
        args[name] = [si[point[key]] for point in points]
    sweep = evaluate(space.workload, device=space.device, overrides=space.fixed,
                     precision=space.precision, mode=space.mode, batch=space.batch,
                     stack=space.stack, **args, **dict(space.workload_params))
    columns = {metric: getattr(sweep, metric) for metric in metrics}
    columns = {metric: values.tolist() for metric, values in columns.items()}
    return [{"id": space.point_id(point), "point": point,
             **{metric: values[i] for metric, values in columns.items()}}
            for i, point in enumerate(points)]


def _parse(value, family: str, key: str) -> float:
    """A swept value in SI units."""
    try:
        return parse(value, family)
    except ValueError as exc:
        raise UsageError(str(exc), key=f"parameters.{key}") from None
