"""Multi-device training: Megatron tensor parallelism, 1F1B pipelines, ZeRO memory, published runs."""

from __future__ import annotations

import pytest

from accelsim import api
from accelsim.devices import interconnect as ic
from accelsim.engine.parallel import (BUCKET_BYTES, parse_parallel, pipeline_stages, simulate_parallel,
                                      zero_memory)
from accelsim.engine.tensor_parallel import shard_graph, tensor_parallel_all_reduces, tensor_parallel_roles
from accelsim.errors import UsageError
from accelsim.workload.trace import MemoryBreakdown
from accelsim.workload.zoo import build

GPT2 = {"seq_len": 128}


def gpt2_run(parallel: str, devices: int, **options):
    """A small GPT-2 training step on A100s."""
    return simulate_parallel("gpt2", "a100", devices=devices, parallel=parallel, **GPT2, **options)


# -- tensor parallelism -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["gpt2", "llama2_7b"])
def test_each_transformer_layer_all_reduces_twice_forward_and_twice_backward(name):
    graph = build(name, batch=2, seq_len=64)
    b, s, h = 2, 64, graph.info("hidden")
    layer = {op: size for op, size in tensor_parallel_all_reduces(graph).items()
             if op.startswith("decoder.5.")}
    forward = [f for f, _ in layer.values() if f]
    backward = [g for _, g in layer.values() if g]
    assert forward == [b * s * h * 2] * 2 and backward == [b * s * h * 2] * 2   # fp16 activations


def test_megatron_roles_of_a_gpt_layer():
    roles = tensor_parallel_roles(build("gpt2", seq_len=64))
    layer = {op.split(".", 2)[2]: role for op, role in roles.items() if op.startswith("decoder.0.")}
    assert layer == {"norm1": "replicated", "attn.qkv": "column", "attn.scores": "split",
                     "attn.softmax": "split", "attn.context": "split", "attn.out": "row",
                     "add1": "replicated", "norm2": "replicated", "mlp.fc1": "column",
                     "mlp.act": "split", "mlp.fc2": "row", "add2": "replicated"}
    assert roles["embed.wte"] == "vocab" and roles["lm_head"] == "column"


@pytest.mark.parametrize("tp", [2, 4])
def test_sharding_divides_gemm_work_and_weights_by_tp(tp):
    graph = build("gpt2", batch=2, seq_len=64)
    shard = shard_graph(graph, tp)
    roles = tensor_parallel_roles(graph)
    for full, part in zip(graph.ops, shard.ops):
        role = roles[full.name]
        if role == "replicated":
            assert part == full
        elif full.gemm is not None and full.name != "lm_head":     # 50257 rows do not divide
            assert part.macs * tp == full.macs
        if role == "column" and full.name != "lm_head":
            assert part.weight_bytes * tp == full.weight_bytes


def test_row_parallel_gemms_keep_their_bias_and_output_whole():
    shard = {op.name: op for op in shard_graph(build("gpt2", seq_len=64), 4).ops}
    out = shard["decoder.0.attn.out"]
    assert out.gemm.k == 768 // 4 and out.outputs[0].shape == (1, 64, 768)
    assert [w.shape for w in out.weights] == [(768, 192), (768,)]


@pytest.mark.parametrize("tp", [2, 8])
def test_decode_attention_reads_a_tp_th_of_the_kv_cache(tp):
    # one decode token over `past` cached ones: each device holds kv_heads / tp heads of K and V
    past, graph = 300, build("llama3_8b", seq_len=1, past=300)
    head_dim = graph.info("hidden") // graph.info("heads")
    kv_bytes = past * graph.info("kv_heads") // tp * head_dim * 2           # fp16
    shard = {op.name: op for op in shard_graph(graph, tp).ops}
    caches = [t for t in shard["decoder.0.attn.scores"].inputs if t.name.endswith("k_cache")]
    assert [t.bytes for t in caches] == [kv_bytes]


def test_serving_shards_before_the_stack_fuses():
    # the compiled stack fuses the gate activation into `up` and the residual add into `down`;
    # sharded first, every weight GEMM of a layer does 1/tp of its MACs and a layer all-reduces
    # twice (Megatron), as under the eager stack
    from accelsim.engine.iteration_cost import IterationCost
    from accelsim.engine.single import load_device

    device, tp = load_device("a100", ()), 4
    cost = IterationCost("llama3_8b", device, "fp16", tp=tp, cluster=ic.default_cluster(device))
    whole = {op.name: op for op in build("llama3_8b", seq_len=64).ops}
    shard = [op for op in cost.graph(1, 64).ops if op.name.startswith("decoder.0.") and op.weights]
    assert {op.name.rsplit(".", 1)[1] for op in shard} >= {"q", "k", "v", "out", "gate", "up", "down"}
    for op in shard:
        assert op.macs * tp == whole[op.name].macs, op.name
    gemms = {op.name.rsplit(".", 1)[1]: op.gemm for op in shard}
    ffn = whole["decoder.0.mlp.up"].gemm.n
    assert (gemms["up"].n, gemms["down"].k, gemms["down"].n) == (ffn // tp, ffn // tp, 4096)


# -- pipeline parallelism ---------------------------------------------------------------------

def test_bubble_fraction_and_step_time_of_1f1b():
    result = gpt2_run("pp=4", 4, global_batch=8)
    m, p = 8, 4
    assert result.config.micro_batches == m
    assert result["bubble_fraction"] == pytest.approx((p - 1) / (m + p - 1))
    slot = max(stage.slot_s for stage in result.stages)
    tail = max(stage.data_comm_exposed_s + stage.optimizer_s for stage in result.stages)
    # the event engine's step (cluster_sim): the closed form bounds it from above (unequal stages,
    # sends that the closed form charges to both neighbours); tests/test_cluster_sim.py holds it
    # equal to the closed form for equal stages
    assert m * slot < result["step_time_s"] <= (m + p - 1) * slot + tail
    assert result["time_breakdown_s"]["bubble"] == pytest.approx((p - 1) * slot)


def test_stages_hold_the_activations_of_their_in_flight_micro_batches():
    result = gpt2_run("pp=4", 4, global_batch=8)
    assert [stage.in_flight for stage in result.stages] == [4, 3, 2, 1]
    few = gpt2_run("pp=4", 4, global_batch=2)
    assert [stage.in_flight for stage in few.stages] == [2, 2, 2, 1]


def test_stages_are_contiguous_and_balanced():
    graph = build("gpt2", seq_len=64)
    seconds = {op.name: float(op.flops) for op in graph.ops}
    starts = pipeline_stages(graph.ops, 4, seconds)
    loads = [sum(seconds[op.name] for op in graph.ops[a:b])
             for a, b in zip(starts, starts[1:] + [len(graph.ops)])]
    assert starts[0] == 0 and starts == sorted(set(starts))
    assert max(loads) < 1.25 * sum(loads) / 4


def test_more_stages_than_layer_boundaries_is_an_error():
    with pytest.raises(UsageError, match="layer boundaries"):
        pipeline_stages(build("gpt2", seq_len=64).ops, 1000, {})


def test_checkpointing_trades_activation_memory_for_recompute_and_all_reduces():
    plain, recompute = (gpt2_run("tp=2,pp=2", 4, global_batch=4, checkpoint=flag) for flag in
                        (False, True))
    assert recompute.worst_stage.memory.activations < plain.worst_stage.memory.activations
    for before, after in zip(plain.stages, recompute.stages):
        assert after.backward_s > before.backward_s and after.tensor_comm_s > before.tensor_comm_s
    assert recompute["mfu"] < plain["mfu"]


# -- data parallelism and ZeRO ----------------------------------------------------------------

@pytest.mark.parametrize("stage, gigabytes", [(0, 120), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_memory_matches_rajbhandari_figure_1(stage, gigabytes):
    # ZeRO (Rajbhandari et al. 2020), Figure 1: 7.5B parameters, 64 GPUs, K = 12 for mixed-precision
    # Adam: (2 + 2 + K) psi baseline; 2 psi + 2 psi + K psi / Nd; 2 psi + (2 + K) psi / Nd; (2+2+K) psi / Nd
    psi = 7.5e9
    states = MemoryBreakdown(weights=2 * psi, gradients=2 * psi, optimizer_state=12 * psi)
    assert zero_memory(states, 64, stage).total / 1e9 == pytest.approx(gigabytes, abs=0.05)


def test_zero_shards_a_real_model_over_dp():
    base = gpt2_run("dp=4", 4, global_batch=4).worst_stage.memory
    for zero, sharded in ((1, "optimizer_state"), (2, "gradients"), (3, "weights")):
        memory = gpt2_run(f"dp=4,zero={zero}", 4, global_batch=4).worst_stage.memory
        assert getattr(memory, sharded) == pytest.approx(getattr(base, sharded) / 4)
        assert memory.activations == base.activations


def test_gradient_all_reduce_hides_behind_backward_except_the_last_bucket():
    result = simulate_parallel("resnet50", "a100", devices=8, parallel="dp=8", batch=32,
                               interconnect="pcie4_x16")
    stage, link = result.stages[0], ic.default_cluster(api.load_device("a100"), "pcie4_x16")
    grads = stage.memory.gradients
    total = link.time("all_reduce", grads, 8)
    last = link.time("all_reduce", BUCKET_BYTES, 8)
    expected = max(0.0, total - last - stage.backward_s) + last
    assert stage.data_comm_exposed_s == pytest.approx(expected)


def test_replicas_are_aggregated_not_simulated_one_by_one():
    small = gpt2_run("tp=2,pp=2,dp=2", 8, global_batch=16)
    large = gpt2_run("tp=2,pp=2,dp=256", 1024, global_batch=2048)
    assert small.config.micro_batches == large.config.micro_batches == 8
    assert [s.forward_s for s in small.stages] == [s.forward_s for s in large.stages]
    # 128x the samples per step; each 25 MiB bucket's all-reduce over 64 nodes pays its own ring
    # latency (2 x 63 steps) on the event engine, so the step grows by a few bucket latencies
    assert large["samples_per_s"] > 64 * small["samples_per_s"]


# -- published runs ---------------------------------------------------------------------------

def test_gpt3_on_1024_a100s_matches_megatron_within_a_generous_band():
    # Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using
    # Megatron-LM", SC21: GPT-3 175B on 1024 A100s (tp=8, pp=16, batch 1536) sustains ~140 TFLOP/s
    # per GPU (~45% of 312) and would train on 300B tokens in ~34 days.
    result = api.simulate("gpt3_175b", "a100", mode="training", devices=1024,
                          parallel="tp=8,pp=16,dp=8", tokens=300e9)
    assert 0.30 <= result["mfu"] <= 0.70
    assert 34 / 2 <= result["time_to_train_days"] <= 34 * 2
    assert result["fits_in_memory"]
    assert result["tokens_per_step"] == 1536 * 2048
    # model FLOPs ~ 6 N D plus attention (Kaplan et al. 2020)
    six_nd = 6 * 175e9 * 1536 * 2048
    assert 1.0 <= result["model_flops_per_step"] / six_nd <= 1.1


def test_resnet50_data_parallel_on_8_gpus_is_compute_bound():
    result = api.simulate("resnet50", "a100", mode="training", devices=8, batch=64,
                          tokens=90 * 1_281_167)
    assert result.config.dp == 8 and result["samples_per_step"] == 8 * 64
    assert result["comm_exposed_s"]["data"] < 0.05 * result["step_time_s"]
    assert result["time_to_train_s"] == pytest.approx(
        90 * 1_281_167 / result["samples_per_step"] * result["step_time_s"])
    assert set(result.to_dict()) >= {"schema_version", "totals", "memory", "stages", "parallel"}


# -- arguments --------------------------------------------------------------------------------

def test_parse_parallel():
    assert parse_parallel("tp=8, pp=16,dp=8,zero=1") == {"tp": 8, "pp": 16, "dp": 8, "zero": 1}
    with pytest.raises(UsageError, match="unknown axis 'cp'"):
        parse_parallel("cp=2")
    with pytest.raises(UsageError, match="integer"):
        parse_parallel("tp=x")


@pytest.mark.parametrize("kwargs, message", [
    ({"devices": 8, "parallel": "tp=2,pp=2,dp=4"}, "devices = 8"),
    ({"devices": 4, "parallel": "dp=4", "global_batch": 6}, "multiple of dp"),
    ({"devices": 4, "parallel": "dp=4,zero=4"}, "zero"),
])
def test_bad_layouts_are_usage_errors(kwargs, message):
    with pytest.raises(UsageError, match=message):
        simulate_parallel("gpt2", "a100", **GPT2, **kwargs)


def test_multi_device_inference_is_refused():
    with pytest.raises(UsageError, match="training"):
        api.simulate("gpt2", "a100", devices=8)
