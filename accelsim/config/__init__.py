"""Device configuration: schemas per kind, YAML loading with line numbers, `extends:`, overrides."""

from __future__ import annotations

import importlib

# kind -> (module, class) of its schema; a kind's module is imported when a device of it is loaded
SCHEMA_CLASSES = {
    "gpu": ("accelsim.config.gpu", "GpuConfig"),
    "systolic": ("accelsim.config.systolic", "SystolicConfig"),
    "fpga": ("accelsim.config.fpga", "FpgaConfig"),
    "npu": ("accelsim.config.npu", "NpuConfig"),
}
KINDS = tuple(SCHEMA_CLASSES)


def schema(kind: str) -> type:
    """The pydantic schema class of device `kind` (one of KINDS)."""
    module, name = SCHEMA_CLASSES[kind]
    return getattr(importlib.import_module(module), name)


def device_config_type() -> object:
    """The union of every kind's schema, told apart by `kind` (for the JSON Schema)."""
    from typing import Annotated, Union

    from pydantic import Field

    return Annotated[Union[tuple(schema(kind) for kind in KINDS)], Field(discriminator="kind")]
