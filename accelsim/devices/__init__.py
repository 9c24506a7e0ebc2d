"""Device cost models by kind (the DeviceModel contract of accelsim.devices.base), behind one
call: cost(op, device) -> OpCost."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Sequence

from accelsim.devices.base import DeviceModel, OpCost
from accelsim.errors import InfeasibleError, UsageError, did_you_mean
from accelsim.workload.ir import PRECISIONS, Op

# Preference order when a device lacks the requested precision.
FALLBACK_ORDER = ("bf16", "fp16", "int8", "fp32", "tf32", "fp8", "int16", "int4", "fp4")


def model(kind: str) -> DeviceModel:
    """The cost model of a device kind (an entry of config.KINDS): accelsim.devices.<kind>."""
    return importlib.import_module(f"accelsim.devices.{kind}")


def cost(op: Op, device) -> OpCost:
    """Cost of one op on one device, dispatched by the device's kind."""
    return model(device.kind).cost(op, device)


def cost_all(ops: Sequence[Op], device, samples: int = 1) -> list[OpCost]:
    """Costs of a run's ops in order, planned by the device kind's `costs`; a kind that spreads a
    batch of `samples` over independent instances (its optional `batch_parallel`) does so."""
    kind = model(device.kind)
    costs = kind.costs(ops, device)
    spread = getattr(kind, "batch_parallel", None)
    return costs if spread is None else spread(costs, ops, device, samples)


def run_precision(device, requested: str | None) -> str:
    """The precision a run asking for `requested` (None: the device's own) computes at; a precision
    the device cannot compute at is refused."""
    if requested is None:
        return preferred_precision(device)
    if requested not in PRECISIONS:
        raise UsageError(f"unknown precision {requested!r}; expected one of {', '.join(PRECISIONS)}"
                         + did_you_mean(str(requested), PRECISIONS), key="precision")
    if not device.supports(requested):
        supported = [p for p in PRECISIONS if device.supports(p)]
        raise InfeasibleError(f"{device.name} cannot compute at {requested}; it supports "
                         f"{', '.join(supported)}", key="precision")
    return requested


def effective_precision(device, requested: str) -> str:
    """`requested` if the device computes at it, else the first supported fallback (with a warning)."""
    if device.supports(requested):
        return requested
    fallback = preferred_precision(device)
    warnings.warn(f"{device.name} has no {requested} support; running at {fallback}", stacklevel=2)
    return fallback


def preferred_precision(device) -> str:
    """The device's natural precision: its `default_precision`, else the first of FALLBACK_ORDER."""
    if device.default_precision and device.supports(device.default_precision):
        return device.default_precision
    for candidate in FALLBACK_ORDER:
        if device.supports(candidate):
            return candidate
    raise ValueError(f"{device.name} supports none of {FALLBACK_ORDER}")
