"""compare / whatif / realtime / cost through the CLI: JSON answers, plain tables, one-line errors."""

from __future__ import annotations

import json

import pytest

from clitools import invoke


def answer(capsys, *args: str) -> dict:
    """The JSON answer of a command that must succeed."""
    code, out, err = invoke(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("command", ["compare", "whatif", "realtime", "cost"])
def test_help_has_examples(capsys, command):
    code, out, _ = invoke(capsys, command, "--help")
    assert code == 0 and "Examples:" in out and f"accelsim {command} " in out


def test_compare_json_rows_and_ratios(capsys):
    data = answer(capsys, "compare", "resnet50", "--device", "a100", "--device", "tpu_v4",
                  "--mode", "inference", "--mode", "training")
    assert data["query"] == "compare" and data["schema_version"] == 1
    runs = data["runs"]
    assert [(r["mode"], r["baseline"]) for r in runs] == [("inference", 0), ("inference", 0),
                                                          ("training", 2), ("training", 2)]
    assert runs[0]["ratios"]["latency_s"] == 1.0
    assert runs[1]["ratios"]["energy_j"] == pytest.approx(runs[1]["totals"]["energy_j"]
                                                          / runs[0]["totals"]["energy_j"])


def test_compare_leaves_out_runs_a_part_cannot_do(capsys):
    code, out, err = invoke(capsys, "compare", "resnet50", "-d", "a100", "-d", "phone_npu",
                            "--mode", "training", "--json")
    assert code == 0
    assert [run["device"] for run in json.loads(out)["runs"]] == ["NVIDIA A100-SXM4-80GB"]
    assert err.startswith("warning: left out: mode: Generic flagship phone NPU") and \
        "cannot run training" in err


def test_compare_table_when_piped(capsys):
    code, out, _ = invoke(capsys, "compare", "mobilenet_v2", "-d", "a100", "-d", "tpu_v4")
    assert code == 0
    assert "x latency" in out and "Google TPU v4" in out and "+---" in out


def test_whatif_bandwidth_json(capsys):
    data = answer(capsys, "whatif", "resnet50", "--device", "tpu_v4", "--set",
                  "memory.bandwidth=2.4 TB/s")
    assert data["what"] == ["set memory.bandwidth=2.4 TB/s"]
    assert set(data["changes"]) >= {"latency_s", "throughput", "energy_j", "average_power_w",
                                    "dram_bytes", "peak_memory_bytes"}
    assert data["changes"]["macs"]["delta"] == 0
    assert all(set(b) == {"layer", "phase", "before", "after"} for b in data["bound_changes"])


def test_whatif_transforms_table(capsys):
    code, out, _ = invoke(capsys, "whatif", "resnet50", "--device", "a100", "--fuse",
                          "--quantize", "int8", "--prune", "2:4")
    assert code == 0
    assert "what-if fuse, prune 2:4, quantize int8" in out and "DRAM traffic" in out


def test_whatif_student_json(capsys):
    data = answer(capsys, "whatif", "resnet50", "--device", "phone_npu", "--student", "mobilenet_v2")
    assert data["distillation"]["params"] == {"teacher": 25_557_032, "student": 3_504_872,
                                              "ratio": pytest.approx(3_504_872 / 25_557_032)}
    assert data["ops"]["after"] < data["ops"]["before"]


def test_realtime_json_and_formula(capsys):
    data = answer(capsys, "realtime", "facedet", "--device", "phone_npu", "--fps", "60",
                  "--compare", "a100")
    assert [d["fps"] for d in data["devices"]] == [60, 60]
    assert "idle power" in data["power_formula"]
    phone = data["devices"][0]
    assert phone["deadline_s"] == pytest.approx(1 / 60)
    assert phone["meets"] == (phone["latency_s"] <= 1 / 60)


def test_realtime_table(capsys):
    code, out, _ = invoke(capsys, "realtime", "facedet", "--device", "phone_npu", "--fps", "30")
    assert code == 0 and "headroom" in out and "power = energy/frame" in out


def test_cost_training_closed_form(capsys):
    data = answer(capsys, "cost", "gpt3_175b", "--device", "a100", "--devices", "1024",
                  "--flops", "3.14e23", "--mfu", "0.5", "--power", "400 W", "--price", "2")
    seconds = 3.14e23 / (1024 * 312e12 * 0.5)
    assert data["kind"] == "training"
    assert data["time_s"] == pytest.approx(seconds)
    assert data["energy_kwh"] == pytest.approx(1024 * 400 * seconds / 3.6e6)
    assert data["cost_usd"] == pytest.approx(1024 * seconds / 3600 * 2)


def test_cost_training_table(capsys):
    code, out, _ = invoke(capsys, "cost", "gpt3_175b", "--device", "a100", "--devices", "1024",
                          "--flops", "3.14e23", "--mfu", "0.5", "--power", "tdp")
    assert code == 0 and "22.75 days" in out and "$5.12 (config)" in out


def test_cost_serving_json(capsys):
    data = answer(capsys, "cost", "gpt2", "--device", "a100", "--serve", "--prompt", "32",
                  "--generate", "8")
    assert (data["kind"], data["item"], data["mode"]) == ("serving", "tokens", "serve")
    assert data["usd_per_million"] == pytest.approx(1e6 / data["items_per_s"] / 3600 * 5.12)


@pytest.mark.parametrize("args, message", [
    (("whatif", "resnet50", "--device", "a100"), "nothing to change"),
    (("whatif", "resnet50", "--device", "a100", "--quantize", "int3"), "unknown precision"),
    (("whatif", "resnet50", "--device", "a100", "--prune", "1.5"), "sparsity"),
    (("cost", "gpt2", "--device", "a100"), "exactly one of --flops"),
    (("cost", "gpt2", "--device", "a100", "--serve", "--flops", "1e20"), "--flops"),
    (("cost", "gpt2", "--device", "a100", "--flops", "1e20", "--power", "lots"), "power"),
    (("realtime", "facedet", "--device", "phone_npu", "--fps", "0"), "--fps"),
    (("compare", "resnet50", "--device", "nosuchdevice"), "nosuchdevice"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = invoke(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("accelsim: error:") and message in err
