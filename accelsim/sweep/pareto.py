"""Pareto fronts of sweep records over named metrics (minimised; a leading "-" maximises one)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from accelsim.errors import UsageError


def parse_metrics(text: str | Sequence[str]) -> tuple[str, ...]:
    """Metric names from "latency_s,energy_j" or a sequence; at least one."""
    names = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(name.strip() for name in names if name.strip())
    if not names:
        raise UsageError("expected at least one metric, e.g. latency_s,energy_j", key="pareto")
    return names


def metric_matrix(records: Sequence[dict], metrics: Sequence[str]) -> np.ndarray:
    """(records, metrics) array of values to minimise ("-name" negates name)."""
    rows = []
    for record in records:
        row = []
        for metric in metrics:
            value = record.get(metric.lstrip("-"))
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
                known = sorted(k for k, v in record.items() if isinstance(v, (int, float)))
                raise UsageError(f"metric {metric.lstrip('-')!r} is missing or not a number in "
                                 f"record {record.get('id')}; numeric fields: {', '.join(known)}",
                                 key="pareto")
            row.append(-value if metric.startswith("-") else value)
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(metrics))


def pareto_mask(values) -> np.ndarray:
    """Boolean mask of the non-dominated rows of an (n, d) array, every column minimised."""
    from accelsim.kernels.pareto import front_mask

    try:
        return front_mask(values)
    except ValueError as exc:
        raise UsageError(str(exc), key="pareto") from None


def check_metrics(records: Sequence[dict], metrics: Sequence[str]) -> None:
    """Refuse metrics that a record (without an error) lacks or holds no number for."""
    metric_matrix(_valid(records), metrics)


def _valid(records: Sequence[dict]) -> list[dict]:
    """The feasible records: without an error, fitting the device's memory, meeting every
    constraint."""
    return [record for record in records if "error" not in record
            and record.get("fits_in_memory", True) and record.get("feasible", True)]


def pareto_front(records: Sequence[dict], metrics: Sequence[str]) -> list[dict]:
    """The feasible records on the Pareto front of `metrics`, sorted by the first."""
    valid = _valid(records)
    values = metric_matrix(valid, metrics)
    mask = pareto_mask(values)
    front = [i for i in range(len(valid)) if mask[i]]
    front.sort(key=lambda i: tuple(values[i]))
    return [valid[i] for i in front]


def front_summary(records: Sequence[dict], metrics: Sequence[str],
                  reference: Sequence[float] | None = None) -> dict:
    """{"front", "hypervolume", "reference", "ratio"} of the feasible records over `metrics`; the
    reference (in the metrics' own units) defaults to the worst feasible value of each."""
    from accelsim.sweep.hypervolume import front_hypervolume

    front = pareto_front(records, metrics)
    signs = np.array([-1.0 if metric.startswith("-") else 1.0 for metric in metrics])
    ref = None if reference is None else np.asarray(reference, dtype=np.float64) * signs
    volume = front_hypervolume(metric_matrix(front, metrics),
                               metric_matrix(_valid(records), metrics), ref)
    reference = (np.asarray(volume["reference"]) * signs).tolist() if volume["reference"] else []
    return {"front": front, **volume, "reference": reference}
