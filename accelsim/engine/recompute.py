"""What large training runs do besides tp/pp/dp: recomputation, sequence parallelism, interleaving.

- Activation recomputation (`RECOMPUTE`): "none" keeps every activation the backward reads;
  "full" (Megatron-LM's, Narayanan et al. SC21 Section 3.5; --checkpoint) keeps each layer's input
  and re-runs its forward before its backward (one forward more: hardware FLOPs = model FLOPs x 4/3
  for a transformer); "selective" (Korthikanti et al. 2022, "Reducing Activation Recomputation in
  Large Transformer Models", Section 5) re-runs only the attention core (QK^T, softmax, dropout),
  whose a x s x s activations are most of the memory and little of the FLOPs.
- Sequence parallelism (same paper, Section 4.2.2): the ops tensor parallelism replicates (norms,
  dropouts, residual adds) split their b x s x h tensors over the sequence across the tp group, so
  their time and activations drop by tp; each forward/backward all-reduce becomes a reduce-scatter
  plus an all-gather of the same bytes (the all-gather of a GEMM's stored input in the backward
  overlaps the backward GEMMs, as Megatron runs it, and is not charged).
- Interleaved 1F1B (SC21 Section 2.2.2): each device runs v chunks of layers (virtual stages), so
  the bubble shrinks from (p - 1) to (p - 1) / v micro-batch slots, while each micro-batch crosses
  v times as many stage boundaries (v times the pipeline sends) and the first stage holds
  activations of p + (p - 1) / v micro-batches (Korthikanti et al. Section 4.2.3).
"""

from __future__ import annotations

from dataclasses import replace

from accelsim.engine.tensor_parallel import tensor_parallel_roles
from accelsim.errors import UsageError, check_name
from accelsim.workload.ir import Graph, Tensor
from accelsim.workload.training import layer_cuts

RECOMPUTE = ("none", "selective", "full")
SEQUENCE_SPLIT_ROLES = ("replicated", "row", "vocab", "experts")   # b x s x h outputs SP splits


def resolve_recompute(recompute: str | None, checkpoint: bool) -> str:
    """The recompute mode: `recompute` checked, or "full" for the --checkpoint alias, else "none"."""
    if recompute is None:
        return "full" if checkpoint else "none"
    check_name(recompute, RECOMPUTE, "recompute")
    if checkpoint and recompute != "full":
        raise UsageError(f"--checkpoint is --recompute full; it contradicts --recompute {recompute}",
                         key="recompute")
    return recompute


def trace_checkpoint(recompute: str, graph: Graph) -> bool | str | int:
    """The training trace's `checkpoint` argument for a recompute mode; full: one segment per
    transformer layer (Megatron-LM's uniform recomputation, one layer at a time), or per layer
    boundary in networks without a layer count."""
    if recompute != "full":
        return {"none": False, "selective": "selective"}[recompute]
    layers = graph.info("layers")
    return max(1, len(layer_cuts(graph.ops)) // layers) if isinstance(layers, int) else 1


def _sequence_split(t: Tensor, seq_len: int, tp: int) -> Tensor:
    """A b x s x h (or s x h) tensor's share of the sequence; other tensors unchanged."""
    if len(t.shape) < 2 or t.shape[-2] != seq_len:
        return t
    shape = list(t.shape)
    shape[-2] = -(-seq_len // tp)
    return replace(t, shape=tuple(shape))


def sequence_parallel(graph: Graph, shard: Graph, tp: int) -> Graph:
    """The tp-sharded graph `shard` of `graph` with sequence parallelism (see the module docstring)."""
    seq_len = graph.info("seq_len")
    if tp == 1 or not seq_len:
        return shard
    roles = tensor_parallel_roles(graph)
    split = {t.name for op in graph.ops if roles[op.name] in SEQUENCE_SPLIT_ROLES
             for t in op.outputs}

    def share(t: Tensor) -> Tensor:
        return _sequence_split(t, seq_len, tp) if t.name.split(":", 1)[0] in split else t

    ops = tuple(op.with_(inputs=tuple(share(t) for t in op.inputs),
                         outputs=tuple(share(t) for t in op.outputs),
                         vector_flops=-(-op.vector_flops // tp) if roles[op.name] == "replicated"
                         else op.vector_flops)
                for op in shard.ops)
    return replace(shard, ops=ops)


def bubble_slots(pp: int, virtual_stages: int) -> float:
    """Micro-batch slots a 1F1B step idles per device: (p - 1) / v (interleaved, v chunks)."""
    return (pp - 1) / virtual_stages


def in_flight(stage: int, pp: int, micro_batches: int, virtual_stages: int) -> float:
    """Micro-batches whose activations pipeline stage `stage` holds at its peak under 1F1B:
    p - stage, and (p - 1) / v more with v > 1 interleaved chunks; at most the micro-batches."""
    extra = (pp - 1) / virtual_stages if virtual_stages > 1 else 0.0
    return min(pp - stage + extra, micro_batches)
