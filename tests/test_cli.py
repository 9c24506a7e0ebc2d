"""The command line end to end: JSON contract, tables, one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from clitools import invoke

from accelsim.config import KINDS


def test_run_json_has_the_documented_contract(capsys):
    code, out, _ = invoke(capsys, "run", "resnet50", "--device", "a100", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["schema_version"] == 1
    for key in ("params", "flops", "macs", "dram_bytes", "latency_s", "energy_j",
                "peak_memory_bytes"):
        assert key in data["totals"]
    assert data["totals"]["params"] == 25_557_032
    assert data["totals"]["flops"] >= 2 * data["totals"]["macs"]
    for layer in data["layers"]:
        assert {"name", "phase", "flops", "macs", "dram_bytes", "latency_s", "energy_j",
                "bound"} <= set(layer)
        assert layer["bound"] in ("compute", "memory", "overhead")


def test_run_training_has_backward_phases(capsys):
    code, out, _ = invoke(capsys, "run", "mobilenet_v2", "--device", "tpu_v4", "--mode",
                          "training", "--batch", "4", "--json")
    assert code == 0
    phases = {layer["phase"] for layer in json.loads(out)["layers"]}
    assert {"forward", "dgrad", "wgrad", "optimizer"} <= phases


def test_systolic_layers_report_cycles(capsys):
    code, out, _ = invoke(capsys, "run", "workloads/scalesim/alexnet.csv", "--device",
                          "scalesim_32x32", "--json")
    assert code == 0
    assert all(isinstance(layer["cycles"], int) for layer in json.loads(out)["layers"])


def test_set_override_changes_the_answer(capsys):
    base = json.loads(invoke(capsys, "run", "gpt2", "--device", "a100", "--json")[1])
    slow = json.loads(invoke(capsys, "run", "gpt2", "--device", "a100", "--json",
                             "--set", "memory.bandwidth=100 GB/s")[1])
    assert slow["totals"]["latency_s"] > base["totals"]["latency_s"]


def test_table_output_names_the_costliest_layers_and_totals(capsys):
    code, out, _ = invoke(capsys, "run", "resnet50", "--device", "a100", "--layers", "5")
    assert code == 0
    assert "totals" in out and "5 costliest layers" in out
    rows = [line.split("|") for line in out.splitlines()
            if line.startswith("| layer") and "(" not in line]                  # not the header
    latencies = [float(cells[4]) for cells in rows]                    # costliest first
    assert len(rows) == 5 and latencies == sorted(latencies, reverse=True)
    assert "conv1 " not in out


@pytest.mark.parametrize("args, fragment", [
    (("run", "resnet51", "--device", "a100"), "resnet50"),
    (("run", "resnet50", "--device", "a1000"), "a100"),
    (("run", "resnet50", "--device", "a100", "--set", "memory.bandwdith=1 TB/s"), "bandwidth"),
    (("run", "resnet50", "--device", "a100", "--set", "memory.bandwidth=fast"), "memory.bandwidth"),
    (("run", "resnet50", "--device", "a100", "--batch", "0"), "batch"),
    (("run", "resnet50", "--device", "a100", "--mode", "sleep"), "mode"),
    (("run", "resnet50", "--device", "/nonexistent/dev.yaml"), "/nonexistent/dev.yaml"),
    (("run", "/nonexistent/net.csv", "--device", "a100"), "/nonexistent/net.csv"),
    (("run", "resnet50", "--device", "a100", "--param", "image_size"), "--param"),
    (("show", "tpu_v5"), "tpu_v4"),
    (("frobnicate",), "frobnicate"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, args, fragment):
    code, out, err = invoke(capsys, *args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_list_show_schema(capsys):
    code, out, _ = invoke(capsys, "list", "devices", "--json")
    assert code == 0
    kinds = {row["kind"] for row in json.loads(out)}
    assert kinds == set(KINDS)
    code, out, _ = invoke(capsys, "show", "a100", "--json")
    assert code == 0 and json.loads(out)["kind"] == "gpu"
    code, out, _ = invoke(capsys, "schema", "--json")
    assert code == 0
    schema = json.loads(out)
    kinds = {branch["properties"]["kind"]["const"] for branch in schema["$defs"].values()
             if "kind" in branch.get("properties", {})}
    assert kinds == set(KINDS)


def test_serve_reports_ttft_tpot_and_decode_rate(capsys):
    code, out, _ = invoke(capsys, "run", "llama2_7b", "--device", "a100", "--mode", "serve",
                          "--prompt", "128", "--generate", "256", "--batch", "1", "--json")
    assert code == 0
    totals = json.loads(out)["totals"]
    assert totals["decode_tokens_per_s"] == pytest.approx(1 / totals["tpot_s"])
    assert 0 < totals["ttft_s"]
    # KV cache closed form: 2 (K, V) x 32 layers x 32 heads x 128 dims x 384 tokens x 2 bytes.
    assert totals["kv_cache_bytes"] == 2 * 32 * 32 * 128 * (128 + 256) * 2


def test_parallel_training_reports_step_mfu_memory_and_time_to_train(capsys):
    code, out, _ = invoke(capsys, "run", "gpt3_175b", "--mode", "training", "--device", "a100",
                          "--devices", "1024", "--parallel", "tp=8,pp=16,dp=8", "--tokens", "300e9",
                          "--json")
    assert code == 0
    totals = json.loads(out)["totals"]
    assert 0 < totals["mfu"] < 1
    assert totals["devices"] == 1024
    steps = 300e9 / totals["tokens_per_step"]
    assert totals["time_to_train_s"] == pytest.approx(steps * totals["step_time_s"])


def test_trace_file_covers_the_run(capsys, tmp_path):
    path = tmp_path / "trace.json"
    code, out, _ = invoke(capsys, "run", "mobilenet_v2", "--device", "a100", "--engine", "event",
                          "--trace", str(path), "--json")
    assert code == 0
    events = [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]
    end = max(e["ts"] + e["dur"] for e in events) * 1e-6
    assert end == pytest.approx(json.loads(out)["totals"]["latency_s"], rel=1e-6)


def test_trace_command_writes_unit_and_memory_tracks(capsys, tmp_path):
    path = tmp_path / "resnet.json"
    code, out, _ = invoke(capsys, "trace", "resnet50", "--device", "tpu_v4", "-o", str(path))
    assert code == 0 and str(path) in out
    events = json.loads(path.read_text())["traceEvents"]
    tracks = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"array", "vector"} <= tracks
    assert any(name.startswith("memory") for name in tracks)
    ops = [e for e in events if e["ph"] == "X"]
    assert min(e["ts"] for e in ops) == 0
    assert {"flops", "bound"} <= set(ops[0]["args"])


@pytest.mark.parametrize("command", ["run", "list", "show", "schema", "validate", "demo", "compare",
                                     "whatif", "realtime", "cost", "trace", "sweep", "plot"])
def test_every_command_has_help_with_examples(capsys, command):
    code, out, _ = invoke(capsys, command, "--help")
    assert code == 0
    assert "Example" in out
    if command not in ("demo", "plot"):
        assert "--json" in out


def test_scalesim_topology_reports_scalesim_compute_cycles(capsys, reference_dir):
    """The issue's command: per-layer `cycles` equal SCALE-Sim's golden compute cycles, with the
    bundled 32x32 config's memory stalls reported apart in `stall_cycles`."""
    import csv

    code, out, _ = invoke(capsys, "run", str(reference_dir / "scalesim" / "Resnet50.csv"),
                          "--device", "scalesim_32x32", "--set", "array.dataflow=ws", "--json")
    assert code == 0
    layers = {layer["name"]: layer for layer in json.loads(out)["layers"]}
    with open(reference_dir / "scalesim" / "golden.csv", newline="") as handle:
        golden = {row["layer"]: int(row["compute_cycles"]) for row in csv.DictReader(handle)}
    for name, cycles in golden.items():
        if name != "TOTAL":
            assert layers[name]["cycles"] == cycles
    assert sum(layer["cycles"] for layer in layers.values()) == golden["TOTAL"]
    assert all(layer["stall_cycles"] >= 0 for layer in layers.values())
