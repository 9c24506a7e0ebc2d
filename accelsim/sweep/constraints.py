"""Constraints on sweep records: "area_mm2 <= 800", "power_w < 700 W", "fits_in_memory".

A constraint is a metric, an operator (<=, <, >=, >, ==) and a number (unit strings of the metric's
family allowed: "700 W", "2 ms", "16 GiB"), or a bare metric name that must be true. They are parsed
with a regular expression, never evaluated as code. A record that breaks one is kept, flagged with
`feasible: false` and `violated: [<constraint>, ...]`, and left off the Pareto front.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from accelsim.errors import UsageError
from accelsim.units import UnitError, parse

OPERATORS = {"<=": operator.le, ">=": operator.ge, "==": operator.eq, "<": operator.lt,
             ">": operator.gt}
COMPARISON = re.compile(r"\s*([A-Za-z_]\w*)\s*(<=|>=|==|<|>)\s*([^\s<>=].*?)\s*")
FLAG = re.compile(r"\s*([A-Za-z_]\w*)\s*")
SUFFIX_FAMILY = (("_bytes", "bytes"), ("_w", "power"), ("_s", "time"), ("_j", "energy"),
                 ("_hz", "frequency"))
HELP = 'expected "METRIC OP NUMBER" (OP one of <=, <, >=, >, ==) or a true/false metric name'


@dataclass(frozen=True)
class Constraint:
    """One parsed constraint and where it was given (for error messages)."""

    text: str
    metric: str
    op: str | None = None          # None: the metric itself must be true
    bound: float | None = None
    file: str | None = None
    line: int | None = None
    key: str = "constraint"

    def holds(self, record: dict) -> bool:
        """Whether `record` meets the constraint (a missing or non-numeric metric is an error)."""
        value = record.get(self.metric)
        if self.op is None:
            if not isinstance(value, bool):
                raise self.error(f"metric {self.metric!r} is not a true/false field of record "
                                 f"{record.get('id')} (got {value!r}); {_fields(record)}")
            return value
        if not _is_number(value):
            raise self.error(f"metric {self.metric!r} is missing or not a number in record "
                             f"{record.get('id')} (got {value!r}); {_fields(record)}")
        return OPERATORS[self.op](value, self.bound)

    def error(self, message: str) -> UsageError:
        """A UsageError at this constraint's file, line and key."""
        return UsageError(f"{self.text!r}: {message}", file=self.file, line=self.line,
                          key=self.key)


def parse_constraint(text: object, *, file: str | None = None, line: int | None = None,
                     key: str = "constraint") -> Constraint:
    """A Constraint from its text; UsageError (naming file, line and key) if malformed."""
    where = {"file": file, "line": line, "key": key}
    if not isinstance(text, str):
        raise UsageError(f"{HELP}, got {text!r}", **where)
    flag = FLAG.fullmatch(text)
    if flag:
        return Constraint(text.strip(), flag.group(1), **where)
    found = COMPARISON.fullmatch(text)
    if not found:
        raise UsageError(f"{text!r}: {HELP}", **where)
    metric, op, number = found.groups()
    try:
        bound = parse(number, _family(metric)) if _family(metric) else float(number)
    except (UnitError, ValueError):
        raise UsageError(f"{text!r}: {number!r} is not a number"
                         + (f" or {_family(metric)} with a unit" if _family(metric) else ""),
                         **where) from None
    if not math.isfinite(bound):
        raise UsageError(f"{text!r}: expected a finite bound", **where)
    return Constraint(text.strip(), metric, op, bound, **where)


def flag(record: dict, constraints: Sequence[Constraint]) -> dict:
    """`record` with `feasible` and `violated` set by `constraints` (neither if there are none, or
    if the point failed)."""
    record = {key: value for key, value in record.items() if key not in ("feasible", "violated")}
    if not constraints or "error" in record:
        return record
    violated = [item.text for item in constraints if not item.holds(record)]
    return {**record, "feasible": not violated, "violated": violated}


def flag_all(records: Iterable[dict], constraints: Sequence[Constraint]) -> list[dict]:
    """Every record flagged (see flag)."""
    return [flag(record, constraints) for record in records]


def with_power(record: dict) -> dict:
    """`record` with power_w, its average power (energy / latency), where both are known."""
    energy, latency = record.get("energy_j"), record.get("latency_s")
    if "power_w" in record or not (_is_number(energy) and _is_number(latency)) or latency <= 0:
        return record
    return {**record, "power_w": energy / latency}


def _family(metric: str) -> str | None:
    """The unit family a metric's name implies (None: a plain number)."""
    return next((family for suffix, family in SUFFIX_FAMILY if metric.endswith(suffix)), None)


def _is_number(value: object) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _fields(record: dict) -> str:
    """The numeric and true/false fields a record has, for error messages."""
    names = sorted(key for key, value in record.items() if isinstance(value, (int, float)))
    return f"fields: {', '.join(names)}"
