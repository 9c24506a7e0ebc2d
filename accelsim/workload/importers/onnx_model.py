"""ONNX models -> IR Graph: one IR op per compute node, in topological order.

Shapes come from ONNX shape inference once the dynamic input axes have sizes, with the exporter's
constant shape arithmetic evaluated in between (see _onnx_graph.py); weights' bytes are never read.

Compute nodes and their IR ops (per-element vector FLOPs from zoo._builder.VECTOR_FLOPS):
    Conv                      CONV2D, Gemm(m=B*prod(out spatial), n=Cout/g, k=prod(kernel)*Cin/g, count=g)
    Gemm, MatMul              MATMUL; a 2-D right operand is a linear layer (m = all leading dims),
                              otherwise a batched product (count = product of the broadcast batch dims)
    Add, Mul, Relu, Erf, ...  ELEMENTWISE (see ELEMENTWISE; 1 FLOP per output element if no zoo cost)
    ReduceMean/Sum/Max/Min    ELEMENTWISE, 1 FLOP per input element
    BatchNormalization, LayerNormalization, RMSNormalization    NORM
    Softmax, LogSoftmax       SOFTMAX
    MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool      POOL (window size per output element)
    Gather on a weight        EMBEDDING
Shape-only nodes (SHAPE_ONLY, and Gather of activations or of integer constants) are dropped: their
outputs are views "storage:tensor" of the activation they read, so ops after them depend on its producer.
A node whose inputs are all constants is folded away (its outputs are constants), except an embedding.

Parameters are the float initializers (and Constant node values) with more than one element that reach
a compute node, directly or through shape-only nodes; BatchNormalization's running mean and variance are
buffers, not parameters (as in PyTorch). They are what the file holds: a tied weight the exporter stored
twice (PyTorch keeps a transposed copy of GPT-2's wte for the LM head) counts twice, and a BatchNorm the
exporter folded into its convolution leaves only a conv bias. Dtypes come from the ONNX element
types, 64-bit integers counted as int32 and bool as int8 (the IR has neither); `precision` overrides
every floating-point type.
The batch: axis 0 of a graph input with a dynamic (named or unknown) size takes `batch`; a fixed axis 0
keeps its size, and asking for another batch (> 1) is an error. Other dynamic axes take their size from
`dims` by name, e.g. dims={"sequence": 128}. The graph's meta is family "onnx" and the opset; which
axis is a sequence is unknown, so there is no seq_len (throughput counts samples, not tokens).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accelsim.errors import WorkloadError
from accelsim.workload import zoo
from accelsim.workload.importers._onnx_graph import Prepared, prepare, tensor_types
from accelsim.workload.ir import Gemm, Graph, Op, OpKind, Tensor
from accelsim.workload.trace import storage
from accelsim.workload.zoo._builder import VECTOR_FLOPS

DTYPES = {"FLOAT": "fp32", "FLOAT16": "fp16", "BFLOAT16": "bf16", "DOUBLE": "fp64",
          "FLOAT8E4M3FN": "fp8", "FLOAT8E4M3FNUZ": "fp8", "FLOAT8E5M2": "fp8", "FLOAT8E5M2FNUZ": "fp8",
          "INT8": "int8", "UINT8": "int8", "BOOL": "int8", "INT16": "int16", "UINT16": "int16",
          "INT32": "int32", "UINT32": "int32", "INT64": "int32", "UINT64": "int32",
          "INT4": "int4", "UINT4": "int4", "FLOAT4E2M1": "fp4"}
FLOAT_DTYPES = ("fp64", "fp32", "tf32", "fp16", "bf16", "fp8", "fp4")
SHAPE_ONLY = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Identity", "Cast",
              "CastLike", "Slice", "Split", "Dropout", "Expand", "Tile", "Pad", "ConstantOfShape", "Range")
CONSTANTS = ("Constant", "Shape", "Size")   # their outputs are known before the model runs
ELEMENTWISE = {   # ONNX op -> (fn attr, vector FLOPs per output element)
    "Add": ("add", VECTOR_FLOPS["add"]), "Sub": ("sub", VECTOR_FLOPS["add"]),
    "Mul": ("mul", VECTOR_FLOPS["mul"]), "Div": ("div", VECTOR_FLOPS["mul"]),
    "Relu": ("relu", VECTOR_FLOPS["relu"]), "Sigmoid": ("sigmoid", VECTOR_FLOPS["sigmoid"]),
    "Tanh": ("tanh", VECTOR_FLOPS["tanh"]), "Gelu": ("gelu", VECTOR_FLOPS["gelu"]),
    "Clip": ("clip", VECTOR_FLOPS["relu6"]),     # a min and a max, as relu6
    **{op: (op.lower(), 1) for op in ("Erf", "Exp", "Log", "Sqrt", "Pow", "Reciprocal", "Neg", "Abs",
                                      "LeakyRelu", "PRelu", "Elu", "HardSigmoid", "HardSwish",
                                      "Softplus", "Max", "Min", "Sum", "Where", "Equal", "Less",
                                      "Greater", "Not", "Sin", "Cos")},
}
REDUCE = ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")
NORMS = {"BatchNormalization": "batchnorm", "LayerNormalization": "layernorm",
         "RMSNormalization": "rmsnorm"}
POOLS = {"MaxPool": "max", "AveragePool": "avg", "GlobalMaxPool": "max", "GlobalAveragePool": "avg"}
WEIGHT_INPUTS = {"BatchNormalization": (1, 2)}   # input slots holding parameters, where not all do


@dataclass(frozen=True)
class _Node:
    """An ONNX node with its attributes decoded and a unique IR op name."""

    name: str
    op_type: str
    inputs: tuple[str, ...]          # "" marks an omitted optional input
    outputs: tuple[str, ...]
    attrs: dict


@dataclass(frozen=True)
class _Value:
    """What an ONNX tensor is here: an activation stored in `storage` (None for a constant)."""

    storage: str | None
    producers: tuple[str, ...] = ()      # IR ops whose outputs flow into it
    weights: tuple[Tensor, ...] = ()     # parameters that reach it through shape-only nodes


def _union(groups) -> tuple:
    """Concatenation of tuples without repeats, in first-seen order."""
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _ir_name(name: str) -> str:
    """An ONNX tensor name usable in the IR, where ':' marks a view."""
    return name.replace(":", "_")


class _Importer:
    """Walks an inferred ONNX graph and collects IR ops; errors name the file and the node."""

    def __init__(self, file: str, prepared: Prepared, precision: str | None, onnx):
        self.file, self.precision = file, precision
        graph = prepared.model.graph
        self.types = tensor_types(graph)       # name -> (shape or None, ONNX element type)
        self.values: dict[str, _Value] = {"": _Value(None)}
        self.ops: list[Op] = []
        self.type_name = onnx.TensorProto.DataType.Name
        self.tensor_proto = onnx.TensorProto
        for init in graph.initializer:
            self.values[init.name] = _Value(None) if init.name in prepared.folded else \
                self.constant(init.name, init)
        for name in prepared.inputs:
            self.values[name] = _Value(_ir_name(name))

    def is_float(self, elem_type: int) -> bool:
        """Whether an ONNX element type is a floating-point type."""
        return DTYPES.get(self.type_name(elem_type)) in FLOAT_DTYPES

    def dtype(self, elem_type: int) -> str:
        """The IR dtype of an ONNX element type, floats overridden by `precision`."""
        if self.precision and self.is_float(elem_type):
            return self.precision
        return DTYPES.get(self.type_name(elem_type), "fp32")

    def fail(self, node: _Node, message: str) -> WorkloadError:
        """An error naming the file and the node."""
        return WorkloadError(message, file=self.file, key=f"node {node.name!r} (op {node.op_type})")

    def constant(self, name: str, proto=None) -> _Value:
        """A constant (its TensorProto, if any, gives its type): a parameter if it is a float array."""
        if isinstance(proto, self.tensor_proto):
            self.types[name] = (tuple(proto.dims), proto.data_type)
        shape, elem_type = self.types.get(name, (None, 0))
        if shape is None or not self.is_float(elem_type) or math.prod(shape) <= 1:
            return _Value(None)
        return _Value(None, weights=(Tensor(_ir_name(name), shape, self.dtype(elem_type)),))

    def shape(self, node: _Node, name: str) -> tuple[int, ...]:
        """The fully known shape of ONNX tensor `name` that `node` reads or writes."""
        shape = self.types.get(name, (None, 0))[0]
        if shape is None:
            raise self.fail(node, f"cannot infer the shape of tensor {name!r}; export with static "
                                  f"shapes or give its dynamic axes in dims")
        return shape

    def tensor(self, node: _Node, name: str, stored_in: str | None = None) -> Tensor:
        """The IR tensor of ONNX tensor `name`, stored in `stored_in` (default: its value's storage)."""
        shape = self.shape(node, name)
        return Tensor(stored_in or self.values[name].storage, shape, self.dtype(self.types[name][1]))

    # -- nodes --------------------------------------------------------------------------------------

    def visit(self, node: _Node) -> None:
        """Turn one node into an IR op, a view, or a constant."""
        handler = HANDLERS.get(node.op_type)
        if handler is None:
            raise self.fail(node, "unsupported ONNX op")
        ins = [self.values[name] for name in node.inputs]
        embedding = node.op_type == "Gather" and ins[0].weights
        if node.op_type not in CONSTANTS and all(v.storage is None for v in ins) and not embedding:
            handler = _Importer.fold
        handler(self, node)

    def fold(self, node: _Node) -> None:
        """A node of constants (shape arithmetic, a transposed weight): its outputs are constants."""
        weights = _union(self.values[name].weights for name in node.inputs)
        for out in node.outputs:
            self.values[out] = _Value(None, weights=weights)

    def known(self, node: _Node) -> None:
        """Constant, Shape, Size: an output known before the model runs (a Constant may be a weight)."""
        self.values[node.outputs[0]] = self.constant(node.outputs[0], node.attrs.get("value"))

    def view(self, node: _Node) -> None:
        """A shape-only node: every output is a view of the first activation input."""
        ins = [self.values[name] for name in node.inputs]
        source = next(v for v in ins if v.storage is not None)
        for out in node.outputs:
            self.values[out] = _Value(f"{storage(source.storage)}:{_ir_name(out)}",
                                      _union(v.producers for v in ins), _union(v.weights for v in ins))

    def emit(self, node: _Node, kind: OpKind, gemm: Gemm | None = None, vector_flops: int = 0,
             **attrs: object) -> None:
        """Append the IR op of a compute node; its outputs become activations it produces."""
        slots = WEIGHT_INPUTS.get(node.op_type, range(len(node.inputs)))
        ins = [self.values[name] for name in node.inputs]
        out = self.tensor(node, node.outputs[0], _ir_name(node.outputs[0]))
        self.ops.append(Op(
            name=node.name, kind=kind, precision=out.dtype, gemm=gemm, vector_flops=vector_flops,
            inputs=tuple(self.tensor(node, name) for name, v in zip(node.inputs, ins) if v.storage),
            outputs=(out,), weights=_union(ins[i].weights for i in slots if i < len(ins)),
            deps=_union(v.producers for v in ins), attrs=tuple(attrs.items())))
        for name in node.outputs:
            self.values[name] = _Value(_ir_name(name), (node.name,))

    def elements(self, node: _Node, name: str) -> int:
        """Element count of ONNX tensor `name`."""
        return math.prod(self.shape(node, name))


def _conv(im: _Importer, node: _Node) -> None:
    """Convolution as `group` GEMMs over the output pixels."""
    w, y = im.shape(node, node.inputs[1]), im.shape(node, node.outputs[0])
    groups, kernel = node.attrs.get("group", 1), w[2:]
    channels = im.shape(node, node.inputs[0])[1]
    if w[1] * groups != channels or w[0] % groups:
        raise im.fail(node, f"weight {list(w)} with group={groups} does not fit an input of "
                            f"{channels} channels")
    gemm = Gemm(m=y[0] * math.prod(y[2:]), n=w[0] // groups, k=w[1] * math.prod(kernel), count=groups)
    spatial = len(kernel)
    im.emit(node, OpKind.CONV2D, gemm, kernel=tuple(kernel), groups=groups,
            stride=tuple(node.attrs.get("strides", (1,) * spatial)),
            padding=tuple(node.attrs.get("pads", (0,) * 2 * spatial)),
            dilation=tuple(node.attrs.get("dilations", (1,) * spatial)),
            in_hw=im.shape(node, node.inputs[0])[2:], out_hw=y[2:])


def _check_inner(im: _Importer, node: _Node, k: int, inner: int) -> None:
    """The shared dimension of a product must agree on both operands."""
    if k != inner:
        raise im.fail(node, f"inner dimensions differ: {k} and {inner}")


def _matmul(im: _Importer, node: _Node) -> None:
    """numpy-style matmul: a linear layer when the right operand is 2-D, else a batched product."""
    a, b = im.shape(node, node.inputs[0]), im.shape(node, node.inputs[1])
    k, n = a[-1], b[-1] if len(b) > 1 else 1
    _check_inner(im, node, k, b[-2] if len(b) > 1 else b[0])
    if len(b) <= 2:
        gemm = Gemm(m=math.prod(a[:-1]), n=n, k=k)
    else:
        batch = np.broadcast_shapes(a[:-2], b[:-2])
        gemm = Gemm(m=a[-2] if len(a) > 1 else 1, n=n, k=k, count=math.prod(batch))
    im.emit(node, OpKind.MATMUL, gemm)


def _gemm(im: _Importer, node: _Node) -> None:
    """ONNX Gemm: op(A) @ op(B) (+ C), op a transpose when transA/transB is set."""
    a, b = im.shape(node, node.inputs[0]), im.shape(node, node.inputs[1])
    m, k = (a[1], a[0]) if node.attrs.get("transA") else a
    n, inner = (b[0], b[1]) if node.attrs.get("transB") else (b[1], b[0])
    _check_inner(im, node, k, inner)
    im.emit(node, OpKind.MATMUL, Gemm(m=m, n=n, k=k))


def _elementwise(im: _Importer, node: _Node) -> None:
    """Pointwise arithmetic: a fixed cost per output element."""
    fn, per_element = ELEMENTWISE[node.op_type]
    im.emit(node, OpKind.ELEMENTWISE, vector_flops=per_element * im.elements(node, node.outputs[0]),
            fn=fn)


def _reduce(im: _Importer, node: _Node) -> None:
    """A reduction: one FLOP per input element."""
    im.emit(node, OpKind.ELEMENTWISE, vector_flops=im.elements(node, node.inputs[0]), fn="reduce")


def _norm(im: _Importer, node: _Node) -> None:
    """Batch, layer or RMS normalization."""
    norm = NORMS[node.op_type]
    im.emit(node, OpKind.NORM, vector_flops=VECTOR_FLOPS[norm] * im.elements(node, node.outputs[0]),
            norm=norm)


def _softmax(im: _Importer, node: _Node) -> None:
    """Softmax (or log-softmax) along one axis."""
    im.emit(node, OpKind.SOFTMAX,
            vector_flops=VECTOR_FLOPS["softmax"] * im.elements(node, node.outputs[0]))


def _pool(im: _Importer, node: _Node) -> None:
    """Windowed or global pooling: one FLOP per window element per output."""
    x = im.shape(node, node.inputs[0])
    if "kernel_shape" in node.attrs:
        kernel = tuple(node.attrs["kernel_shape"])
        attrs = {"stride": tuple(node.attrs.get("strides", (1,) * len(kernel))),
                 "padding": tuple(node.attrs.get("pads", (0,) * 2 * len(kernel)))}
    else:
        kernel = x[2:]
        attrs = {"in_hw": kernel, "out_hw": (1,) * len(kernel)}
    im.emit(node, OpKind.POOL, vector_flops=math.prod(kernel) * im.elements(node, node.outputs[0]),
            mode=POOLS[node.op_type], kernel=kernel, **attrs)


def _gather(im: _Importer, node: _Node) -> None:
    """A lookup in a weight table is an embedding; any other gather is a view of its activation."""
    if im.values[node.inputs[0]].weights:
        im.emit(node, OpKind.EMBEDDING)
    else:
        im.view(node)


HANDLERS = {
    "Conv": _conv, "MatMul": _matmul, "Gemm": _gemm, "Gather": _gather,
    **{op: _elementwise for op in ELEMENTWISE}, **{op: _reduce for op in REDUCE},
    **{op: _norm for op in NORMS}, **{op: _pool for op in POOLS},
    "Softmax": _softmax, "LogSoftmax": _softmax,
    **{op: _Importer.view for op in SHAPE_ONLY}, **{op: _Importer.known for op in CONSTANTS},
}


def _nodes(graph, onnx) -> list[_Node]:
    """The graph's nodes with decoded attributes and unique names (op_type_index if unnamed)."""
    nodes, seen = [], set()
    for i, node in enumerate(graph.node):
        name = node.name or f"{node.op_type}_{i}"
        name = f"{name}_{i}" if name in seen else name
        seen.add(name)
        op_type = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        nodes.append(_Node(name, op_type, tuple(node.input), tuple(node.output), attrs))
    return nodes


def import_onnx(path: str | Path, *, batch: int = 1, precision: str | None = None,
                dims: dict[str, int] | None = None) -> Graph:
    """Read an ONNX model into a Graph (mapping in this module's docstring); needs `onnx` installed."""
    path, file = Path(path), str(path)
    try:
        import onnx
    except ImportError:
        raise WorkloadError("ONNX import needs the onnx package: pip install accelsim[onnx]",
                            file=file) from None
    zoo.check_positive("batch", batch)
    if precision is not None:
        zoo.check_precision(precision)
    for key, size in (dims or {}).items():
        zoo.check_positive(key, size)
    prepared = prepare(path, batch, dims or {}, onnx)
    importer = _Importer(file, prepared, precision, onnx)
    for node in _nodes(prepared.model.graph, onnx):
        importer.visit(node)
    opset = next((o.version for o in prepared.model.opset_import if o.domain in ("", "ai.onnx")), 0)
    return Graph(path.stem, tuple(importer.ops), prepared.batch, (("family", "onnx"), ("opset", opset)))
