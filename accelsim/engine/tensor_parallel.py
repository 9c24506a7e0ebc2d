"""Tensor parallelism (Megatron-LM, Shoeybi et al. 2019): each device's share of a graph.

A weight GEMM whose input is replicated is column-parallel (its N, output features, split); one
whose input is already split is row-parallel (its K split) and all-reduces its output in the forward
pass. Ops fed by split tensors (attention matmuls by heads, activations, gating) split with them;
norms and residual adds stay replicated. KV caches (4-D graph inputs of split ops) split by heads
with the attention that reads them. The vocabulary embedding is split by rows and all-reduces
its output. A mixture-of-experts block (Megatron-LM's and vLLM's MoE under tp) keeps its router
replicated (a hidden x experts GEMM), splits each expert's gate and up projections by columns and
its down projection by rows, both over ffn, and all-reduces the combined output once. In the
backward pass each replicated tensor that column-parallel GEMMs (or experts) read all-reduces its
gradient, so a transformer layer has 2 all-reduces of b x s x h activations forward and 2
backward.

A split tensor keeps 1/tp of its heads/channels dimension (dim 1 of 4-D tensors) or of its last one.
"""

from __future__ import annotations

import math
from dataclasses import replace

from accelsim.errors import UsageError
from accelsim.workload.ir import Graph, Op, OpKind, Tensor
from accelsim.workload.zoo._builder import VECTOR_FLOPS


def _base(name: str) -> str:
    """A tensor's name without a view suffix ("qkv.out:q" -> "qkv.out")."""
    return name.split(":", 1)[0]


def _routers(graph: Graph) -> set[str]:
    """Names of the ops that route tokens to experts: the producers of each MoE op's probabilities
    and what feeds them (the router GEMM and its softmax)."""
    producer = {t.name: op for op in graph.ops for t in op.outputs}
    names: set[str] = set()
    for op in graph.ops:
        if op.kind is OpKind.MOE:
            probs = producer.get(_base(op.inputs[1].name))
            while probs is not None and probs.name not in names:
                names.add(probs.name)
                probs = producer.get(_base(probs.inputs[0].name)) \
                    if probs.kind is OpKind.SOFTMAX else None
    return names


def tensor_parallel_roles(graph: Graph) -> dict[str, str]:
    """Op name -> "column", "row", "split", "vocab", "experts" or "replicated" (see the module
    docstring)."""
    vocab = graph.info("vocab")
    routers = _routers(graph)
    split: set[str] = set()
    roles = {}
    for op in graph.ops:
        reads_split = any(_base(t.name) in split for t in op.inputs)
        if op.kind is OpKind.MOE:
            role = "experts"
        elif op.name in routers:
            role = "replicated"
        elif op.kind is OpKind.EMBEDDING:
            role = "vocab" if vocab and op.weights[0].shape[0] == vocab else "replicated"
        elif op.gemm is not None and op.weights:
            role = "row" if reads_split else "column"
        else:
            role = "split" if reads_split else "replicated"
        if role in ("column", "split"):
            split.update(t.name for t in op.outputs)
        roles[op.name] = role
    return roles


def _split(t: Tensor, tp: int, dim: int | None = None) -> Tensor:
    """A tensor's 1/tp share along `dim`, else the heads/channels dim (4-D) or the last."""
    if dim is None:
        dim = 1 if len(t.shape) == 4 else len(t.shape) - 1
    if dim >= len(t.shape):
        return t
    shape = list(t.shape)
    shape[dim] = math.ceil(shape[dim] / tp)
    return replace(t, shape=tuple(shape))


def _shard_experts_op(op: Op, tp: int) -> Op:
    """A MoE op's per-device share: every expert's ffn columns of gate and up, rows of down; the
    activation and gating split with ffn, the routing-weighted combine of the (partial) outputs
    does not."""
    ffn = int(op.attr("ffn"))
    routed = int(op.attr("tokens")) * int(op.attr("top_k"))
    combine = routed * op.inputs[0].shape[-1] * VECTOR_FLOPS["combine"]
    gate, up, down = op.weights
    attrs = dict(op.attrs) | {"ffn": math.ceil(ffn / tp)}
    return op.with_(gemm=replace(op.gemm, n=math.ceil(op.gemm.n / tp)),
                    weights=(_split(gate, tp, 1), _split(up, tp, 1), _split(down, tp, 2)),
                    vector_flops=math.ceil((op.vector_flops - combine) / tp) + combine,
                    attrs=tuple(attrs.items()))


def _shard_op(op: Op, role: str, split: set[str], tp: int) -> Op:
    """One op's per-device share under its tensor-parallel role."""
    inputs = tuple(_split(t, tp) if _base(t.name) in split else t for t in op.inputs)
    if role == "replicated":
        return op.with_(inputs=inputs)
    if role == "experts":
        return _shard_experts_op(op.with_(inputs=inputs), tp)
    if role == "row":
        return op.with_(inputs=inputs, gemm=replace(op.gemm, k=math.ceil(op.gemm.k / tp)),
                        weights=tuple(_split(w, tp, 1) for w in op.weights))
    weights = tuple(_split(w, tp, 0) for w in op.weights)
    if role == "vocab":
        return op.with_(inputs=inputs, weights=weights)
    gemm = op.gemm
    if gemm is not None:
        gemm = replace(gemm, n=math.ceil(gemm.n / tp)) if op.weights else \
            replace(gemm, count=math.ceil(gemm.count / tp))
    return op.with_(inputs=inputs, outputs=tuple(_split(t, tp) for t in op.outputs), gemm=gemm,
                    weights=weights, vector_flops=math.ceil(op.vector_flops / tp))


SPLIT_DIMENSIONS = ("heads", "kv_heads", "ffn")     # Graph.info entries tp splits across devices


def check_divisible(graph: Graph, tp: int) -> None:
    """Megatron splits whole heads and FFN columns: tp must divide each split dimension."""
    for key in SPLIT_DIMENSIONS:
        size = graph.info(key)
        if isinstance(size, int) and size % tp:
            raise UsageError(f"tp = {tp} does not divide {graph.name}'s {size} {key.replace('_', ' ')}",
                             key="parallel")


def shard_graph(graph: Graph, tp: int) -> Graph:
    """The graph one of `tp` tensor-parallel devices runs."""
    if tp == 1:
        return graph
    check_divisible(graph, tp)
    roles = tensor_parallel_roles(graph)
    split = {t.name for op in graph.ops if roles[op.name] in ("column", "split")
             for t in op.outputs}
    produced = {t.name for op in graph.ops for t in op.outputs}
    split |= {t.name for op in graph.ops if roles[op.name] == "split" for t in op.inputs
              if t.name not in produced and len(t.shape) == 4}      # KV caches, split by heads
    ops = tuple(_shard_op(op, roles[op.name], split, tp) for op in graph.ops)
    return replace(graph, ops=ops)


def tensor_parallel_all_reduces(graph: Graph) -> dict[str, tuple[float, float]]:
    """Op name -> (forward, backward) bytes all-reduced across the tp group, for ops that need one.

    Forward: outputs of row-parallel GEMMs, MoE blocks and vocab-split embeddings. Backward: the
    gradient of each replicated, produced tensor read by column-parallel GEMMs or experts (charged
    to its first reader).
    """
    roles = tensor_parallel_roles(graph)
    produced = {t.name for op in graph.ops for t in op.outputs}
    reduced: set[str] = set()
    out = {}
    for op in graph.ops:
        forward = op.output_bytes if roles[op.name] in ("row", "vocab", "experts") else 0.0
        backward = 0.0
        if roles[op.name] in ("column", "experts"):
            for t in op.inputs:
                if t.name in produced and t.name not in reduced:
                    reduced.add(t.name)
                    backward += t.bytes
        if forward or backward:
            out[op.name] = (forward, backward)
    return out
