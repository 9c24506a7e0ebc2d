"""Helpers every command shares: JSON output and --param parsing."""

from __future__ import annotations

import json

import click


def emit_json(data) -> None:
    """Print a JSON document to stdout."""
    click.echo(json.dumps(data, indent=2))


def workload_params(params: tuple[str, ...]) -> dict:
    """Parse --param key=value pairs (values as YAML scalars: numbers stay numbers)."""
    import yaml

    out = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {item!r}", param_hint="--param")
        out[key.strip().replace("-", "_")] = yaml.safe_load(value)
    return out
