"""The zoo's newer networks against published counts: phone vision, speech, recommendation,
diffusion and the Llama-3 / Qwen2 / Mixtral decoders (with their mixture-of-experts op)."""

from __future__ import annotations

import math

import pytest

from accelsim.errors import WorkloadError
from accelsim.workload.ir import OpKind, Phase, expected_experts
from accelsim.workload.serving import kv_cache_bytes
from accelsim.workload.training import training_trace
from accelsim.workload.zoo import build
from accelsim.workload.zoo.recsys import CRITEO_1TB_TABLES
from tests.hostile.cli import accelsim, assert_clean_error

# Published parameter counts, with their sources:
PUBLISHED_PARAMS = {
    "yolov8n": 3_157_200,         # Ultralytics model summary: "YOLOv8n summary: 225 layers, 3157200 parameters"
    "whisper_base": 72_593_920,   # HF openai/whisper-base, safetensors parameter count
    "sd15_unet": 859_520_964,     # HF runwayml/stable-diffusion-v1-5 unet (diffusers), 859.52M
    "llama3_8b": 8_030_261_248,   # HF meta-llama/Meta-Llama-3-8B, safetensors parameter count
    "llama31_70b": 70_553_706_496,    # HF meta-llama/Llama-3.1-70B, safetensors parameter count
    "llama31_405b": 405_853_388_800,  # HF meta-llama/Llama-3.1-405B, safetensors parameter count
    "qwen2_7b": 7_615_616_512,    # HF Qwen/Qwen2-7B, safetensors parameter count
    "mixtral_8x7b": 46_702_792_704,   # HF mistralai/Mixtral-8x7B-v0.1, safetensors parameter count
}
BUILD = {"llama3_8b": {"seq_len": 8}, "llama31_70b": {"seq_len": 8}, "llama31_405b": {"seq_len": 8}, "qwen2_7b": {"seq_len": 8}, "mixtral_8x7b": {"seq_len": 8}}


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_published_params(name):
    assert build(name, **BUILD.get(name, {})).params == PUBLISHED_PARAMS[name]


def test_yolov8n_gflops_at_640():
    # Ultralytics YOLOv8 docs, detection table: YOLOv8n 640 px, 3.2M params, 8.7 GFLOPs (2 x MACs).
    g = build("yolov8n")
    assert abs(2 * g.macs / 1e9 - 8.7) <= 0.05
    assert round(g.params / 1e5) / 10 == 3.2


def test_selfie_seg_model_card():
    # Qualcomm AI Hub MediaPipe-Selfie-Segmentation model card: input (landscape) 144x256,
    # "Number of parameters: 106K"; the mask comes out at the input resolution.
    g = build("selfie_seg")
    assert round(g.params / 1000) == 106
    assert g.ops[0].inputs[0].shape == (1, 3, 144, 256)
    assert g.ops[-1].outputs[0].shape == (1, 1, 144, 256)


def test_whisper_base_near_paper_size():
    # Radford et al. 2022, Table 1: base, 6 layers, width 512, 8 heads, 74M parameters (the HF
    # count above, 72.6M, is the same weights; the paper rounds its own count).
    g = build("whisper_base")
    assert (g.info("layers"), g.info("hidden"), g.info("heads")) == (6, 512, 8)
    assert g.params == pytest.approx(74e6, rel=0.02)


def test_whisper_encoder_front_end():
    # 80 x 3000 log-mel; conv1 (k3) keeps 3000 frames, conv2 (k3, stride 2) halves them to 1500.
    ops = {op.name: op for op in build("whisper_base").ops}
    assert ops["encoder.conv1"].outputs[0].shape == (1, 512, 3000)
    assert ops["encoder.conv2"].outputs[0].shape == (1, 512, 1500)
    assert ops["encoder.conv2"].macs == 1500 * 512 * 512 * 3
    assert ops["decoder.0.cross_attn.scores"].gemm.n == 1500


def test_whisper_decode_step_reads_cached_cross_attention():
    g = build("whisper_base", seq_len=1, past=10)
    assert not any(op.name.startswith("encoder.") for op in g.ops)
    names = {t.name for op in g.ops for t in op.inputs}
    assert {"decoder.0.cross_attn.k_cache", "decoder.0.attn.k_cache"} <= names
    # KV cache: (self context + 1500 encoder frames) x 2 x 6 layers x 512 x 2 bytes
    assert kv_cache_bytes(g, 11) == (11 + 1500) * 2 * 6 * 512 * 2


def test_whisper_text_context_is_bounded():
    with pytest.raises(WorkloadError, match="448"):
        build("whisper_base", seq_len=400, past=100)


def dlrm_params() -> int:
    """26 tables x 128 wide + bottom MLP 13-512-256-128 + top MLP 479-1024-1024-512-256-1."""
    def mlp(widths):
        return sum(a * b + b for a, b in zip(widths, widths[1:]))
    return 128 * sum(CRITEO_1TB_TABLES) + mlp((13, 512, 256, 128)) + mlp((479, 1024, 1024, 512, 256, 1))


def test_dlrm_mlperf_config():
    # MLPerf DLRM on Criteo 1TB (facebookresearch/dlrm, --max-ind-range=40000000): 26 tables,
    # 187,767,399 rows in all, width 128: about 24.0B parameters (96 GB at fp32).
    g = build("dlrm", batch=4)
    assert sum(CRITEO_1TB_TABLES) == 187_767_399 and len(CRITEO_1TB_TABLES) == 26
    assert g.params == dlrm_params()
    embeddings = [op for op in g.ops if op.kind is OpKind.EMBEDDING]
    assert len(embeddings) == 26
    # a lookup reads only its 4 gathered rows of 128, never the 40M-row table
    assert max(op.weight_bytes for op in embeddings) == 4 * 128 * 2
    dot = next(op for op in g.ops if op.name == "interaction.dot")
    assert (dot.gemm.m, dot.gemm.n, dot.gemm.k, dot.gemm.count) == (27, 27, 128, 4)
    top = next(op for op in g.ops if op.name == "top_mlp.0")
    assert top.gemm.k == 128 + 27 * 26 // 2 == 479


def test_dlrm_training_updates_only_gathered_rows():
    trace = training_trace(build("dlrm", batch=8), optimizer="sgd")
    update = next(op for op in trace.ops if op.name == "emb.0.optimizer")
    assert update.params == 8 * 128
    # gradients: the MLPs densely, each table's gathered rows (at most its size: two have 3 and 4)
    rows = sum(min(size, 8) for size in CRITEO_1TB_TABLES)
    mlp = dlrm_params() - 128 * sum(CRITEO_1TB_TABLES)
    assert rows == 24 * 8 + 3 + 4
    assert trace.memory.gradients == (mlp + 128 * rows) * 2


def test_sd15_unet_shapes_and_steps():
    one, three = build("sd15_unet"), build("sd15_unet", steps=3)
    ops = {op.name: op for op in one.ops}
    assert ops["conv_in"].inputs[0].shape == (1, 4, 64, 64)       # 512 x 512 image, VAE factor 8
    cross = ops["down_blocks.0.attentions.0.transformer_blocks.0.cross_attn.scores"]
    assert (cross.gemm.m, cross.gemm.n) == (64 * 64, 77)          # latent pixels over 77 text tokens
    k = ops["down_blocks.0.attentions.0.transformer_blocks.0.cross_attn.k"]
    assert k.weights[0].shape == (320, 768)                       # keys from the 768-wide CLIP text
    assert three.params == one.params and three.macs == 3 * one.macs


def mixtral_expert_params() -> int:
    """Per layer 8 experts of gate, up (4096 -> 14336) and down (14336 -> 4096); 32 layers."""
    return 32 * 8 * 3 * 4096 * 14336


def test_mixtral_active_params():
    # Mistral AI, "Mixtral of experts" (2023): 46.7B parameters, 12.9B used per token (top-2 of 8).
    total = build("mixtral_8x7b", seq_len=8).params
    active = total - mixtral_expert_params() * (1 - 2 / 8)
    assert round(total / 1e8) / 10 == 46.7 and round(active / 1e8) / 10 == 12.9


def test_mixtral_moe_op_macs_and_weights_read():
    tokens = 16
    g = build("mixtral_8x7b", seq_len=tokens)
    moe = [op for op in g.ops if op.kind is OpKind.MOE]
    assert len(moe) == 32
    assert moe[0].macs == tokens * 2 * 3 * 4096 * 14336       # each token runs 2 experts
    full = 3 * 8 * 4096 * 14336 * 2
    assert moe[0].weight_bytes == pytest.approx(full * expected_experts(tokens, 8, 2) / 8)
    decode = next(op for op in build("mixtral_8x7b", seq_len=1, past=100).ops if op.kind is OpKind.MOE)
    assert decode.weight_bytes == pytest.approx(full * 2 / 8)   # one token: its two experts


def test_moe_backward_is_twice_the_forward():
    trace = training_trace(build("mixtral_8x7b", seq_len=8))
    ops = {op.name: op for op in trace.ops}
    forward = ops["decoder.0.mlp.experts"]
    backward = ops["decoder.0.mlp.experts.dgrad"], ops["decoder.0.mlp.experts.wgrad"]
    assert [op.phase for op in backward] == [Phase.DGRAD, Phase.WGRAD]
    assert sum(op.macs for op in backward) == 2 * forward.macs


@pytest.mark.parametrize("name, kv_heads", [("llama3_8b", 8), ("qwen2_7b", 4), ("mixtral_8x7b", 8)])
def test_grouped_query_kv_heads(name, kv_heads):
    g = build(name, seq_len=8)
    assert g.info("kv_heads") == kv_heads
    k = next(op for op in g.ops if op.name == "decoder.0.attn.k")
    assert k.weights[0].shape[0] == kv_heads * 128


def test_qwen2_biases_on_qkv_only():
    ops = {op.name: op for op in build("qwen2_7b", seq_len=8).ops}
    assert [len(ops[f"decoder.0.attn.{p}"].weights) for p in ("q", "k", "v", "out")] == [2, 2, 2, 1]


def test_llama3_vocab():
    head = next(op for op in build("llama3_8b", seq_len=8).ops if op.name == "lm_head")
    assert head.weights[0].shape == (128256, 4096)
    assert math.prod(head.weights[0].shape) == 525_336_576


@pytest.mark.parametrize("name, params, match", [
    ("yolov8n", {"image_size": 100}, "image_size: must be a multiple of the largest stride, 32"),
    ("sd15_unet", {"image_size": 500}, "image_size: must be a multiple of 64"),
    ("whisper_base", {"seq_len": 449}, "seq_len: must be at most 448"),
])
def test_bad_sizes_are_refused(name, params, match):
    with pytest.raises(WorkloadError, match=match):
        build(name, **params)


def test_cli_refuses_a_bad_size_cleanly():
    assert_clean_error(accelsim("run", "sd15_unet", "--device", "a100", "--param", "image_size=500"),
                       "image_size", "multiple of 64")


def test_cli_serves_encoder_decoder_but_not_an_encoder():
    assert accelsim("run", "whisper_base", "--device", "a100", "--mode", "serve", "--prompt", "4",
                    "--generate", "8").code == 0
    assert_clean_error(accelsim("run", "yolov8n", "--device", "a100", "--mode", "serve"),
                       "serve mode needs a decoder")
