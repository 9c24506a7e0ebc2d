"""A design space: a base run (workload, device, mode, ...) and swept parameters with their values.

Space file (YAML; file paths in it are relative to the file)::

    workload: ../workloads/scalesim/Resnet50.csv    # zoo name or workload file
    device: scalesim_32x32                          # bundled device name or YAML path
    mode: inference                                 # optional: inference (default), training
    batch: 1                                        # optional
    precision: int8                                 # optional (default: the device's own)
    set: [array.dataflow=ws]                        # optional fixed device overrides
    params: {seq_len: 512}                          # optional workload parameters
    sample: 200                                     # optional: N random points instead of the grid
    seed: 0                                         # optional: seed of `sample`
    metrics: [latency_s, energy_j]                  # optional: objectives of the Pareto front
    parameters:                                     # what is swept; the grid is their product
      array.rows: [8, 16, 32]                       # a list of values (unit strings allowed)
      array.cols: {from: 8, to: 256, times: 2}      # geometric range: 8, 16, ..., 256
      memory.bandwidth: {from: 10 GB/s, to: 40 GB/s, step: 10 GB/s}   # linear range, inclusive
      precision: [int8, fp16]                       # run settings: precision, batch, mode
      params.seq_len: [128, 512]                    # a workload parameter: params.<name>

Any other parameter is a dotted device field, exactly as `--set` takes it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from accelsim.bundled import bundled
from accelsim.config.yaml_lines import YamlMap, read_yaml
from accelsim.errors import AccelsimError, ConfigError
from accelsim.units import FAMILIES, UnitError, parse
from accelsim.workload.ir import PRECISIONS

RUN_KEYS = ("precision", "batch", "mode")
PARAM_PREFIX = "params."
TOP_KEYS = ("workload", "device", "mode", "batch", "precision", "set", "params", "sample", "seed",
            "metrics", "parameters")
DEFAULT_METRICS = ("latency_s", "energy_j")
PATH_SUFFIXES = (".csv", ".yaml", ".yml", ".onnx", ".json")
MAX_RANGE = 100_000


@dataclass(frozen=True)
class Space:
    """A base run and the swept parameters ((key, values) in file order)."""

    workload: str
    device: str
    parameters: tuple[tuple[str, tuple], ...]
    mode: str = "inference"
    batch: int = 1
    precision: str | None = None
    fixed: tuple[str, ...] = ()
    workload_params: tuple[tuple[str, object], ...] = ()
    sample: int | None = None
    seed: int = 0
    metrics: tuple[str, ...] = DEFAULT_METRICS
    source: str = ""
    lines: dict = field(default_factory=dict, compare=False)   # parameter key -> line in source

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
                **dict(self.workload_params)}
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

    def point_id(self, point: dict) -> str:
        """A stable id of the run a point stands for (base run and point values)."""
        text = json.dumps(self.run_args(point), sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


def override(key: str, value: object) -> str:
    """A `--set` string for a device field; values as JSON, which YAML reads back unchanged."""
    return f"{key}={json.dumps(value)}"


def load_space(path: str | Path) -> Space:
    """Read and check a space file (format in this module's docstring; bundled examples by name)."""
    path = bundled(path)
    source = str(path)
    data = read_yaml(path, source)
    if not isinstance(data, YamlMap):
        raise ConfigError("expected a mapping with workload, device and parameters", file=source)
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
    swept = tuple((str(key), _values(value, _Where(source, parameters), key))
                  for key, value in parameters.items())
    space = Space(
        workload=_resolve(where.text("workload"), path.parent),
        device=_resolve(where.text("device"), path.parent),
        parameters=swept,
        mode=where.choice("mode", ("inference", "training"), "inference"),
        batch=where.count("batch", 1),
        precision=where.choice("precision", (None, *PRECISIONS), None),
        fixed=tuple(str(item) for item in where.list("set")),
        workload_params=tuple(where.mapping("params").items()),
        sample=where.count("sample", None),
        seed=where.count("seed", 0, minimum=0),
        metrics=tuple(str(m) for m in where.list("metrics")) or DEFAULT_METRICS,
        source=source,
        lines={str(key): origin.line for key, origin in parameters.where.items()},
    )
    check(space)
    return space


def check(space: Space) -> None:
    """Load the device with each swept value once, so a bad key or value fails before the sweep."""
    from accelsim.api import load_device

    for key, values in space.parameters:
        if key in RUN_KEYS or key.startswith(PARAM_PREFIX):
            continue
        for value in values:
            try:
                load_device(space.device, [*space.fixed, override(key, value)])
            except AccelsimError as exc:
                raise ConfigError(f"{value!r}: {exc.message}", file=space.source,
                                  line=space.lines.get(key), key=f"parameters.{key}") from None


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
    count = math.floor(span + 1e-9) + 1
    if count > MAX_RANGE:
        raise where.error(key, f"range has {count:,} values; at most {MAX_RANGE:,}")
    return tuple(_integral(start * step**i if geometric else start + i * step)
                 for i in range(count))


class _Where:
    """Typed reads of a mapping's keys; errors name the file, the key's line and the key."""

    def __init__(self, source: str, data: YamlMap):
        self.source, self.data = source, data

    def error(self, key: object, message: str) -> ConfigError:
        """A ConfigError at `key`."""
        origin = self.data.where.get(key)
        return ConfigError(message, file=self.source, line=origin.line if origin else None,
                           key=str(key))

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
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise self.error(key, f"expected an integer >= {minimum}, got {value!r}")
        return value

    def list(self, key: str) -> list:
        """A list (empty when absent)."""
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {value!r}")
        return value

    def mapping(self, key: str) -> dict:
        """A mapping (empty when absent)."""
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {value!r}")
        return dict(value)
