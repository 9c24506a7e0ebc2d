"""HuggingFace config.json import against published parameter counts, closed forms and the zoo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from accelsim.errors import WorkloadError
from accelsim.workload.importers.hf_config import import_hf_config
from accelsim.workload.loader import load_workload
from accelsim.workload.zoo import build

HF = Path(__file__).resolve().parents[1] / "accelsim" / "workloads" / "hf"
# Published parameter counts: shared/reference/model_stats.csv (GPT-2, BERT with pooler) and the
# HuggingFace model cards' safetensors counts (Llama-2-7b-hf, Mistral-7B-v0.1, Qwen/Qwen2-7B,
# mistralai/Mixtral-8x7B-v0.1, google/gemma-7b, microsoft/Phi-3-mini-4k-instruct). The bundled
# configs copy the architecture keys of those repositories' config.json files.
PUBLISHED_PARAMS = {"gpt2": 124_439_808, "bert-base-uncased": 109_482_240,
                    "llama-2-7b": 6_738_415_616, "mistral-7b-v0.1": 7_241_732_096,
                    "qwen2-7b": 7_615_616_512, "mixtral-8x7b-v0.1": 46_702_792_704,
                    "gemma-7b": 8_537_680_896, "phi-3-mini-4k-instruct": 3_821_079_552}
SAME_AS_ZOO = {"gpt2": ("gpt2", 1024), "bert-base-uncased": ("bert_base", 128),
               "llama-2-7b": ("llama2_7b", 4096), "qwen2-7b": ("qwen2_7b", 512),
               "mixtral-8x7b-v0.1": ("mixtral_8x7b", 512)}


def write(tmp_path: Path, config: dict, name: str = "model.json") -> Path:
    """A config file in tmp_path."""
    path = tmp_path / name
    path.write_text(json.dumps(config))
    return path


def gpt2_config(**changes) -> dict:
    """The bundled GPT-2 config with some keys changed."""
    return {**json.loads((HF / "gpt2.json").read_text()), **changes}


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMS))
def test_published_params(name):
    assert import_hf_config(HF / f"{name}.json").params == PUBLISHED_PARAMS[name]


@pytest.mark.parametrize("name", sorted(SAME_AS_ZOO))
def test_same_graph_as_zoo(name):
    zoo_name, seq_len = SAME_AS_ZOO[name]
    imported = import_hf_config(HF / f"{name}.json", batch=2, seq_len=seq_len)
    built = build(zoo_name, batch=2, seq_len=seq_len)
    assert (imported.params, imported.macs, imported.flops) == (built.params, built.macs, built.flops)
    assert dict(imported.meta) == dict(built.meta)


def test_gemma_head_dim_wider_than_hidden_over_heads():
    # google/gemma-7b: 16 heads of 256 = 4096 query features from a 3072 hidden state.
    g = import_hf_config(HF / "gemma-7b.json", seq_len=1)
    q = next(op for op in g.ops if op.name == "decoder.0.attn.q")
    assert q.weights[0].shape == (16 * 256, 3072)
    assert g.info("tied_embeddings") is True


@pytest.mark.parametrize("seq_len, seen", [(1024, 1024), (8192, 4096)])
def test_mistral_sliding_window_caps_attention(seq_len, seen):
    # Mistral-7B-v0.1 config.json: sliding_window 4096; each query sees at most 4096 keys.
    g = import_hf_config(HF / "mistral-7b-v0.1.json", seq_len=seq_len)
    scores = next(op for op in g.ops if op.name == "decoder.0.attn.scores")
    assert (scores.gemm.m, scores.gemm.n) == (seq_len, seen)


def test_mistral_decode_reads_at_most_the_window_from_the_cache():
    g = import_hf_config(HF / "mistral-7b-v0.1.json", seq_len=1, past=10_000)
    cache = next(t for op in g.ops for t in op.inputs if t.name == "decoder.0.attn.k_cache")
    assert cache.shape[2] == 4095          # the window holds 4095 cached tokens and the new one


def test_mixtral_experts_from_config():
    g = import_hf_config(HF / "mixtral-8x7b-v0.1.json", seq_len=16)
    assert (g.info("experts"), g.info("top_k")) == (8, 2)


def test_mixtral_top_k_beyond_experts_is_refused(tmp_path):
    config = {**json.loads((HF / "mixtral-8x7b-v0.1.json").read_text()), "num_experts_per_tok": 9}
    with pytest.raises(WorkloadError, match="num_experts_per_tok: must be at most num_local_experts=8"):
        import_hf_config(write(tmp_path, config))


def test_qwen2_per_layer_sliding_window_is_refused(tmp_path):
    config = {**json.loads((HF / "qwen2-7b.json").read_text()), "use_sliding_window": True}
    with pytest.raises(WorkloadError, match="use_sliding_window"):
        import_hf_config(write(tmp_path, config))


def test_default_seq_len_is_max_positions_capped_at_2048():
    seq = {name: import_hf_config(HF / f"{name}.json").info("seq_len") for name in PUBLISHED_PARAMS}
    assert seq == {"gpt2": 1024, "bert-base-uncased": 512} | {
        name: 2048 for name in PUBLISHED_PARAMS if name not in ("gpt2", "bert-base-uncased")}


def test_gpt2_untied_head_adds_the_vocab_matrix(tmp_path):
    untied = import_hf_config(write(tmp_path, gpt2_config(tie_word_embeddings=False)))
    assert untied.params == PUBLISHED_PARAMS["gpt2"] + 50257 * 768
    assert untied.info("tied_embeddings") is False


def test_small_gpt2_closed_form(tmp_path):
    vocab, positions, layers, d, ffn = 1000, 64, 3, 32, 80
    config = gpt2_config(vocab_size=vocab, n_positions=positions, n_layer=layers, n_embd=d, n_head=4,
                         n_inner=ffn)
    graph = import_hf_config(write(tmp_path, config), seq_len=16)
    # tied GPT-2: wte + wpe + L * (qkv, proj, fc1, fc2 with biases, 2 LayerNorms) + final LayerNorm
    per_layer = 3 * d * d + 3 * d + d * d + d + 2 * d * ffn + ffn + d + 4 * d
    assert graph.params == vocab * d + positions * d + layers * per_layer + 2 * d
    per_token = 4 * d * d + 2 * d * ffn
    assert graph.macs == 16 * (layers * per_token + vocab * d) + 2 * layers * 16 * 16 * d


def test_grouped_query_llama_closed_form(tmp_path):
    d, heads, kv_heads, ffn, layers, vocab = 64, 8, 2, 160, 2, 500
    config = {"model_type": "llama", "hidden_size": d, "intermediate_size": ffn,
              "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
              "vocab_size": vocab, "max_position_embeddings": 256, "tie_word_embeddings": True}
    graph = import_hf_config(write(tmp_path, config))
    kv = 2 * d * (d // heads * kv_heads)
    assert graph.params == vocab * d + layers * (2 * d * d + kv + 3 * d * ffn + 2 * d) + d
    assert (graph.info("kv_heads"), graph.info("seq_len")) == (kv_heads, 256)


def test_load_workload_takes_a_json_file_or_a_folder(tmp_path):
    shutil.copy(HF / "gpt2.json", tmp_path / "config.json")
    folder = load_workload(tmp_path, seq_len=128, batch=2)
    assert (folder.name, folder.batch, folder.info("seq_len")) == (tmp_path.name, 2, 128)
    assert load_workload(HF / "gpt2.json", seq_len=128, batch=2).macs == folder.macs
    assert load_workload(HF / "llama-2-7b.json", seq_len=1, past=7).info("past") == 7


def test_unknown_model_type_lists_supported(tmp_path):
    path = write(tmp_path, {"model_type": "t5"})
    with pytest.raises(WorkloadError) as err:
        import_hf_config(path)
    assert str(err.value) == (f"{path}: model_type: unsupported model_type 't5'; "
                              f"supported: gpt2, llama, mistral, mixtral, qwen2, gemma, phi3, bert")


def test_missing_key_names_key_and_file(tmp_path):
    config = gpt2_config()
    del config["n_embd"]
    path = write(tmp_path, config)
    with pytest.raises(WorkloadError) as err:
        import_hf_config(path)
    assert str(err.value) == f"{path}: n_embd: missing required key"


@pytest.mark.parametrize("changes, key", [
    ({"n_head": 5}, "n_head"),                       # does not divide n_embd
    ({"n_layer": "12"}, "n_layer"),
    ({"activation_function": "swiglu"}, "activation_function"),
    ({"tie_word_embeddings": "yes"}, "tie_word_embeddings"),
])
def test_bad_values_name_the_key(tmp_path, changes, key):
    with pytest.raises(WorkloadError, match=rf": {key}: "):
        import_hf_config(write(tmp_path, gpt2_config(**changes)))


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n  "model_type": "gpt2",\n  "n_layer": 12,,\n}')
    with pytest.raises(WorkloadError, match=rf"^{path}:3: invalid JSON"):
        import_hf_config(path)


def test_encoder_takes_no_past_and_seq_len_is_bounded():
    with pytest.raises(WorkloadError, match="past"):
        import_hf_config(HF / "bert-base-uncased.json", past=4)
    with pytest.raises(WorkloadError, match="seq_len"):
        import_hf_config(HF / "bert-base-uncased.json", seq_len=513)


def test_loader_rejects_other_parameters():
    with pytest.raises(WorkloadError, match="only seq_len and past"):
        load_workload(HF / "gpt2.json", image_size=224)
