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


# -- expert parallelism in serving -----------------------------------------------------------

DENSE_PARAMS = (LAYERS * (HIDDEN * (HEADS + 2 * KV_HEADS) * (HIDDEN // HEADS)   # q, k, v
                          + HIDDEN * HIDDEN                                      # o
                          + HIDDEN * EXPERTS                                     # router
                          + 2 * HIDDEN)                                          # two RMSNorms
                + HIDDEN + 2 * VOCAB * HIDDEN)            # final norm, embedding, untied LM head
EXPERT_PARAMS = LAYERS * EXPERTS * 3 * HIDDEN * FFN
KV_PER_TOKEN = 2 * LAYERS * KV_HEADS * (HIDDEN // HEADS) * FP16


def _setup(tp=1, ep=1, **options):
    from accelsim.engine.serve_load import prepare_serving

    return prepare_serving("mixtral_8x7b", "h100", tp=tp, ep=ep, **options)


def _offline(count: int, tp=1, ep=1, prompt=128, output=32):
    """Totals of `count` requests arriving at once."""
    import numpy as np

    from accelsim.engine.serve_load import run_load
    from accelsim.workload.requests import Requests

    requests = Requests(np.zeros(count), np.full(count, prompt), np.full(count, output))
    return run_load(_setup(tp, ep), requests).totals


def test_published_parameter_count():
    assert DENSE_PARAMS + EXPERT_PARAMS == build("mixtral_8x7b", seq_len=1).params
    assert (DENSE_PARAMS + EXPERT_PARAMS) / 1e9 == pytest.approx(46.7, abs=0.05)   # Mistral AI


def test_each_device_holds_the_dense_weights_and_an_ep_th_of_the_experts():
    setup = _setup(ep=8)
    assert setup.cost.weight_bytes == (DENSE_PARAMS + EXPERT_PARAMS / 8) * FP16     # ~14.5 GB
    assert setup.cost.kv_bytes_per_token == KV_PER_TOKEN                  # its own sequences
    # the KV pool fills what weights and the largest iteration's activations leave
    free = 0.9 * setup.device.memory.capacity - setup.cost.weight_bytes \
        - setup.cost.activation_bytes(setup.token_budget)
    assert setup.blocks == int(free // (KV_PER_TOKEN * setup.block_size))
    assert _setup(tp=2, ep=4).cost.weight_bytes == (DENSE_PARAMS + EXPERT_PARAMS / 4) * FP16 / 2


def test_all_to_all_bytes_and_time_per_moe_layer(tmp_path):
    from accelsim.config.interconnect import load_interconnect
    from accelsim.devices.interconnect import Cluster
    from accelsim.engine.iteration_cost import IterationCost
    from accelsim.engine.single import load_device

    bandwidth, latency, ep, tokens = 100e9, 2e-6, 8, 40
    link = tmp_path / "toy.yaml"
    link.write_text("kind: interconnect\nname: toy\nbandwidth: 100 GB/s\nlatency: 2 us\n"
                    "topology: switch\n")
    cost = IterationCost("mixtral_8x7b", load_device("h100", ()), "fp16",
                         cluster=Cluster(intra=load_interconnect(link)), ep=ep)
    buffer = tokens * TOP_K * HIDDEN * FP16        # each token's hidden vector to its 2 experts
    wire = buffer * (ep - 1) / ep                  # the share for the other ranks crosses links
    per_layer = 2 * (wire / bandwidth + (ep - 1) * latency)      # dispatch + combine, alpha-beta
    assert cost.all_to_all(tokens) == pytest.approx(LAYERS * per_layer)


def test_one_decode_iteration_on_eight_h100s_with_ep8():
    setup = _setup(ep=8)
    cost, bandwidth = setup.cost, setup.device.memory.bandwidth
    per_rank, context = 8, 513
    seconds, _, exchange = cost.group_iteration([((), per_rank, per_rank * context)] * 8)
    tokens = 8 * per_rank
    touched = 1 - (1 - TOP_K / EXPERTS) ** tokens          # E[distinct experts] / E
    experts = EXPERT_PARAMS / 8 * FP16 * touched / bandwidth
    rank = (DENSE_PARAMS * FP16 + per_rank * context * KV_PER_TOKEN) / bandwidth
    assert exchange == pytest.approx(cost.all_to_all(per_rank))
    assert exchange > 0
    # memory bound: at least every byte read at the HBM's peak, and within 2.5x of it
    assert rank + experts + exchange < seconds < 2.5 * (rank + experts) + exchange
    # an idle rank waits for the others; the busiest one sets the all-to-all buffer
    lopsided, _, skewed = cost.group_iteration([((), tokens, tokens * context)] + [((), 0, 0)] * 7)
    assert lopsided > seconds and skewed == pytest.approx(cost.all_to_all(tokens))


def test_ep1_is_the_plain_run():
    from accelsim.engine.serve_load import prepare_serving, run_load
    from accelsim.workload.requests import synthetic_requests

    requests = synthetic_requests(24, 4.0, seed=3, prompt="64", output="16")
    plain = run_load(prepare_serving("mixtral_8x7b", "h100", tp=2), requests)
    ep1 = run_load(_setup(tp=2, ep=1), requests)
    assert ep1.totals == plain.totals and ep1.config["ep"] == 1


def test_ep8_outserves_tp8_under_load_and_tp8_answers_one_request_faster():
    tp8, ep8 = _offline(512, tp=8), _offline(512, ep=8)
    # each of the 8 attention ranks batches its own 256 requests against tp=8's one batch of 256
    assert ep8["mean_batch_size"] > 1.5 * tp8["mean_batch_size"]
    assert ep8["tokens_per_s"] > 1.5 * tp8["tokens_per_s"]
    assert 0 < ep8["all_to_all_share"] < 0.5 and ep8["devices"] == 8
    alone_tp8, alone_ep8 = _offline(1, tp=8), _offline(1, ep=8)
    # one token per step: tp splits every weight 8 ways, ep only the experts
    assert alone_tp8["tbt_p50_s"] < alone_ep8["tbt_p50_s"]


@pytest.mark.parametrize("args, fragments", [
    (("mixtral_8x7b", "--ep", "3"), ("ep=3 must divide the 8 experts",)),
    (("llama2_7b", "--ep", "2"), ("no mixture-of-experts",)),
    (("mixtral_8x7b", "--ep", "0"), ("--ep",)),
])
def test_impossible_serving_expert_parallelism_is_refused(args, fragments):
    from tests.hostile.cli import accelsim, assert_clean_error

    assert_clean_error(accelsim("serve", *args, "--device", "h100", "--qps", "1"), *fragments)


@pytest.mark.parametrize("args, fragment", [
    (("--mode", "serve", "--devices", "8", "--parallel", "ep=8"), "accelsim serve --tp T --ep E"),
    (("--mode", "inference", "--devices", "4", "--parallel", "dp=8,ep=8"), "multi-device"),
    (("--mode", "training", "--devices", "4", "--parallel", "dp=8,ep=8"), "devices = 4"),
    (("--mode", "training", "--devices", "4", "--parallel", "dp=4,ep=8"), "must divide dp=4"),
])
def test_run_refuses_expert_parallel_inference_and_mismatched_devices(args, fragment):
    from tests.hostile.cli import accelsim, assert_clean_error

    assert_clean_error(accelsim("run", "mixtral_8x7b", "--device", "h100", *args, "--param",
                                "seq_len=32"), fragment)
