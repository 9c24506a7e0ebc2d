"""The one numba decorator: cached JIT that survives an unwritable cache and honours NUMBA_DISABLE_JIT."""

from __future__ import annotations

import os
import tempfile


def _cache_dir_writable() -> bool:
    """Point numba's cache somewhere writable; False if nowhere is."""
    configured = os.environ.get("NUMBA_CACHE_DIR")
    candidates = [configured] if configured else [
        os.path.join(os.path.dirname(__file__), "__pycache__"),
        os.path.join(tempfile.gettempdir(), "accelsim-numba-cache"),
    ]
    for path in candidates:
        try:
            os.makedirs(path, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=path)
            probe.close()
        except OSError:
            continue
        if not configured and path != candidates[0]:
            os.environ["NUMBA_CACHE_DIR"] = path
        return True
    return False


_CACHE = _cache_dir_writable()


def njit(func):
    """numba.njit with on-disk caching where a cache directory is writable."""
    import numba

    return numba.njit(cache=_CACHE)(func)
