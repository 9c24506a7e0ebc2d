"""A device's resolved values with units for people: 2039000000000.0 -> "2.04 TB/s"."""

from __future__ import annotations

from typing import get_args

from pydantic import BaseModel, BeforeValidator

from accelsim import units

SHOW = {"bytes": units.fmt_bytes, "frequency": lambda v: units.fmt(v, "Hz"),
        "bandwidth": lambda v: units.fmt(v, "B/s"), "power": lambda v: units.fmt(v, "W"),
        "time": lambda v: units.fmt(v, "s"), "flops": lambda v: units.fmt(v, "FLOP/s"),
        "energy": lambda v: units.fmt(v, "J")}


def unit_family(annotation: object) -> str | None:
    """The unit family of a field type built from accelsim.config.types (through Optional/dict)."""
    if isinstance(annotation, BeforeValidator):
        return getattr(annotation.func, "family", None)
    for arg in get_args(annotation):
        family = unit_family(arg)
        if family:
            return family
    return None


def readable(model: BaseModel) -> dict:
    """The model's fields as plain data, unit-carrying numbers formatted with their units."""
    out = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        family = unit_family(field.annotation) or next(
            (f for f in map(unit_family, field.metadata) if f), None)
        out[name] = _show(value, SHOW.get(family))
    return out


def _show(value: object, show) -> object:
    """One value: nested models recursively, numbers through `show` when they carry a unit."""
    if isinstance(value, BaseModel):
        return readable(value)
    if isinstance(value, dict):
        return {key: _show(item, show) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_show(item, show) for item in value]
    if show is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return show(value)
    return value
