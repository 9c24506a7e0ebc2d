"""ONNX import: small models built with onnx.helper, checked against closed forms and the zoo builders."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest

from accelsim.errors import WorkloadError
from accelsim.workload.importers.onnx_model import import_onnx
from accelsim.workload.ir import OpKind
from accelsim.workload.loader import load_workload
from accelsim.workload.zoo._builder import NetBuilder
from accelsim.workload.zoo._transformer import self_attention

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F32 = TensorProto.FLOAT
CIN, COUT, HW, CLASSES = 3, 8, 8, 10          # CNN: conv 3x3 pad 1 -> bn -> relu -> maxpool 2 -> fc
D, HEADS, S = 16, 4, 8                        # transformer block: width, heads, tokens


def init(name: str, *shape: int, dtype=np.float32):
    """A zero-filled initializer (values never matter to the importer)."""
    return numpy_helper.from_array(np.zeros(shape, dtype), name)


def save(tmp_path, nodes, inputs, outputs, inits, name="model", opset=17):
    """Write a model and return its path."""
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


def cnn(tmp_path, batch_dim="N"):
    """conv(3->8, 3x3, pad 1, bias) -> batchnorm -> relu -> maxpool 2 -> flatten -> gemm(128->10)."""
    nodes = [
        helper.make_node("Conv", ["x", "conv.w", "conv.b"], ["c"], "conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["n"],
                         "bn"),
        helper.make_node("Relu", ["n"], ["r"], "relu"),
        helper.make_node("MaxPool", ["r"], ["p"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], "flatten"),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], "fc", transB=1),
    ]
    flat = COUT * (HW // 2) ** 2
    inits = [init("conv.w", COUT, CIN, 3, 3), init("conv.b", COUT),
             *(init(f"bn.{part}", COUT) for part in ("scale", "bias", "mean", "var")),
             init("fc.w", CLASSES, flat), init("fc.b", CLASSES)]
    x = helper.make_tensor_value_info("x", F32, [batch_dim, CIN, HW, HW])
    y = helper.make_tensor_value_info("y", F32, [batch_dim, CLASSES])
    return save(tmp_path, nodes, [x], [y], inits, "cnn")


def cnn_closed_form(batch):
    """(params, MACs): conv weights + bias, bn gamma + beta (running stats are buffers), fc."""
    flat = COUT * (HW // 2) ** 2
    params = COUT * CIN * 9 + COUT + 2 * COUT + flat * CLASSES + CLASSES
    macs = batch * (HW * HW * COUT * CIN * 9 + flat * CLASSES)
    return params, macs


def transformer_block(tmp_path, seq_dim=S):
    """Post-norm self-attention block with MatMul/Add projections, explicit scale, Softmax, LayerNorm."""
    hd = D // HEADS
    nodes = []
    for part, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        nodes += [helper.make_node("MatMul", ["x", f"{part}.w"], [f"{part}0"], f"{part}_proj"),
                  helper.make_node("Add", [f"{part}0", f"{part}.b"], [f"{part}1"], f"{part}_bias"),
                  helper.make_node("Reshape", [f"{part}1", "heads_shape"], [f"{part}2"], f"{part}_split"),
                  helper.make_node("Transpose", [f"{part}2"], [f"{part}3"], f"{part}_t", perm=perm)]
    nodes += [
        helper.make_node("MatMul", ["q3", "k3"], ["scores"], "scores"),
        helper.make_node("Div", ["scores", "sqrt_hd"], ["scaled"], "scale"),
        helper.make_node("Softmax", ["scaled"], ["probs"], "softmax", axis=-1),
        helper.make_node("MatMul", ["probs", "v3"], ["ctx"], "context"),
        helper.make_node("Transpose", ["ctx"], ["ctx_t"], "ctx_t", perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["ctx_t", "model_shape"], ["merged"], "merge"),
        helper.make_node("MatMul", ["merged", "o.w"], ["o0"], "o_proj"),
        helper.make_node("Add", ["o0", "o.b"], ["o1"], "o_bias"),
        helper.make_node("Add", ["x", "o1"], ["res"], "residual"),
        helper.make_node("LayerNormalization", ["res", "ln.w", "ln.b"], ["y"], "ln", axis=-1),
    ]
    inits = [*(init(f"{p}.w", D, D) for p in "qkvo"), *(init(f"{p}.b", D) for p in "qkvo"),
             init("ln.w", D), init("ln.b", D),
             numpy_helper.from_array(np.array([0, 0, HEADS, hd], np.int64), "heads_shape"),
             numpy_helper.from_array(np.array([0, 0, D], np.int64), "model_shape"),
             numpy_helper.from_array(np.array(math.sqrt(hd), np.float32), "sqrt_hd")]
    x = helper.make_tensor_value_info("x", F32, ["batch", seq_dim, D])
    y = helper.make_tensor_value_info("y", F32, ["batch", seq_dim, D])
    return save(tmp_path, nodes, [x], [y], inits, "block")


def test_cnn_params_and_macs_closed_form(tmp_path):
    graph = import_onnx(cnn(tmp_path), batch=2)
    params, macs = cnn_closed_form(2)
    assert (graph.params, graph.macs, graph.batch) == (params, macs, 2)
    assert [op.kind for op in graph.ops] == [OpKind.CONV2D, OpKind.NORM, OpKind.ELEMENTWISE,
                                             OpKind.POOL, OpKind.MATMUL]
    assert graph.ops[-1].deps == ("pool",)          # through the dropped Flatten


def test_cnn_same_as_zoo_builder(tmp_path):
    b = NetBuilder("cnn", 2, "fp32")
    x = b.conv2d("conv", b.input((2, CIN, HW, HW)), COUT, 3, padding=1, bias=True)
    x = b.pool("pool", b.activation("relu", b.batchnorm("bn", x), "relu"), "max", 2)
    b.linear("fc", b.view(x, (2, x.tensor.elements // 2)), CLASSES)
    built, imported = b.graph(), import_onnx(cnn(tmp_path), batch=2)
    assert (imported.params, imported.macs, imported.flops) == (built.params, built.macs, built.flops)
    assert [op.gemm for op in imported.ops] == [op.gemm for op in built.ops]


def test_transformer_block_closed_form(tmp_path):
    graph = import_onnx(transformer_block(tmp_path), batch=3)
    assert graph.params == 4 * (D * D + D) + 2 * D          # the 1-element scale is not a parameter
    assert graph.macs == 4 * 3 * S * D * D + 2 * 3 * S * S * D
    ops = {op.name: op for op in graph.ops}
    assert ops["scores"].gemm.count == ops["context"].gemm.count == 3 * HEADS
    assert ops["scores"].deps == ("q_bias", "k_bias")       # through Reshape and Transpose
    assert ops["softmax"].kind is OpKind.SOFTMAX and ops["ln"].kind is OpKind.NORM
    assert not any(op.name.endswith(("_split", "_t")) or op.name == "merge" for op in graph.ops)


def test_transformer_block_same_as_zoo_builder(tmp_path):
    b = NetBuilder("block", 3, "fp32")
    x = b.input((3, S, D))
    b.norm("ln", b.add("residual", x, self_attention(b, "attn", x, HEADS)))
    built, imported = b.graph(), import_onnx(transformer_block(tmp_path), batch=3)
    assert (imported.params, imported.macs) == (built.params, built.macs)


def test_grouped_strided_dilated_conv(tmp_path):
    groups, cin, cout, h, k, stride, dilation, pads = 4, 8, 12, 15, 3, 2, 2, [1, 0, 2, 1]
    node = helper.make_node("Conv", ["x", "w"], ["y"], "gconv", group=groups, kernel_shape=[k, k],
                            strides=[stride] * 2, dilations=[dilation] * 2, pads=pads)
    x = helper.make_tensor_value_info("x", F32, [1, cin, h, h])
    y = helper.make_tensor_value_info("y", F32, None)
    graph = import_onnx(save(tmp_path, [node], [x], [y], [init("w", cout, cin // groups, k, k)]))
    ho = (h + pads[0] + pads[2] - dilation * (k - 1) - 1) // stride + 1
    wo = (h + pads[1] + pads[3] - dilation * (k - 1) - 1) // stride + 1
    gemm = graph.ops[0].gemm
    assert (gemm.m, gemm.n, gemm.k, gemm.count) == (ho * wo, cout // groups, k * k * cin // groups,
                                                    groups)
    assert graph.params == cout * (cin // groups) * k * k


def test_embedding_and_tied_head_count_the_table_once(tmp_path):
    vocab, width = 50, 8
    nodes = [helper.make_node("Gather", ["table", "ids"], ["h"], "embed"),
             helper.make_node("Transpose", ["table"], ["table_t"], "tie", perm=[1, 0]),
             helper.make_node("MatMul", ["h", "table_t"], ["logits"], "head")]
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", S])
    out = helper.make_tensor_value_info("logits", F32, None)
    graph = import_onnx(save(tmp_path, nodes, [ids], [out], [init("table", vocab, width)]), batch=2)
    embed, head = graph.ops
    assert embed.kind is OpKind.EMBEDDING and embed.inputs[0].dtype == "int32"
    assert head.weights[0].name == "table" and head.gemm.macs == 2 * S * width * vocab
    assert graph.params == vocab * width


def test_exporter_shape_arithmetic_is_resolved(tmp_path):
    # PyTorch's pattern for cls.expand(batch, -1, -1) and x.view(batch, -1) with a dynamic batch
    i64 = lambda name, *values: numpy_helper.from_array(np.array(values, np.int64), name)  # noqa: E731
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axis0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1", "minus1"], ["target"], axis=0),
        helper.make_node("ConstantOfShape", ["three"], ["ones"], value=numpy_helper.from_array(
            np.array([1], np.int64))),
        helper.make_node("Mul", ["ones", "minus1"], ["neg"]),
        helper.make_node("Equal", ["target", "neg"], ["is_free"]),
        helper.make_node("Where", ["is_free", "ones", "target"], ["expand_to"]),
        helper.make_node("Expand", ["cls", "expand_to"], ["cls_b"]),
        helper.make_node("Concat", ["cls_b", "x"], ["tokens"], axis=1),
        helper.make_node("Add", ["tokens", "pos"], ["embedded"], "embed"),
        helper.make_node("Concat", ["n1", "minus1"], ["flat_shape"], axis=0),
        helper.make_node("Reshape", ["embedded", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "head"], ["y"], "head"),
    ]
    inits = [init("cls", 1, 1, D), init("pos", 1, S + 1, D), init("head", (S + 1) * D, 4),
             numpy_helper.from_array(np.array(0, np.int64), "zero"), i64("axis0", 0), i64("minus1", -1),
             i64("three", 3)]
    x = helper.make_tensor_value_info("x", F32, ["batch", S, D])
    y = helper.make_tensor_value_info("y", F32, None)
    graph = import_onnx(save(tmp_path, nodes, [x], [y], inits), batch=3)
    embed, head = graph.ops
    assert {w.name for w in embed.weights} == {"cls", "pos"}      # cls reached through Expand, Concat
    assert embed.outputs[0].shape == (3, S + 1, D) and head.deps == ("embed",)
    assert graph.params == D + (S + 1) * D * 5
    assert graph.macs == 3 * (S + 1) * D * 4


def test_precision_overrides_float_types_only(tmp_path):
    path = cnn(tmp_path)
    assert {op.precision for op in import_onnx(path).ops} == {"fp32"}
    graph = import_onnx(path, precision="bf16")
    assert {t.dtype for op in graph.ops for t in (*op.weights, *op.outputs)} == {"bf16"}
    assert graph.param_bytes == 2 * cnn_closed_form(1)[0]
    assert import_onnx(path, precision="int8").param_bytes == cnn_closed_form(1)[0]


def test_unsupported_op_is_a_one_line_error(tmp_path):
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"], "foo")
    boxes = helper.make_tensor_value_info("boxes", F32, [1, 4, 4])
    scores = helper.make_tensor_value_info("scores", F32, [1, 1, 4])
    sel = helper.make_tensor_value_info("sel", TensorProto.INT64, None)
    path = save(tmp_path, [node], [boxes, scores], [sel], [])
    with pytest.raises(WorkloadError) as err:
        import_onnx(path)
    assert str(err.value) == f"{path}: node 'foo' (op NonMaxSuppression): unsupported ONNX op"


def test_dynamic_batch_takes_batch_and_fixed_batch_is_kept(tmp_path):
    assert import_onnx(cnn(tmp_path)).batch == 1
    graph = import_onnx(cnn(tmp_path), batch=4)
    assert (graph.batch, graph.macs) == (4, cnn_closed_form(4)[1])
    fixed = cnn(tmp_path, batch_dim=2)
    assert import_onnx(fixed).batch == 2
    with pytest.raises(WorkloadError, match="fixed batch of 2"):
        import_onnx(fixed, batch=4)


def test_named_dynamic_axes_take_dims(tmp_path):
    path = transformer_block(tmp_path, seq_dim="seq")
    with pytest.raises(WorkloadError, match="'seq'"):
        import_onnx(path)
    with pytest.raises(WorkloadError, match="no dynamic axis named 'sequence'"):
        import_onnx(path, dims={"sequence": S})
    graph = load_workload(path, batch=2, seq=S)
    assert graph.macs == 4 * 2 * S * D * D + 2 * 2 * S * S * D


def test_load_workload_dispatches_onnx_with_precision(tmp_path):
    graph = load_workload(cnn(tmp_path), batch=2)
    assert (graph.name, graph.macs, graph.info("family")) == ("cnn", cnn_closed_form(2)[1], "onnx")
    assert {op.precision for op in graph.ops} == {"fp16"}     # load_workload's default precision


def test_nodes_out_of_order_are_sorted(tmp_path):
    path = cnn(tmp_path)
    model = onnx.load(path)
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(reversed(nodes))
    onnx.save(model, path)
    graph = import_onnx(path)
    seen = set()
    for op in graph.ops:
        assert set(op.deps) <= seen
        seen.add(op.name)
    assert graph.macs == cnn_closed_form(1)[1]


def test_missing_onnx_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(WorkloadError, match=r"pip install accelsim\[onnx\]"):
        import_onnx(tmp_path / "model.onnx")
