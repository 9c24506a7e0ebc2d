"""Whether a run can happen on a device: memory that fits (warned, not refused: a user may plan
offloading) and modes the part supports (refused)."""

from __future__ import annotations

import warnings
from dataclasses import asdict

from accelsim.errors import UsageError
from accelsim.units import fmt_bytes
from accelsim.workload.trace import MemoryBreakdown


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
