"""Pieces every query shares: a run's JSON summary and the precision a run would use."""

from __future__ import annotations

from collections.abc import Callable

from accelsim.result import SCHEMA_VERSION, Result

OnRun = Callable[[str], None] | None   # called with a label after each simulation (progress bars)


def summary(result: Result) -> dict:
    """A run's JSON object (see accelsim.result) without its layers and schema version."""
    out = result.to_dict()
    del out["layers"], out["schema_version"]
    return out


def envelope(query: str, body: dict) -> dict:
    """The JSON object of a query: schema version, query name, then its fields."""
    return {"schema_version": SCHEMA_VERSION, "query": query, **body}


def notify(on_run: OnRun, label: str) -> None:
    """Tell a progress callback that one simulation finished."""
    if on_run is not None:
        on_run(label)
