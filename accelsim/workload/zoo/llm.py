"""Decoder-only language models: GPT-2 small, GPT-3 175B, Megatron-LM's GPT of any size, Llama-2 7B,
Llama-3 8B, Llama-3.1 70B and 405B, Qwen2 7B and Mixtral 8x7B (full-sequence forward).

Attention is counted over the full S x S score matrix (no causal halving). GPT-3's alternating
locally banded sparse layers are modeled as dense, as in its parameter and FLOP accounting.
"""

from __future__ import annotations

from dataclasses import replace

from accelsim.errors import WorkloadError
from accelsim.workload.ir import Graph
from accelsim.workload.zoo._builder import NetBuilder
from accelsim.workload.zoo._transformer import TransformerSpec, transformer_stack
from accelsim.workload.seqlen import shape

GPT2_VOCAB = 50257
MEGATRON_VOCAB = 51200      # Narayanan et al. SC21 Section 5.1: "vocabulary size of 51,200"
MEGATRON_CONTEXT = 2048     # ... "and a sequence length of 2048"
GPT2 = TransformerSpec(layers=12, hidden=768, heads=12, ffn=3072, fused_qkv=True)
GPT3_175B = TransformerSpec(layers=96, hidden=12288, heads=96, ffn=4 * 12288, fused_qkv=True)
LLAMA_VOCAB = 32000
LLAMA2_7B = TransformerSpec(layers=32, hidden=4096, heads=32, kv_heads=32, ffn=11008, norm="rmsnorm",
                            act="silu", gated=True, bias=False, rope=True)
# HF configs: meta-llama/Meta-Llama-3-8B, Qwen/Qwen2-7B, mistralai/Mixtral-8x7B-v0.1 (config.json).
LLAMA3_VOCAB = 128256
LLAMA3_8B = replace(LLAMA2_7B, kv_heads=8, ffn=14336)
# HF configs meta-llama/Llama-3.1-70B and Llama-3.1-405B (config.json); 131072 positions (rope scaling)
LLAMA31_70B = replace(LLAMA3_8B, layers=80, hidden=8192, heads=64, ffn=28672)
LLAMA31_405B = replace(LLAMA3_8B, layers=126, hidden=16384, heads=128, ffn=53248)
LLAMA31_POSITIONS = 131072
QWEN2_VOCAB = 152064
QWEN2_7B = replace(LLAMA2_7B, layers=28, hidden=3584, heads=28, kv_heads=4, ffn=18944,
                   attn_bias=(True, True, True, False))
MIXTRAL_8X7B = replace(LLAMA2_7B, kv_heads=8, ffn=14336, experts=8, top_k=2)


def _gpt(name: str, spec: TransformerSpec, max_positions: int, batch: int, precision: str,
         seq_len: int, past: int | None, vocab: int = GPT2_VOCAB, tied: bool = True) -> Graph:
    """GPT-2-style decoder: learned positions, pre-norm layers, final norm, head (tied to wte)."""
    seq = shape(seq_len, max_positions, past or 0)
    b = NetBuilder(name, batch, precision)
    ids = b.input((batch, seq.tokens), "input_ids", "int32")
    positions = b.input((seq.tokens,), "position_ids", "int32")
    x = b.add("embed.add", b.embedding("embed.wte", ids, vocab, spec.hidden),
              b.embedding("embed.wpe", positions, max_positions, spec.hidden))
    x = b.norm("norm", transformer_stack(b, "decoder", x, spec, past or 0, keys=seq.keys))
    b.linear("lm_head", x, vocab, bias=False, weight=b.table("embed.wte") if tied else None)
    return b.graph(**spec.meta("decoder", seq.tokens, vocab), max_positions=max_positions,
                   tied_embeddings=tied, past=past or 0, **seq.meta)


def gpt2(batch: int = 1, precision: str = "fp16", seq_len: int = 1024,
         past: int | None = None) -> Graph:
    """GPT-2 small (Radford et al. 2019), 124M parameters with tied input/output embeddings.

    past: tokens already in the KV cache that the `seq_len` new ones attend to (decoding)."""
    return _gpt("gpt2", GPT2, 1024, batch, precision, seq_len, past)


def gpt3_175b(batch: int = 1, precision: str = "fp16", seq_len: int = 2048,
              past: int | None = None) -> Graph:
    """GPT-3 175B (Brown et al. 2020, Table 2.1): 96 layers, d=12288, 96 heads, context 2048.

    past: tokens already in the KV cache that the `seq_len` new ones attend to (decoding)."""
    return _gpt("gpt3_175b", GPT3_175B, 2048, batch, precision, seq_len, past)


def megatron_gpt(batch: int = 1, precision: str = "fp16", seq_len: int = MEGATRON_CONTEXT,
                 layers: int = 24, hidden: int = 2304, heads: int = 24) -> Graph:
    """A GPT of any size as Megatron-LM scales them (Narayanan et al. SC21, Table 1): 4h MLP,
    51,200-token vocabulary tied to the head, 2048 positions; defaults: the 1.7B row."""
    spec = TransformerSpec(layers=layers, hidden=hidden, heads=heads, ffn=4 * hidden, fused_qkv=True)
    return _gpt("megatron_gpt", spec, MEGATRON_CONTEXT, batch, precision, seq_len, None,
                vocab=MEGATRON_VOCAB)


def llama2_7b(batch: int = 1, precision: str = "fp16", seq_len: int = 4096, kv_heads: int = 32,
              past: int | None = None) -> Graph:
    """Llama-2 7B (Touvron et al. 2023): RMSNorm, rotary positions, SwiGLU MLP, untied head.

    `kv_heads` < 32 turns it into a grouped-query variant (as Llama-2 70B uses), for what-ifs.
    past: tokens already in the KV cache that the `seq_len` new ones attend to (decoding).
    """
    if LLAMA2_7B.heads % kv_heads:
        raise WorkloadError(f"must divide the {LLAMA2_7B.heads} query heads", key="kv_heads")
    return _llama("llama2_7b", replace(LLAMA2_7B, kv_heads=kv_heads), 4096, batch, precision,
                  seq_len, past, LLAMA_VOCAB)


def _llama(name: str, spec: TransformerSpec, max_positions: int, batch: int, precision: str,
           seq_len: int, past: int | None, vocab: int, tied: bool = False) -> Graph:
    """Llama-style decoder: token embedding (rotary positions), pre-norm layers, final norm, head."""
    seq = shape(seq_len, max_positions, past or 0)
    b = NetBuilder(name, batch, precision)
    x = b.embedding("embed_tokens", b.input((batch, seq.tokens), "input_ids", "int32"), vocab,
                    spec.hidden)
    x = b.norm("norm", transformer_stack(b, "decoder", x, spec, past or 0, keys=seq.keys), spec.norm)
    b.linear("lm_head", x, vocab, bias=False, weight=b.table("embed_tokens") if tied else None)
    return b.graph(**spec.meta("decoder", seq.tokens, vocab), max_positions=max_positions,
                   tied_embeddings=tied, past=past or 0, **seq.meta)


def llama3_8b(batch: int = 1, precision: str = "fp16", seq_len: int = 8192,
              past: int | None = None) -> Graph:
    """Llama-3 8B (Meta 2024): grouped-query attention (32 query, 8 key/value heads), 128256 vocab.

    past: tokens already in the KV cache that the `seq_len` new ones attend to (decoding)."""
    return _llama("llama3_8b", LLAMA3_8B, 8192, batch, precision, seq_len, past, LLAMA3_VOCAB)


def llama31_70b(batch: int = 1, precision: str = "fp16", seq_len: int = 8192,
                past: int | None = None) -> Graph:
    """Llama-3.1 70B (Meta 2024): 80 layers, d=8192, 64 query and 8 key/value heads, 131072 positions.

    seq_len defaults to 8192, the pre-training context. past: tokens already in the KV cache."""
    return _llama("llama31_70b", LLAMA31_70B, LLAMA31_POSITIONS, batch, precision, seq_len, past,
                  LLAMA3_VOCAB)


def llama31_405b(batch: int = 1, precision: str = "fp16", seq_len: int = 8192,
                 past: int | None = None) -> Graph:
    """Llama-3.1 405B (Meta 2024): 126 layers, d=16384, 128 query and 8 key/value heads.

    seq_len defaults to 8192, the pre-training context. past: tokens already in the KV cache."""
    return _llama("llama31_405b", LLAMA31_405B, LLAMA31_POSITIONS, batch, precision, seq_len, past,
                  LLAMA3_VOCAB)


def qwen2_7b(batch: int = 1, precision: str = "fp16", seq_len: int = 32768,
             past: int | None = None) -> Graph:
    """Qwen2 7B (Qwen team 2024): biased q/k/v projections, 28 query and 4 key/value heads.

    Positions up to 131072 (its config.json); seq_len defaults to the 32768 it was trained at.
    past: tokens already in the KV cache that the `seq_len` new ones attend to (decoding)."""
    return _llama("qwen2_7b", QWEN2_7B, 131072, batch, precision, seq_len, past, QWEN2_VOCAB)


def mixtral_8x7b(batch: int = 1, precision: str = "fp16", seq_len: int = 32768,
                 past: int | None = None) -> Graph:
    """Mixtral 8x7B (Jiang et al. 2024): a Mistral decoder whose MLPs are 8 experts, top-2 routed.

    past: tokens already in the KV cache that the `seq_len` new ones attend to (decoding)."""
    return _llama("mixtral_8x7b", MIXTRAL_8X7B, 32768, batch, precision, seq_len, past, LLAMA_VOCAB)
