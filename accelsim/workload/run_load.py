"""A run's network: its stack resolved, a seq_len distribution padded where that stack pads on the
device's kind (accelsim.workload.seqlen), and the workload loaded at the run's batch and precision."""

from __future__ import annotations

from accelsim.workload.ir import Graph
from accelsim.workload.seqlen import run_lengths
from accelsim.workload.stack import resolve_stack


def load_workload(spec, *, batch: int = 1, precision: str = "fp16", **params) -> Graph:
    """A network Graph from a zoo name or a file path (SCALE-Sim CSV, YAML); a Graph as it is."""
    if isinstance(spec, Graph):
        return spec
    from accelsim.workload.loader import load_workload as load   # the zoo: off the CLI's start

    return load(spec, batch=batch, precision=precision, **params)


def load_for_run(spec, stack: str | None, kind: str, mode: str, *, batch: int = 1,
                 precision: str = "fp16", **params) -> tuple[str, Graph]:
    """(stack, graph) of a `mode` run of workload `spec` on a device of `kind`: `stack` checked
    or the kind's default, the graph sized as that stack runs it (not yet fused)."""
    stack = resolve_stack(stack, kind, mode)
    return stack, load_workload(spec, batch=batch, precision=precision,
                                **run_lengths(params, stack, kind))
