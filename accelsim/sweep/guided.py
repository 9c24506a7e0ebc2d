"""Guided search with optuna (the `optuna` extra): NSGA-II over the space's objectives.

Each of `sample` trials asks the sampler for a point (a tuple axis is categorical, a Range an int or
float, log-scaled where it says so), evaluates it as the runner does and tells the sampler its
objectives; a point that breaks a constraint or does not fit memory counts as infeasible for
NSGA-II's constrained domination, a failed point as a failed trial. A point asked for twice is
evaluated once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from accelsim.errors import UsageError
from accelsim.sweep.pareto import metric_matrix
from accelsim.sweep.runner import evaluate
from accelsim.sweep.search import Range
from accelsim.sweep.space import Space

EXTRA = "search: optuna needs the optuna extra: pip install 'accelsim[optuna]'"


def run_guided(space: Space, objectives: Sequence[str], write: Callable[[dict], None],
               progress: Callable[[dict, int, int], None] | None = None) -> list[dict]:
    """The records of `space.sample` NSGA-II trials seeded by `space.seed` (each written once)."""
    try:
        import optuna
    except ImportError:
        raise UsageError(EXTRA, key="search") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(seed=space.seed, constraints_func=_violations)
    study = optuna.create_study(directions=["minimize"] * len(objectives), sampler=sampler)
    records: dict[str, dict] = {}
    for trial_number in range(space.sample):
        trial = study.ask()
        point = {key: _suggest(trial, key, axis) for key, axis in space.parameters}
        key = space.point_id(point)
        if key not in records:
            records[key] = evaluate(space, point)
            write(records[key])
        record = records[key]
        if progress is not None:
            progress(record, trial_number + 1, space.sample)
        if "error" in record:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        feasible = record.get("fits_in_memory", True) and record.get("feasible", True)
        trial.set_user_attr("violations", [0.0 if feasible else 1.0])
        study.tell(trial, metric_matrix([record], objectives)[0].tolist())
    return list(records.values())


def _violations(trial) -> list[float]:
    """NSGA-II's constraint values of a finished trial (> 0: infeasible)."""
    return trial.user_attrs.get("violations", [1.0])


def _suggest(trial, key: str, axis):
    """The sampler's value of one axis."""
    if isinstance(axis, Range):
        if axis.integer:
            return trial.suggest_int(key, int(axis.low), int(axis.high), log=axis.log)
        return trial.suggest_float(key, axis.low, axis.high, log=axis.log)
    return trial.suggest_categorical(key, list(axis))
