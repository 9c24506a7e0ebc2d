"""Errors a user can cause: each renders as one line naming file, line and key."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class AccelsimError(Exception):
    """Base class for user-facing errors; the CLI prints the message and exits 2."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        super().__init__(self.render())

    def render(self) -> str:
        """One line: `file:line: key: message` with the parts that are known."""
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        key = f"{self.key}: " if self.key else ""
        text = f"{where}{key}{self.message}"
        return text.replace("\r", "\\r").replace("\n", "\\n")    # always one line


class ConfigError(AccelsimError):
    """A device or interconnect description is malformed or invalid."""


class WorkloadError(AccelsimError):
    """A workload (zoo name, YAML, CSV, ONNX, HF config) is malformed or unknown."""


class UsageError(AccelsimError):
    """A command-line argument or API argument is invalid."""


class InfeasibleError(UsageError):
    """The request is well formed but the device cannot do it (a mode or precision it lacks)."""


def check_name(value: object, names, key: str):
    """`value` if it is one of `names`, else a UsageError naming `key` and the choices."""
    if value not in names:
        raise UsageError(f"unknown {key} {value!r}; expected one of {', '.join(names)}", key=key)
    return value


def did_you_mean(word: object, choices: Iterable[str], n: int = 1) -> str:
    """' (did you mean 'x'?)' naming up to `n` of `choices` closest to `word`, or ''."""
    close = difflib.get_close_matches(str(word), list(choices), n=n, cutoff=0.5)
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
