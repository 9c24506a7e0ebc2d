"""Training step = forward + backward (dgrad, wgrad) + optimizer update, and the memory each needs.

Why training costs about 3x inference: every GEMM Y = X W (m x n x k MACs) has two backward GEMMs of the
same size, dX = dY W^T (dgrad) and dW = X^T dY (wgrad). The first layer needs no dgrad (nobody wants the
gradient of the input data), so a network costs 3x its forward MACs minus its first layer's.

Why it takes far more memory: the step holds the weights, their gradients, optimizer state (Adam keeps
two fp32 moments and, in mixed precision, an fp32 master copy: 16 bytes per parameter in all, ZeRO,
Rajbhandari et al. 2020, section 3.1), and every activation the backward pass reads.

Activation checkpointing keeps only the activations at segment boundaries and re-runs each segment's
forward (Phase.RECOMPUTE) just before its backward: activation memory drops to boundaries + one segment,
FLOPs grow by one forward (Megatron-LM's 96 B s l h^2 instead of 72, Narayanan et al. 2021).

Conventions of this model:
- A dgrad op is emitted for every op that reads a tensor produced by another op; a wgrad op for every
  op with weights. Backward ops are named "<forward name>.dgrad" / ".wgrad" and run in reverse order.
- A weightless batched matmul C = A B (attention) has two dgrad GEMMs, dA = dC B^T and dB = A^T dC, of
  equal size; they are folded into one DGRAD op whose Gemm has count x 2.
- Backward arithmetic comes from the kind's traits (ir.OP_TRAITS): backward vector FLOPs are
  `backward_vector` x the forward vector FLOPs; weight gradients of non-GEMM ops cost
  `wgrad_per_output` FLOPs per output element (norm scale/shift, biases: 2, multiply and accumulate;
  embeddings: 1, a scatter-add of the output gradient into the table). A GEMM's own vector FLOPs
  (bias add, score scaling) are charged once more: to its wgrad if it has weights, else to its dgrad.
- One OPTIMIZER op per forward op that first owns a weight tensor (tied weights update once).
- A sparse embedding (attrs sparse, as DLRM's tables) has a gradient of the rows it gathered only,
  and its update touches only those rows; other weights take dense gradients.
- A MoE op is a GEMM-category op: its dgrad and wgrad are grouped GEMMs the size of its forward.
- Activation memory counts what the backward reads (`saved_for_backward`), each tensor once; the
  transient gradient buffers of the backward pass are not counted.
- Checkpoint segments start at layer boundaries (`layer_cuts`); every segment is recomputed, the last
  one too, as Megatron-LM's full recompute does.
- Selective recomputation (checkpoint="selective", Korthikanti et al. 2022, Section 5) keeps every
  activation but those of the attention core (`attention_core`: the scores matmul, softmax and the
  dropout on its output), whose a x s x s tensors are re-created by running those ops again just
  before the backward first needs them; one layer's core is re-created at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from accelsim.errors import UsageError
from accelsim.workload.ir import BYTES_PER_ELEMENT, Gemm, Graph, Op, OpKind, Phase, Tensor
from accelsim.workload.trace import MemoryBreakdown, Trace, live_ranges, step_sizes, storage

STATE_DTYPE = "fp32"     # optimizer moments and master weights (mixed-precision training)


@dataclass(frozen=True)
class Optimizer:
    """An update rule: the fp32 state tensors it keeps per weight, its FLOPs per parameter and the
    host calls of one step in PyTorch's multi-tensor (foreach) implementation, its default on GPUs:
    each call updates every weight at once, so an eager step dispatches these, not one per weight."""

    states: tuple[str, ...]
    flops_per_param: int
    foreach_calls: int


OPTIMIZERS = {
    # m = b1 m + (1-b1) g (3), v = b2 v + (1-b2) g^2 (4), w -= lr m / (sqrt(v) + eps) (5);
    # torch.optim.adam._multi_tensor_adam: _foreach_add_ (step), _foreach_lerp_ (m), _foreach_mul_
    # and _foreach_addcmul_ (v), _foreach_sqrt, _foreach_div_, _foreach_add_ (eps), _foreach_addcdiv_
    "adam": Optimizer(states=("exp_avg", "exp_avg_sq"), flops_per_param=12, foreach_calls=8),
    # SGD with momentum: v = mu v + g (2), w -= lr v (2); torch.optim.sgd._multi_tensor_sgd:
    # _foreach_mul_ and _foreach_add_ (v), _foreach_add_ (w)
    "sgd": Optimizer(states=("momentum_buffer",), flops_per_param=4, foreach_calls=3),
}

KEEPS_OUTPUT = ("relu", "relu6", "sigmoid", "tanh")   # elementwise fns whose derivative follows from y
KEEPS_NOTHING = ("add", "rope", "scale", "concat", "upsample")   # linear: dy is all they need


def grad(t: Tensor) -> Tensor:
    """The gradient of a tensor (of a view "a:part": "a.grad:part"), same shape and dtype."""
    base, colon, part = t.name.partition(":")
    return Tensor(f"{base}.grad{colon}{part}", t.shape, t.dtype)


def saved_for_backward(op: Op) -> tuple[Tensor, ...]:
    """Activations the backward of `op` reads, so the forward must keep them.

    Softmax, ReLU, sigmoid and tanh keep their output; dropout its one-byte mask; adds, RoPE and
    average pools keep nothing; the rest keep their inputs: GEMMs (wgrad needs X, attention dgrad
    both operands), norms, max pools, embeddings (their indices), GELU, SiLU, products and unknown
    elementwise functions.
    """
    fn = op.attr("fn")
    if op.kind is OpKind.ELEMENTWISE and fn == "dropout":
        return op.outputs[1:]
    if op.kind is OpKind.SOFTMAX or (op.kind is OpKind.ELEMENTWISE and fn in KEEPS_OUTPUT):
        return op.outputs
    if (op.kind is OpKind.ELEMENTWISE and fn in KEEPS_NOTHING) or (
            op.kind is OpKind.POOL and op.attr("mode") == "avg"):
        return ()
    return op.inputs


def dgrad_op(op: Op, produced: set[str], deps: tuple[str, ...]) -> Op:
    """Gradient with respect to the inputs: dX = dY W^T for GEMMs, vector work for the rest."""
    gemm, reads = op.gemm, saved_for_backward(op)
    vector = op.traits.backward_vector * op.vector_flops
    if gemm and op.weights:
        gemm, reads = Gemm(m=gemm.m, n=gemm.k, k=gemm.n, count=gemm.count), ()   # reads dY and W only
        vector = 0                                           # its vector FLOPs go to the wgrad
    elif gemm:
        gemm = Gemm(m=gemm.m, n=gemm.k, k=gemm.n, count=gemm.count * 2)   # dA and dB, equal size
    reads = tuple(grad(t) for t in op.outputs) + reads
    return op.with_(name=f"{op.name}.dgrad", phase=Phase.DGRAD, gemm=gemm, inputs=reads,
                    outputs=tuple(grad(t) for t in op.inputs if storage(t.name) in produced),
                    vector_flops=vector, deps=deps)


def updated(op: Op) -> tuple[Tensor, ...]:
    """The weights whose gradient the backward of `op` writes and the optimizer updates: all of
    them, or of a sparse embedding (PyTorch sparse=True, as DLRM trains) only the rows it gathers."""
    if not op.attr("sparse"):
        return op.weights
    return tuple(replace(w, name=f"{w.name}:rows", shape=(
        min(w.shape[0], math.ceil(op.weight_fraction * w.shape[0])), *w.shape[1:])) for w in op.weights)


def wgrad_op(op: Op, deps: tuple[str, ...]) -> Op:
    """Gradient with respect to the weights: dW = X^T dY for GEMMs, a reduction for the rest."""
    if op.gemm:
        gemm = Gemm(m=op.gemm.k, n=op.gemm.n, k=op.gemm.m, count=op.gemm.count)
        vector = op.traits.backward_vector * op.vector_flops   # bias gradient: the size of the bias add
    else:
        gemm, vector = None, op.traits.wgrad_per_output * sum(t.elements for t in op.outputs)
    reads = tuple(grad(t) for t in op.outputs) + saved_for_backward(op)
    return op.with_(name=f"{op.name}.wgrad", phase=Phase.WGRAD, gemm=gemm, inputs=reads, weights=(),
                    outputs=tuple(grad(w) for w in updated(op)), vector_flops=vector, deps=deps)


def _state(w: Tensor, role: str) -> Tensor:
    """An fp32 optimizer-side copy of a weight (master copy or moment)."""
    return Tensor(f"{w.name}.{role}", w.shape, STATE_DTYPE)


def optimizer_op(name: str, weights: tuple[Tensor, ...], rule: Optimizer, master: bool,
                 deps: tuple[str, ...]) -> Op:
    """Update `weights` from their gradients; reads and writes the weights, master copies and moments."""
    roles = (("master",) if master else ()) + rule.states
    state = tuple(_state(w, role) for w in weights for role in roles)
    params = sum(w.elements for w in weights)
    return Op(name=f"{name}.optimizer", kind=OpKind.OPTIMIZER, phase=Phase.OPTIMIZER,
              inputs=tuple(grad(w) for w in weights) + state, outputs=weights + state, weights=weights,
              vector_flops=rule.flops_per_param * params, deps=deps,
              precision=STATE_DTYPE if master else weights[0].dtype)


def optimizer_ops(forward: tuple[Op, ...], rule: Optimizer, master: bool) -> tuple[Op, ...]:
    """One update per op that first owns weights, after every wgrad that writes those gradients;
    each carries its share of the step's foreach host calls (attr "host_calls")."""
    writers: dict[str, list[str]] = {}
    for op in forward:
        for w in op.weights:
            writers.setdefault(w.name, []).append(f"{op.name}.wgrad")
    ops, seen = [], set()
    for op in forward:
        owned = tuple(w for w in updated(op) if storage(w.name) not in seen)
        seen.update(storage(w.name) for w in owned)
        if owned:
            deps = tuple(dict.fromkeys(d for w in owned for d in writers[storage(w.name)]))
            ops.append(optimizer_op(op.name, owned, rule, master, deps))
    share = (("host_calls", rule.foreach_calls / len(ops)),) if ops else ()
    return tuple(op.with_(attrs=op.attrs + share) for op in ops)


def layer_cuts(ops: tuple[Op, ...]) -> list[int]:
    """Op indices that exactly one produced activation crosses on its way to a later op.

    Such a point is a layer boundary (a residual stream between blocks, a chain between layers):
    keeping that one tensor is enough to re-run everything after it. Network inputs are always kept.
    """
    delta = [0] * (len(ops) + 1)
    for first, last, _ in live_ranges(ops).values():
        if 0 <= first < last:
            delta[first + 1] += 1
            delta[last + 1] -= 1
    cuts, crossing = [], 0
    for i in range(1, len(ops)):
        crossing += delta[i]
        if crossing == 1:
            cuts.append(i)
    return cuts


def segment_starts(cuts: list[int], checkpoint: bool | str | int) -> list[int]:
    """Op indices that start checkpoint segments: every k-th layer boundary (k = sqrt(#units) or given)."""
    if checkpoint is True or checkpoint == "sqrt":
        per_segment = max(1, round(math.sqrt(len(cuts) + 1)))
    elif isinstance(checkpoint, int) and not isinstance(checkpoint, bool) and checkpoint >= 1:
        per_segment = checkpoint
    else:
        raise UsageError(f"expected False, True, 'sqrt' or a positive int, got {checkpoint!r}",
                         key="checkpoint")
    return [0] + cuts[per_segment - 1::per_segment]


def attention_core(ops: tuple[Op, ...]) -> list[tuple[Op, ...]]:
    """Runs of consecutive ops that selective recomputation re-runs: each softmax, the weightless
    matmul producing its input and a dropout of its output."""
    softmaxes = [op for op in ops if op.kind is OpKind.SOFTMAX]
    softmax_inputs = {t.name for op in softmaxes for t in op.inputs}
    softmax_outputs = {t.name for op in softmaxes for t in op.outputs}

    def core(op: Op) -> bool:
        if op.kind is OpKind.SOFTMAX:
            return True
        if op.kind is OpKind.ELEMENTWISE and op.attr("fn") == "dropout":
            return any(t.name in softmax_outputs for t in op.inputs)
        return op.kind is OpKind.MATMUL and not op.weights and \
            any(t.name in softmax_inputs for t in op.outputs)

    groups: list[list[Op]] = []
    previous = False
    for op in ops:
        inside = core(op)
        if inside:
            if not previous:
                groups.append([])
            groups[-1].append(op)
        previous = inside
    return [tuple(group) for group in groups]


def _segments(ops: tuple[Op, ...], starts: list[int]) -> list[tuple[Op, ...]]:
    """The ops of each segment, in forward order."""
    return [ops[a:b] for a, b in zip(starts, starts[1:] + [len(ops)])]


def _saved_bytes(ops: tuple[Op, ...], skip: dict[str, float]) -> float:
    """Bytes of the distinct activations that the backward of `ops` reads, except those in `skip`."""
    saved = {t.name: t.bytes for op in ops for t in saved_for_backward(op)}
    return sum(size for name, size in saved.items() if storage(name) not in skip)


def activation_parts(ops: tuple[Op, ...], starts: list[int],
                     selective: bool = False) -> tuple[float, float]:
    """(kept, recreated) activation bytes: kept for backward until it runs, and re-created by
    recomputation, one segment (or attention core) at a time. Kept: all of them, or network
    inputs + segment boundaries; selective: all but the attention cores'."""
    if selective:
        groups = attention_core(ops)
        recreated = {storage(t.name) for group in groups for op in group for t in op.outputs}
        transient = max((sum(t.bytes for op in group for t in op.outputs) for group in groups),
                        default=0.0)
        return _saved_bytes(ops, dict.fromkeys(recreated, 0.0)), transient
    if len(starts) == 1:
        return _saved_bytes(ops, {}), 0.0
    kept = {name: size for name, (first, last, size) in live_ranges(ops).items()
            if first < 0 or any(first < s <= last for s in starts[1:])}
    return sum(kept.values()), max(_saved_bytes(segment, kept)
                                   for segment in _segments(ops, starts))


def checkpoint_starts(ops: tuple[Op, ...], checkpoint: bool | str | int) -> list[int]:
    """Segment starts of a `checkpoint` argument (see training_trace): [0] when none."""
    if not checkpoint or checkpoint == "selective":
        return [0]
    return segment_starts(layer_cuts(ops), checkpoint)


def activation_bytes(ops: tuple[Op, ...], starts: list[int], selective: bool = False) -> float:
    """Activations the step holds at its peak: kept plus one re-created segment (activation_parts)."""
    return sum(activation_parts(ops, starts, selective))


def backward_ops(forward: tuple[Op, ...], starts: list[int],
                 selective: bool = False) -> tuple[Op, ...]:
    """Backward ops in reverse order; with several segments, each is recomputed just before its
    backward; selective: each attention core just before the first backward op reading it."""
    recompute = len(starts) > 1
    groups = attention_core(forward) if selective else []
    group_of = {t.name: i for i, group in enumerate(groups) for op in group for t in op.outputs}
    rerun = {op.name for group in groups for op in group}
    pending = set(range(len(groups)))
    produced = {t.name for op in forward for t in op.outputs}
    consumers: dict[str, list[str]] = {}
    for op in forward:
        for t in op.inputs:
            consumers.setdefault(storage(t.name), []).append(f"{op.name}.dgrad")
    ops = []
    for segment in reversed(_segments(forward, starts)):
        if recompute:
            ops += _recompute_ops(segment)
        for op in reversed(segment):
            for i in sorted({group_of[t.name] for t in op.inputs if t.name in group_of} & pending):
                pending.discard(i)
                ops += _recompute_ops(groups[i])
            source = f"{op.name}.recompute" if recompute or op.name in rerun else op.name
            deps = tuple(dict.fromkeys(c for t in op.outputs for c in consumers.get(t.name, ()))) + (source,)
            if any(storage(t.name) in produced for t in op.inputs):
                ops.append(dgrad_op(op, produced, deps))
            if op.weights:
                ops.append(wgrad_op(op, deps))
    return tuple(ops)


def _recompute_ops(segment: tuple[Op, ...]) -> list[Op]:
    """Forward copies of a segment; deps inside the segment point at the copies."""
    inside = {op.name for op in segment}
    return [op.with_(name=f"{op.name}.recompute", phase=Phase.RECOMPUTE,
                     deps=tuple(f"{d}.recompute" if d in inside else d for d in op.deps))
            for op in segment]


def _weights(graph: Graph) -> dict[str, Tensor]:
    """Distinct weight tensors by name (tied weights once)."""
    return {w.name: w for op in graph.ops for w in op.weights}


def training_memory(graph: Graph, rule: Optimizer, master: bool, starts: list[int],
                    selective: bool = False) -> MemoryBreakdown:
    """Weights, same-dtype gradients (of a sparse embedding: its gathered rows), fp32 master copy +
    moments per parameter, kept activations."""
    weights = _weights(graph).values()
    params = sum(w.elements for w in weights)
    gradients = {storage(w.name): w.bytes for op in graph.ops for w in updated(op)}
    state_per_param = BYTES_PER_ELEMENT[STATE_DTYPE] * (len(rule.states) + int(master))
    return MemoryBreakdown(weights=sum(w.bytes for w in weights), gradients=sum(gradients.values()),
                           optimizer_state=state_per_param * params,
                           activations=activation_bytes(graph.ops, starts, selective))


def training_trace(graph: Graph, optimizer: str = "adam", checkpoint: bool | str | int = False,
                   master_weights: bool | None = None) -> Trace:
    """Forward, backward (dgrad + wgrad) and optimizer update of one step, with its memory.

    checkpoint: False, True or "sqrt" (segments of ~sqrt(#layer units) units), units per segment,
    or "selective" (recompute only the attention cores, see attention_core).
    master_weights: keep fp32 master copies; by default when any weight is stored in under 4 bytes.
    """
    if optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {optimizer!r}; expected one of {sorted(OPTIMIZERS)}",
                         key="optimizer")
    rule = OPTIMIZERS[optimizer]
    if master_weights is None:
        master_weights = any(BYTES_PER_ELEMENT[w.dtype] < 4 for w in _weights(graph).values())
    selective = checkpoint == "selective"
    starts = checkpoint_starts(graph.ops, checkpoint)
    ops = graph.ops + backward_ops(graph.ops, starts, selective) + \
        optimizer_ops(graph.ops, rule, master_weights)
    return Trace(name=graph.name, mode="training", ops=ops, **step_sizes(graph),
                 memory=training_memory(graph, rule, master_weights, starts, selective))
