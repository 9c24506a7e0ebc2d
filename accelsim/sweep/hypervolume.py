"""The hypervolume of a Pareto front: the volume that its points dominate, up to a reference point.

Every coordinate is minimised. A point outside the reference box (not better than the reference in
every coordinate) adds nothing. 2-D fronts are swept in one pass; higher dimensions are sliced along
the last coordinate (the (d-1)-D hypervolume of the points below each slice times its height), which
is exact and fast enough for the fronts of a sweep (hundreds of points, few objectives).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from accelsim.errors import UsageError


def hypervolume(points, reference: Sequence[float]) -> float:
    """The volume of the region dominated by `points` ((n, d) array) and bounded by `reference`."""
    values = np.asarray(points, dtype=np.float64).reshape(-1, len(reference))
    ref = np.asarray(reference, dtype=np.float64)
    if not np.isfinite(values).all() or not np.isfinite(ref).all():
        raise UsageError("hypervolume needs finite objectives and reference", key="reference")
    return _volume(values[(values < ref).all(axis=1)], ref)


def _volume(values: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of points that all lie inside the reference box."""
    if values.shape[0] == 0:
        return 0.0
    if values.shape[1] == 1:
        return float(ref[0] - values[:, 0].min())
    if values.shape[1] == 2:
        return _area(values, ref)
    values = values[np.argsort(values[:, -1], kind="stable")]
    tops = np.append(values[1:, -1], ref[-1])
    return sum(_volume(values[:i + 1, :-1], ref[:-1]) * (tops[i] - values[i, -1])
               for i in range(values.shape[0]) if tops[i] > values[i, -1])


def _area(values: np.ndarray, ref: np.ndarray) -> float:
    """2-D hypervolume: strips between consecutive x, each as tall as the lowest y to its left."""
    values = values[np.lexsort((values[:, 1], values[:, 0]))]
    lowest = np.minimum.accumulate(values[:, 1])
    widths = np.diff(np.append(values[:, 0], ref[0]))
    return float(np.sum(widths * (ref[1] - lowest)))


def front_hypervolume(front_values: np.ndarray, all_values: np.ndarray,
                      reference: Sequence[float] | None = None) -> dict:
    """{"hypervolume", "reference", "ratio"} of a front: reference defaults to the worst value of
    each objective over `all_values`; ratio is the hypervolume over the box from the best values to
    the reference (1: one point is best in every objective)."""
    if all_values.shape[0] == 0:
        return {"hypervolume": 0.0, "reference": [] if reference is None else list(reference),
                "ratio": 0.0}
    ref = all_values.max(axis=0) if reference is None else np.asarray(reference, dtype=np.float64)
    if ref.shape != (all_values.shape[1],):
        raise UsageError(f"expected {all_values.shape[1]} reference values, one per objective, "
                         f"got {ref.size}", key="reference")
    volume = hypervolume(front_values, ref)
    box = float(np.prod(np.clip(ref - all_values.min(axis=0), 0.0, None)))
    return {"hypervolume": volume, "reference": ref.tolist(),
            "ratio": volume / box if box > 0 else 0.0}
