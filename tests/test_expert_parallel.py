"""Expert parallelism in multi-device training: experts split over ep data-parallel ranks,
dispatch and combine all-to-alls per MoE layer, expert gradients synced over dp / ep."""

from __future__ import annotations

import pytest

from accelsim.engine.expert_parallel import shard_experts
from accelsim.engine.parallel import simulate_parallel
from accelsim.workload.ir import OpKind, expected_experts
from accelsim.workload.zoo import build
from tests.hostile.cli import accelsim, assert_clean_error

SEQ, LAYERS, HIDDEN, EXPERTS, TOP_K = 64, 32, 4096, 8, 2     # Mixtral 8x7B (HF config.json)
RUN = {"devices": 16, "global_batch": 16, "seq_len": SEQ}


def mixtral(parallel: str):
    """A Mixtral 8x7B training step on 16 H100s, micro-batch 1."""
    return simulate_parallel("mixtral_8x7b", "h100", parallel=parallel, **RUN)


def test_each_rank_holds_its_share_of_the_experts_and_reads_those_all_ranks_tokens_touch():
    graph = build("mixtral_8x7b", seq_len=SEQ)
    whole = next(op for op in graph.ops if op.kind is OpKind.MOE)
    part = next(op for op in shard_experts(graph, 4).ops if op.kind is OpKind.MOE)
    assert sum(w.bytes for w in part.weights) * 4 == sum(w.bytes for w in whole.weights)
    assert part.macs == whole.macs                  # balanced routing: as many pairs as it sends
    touched = expected_experts(4 * SEQ, EXPERTS, TOP_K) / EXPERTS
    assert part.weight_bytes == pytest.approx(sum(w.bytes for w in part.weights) * touched)


def test_every_moe_layer_dispatches_and_combines_forward_and_backward():
    stages = mixtral("tp=1,pp=2,dp=8,ep=4").stages
    per_layer = SEQ * HIDDEN * 2 * TOP_K                      # fp16 hidden vectors, top-2 copies
    for stage in stages:
        layers = len(stage.expert_forward_bytes) // 2
        assert stage.expert_forward_bytes == (per_layer,) * (2 * layers)
        assert stage.expert_backward_bytes == stage.expert_forward_bytes
        assert stage.expert_comm_s > 0
    assert sum(len(s.expert_forward_bytes) for s in stages) == 2 * LAYERS


def test_experts_leave_memory_and_dense_gradients_sync_over_all_of_dp():
    plain, split = mixtral("tp=1,pp=2,dp=8"), mixtral("tp=1,pp=2,dp=8,ep=4")
    for a, b in zip(plain.stages, split.stages):
        dense = b.grad_bytes - b.expert_grad_bytes
        # the rank keeps 1/ep of the experts' gradients and all of the dense ones
        assert b.expert_grad_bytes * 4 == pytest.approx(a.grad_bytes - dense)
        assert 0 < dense < b.grad_bytes
    assert split["memory_per_device_bytes"] < plain["memory_per_device_bytes"]
    assert split["comm_exposed_s"]["expert"] > 0 == plain["comm_exposed_s"]["expert"]


def test_the_step_trace_carries_the_all_to_alls_on_links():
    result = mixtral("tp=1,pp=2,dp=8,ep=4")
    labels = {s.name for s in result.timeline.slices if s.category == "link"}
    assert "ep all-to-all" in labels and "expert gradients" in labels


@pytest.mark.parametrize("workload, parallel, fragment", [
    ("gpt2", "dp=4,ep=2", "no mixture-of-experts"),
    ("mixtral_8x7b", "dp=4,ep=3", "must divide dp=4"),
    ("mixtral_8x7b", "dp=6,ep=3", "must divide the 8 experts"),
    ("mixtral_8x7b", "dp=4,ep=0", "ep"),
])
def test_impossible_expert_parallelism_is_refused(workload, parallel, fragment):
    devices = parallel.split(",")[0].split("=")[1]
    assert_clean_error(accelsim("run", workload, "--mode", "training", "--device", "h100",
                                "--devices", devices, "--parallel", parallel, "--param",
                                "seq_len=32"), fragment)
