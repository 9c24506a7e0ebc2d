"""Helpers every command shares: JSON output and --param parsing."""

from __future__ import annotations

import json

import click

from accelsim.errors import UsageError


def emit_json(data) -> None:
    """Print a JSON document to stdout."""
    click.echo(json.dumps(data, indent=2))


def workload_params(params: tuple[str, ...]) -> dict:
    """Parse --param key=value pairs (values as YAML scalars: numbers stay numbers)."""
    from accelsim.files import load_yaml

    out = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {item!r}", param_hint="--param")
        key = key.strip().replace("-", "_")
        out[key] = load_yaml(value, "--param", UsageError, key=key)
    return out
