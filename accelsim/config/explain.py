"""Turn a pydantic ValidationError into one ConfigError that names the YAML file, line and key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

from pydantic import BaseModel, ValidationError

from accelsim.config.yaml_lines import Origin, locate, lookup
from accelsim.errors import ConfigError, did_you_mean

_MISSING = object()
_BOUNDS = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"),
           "less_than": ("<", "lt"), "less_than_equal": ("<=", "le")}
_EXPECTED = {"int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
             "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
             "bool_parsing": "true or false", "string_type": "a string", "list_type": "a list",
             "tuple_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
             "model_attributes_type": "a mapping"}


def config_error(exc: ValidationError, data: dict, model: type[BaseModel],
                 skip: int = 0) -> ConfigError:
    """The first problem of `exc` as a ConfigError; `skip` drops leading loc parts.

    Problems are ordered by line, except that missing keys come last: a misspelt key shows up
    as both an unknown key and a missing one, and the unknown key is the one to report.
    """
    problems = sorted((_problem(err, _key_loc(err["loc"][skip:]), data, model)
                       for err in exc.errors()),
                      key=lambda p: (p[3], p[0].line is None, p[0].line or 0))
    origin, key, message, _ = problems[0]
    if len(problems) > 1:
        more = len(problems) - 1
        message += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(message, file=origin.file or None, line=origin.line, key=key or None)


def _key_loc(loc: tuple) -> tuple:
    """A loc without pydantic's "[key]" marker (a bad mapping key is reported at the key itself)."""
    return loc[:-1] if loc and loc[-1] == "[key]" else loc


def key_path(loc: Sequence[object]) -> str:
    """Dotted key path of a pydantic loc: ("memory", "bandwidth") -> "memory.bandwidth"."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _problem(err: dict, loc: tuple, data: dict,
             model: type[BaseModel]) -> tuple[Origin, str, str, bool]:
    """(origin, key path, message, is-a-missing-key) of one pydantic error."""
    origin = locate(data, loc) or Origin("", None)
    raw = lookup(data, loc, _MISSING)
    return origin, key_path(loc), _message(err, loc, raw, model), err["type"] == "missing"


def _message(err: dict, loc: tuple, raw: object, model: type[BaseModel]) -> str:
    """A short user-facing message for one pydantic error."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    got = f", got {raw!r}" if raw is not _MISSING else ""
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}" + did_you_mean(loc[-1], _fields_at(model, loc[:-1]))
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "literal_error":
        return f"expected {ctx['expected']}{got}" + did_you_mean(raw, _literals(ctx["expected"]))
    if kind in _BOUNDS:
        symbol, name = _BOUNDS[kind]
        return f"must be {symbol} {ctx[name]}{got}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}{got}"
    message = err["msg"]
    if message.startswith("Input should be "):
        message = "expected " + message[len("Input should be "):]
    return message + (got if ", got" not in message else "")


def _literals(expected: str) -> list[str]:
    """Choices from pydantic's "'os', 'ws' or 'is'" text."""
    return [part.strip(" '\"") for part in expected.replace(" or ", ",").split(",")]


def _fields_at(model: type[BaseModel], path: Sequence[object]) -> list[str]:
    """Field names of the sub-model reached by following `path` from `model` ([] if none)."""
    current: type[BaseModel] | None = model
    for part in path:
        field = current.model_fields.get(part) if current and isinstance(part, str) else None
        current = _model_in(field.annotation) if field else None
    return list(current.model_fields) if current else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The BaseModel subclass inside an annotation such as `Cache | None`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found:
            return found
    return None
