"""The workload IR: an op enum with one traits entry per kind, tensors, ops and a graph, all immutable."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum

BYTES_PER_ELEMENT = {"fp64": 8.0, "fp32": 4.0, "tf32": 4.0, "fp16": 2.0, "bf16": 2.0, "fp8": 1.0,
                     "fp4": 0.5, "int32": 4.0, "int16": 2.0, "int8": 1.0, "int4": 0.5}
PRECISIONS = tuple(BYTES_PER_ELEMENT)


class OpKind(str, Enum):
    """What an op computes; the device models cost each kind differently."""

    CONV2D = "conv2d"            # direct/grouped/depthwise convolution, seen as `groups` GEMMs
    MATMUL = "matmul"            # linear layer or batched matmul (attention scores, context)
    ELEMENTWISE = "elementwise"  # activations, residual adds, bias, scaling, dropout
    NORM = "norm"                # batch/layer/RMS normalization
    SOFTMAX = "softmax"
    POOL = "pool"                # max/avg/global pooling
    EMBEDDING = "embedding"      # table lookup (gather)
    MOE = "moe"                  # mixture-of-experts FFN: each token runs its top-k of E experts
    OPTIMIZER = "optimizer"      # parameter update (SGD-momentum, Adam)


class OpCategory(str, Enum):
    """A group of op kinds that share a shape of work (tinygrad's GroupOp)."""

    GEMM = "gemm"                # multiply-accumulate over a reduction dimension
    POINTWISE = "pointwise"      # an output element needs only the same element of each input
    REDUCTION = "reduction"      # an output element combines a window or a row of the input
    MOVEMENT = "movement"        # copies or gathers data, no arithmetic
    UPDATE = "update"            # rewrites parameters and optimizer state in place


@dataclass(frozen=True)
class OpTraits:
    """What an op kind is, beyond its shapes: its category, backward cost and where it may run."""

    category: OpCategory
    backward_vector: int     # backward vector FLOPs per forward vector FLOP (a GEMM's: to its wgrad
                             # when it has weights, else to its dgrad)
    wgrad_per_output: int    # FLOPs per output element of a weight gradient outside a GEMM
    npu: bool                # an NPU config may list it in supported_ops


OP_TRAITS = {
    OpKind.CONV2D: OpTraits(OpCategory.GEMM, backward_vector=1, wgrad_per_output=0, npu=True),
    OpKind.MATMUL: OpTraits(OpCategory.GEMM, backward_vector=1, wgrad_per_output=0, npu=True),
    # d(relu), d(add): one op per element, like the forward; bias/scale gradient: multiply, accumulate
    OpKind.ELEMENTWISE: OpTraits(OpCategory.POINTWISE, backward_vector=1, wgrad_per_output=2,
                                 npu=True),
    # gradient through mean and variance re-reads the input; scale/shift gradient: multiply, accumulate
    OpKind.NORM: OpTraits(OpCategory.REDUCTION, backward_vector=2, wgrad_per_output=2, npu=True),
    # dx = y * (dy - sum(dy * y))
    OpKind.SOFTMAX: OpTraits(OpCategory.REDUCTION, backward_vector=2, wgrad_per_output=2, npu=True),
    # route or spread the gradient back over the window
    OpKind.POOL: OpTraits(OpCategory.REDUCTION, backward_vector=1, wgrad_per_output=2, npu=True),
    # the table gradient is a scatter-add of the output gradient (one add per element)
    OpKind.EMBEDDING: OpTraits(OpCategory.MOVEMENT, backward_vector=0, wgrad_per_output=1, npu=True),
    # experts as grouped GEMMs (dgrad and wgrad each as large as the forward, like any GEMM); the
    # routing-weighted combine and gated activation differentiate like the elementwise ops they are
    OpKind.MOE: OpTraits(OpCategory.GEMM, backward_vector=1, wgrad_per_output=0, npu=False),
    # never differentiated; a training-only update that no inference NPU runs
    OpKind.OPTIMIZER: OpTraits(OpCategory.UPDATE, backward_vector=0, wgrad_per_output=0, npu=False),
}


class Phase(str, Enum):
    """Where in a step an op belongs."""

    FORWARD = "forward"
    RECOMPUTE = "recompute"      # forward re-run for activation checkpointing
    DGRAD = "dgrad"              # backward, gradient with respect to the input
    WGRAD = "wgrad"              # backward, gradient with respect to the weights
    OPTIMIZER = "optimizer"
    PREFILL = "prefill"          # LLM serving: the prompt
    DECODE = "decode"            # LLM serving: one generated token


@dataclass(frozen=True)
class Tensor:
    """A named tensor: shape in elements and a dtype from BYTES_PER_ELEMENT; a compressed (pruned)
    tensor stores `density` of its elements plus `index_bits` of sparsity metadata per element."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "fp16"
    density: float = 1.0        # fraction of the elements stored (pruned weights)
    index_bits: float = 0.0     # metadata bits per element locating the stored ones

    @property
    def elements(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def bytes(self) -> float:
        """Size in bytes as stored: the kept elements at the tensor's dtype plus the metadata."""
        return self.elements * (self.density * BYTES_PER_ELEMENT[self.dtype] + self.index_bits / 8)


def expected_experts(tokens: int, experts: int, top_k: int) -> float:
    """Expected distinct experts that `tokens` tokens touch when each picks `top_k` of `experts`
    uniformly (balanced routing): E x (1 - (1 - k/E)^T)."""
    return experts * (1.0 - (1.0 - top_k / experts) ** tokens)


@dataclass(frozen=True)
class Gemm:
    """`count` independent (m x k) @ (k x n) products; P=m, K=k, N=n in SCALE-Sim terms."""

    m: int
    n: int
    k: int
    count: int = 1

    @property
    def macs(self) -> int:
        """Multiply-accumulates of all `count` products."""
        return self.m * self.n * self.k * self.count


@dataclass(frozen=True)
class Op:
    """One layer-level operation: its GEMM view (if any), its tensors and its scalar work."""

    name: str
    kind: OpKind
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]
    weights: tuple[Tensor, ...] = ()
    gemm: Gemm | None = None
    vector_flops: int = 0            # non-MAC arithmetic (activations, norms, softmax, updates)
    phase: Phase = Phase.FORWARD
    precision: str = "fp16"
    deps: tuple[str, ...] = ()       # names of ops whose outputs this op reads
    attrs: tuple[tuple[str, object], ...] = ()   # kind-specific details (kernel, stride, groups)

    @property
    def traits(self) -> OpTraits:
        """The traits of this op's kind."""
        return OP_TRAITS[self.kind]

    @property
    def macs(self) -> int:
        """Multiply-accumulates (0 for ops without a GEMM view)."""
        return self.gemm.macs if self.gemm else 0

    @property
    def flops(self) -> int:
        """FLOPs = 2 x MACs + vector FLOPs."""
        return 2 * self.macs + self.vector_flops

    @property
    def input_bytes(self) -> float:
        """Bytes of activation inputs."""
        return sum(t.bytes for t in self.inputs)

    @property
    def output_bytes(self) -> float:
        """Bytes of outputs."""
        return sum(t.bytes for t in self.outputs)

    @property
    def weight_fraction(self) -> float:
        """Weights read by one run of the op, as a multiple of their size: a MoE op reads the
        experts its tokens touch, an embedding the rows it gathers (repeats counted); others all."""
        if self.kind is OpKind.MOE:
            experts = int(self.attr("experts"))
            return expected_experts(int(self.attr("tokens")), experts, int(self.attr("top_k"))) / experts
        if self.kind is OpKind.EMBEDDING and self.weights and self.weights[0].elements:
            return sum(t.elements for t in self.outputs) / self.weights[0].elements
        return 1.0

    @property
    def weight_bytes(self) -> float:
        """Bytes of parameters read (see weight_fraction)."""
        return sum(t.bytes for t in self.weights) * self.weight_fraction

    @property
    def params(self) -> int:
        """Number of parameter elements."""
        return sum(t.elements for t in self.weights)

    def attr(self, key: str, default: object = None) -> object:
        """Look up a kind-specific attribute."""
        return dict(self.attrs).get(key, default)

    def with_(self, **changes) -> Op:
        """A copy with some fields changed."""
        return replace(self, **changes)


def pointwise(op: Op) -> bool:
    """Pointwise kinds and BatchNorm (its statistics fixed at inference): an output element needs
    only the same element of the inputs."""
    return op.traits.category is OpCategory.POINTWISE or (
        op.kind is OpKind.NORM and op.attr("norm") == "batchnorm")


@dataclass(frozen=True)
class Graph:
    """A network as ops in execution order, with the model's parameter count and metadata."""

    name: str
    ops: tuple[Op, ...]
    batch: int = 1
    meta: tuple[tuple[str, object], ...] = field(default=())

    @property
    def params(self) -> int:
        """Distinct parameters (tied weights counted once, by tensor name)."""
        seen: dict[str, int] = {}
        for op in self.ops:
            for w in op.weights:
                seen.setdefault(w.name, w.elements)
        return sum(seen.values())

    @property
    def param_bytes(self) -> float:
        """Bytes of distinct parameters at their dtype."""
        seen: dict[str, float] = {}
        for op in self.ops:
            for w in op.weights:
                seen.setdefault(w.name, w.bytes)
        return sum(seen.values())

    @property
    def macs(self) -> int:
        """Total multiply-accumulates."""
        return sum(op.macs for op in self.ops)

    @property
    def flops(self) -> int:
        """Total FLOPs."""
        return sum(op.flops for op in self.ops)

    def info(self, key: str, default: object = None) -> object:
        """Look up a metadata entry (e.g. 'family', 'seq_len', 'layers', 'hidden')."""
        return dict(self.meta).get(key, default)
