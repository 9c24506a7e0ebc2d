"""Running the real CLI in a subprocess with bounded time and memory, as a hostile user would."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from typing import NamedTuple

TIME_LIMIT_S = 60
MEMORY_LIMIT_BYTES = 4 << 30       # address space: a blow-up dies instead of swapping


class Outcome(NamedTuple):
    """What one CLI call gave."""

    code: int
    out: str
    err: str


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def accelsim(*args: str, cwd=None, stdin: str | None = None, env: dict | None = None) -> Outcome:
    """Run `accelsim ARGS` in a subprocess under the time and memory limits (`env` added to ours)."""
    env = {**os.environ, "COLUMNS": "80", **(env or {})}
    done = subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True, text=True,
                          timeout=TIME_LIMIT_S, cwd=cwd, input=stdin, env=env,
                          preexec_fn=_limit_memory)
    return Outcome(done.returncode, done.stdout, done.stderr)


def assert_clean_error(outcome: Outcome, *fragments: str) -> None:
    """Exit 2 with one stderr line (no traceback) that contains every fragment."""
    lines = outcome.err.strip().splitlines()
    assert "Traceback" not in outcome.err, outcome.err
    assert outcome.code == 2, (outcome.code, outcome.err)
    assert len(lines) == 1, outcome.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
