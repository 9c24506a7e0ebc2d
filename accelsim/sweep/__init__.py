"""Design-space exploration: spaces, runners (process pool, Dask), a resumable store, Pareto fronts,
and the vectorised systolic fast path."""

from accelsim.sweep.fast import fast_systolic
from accelsim.sweep.pareto import pareto_front
from accelsim.sweep.runner import run_sweep
from accelsim.sweep.space import Space, load_space
from accelsim.sweep.store import ResultStore

__all__ = ["ResultStore", "Space", "fast_systolic", "load_space", "pareto_front", "run_sweep"]
