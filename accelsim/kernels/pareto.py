"""Pareto fronts of points whose every coordinate is minimised.

A point is dominated when another is no worse in every coordinate and better in at least one; equal
points do not dominate each other, so duplicates on the front all stay on it. Points are visited in
lexicographic order, in which anything that dominates a point comes before it:
- 2-D: one sweep keeps the lowest y seen so far (O(n log n) with the sort);
- n-D: each point is compared with the front found so far only (a dominated point's dominator is
  itself dominated by, or is, a front member), O(n * front * d).
"""

from __future__ import annotations

import numpy as np

from accelsim.kernels._jit import njit


@njit
def _front_2d(values, order, out):
    """Mark out[i] for the non-dominated rows of an (n, 2) array visited in lexicographic `order`."""
    best_y = np.inf
    best_x = np.inf      # x of the first point that reached best_y (the smallest such x)
    for i in order:
        x, y = values[i, 0], values[i, 1]
        if y < best_y:
            out[i] = True
            best_y, best_x = y, x
        elif y == best_y and x == best_x:
            out[i] = True


@njit
def _dominates(values, a, b):
    """Whether row a dominates row b."""
    better = False
    for j in range(values.shape[1]):
        if values[a, j] > values[b, j]:
            return False
        if values[a, j] < values[b, j]:
            better = True
    return better


@njit
def _front_nd(values, order, out):
    """Mark out[i] for the non-dominated rows of an (n, d) array visited in lexicographic `order`."""
    front = np.empty(order.shape[0], dtype=np.int64)
    size = 0
    for i in order:
        dominated = False
        for f in range(size):
            if _dominates(values, front[f], i):
                dominated = True
                break
        if not dominated:
            front[size] = i
            size += 1
            out[i] = True


def front_mask(values) -> np.ndarray:
    """Boolean mask of the Pareto-optimal rows of an (n, d) array, every column minimised."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] < 1:
        raise ValueError(f"expected an (n, d) array with d >= 1, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("values must not be NaN")
    out = np.zeros(values.shape[0], dtype=np.bool_)
    if values.shape[0] == 0:
        return out
    order = np.lexsort(values.T[::-1]).astype(np.int64)
    (_front_2d if values.shape[1] == 2 else _front_nd)(values, order, out)
    return out


# ---- plain-Python reference the kernels are tested against --------------------------------------

def front_reference(values) -> list[bool]:
    """Plain Python, O(n^2 d): a row is on the front unless some other row dominates it."""
    rows = [tuple(row) for row in values]
    return [not any(all(a <= b for a, b in zip(other, row)) and other != row for other in rows)
            for row in rows]
