"""The one numba decorator: cached JIT, compiled on first use, that survives an unwritable cache,
honours NUMBA_DISABLE_JIT and lets a single run skip numba where plain Python is fast enough.

numba caches compiled kernels beside the sources (`__pycache__`) or under NUMBA_CACHE_DIR. When that
place cannot be written (a read-only install, a locked-down CI), the cache moves to a temporary
directory, and when nothing can be written the kernels are compiled without a cache.

numba is imported when a kernel is first called, not when its module is imported. The first call
outside `single_run()` compiles (or loads from the cache) every kernel of that module and puts the
compiled ones in the module's namespace, so kernels calling kernels stay inside numba. Inside
`single_run()`, kernels of PLAIN_FAST modules that this process has not compiled run as their
plain-Python functions: for one design point, importing numba and loading its cache (about 0.4 s)
costs more than the kernels save. The same kernels give the same numbers either way (tested).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

IN_TREE = os.path.join(os.path.dirname(__file__), "__pycache__")
FALLBACK = "accelsim-numba-cache"          # under the temporary directory
# ResNet-50 with numba / plain Python, kernel time only: systolic (tpu_v4) 16 / 24 ms, gpu (a100)
# 13 / 18 ms; row stationary (eyeriss) 54 ms / 8.6 s and the SCALE-Sim replay (minutes) stay numba.
PLAIN_FAST = frozenset({"accelsim.kernels.systolic", "accelsim.kernels.gpu"})
_single_run = False


def writable_dir(paths: Iterable[str]) -> str | None:
    """The first of `paths` that can be created and written to, or None."""
    import tempfile                    # when numba compiles: single runs compile nothing

    for path in paths:
        try:
            os.makedirs(path, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path):
                return path
        except OSError:
            continue
    return None


def cache_dir() -> str | None:
    """Where numba should cache: NUMBA_CACHE_DIR if writable, else in-tree, else a temp dir."""
    import tempfile

    configured = os.environ.get("NUMBA_CACHE_DIR")
    fallback = os.path.join(tempfile.gettempdir(), FALLBACK)
    return writable_dir([configured] if configured else [IN_TREE, fallback])


@contextmanager
def single_run() -> Iterator[None]:
    """Within: kernels of PLAIN_FAST modules not yet compiled in this process run as plain Python."""
    global _single_run
    outer, _single_run = _single_run, True
    try:
        yield
    finally:
        _single_run = outer


class Kernel:
    """A kernel function, compiled with its module's other kernels on first use outside single_run."""

    def __init__(self, func):
        self.func = func
        self.jitted = None

    def __call__(self, *args):
        if self.jitted is None:
            if _single_run and self.func.__module__ in PLAIN_FAST:
                return self.func(*args)
            _compile_module(self.func.__globals__)
        return self.jitted(*args)


def _compile_module(namespace: dict) -> None:
    """Compile every Kernel of a module's namespace and put the compiled kernels in their place; a
    kernel imported from another module is compiled with that module's kernels, which it calls."""
    import numba

    where = cache_dir()
    if where not in (None, IN_TREE):
        numba.config.CACHE_DIR = where
    for name, value in list(namespace.items()):
        if isinstance(value, Kernel):
            if value.func.__globals__ is not namespace:
                if value.jitted is None:
                    _compile_module(value.func.__globals__)
            else:
                value.jitted = numba.njit(cache=where is not None)(value.func)
            namespace[name] = value.jitted


def njit(func) -> Kernel:
    """numba.njit with on-disk caching where a cache directory is writable, compiled on first use."""
    return Kernel(func)
