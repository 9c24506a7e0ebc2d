"""A trace is what one step runs: ops in execution order plus the memory that step needs.

Inference is the forward graph as it is. Its memory is the weights plus the peak of live activations
while walking the ops in order: a tensor is live from the op that produces it (or from the start, for
network inputs) until its last consumer. Training traces are built in `training.py`.

A tensor named "a:part" is a view of part of tensor "a" (how the zoo slices q, k and v out of one
fused projection): it is stored in "a" and keeps "a" alive.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.workload.ir import Graph, Op, Phase

@dataclass(frozen=True)
class MemoryBreakdown:
    """Bytes a step holds at its peak, by what they are for."""

    weights: float = 0.0
    gradients: float = 0.0
    optimizer_state: float = 0.0     # fp32 master weights and optimizer moments
    activations: float = 0.0         # live (inference) or kept-for-backward (training) activations
    kv_cache: float = 0.0            # attention keys/values kept across decode steps (serving)

    @property
    def total(self) -> float:
        """Peak memory: the sum of the parts."""
        return self.weights + self.gradients + self.optimizer_state + self.activations + self.kv_cache


@dataclass(frozen=True)
class Trace:
    """One step of a workload: ops in a valid execution order (deps name earlier ops) and its memory."""

    name: str
    mode: str                        # "inference" or "training"
    ops: tuple[Op, ...]
    memory: MemoryBreakdown
    batch: int
    samples_per_step: int
    tokens_per_step: float | None = None   # batch x (mean) sequence length for sequence models

    @property
    def flops(self) -> int:
        """FLOPs of the whole step."""
        return sum(op.flops for op in self.ops)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole step."""
        return sum(op.macs for op in self.ops)

    @property
    def items_per_step(self) -> int:
        """What throughput counts: tokens for sequence models, samples otherwise."""
        return self.tokens_per_step or self.samples_per_step

    @property
    def item(self) -> str:
        """The unit of `items_per_step`: "tokens" or "samples"."""
        return "tokens" if self.tokens_per_step else "samples"

    def flops_by_phase(self) -> dict[Phase, int]:
        """FLOPs summed per phase, in the order phases first appear."""
        out: dict[Phase, int] = {}
        for op in self.ops:
            out[op.phase] = out.get(op.phase, 0) + op.flops
        return out


def storage(name: str) -> str:
    """The tensor that holds `name`'s data: "a" for a view "a:part", the name itself otherwise."""
    return name.partition(":")[0]


def live_ranges(ops: tuple[Op, ...]) -> dict[str, tuple[int, int, float]]:
    """Stored activation -> (producer index or -1 for network inputs, last consumer index, bytes)."""
    ranges: dict[str, tuple[int, int, float]] = {}
    for i, op in enumerate(ops):
        for t in op.inputs:
            first, _, size = ranges.get(storage(t.name), (-1, i, t.bytes))
            ranges[storage(t.name)] = (first, i, size)
        for t in op.outputs:
            ranges.setdefault(t.name, (i, i, t.bytes))
    return ranges


def peak_live_bytes(ops: tuple[Op, ...]) -> float:
    """Largest sum of live activation bytes at any op (its inputs and outputs included)."""
    delta = [0.0] * (len(ops) + 1)
    for first, last, size in live_ranges(ops).values():
        delta[max(first, 0)] += size
        delta[last + 1] -= size
    peak = live = 0.0
    for change in delta[:-1]:
        live += change
        peak = max(peak, live)
    return peak


def step_sizes(graph: Graph) -> dict[str, int | None]:
    """Samples and (for sequence models) tokens that one step of `graph` processes: the real
    tokens of a seq_len distribution (accelsim.workload.seqlen), padding not counted."""
    seq_len = graph.info("seq_mean", graph.info("seq_len"))
    return {"batch": graph.batch, "samples_per_step": graph.batch,
            "tokens_per_step": graph.batch * seq_len if seq_len else None}


def inference_trace(graph: Graph) -> Trace:
    """The forward pass as a trace; memory = weights + peak live activations."""
    memory = MemoryBreakdown(weights=graph.param_bytes, activations=peak_live_bytes(graph.ops))
    return Trace(name=graph.name, mode="inference", ops=graph.ops, memory=memory, **step_sizes(graph))
