"""YAML with line numbers: safe_load semantics, plus the file and line of each key and list item."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import NamedTuple

import yaml

from accelsim.errors import ConfigError
from accelsim.files import MAX_YAML_BYTES, BoundedLoader, load_yaml, read_text


class Origin(NamedTuple):
    """Where a value came from: the file as shown to the user and a 1-based line (None: unknown)."""

    file: str
    line: int | None


class YamlMap(dict):
    """A mapping that remembers the origin of each key (`where`) and of itself (`origin`)."""

    def __init__(self, *args, origin: Origin = Origin("", None), **kwargs):
        super().__init__(*args, **kwargs)
        self.origin = origin
        self.where: dict = {}

    def without(self, key: object) -> YamlMap:
        """A copy without `key` (and its origin)."""
        copy = YamlMap({k: v for k, v in self.items() if k != key}, origin=self.origin)
        copy.where = {k: v for k, v in self.where.items() if k != key}
        return copy


class YamlList(list):
    """A list that remembers the origin of each item (`where`) and of itself (`origin`)."""

    def __init__(self, *args, origin: Origin = Origin("", None)):
        super().__init__(*args)
        self.origin = origin
        self.where: list[Origin] = []


class _LineLoader(BoundedLoader):
    """BoundedLoader that builds YamlMap/YamlList and rejects duplicate keys."""

    def _origin(self, node: yaml.Node) -> Origin:
        return Origin(self.source, node.start_mark.line + 1)


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> YamlMap:
    """A YamlMap with the line of every key; a key repeated in one mapping is an error.

    Keys brought in by a `<<: *anchor` merge may be overridden, as in yaml.safe_load.
    """
    own = sum(1 for key_node, _ in node.value if key_node.tag != "tag:yaml.org,2002:merge")
    loader.flatten_mapping(node)
    merged = len(node.value) - own
    data = YamlMap(origin=loader._origin(node))
    own_keys: set = set()
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(None, None, "found an unhashable key",
                                                    key_node.start_mark)
        if key in own_keys:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first defined at line {data.where[key].line})",
                key_node.start_mark)
        if index >= merged:
            own_keys.add(key)
        data[key] = loader.construct_object(value_node, deep=True)
        data.where[key] = loader._origin(key_node)
    return data


def _construct_list(loader: _LineLoader, node: yaml.SequenceNode) -> YamlList:
    """A YamlList with the line of every item."""
    data = YamlList(origin=loader._origin(node))
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.where.append(loader._origin(item))
    return data


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_list)


def parse_yaml(text: str, source: str) -> object:
    """Parse one YAML document like yaml.safe_load (within the bounds of accelsim.files); errors
    become a ConfigError at `source`:line."""
    return load_yaml(text, source, ConfigError, loader=_LineLoader)


def read_yaml(path: Path, source: str) -> object:
    """Parse a YAML file (a regular UTF-8 file of at most MAX_YAML_BYTES)."""
    return parse_yaml(read_text(path, source, ConfigError, MAX_YAML_BYTES), source)


def read_mapping(path: Path, source: str) -> YamlMap:
    """Read a YAML file whose top level must be a mapping."""
    data = read_yaml(path, source)
    if data is None:
        raise ConfigError("file is empty; expected a mapping of device fields", file=source)
    if not isinstance(data, YamlMap):
        line = data.origin.line if isinstance(data, YamlList) else 1
        raise ConfigError(f"expected a mapping of device fields at the top level, got "
                          f"{_describe(data)}", file=source, line=line)
    return data


def _describe(value: object) -> str:
    """A short name for a YAML value's type, for error messages."""
    if isinstance(value, list):
        return "a list"
    return f"the scalar {value!r}"


def merge(base: YamlMap, top: YamlMap) -> YamlMap:
    """Deep-merge `top` onto `base`: nested mappings merge, anything else in `top` replaces."""
    merged = YamlMap(base, origin=_prefer(top.origin, base.origin))
    merged.where = dict(base.where)
    for key, value in top.items():
        origin = top.where.get(key, top.origin)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base_origin = base.where.get(key, base.origin)
            value = merge(as_yaml_map(base[key], base_origin), as_yaml_map(value, origin))
            origin = _prefer(origin, base_origin)
        merged[key] = value
        merged.where[key] = origin
    return merged


def _prefer(first: Origin, second: Origin) -> Origin:
    """`first` unless it has no line number (e.g. it came from --set) and `second` has one."""
    return first if first.line is not None or second.line is None else second


def as_yaml_map(value: dict, origin: Origin | None) -> YamlMap:
    """`value` as a YamlMap; a plain dict gets `origin` for itself and every key."""
    if isinstance(value, YamlMap):
        return value
    origin = origin or Origin("", None)
    converted = YamlMap(value, origin=origin)
    converted.where = {key: origin for key in value}
    return converted


def locate(data: object, path: Sequence[object]) -> Origin | None:
    """Origin of the deepest key of `path` found in `data` (None if not even the first is)."""
    found = data.origin if isinstance(data, (YamlMap, YamlList)) else None
    for part in path:
        if isinstance(data, YamlMap) and isinstance(part, Hashable) and part in data:
            found = data.where.get(part, found)
        elif isinstance(data, YamlList) and isinstance(part, int) and 0 <= part < len(data):
            found = data.where[part]
        else:
            break
        data = data[part]
    return found


def lookup(data: object, path: Sequence[object], default: object = None) -> object:
    """The value at `path` inside nested mappings/lists, or `default`."""
    for part in path:
        if isinstance(data, dict) and isinstance(part, Hashable) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return default
    return data


def plain(data: object) -> object:
    """The same data as plain dicts and lists (for pydantic and yaml.safe_dump)."""
    if isinstance(data, dict):
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [plain(item) for item in data]
    return data
