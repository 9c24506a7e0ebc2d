"""Recomputation, sequence parallelism, interleaving and the training recipe against closed forms
and published runs."""

from __future__ import annotations

import pytest

from accelsim.calibrate.validate import CASES, EXTRA_CSV, validate
from accelsim.engine.grad_accumulation import with_accumulation
from accelsim.engine.parallel import simulate_parallel
from accelsim.engine.recompute import sequence_parallel, trace_checkpoint
from accelsim.engine.tensor_parallel import shard_graph
from accelsim.workload.dropout import with_dropout
from accelsim.workload.ir import Phase
from accelsim.workload.training import activation_parts, checkpoint_starts, training_trace
from accelsim.workload.zoo import build
from tests.hostile.cli import accelsim, assert_clean_error

S, H, A, B = 512, 256, 8, 2          # sequence, hidden, heads, micro-batch of the small GPTs


def gpt(layers: int):
    """A Megatron GPT of `layers` layers with its training dropouts, fp16."""
    return with_dropout(build("megatron_gpt", batch=B, seq_len=S, layers=layers, hidden=H,
                              heads=A))


def per_layer(checkpoint=False, tp=1, sp=False) -> float:
    """Activation bytes one more layer adds (the difference of a 3- and a 2-layer model)."""
    def activations(layers):
        graph = gpt(layers)
        shard = shard_graph(graph, tp)
        shard = sequence_parallel(graph, shard, tp) if sp else shard
        return training_trace(shard, checkpoint=checkpoint).memory.activations
    return activations(3) - activations(2)


# Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models":
# eq. 1 (no parallelism), eq. 2 (tensor parallel), eq. 4 (tp + sequence parallel) and Section 5
# (selective recomputation: the 5as/h term goes).
def test_activation_memory_per_layer_matches_korthikanti_without_recompute():
    assert per_layer() == pytest.approx(S * B * H * (34 + 5 * A * S / H))


@pytest.mark.parametrize("tp", [2, 4])
def test_tensor_parallel_activation_memory_matches_korthikanti(tp):
    assert per_layer(tp=tp) == pytest.approx(S * B * H * (10 + 24 / tp + 5 * A * S / (H * tp)))
    assert per_layer(tp=tp, sp=True) == pytest.approx(S * B * H * (34 + 5 * A * S / H) / tp)


@pytest.mark.parametrize("tp", [1, 4])
def test_selective_recompute_with_sequence_parallel_keeps_34sbh_over_t(tp):
    assert per_layer("selective", tp=tp, sp=True) == pytest.approx(34 * S * B * H / tp)


def test_selective_recompute_reruns_only_the_attention_scores():
    trace = training_trace(gpt(2), checkpoint="selective")
    rerun = [op for op in trace.ops if op.phase is Phase.RECOMPUTE]
    assert {op.name.split(".")[-2] for op in rerun} == {"scores", "softmax", "dropout"}
    # the QK^T GEMM of every layer once more: 2 b s^2 h FLOPs per layer
    assert sum(2 * op.macs for op in rerun) == 2 * 2 * B * S * S * H


def test_full_recompute_costs_one_forward_more():
    runs = {mode: simulate_parallel("gpt2", "a100", devices=4, parallel="tp=2,pp=2",
                                    global_batch=8, recompute=mode, seq_len=256)
            for mode in ("none", "selective", "full")}
    full = runs["full"]
    # forward + backward (2 x forward) + the forward again: HFU = MFU x 4/3 for a transformer
    assert full["hfu"] / full["mfu"] == pytest.approx(4 / 3, rel=0.04)
    assert runs["none"]["hfu"] == pytest.approx(runs["none"]["mfu"], rel=0.02)
    assert runs["none"]["mfu"] > runs["selective"]["mfu"] > full["mfu"]
    memory = {mode: run.worst_stage.memory.activations for mode, run in runs.items()}
    assert memory["none"] > memory["selective"] > memory["full"]


def test_interleaving_divides_the_bubble_by_v_and_multiplies_the_sends():
    m, p, v = 8, 4, 2
    plain, interleaved = (simulate_parallel("gpt2", "a100", devices=4, parallel=f"pp={p},vpp={k}",
                                            global_batch=m, seq_len=256) for k in (1, v))
    bubble = (p - 1) / v                     # Narayanan et al. SC21, Section 2.2.2
    assert interleaved["bubble_fraction"] == pytest.approx(bubble / (m + bubble))
    slot = max(stage.slot_s for stage in interleaved.stages)
    assert interleaved["time_breakdown_s"]["bubble"] == pytest.approx(bubble * slot)
    middle = 1                               # a stage with neighbours on both sides
    assert interleaved.stages[middle].pipeline_comm_bytes == pytest.approx(
        v * plain.stages[middle].pipeline_comm_bytes)
    # the first stage holds p + (p - 1) / v micro-batches (Korthikanti et al. Section 4.2.3)
    assert interleaved.stages[0].in_flight == pytest.approx(p + (p - 1) / v)


def test_straggler_and_dataloader_stretch_the_step():
    base, slow = (simulate_parallel("gpt2", "a100", devices=2, parallel="dp=2", seq_len=256,
                                    straggler=f, dataloader_s=d) for f, d in ((0, 0), (0.03, 0.5)))
    assert slow["step_time_s"] == pytest.approx(base["step_time_s"] * 1.03 + 0.5)


def test_gpt3_175b_on_1024_a100s_within_15_percent_of_megatron():
    # Narayanan et al. SC21, Section 5.1: GPT-3 175B, 300B tokens, 1024 A100s, batch 1536, at
    # 140 teraFLOP/s per GPU (eq. 3 counts recomputation) trains in about 34 days.
    result = CASES["T01"].run.simulate()
    assert result["time_to_train_days"] == pytest.approx(34, rel=0.15)
    assert result["hardware_flops_per_device_per_s"] == pytest.approx(140e12, rel=0.15)
    assert result["fits_in_memory"]


@pytest.mark.parametrize(("args", "fragments"), [
    (["--recompute", "some"], ["--recompute"]),
    (["--checkpoint", "--recompute", "selective"], ["recompute", "contradicts"]),
    (["--straggler", "-0.1"], ["--straggler"]),
    (["--dataloader-s", "nan"], ["dataloader", "finite"]),
    (["--grad-reduce", "never"], ["--grad-reduce"]),
    (["--parallel", "pp=2,vpp=0"], ["parallel", "vpp"]),
    (["--parallel", "pp=2,vpp=2", "--global-batch", "3"], ["parallel", "multiple of pp"]),
    (["--parallel", "vpp=2"], ["parallel", "pp > 1"]),
])
def test_bad_recipe_values_are_one_line_errors(args, fragments):
    outcome = accelsim("run", "gpt2", "--device", "a100", "--mode", "training", "--devices", "2",
                       "--param", "seq_len=64", *args)
    assert_clean_error(outcome, *fragments)


def test_recipe_flags_on_one_device_are_refused():
    outcome = accelsim("run", "gpt2", "--device", "a100", "--mode", "training",
                       "--recompute", "selective")
    assert_clean_error(outcome, "recompute", "multi-device")


def test_full_recompute_keeps_each_layers_input():
    # Korthikanti et al. Section 5: full recomputation stores the 2sbh-byte input of each layer
    def kept(layers):
        graph = gpt(layers)
        checkpoint = trace_checkpoint("full", graph)
        return activation_parts(graph.ops, checkpoint_starts(graph.ops, checkpoint))[0]
    assert kept(3) - kept(2) == pytest.approx(2 * S * B * H)


def test_separate_gradient_accumulation_moves_10_bytes_per_parameter():
    # fp16 gradient read (2), fp32 main gradient read and written (4 + 4), per micro-batch
    graph = build("megatron_gpt", seq_len=64, layers=2, hidden=128, heads=4)
    trace = training_trace(graph)
    added = with_accumulation(trace, micro_batches=4, accumulation="separate").ops
    accumulates = [op for op in added if op.name.endswith(".accumulate")]
    # every weight gradient the backward writes (a tied embedding's twice: head and table)
    written = sum(t.elements for op in trace.ops if op.phase is Phase.WGRAD for t in op.outputs)
    assert written >= graph.params
    assert sum(op.input_bytes + op.output_bytes for op in accumulates) == 10 * written
    assert with_accumulation(trace, micro_batches=1, accumulation="separate") == trace
    assert with_accumulation(trace, micro_batches=4, accumulation="fused") == trace


def test_published_training_runs_within_15_percent():
    # the measurements_extra.csv rows T01..T09 (Megatron-LM SC21, Korthikanti et al. 2022): each
    # compares accelsim's run with the published figure, cited in the row's source column
    report = validate(EXTRA_CSV)
    training = [row for row in report.rows if row.id.startswith("T") and row.status == "validated"]
    assert len(training) >= 7
    for row in training:
        assert abs(row.error_pct) <= 15, (row.id, row.error_pct)


def test_sequence_parallelism_splits_a_moe_blocks_output_as_its_input():
    # a MoE block's output is reduce-scattered like a row-parallel output: under tp=2 with sequence
    # parallelism both its input and output hold half the sequence (Mixtral, 64 tokens)
    graph = build("mixtral_8x7b", seq_len=64)
    shard = sequence_parallel(graph, shard_graph(graph, 2), 2)
    moe = next(op for op in shard.ops if op.kind.value == "moe")
    assert moe.inputs[0].shape[-2] == moe.outputs[0].shape[-2] == 32
