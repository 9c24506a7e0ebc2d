"""The one numba decorator: cached JIT that survives an unwritable cache and honours NUMBA_DISABLE_JIT.

numba caches compiled kernels beside the sources (`__pycache__`) or under NUMBA_CACHE_DIR. When that
place cannot be written (a read-only install, a locked-down CI), the cache moves to a temporary
directory, and when nothing can be written the kernels are compiled without a cache.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable

IN_TREE = os.path.join(os.path.dirname(__file__), "__pycache__")
FALLBACK = os.path.join(tempfile.gettempdir(), "accelsim-numba-cache")


def writable_dir(paths: Iterable[str]) -> str | None:
    """The first of `paths` that can be created and written to, or None."""
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
    configured = os.environ.get("NUMBA_CACHE_DIR")
    return writable_dir([configured] if configured else [IN_TREE, FALLBACK])


_CACHE_DIR = cache_dir()


def njit(func):
    """numba.njit with on-disk caching where a cache directory is writable."""
    import numba

    if _CACHE_DIR not in (None, IN_TREE):
        numba.config.CACHE_DIR = _CACHE_DIR
    return numba.njit(cache=_CACHE_DIR is not None)(func)
