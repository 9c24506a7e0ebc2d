"""Quantize, prune, fuse and distillation against hand-computed sizes, traffic and published counts."""

from __future__ import annotations

import pytest

from accelsim.api import load_device, simulate
from accelsim.devices import cost
from accelsim.devices.roofline import roofline_cost
from accelsim.errors import UsageError, WorkloadError
from accelsim.workload.ir import OpKind, Graph
from accelsim.workload.transforms import distillation, fuse, prune, quantize
from accelsim.workload.zoo import build
from accelsim.workload.zoo._builder import NetBuilder
from accelsim.workload.zoo._transformer import self_attention

RESNET50_PARAMS = 25_557_032         # torchvision resnet50
MOBILENET_V2_PARAMS = 3_504_872      # torchvision mobilenet_v2
BERT_BASE_PARAMS = 109_482_240       # HuggingFace bert-base-uncased (BertModel, with pooler)
DISTILBERT_PARAMS = 66_362_880       # HuggingFace distilbert-base-uncased


def linear_graph(rows: int, features: int, precision: str = "fp16", bias: bool = True) -> Graph:
    """One linear layer: [rows, features] @ [features, features]."""
    b = NetBuilder("linear", 1, precision)
    b.linear("fc", b.input((rows, features)), features, bias=bias)
    return b.graph()


def attention_graph(batch: int, seq: int, hidden: int, heads: int) -> Graph:
    """One self-attention block (projections, scores, softmax, context, output) in fp16."""
    b = NetBuilder("attention", batch, "fp16")
    self_attention(b, "attn", b.input((batch, seq, hidden)), heads)
    return b.graph()


# -- quantize ------------------------------------------------------------------------------------

def test_int8_halves_weight_bytes_versus_fp16():
    fp16 = build("resnet50", precision="fp16")
    int8 = quantize(fp16, "int8")
    assert fp16.param_bytes == 2 * RESNET50_PARAMS
    assert int8.param_bytes == RESNET50_PARAMS
    assert int8.params == RESNET50_PARAMS
    assert int8.macs == fp16.macs


def test_quantize_retypes_outputs_and_their_readers_but_not_network_inputs():
    int8 = quantize(build("resnet50", precision="fp16"), "int8")
    assert all(op.precision == "int8" for op in int8.ops)
    assert all(t.dtype == "int8" for op in int8.ops for t in op.outputs)
    first = int8.ops[0]
    assert first.inputs[0].name == "image" and first.inputs[0].dtype == "fp16"
    assert all(t.dtype == "int8" for op in int8.ops[1:] for t in op.inputs)


def test_quantize_some_layers_keeps_tied_weights_consistent():
    gpt2 = build("gpt2", precision="fp16", seq_len=16)
    head_only = quantize(gpt2, "int8", layers=["lm_head"])
    precisions = {op.name: op.precision for op in head_only.ops}
    assert precisions["lm_head"] == "int8"
    assert {p for name, p in precisions.items() if name != "lm_head"} == {"fp16"}
    tied = [w for op in head_only.ops for w in op.weights if w.name == "embed.wte.weight"]
    assert len(tied) == 2 and {w.dtype for w in tied} == {"int8"}
    vocab, hidden = 50257, 768
    assert gpt2.param_bytes - head_only.param_bytes == vocab * hidden   # 2 -> 1 byte each


def test_quantize_rejects_unknown_precision_and_layers():
    graph = linear_graph(4, 8)
    with pytest.raises(WorkloadError, match="precision"):
        quantize(graph, "int3")
    with pytest.raises(UsageError, match="nosuch"):
        quantize(graph, "int8", layers=["nosuch*"])


# -- prune ---------------------------------------------------------------------------------------

def test_unstructured_prune_stores_kept_values_plus_a_bitmap():
    graph = prune(linear_graph(64, 1024), 0.5)
    weight, bias = graph.ops[0].weights
    # 1024 x 1024 fp16 values at 50% density (1 byte each on average) + 1 bit per element
    assert weight.bytes == 1024 * 1024 * (0.5 * 2 + 1 / 8)
    assert bias.bytes == 1024 * 2
    assert graph.ops[0].macs == 64 * 1024 * 1024
    assert graph.ops[0].attr("sparsity") == 0.5
    assert graph.params == 1024 * 1024 + 1024


def test_two_four_prune_stores_half_the_values_plus_2_bit_indices():
    graph = prune(linear_graph(64, 1024, precision="int8", bias=False), "2:4")
    (weight,) = graph.ops[0].weights
    kept = 1024 * 1024 // 2
    assert weight.bytes == kept * 1 + kept * 2 / 8
    assert graph.ops[0].attr("sparsity") == "2:4"


def test_two_four_halves_gemm_math_time_on_a100_not_on_v100():
    dense = linear_graph(8192, 8192, bias=False).ops[0]
    sparse = prune(linear_graph(8192, 8192, bias=False), "2:4").ops[0]
    a100 = load_device("a100")
    before, after = cost(dense, a100), cost(sparse, a100)
    assert before.bound == after.bound == "compute"
    assert after.compute_s == pytest.approx(before.compute_s / 2, rel=1e-12)
    v100 = load_device("v100")
    assert cost(sparse, v100).compute_s == pytest.approx(cost(dense, v100).compute_s, rel=1e-12)


@pytest.mark.parametrize("bad", [1.0, -0.1, "1:4", "half"])
def test_prune_rejects_bad_sparsity(bad):
    with pytest.raises(UsageError, match="sparsity"):
        prune(linear_graph(4, 8), bad)


def test_prune_leaves_biases_norms_and_embeddings_dense():
    bert = build("bert_base", seq_len=32)
    pruned = prune(bert, 0.9)
    for before, after in zip(bert.ops, pruned.ops):
        if before.gemm is None:
            assert after.weights == before.weights
        elif before.weights:
            assert after.weights[1:] == before.weights[1:]
            assert after.weights[0].density == pytest.approx(0.1)


# -- fuse ----------------------------------------------------------------------------------------

def test_fused_resnet50_has_fewer_ops_and_bytes_and_the_same_macs():
    graph = build("resnet50")
    fused = fuse(graph)
    # 53 convs absorb their batchnorms (and the 33 ReLUs that follow them), the 16 residual
    # adds absorb their ReLU; maxpool, avgpool and fc stay: 53 + 16 + 3 ops.
    assert len(graph.ops) == 174
    assert len(fused.ops) == 53 + 16 + 3
    assert fused.macs == graph.macs and fused.flops == graph.flops and fused.params == graph.params
    members = {op.name: op.attr("fused") for op in fused.ops}
    assert members["layer1.0.conv1"] == ("layer1.0.conv1", "layer1.0.bn1", "layer1.0.relu1")
    assert members["layer1.0.conv3"] == ("layer1.0.conv3", "layer1.0.bn3")
    assert members["layer1.0.add"] == ("layer1.0.add", "layer1.0.relu3")
    before, after = simulate(graph, "a100", stack="eager"), simulate(fused, "a100", stack="eager")
    assert after["macs"] == before["macs"]
    assert after["dram_bytes"] < before["dram_bytes"]
    assert after["latency_s"] < before["latency_s"]


def test_residual_fusion_folds_the_adds_into_the_last_conv_of_each_block():
    graph = build("resnet50")
    fused = fuse(graph, residual=True)
    # the 16 residual adds (and their ReLUs) join the conv3 (or downsample conv) before them:
    # 53 convs + maxpool, avgpool and fc remain.
    assert len(fused.ops) == 53 + 3
    assert not any(op.kind in (OpKind.NORM, OpKind.ELEMENTWISE) for op in fused.ops)
    assert fused.macs == graph.macs and fused.flops == graph.flops and fused.params == graph.params
    block = next(op for op in fused.ops if "layer1.0.add" in op.attr("fused", ()))
    assert block.attr("fused")[-2:] == ("layer1.0.add", "layer1.0.relu3")
    assert len(block.inputs) == 2                    # the conv input and the residual


def test_fused_attention_removes_exactly_the_score_traffic():
    batch, seq, hidden, heads = 2, 256, 768, 12
    graph = attention_graph(batch, seq, hidden, heads)
    fused = fuse(graph)
    assert [op.name for op in fused.ops] == ["attn.q", "attn.k", "attn.v", "attn.attention", "attn.out"]
    assert fused.macs == graph.macs
    device = load_device("a100")
    streamed = sum(roofline_cost(op, device).dram_bytes for op in graph.ops)
    streamed_fused = sum(roofline_cost(op, device).dram_bytes for op in fused.ops)
    # the S x S scores: written by the matmul, read and rewritten by softmax, read by the context
    scores_bytes = seq * seq * heads * batch * 2
    assert streamed - streamed_fused == 4 * scores_bytes
    attention = fused.ops[3]
    assert attention.outputs[0].shape == (batch, heads, seq, hidden // heads)


@pytest.mark.parametrize("name", ["bert_base", "gpt2", "llama2_7b", "mobilenet_v2", "vit_b16"])
def test_fuse_is_idempotent_and_deps_point_backwards(name):
    fused = fuse(build(name, **({"seq_len": 64} if name in ("bert_base", "gpt2", "llama2_7b") else {})))
    assert fuse(fused) == fused
    seen: set[str] = set()
    for op in fused.ops:
        assert set(op.deps) <= seen, op.name
        seen.add(op.name)


# -- distillation --------------------------------------------------------------------------------

def test_distilbert_has_half_the_encoder_macs_of_bert_base():
    seq, d, ffn = 128, 768, 3072
    layer = 4 * seq * d * d + 2 * seq * seq * d + 2 * seq * d * ffn    # q, k, v, out; attention; MLP
    delta = distillation(build("bert_base", seq_len=seq), build("distilbert", seq_len=seq))
    assert delta.macs == (12 * layer + d * d, 6 * layer)                # + BERT's pooler
    assert delta.params == (BERT_BASE_PARAMS, DISTILBERT_PARAMS)
    assert delta.ratio("params") == pytest.approx(66.4 / 109.5, rel=1e-2)   # "40% smaller"
    assert delta.layers == (12, 6)
    assert delta.to_dict()["macs"]["ratio"] == pytest.approx(0.5, rel=1e-3)


def test_mobilenet_v2_versus_resnet50_published_sizes():
    delta = distillation(build("resnet50"), build("mobilenet_v2"))
    assert delta.params == (RESNET50_PARAMS, MOBILENET_V2_PARAMS)
    # ResNet-50 4.09 GMACs (torchvision), MobileNetV2 300 M multiply-adds (Sandler et al. 2018)
    assert delta.macs[0] == pytest.approx(4.09e9, rel=1e-2)
    assert delta.macs[1] == pytest.approx(300e6, rel=1e-2)
