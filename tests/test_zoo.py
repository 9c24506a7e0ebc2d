"""The network zoo against published parameter/MAC counts and closed forms."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from accelsim.errors import WorkloadError
from accelsim.workload.ir import OpKind
from accelsim.workload.zoo import ZOO, build

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
STATS_ROWS = {"ResNet-50 (torchvision)": "resnet50", "BERT-base-uncased (with pooler)": "bert_base",
              "GPT-2 small (tied embeddings)": "gpt2", "GPT-3 175B training": "gpt3_175b"}
SMALL = ("resnet50", "alexnet", "vgg16", "mobilenet_v2", "facedet", "bert_base", "distilbert",
         "vit_b16", "gpt2", "yolov8n", "selfie_seg", "whisper_base", "dlrm", "sd15_unet")


def model_stats() -> dict[str, dict[str, str]]:
    """model_stats.csv rows keyed by zoo name."""
    with open(REFERENCE / "model_stats.csv", newline="") as f:
        return {STATS_ROWS[row["model"]]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("name", ["resnet50", "bert_base", "gpt2"])
def test_exact_params_from_model_stats(name):
    assert build(name).params == int(model_stats()[name]["params"])


def test_resnet50_macs_from_model_stats():
    expected = float(model_stats()["resnet50"]["macs_per_inference"])
    assert build("resnet50").macs == pytest.approx(expected, rel=0.005)


def test_gpt3_params_near_175b():
    assert build("gpt3_175b").params == pytest.approx(float(model_stats()["gpt3_175b"]["params"]),
                                                      rel=0.005)


# Published parameter counts: torchvision model docs ("num_params" of the IMAGENET1K_V1 weights),
# HuggingFace model cards (safetensors parameter count) for DistilBERT and Llama-2.
PUBLISHED_PARAMS = {
    "alexnet": 61_100_840, "vgg16": 138_357_544, "mobilenet_v2": 3_504_872, "vit_b16": 86_567_656,
    "distilbert": 66_362_880, "llama2_7b": 6_738_415_616,
}
# torchvision model docs "GFLOPS" column, which counts multiply-adds, printed to two decimals.
TORCHVISION_GMACS = {"alexnet": 0.71, "vgg16": 15.47, "mobilenet_v2": 0.30, "vit_b16": 17.56,
                     "resnet50": 4.09}


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_published_params(name):
    assert build(name).params == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(TORCHVISION_GMACS))
def test_torchvision_gmacs(name):
    assert abs(build(name).macs / 1e9 - TORCHVISION_GMACS[name]) <= 0.005


def test_mobilenet_v2_paper_madds():
    # Sandler et al. 2018, Table 4: MobileNetV2 (1.0), 224x224: 300M multiply-adds.
    assert build("mobilenet_v2").macs == pytest.approx(300e6, rel=0.01)


def gpt_params(vocab, positions, layers, d):
    """GPT-2/3 with tied head: V*d + S*d + L*(12d^2 + 13d) + 2d (Radford et al. 2019)."""
    return vocab * d + positions * d + layers * (12 * d * d + 13 * d) + 2 * d


def decoder_macs(seq, layers, d, linear_per_token, vocab):
    """Per-token linear MACs + LM head, plus scores and context: 2 * S^2 * d per layer."""
    return seq * (layers * linear_per_token + vocab * d) + 2 * layers * seq * seq * d


@pytest.mark.parametrize("seq", [128, 1024])
def test_gpt2_closed_forms(seq):
    g = build("gpt2", seq_len=seq)
    assert g.params == gpt_params(50257, 1024, 12, 768)
    assert g.macs == decoder_macs(seq, 12, 768, 12 * 768**2, 50257)


def test_gpt3_closed_form():
    g = build("gpt3_175b")
    assert g.params == gpt_params(50257, 2048, 96, 12288)
    assert g.macs == decoder_macs(2048, 96, 12288, 12 * 12288**2, 50257)


def test_llama2_7b_closed_form_and_gqa():
    d, ffn, layers, vocab = 4096, 11008, 32, 32000
    per_layer = 4 * d * d + 3 * d * ffn + 2 * d      # q, k, v, o; gate, up, down; two RMSNorms
    assert build("llama2_7b").params == 2 * vocab * d + layers * per_layer + d
    assert build("llama2_7b", seq_len=512).macs == decoder_macs(512, layers, d, 4 * d * d + 3 * d * ffn,
                                                                vocab)
    gqa = build("llama2_7b", kv_heads=8)
    assert gqa.params == build("llama2_7b").params - layers * 2 * d * (d - 8 * 128)
    assert gqa.info("kv_heads") == 8


def test_bert_closed_form():
    d, layers = 768, 12
    embeddings = (30522 + 512 + 2) * d + 2 * d
    assert build("bert_base").params == embeddings + layers * (12 * d * d + 13 * d) + d * d + d


def test_facedet_blazeface_structure():
    # BlazeFace front model (Bazarevsky et al. 2019; MediaPipe face_detection_front): 5x5/2 stem
    # to 24 channels, BlazeBlocks = depthwise 3x3 + pointwise 1x1 (biases, BN folded), heads on the
    # 16x16 (2 anchors) and 8x8 (6 anchors) grids: 896 anchors, 16 regression values each.
    channels = [24, 24, 28, 32, 36, 42, 48, 56, 64, 72, 80, 88, 96, 96, 96, 96, 96]
    blocks = sum(9 * c + c + c * o + o for c, o in zip(channels, channels[1:]))
    heads = (88 + 1) * (2 + 32) + (96 + 1) * (6 + 96)
    g = build("facedet")
    assert g.params == (5 * 5 * 3 + 1) * 24 + blocks + heads
    outputs = {op.name: op.outputs[0].shape for op in g.ops}
    assert outputs["classifier_8"] == (1, 2, 16, 16) and outputs["regressor_8"] == (1, 32, 16, 16)
    assert outputs["classifier_16"] == (1, 6, 8, 8) and outputs["regressor_16"] == (1, 96, 8, 8)
    assert 16 * 16 * 2 + 8 * 8 * 6 == 896
    assert 10e6 < g.macs < 100e6 and 50_000 < g.params < 200_000


def test_conv_and_attention_conventions():
    dw = next(op for op in build("mobilenet_v2", batch=2).ops if op.name == "features.2.dw.conv")
    assert dw.attr("groups") == 96 and dw.weights[0].shape == (96, 1, 3, 3)
    assert (dw.gemm.m, dw.gemm.n, dw.gemm.k, dw.gemm.count) == (2 * 56 * 56, 1, 9, 96)
    ops = {op.name: op for op in build("bert_base", batch=2, seq_len=64).ops}
    scores, context = ops["encoder.0.attn.scores"], ops["encoder.0.attn.context"]
    assert (scores.gemm.m, scores.gemm.n, scores.gemm.k, scores.gemm.count) == (64, 64, 64, 24)
    assert (context.gemm.m, context.gemm.n, context.gemm.k) == (64, 64, 64) and not context.weights
    assert set(ops["encoder.0.add1"].deps) == {"encoder.0.attn.out", "embeddings.norm"}


def test_gpt2_head_is_tied_to_wte():
    ops = {op.name: op for op in build("gpt2").ops}
    assert ops["lm_head"].weights[0] is ops["embed.wte"].weights[0]


@pytest.mark.parametrize("name", SMALL)
def test_graph_well_formed(name):
    g = build(name, batch=2, precision="bf16")
    names = [op.name for op in g.ops]
    assert len(set(names)) == len(names)
    seen = set()
    for op in g.ops:
        assert set(op.deps) <= seen, op.name
        seen.add(op.name)
        tensors = op.outputs + op.weights + tuple(t for t in op.inputs if not t.name.endswith("_ids"))
        assert {t.dtype for t in tensors} == {"bf16"}, op.name
        assert op.kind in (OpKind.CONV2D, OpKind.MATMUL, OpKind.MOE) or op.gemm is None
    assert g.info("family") in ("cnn", "encoder", "decoder", "encoder-decoder", "recommendation",
                                "diffusion")


@pytest.mark.parametrize("name", SMALL)
def test_batch_scales_macs_not_params(name):
    one, four = build(name), build(name, batch=4)
    assert four.macs == 4 * one.macs and four.params == one.params and four.batch == 4


def test_transformer_meta():
    expected = dict(family="decoder", layers=32, hidden=4096, heads=32, kv_heads=32, head_dim=128,
                    seq_len=128, vocab=32000, ffn=11008)
    assert expected.items() <= dict(build("llama2_7b", seq_len=128).meta).items()
    assert build("resnet50", image_size=160).info("image_size") == 160


def test_zoo_lists_every_network():
    assert set(ZOO) == {*SMALL, "bert_large", "llama2_7b", "gpt3_175b", "llama3_8b", "llama31_70b",
                        "llama31_405b", "qwen2_7b",
                        "mixtral_8x7b", "gemm"}


@pytest.mark.parametrize(("name", "params", "match"), [
    ("resnet5", {}, "did you mean 'resnet50'"),
    ("gpt2", {"seq_lenght": 64}, "seq_lenght.*did you mean 'seq_len'"),
    ("gpt2", {"seq_len": 2048}, "seq_len: must be at most 1024"),
    ("bert_base", {"batch": 0}, "batch: must be a positive integer"),
    ("vit_b16", {"image_size": 230}, "image_size: must be a multiple"),
    ("llama2_7b", {"kv_heads": 5}, "kv_heads"),
    ("alexnet", {"precision": "fp17"}, "precision: unknown precision 'fp17'"),
])
def test_bad_names_and_params(name, params, match):
    with pytest.raises(WorkloadError, match=match):
        build(name, **params)


def test_name_is_case_and_dash_insensitive():
    assert build("MobileNet-V2").name == "mobilenet_v2"


def test_bert_large_matches_the_published_parameter_count():
    # HuggingFace bert-large-uncased (BertModel, with pooler): 335,141,888 parameters.
    assert build("bert_large").params == 335_141_888
