"""Unit strings at the edges: "24 MiB", "1.41 GHz", "2 TB/s", "400 W" -> SI numbers, and back."""

from __future__ import annotations

import math
import re

_DECIMAL = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
            "m": 1e-3, "u": 1e-6, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}

# unit family -> (accepted base-unit spellings, example shown in error messages)
FAMILIES: dict[str, tuple[tuple[str, ...], str]] = {
    "bytes": (("B", "byte", "bytes"), 'a size like "40 MiB"'),
    "frequency": (("Hz",), 'a frequency like "1.41 GHz"'),
    "bandwidth": (("B/s", "Bps"), 'a bandwidth like "900 GB/s"'),
    "power": (("W",), 'a power like "400 W"'),
    "time": (("s", "sec"), 'a time like "4 us"'),
    "flops": (("FLOP/s", "FLOPS", "OP/s", "OPS", "flop/s", "flops", "op/s", "ops"),
              'a compute rate like "312 TFLOP/s"'),
    "energy": (("J",), 'an energy like "3.7 pJ"'),
    "bits": (("b", "bit", "bits"), 'a bit count like "64 bit"'),
    "area": (("mm2", "mm^2"), 'a die area like "826 mm2" (kept in mm^2)'),
}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PATTERN = re.compile(rf"^\s*({_NUMBER})\s*([A-Za-zµ/]*(?:\^?2)?)\s*$")   # "2": areas


class UnitError(ValueError):
    """A value is not a number or a unit string of the expected family."""


def parse(value: object, family: str) -> float:
    """Convert a number or a unit string of `family` (see FAMILIES) to an SI float."""
    if isinstance(value, bool):
        raise UnitError(f"expected {FAMILIES[family][1]}, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value) if abs(value) < 2**1024 else math.inf
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        scale = _unit_scale(match.group(2), family) if match else None
        if scale is None:
            raise UnitError(f"expected {FAMILIES[family][1]}, got {value!r}")
        number = float(match.group(1)) * scale
    else:
        raise UnitError(f"expected {FAMILIES[family][1]}, got {value!r}")
    if not math.isfinite(number):
        raise UnitError(f"expected a finite number, got {short(value)}")
    return number


def short(value: object, width: int = 40) -> str:
    """repr(value), cut to `width` characters for one-line messages."""
    text = repr(value)
    return text if len(text) <= width else f"{text[:width - 3]}..."


def _unit_scale(unit: str, family: str) -> float | None:
    """Scale factor of `unit` (prefix + base unit) within `family`, or None if it is not one."""
    if unit == "":
        return 1.0
    for base in FAMILIES[family][0]:
        if unit.endswith(base):
            prefix = unit[: len(unit) - len(base)]
            if prefix in _BINARY and family in ("bytes", "bandwidth"):
                return _BINARY[prefix]
            if prefix in _DECIMAL:
                return _DECIMAL[prefix]
    return None


_DISPLAY_PREFIXES = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"),
                     (1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")]


def fmt(value: float, unit: str, digits: int = 3) -> str:
    """Format an SI value with a decimal prefix: fmt(2.039e12, "B/s") -> "2.04 TB/s"."""
    if value == 0 or value != value:
        return f"0 {unit}" if value == 0 else f"nan {unit}"
    magnitude = abs(value)
    for scale, prefix in _DISPLAY_PREFIXES:
        if magnitude >= scale * 0.9995:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"


def fmt_bytes(value: float, digits: int = 3) -> str:
    """Format a byte count with binary prefixes: 41943040 -> "40 MiB"."""
    magnitude = abs(value)
    for scale, prefix in ((2.0**50, "Pi"), (2.0**40, "Ti"), (2.0**30, "Gi"), (2.0**20, "Mi"),
                          (2.0**10, "Ki")):
        if magnitude >= scale:
            return f"{value / scale:.{digits}g} {prefix}B"
    return f"{value:.{digits}g} B"
