"""Device YAML trees: a file merged onto its `extends:` chain, validated against its kind's schema."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from accelsim.config import KINDS, schema
from accelsim.config.explain import config_error
from accelsim.config.paths import display, resolve
from accelsim.config.yaml_lines import YamlMap, merge, plain, read_mapping
from accelsim.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from accelsim.config.common import DeviceBase


def load_tree(spec: str | os.PathLike) -> YamlMap:
    """The merged YAML mapping of `spec` after following its `extends:` chain."""
    return read_tree(resolve(spec))[0]


def read_tree(path: Path) -> tuple[YamlMap, tuple[Path, ...]]:
    """The merged YAML mapping of device file `path` and the files of its `extends:` chain."""
    return _load_tree(path, ())


def validate(data: YamlMap) -> DeviceBase:
    """Validate merged YAML against the schema its `kind` selects; errors name file:line: key."""
    if "kind" not in data:
        raise ConfigError(f"required key is missing; expected one of {', '.join(KINDS)}",
                          file=data.origin.file, line=data.origin.line, key="kind")
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        origin = data.where.get("kind", data.origin)
        raise ConfigError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}"
                          + did_you_mean(kind, KINDS), file=origin.file, line=origin.line,
                          key="kind")
    model = schema(kind)
    try:
        return model.model_validate(plain(data))
    except ValidationError as exc:
        raise config_error(exc, data, model) from None


def _load_tree(path: Path, chain: tuple[Path, ...]) -> tuple[YamlMap, tuple[Path, ...]]:
    """The mapping of `path` merged onto its `extends:` parent, recursively, and the files read."""
    data = _read(path, _stamp(path), display(path))
    if "extends" not in data:
        return _pin_peak(data, data), chain + (path,)
    origin = data.where["extends"]
    parent_spec = data["extends"]
    if not isinstance(parent_spec, str) or not parent_spec:
        raise ConfigError(f"expected a bundled device name or a YAML path, got {parent_spec!r}",
                          file=origin.file, line=origin.line, key="extends")
    chain = chain + (path,)
    parent = resolve(parent_spec, base=path.parent, origin=origin)
    if parent in chain:
        cycle = " -> ".join(display(p) for p in chain[chain.index(parent):] + (parent,))
        raise ConfigError(f"cycle {cycle}", file=origin.file, line=origin.line, key="extends")
    tree, files = _load_tree(parent, chain)
    return _pin_peak(merge(tree, data.without("extends")), data), files


def _pin_peak(tree: YamlMap, own: YamlMap) -> YamlMap:
    """`tree` with a GPU's `peak_at` pinned (accelsim.config.gpu.quote_peak); other kinds as they are."""
    if tree.get("kind") != "gpu":
        return tree
    from accelsim.config.gpu import quote_peak

    return quote_peak(tree, own)


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
