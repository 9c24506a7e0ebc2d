"""Expert parallelism for mixture-of-experts training (GShard, Lepikhin et al. 2021; Megatron-LM's
MoE): the `ep` ranks of a data-parallel group split each MoE layer's experts, E / ep each.

Every rank routes its own tokens: a dispatch all-to-all sends each token's hidden vector to the
ranks holding its top-k experts, the experts run, and a combine all-to-all brings the outputs back
(twice more in the backward pass, and again in a recomputed forward). With balanced routing a rank
receives as many (token, expert) pairs as it sends, so its expert GEMMs keep their size (tokens x
top_k rows) while it holds and reads only its E / ep experts: those its ep x tokens incoming tokens
touch (ir.expected_experts over all of them). Expert gradients are summed over the dp / ep ranks
that hold the same experts, the dense ones over all dp ranks.

Serving (DP attention + EP, as vLLM, SGLang and DeepSeek deploy MoE models) splits the experts the
same way over `ep` attention ranks that each hold their own sequences: serving_expert_share gives
a rank's expert work when the group's tokens are routed uniformly over the experts.
"""

from __future__ import annotations

import math
from dataclasses import replace

from accelsim.errors import UsageError
from accelsim.workload.ir import Graph, Op, OpKind


def moe_ops(graph: Graph) -> list[Op]:
    """The graph's mixture-of-experts ops."""
    return [op for op in graph.ops if op.kind is OpKind.MOE]


def check_expert_parallel(graph: Graph, ep: int, dp: int | None = None,
                          key: str = "parallel") -> None:
    """ep must divide every MoE layer's experts (and dp, when given); ep > 1 needs a MoE model."""
    if ep == 1:
        return
    layers = moe_ops(graph)
    if not layers:
        raise UsageError(f"ep={ep} splits experts, but {graph.name} has no mixture-of-experts "
                         "layer", key=key)
    if dp is not None and dp % ep:
        raise UsageError(f"ep={ep} must divide dp={dp}: expert-parallel ranks are data-parallel "
                         "ones", key=key)
    experts = int(layers[0].attr("experts"))
    if experts % ep:
        raise UsageError(f"ep={ep} must divide the {experts} experts of {graph.name}", key=key)


def shard_experts(graph: Graph, ep: int) -> Graph:
    """The graph one of `ep` expert-parallel ranks runs: each MoE op holds E / ep experts and
    serves the tokens of all ep ranks routed to them (as many pairs as its own tokens send)."""
    if ep == 1:
        return graph

    def share(op: Op) -> Op:
        if op.kind is not OpKind.MOE:
            return op
        weights = tuple(replace(w, shape=(w.shape[0] // ep, *w.shape[1:])) for w in op.weights)
        attrs = dict(op.attrs) | {"tokens": int(op.attr("tokens")) * ep}
        return op.with_(weights=weights, attrs=tuple(attrs.items()))
    return replace(graph, ops=tuple(share(op) for op in graph.ops))


def serving_expert_share(graph: Graph, ep: int) -> Graph:
    """The MoE ops of `graph` (the whole group's tokens) as one of `ep` serving ranks runs them:
    its E / ep experts, 1 / ep of the (token, expert) pairs (uniform routing, in expectation) and
    the weights of its experts that the group's tokens touch (ir.expected_experts over all)."""
    def share(op: Op) -> Op:
        weights = tuple(replace(w, shape=(w.shape[0] // ep, *w.shape[1:])) for w in op.weights)
        return op.with_(weights=weights, gemm=replace(op.gemm, m=math.ceil(op.gemm.m / ep)),
                        vector_flops=math.ceil(op.vector_flops / ep))
    return replace(graph, ops=tuple(share(op) for op in moe_ops(graph)))


def dispatch_bytes(op: Op) -> float:
    """Bytes a rank sends in one all-to-all of a MoE op: each token's hidden vector to each of its
    top_k experts (the combine returns as many)."""
    return op.inputs[0].bytes * int(op.attr("top_k"))


def expert_bytes(ops) -> float:
    """Bytes of the experts' weights among `ops`."""
    return sum(w.bytes for op in ops if op.kind is OpKind.MOE for w in op.weights)


def expert_weight_share(ops) -> float:
    """The fraction of `ops`' parameters that are experts' (their gradients sync over dp / ep)."""
    total = sum(w.bytes for op in ops for w in op.weights)
    return expert_bytes(ops) / total if total else 0.0
