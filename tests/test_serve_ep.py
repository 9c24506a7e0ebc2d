"""Mixture-of-experts across devices: tensor-parallel experts (Megatron-LM/vLLM sharding) and
expert parallelism in serving (DP attention + EP, as vLLM, SGLang and DeepSeek deploy it).

Closed forms use Mixtral 8x7B's published config.json (mistralai/Mixtral-8x7B-v0.1): hidden 4096,
intermediate 14336, 32 layers, 32 heads, 8 KV heads, 8 local experts, top-2, vocab 32000."""

from __future__ import annotations

import pytest

from accelsim.engine.tensor_parallel import (shard_graph, tensor_parallel_all_reduces,
                                             tensor_parallel_roles)
from accelsim.workload.zoo import build

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS, EXPERTS, TOP_K, VOCAB = 4096, 14336, 32, 32, 8, 8, 2, 32000
FP16 = 2


def _layer0(graph, suffix: str):
    """Decoder layer 0's op whose name ends in `suffix`."""
    return next(op for op in graph.ops if op.name == f"decoder.0.{suffix}")


# -- tensor parallelism inside a MoE block ---------------------------------------------------

def test_router_is_replicated_and_experts_split_over_ffn():
    roles = tensor_parallel_roles(build("mixtral_8x7b", seq_len=16))
    assert roles["decoder.0.mlp.experts.router"] == "replicated"
    assert roles["decoder.0.mlp.experts.router_softmax"] == "replicated"
    assert roles["decoder.0.mlp.experts"] == "experts"


@pytest.mark.parametrize("tp", [2, 8])
def test_tensor_parallel_expert_macs_and_weights_per_rank(tp):
    tokens = 16
    shard = shard_graph(build("mixtral_8x7b", seq_len=tokens), tp)
    experts, router = _layer0(shard, "mlp.experts"), _layer0(shard, "mlp.experts.router")
    # gate, up and down of the top-2 experts of every token, each over ffn / tp columns
    assert experts.macs == tokens * TOP_K * 3 * HIDDEN * FFN // tp
    assert experts.gemm.k == HIDDEN and experts.gemm.n == FFN // tp
    assert [w.shape for w in experts.weights] == [(EXPERTS, FFN // tp, HIDDEN)] * 2 + \
        [(EXPERTS, HIDDEN, FFN // tp)]
    stored = EXPERTS * 3 * HIDDEN * FFN // tp * FP16
    touched = 1 - (1 - TOP_K / EXPERTS) ** tokens             # each expert's chance to be picked
    assert experts.weight_bytes == pytest.approx(stored * touched)
    assert router.macs == tokens * HIDDEN * EXPERTS            # whole on every rank
    assert experts.outputs[0].shape == (1, tokens, HIDDEN)     # partial sums, all-reduced


def test_a_moe_layer_all_reduces_once_after_attention_and_once_after_the_experts():
    tokens = 16
    reduces = {name: forward for name, (forward, _) in
               tensor_parallel_all_reduces(build("mixtral_8x7b", seq_len=tokens)).items()
               if name.startswith("decoder.3.") and forward}
    assert reduces == {"decoder.3.attn.out": tokens * HIDDEN * FP16,
                       "decoder.3.mlp.experts": tokens * HIDDEN * FP16}
