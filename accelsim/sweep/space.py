"""A design space: a base run (workload, device, mode, ...) and swept parameters with their values.

Space file (YAML; file paths in it are relative to the file)::

    workload: ../workloads/scalesim/Resnet50.csv    # zoo name or workload file
    device: scalesim_32x32                          # bundled device name or YAML path
    mode: inference                                 # optional: inference (default), training
    batch: 1                                        # optional
    precision: int8                                 # optional (default: the device's own)
    stack: compiled                                 # optional: eager or compiled (default: by device)
    set: [array.dataflow=ws]                        # optional fixed device overrides
    params: {seq_len: 512}                          # optional workload parameters
    sample: 200                                     # optional: N random points instead of the grid
    seed: 0                                         # optional: seed of `sample`
    metrics: [latency_s, energy_j]                  # optional: objectives of the Pareto front
    parameters:                                     # what is swept; the grid is their product
      array.rows: [8, 16, 32]                       # a list of values (unit strings allowed)
      array.cols: {from: 8, to: 256, times: 2}      # geometric range: 8, 16, ..., 256
      memory.bandwidth: {from: 10 GB/s, to: 40 GB/s, step: 10 GB/s}   # linear range, inclusive
      precision: [int8, fp16]                       # run settings: precision, batch, mode, stack
      params.seq_len: [128, 512]                    # a workload parameter: params.<name>

Any other parameter is a dotted device field, exactly as `--set` takes it.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import itertools
import json
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from accelsim.bundled import bundled
from accelsim.config.yaml_lines import YamlList, YamlMap, read_yaml
from accelsim.errors import AccelsimError, ConfigError
from accelsim.units import FAMILIES, UnitError, parse
from accelsim.workload.ir import PRECISIONS
from accelsim.workload.stack import STACKS

RUN_KEYS = ("precision", "batch", "mode", "stack")
PARAM_PREFIX = "params."
TOP_KEYS = ("workload", "device", "mode", "batch", "precision", "stack", "set", "params", "sample",
            "seed", "metrics", "parameters")
DEFAULT_METRICS = ("latency_s", "energy_j")
PATH_SUFFIXES = (".csv", ".yaml", ".yml", ".onnx", ".json")
MAX_RANGE = 100_000
MAX_POINTS = 100_000          # points a sweep runs unless the caller raises the limit
CHECK_ALL = 100               # an axis with at most this many values is checked value by value
RUN_CHOICES = {"mode": ("inference", "training"), "precision": PRECISIONS, "stack": STACKS}
KEY_PATTERN = re.compile(r"\w+(\.\w+)*")
DEFINITION = ("workload", "device", "mode", "batch", "precision", "stack", "fixed",
              "workload_params", "sample", "seed", "parameters")      # what a space's records depend on


@dataclass(frozen=True)
class Space:
    """A base run and the swept parameters ((key, values) in file order)."""

    workload: str
    device: str
    parameters: tuple[tuple[str, tuple], ...]
    mode: str = "inference"
    batch: int = 1
    precision: str | None = None
    stack: str | None = None          # None: the device kind's default for the mode
    fixed: tuple[str, ...] = ()
    workload_params: tuple[tuple[str, object], ...] = ()
    sample: int | None = None
    seed: int = 0
    metrics: tuple[str, ...] = DEFAULT_METRICS
    source: str = ""
    lines: dict = field(default_factory=dict, compare=False)   # key path -> line in source

    @property
    def keys(self) -> tuple[str, ...]:
        """The swept parameter keys."""
        return tuple(key for key, _ in self.parameters)

    @property
    def size(self) -> int:
        """Points in the full grid."""
        return math.prod(len(values) for _, values in self.parameters)

    def points(self) -> list[dict]:
        """The grid in order, or `sample` distinct points of it drawn with `seed` (in grid order)."""
        if self.sample is None or self.sample >= self.size:
            return [dict(zip(self.keys, combo))
                    for combo in itertools.product(*(values for _, values in self.parameters))]
        picked = sorted(random.Random(self.seed).sample(range(self.size), self.sample))
        return [self._point(index) for index in picked]

    def _point(self, index: int) -> dict:
        """The grid point at `index` (last parameter fastest, like itertools.product)."""
        point = {}
        for key, values in reversed(self.parameters):
            index, digit = divmod(index, len(values))
            point[key] = values[digit]
        return {key: point[key] for key in self.keys}

    def run_args(self, point: dict) -> dict:
        """Keyword arguments of accelsim.simulate for `point`."""
        args = {"mode": self.mode, "batch": self.batch, "precision": self.precision,
                "stack": self.stack, **dict(self.workload_params)}
        overrides = list(self.fixed)
        for key, value in point.items():
            if key in RUN_KEYS:
                args[key] = value
            elif key.startswith(PARAM_PREFIX):
                args[key[len(PARAM_PREFIX):]] = value
            else:
                overrides.append(override(key, value))
        return {"workload": self.workload, "device": self.device, "overrides": tuple(overrides),
                **args}

    @property
    def runs(self) -> int:
        """Points a sweep of the space runs: the grid's, or `sample` of them."""
        return self.size if self.sample is None else min(self.sample, self.size)

    @property
    def fingerprint(self) -> str:
        """A stable hash of the definition the records depend on (not of metrics or file path)."""
        return _digest({name: getattr(self, name) for name in DEFINITION})

    @property
    def header(self) -> dict:
        """What a result store notes of the space its records belong to."""
        return {"space": self.fingerprint, "file": self.source}

    def point_id(self, point: dict) -> str:
        """A stable id of the run a point stands for (base run and point values)."""
        return _digest(self.run_args(point))


def _digest(data: object) -> str:
    """A short SHA-1 of data as sorted JSON."""
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def override(key: str, value: object) -> str:
    """A `--set` string for a device field; values as JSON, which YAML reads back unchanged."""
    return f"{key}={json.dumps(value)}"


def load_space(path: str | Path, max_points: int = MAX_POINTS) -> Space:
    """Read and check a space file (format in this module's docstring; bundled examples by name);
    refuse one of more than `max_points` runs."""
    path = bundled(path)
    source = str(path)
    data = _read(path, source)
    where = _Where(source, data)
    for key in data:
        if key not in TOP_KEYS:
            raise where.error(key, f"unknown key; expected one of {', '.join(TOP_KEYS)}")
    for key in ("workload", "device", "parameters"):
        if key not in data:
            raise ConfigError("required key is missing", file=source, key=key)
    parameters = data["parameters"]
    if not isinstance(parameters, YamlMap) or not parameters:
        raise where.error("parameters", "expected a mapping of parameter -> values")
    axes = _Where(source, parameters, prefix="parameters.")
    space = Space(
        workload=_resolve(where.text("workload"), path.parent),
        device=_resolve(where.text("device"), path.parent),
        parameters=tuple(_axis(axes, key) for key in parameters),
        mode=where.choice("mode", RUN_CHOICES["mode"], "inference"),
        batch=where.count("batch", 1),
        precision=where.choice("precision", (None, *RUN_CHOICES["precision"]), None),
        stack=where.choice("stack", (None, *RUN_CHOICES["stack"]), None),
        fixed=tuple(where.strings("set")),
        workload_params=tuple(where.mapping("params").items()),
        sample=where.count("sample", None),
        seed=where.count("seed", 0, minimum=0),
        metrics=tuple(where.strings("metrics")) or DEFAULT_METRICS,
        source=source,
        lines={**where.lines(), **axes.lines()},
    )
    if space.runs > max_points:
        key = "parameters" if space.sample is None else "sample"
        raise where.error(key, f"the space has {space.runs:,} points to run, more than the limit "
                               f"of {max_points:,}; raise it with --max-points")
    check(space)
    return space


def _read(path: Path, source: str) -> YamlMap:
    """The space file's top-level mapping (a bounded, UTF-8 YAML file)."""
    data = read_yaml(path, source)
    if not isinstance(data, YamlMap):
        raise ConfigError("expected a mapping with workload, device and parameters", file=source)
    return data


def check(space: Space) -> None:
    """Load the device and the workload as the space sets them and with each swept value (the
    extremes of a long axis), so that a bad key or value fails before the first point runs."""
    from accelsim.api import load_device

    _check_names(space)
    _attempt(space, "device", functools.partial(load_device, space.device))
    _attempt(space, "set", functools.partial(load_device, space.device, space.fixed))
    _attempt(space, "params" if space.workload_params else "workload",
             functools.partial(_load_workload, space))
    _check_settings(space, load_device(space.device, space.fixed))
    for key, values in space.parameters:
        if key not in RUN_KEYS:
            for value in _probes(values):
                _attempt(space, f"parameters.{key}", functools.partial(_load, space, key, value),
                         value)


def _check_settings(space: Space, device) -> None:
    """Refuse a mode or precision (set or swept) that the space's device cannot run."""
    from accelsim.devices import run_precision
    from accelsim.engine.feasibility import check_mode

    swept = dict(space.parameters)
    for key, check_setting in (("mode", check_mode), ("precision", run_precision)):
        path = f"parameters.{key}" if key in swept else key
        for value in swept.get(key, (getattr(space, key),)):
            _attempt(space, path, functools.partial(check_setting, device, value), value)


def _check_names(space: Space) -> None:
    """Refuse a workload parameter named like a run setting and a swept field also `set`."""
    from accelsim.api import simulate
    from accelsim.config.overrides import parse_override

    reserved = set(inspect.signature(simulate).parameters) - {"workload_params"}
    for name, _ in space.workload_params:
        _refuse(space, "params", name in reserved, f"{name!r} is a run setting, not a workload "
                                                   "parameter")
    fixed = {".".join(parse_override(item)[0]): item for item in space.fixed}
    for key in space.keys:
        name = key[len(PARAM_PREFIX):]
        if key.startswith(PARAM_PREFIX):
            _refuse(space, f"parameters.{key}", name in reserved,
                    f"{name!r} is a run setting, not a workload parameter")
        elif key not in RUN_KEYS:
            _refuse(space, f"parameters.{key}", key in fixed,
                    f"also fixed by set: {fixed.get(key)}")


def _load(space: Space, key: str, value: object) -> None:
    """Load what the swept `key` = `value` changes: the workload or the device."""
    from accelsim.api import load_device

    if key.startswith(PARAM_PREFIX):
        _load_workload(space, **{key[len(PARAM_PREFIX):]: value})
    else:
        load_device(space.device, [*space.fixed, override(key, value)])


def _load_workload(space: Space, **params) -> None:
    """Load the space's workload with its parameters and `params`."""
    from accelsim.api import load_workload

    load_workload(space.workload, batch=space.batch, precision=space.precision or "fp16",
                  **{**dict(space.workload_params), **params})


def _attempt(space: Space, key: str, load, value: object = None) -> None:
    """Call `load`; its AccelsimError becomes a ConfigError at `key` of the space file (prefixed
    with the swept `value`, if one)."""
    try:
        load()
    except AccelsimError as exc:
        message = str(exc) if value is None else f"{value!r}: {exc.message}"
        raise ConfigError(message, file=space.source, line=space.lines.get(key),
                          key=key) from None


def _refuse(space: Space, key: str, wrong: bool, message: str) -> None:
    """A ConfigError at `key` of the space file if `wrong`."""
    if wrong:
        raise ConfigError(message, file=space.source, line=space.lines.get(key), key=key)


def _probes(values: tuple) -> list:
    """The values to try before a sweep: all, or of a long axis the least and greatest of each
    type (a long axis is a range: numbers of one or two types)."""
    if len(values) <= CHECK_ALL:
        return list(values)
    groups: dict[type, list] = {}
    for value in values:
        groups.setdefault(type(value), []).append(value)
    return [pick for group in groups.values() for pick in dict.fromkeys((min(group), max(group)))]


def _axis(axes: _Where, key: object) -> tuple[str, tuple]:
    """One swept parameter: its key and its values, each checked on its own."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise axes.error(key, "expected a dotted key such as array.rows or params.seq_len")
    spec = axes.data[key]
    values = _values(spec, axes, key)
    seen = set()
    for index, value in enumerate(values):
        problem = _problem(key, value)
        if problem is None and (type(value), value) in seen:
            problem = "appears twice"
        if problem:
            line = spec.where[index].line if isinstance(spec, YamlList) else None
            raise axes.error(key, f"{value!r}: {problem}", line=line)
        seen.add((type(value), value))
    return key, values


def _problem(key: str, value: object) -> str | None:
    """What is wrong with one swept value on its own (None: nothing)."""
    if not isinstance(value, (str, int, float)):
        return "expected a number, a string or a boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return "expected a finite number"
    if key == "batch" and not _is_count(value, 1):
        return "expected an integer >= 1"
    if key in RUN_CHOICES and value not in RUN_CHOICES[key]:
        return f"expected one of {', '.join(RUN_CHOICES[key])}"
    return None


def _is_count(value: object, minimum: int) -> bool:
    """An int (not a bool) >= minimum."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _resolve(spec: str, base: Path) -> str:
    """A workload/device spec, with a file path made relative to the space file's folder."""
    if spec.endswith(PATH_SUFFIXES) or "/" in spec:
        path = Path(spec).expanduser()
        return str(path if path.is_absolute() else (base / path).resolve())
    return spec


def _number(value: object) -> float:
    """A plain number or a unit string of any family ("10 GB/s", "64 KiB")."""
    for family in FAMILIES:
        try:
            return parse(value, family)
        except UnitError:
            continue
    raise UnitError(f"expected a number or a unit string, got {value!r}")


def _integral(value: float) -> float | int:
    """An int where the float is a whole number (so counts stay counts)."""
    return int(value) if float(value).is_integer() else value


def _values(spec: object, where: _Where, key: str) -> tuple:
    """The values of one parameter: a list, or a {from, to, step | times} range."""
    if isinstance(spec, list):
        if not spec:
            raise where.error(key, "expected at least one value")
        return tuple(spec)
    if not isinstance(spec, dict) or set(spec) not in ({"from", "to", "step"},
                                                       {"from", "to", "times"}):
        raise where.error(key, "expected a list of values or {from, to, step} / {from, to, times}")
    try:
        start, stop = _number(spec["from"]), _number(spec["to"])
        step = _number(spec.get("step", spec.get("times")))
    except UnitError as exc:
        raise where.error(key, str(exc)) from None
    geometric = "times" in spec
    if stop < start or (step <= 1 if geometric else step <= 0) or (geometric and start <= 0):
        raise where.error(key, "expected from <= to, step > 0, times > 1 and from > 0 with times")
    span = math.log(stop / start, step) if geometric else (stop - start) / step
    if span > MAX_RANGE - 1:
        raise where.error(key, f"range has more than {MAX_RANGE:,} values")
    count = math.floor(span + 1e-9) + 1
    return tuple(_integral(start * step**i if geometric else start + i * step)
                 for i in range(count))


class _Where:
    """Typed reads of a mapping's keys; errors name the file, the key's line and the key."""

    def __init__(self, source: str, data: YamlMap, prefix: str = ""):
        self.source, self.data, self.prefix = source, data, prefix

    def error(self, key: object, message: str, line: int | None = None) -> ConfigError:
        """A ConfigError at `key` (at `line` if given, else the key's)."""
        origin = self.data.where.get(key)
        return ConfigError(message, file=self.source, line=line or (origin and origin.line),
                           key=f"{self.prefix}{key}")

    def lines(self) -> dict[str, int]:
        """Key path -> line of each key."""
        return {f"{self.prefix}{key}": origin.line for key, origin in self.data.where.items()}

    def text(self, key: str) -> str:
        """A non-empty string."""
        value = self.data[key]
        if not isinstance(value, str) or not value:
            raise self.error(key, f"expected a name or path, got {value!r}")
        return value

    def choice(self, key: str, options: tuple, default):
        """One of `options`."""
        value = self.data.get(key, default)
        if value not in options:
            names = ", ".join(str(option) for option in options if option is not None)
            raise self.error(key, f"expected one of {names}, got {value!r}")
        return value

    def count(self, key: str, default, minimum: int = 1):
        """An int >= minimum (bools excluded)."""
        value = self.data.get(key, default)
        if value is default:
            return value
        if not _is_count(value, minimum):
            raise self.error(key, f"expected an integer >= {minimum}, got {value!r}")
        return value

    def strings(self, key: str) -> list[str]:
        """A list of non-empty strings (empty when absent)."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise self.error(key, f"expected a list of strings, got {value!r}")
        return value

    def mapping(self, key: str) -> dict:
        """A mapping (empty when absent)."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {value!r}")
        return dict(value)
