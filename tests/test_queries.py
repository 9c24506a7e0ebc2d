"""compare, whatif, realtime and cost: deadline, power and money arithmetic checked by hand."""

from __future__ import annotations

import warnings

import pytest

from accelsim.api import simulate
from accelsim.errors import UsageError
from accelsim.queries.compare import compare
from accelsim.queries.cost import ServingCost, serving_cost, training_cost
from accelsim.queries.realtime import FrameBudget, realtime
from accelsim.queries.whatif import changes, whatif
from accelsim.result import LayerResult, Result
from accelsim.workload.transforms import quantize
from accelsim.workload.zoo import build

A100_BF16_PEAK = 312e12      # A100 datasheet, dense BF16 tensor core
A100_TDP = 400.0             # A100 SXM datasheet
A100_PRICE = 5.12            # hw_configs/gpu/a100.yaml: AWS p4de on-demand / 8
PHONE_NPU_IDLE = 0.05        # hw_configs/npu/phone_npu.yaml


def budget(latency_s: float, fps: float = 60.0) -> FrameBudget:
    """A 20 mJ frame on a device idling at 0.5 W."""
    return FrameBudget(workload="net", device="dev", precision="int8", fps=fps, latency_s=latency_s,
                       energy_per_frame_j=0.020, idle_power_w=0.5)


# -- realtime ------------------------------------------------------------------------------------

def test_realtime_deadline_met_with_headroom_and_idle_power():
    b = budget(0.004)
    assert b.deadline_s == pytest.approx(1 / 60)
    assert b.meets
    assert b.headroom == pytest.approx(1 - 0.004 * 60)          # 76% of the period unused
    assert b.max_fps == pytest.approx(250.0)
    assert b.busy_fraction == pytest.approx(0.24)
    assert b.average_power_w == pytest.approx(0.020 * 60 + 0.5 * 0.76)   # 1.58 W


def test_realtime_deadline_missed_runs_flat_out():
    b = budget(0.025)
    assert not b.meets
    assert b.headroom == pytest.approx(-0.5)
    assert b.max_fps == pytest.approx(40.0)
    assert b.average_power_w == pytest.approx(0.020 / 0.025)     # 0.8 W, never idle


def test_realtime_reads_a_batch_1_run_and_the_idle_power():
    answer = realtime("facedet", ["phone_npu", "a100"], 30)
    phone, a100 = answer.budgets
    run = simulate("facedet", "phone_npu")
    assert phone.latency_s == run["latency_s"] and phone.energy_per_frame_j == run["energy_j"]
    assert phone.idle_power_w == PHONE_NPU_IDLE
    assert a100.deadline_s == pytest.approx(1 / 30)
    assert answer.to_dict()["devices"][1]["meets"] == a100.meets


def test_realtime_rejects_a_non_positive_frame_rate():
    with pytest.raises(UsageError, match="fps"):
        realtime("facedet", ["phone_npu"], 0)


# -- cost ----------------------------------------------------------------------------------------

def test_training_cost_closed_form_gpt3():
    answer = training_cost("gpt3_175b", "a100", devices=1024, flops=3.14e23, mfu=0.5,
                           power="400 W", price=2.0)
    seconds = 3.14e23 / (1024 * A100_BF16_PEAK * 0.5)           # 1.966e6 s, 22.75 days
    assert answer.peak_flops == A100_BF16_PEAK
    assert answer.time_s == pytest.approx(seconds)
    assert answer.time_s / 86400 == pytest.approx(22.75, abs=0.01)
    assert answer.energy_kwh == pytest.approx(1024 * 400 * seconds / 3.6e6)
    assert answer.cost_usd == pytest.approx(1024 * seconds / 3600 * 2.0)
    assert (answer.mfu_source, answer.power_source, answer.price_source) == ("given", "given", "given")


def test_training_cost_defaults_tdp_and_config_price():
    answer = training_cost("gpt3_175b", "a100", devices=8, flops=1e21, mfu=0.4, power="tdp")
    seconds = 1e21 / (8 * A100_BF16_PEAK * 0.4)
    assert answer.power_w == A100_TDP and answer.price_per_hour == A100_PRICE
    assert answer.energy_j == pytest.approx(8 * A100_TDP * seconds)
    assert answer.cost_usd == pytest.approx(8 * seconds / 3600 * A100_PRICE)


def test_training_flops_from_tokens_follow_the_6nd_rule():
    # GPT-3 175B on 300 B tokens: 3.14e23 FLOPs (Brown et al. 2020, Table D.1), ~6 x N x D
    answer = training_cost("gpt3_175b", "a100", devices=1024, tokens=300e9)
    assert answer.flops == pytest.approx(3.14e23, rel=0.05)
    assert 0 < answer.mfu <= 1 and answer.mfu_source == "modelled"
    assert answer.power_source == "modelled" and 0 < answer.power_w <= A100_TDP


def test_training_cost_needs_exactly_one_amount_and_a_tdp():
    with pytest.raises(UsageError, match="exactly one"):
        training_cost("gpt2", "a100", mfu=0.5, power="tdp")
    with pytest.raises(UsageError, match="exactly one"):
        training_cost("gpt2", "a100", flops=1e18, tokens=1e9)
    with pytest.raises(UsageError, match="tdp"):
        training_cost("resnet50", "zcu102_dpu", flops=1e18, mfu=0.5, power="tdp")
    with pytest.raises(UsageError, match="tokens"):
        training_cost("resnet50", "a100", tokens=1e9)


def test_serving_cost_per_million_closed_form():
    answer = ServingCost(workload="net", device="dev", precision="int8", mode="inference", batch=1,
                         item="images", items_per_s=1000.0, power_w=100.0, power_source="given",
                         price_per_hour=3.6, price_source="given")
    assert answer.energy_per_item_j == pytest.approx(0.1)
    assert answer.seconds_per_million == pytest.approx(1000.0)
    assert answer.kwh_per_million == pytest.approx(1e5 / 3.6e6)
    assert answer.usd_per_million == pytest.approx(1.0)


def test_serving_cost_counts_generated_tokens_for_llms_and_images_for_cnns():
    llm = serving_cost("gpt2", "a100", batch=4, prompt=32, generate=16)
    run = simulate("gpt2", "a100", mode="serve", batch=4, prompt=32, generate=16)
    assert (llm.item, llm.mode) == ("tokens", "serve")
    assert llm.items_per_s == pytest.approx(4 * 16 / run["latency_s"])
    assert llm.energy_per_item_j == pytest.approx(run["energy_j"] / (4 * 16))
    cnn = serving_cost("resnet50", "zcu102_dpu", batch=2)
    assert cnn.item == "images" and cnn.usd_per_million is None


# -- compare -------------------------------------------------------------------------------------

def test_compare_groups_runs_and_ratios_to_the_first_device():
    answer = compare(["mobilenet_v2"], ["a100", "tpu_v4"], modes=("inference", "training"))
    rows = answer.rows
    assert [(r.result.mode, r.baseline) for r in rows] == [("inference", 0), ("inference", 0),
                                                          ("training", 2), ("training", 2)]
    assert all(value == 1.0 for value in rows[2].ratios.values())
    assert rows[3].ratios["latency_s"] == pytest.approx(rows[3].result["latency_s"]
                                                        / rows[2].result["latency_s"])
    assert len(answer.to_dict()["runs"]) == 4


# -- whatif --------------------------------------------------------------------------------------

def _result(latency: float, bounds: dict[str, str]) -> Result:
    """A synthetic run with the given latency and per-layer bounds."""
    layers = tuple(LayerResult(name, "forward", "matmul", 0, 0, 0.0, 0.0, 0.0, bound)
                   for name, bound in bounds.items())
    totals = {"latency_s": latency, "throughput": 1 / latency, "energy_j": 2.0,
              "average_power_w": 2.0 / latency, "dram_bytes": 100.0, "peak_memory_bytes": 50.0,
              "flops": 10, "macs": 5, "params": 3}
    return Result("net", "dev", "gpu", "inference", "fp16", 1, layers, totals)


def test_whatif_changes_and_bound_flips():
    before = _result(0.004, {"a": "memory", "b": "compute", "gone": "memory"})
    after = _result(0.002, {"a": "compute", "b": "compute"})
    metrics, bounds = changes(before, after)
    latency = next(c for c in metrics if c.metric == "latency_s")
    assert (latency.delta, latency.ratio) == (pytest.approx(-0.002), pytest.approx(0.5))
    assert [(b.layer, b.before, b.after) for b in bounds] == [("a", "memory", "compute")]


def test_whatif_bandwidth_override_keeps_the_work():
    answer = whatif("resnet50", "tpu_v4", overrides=['memory.bandwidth="2.4 TB/s"'])
    work = {c.metric: c for c in answer.changes}
    assert work["flops"].delta == 0 and work["dram_bytes"].delta == 0
    assert work["latency_s"].after <= work["latency_s"].before
    assert answer.what == ('set memory.bandwidth="2.4 TB/s"',)


def test_whatif_quantize_halves_weights_in_peak_memory():
    answer = whatif("resnet50", "a100", quantize="int8", precision="fp16")
    assert answer.base.memory["weights"] == 2 * answer.variant.memory["weights"]
    assert answer.variant.precision == "int8"


def test_whatif_student_reports_distillation():
    answer = whatif("bert_base", "a100", student="distilbert")
    assert answer.distillation.layers == (12, 6)
    assert answer.to_dict()["changes"]["macs"]["ratio"] == pytest.approx(0.5, rel=1e-3)


def test_whatif_needs_a_change():
    with pytest.raises(UsageError, match="nothing to change"):
        whatif("resnet50", "a100")
    with pytest.raises(UsageError, match="layers"):
        whatif("resnet50", "a100", layers=["fc"], fuse=True)


# -- simulate on pre-transformed graphs (accelsim.engine.single.computable) ---------------------------------

def test_simulate_keeps_per_op_precisions_of_a_graph():
    graph = quantize(build("resnet50", precision="fp16"), "int8", layers=["layer4.*"])
    result = simulate(graph, "a100")
    assert result.precision == "mixed"
    layer4_params = 14_964_736                              # torchvision resnet50.layer4
    assert result.memory["weights"] == 2 * 25_557_032 - layer4_params


def test_unsupported_precision_falls_back_per_op_with_a_warning():
    graph = quantize(build("resnet50", precision="fp16"), "fp8")
    with pytest.warns(UserWarning, match="no fp8 support"):
        result = simulate(graph, "a100")
    assert result.precision == "bf16"
    assert result.memory["weights"] == 25_557_032          # stored at 1 byte per parameter
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        simulate(quantize(build("resnet50"), "int8"), "a100")
