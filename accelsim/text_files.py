"""Reading user text files within bounds (size, encoding, a regular file), without PyYAML."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from accelsim.errors import AccelsimError

MAX_TEXT_BYTES = 64 << 20     # CSV and JSON files (parsed by C code, fast), results of 100k ops


def file_size(path: str | os.PathLike, source: str, error: type[AccelsimError]) -> int:
    """Size in bytes of `path`, which must be a regular file (not a folder, FIFO or device)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror or exc}", file=source) from None
    if stat.S_ISDIR(info.st_mode):
        raise error("is a folder, not a file", file=source)
    if not stat.S_ISREG(info.st_mode):
        raise error("not a regular file (a device, FIFO or socket)", file=source)
    return info.st_size


def read_text(path: str | os.PathLike, source: str, error: type[AccelsimError],
              limit: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of regular file `path` of at most `limit` bytes; anything else is `error`."""
    if file_size(path, source, error) > limit:
        raise too_big(source, error, limit)
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror or exc}", file=source) from None
    if len(data) > limit:
        raise too_big(source, error, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"not a UTF-8 text file (byte {exc.start})", file=source,
                    line=data.count(b"\n", 0, exc.start) + 1) from None


def read_json(path: str | os.PathLike, source: str, error: type[AccelsimError]) -> object:
    """The parsed JSON of `path` (read as `read_text` does)."""
    try:
        return json.loads(read_text(path, source, error))
    except json.JSONDecodeError as exc:
        raise error(f"invalid JSON: {exc.msg}", file=source, line=exc.lineno) from None
    except ValueError as exc:    # an integer of more than 4300 digits
        raise error(f"invalid JSON: {exc}", file=source) from None
    except RecursionError:
        raise error("invalid JSON: nested too deeply", file=source) from None


def too_big(source: str, error: type[AccelsimError], limit: int) -> AccelsimError:
    """The error for a file over `limit` bytes."""
    return error(f"file is larger than the limit of {limit} bytes ({limit / 2**20:g} MiB)",
                 file=source)
