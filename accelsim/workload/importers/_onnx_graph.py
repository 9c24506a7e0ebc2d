"""Preparing an ONNX model for import: load it, size its inputs, order its nodes, resolve all shapes.

ONNX shape inference alone leaves shapes unknown behind the shape arithmetic exporters emit
(Shape -> Gather -> Concat -> Reshape, ConstantOfShape -> Equal -> Where -> Expand). Once the inputs
have fixed sizes, that arithmetic is constant: nodes whose inputs are all known non-weight constants
(integers, booleans, float scalars) or whose output is a Shape/Size of a known shape are evaluated with
onnx.reference, replaced by initializers, and inference runs again, until nothing more is learned.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from accelsim.errors import WorkloadError, did_you_mean
from accelsim.files import file_size
from accelsim.workload.limits import MAX_OPS

FLOAT_TYPES = ("FLOAT", "FLOAT16", "BFLOAT16", "DOUBLE", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
               "FLOAT8E5M2FNUZ")


@dataclass(frozen=True)
class Prepared:
    """An ONNX model ready to walk: nodes in order, shapes inferred."""

    model: object                    # onnx.ModelProto
    inputs: tuple[str, ...]          # graph inputs that are not initializers
    batch: int                       # axis 0 of the first input
    folded: frozenset[str]           # initializers computed from shape arithmetic (never weights)


def _is_weight(tensor, onnx) -> bool:
    """A float tensor of more than one element: a parameter, never evaluated here."""
    return onnx.TensorProto.DataType.Name(tensor.data_type) in FLOAT_TYPES and math.prod(tensor.dims) > 1


def _topological(nodes: list, available: set[str], file: str) -> list:
    """Nodes in an order where each reads only what is already available (file order if valid)."""
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    waiting, readers = [0] * len(nodes), [[] for _ in nodes]
    for i, node in enumerate(nodes):
        for name in dict.fromkeys(node.input):
            if name and name not in available:
                if name not in producer:
                    raise WorkloadError(f"reads tensor {name!r}, which no node, graph input or "
                                        f"initializer provides", file=file,
                                        key=f"node {node.name or node.op_type!r} (op {node.op_type})")
                waiting[i] += 1
                readers[producer[name]].append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for j in readers[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) < len(nodes):
        raise WorkloadError("the graph has a cycle", file=file)
    return order


def _fix_inputs(inputs: list, batch: int, dims: dict[str, int], file: str) -> int:
    """Give every dynamic input axis a size (axis 0: batch; others: dims by name); the graph's batch."""
    named = sorted({dim.dim_param for info in inputs for dim in info.type.tensor_type.shape.dim
                    if dim.dim_value <= 0 and dim.dim_param})
    for key in dims:
        if key not in named:
            raise WorkloadError(f"the model has no dynamic axis named {key!r}"
                                f"{did_you_mean(key, named)}; it has: {', '.join(named) or 'none'}",
                                file=file, key=key)
    for info in inputs:
        for axis, dim in enumerate(info.type.tensor_type.shape.dim):
            where = f"input {info.name!r} axis {axis}"
            if dim.dim_value > 0:
                if axis == 0 and batch > 1 and dim.dim_value != batch:
                    raise WorkloadError(f"{where} has a fixed batch of {dim.dim_value}; export the "
                                        f"model with a dynamic batch axis to run batch {batch}",
                                        file=file, key="batch")
            elif dim.dim_param in dims:
                dim.dim_value = dims[dim.dim_param]
            elif axis == 0:
                dim.dim_value = batch
            else:
                label = f"'{dim.dim_param}'" if dim.dim_param else "an unnamed size"
                raise WorkloadError(f"{where} is dynamic ({label}); give its size in dims",
                                    file=file, key=dim.dim_param or "dims")
    first = inputs[0].type.tensor_type.shape.dim if inputs else ()
    return first[0].dim_value if first else 1


def _infer(model, onnx, file: str):
    """ONNX shape inference with data propagation."""
    try:
        return onnx.shape_inference.infer_shapes(model, data_prop=True)
    except onnx.shape_inference.InferenceError as exc:
        raise WorkloadError(f"ONNX shape inference failed: {exc}", file=file) from None


def tensor_types(graph) -> dict[str, tuple[tuple[int, ...] | None, int]]:
    """(shape if every dimension is known, else None; ONNX element type) of each typed tensor."""
    types = {}
    for info in (*graph.input, *graph.value_info, *graph.output):
        tensor_type = info.type.tensor_type
        dims = tuple(d.dim_value for d in tensor_type.shape.dim)
        known = tensor_type.HasField("shape") and all(d > 0 for d in dims)
        types[info.name] = (dims if known else None, tensor_type.elem_type)
    return types


def _run(node, inputs: dict, opsets, onnx) -> list | None:
    """A node's outputs from the reference runtime, at the model's opsets (None if it cannot run)."""
    graph = onnx.helper.make_graph([node], "node", [onnx.ValueInfoProto(name=name) for name in inputs],
                                   [onnx.ValueInfoProto(name=name) for name in node.output])
    try:
        values = onnx.reference.ReferenceEvaluator(
            onnx.helper.make_model(graph, opset_imports=opsets)).run(None, inputs)
    except Exception:   # an op the reference runtime lacks: leave the node for the importer
        return None
    return values if len(values) == len(node.output) else None


def _evaluate(node, known: dict, shapes: dict, opsets, onnx) -> list | None:
    """The output values of a node computable now, or None."""
    if node.domain not in ("", "ai.onnx") or any(a.g.node or a.graphs for a in node.attribute):
        return None
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type in ("Shape", "Size"):
        if node.input[0] not in shapes:
            return None
        shape = np.array(shapes[node.input[0]], np.int64)
        if node.op_type == "Size":
            return [np.array(shape.prod(), np.int64)]
        return [shape[attrs.get("start", 0):attrs.get("end", len(shape))]]
    if node.op_type == "Constant" and isinstance(attrs.get("value"), onnx.TensorProto) and \
            _is_weight(attrs["value"], onnx):
        return None
    if (not node.input and node.op_type != "Constant") or any(
            name and name not in known for name in node.input):
        return None
    return _run(node, {name: known[name] for name in node.input if name}, opsets, onnx)


def _resolve_shapes(model, onnx, file: str) -> tuple[object, frozenset[str]]:
    """Infer shapes, evaluating constant shape arithmetic between rounds; (model, evaluated names)."""
    import onnx.reference  # noqa: F401  (the submodule is not loaded by `import onnx`)

    known = {init.name: onnx.numpy_helper.to_array(init) for init in model.graph.initializer
             if not _is_weight(init, onnx) and init.data_location != onnx.TensorProto.EXTERNAL}
    folded: set[str] = set()
    while True:
        model = _infer(model, onnx, file)
        shapes = {name: shape for name, (shape, _) in tensor_types(model.graph).items() if shape}
        keep, new = [], []
        for node in model.graph.node:
            values = _evaluate(node, known, shapes, model.opset_import, onnx)
            if values is None:
                keep.append(node)
                continue
            for name, value in zip(node.output, values):
                known[name] = np.asarray(value)
                new.append(onnx.numpy_helper.from_array(known[name], name))
        if not new:
            return model, frozenset(folded)
        folded.update(init.name for init in new)
        del model.graph.value_info[:]     # inference keeps stale symbolic dims it is handed
        del model.graph.node[:]
        model.graph.node.extend(keep)
        model.graph.initializer.extend(new)


def prepare(path, batch: int, dims: dict[str, int], onnx) -> Prepared:
    """Load `path` (weights' external data not read) and resolve every shape it can."""
    from google.protobuf.message import DecodeError

    file = str(path)
    file_size(path, file, WorkloadError)     # a regular file: never block on a FIFO or a device
    try:
        model = onnx.load(path, load_external_data=False)
    except OSError as exc:
        raise WorkloadError(f"cannot read ONNX model: {exc.strerror}", file=file) from None
    except DecodeError:
        raise WorkloadError("not an ONNX model (protobuf decode failed)", file=file) from None
    if len(model.graph.node) > MAX_OPS:
        raise WorkloadError(f"the model has {len(model.graph.node)} nodes, more than the limit of "
                            f"{MAX_OPS}", file=file)
    for init in model.graph.initializer:
        if _is_weight(init, onnx):    # only dims and types matter here: drop the bytes, copied by inference
            for field in ("raw_data", "float_data", "double_data", "int32_data"):
                init.ClearField(field)
    initializers = {init.name for init in model.graph.initializer}
    inputs = [info for info in model.graph.input if info.name not in initializers]
    batch = _fix_inputs(inputs, batch, dims, file)
    order = _topological(list(model.graph.node), {*initializers, *(i.name for i in inputs)}, file)
    del model.graph.node[:]
    model.graph.node.extend(order)    # shape inference reads nodes in file order
    model, folded = _resolve_shapes(model, onnx, file)
    return Prepared(model, tuple(i.name for i in inputs), batch, folded)
