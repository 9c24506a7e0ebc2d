"""Validated bundled devices kept on disk, so that loading one parses and validates nothing.

An entry is named by accelsim's version and a checksum of the device file's path, and records that
path and the modification time and size of every file it was made from: the device's `extends:`
chain and the schema modules of accelsim.config. A change to any of them, or an entry that cannot
be read, is a miss. An entry holds the device twice: its Plain mirror (accelsim.config.plain),
which single runs load without importing pydantic, and the pickled pydantic model, unpickled only
when asked for. Entries live in $ACCELSIM_CACHE_DIR, else $XDG_CACHE_HOME/accelsim, else
~/.cache/accelsim (ACCELSIM_CACHE_DIR=off turns the cache off); where nothing can be written,
nothing is kept.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import zlib
from collections.abc import Sequence
from pathlib import Path

from accelsim._version import __version__
from accelsim.config.plain import mirror

ENV_VAR = "ACCELSIM_CACHE_DIR"
SCHEMA_DIR = Path(__file__).resolve().parent
Stamps = tuple[tuple[str, int, int], ...]


def directory() -> Path | None:
    """Where entries live, or None when the cache is turned off."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return None if configured == "off" else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "accelsim"


def _stamp(files: Sequence[Path]) -> Stamps:
    """(path, mtime in ns, size) of each file; () if one is missing."""
    found = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            return ()
        found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


# the schema modules as this process runs them: taken once, before a schema class is imported, so
# that a module edited while a process runs never gets its old classes stored under its new stamp
SCHEMA_STAMPS = _stamp(sorted(SCHEMA_DIR.glob("*.py")))


def stamps(paths: Sequence[Path]) -> Stamps:
    """(path, mtime in ns, size) of each file, and of the schema modules as imported."""
    found = _stamp(paths)
    return found + SCHEMA_STAMPS if found and SCHEMA_STAMPS else ()


def _entry(path: Path) -> Path | None:
    """The file of the entry for device file `path`, or None when the cache is off."""
    where = directory()
    if where is None:
        return None
    return where / f"device-{__version__}-{zlib.crc32(str(path).encode()):08x}.pickle"


def load(path: Path, *, plain: bool = False) -> object | None:
    """The cached device of file `path` (its Plain mirror if `plain`) if none of its files changed,
    else None."""
    entry = _entry(path)
    if entry is None:
        return None
    try:
        with open(entry, "rb") as file:
            files, recorded, mirrored, pickled = pickle.load(file)
        fresh = files and files[0] == path and recorded and stamps(files) == recorded
        if not fresh:
            return None
        return mirrored if plain else pickle.loads(pickled)
    except Exception:                  # missing, truncated or from another version: a miss
        return None


def store(path: Path, files: Sequence[Path], device: object) -> None:
    """Keep `device`, made from `files`, for later loads; silently skipped where nothing is writable."""
    import tempfile                    # not paid by loads

    entry = _entry(path)
    recorded = stamps(files)
    if entry is None or not recorded:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as file:
            pickle.dump((tuple(files), recorded, mirror(device),
                         pickle.dumps(device, protocol=pickle.HIGHEST_PROTOCOL)),
                        file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, entry)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
