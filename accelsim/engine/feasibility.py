"""Whether a run can happen on a device: memory that fits (warned, not refused: a user may plan
offloading) and modes the part supports (refused)."""

from __future__ import annotations

import warnings
from dataclasses import asdict

from accelsim.errors import InfeasibleError
from accelsim.units import fmt_bytes
from accelsim.workload.trace import MemoryBreakdown


def check_mode(device, mode: str) -> None:
    """Refuse a run the part cannot do: training on an inference-only part (its YAML `modes`)."""
    needed = "training" if mode == "training" else "inference"
    if needed not in device.modes:
        raise InfeasibleError(f"{device.name} cannot run {mode}: it supports {', '.join(device.modes)} "
                         "only (its YAML `modes`)", key="mode")


def memory_fit(memory: MemoryBreakdown, capacity: float | None, device_name: str,
               per: str = "") -> dict:
    """Totals entries `fits_in_memory` (and `memory_note` when it does not fit, also warned)."""
    if capacity is None or memory.total <= capacity:
        return {"fits_in_memory": True}
    parts = ", ".join(f"{name} {fmt_bytes(size)}" for name, size in
                      sorted(asdict(memory).items(), key=lambda item: -item[1]) if size > 0)
    note = (f"needs {fmt_bytes(memory.total)}{per} ({parts}) but {device_name} has "
            f"{fmt_bytes(capacity)}")
    warnings.warn(f"does not fit in memory: {note}", stacklevel=2)
    return {"fits_in_memory": False, "memory_note": note}
