"""Helpers every command shares: JSON output, --param parsing, finite number options."""

from __future__ import annotations

import functools
import json
import math

import click

from accelsim.errors import UsageError


class Finite(click.FloatRange):
    """A float option within a range that refuses inf and nan."""

    name = "finite float"

    def convert(self, value, param, ctx):
        """The value as a finite float in range, else a usage error."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


POSITIVE = Finite(min=0, min_open=True)
WIDE = click.option("--wide", is_flag=True,
                    help="Show every table column, however wide (default: fit the terminal).")
STACK_HELP = ("Software stack: eager (every op its own kernel, as PyTorch eager) or compiled "
              "(conv+bn+act and attention fused as TensorRT, XLA, TFLite, Vitis AI and NPU "
              "compilers do; residual adds too on GPUs, systolic arrays and CPUs). Default: "
              "compiled for inference and serving on every device; training eager on GPUs and "
              "CPUs, compiled elsewhere (XLA).")
PARAM_HELP = ("Workload parameter, e.g. --param seq_len=512 or --param image_size=160. A "
              "transformer's seq_len may be a distribution of lengths: uniform:A:B, "
              "lognormal:MEAN:SIGMA, zipf:THETA:MAX, file:PATH.csv or squad (padding-free under "
              "the compiled stack on GPUs and CPUs, padded to the longest elsewhere).")
STACK = click.option("--stack", type=click.Choice(["eager", "compiled"]), default=None,
                     help=STACK_HELP)


def single_run(command):
    """A command simulating one design point: its kernels may skip numba (kernels._jit.single_run)."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        from accelsim.kernels._jit import single_run as plain_kernels

        with plain_kernels():
            return command(*args, **kwargs)
    return wrapper


def emit_json(data) -> None:
    """Print a JSON document to stdout."""
    click.echo(json.dumps(data, indent=2))


def workload_params(params: tuple[str, ...]) -> dict:
    """Parse --param key=value pairs (values as YAML scalars: numbers stay numbers)."""
    out = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {item!r}", param_hint="--param")
        key = key.strip().replace("-", "_")
        from accelsim.files import load_yaml

        out[key] = load_yaml(value, "--param", UsageError, key=key)
    return out
