"""How a sweep picks its points: the grid, random samples, or a Latin hypercube.

Axes are tuples of values (lists and stepped ranges) or continuous Ranges (random and LHS only).
Random and LHS draw `n` points with numpy's generator seeded by `seed`; a value is picked from a
tuple by the draw's stratum, from a Range by its position (uniformly, or uniformly in log space).
Points drawn twice (small discrete axes) are kept once, in the order of their first draw.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

STRATEGIES = ("grid", "random", "lhs", "optuna")
SAMPLED = ("random", "lhs", "optuna")      # strategies that need `sample: N`
SIGNIFICANT = "{:.6g}"                     # continuous draws are kept to 6 significant digits


@dataclass(frozen=True)
class Range:
    """A continuous axis [low, high], uniform or log-uniform; integer ends give integer draws."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    def at(self, u: float) -> float | int:
        """The value at position u in [0, 1) of the axis."""
        top = self.high + 1 if self.integer else self.high
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(top) - math.log(self.low)))
        else:
            value = self.low + u * (top - self.low)
        if self.integer:
            return min(int(math.floor(value)), int(self.high))
        return min(float(SIGNIFICANT.format(value)), self.high)

    @property
    def ends(self) -> tuple:
        """The least and greatest values a draw can give."""
        return self.at(0.0), self.at(1.0 - 1e-12)


def draw(parameters: tuple[tuple[str, object], ...], strategy: str, n: int,
         seed: int) -> list[dict]:
    """`n` points (fewer where draws repeat) of `parameters` by "random" or "lhs"."""
    rng = np.random.default_rng(seed)
    if strategy == "lhs":
        units = np.stack([(rng.permutation(n) + rng.random(n)) / n for _ in parameters], axis=1)
    else:
        units = rng.random((n, len(parameters)))
    points = {}
    for row in units:
        point = {key: _pick(axis, u) for (key, axis), u in zip(parameters, row)}
        points.setdefault(json.dumps(point, sort_keys=True), point)
    return list(points.values())


def _pick(axis: object, u: float):
    """The value of an axis (tuple of values or Range) at position u in [0, 1)."""
    if isinstance(axis, Range):
        return axis.at(float(u))
    return axis[min(int(u * len(axis)), len(axis) - 1)]
