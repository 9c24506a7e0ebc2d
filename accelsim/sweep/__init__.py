"""Design-space exploration: spaces, runners (process pool, Dask), a resumable store, Pareto fronts,
and the vectorised fast paths of every device kind."""

from accelsim.sweep.fast import fast_systolic
from accelsim.sweep.fast_cpu import fast_cpu
from accelsim.sweep.fast_fpga import fast_fpga
from accelsim.sweep.fast_gpu import fast_gpu
from accelsim.sweep.fast_npu import fast_npu
from accelsim.sweep.pareto import pareto_front
from accelsim.sweep.runner import run_sweep
from accelsim.sweep.space import Space, load_space
from accelsim.sweep.store import ResultStore

__all__ = ["ResultStore", "Space", "fast_cpu", "fast_fpga", "fast_gpu", "fast_npu", "fast_systolic",
           "load_space", "pareto_front", "run_sweep"]
