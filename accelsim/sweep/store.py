"""Sweep records as JSON lines, written as points finish, so that an interrupted sweep can resume.

The first line is a header naming the space the records belong to:
{"accelsim_sweep": 1, "space": <fingerprint>, "file": <space file>}. Then one record per line:
{"id", "point", <metrics> ...} or {"id", "point", "error"}. A sweep that is resumed checks the
header, keeps the records it finds without an error and runs the other points again. A corrupt last
line (a sweep killed while writing it) is dropped with a warning; a corrupt line before it is an
error.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from accelsim.errors import UsageError

HEADER = "accelsim_sweep"      # the key that marks the header line; its value is the format version
VERSION = 1


class _Contents(NamedTuple):
    """What a store file holds: its header (None: none), records by id, and the bytes of its good
    lines (less than the file's size when a corrupt last line was dropped)."""

    header: dict | None
    records: dict[str, dict]
    good_bytes: int


class ResultStore:
    """A JSONL file of sweep records after a header line."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def load(self) -> dict[str, dict]:
        """Records by id (the last one of an id wins)."""
        return self._read().records

    def resume(self, header: dict) -> dict[str, dict]:
        """The records without an error of a store of the space `header` names, with a corrupt last
        line cut off; a store of another space is refused."""
        contents = self._read(missing_ok=True)
        found = contents.header or {}
        if (contents.header or contents.records) and found.get("space") != header["space"]:
            raise UsageError(f"holds the records of {_name(contents.header)}, not of "
                             f"{_name(header)}; run without --resume or choose another --out",
                             file=str(self.path), key="resume")
        if self.path.is_file():
            os.truncate(self.path, contents.good_bytes if contents.header else 0)
        return {key: record for key, record in contents.records.items() if "error" not in record}

    @contextmanager
    def writer(self, header: dict, *, append: bool) -> Iterator:
        """A function that appends one record and flushes; the file starts with `header` unless
        `append` finds one there."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            out = self.path.open("a" if append else "w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write sweep records: {exc.strerror or exc}",
                             file=str(self.path), key="out") from None
        with out:
            def write(record: dict) -> None:
                out.write(json.dumps(record) + "\n")
                out.flush()

            if out.tell() == 0:
                write({HEADER: VERSION, **header})
            elif not self._ends_line():
                out.write("\n")
            yield write

    def _ends_line(self) -> bool:
        """Whether the file ends with a newline."""
        with self.path.open("rb") as data:
            data.seek(-1, os.SEEK_END)
            return data.read(1) == b"\n"

    def _lines(self, missing_ok: bool) -> list[bytes]:
        """The file's lines with their line ends (none for a missing file if `missing_ok`)."""
        try:
            return self.path.read_bytes().splitlines(keepends=True)
        except FileNotFoundError:
            if missing_ok:
                return []
            raise UsageError("no such sweep record file", file=str(self.path)) from None
        except OSError as exc:
            raise UsageError(f"cannot read sweep records: {exc.strerror or exc}",
                             file=str(self.path)) from None

    def _read(self, missing_ok: bool = False) -> _Contents:
        """The header and records; a corrupt last line is left out (with a warning)."""
        lines = self._lines(missing_ok)
        last = max((n for n, line in enumerate(lines) if line.strip()), default=-1)
        header, records, good_bytes = None, {}, 0
        for number, line in enumerate(lines):
            if not line.strip():
                good_bytes += len(line)
                continue
            try:
                record = _record(line, first=number == 0)
            except ValueError as exc:
                if number == last and number > 0:
                    warnings.warn(f"{self.path}:{number + 1}: dropped a corrupt last line "
                                  f"({len(line)} bytes), left by a sweep that was killed")
                    break
                raise UsageError(f"{exc}; not a sweep record store (accelsim sweep --out)",
                                 file=str(self.path), line=number + 1) from None
            if HEADER in record:
                header = record
            else:
                records[record["id"]] = record
            good_bytes += len(line)
        return _Contents(header, records, good_bytes)


def _record(line: bytes, *, first: bool) -> dict:
    """One line as a record (or, on the first line, the header); ValueError says what is wrong."""
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if first and isinstance(record, dict) and HEADER in record:
        return record
    if not (isinstance(record, dict) and isinstance(record.get("id"), str)
            and isinstance(record.get("point"), dict)):
        raise ValueError("not a record with an id and a point")
    return record


def _name(header: dict | None) -> str:
    """How a message names the space of a header."""
    if header is None:
        return "a space it does not name (no header line)"
    return f"space {header.get('space')} ({header.get('file')})"
