"""Load device YAMLs: bundled names or paths, `extends:` inheritance, --set overrides, checks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from accelsim.config import KINDS, cache, device_config_type
from accelsim.config.paths import bundled_configs, hw_configs_dir, resolve
from accelsim.workload.ir import PRECISIONS

if TYPE_CHECKING:
    from accelsim.config.common import DeviceBase as DeviceConfig


def load_device(spec: str | os.PathLike, overrides: Sequence[str] = (), *,
                plain: bool = False) -> DeviceConfig:
    """A validated device from a bundled name ("a100") or a YAML path, with --set overrides;
    a bundled device without overrides comes from accelsim.config.cache once validated, as its
    pydantic-free mirror (accelsim.config.plain) if `plain` (for runs, which only read it)."""
    path = resolve(spec)
    cached = not overrides and path.is_relative_to(hw_configs_dir().resolve())
    device = cache.load(path, plain=plain) if cached else None
    if device is None:
        from accelsim.config.overrides import apply_overrides
        from accelsim.config.tree import read_tree, validate

        tree, files = read_tree(path)
        device = validate(apply_overrides(tree, overrides))
        if cached:
            cache.store(path, files, device)
    return device


def list_devices() -> list[tuple[str, str, str]]:
    """(name, kind, title) of every bundled device config, ordered by kind then name."""
    from accelsim.config.tree import load_tree, validate

    rows = []
    for name, paths in bundled_configs().items():
        tree = load_tree(paths[0])
        if tree.get("kind") in KINDS:
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
    from pydantic import TypeAdapter

    found = _move_bounds(TypeAdapter(device_config_type()).json_schema(mode="validation"))
    found = {"$schema": "https://json-schema.org/draft/2020-12/schema",
             "title": "accelsim device", **found}
    for definition in found.get("$defs", {}).values():
        if "kind" in definition.get("properties", {}):
            definition["properties"]["extends"] = {
                "type": "string",
                "description": "bundled device name or YAML path (relative to this file)"}
    return found


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
