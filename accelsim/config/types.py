"""Pydantic field types that accept unit strings ("40 MiB", "2 TB/s") and plain numbers."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from accelsim import units
from accelsim.errors import did_you_mean
from accelsim.workload.ir import PRECISIONS


def _unit(family: str):
    """A before-validator that turns a unit string of `family` into an SI float."""
    def convert(value: object) -> float:
        try:
            return units.parse(value, family)
        except units.UnitError as exc:
            raise ValueError(str(exc)) from None
    convert.family = family            # read back by accelsim.config.readable for display
    return BeforeValidator(convert, json_schema_input_type=float | str)   # schema: number or unit string


def _precision(value: str) -> str:
    """Refuse a precision name accelsim does not know (a typo would silently never be used)."""
    if value not in PRECISIONS:
        raise ValueError(f"unknown precision {value!r}; expected one of {', '.join(PRECISIONS)}"
                         + did_you_mean(value, PRECISIONS))
    return value


def _whole(value: object) -> object:
    """Refuse booleans (YAML `true`) and non-integral floats where a count is expected."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected a whole number, got {units.short(value)}")
    return value


# Sane maxima: far above any real part, low enough that products of them stay exact in int64/float64.
Bytes = Annotated[float, _unit("bytes"), Field(gt=0, le=2.0**60)]
Frequency = Annotated[float, _unit("frequency"), Field(gt=0, le=1e12)]
Bandwidth = Annotated[float, _unit("bandwidth"), Field(gt=0, le=1e30)]   # 1e30: "memory is free"
Power = Annotated[float, _unit("power"), Field(ge=0, le=1e9)]
EnergyPerBit = Annotated[float, _unit("energy"), Field(ge=0, le=1e-6)]
Seconds = Annotated[float, _unit("time"), Field(ge=0, le=1e6)]
FlopRate = Annotated[float, _unit("flops"), Field(gt=0, le=1e21)]
Fraction = Annotated[float, Field(ge=1e-4, le=1)]
Count = Annotated[int, BeforeValidator(_whole), Field(ge=1, le=10**7)]
Precision = Annotated[str, AfterValidator(_precision)]


class Strict(BaseModel):
    """Frozen model that rejects unknown keys; its validator is built on first use."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, defer_build=True)
