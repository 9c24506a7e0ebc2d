"""Fit a device's efficiency parameters to measurements and measure how far off held-out rows are.

Parameters are the device's achievable fractions (any number under an `efficiency` key or named
`efficiency`: efficiency.compute, efficiency.per_precision.<p>, memory.efficiency, ...) and its
fixed overheads (keys ending in `overhead`: launch_overhead, layer_overhead, host.invoke_overhead),
found in the device's resolved configuration, so new ones are fitted without changes here. Only those
that move some row's prediction are fitted, at most one per two rows.

The fit minimises the mean squared log error, log(predicted / measured)^2, over rows by coordinate
search: per parameter, a 9-point grid over its range (fractions in log space, overheads linearly),
narrowed around the best point four times (to ~0.2% of a fraction), two sweeps over the parameters. Held-out errors come
from leave-one-out refits (K-fold above `max_folds` rows); their empirical quantiles bound later
predictions (split-conformal ranks: at least `coverage` of exchangeable new rows fall inside).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accelsim.calibrate.measurements import Measurement
from accelsim.calibrate.predict import RowModel, time_error
from accelsim.errors import UsageError, did_you_mean

POINTS, STAGES, SWEEPS = 9, 5, 2        # grid points per stage, narrowing stages, sweeps
FRACTION_RANGE = (0.02, 1.0)
OVERHEAD_CEILING = 100e-6               # s: an overhead searched up to max(4 x its value, this)
SENSITIVITY = 1e-3                      # |log change| of a row's prediction that makes a parameter count
PRIOR = 1e-4                            # weight pulling a parameter no row decides back to its value


@dataclass(frozen=True)
class Parameter:
    """One fitted device value: its dotted key, starting value and searched range."""

    key: str
    start: float
    low: float
    high: float
    log: bool                           # searched in log space (fractions) or linearly (overheads)

    def to_x(self, value: float) -> float:
        """The search coordinate of a value."""
        return math.log(value) if self.log else value

    def from_x(self, x: float) -> float:
        """The value of a search coordinate."""
        return math.exp(x) if self.log else x

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) in search coordinates."""
        return self.to_x(self.low), self.to_x(self.high)


def numeric_values(tree: dict, prefix: str = "") -> dict[str, float]:
    """Every number of a nested mapping by dotted key."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(numeric_values(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def parameter(key: str, value: float) -> Parameter | None:
    """The Parameter of a fraction or overhead key, None for any other key."""
    parts = key.split(".")
    if parts[-1].endswith("overhead"):
        return Parameter(key, value, 0.0, max(4 * value, OVERHEAD_CEILING), log=False)
    if "efficiency" in parts or parts[-1].endswith("efficiency"):
        low, high = FRACTION_RANGE
        return Parameter(key, value, min(low, value), max(high, value), log=True)
    return None


def candidates(config) -> list[Parameter]:
    """The device's fractions and overheads."""
    values = numeric_values(config.model_dump(exclude={"calibration"}))
    return [p for p in (parameter(key, value) for key, value in values.items()) if p is not None]


def chosen(config, keys) -> list[Parameter]:
    """The Parameters named by `keys` (a fraction or overhead of the device each)."""
    found = {p.key: p for p in candidates(config)}
    for key in keys:
        if key not in found:
            raise UsageError(f"{key!r} is not an efficiency or overhead of {config.name}; expected "
                             f"one of {', '.join(found)}{did_you_mean(key, found)}", key="fit")
    return [found[key] for key in dict.fromkeys(keys)]


class Problem:
    """Measurement rows on variants of one device; predictions memoised per parameter vector."""

    def __init__(self, tree, models: list[RowModel], params: list[Parameter]):
        self.tree = tree
        self.models = models
        self.rows = [model.row for model in models]
        self.params = params
        self.measured = np.log([row.si for row in self.rows])
        self.start = tuple(p.to_x(p.start) for p in params)
        self.memo: dict[tuple, np.ndarray] = {}

    def device(self, x) -> object:
        """The device with each parameter at coordinate x."""
        from accelsim.config.tree import validate
        from accelsim.config.overrides import apply_overrides

        sets = [f"{p.key}={p.from_x(v):.17e}" for p, v in zip(self.params, x)]
        return validate(apply_overrides(self.tree, sets))

    def log_predictions(self, x) -> np.ndarray:
        """log of every row's prediction at coordinate x."""
        key = tuple(round(v, 12) for v in x)
        if key not in self.memo:
            device = self.device(key)
            self.memo[key] = np.log([model.predict(device) for model in self.models])
        return self.memo[key]

    def loss(self, x, train: np.ndarray) -> float:
        """Mean squared log error over the `train` rows, plus the weak pull towards the start."""
        error = self.log_predictions(x)[train] - self.measured[train]
        pull = sum(((v - s) / (p.bounds[1] - p.bounds[0])) ** 2
                   for p, v, s in zip(self.params, x, self.start))
        return float(np.mean(error ** 2)) + PRIOR * pull

    def fit(self, train: np.ndarray) -> tuple[float, ...]:
        """Coordinates minimising the loss over the `train` rows (coordinate grid search)."""
        x = list(self.start)
        for _sweep in range(SWEEPS):
            moved = False
            for j, p in enumerate(self.params):
                best = self._line_search(x, j, p, train)
                if best != x[j] and self.loss(_with(x, j, best), train) < self.loss(x, train):
                    x[j], moved = best, True
            if not moved:
                break
        return tuple(x)

    def _line_search(self, x, j: int, p: Parameter, train) -> float:
        """The best coordinate j on a grid narrowed STAGES times around its best point."""
        low, high = p.bounds
        best = x[j]
        for _stage in range(STAGES):
            grid = np.linspace(low, high, POINTS)
            losses = [self.loss(_with(x, j, g), train) for g in grid]
            i = int(np.argmin(losses))
            best, step = float(grid[i]), grid[1] - grid[0]
            low, high = max(p.bounds[0], best - step), min(p.bounds[1], best + step)
        return best

    def sensitive(self, limit: int) -> list[Parameter]:
        """Parameters that move some row's prediction, most influential first, at most `limit`."""
        base = self.log_predictions(self.start)
        scored = []
        for j, p in enumerate(self.params):
            nudged = p.start * 0.8 if p.log else p.start + max(p.start, 10e-6)
            change = np.abs(self.log_predictions(_with(self.start, j, p.to_x(nudged))) - base)
            if change.max() > SENSITIVITY:
                scored.append((-change.sum(), j, p))
        return [p for _score, _j, p in sorted(scored)[:limit]]


def _with(x, j: int, value: float) -> tuple:
    """x with coordinate j replaced."""
    return tuple(value if i == j else v for i, v in enumerate(x))


@dataclass(frozen=True)
class Fit:
    """A calibration: fitted values, every row's prediction before and held out after, bounds."""

    rows: tuple[Measurement, ...]
    params: tuple[Parameter, ...]
    values: tuple[float, ...]            # fitted, in each parameter's units
    before: tuple[float, ...]            # predictions with the device's own values (SI)
    held_out: tuple[float, ...]          # each row's prediction by a fit that did not see it
    folds: int
    coverage: float
    log_error_lo: float
    log_error_hi: float
    residuals: int
    exact: bool                          # enough residuals for the conformal ranks

    @property
    def held_out_label(self) -> str:
        """How rows were held out of the refits: "leave-one-out" or "K-fold"."""
        return "leave-one-out" if self.folds == len(self.rows) else f"{self.folds}-fold"

    @property
    def method(self) -> str:
        """How the held-out errors and the interval were made."""
        held = self.held_out_label
        ranks = ("split-conformal ranks of the residuals" if self.exact else
                 f"the extreme residuals (fewer than {min_residuals(self.coverage)}: "
                 "coverage below nominal is likely)")
        return (f"{held} refits of {', '.join(p.key for p in self.params)}; bounds: "
                f"{ranks} of log(measured/predicted time)")

    def median_abs_error(self, predictions) -> float:
        """Median |predicted / measured - 1| over the rows."""
        return float(np.median([abs(p / row.si - 1) for p, row in zip(predictions, self.rows)]))

    def to_dict(self) -> dict:
        """JSON-ready summary with one entry per row."""
        return {"parameters": {p.key: {"before": p.start, "fitted": v}
                               for p, v in zip(self.params, self.values)},
                "held_out": self.held_out_label,
                "median_abs_error_before": self.median_abs_error(self.before),
                "median_abs_error_after": self.median_abs_error(self.held_out),
                "coverage": self.coverage, "log_error_lo": self.log_error_lo,
                "log_error_hi": self.log_error_hi, "residuals": self.residuals,
                "method": self.method,
                "rows": [{"line": row.line, "id": row.id, "workload": row.workload,
                          "metric": row.metric, "measured": row.si, "before": before,
                          "held_out": after}
                         for row, before, after in zip(self.rows, self.before, self.held_out)]}


def fit(device, rows: list[Measurement], *, keys=(), coverage: float = 0.8,
        max_folds: int = 20) -> Fit:
    """Fit `device`'s (a name, a path or a merged YAML tree) parameters to `rows`: those named by
    `keys`, else every fraction and overhead that moves a prediction, at most one per two rows."""
    from accelsim.config.tree import load_tree, validate

    if len(rows) < 2:
        raise UsageError(f"{len(rows)} measurement row(s) for this device: a held-out error needs "
                         "at least 2", file=rows[0].file if rows else None)
    tree = device if isinstance(device, dict) else load_tree(device)
    config = validate(tree)
    models = [RowModel(row, config) for row in rows]
    problem = Problem(tree, models, chosen(config, keys) if keys else candidates(config))
    if not keys:
        problem = Problem(tree, models, problem.sensitive(limit=max(1, len(rows) // 2)))
    if not problem.params:
        raise UsageError(f"no efficiency or overhead of {config.name} changes these rows' "
                         "predictions", file=rows[0].file)
    return _held_out(problem, coverage, max_folds)


def _held_out(problem: Problem, coverage: float, max_folds: int) -> Fit:
    """The full fit, the held-out predictions of every row and the interval they give."""
    n = len(problem.rows)
    everything = np.ones(n, bool)
    folds = n if n <= max_folds else max_folds
    held = np.empty(n)
    for fold in range(folds):
        test = np.arange(n) % folds == fold
        held[test] = np.exp(problem.log_predictions(problem.fit(~test))[test])
    best = problem.fit(everything)
    errors = [e for e in map(time_error, problem.rows, held) if e is not None]
    if not errors:
        raise UsageError("no latency, throughput, ttft or tpot rows to bound times with",
                         file=problem.rows[0].file)
    lo, hi, exact = conformal_bounds(errors, coverage)
    return Fit(rows=tuple(problem.rows), params=tuple(problem.params),
               values=tuple(p.from_x(v) for p, v in zip(problem.params, best)),
               before=tuple(np.exp(problem.log_predictions(problem.start))),
               held_out=tuple(held), folds=folds, coverage=coverage, log_error_lo=lo,
               log_error_hi=hi, residuals=len(errors), exact=exact)


def conformal_bounds(residuals, coverage: float) -> tuple[float, float, bool]:
    """(low, high, exact): the floor((n+1)a/2)-th and ceil((n+1)(1-a/2))-th smallest of n residuals
    (a = 1 - coverage), which hold a new exchangeable residual with probability >= coverage; where
    n is too small for those ranks, the smallest and largest residual (exact False)."""
    ordered = np.sort(np.asarray(residuals, float))
    n, alpha = len(ordered), round(1 - coverage, 9)     # 1 - 0.8 is 0.19999999999999996
    low_rank = math.floor((n + 1) * alpha / 2)
    high_rank = math.ceil((n + 1) * (1 - alpha / 2))
    exact = low_rank >= 1 and high_rank <= n
    return (float(ordered[max(low_rank, 1) - 1]), float(ordered[min(high_rank, n) - 1]), exact)


def min_residuals(coverage: float) -> int:
    """The fewest residuals whose conformal ranks are exact at `coverage`."""
    return next(n for n in range(2, 10**6) if conformal_bounds(range(n), coverage)[2])
