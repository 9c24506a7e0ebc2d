"""HuggingFace config.json (architecture only, no weights) -> IR Graph, built by the zoo's builders.

Supported `model_type` values and the keys read (defaults in parentheses):

    gpt2            n_layer, n_embd, n_head, vocab_size, n_positions, n_inner (4 x n_embd),
                    activation_function (gelu_new), tie_word_embeddings (true)
    llama, mistral, hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
    mixtral, qwen2, num_key_value_heads (num_attention_heads), vocab_size, max_position_embeddings,
    gemma, phi3     hidden_act (silu), tie_word_embeddings (false), head_dim (hidden / heads only),
                    attention_bias and mlp_bias (false only); and per family:
                    mistral, mixtral, phi3: sliding_window (none: attention over the whole context)
                    mixtral: num_local_experts, num_experts_per_tok (a MoE op per layer)
                    qwen2: biased q/k/v projections; use_sliding_window (false only)
                    gemma: head_dim (any), hidden_act/hidden_activation (gelu), tie_word_embeddings
                    (true); its sqrt(hidden) embedding scaling is not modeled
                    phi3: fused qkv and gate/up projections (same parameters as separate ones)
    bert            hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, vocab_size,
                    max_position_embeddings, type_vocab_size (2), hidden_act (gelu); BertModel with
                    its pooler

Other keys (norm epsilons, dropout, token ids, rope settings, dtype) do not change the ops or the
parameter count and are ignored. A sliding window caps the keys each token attends to, and the
KV cache, at the window. `seq_len` defaults to min(max positions, 2048), and may be a distribution of
lengths (accelsim.workload.seqlen); decoders also take `past` (cached tokens, as the zoo's decoders). The graph is named after the file, or after its folder for `config.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from accelsim.errors import WorkloadError
from accelsim.files import read_json
from accelsim.workload.limits import MAX_SIZE, is_size
from accelsim.workload import zoo
from accelsim.workload.ir import Graph
from accelsim.workload.seqlen import is_lengths
from accelsim.workload.zoo._transformer import TransformerSpec
from accelsim.workload.zoo.llm import _gpt, _llama
from accelsim.workload.zoo.transformers import _bert

DEFAULT_MAX_SEQ_LEN = 2048
REQUIRED = object()
# HF `hidden_act` / `activation_function` names -> the zoo's activation (VECTOR_FLOPS key).
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu", "gelu_fast": "gelu", "gelu_pytorch_tanh": "gelu",
               "silu": "silu", "swish": "silu", "relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid"}


@dataclass(frozen=True)
class _Config:
    """A parsed config.json; every lookup error names the file and the key."""

    file: str
    data: dict

    def fail(self, message: str, key: str) -> WorkloadError:
        """An error about `key` of this file."""
        return WorkloadError(message, file=self.file, key=key)

    def value(self, key: str, default: object) -> object:
        """The raw value of `key` (JSON null counts as absent), or the default."""
        value = self.data.get(key)
        if value is None:
            if default is REQUIRED:
                raise self.fail("missing required key", key)
            return default
        return value

    def count(self, key: str, default: object = REQUIRED) -> int:
        """A positive integer."""
        value = self.value(key, default)
        if not is_size(value):
            raise self.fail(f"expected a positive integer up to {MAX_SIZE}, got {value!r}", key)
        return value

    def flag(self, key: str, default: bool) -> bool:
        """A boolean."""
        value = self.value(key, default)
        if not isinstance(value, bool):
            raise self.fail(f"expected true or false, got {value!r}", key)
        return value

    def choice(self, key: str, default: object, choices: dict, what: str) -> str:
        """A string value that is a key of `choices`; `what` names it in the error."""
        value = self.value(key, default)
        if not isinstance(value, str) or value not in choices:
            raise self.fail(f"unsupported {what} {value!r}; supported: {', '.join(choices)}", key)
        return value

    def activation(self, key: str, default: str) -> str:
        """An activation function the zoo knows."""
        return ACTIVATIONS[self.choice(key, default, ACTIVATIONS, "activation")]

    def heads(self, heads_key: str, hidden_key: str, kv_key: str | None = None) -> tuple[int, int]:
        """(attention heads, key/value heads), checked to divide the hidden size and each other."""
        hidden, heads = self.count(hidden_key), self.count(heads_key)
        kv_heads = self.count(kv_key, heads) if kv_key else heads
        if hidden % heads:
            raise self.fail(f"{heads} heads must divide {hidden_key}={hidden}", heads_key)
        if heads % kv_heads:
            raise self.fail(f"{kv_heads} must divide {heads_key}={heads}", kv_key)
        return heads, kv_heads


def _seq_len(seq_len: int | None, max_positions: int) -> int:
    """The requested sequence length, or min(max positions, DEFAULT_MAX_SEQ_LEN)."""
    return seq_len or min(max_positions, DEFAULT_MAX_SEQ_LEN)


def _gpt2_graph(cfg: _Config, name: str, batch: int, precision: str, seq_len: int | None,
          past: int | None) -> Graph:
    """GPT-2 family: fused qkv, learned positions, pre-LayerNorm, head tied to wte by default."""
    hidden, (heads, _) = cfg.count("n_embd"), cfg.heads("n_head", "n_embd")
    spec = TransformerSpec(layers=cfg.count("n_layer"), hidden=hidden, heads=heads,
                           ffn=cfg.count("n_inner", 4 * hidden),
                           act=cfg.activation("activation_function", "gelu_new"), fused_qkv=True)
    positions = cfg.count("n_positions")
    return _gpt(name, spec, positions, batch, precision, _seq_len(seq_len, positions), past,
                cfg.count("vocab_size"), cfg.flag("tie_word_embeddings", True))


def _llama_spec(cfg: _Config, model_type: str) -> TransformerSpec:
    """The layer stack of a LLaMA-family config, with each family's departures from LLaMA."""
    heads, kv_heads = cfg.heads("num_attention_heads", "hidden_size", "num_key_value_heads")
    hidden = cfg.count("hidden_size")
    head_size = cfg.count("head_dim", hidden // heads)
    if head_size != hidden // heads and model_type != "gemma":
        raise cfg.fail(f"only hidden_size / num_attention_heads = {hidden // heads} is supported",
                       "head_dim")
    for key in ("attention_bias", "mlp_bias"):
        if cfg.flag(key, False):
            raise cfg.fail("biased projections are not supported", key)
    windowed = model_type in WINDOWED and cfg.value("sliding_window", None) is not None
    window = cfg.count("sliding_window") if windowed else None
    if model_type == "qwen2" and cfg.flag("use_sliding_window", False):
        raise cfg.fail("Qwen2's per-layer sliding windows (max_window_layers) are not modeled",
                       "use_sliding_window")
    act = cfg.activation("hidden_act", "gelu" if model_type == "gemma" else "silu")
    if model_type == "gemma":
        act = cfg.activation("hidden_activation", act)
    experts = cfg.count("num_local_experts") if model_type == "mixtral" else 0
    top_k = cfg.count("num_experts_per_tok") if experts else 0
    if top_k > experts:
        raise cfg.fail(f"must be at most num_local_experts={experts}", "num_experts_per_tok")
    return TransformerSpec(layers=cfg.count("num_hidden_layers"), hidden=hidden, heads=heads,
                           ffn=cfg.count("intermediate_size"), kv_heads=kv_heads, norm="rmsnorm",
                           act=act, gated=True, bias=False, rope=True,
                           fused_qkv=model_type == "phi3",
                           attn_bias=(True, True, True, False) if model_type == "qwen2" else None,
                           head_size=head_size if head_size != hidden // heads else None,
                           window=window, experts=experts, top_k=top_k)


def _llama_graph(cfg: _Config, name: str, batch: int, precision: str, seq_len: int | None,
                 past: int | None) -> Graph:
    """LLaMA family: RMSNorm, rotary positions, gated MLP, no biases, untied head by default."""
    model_type = cfg.data["model_type"]
    spec = _llama_spec(cfg, model_type)
    positions = cfg.count("max_position_embeddings")
    return _llama(name, spec, positions, batch, precision, _seq_len(seq_len, positions), past,
                  cfg.count("vocab_size"), cfg.flag("tie_word_embeddings", model_type == "gemma"))


def _bert_graph(cfg: _Config, name: str, batch: int, precision: str, seq_len: int | None,
          past: int | None) -> Graph:
    """BERT family: post-LayerNorm encoder with word, position and token-type embeddings and a pooler."""
    if past:
        raise cfg.fail("an encoder has no KV cache; only decoders take past", "past")
    heads, _ = cfg.heads("num_attention_heads", "hidden_size")
    spec = TransformerSpec(layers=cfg.count("num_hidden_layers"), hidden=cfg.count("hidden_size"),
                           heads=heads, ffn=cfg.count("intermediate_size"), pre_norm=False,
                           act=cfg.activation("hidden_act", "gelu"))
    positions = cfg.count("max_position_embeddings")
    return _bert(name, spec, batch, precision, _seq_len(seq_len, positions), cfg.count("vocab_size"),
                 positions, cfg.count("type_vocab_size", 2))


WINDOWED = ("mistral", "mixtral", "phi3")     # model types whose `sliding_window` caps attention
FAMILIES: dict[str, Callable[..., Graph]] = {
    "gpt2": _gpt2_graph,
    **{model_type: _llama_graph for model_type in ("llama", "mistral", "mixtral", "qwen2", "gemma", "phi3")},
    "bert": _bert_graph}


def import_hf_config(path: str | Path, *, batch: int = 1, precision: str = "fp16",
                     seq_len: int | None = None, past: int | None = None) -> Graph:
    """Build the network a HuggingFace config.json (or a folder holding one) describes."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    zoo.check_positive("batch", batch)
    zoo.check_precision(precision)
    for key, value in (("seq_len", seq_len), ("past", past)):
        if value is not None and not (key == "seq_len" and is_lengths(value)):
            zoo.check_positive(key, value)
    data = read_json(path, str(path), WorkloadError)
    if not isinstance(data, dict):
        raise WorkloadError("expected a JSON object", file=str(path))
    cfg = _Config(str(path), data)
    model_type = cfg.choice("model_type", REQUIRED, FAMILIES, "model_type")
    name = path.resolve().parent.name if path.name == "config.json" else path.stem
    try:
        return FAMILIES[model_type](cfg, name, batch, precision, seq_len, past)
    except WorkloadError as exc:     # from the zoo's builders, which know no file
        raise WorkloadError(exc.message, file=exc.file or cfg.file, line=exc.line,
                            key=exc.key) from None
