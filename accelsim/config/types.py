"""Pydantic field types that accept unit strings ("40 MiB", "2 TB/s") and plain numbers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from accelsim import units


def _unit(family: str):
    """A before-validator that turns a unit string of `family` into an SI float."""
    def convert(value: object) -> float:
        try:
            return units.parse(value, family)
        except units.UnitError as exc:
            raise ValueError(str(exc)) from None
    convert.family = family            # read back by accelsim.config.readable for display
    return BeforeValidator(convert, json_schema_input_type=float | str)   # schema: number or unit string


Bytes = Annotated[float, _unit("bytes"), Field(gt=0)]
Frequency = Annotated[float, _unit("frequency"), Field(gt=0)]
Bandwidth = Annotated[float, _unit("bandwidth"), Field(gt=0)]
Power = Annotated[float, _unit("power"), Field(ge=0)]
Seconds = Annotated[float, _unit("time"), Field(ge=0)]
FlopRate = Annotated[float, _unit("flops"), Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]
Count = Annotated[int, Field(ge=1)]
Precision = str


class Strict(BaseModel):
    """Frozen model that rejects unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")
