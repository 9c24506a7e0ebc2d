"""Dotted overrides ("memory.bandwidth=3 TB/s", as given to --set) applied onto loaded YAML."""

from __future__ import annotations

from collections.abc import Sequence

from accelsim.config.yaml_lines import Origin, YamlMap, as_yaml_map, merge
from accelsim.errors import ConfigError
from accelsim.files import load_yaml

SOURCE = "--set"
ORIGIN = Origin(SOURCE, None)


def parse_override(text: str) -> tuple[tuple[str, ...], object]:
    """Split "a.b.c=value" into its key path and its value parsed as YAML ("64" -> 64)."""
    key, sep, raw = text.partition("=")
    keys = tuple(part.strip() for part in key.split("."))
    if not sep or not all(keys):
        raise ConfigError(f"expected KEY=VALUE with a dotted key such as memory.bandwidth=3TB/s, "
                          f"got {text!r}", file=SOURCE)
    return keys, load_yaml(raw, SOURCE, ConfigError, key=".".join(keys))


def apply_overrides(data: YamlMap, overrides: Sequence[str]) -> YamlMap:
    """`data` with each override merged in, in order; the origin of what they set is --set."""
    for text in overrides:
        keys, value = parse_override(text)
        if keys == ("extends",):
            raise ConfigError("extends cannot be overridden; name the parent device instead",
                              file=SOURCE, key="extends")
        _check_path(data, keys)
        patch: object = value
        for key in reversed(keys):
            patch = {key: patch}
        data = merge(data, as_yaml_map(patch, ORIGIN))
    return data


def _check_path(data: dict, keys: tuple[str, ...]) -> None:
    """Refuse to descend into a value that exists and is not a mapping."""
    for depth, key in enumerate(keys[:-1]):
        data = data.get(key) if isinstance(data, dict) else None
        if data is None:
            return
        if not isinstance(data, dict):
            parent = ".".join(keys[: depth + 1])
            raise ConfigError(f"cannot set a key inside {parent}, which is a value, not a mapping",
                              file=SOURCE, key=".".join(keys))
