"""Several devices and workloads side by side: one run per (workload, mode, batch, device).

Runs are grouped by (workload, mode, batch); within a group the first device is the baseline and
every run gets ratios run / baseline of its headline totals (the baseline's are all 1).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from accelsim.errors import InfeasibleError, UsageError
from accelsim.queries.common import OnRun, envelope, notify, summary
from accelsim.result import Result

RATIO_KEYS = ("latency_s", "throughput", "energy_j", "average_power_w", "dram_bytes",
              "peak_memory_bytes")


def ratios(result: Result, baseline: Result) -> dict[str, float | None]:
    """result / baseline for each of RATIO_KEYS (None where the baseline's value is 0)."""
    return {key: result.totals[key] / baseline.totals[key] if baseline.totals[key] else None
            for key in RATIO_KEYS}


@dataclass(frozen=True)
class CompareRow:
    """One run, the index of its group's baseline run and its ratios to it."""

    result: Result
    baseline: int
    ratios: dict

    def to_dict(self) -> dict:
        """Run summary plus baseline index and ratios."""
        return {**summary(self.result), "baseline": self.baseline, "ratios": self.ratios}


@dataclass(frozen=True)
class Comparison:
    """All runs of a comparison in order."""

    rows: tuple[CompareRow, ...]

    def to_dict(self) -> dict:
        """The versioned JSON object: {"schema_version", "query": "compare", "runs": [...]}."""
        return envelope("compare", {"runs": [row.to_dict() for row in self.rows]})


def compare(workloads: Sequence, devices: Sequence, *, modes: Sequence[str] = ("inference",),
            batches: Sequence[int] = (1,), precision: str | None = None, on_run: OnRun = None,
            stack: str | None = None, **workload_params) -> Comparison:
    """Simulate every workload x mode x batch on every device; ratios against the first device."""
    from accelsim.api import load_device, simulate

    if not workloads or not devices:
        raise UsageError("compare needs at least one workload and one device", key="device")
    for device in devices:
        load_device(device)         # a bad device fails before any run
    rows: list[CompareRow] = []
    for workload in workloads:
        for mode in modes:
            for batch in batches:
                first, baseline = len(rows), None
                for device in devices:
                    try:
                        result = simulate(workload, device, mode=mode, batch=batch,
                                          precision=precision, stack=stack, **workload_params)
                    except InfeasibleError as exc:
                        warnings.warn(f"left out: {exc}", stacklevel=2)
                        continue
                    baseline = baseline or result
                    rows.append(CompareRow(result, first, ratios(result, baseline)))
                    notify(on_run, f"{result.workload} on {result.device}")
    return Comparison(tuple(rows))
