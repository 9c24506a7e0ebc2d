"""Load device YAMLs: bundled names or paths, `extends:` inheritance, --set overrides, checks."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

from pydantic import TypeAdapter, ValidationError

from accelsim.config import KINDS, DeviceConfig
from accelsim.config.explain import config_error
from accelsim.config.gpu import quote_peak
from accelsim.config.overrides import apply_overrides
from accelsim.config.yaml_lines import Origin, YamlMap, merge, plain, read_mapping
from accelsim.errors import ConfigError, did_you_mean
from accelsim.workload.ir import PRECISIONS

ENV_VAR = "ACCELSIM_HW_CONFIGS"
YAML_SUFFIXES = (".yaml", ".yml")
NON_DEVICE_DIRS = ("interconnect",)   # hw_configs/ folders that hold configs other than devices
# kind -> schema class, read off the DeviceConfig union
SCHEMAS = {get_args(cls.model_fields["kind"].annotation)[0]: cls
           for cls in get_args(get_args(DeviceConfig)[0])}


def hw_configs_dir() -> Path:
    """The bundled device directory: $ACCELSIM_HW_CONFIGS, else the package's hw_configs/."""
    override = os.environ.get(ENV_VAR)
    return Path(override) if override else Path(__file__).resolve().parents[1] / "hw_configs"


def bundled_configs(subdir: str | None = None) -> dict[str, list[Path]]:
    """Bundled YAML files by stem (a list, so that a duplicated stem can be reported): devices, or
    the non-device configs under hw_configs/<subdir> (one of NON_DEVICE_DIRS)."""
    if subdir:
        return dict(_index(str(hw_configs_dir() / subdir), ()))
    return dict(_index(str(hw_configs_dir()), NON_DEVICE_DIRS))


@functools.lru_cache(maxsize=8)
def _index(root: str, skip: tuple[str, ...]) -> tuple[tuple[str, list[Path]], ...]:
    """(stem, paths) of every YAML file under `root` outside its `skip` folders, sorted by stem."""
    found: dict[str, list[Path]] = {}
    for path in sorted(Path(root).rglob("*")):
        if path.suffix in YAML_SUFFIXES and path.is_file() and \
                path.relative_to(root).parts[0] not in skip:
            found.setdefault(path.stem, []).append(path)
    return tuple(sorted(found.items()))


def load_device(spec: str | os.PathLike, overrides: Sequence[str] = ()) -> DeviceConfig:
    """A validated device from a bundled name ("a100") or a YAML path, with --set overrides."""
    data = apply_overrides(load_tree(spec), overrides)
    return validate(data)


def load_tree(spec: str | os.PathLike) -> YamlMap:
    """The merged YAML mapping of `spec` after following its `extends:` chain."""
    return _load_tree(resolve(spec), ())


def validate(data: YamlMap) -> DeviceConfig:
    """Validate merged YAML against the schema its `kind` selects; errors name file:line: key."""
    if "kind" not in data:
        raise ConfigError(f"required key is missing; expected one of {', '.join(KINDS)}",
                          file=data.origin.file, line=data.origin.line, key="kind")
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in SCHEMAS:
        origin = data.where.get("kind", data.origin)
        raise ConfigError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}"
                          + did_you_mean(kind, KINDS), file=origin.file, line=origin.line,
                          key="kind")
    try:
        return SCHEMAS[kind].model_validate(plain(data))
    except ValidationError as exc:
        raise config_error(exc, data, SCHEMAS[kind]) from None


def resolve(spec: str | os.PathLike, base: Path | None = None,
            origin: Origin | None = None) -> Path:
    """The YAML file of a bundled name or a path (relative to `base` if given, else the cwd)."""
    text = os.fspath(spec)
    where = {"file": origin.file, "line": origin.line, "key": "extends"} if origin else {}
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    looks_like_path = isinstance(spec, os.PathLike) or text.endswith(YAML_SUFFIXES) or \
        "/" in text or os.sep in text
    if not looks_like_path and (text in bundled_configs() or not path.is_file()):
        return _bundled(text, where)
    if not path.is_file():
        if origin is None:
            raise ConfigError("no such file", file=text)
        raise ConfigError(f"no such file {text!r} (looked in {path.parent})", **where)
    return path.resolve()


def _bundled(name: str, where: dict) -> Path:
    """The bundled YAML named `name`; an unknown name suggests the closest ones."""
    paths = bundled_configs().get(name)
    if not paths:
        hint = did_you_mean(name, bundled_configs(), n=3)
        raise ConfigError(f"unknown device {name!r}{hint}; `accelsim list devices` shows the "
                          "bundled ones, or give a path to a YAML file", **where)
    if len(paths) > 1:
        listed = ", ".join(_display(path) for path in paths)
        raise ConfigError(f"device name {name!r} is ambiguous: {listed}", **where)
    return paths[0].resolve()


def _load_tree(path: Path, chain: tuple[Path, ...]) -> YamlMap:
    """The mapping of `path` merged onto its `extends:` parent, recursively."""
    data = _read(path, _stamp(path), _display(path))
    if "extends" not in data:
        return quote_peak(data, data)
    origin = data.where["extends"]
    parent_spec = data["extends"]
    if not isinstance(parent_spec, str) or not parent_spec:
        raise ConfigError(f"expected a bundled device name or a YAML path, got {parent_spec!r}",
                          file=origin.file, line=origin.line, key="extends")
    chain = chain + (path,)
    parent = resolve(parent_spec, base=path.parent, origin=origin)
    if parent in chain:
        cycle = " -> ".join(_display(p) for p in chain[chain.index(parent):] + (parent,))
        raise ConfigError(f"cycle {cycle}", file=origin.file, line=origin.line, key="extends")
    return quote_peak(merge(_load_tree(parent, chain), data.without("extends")), data)


def _stamp(path: Path) -> tuple[int, int]:
    """(modification time in ns, size): the part of the parse cache key that sees edits."""
    try:
        stat = path.stat()
    except OSError:
        return (0, 0)
    return (stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _read(path: Path, stamp: tuple[int, int], source: str) -> YamlMap:
    """Parsed top-level mapping of `path` named `source`; cached per stamp, never mutated."""
    return read_mapping(path, source)


def _display(path: Path) -> str:
    """How a file is named in messages: hw_configs/<rel> if bundled, else relative to the cwd."""
    root = hw_configs_dir().resolve()
    if path.is_relative_to(root):
        return f"{root.name}/{path.relative_to(root).as_posix()}"
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def list_devices() -> list[tuple[str, str, str]]:
    """(name, kind, title) of every bundled device config, ordered by kind then name."""
    rows = []
    for name, paths in bundled_configs().items():
        tree = _load_tree(paths[0].resolve(), ())
        if tree.get("kind") in SCHEMAS:
            rows.append((name, tree["kind"], validate(tree).name))
    return sorted(rows, key=lambda row: (KINDS.index(row[1]), row[0]))


def describe(device: DeviceConfig, *, with_units: bool = False) -> dict:
    """Resolved values of a device, plus its derived peak rates, for `accelsim show`: SI numbers,
    or strings with units ("2.04 TB/s") when `with_units`."""
    from accelsim.config.readable import SHOW, readable

    values = readable(device) if with_units else device.model_dump(mode="json")
    show = SHOW["flops"] if with_units else float
    ordered = {"kind": values.pop("kind"), "name": values.pop("name"), **values}
    ordered["derived"] = {"peak_flops": {precision: show(device.peak_flops(precision))
                                         for precision in PRECISIONS
                                         if device.supports(precision)}}
    return ordered


def device_json_schema() -> dict:
    """JSON Schema of device YAML files (unit fields accept numbers or strings like "2 TB/s")."""
    schema = _move_bounds(TypeAdapter(DeviceConfig).json_schema(mode="validation"))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "title": "accelsim device", **schema}
    for definition in schema.get("$defs", {}).values():
        if "kind" in definition.get("properties", {}):
            definition["properties"]["extends"] = {
                "type": "string",
                "description": "bundled device name or YAML path (relative to this file)"}
    return schema


def _move_bounds(node: object) -> object:
    """Turn pydantic's bare gt/ge next to an anyOf into exclusiveMinimum/minimum on its numbers."""
    if isinstance(node, list):
        return [_move_bounds(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _move_bounds(value) for key, value in node.items()}
    if "anyOf" in node:
        bounds = {"exclusiveMinimum": node.pop("gt", None), "minimum": node.pop("ge", None)}
        for branch in node["anyOf"]:
            if branch.get("type") in ("number", "integer"):
                branch.update({key: value for key, value in bounds.items() if value is not None})
    return node
