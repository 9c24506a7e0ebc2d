"""Sweep records as JSON lines, written as points finish, so that an interrupted sweep can resume.

One record per line: {"id", "point", <metrics> ...} or {"id", "point", "error"}. A sweep that is
resumed keeps the records it finds without an error and runs the other points again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from accelsim.errors import UsageError


class ResultStore:
    """A JSONL file of sweep records."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def load(self) -> dict[str, dict]:
        """Records by id (the last one of an id wins); a torn last line is skipped."""
        if not self.path.is_file():
            return {}
        lines = self.path.read_text(encoding="utf-8").splitlines()
        records: dict[str, dict] = {}
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                if number == len(lines):      # written when the sweep was killed
                    break
                raise UsageError("not a JSON sweep record", file=str(self.path),
                                 line=number) from None
            if not isinstance(record, dict) or "id" not in record:
                raise UsageError("sweep record without an id", file=str(self.path), line=number)
            records[record["id"]] = record
        return records

    def done(self) -> dict[str, dict]:
        """Records that need no rerun (those without an error)."""
        return {key: record for key, record in self.load().items() if "error" not in record}

    @contextmanager
    def writer(self, *, resume: bool) -> Iterator:
        """A function that appends one record and flushes; the file starts empty unless `resume`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.is_file():
            self._end_line()
        with self.path.open("a" if resume else "w", encoding="utf-8") as out:
            def write(record: dict) -> None:
                out.write(json.dumps(record) + "\n")
                out.flush()

            yield write

    def _end_line(self) -> None:
        """Drop a torn last line so that appended records start on a line of their own."""
        text = self.path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            self.path.write_text(text[: text.rfind("\n") + 1], encoding="utf-8")
