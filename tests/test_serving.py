"""LLM serving: KV-cache closed forms, memory-bound decode, a published decode rate, the traces."""

from __future__ import annotations

import pytest

from accelsim import api
from accelsim.engine.serving import simulate_serving
from accelsim.errors import UsageError, WorkloadError
from accelsim.workload.ir import Phase
from accelsim.workload.serving import decode_pasts, decode_trace, kv_cache_bytes, prefill_trace
from accelsim.workload.zoo import build

LLAMA_KV_PER_TOKEN = 2 * 32 * 32 * 128 * 2      # K and V x layers x kv_heads x head_dim x fp16 bytes


def serve(workload: str = "llama2_7b", **options):
    """A serving run on an A100."""
    return api.simulate(workload, "a100", mode="serve", **options)


def test_kv_cache_closed_form():
    graph = build("llama2_7b", batch=3, seq_len=1)
    assert kv_cache_bytes(graph, 1000) == LLAMA_KV_PER_TOKEN * 1000 * 3
    gqa = build("llama2_7b", seq_len=1, kv_heads=8)
    assert kv_cache_bytes(gqa, 1000) == LLAMA_KV_PER_TOKEN * 1000 / 4


def test_run_reports_the_serving_totals():
    result = serve(prompt=128, generate=256, batch=1)
    totals = result.totals
    assert {"ttft_s", "tpot_s", "decode_tokens_per_s", "kv_cache_bytes"} <= set(totals)
    assert totals["kv_cache_bytes"] == LLAMA_KV_PER_TOKEN * (128 + 256)
    assert totals["decode_tokens_per_s"] == pytest.approx(1 / totals["tpot_s"])
    assert totals["latency_s"] == pytest.approx(totals["ttft_s"] + 255 * totals["tpot_s"])
    assert result.memory["kv_cache"] == totals["kv_cache_bytes"]
    assert {layer.phase for layer in result.layers} == {"prefill", "decode"}


def test_ttft_is_the_prompts_forward_pass():
    prefill = serve(prompt=128, generate=2)["ttft_s"]
    assert prefill == pytest.approx(api.simulate("llama2_7b", "a100", seq_len=128)["latency_s"])


def test_decode_of_llama2_7b_on_a100_is_bound_by_hbm_bandwidth():
    result = serve(prompt=128, generate=256, batch=1)
    device = api.load_device("a100")
    weights = build("llama2_7b").param_bytes
    roofline = weights / (device.memory.bandwidth * device.memory.efficiency)
    decode = [layer for layer in result.layers if layer.phase == "decode"]
    assert all(layer.bound == "memory" for layer in decode if layer.kind == "matmul"
               and not layer.name.endswith(("scores", "context", "attention")))
    assert not any(layer.bound == "compute" for layer in decode)
    # weight traffic at the achievable HBM bandwidth, plus one kernel launch per decode op
    assert result["tpot_s"] >= roofline
    assert result["tpot_s"] == pytest.approx(roofline + len(decode) * device.launch_overhead,
                                             rel=0.15)


def test_long_context_attention_is_memory_bound_too():
    decode = [layer for layer in serve(prompt=2048, generate=2).layers
              if layer.phase == "decode" and layer.kind == "matmul"]
    assert decode and all(layer.bound == "memory" for layer in decode)


def test_decode_rate_matches_gpt_fast_on_a100():
    # pytorch-labs/gpt-fast README: Llama-2-7B, bf16, batch 1, 5-token prompt, torch.compile with
    # CUDA graphs on an A100-80GB (power-limited to 330 W): 104.9 tokens/s.
    result = simulate_serving("llama2_7b", "a100", prompt=5, generate=200, precision="bf16")
    assert result["decode_tokens_per_s"] == pytest.approx(104.9, rel=0.15)


def test_batching_amortises_the_weight_reads():
    one, many = serve(prompt=64, generate=32, batch=1), serve(prompt=64, generate=32, batch=16)
    assert many["tpot_s"] < 1.5 * one["tpot_s"]
    assert many["decode_tokens_per_s"] > 10 * one["decode_tokens_per_s"]


def test_sampled_decode_steps_integrate_like_every_step():
    sampled = simulate_serving("gpt2", "a100", prompt=100, generate=60)
    every = simulate_serving("gpt2", "a100", prompt=100, generate=60, decode_samples=10_000)
    assert sampled["decode_steps_costed"] == 8 and every["decode_steps_costed"] == 59
    for key in ("tpot_s", "flops", "dram_bytes", "energy_j"):
        assert sampled[key] == pytest.approx(every[key], rel=0.01)


def test_decode_pasts():
    assert decode_pasts(128, 5) == [128, 129, 130, 131]
    assert decode_pasts(128, 1) == []
    spread = decode_pasts(128, 256)
    assert len(spread) == 8 and (spread[0], spread[-1]) == (128, 128 + 254)


def test_traces_have_serving_phases_and_memory():
    prefill = prefill_trace(build("gpt2", batch=2, seq_len=16))
    assert {op.phase for op in prefill.ops} == {Phase.PREFILL}
    assert prefill.tokens_per_step == 32 and prefill.memory.kv_cache == kv_cache_bytes(
        build("gpt2", batch=2, seq_len=16), 16)
    step = decode_trace(build("gpt2", batch=2, seq_len=1, past=99))
    assert {op.phase for op in step.ops} == {Phase.DECODE} and step.tokens_per_step == 2
    assert step.memory.kv_cache == kv_cache_bytes(build("gpt2", batch=2, seq_len=1), 100)


def test_decode_step_attends_over_the_cache():
    ops = {op.name: op for op in build("llama2_7b", seq_len=1, past=499).ops}
    scores, context = ops["decoder.0.attn.scores"], ops["decoder.0.attn.context"]
    assert (scores.gemm.m, scores.gemm.n, scores.gemm.k) == (1, 500, 128)
    assert (context.gemm.m, context.gemm.n, context.gemm.k) == (1, 128, 500)
    cache = sum(t.bytes for op in (scores, context) for t in op.inputs if "cache" in t.name)
    assert cache == LLAMA_KV_PER_TOKEN / 32 * 499          # one layer's K and V


def test_cache_and_positions_bound_the_context():
    with pytest.raises(WorkloadError, match="1024"):
        build("gpt2", seq_len=1, past=1024)
    assert build("gpt2", seq_len=1, past=1023).info("past") == 1023


@pytest.mark.parametrize("workload, options, message", [
    ("resnet50", {}, "decoder"),
    (build("gpt2"), {}, "zoo name"),
    ("llama2_7b", {"seq_len": 64}, "prompt"),
    ("llama2_7b", {"generate": 0}, "generate"),
])
def test_bad_serving_requests(workload, options, message):
    with pytest.raises(UsageError, match=message):
        serve(workload, **options)
