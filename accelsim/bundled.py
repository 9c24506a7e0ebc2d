"""Files shipped inside the package (example workloads, sweeps), found by the path a user gives."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
FOLDERS = ("workloads", "sweeps")      # package folders whose files load by their path in the repo


def bundled(spec: str | Path) -> Path:
    """`spec` as given if it exists, else the bundled file it names ("workloads/lenet5.yaml" or
    "lenet5.yaml" under a bundled folder), else `spec` unchanged (so errors name what was given)."""
    path = Path(spec)
    if path.exists() or path.is_absolute():
        return path
    candidates = [PACKAGE / path] + [PACKAGE / folder / path for folder in FOLDERS]
    return next((candidate for candidate in candidates if candidate.is_file()), path)
