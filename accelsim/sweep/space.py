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
    search: lhs                                     # optional: grid (default), random, lhs, optuna
    sample: 200                                     # points of random/lhs (trials of optuna)
    seed: 0                                         # optional: seed of the search
    constraints: ["area_mm2 <= 800", fits_in_memory]   # optional: see accelsim.sweep.constraints
    metrics: [latency_s, energy_j]                  # optional: objectives of the Pareto front
    parameters:                                     # what is swept; the grid is their product
      array.rows: [8, 16, 32]                       # a list of values (unit strings allowed)
      array.cols: {from: 8, to: 256, times: 2}      # geometric range: 8, 16, ..., 256
      memory.bandwidth: {from: 10 GB/s, to: 40 GB/s, step: 10 GB/s}   # linear range, inclusive
      sram.ifmap: {from: 32 KiB, to: 1 MiB, log: true}   # continuous (random/lhs/optuna only)
      precision: [int8, fp16]                       # run settings: precision, batch, mode, stack
      params.seq_len: [128, 512]                    # a workload parameter: params.<name>

Any other parameter is a dotted device field, exactly as `--set` takes it. `sample` without `search`
draws distinct points of the grid. A continuous range {from, to[, log]} draws integers when both
ends are integers. Instead of `workload`, a space may give `workloads: [a, b]` (each design point
runs every one; its latency and energy are the sums) or a weighted `mix`, as a mapping name ->
weight or a list of {workload, weight, params}; a record of a mix holds the weighted sums of
latency_s and energy_j, fits_in_memory of all, and each component's metrics under `mix`.
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
from accelsim.sweep.constraints import Constraint, parse_constraint
from accelsim.sweep.search import SAMPLED, STRATEGIES, Range, draw
from accelsim.units import FAMILIES, UnitError, parse
from accelsim.workload.ir import PRECISIONS
from accelsim.workload.stack import STACKS

RUN_KEYS = ("precision", "batch", "mode", "stack")
PARAM_PREFIX = "params."
TOP_KEYS = ("workload", "workloads", "mix", "device", "mode", "batch", "precision", "stack", "set",
            "params", "search", "sample", "seed", "constraints", "metrics", "parameters")
WORKLOAD_KEYS = ("workload", "workloads", "mix")     # exactly one names what runs
COMPONENT_KEYS = ("workload", "weight", "params")
DEFAULT_METRICS = ("latency_s", "energy_j")
PATH_SUFFIXES = (".csv", ".yaml", ".yml", ".onnx", ".json")
MAX_RANGE = 100_000
MAX_POINTS = 100_000          # points a sweep runs unless the caller raises the limit
CHECK_ALL = 100               # an axis with at most this many values is checked value by value
RUN_CHOICES = {"mode": ("inference", "training"), "precision": PRECISIONS, "stack": STACKS}
KEY_PATTERN = re.compile(r"\w+(\.\w+)*")
# what a space's records depend on
DEFINITION = ("workload", "device", "mode", "batch", "precision", "stack", "fixed",
              "workload_params", "sample", "seed", "parameters", "search", "mix")


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
    search: str = "grid"
    constraints: tuple[Constraint, ...] = ()
    mix: tuple[tuple[str, float, tuple], ...] = ()   # (workload, weight, params); ():`workload`
    source: str = ""
    lines: dict = field(default_factory=dict, compare=False)   # key path -> line in source

    @property
    def keys(self) -> tuple[str, ...]:
        """The swept parameter keys."""
        return tuple(key for key, _ in self.parameters)

    @property
    def size(self) -> int | float:
        """Points in the full grid (inf with a continuous axis)."""
        return math.prod(math.inf if isinstance(values, Range) else len(values)
                         for _, values in self.parameters)

    @property
    def origin(self) -> dict:
        """What each record notes of how its point was chosen: the strategy and its seed."""
        return {"search": self.search} if self.search == "grid" else \
            {"search": self.search, "seed": self.seed}

    def points(self) -> list[dict]:
        """The grid in order; `sample` distinct grid points drawn with `seed` (in grid order) for
        random search of a grid; else `sample` points drawn by the strategy (see search.draw)."""
        if self.search == "lhs" or self.size == math.inf:
            return draw(self.parameters, self.search, self.sample, self.seed)
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

    def component_args(self, point: dict) -> list[tuple[float, dict]]:
        """(weight, accelsim.simulate keyword arguments) of each workload of a mix at `point`."""
        base = self.run_args(point)
        swept = {key[len(PARAM_PREFIX):]: value for key, value in point.items()
                 if key.startswith(PARAM_PREFIX)}
        return [(weight, {**base, **dict(params), **swept, "workload": workload})
                for workload, weight, params in self.mix]

    @property
    def runs(self) -> int | float:
        """Points a sweep of the space runs (at most): the grid's, or `sample` of them."""
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
        return _digest(self.component_args(point) if self.mix else self.run_args(point))


def _digest(data: object) -> str:
    """A short SHA-1 of data as sorted JSON."""
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def override(key: str, value: object) -> str:
    """A `--set` string for a device field; values as JSON, which YAML reads back unchanged."""
    return f"{key}={json.dumps(value)}"


def load_space(path: str | Path, max_points: int = MAX_POINTS, *, search: str | None = None,
               sample: int | None = None, seed: int | None = None,
               constraints: tuple[str, ...] = ()) -> Space:
    """Read and check a space file (format in this module's docstring; bundled examples by name);
    refuse one of more than `max_points` runs. search, sample and seed replace the file's; the
    `constraints` (texts, e.g. from --constraint) are added to the file's."""
    path = bundled(path)
    source = str(path)
    data = _read(path, source)
    where = _Where(source, data)
    for key in data:
        if key not in TOP_KEYS:
            raise where.error(key, f"unknown key; expected one of {', '.join(TOP_KEYS)}")
    for key in ("device", "parameters"):
        if key not in data:
            raise ConfigError("required key is missing", file=source, key=key)
    named = [key for key in WORKLOAD_KEYS if key in data]
    if not named:
        raise ConfigError(f"required key is missing: one of {', '.join(WORKLOAD_KEYS)}",
                          file=source, key="workload")
    if len(named) > 1:
        raise where.error(named[1], f"give one of {', '.join(WORKLOAD_KEYS)}, not {named[0]} too")
    parameters = data["parameters"]
    if not isinstance(parameters, YamlMap) or not parameters:
        raise where.error("parameters", "expected a mapping of parameter -> values")
    if search != "grid" and sample is None:        # a grid asked for by the caller draws nothing
        sample = where.count("sample", None)
    strategy = _strategy(where, search, sample)
    axes = _Where(source, parameters, prefix="parameters.")
    space = Space(
        workload=_resolve(where.text("workload"), path.parent) if "workload" in data else "",
        mix=_mix(where, named[0], path.parent),
        device=_resolve(where.text("device"), path.parent),
        parameters=tuple(_axis(axes, key, strategy != "grid") for key in parameters),
        search=strategy,
        constraints=(*_constraints(where), *(parse_constraint(text, key="--constraint")
                                             for text in constraints)),
        mode=where.choice("mode", RUN_CHOICES["mode"], "inference"),
        batch=where.count("batch", 1),
        precision=where.choice("precision", (None, *RUN_CHOICES["precision"]), None),
        stack=where.choice("stack", (None, *RUN_CHOICES["stack"]), None),
        fixed=tuple(where.strings("set")),
        workload_params=tuple(where.mapping("params").items()),
        sample=sample,
        seed=where.count("seed", 0, minimum=0) if seed is None else seed,
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


def _strategy(where: _Where, search: str | None, sample: int | None) -> str:
    """The search strategy (random where only `sample` is given); one that draws needs `sample`."""
    strategy = search or where.choice("search", STRATEGIES, "random" if sample else "grid")
    if strategy in SAMPLED and sample is None:
        raise where.error("search" if "search" in where.data else "sample",
                          f"search {strategy} needs sample: N (the points to draw)")
    if strategy == "grid" and sample is not None:
        raise where.error("sample", "a grid runs every point; draw a sample with search: random "
                                    "or lhs")
    return strategy


def _constraints(where: _Where) -> list[Constraint]:
    """The file's constraints, each parsed (errors name its line)."""
    texts = where.data.get("constraints", YamlList())
    if not isinstance(texts, YamlList):
        raise where.error("constraints", f"expected a list such as [\"area_mm2 <= 800\"], "
                                         f"got {texts!r}")
    return [parse_constraint(text, file=where.source, line=texts.where[index].line,
                             key=f"constraints[{index}]") for index, text in enumerate(texts)]


def _mix(where: _Where, key: str, base: Path) -> tuple[tuple[str, float, tuple], ...]:
    """The (workload, weight, params) of `workloads` (weight 1 each) or `mix`; () for `workload`."""
    value = where.data[key]
    if key == "workload":
        return ()
    if key == "workloads":
        names = where.strings(key)
        if not names or len(set(names)) < len(names):
            raise where.error(key, "expected a list of distinct workload names or paths")
        return tuple((_resolve(name, base), 1.0, ()) for name in names)
    if isinstance(value, YamlMap) and value:
        items = [(name, {"workload": name, "weight": weight}, value.where[name].line)
                 for name, weight in value.items()]
    elif isinstance(value, YamlList) and value:
        items = [(index, item, value.where[index].line) for index, item in enumerate(value)]
    else:
        raise where.error(key, "expected a mapping workload -> weight or a list of "
                               "{workload, weight, params}")
    return tuple(_component(where, f"mix.{label}", item, line, base) for label, item, line in items)


def _component(where: _Where, key: str, item: object, line: int, base: Path) -> tuple:
    """One (workload, weight, params) of a mix."""
    def refuse(message: str) -> ConfigError:
        return ConfigError(message, file=where.source, line=line, key=key)

    if not isinstance(item, dict) or set(item) - set(COMPONENT_KEYS) or "workload" not in item \
            or "weight" not in item:
        raise refuse("expected {workload, weight[, params]}")
    name, weight, params = item["workload"], item["weight"], item.get("params", {})
    if not isinstance(name, str) or not name:
        raise refuse(f"expected a workload name or path, got {name!r}")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
            or not 0 < weight < math.inf:
        raise refuse(f"weight: expected a number > 0, got {weight!r}")
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise refuse(f"params: expected a mapping, got {params!r}")
    return _resolve(name, base), float(weight), tuple(params.items())


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
    named = next(key for key in (*WORKLOAD_KEYS[1:], "workload") if key in space.lines)
    _attempt(space, "params" if space.workload_params else named,
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
    for name in (name for _, _, params in space.mix for name, _ in params):
        _refuse(space, "mix", name in reserved, f"{name!r} is a run setting, not a workload "
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
    """Load the space's workload (each of a mix's) with its parameters and `params`."""
    from accelsim.api import load_workload

    for workload, _, own in space.mix or ((space.workload, 1.0, ()),):
        load_workload(workload, batch=space.batch, precision=space.precision or "fp16",
                      **{**dict(space.workload_params), **dict(own), **params})


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


def _probes(values: tuple | Range) -> list:
    """The values to try before a sweep: all, or of a long axis the least and greatest of each
    type (a long axis is a range: numbers of one or two types)."""
    if isinstance(values, Range):
        return list(values.ends)
    if len(values) <= CHECK_ALL:
        return list(values)
    groups: dict[type, list] = {}
    for value in values:
        groups.setdefault(type(value), []).append(value)
    return [pick for group in groups.values() for pick in dict.fromkeys((min(group), max(group)))]


def _axis(axes: _Where, key: object, continuous: bool) -> tuple[str, tuple | Range]:
    """One swept parameter: its key and its values (or a continuous Range, where the search
    draws points), each checked on its own."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise axes.error(key, "expected a dotted key such as array.rows or params.seq_len")
    spec = axes.data[key]
    if isinstance(spec, dict) and set(spec) in ({"from", "to"}, {"from", "to", "log"}):
        if not continuous:
            raise axes.error(key, "a continuous range {from, to[, log]} needs search: random, "
                                  "lhs or optuna; a grid takes {from, to, step} / {from, to, "
                                  "times}")
        axis = _range(spec, axes, key)
        for value in axis.ends:
            if _problem(key, value):
                raise axes.error(key, f"{value!r}: {_problem(key, value)}")
        return key, axis
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


def _range(spec: dict, where: _Where, key: str) -> Range:
    """A continuous {from, to[, log]} range; integer ends draw integers."""
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise where.error(key, f"log: expected true or false, got {log!r}")
    try:
        low, high = _number(spec["from"]), _number(spec["to"])
    except UnitError as exc:
        raise where.error(key, str(exc)) from None
    if not low < high or (log and low <= 0):
        raise where.error(key, "expected from < to (and from > 0 with log)")
    integer = all(_is_count(spec[end], -2**62) for end in ("from", "to"))
    return Range(low, high, log=log, integer=integer)


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
