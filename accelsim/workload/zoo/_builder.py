"""NetBuilder: appends IR ops layer by layer, the way a network's forward pass reads."""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.errors import WorkloadError
from accelsim.workload.ir import Gemm, Graph, Op, OpKind, Tensor
from accelsim.workload.limits import MAX_OPS

# Vector FLOPs per output element of the non-GEMM ops; the one place these constants live.
# Pooling is not listed: it costs its window size (kernel_h * kernel_w) per output element.
VECTOR_FLOPS = {
    "relu": 1,       # max(x, 0)
    "relu6": 2,      # min(max(x, 0), 6)
    "add": 1,        # per input beyond the first
    "mul": 1,
    "scale": 1,      # attention 1/sqrt(head_dim), charged to the scores matmul
    "batchnorm": 2,  # inference: folded into one multiply-add
    "layernorm": 5,  # mean, variance, subtract, divide, affine
    "groupnorm": 5,  # the same per element, statistics over each group of channels
    "rmsnorm": 4,    # square, mean, divide, scale
    "softmax": 5,    # max, subtract, exp, sum, divide
    "gelu": 8,       # tanh approximation
    "silu": 4,       # x * sigmoid(x)
    "sigmoid": 3,
    "tanh": 5,
    "hardswish": 5,  # x * min(max(x + 3, 0), 6) / 6
    "bilinear": 7,   # upsampling: 4 neighbours weighted and summed
    "rope": 3,       # x * cos + rotate(x) * sin
    "combine": 2,    # MoE: multiply an expert's output by its routing weight, accumulate
}
ACTIVATIONS = ("relu", "relu6", "gelu", "silu", "sigmoid", "tanh")


@dataclass(frozen=True)
class Act:
    """An activation flowing between ops: its tensor and the name of the op that produced it."""

    tensor: Tensor
    producer: str | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape including the batch dimension."""
        return self.tensor.shape


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """(v, v) for an int, the tuple itself otherwise."""
    return (value, value) if isinstance(value, int) else tuple(value)


def conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution or pooling window (floor mode)."""
    return (size + 2 * padding - kernel) // stride + 1


class NetBuilder:
    """Collects ops in execution order; every op's tensors use the builder's precision."""

    def __init__(self, name: str, batch: int = 1, precision: str = "fp16"):
        self.name = name
        self.batch = batch
        self.precision = precision
        self._ops: list[Op] = []
        self._names: set[str] = set()
        self.scope = ""     # prefix of op names, not weight names: a repeated pass over the same weights

    # -- plumbing -------------------------------------------------------------------------------

    def input(self, shape: tuple[int, ...], name: str = "input", dtype: str | None = None) -> Act:
        """The graph input, shape including the batch dimension."""
        return Act(Tensor(name, tuple(shape), dtype or self.precision))

    def weight(self, name: str, shape: tuple[int, ...]) -> Tensor:
        """A parameter tensor at the builder's precision."""
        return Tensor(name, tuple(shape), self.precision)

    @staticmethod
    def view(x: Act, shape: tuple[int, ...], part: str = "") -> Act:
        """The same data seen with another shape (reshape, flatten) or a named slice of it."""
        name = f"{x.tensor.name}:{part}" if part else x.tensor.name
        return Act(Tensor(name, tuple(shape), x.tensor.dtype), x.producer)

    def emit(self, name: str, kind: OpKind, inputs: tuple[Act, ...], out_shape: tuple[int, ...],
             weights: tuple[Tensor, ...] = (), gemm: Gemm | None = None, vector_flops: int = 0,
             **attrs: object) -> Act:
        """Append one op reading `inputs` and return its output activation."""
        name = self.scope + name
        if name in self._names:
            raise WorkloadError("duplicate op name", key=name)
        if len(self._ops) >= MAX_OPS:
            raise WorkloadError(f"the network has more than {MAX_OPS} ops (the limit)", key=name)
        self._names.add(name)
        out = Tensor(f"{name}.out", tuple(out_shape), self.precision)
        deps = tuple(dict.fromkeys(x.producer for x in inputs if x.producer))
        self._ops.append(Op(name=name, kind=kind, inputs=tuple(x.tensor for x in inputs),
                            outputs=(out,), weights=weights, gemm=gemm, vector_flops=vector_flops,
                            precision=self.precision, deps=deps, attrs=tuple(attrs.items())))
        return Act(out, name)

    def graph(self, **meta: object) -> Graph:
        """The finished graph with its metadata (family, image_size, layers, hidden, ...)."""
        return Graph(self.name, tuple(self._ops), self.batch, tuple(meta.items()))

    # -- layers ---------------------------------------------------------------------------------

    def conv1d(self, name: str, x: Act, out_channels: int, kernel: int, stride: int = 1,
               padding: int = 0, bias: bool = False) -> Act:
        """1-D convolution on [B, C, L], costed as a conv2d with a 1 x kernel window over a 1 x L image."""
        if len(x.shape) != 3:
            raise WorkloadError(f"conv1d needs a [B, C, L] input, got {list(x.shape)}", key=name)
        b, cin, length = x.shape
        out = conv_out(length, kernel, stride, padding)
        if out < 1:
            raise WorkloadError(f"kernel {kernel} does not fit the length-{length} input", key=name)
        weights = (self.weight(f"{name}.weight", (out_channels, cin, kernel)),)
        if bias:
            weights += (self.weight(f"{name}.bias", (out_channels,)),)
        return self.emit(name, OpKind.CONV2D, (x,), (b, out_channels, out), weights,
                         Gemm(m=b * out, n=out_channels, k=kernel * cin), kernel=(1, kernel),
                         stride=stride, padding=(0, padding), groups=1, in_hw=(1, length),
                         out_hw=(1, out))

    def conv2d(self, name: str, x: Act, out_channels: int, kernel: int | tuple[int, int],
               stride: int = 1, padding: int = 0, groups: int = 1, bias: bool = False) -> Act:
        """2-D convolution on [B, C, H, W]; depthwise when groups == in channels."""
        if len(x.shape) != 4:
            raise WorkloadError(f"conv2d needs a [B, C, H, W] input, got {list(x.shape)}", key=name)
        b, cin, h, w = x.shape
        kh, kw = _pair(kernel)
        if cin % groups or out_channels % groups:
            raise WorkloadError(f"groups={groups} must divide in channels {cin} and out channels "
                                f"{out_channels}", key=name)
        ho, wo = conv_out(h, kh, stride, padding), conv_out(w, kw, stride, padding)
        if ho < 1 or wo < 1:
            raise WorkloadError(f"kernel {kh}x{kw} does not fit the {h}x{w} input", key=name)
        weights = (self.weight(f"{name}.weight", (out_channels, cin // groups, kh, kw)),)
        if bias:
            weights += (self.weight(f"{name}.bias", (out_channels,)),)
        gemm = Gemm(m=b * ho * wo, n=out_channels // groups, k=kh * kw * cin // groups, count=groups)
        return self.emit(name, OpKind.CONV2D, (x,), (b, out_channels, ho, wo), weights, gemm,
                         kernel=(kh, kw), stride=stride, padding=padding, groups=groups,
                         in_hw=(h, w), out_hw=(ho, wo))

    def linear(self, name: str, x: Act, out_features: int, bias: bool = True,
               weight: Tensor | None = None) -> Act:
        """Fully connected layer on the last dimension; `weight` ties it to an existing tensor."""
        in_features = x.shape[-1]
        w = weight or self.weight(f"{name}.weight", (out_features, in_features))
        if w.shape != (out_features, in_features):
            raise WorkloadError(f"tied weight {w.name} has shape {list(w.shape)}, "
                                f"need {[out_features, in_features]}", key=name)
        weights = (w, self.weight(f"{name}.bias", (out_features,))) if bias else (w,)
        tokens = math.prod(x.shape[:-1])
        return self.emit(name, OpKind.MATMUL, (x,), (*x.shape[:-1], out_features), weights,
                         Gemm(m=tokens, n=out_features, k=in_features))

    def matmul(self, name: str, a: Act, b: Act, out_shape: tuple[int, ...], gemm: Gemm,
               vector_flops: int = 0) -> Act:
        """A batched product of two activations (attention scores and context), no weights."""
        return self.emit(name, OpKind.MATMUL, (a, b), out_shape, gemm=gemm, vector_flops=vector_flops)

    def batchnorm(self, name: str, x: Act) -> Act:
        """Batch normalization over channel dim 1 (gamma, beta; running stats are buffers)."""
        c = x.shape[1]
        weights = (self.weight(f"{name}.weight", (c,)), self.weight(f"{name}.bias", (c,)))
        return self.emit(name, OpKind.NORM, (x,), x.shape, weights,
                         vector_flops=VECTOR_FLOPS["batchnorm"] * x.tensor.elements, norm="batchnorm")

    def norm(self, name: str, x: Act, kind: str = "layernorm") -> Act:
        """LayerNorm (gamma, beta) or RMSNorm (gamma) over the last dimension."""
        d = x.shape[-1]
        weights = (self.weight(f"{name}.weight", (d,)),)
        if kind == "layernorm":
            weights += (self.weight(f"{name}.bias", (d,)),)
        return self.emit(name, OpKind.NORM, (x,), x.shape, weights,
                         vector_flops=VECTOR_FLOPS[kind] * x.tensor.elements, norm=kind)

    def groupnorm(self, name: str, x: Act, groups: int) -> Act:
        """GroupNorm over channel dim 1 in `groups` groups, with a per-channel scale and shift."""
        c = x.shape[1]
        if c % groups:
            raise WorkloadError(f"{groups} groups must divide {c} channels", key=name)
        weights = (self.weight(f"{name}.weight", (c,)), self.weight(f"{name}.bias", (c,)))
        return self.emit(name, OpKind.NORM, (x,), x.shape, weights,
                         vector_flops=VECTOR_FLOPS["groupnorm"] * x.tensor.elements, norm="groupnorm",
                         groups=groups)

    def concat(self, name: str, *xs: Act, axis: int = 1) -> Act:
        """Concatenation along `axis` (a copy, no arithmetic)."""
        shape = list(xs[0].shape)
        if any(len(x.shape) != len(shape) or x.shape[:axis] + x.shape[axis + 1:] !=
               tuple(shape[:axis] + shape[axis + 1:]) for x in xs):
            raise WorkloadError(f"cannot concatenate {[list(x.shape) for x in xs]} on axis {axis}",
                                key=name)
        shape[axis] = sum(x.shape[axis] for x in xs)
        return self.emit(name, OpKind.ELEMENTWISE, xs, tuple(shape), fn="concat")

    def upsample(self, name: str, x: Act, factor: int = 2, bilinear: bool = False) -> Act:
        """Nearest-neighbour (a copy, no arithmetic) or bilinear upsampling of [B, C, H, W]."""
        b, c, h, w = x.shape
        out = (b, c, h * factor, w * factor)
        flops = VECTOR_FLOPS["bilinear"] * math.prod(out) if bilinear else 0
        return self.emit(name, OpKind.ELEMENTWISE, (x,), out, vector_flops=flops, fn="upsample",
                         factor=factor)

    def conv_transpose2d(self, name: str, x: Act, out_channels: int, kernel: int) -> Act:
        """Transposed convolution with stride = kernel (windows do not overlap), with a bias: each
        input pixel spreads into a kernel x kernel block, one GEMM of in -> out x kernel^2."""
        b, cin, h, w = x.shape
        weights = (self.weight(f"{name}.weight", (cin, out_channels, kernel, kernel)),
                   self.weight(f"{name}.bias", (out_channels,)))
        return self.emit(name, OpKind.CONV2D, (x,), (b, out_channels, h * kernel, w * kernel), weights,
                         Gemm(m=b * h * w, n=out_channels * kernel * kernel, k=cin), kernel=(1, 1),
                         stride=1, padding=0, groups=1, in_hw=(h, w), out_hw=(h, w))

    def moe(self, name: str, x: Act, experts: int, top_k: int, ffn: int, act: str = "silu") -> Act:
        """Mixture-of-experts gated MLP on [..., D]: a router (linear + softmax) picks `top_k` of
        `experts` experts per token; each expert is down(act(gate(x)) * up(x)) with no biases, and
        the outputs are combined with the routing weights."""
        hidden = x.shape[-1]
        if not 1 <= top_k <= experts:
            raise WorkloadError(f"top_k={top_k} must be between 1 and experts={experts}", key=name)
        probs = self.softmax(f"{name}.router_softmax",
                             self.linear(f"{name}.router", x, experts, bias=False))
        tokens = x.tensor.elements // hidden
        routed = tokens * top_k
        weights = (self.weight(f"{name}.gate", (experts, ffn, hidden)),
                   self.weight(f"{name}.up", (experts, ffn, hidden)),
                   self.weight(f"{name}.down", (experts, hidden, ffn)))
        vector = routed * ffn * (VECTOR_FLOPS[act] + VECTOR_FLOPS["mul"]) + \
            routed * hidden * VECTOR_FLOPS["combine"]
        # gate, up and down: three GEMMs of routed x ffn x hidden MACs over the tokens sent to each expert
        return self.emit(name, OpKind.MOE, (x, probs), x.shape, weights,
                         Gemm(m=routed, n=ffn, k=hidden, count=3), vector, experts=experts,
                         top_k=top_k, tokens=tokens, ffn=ffn, fn=act)

    def activation(self, name: str, x: Act, fn: str) -> Act:
        """Elementwise function from VECTOR_FLOPS (relu, gelu, silu, rope, ...)."""
        return self.emit(name, OpKind.ELEMENTWISE, (x,), x.shape,
                         vector_flops=VECTOR_FLOPS[fn] * x.tensor.elements, fn=fn)

    def add(self, name: str, x: Act, *others: Act) -> Act:
        """Elementwise sum (residual connection); the others may broadcast into x's shape."""
        flops = VECTOR_FLOPS["add"] * len(others) * x.tensor.elements
        return self.emit(name, OpKind.ELEMENTWISE, (x, *others), x.shape, vector_flops=flops, fn="add")

    def mul(self, name: str, x: Act, y: Act) -> Act:
        """Elementwise product (gated MLP)."""
        return self.emit(name, OpKind.ELEMENTWISE, (x, y), x.shape,
                         vector_flops=VECTOR_FLOPS["mul"] * x.tensor.elements, fn="mul")

    def softmax(self, name: str, x: Act) -> Act:
        """Softmax over the last dimension."""
        return self.emit(name, OpKind.SOFTMAX, (x,), x.shape,
                         vector_flops=VECTOR_FLOPS["softmax"] * x.tensor.elements)

    def pool(self, name: str, x: Act, mode: str, kernel: int, stride: int | None = None,
             padding: int = 0) -> Act:
        """Max or average pooling with a square window."""
        if len(x.shape) != 4:
            raise WorkloadError(f"{mode}pool needs a [B, C, H, W] input, got {list(x.shape)}", key=name)
        b, c, h, w = x.shape
        stride = stride or kernel
        ho, wo = conv_out(h, kernel, stride, padding), conv_out(w, kernel, stride, padding)
        if ho < 1 or wo < 1:
            raise WorkloadError(f"window {kernel}x{kernel} does not fit the {h}x{w} input", key=name)
        return self.emit(name, OpKind.POOL, (x,), (b, c, ho, wo),
                         vector_flops=kernel * kernel * b * c * ho * wo, mode=mode,
                         kernel=(kernel, kernel), stride=stride, padding=padding)

    def adaptive_pool(self, name: str, x: Act, out_hw: tuple[int, int] = (1, 1),
                      mode: str = "avg") -> Act:
        """Adaptive (global when out_hw == (1, 1)) pooling to a fixed output size."""
        b, c, h, w = x.shape
        window = math.ceil(h / out_hw[0]) * math.ceil(w / out_hw[1])
        return self.emit(name, OpKind.POOL, (x,), (b, c, *out_hw),
                         vector_flops=window * b * c * out_hw[0] * out_hw[1], mode=mode,
                         in_hw=(h, w), out_hw=tuple(out_hw))

    def embedding(self, name: str, ids: Act, num_embeddings: int, dim: int, sparse: bool = False) -> Act:
        """Table lookup: reads only the gathered rows, which are the output; a `sparse` table's
        gradient and update cover only those rows (else the whole table, PyTorch's default)."""
        table = self.weight(f"{name}.weight", (num_embeddings, dim))
        attrs = {"sparse": True} if sparse else {}
        return self.emit(name, OpKind.EMBEDDING, (ids,), (*ids.shape, dim), (table,), **attrs)

    def table(self, name: str) -> Tensor:
        """The weight table of an earlier embedding op (for tied output projections)."""
        return next(op.weights[0] for op in self._ops if op.name == name)
