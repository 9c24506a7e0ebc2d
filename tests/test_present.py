"""Presentation through the real CLI: tables fit 80 columns, serve leads with its summary, results
record how they were made, examples that say what they did."""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest

import accelsim
from accelsim.report.export import to_dataframe
from accelsim.report.plots import roofline_data
from tests.clitools import invoke

TABLE_COMMANDS = [
    ("run", "resnet50", "--device", "a100"),
    ("run", "resnet50", "--device", "a100", "--layers", "5"),
    ("run", "gpt2", "--device", "a100", "--mode", "serve", "--generate", "8", "--layers", "5"),
    ("run", "gpt2", "--mode", "training", "--device", "a100", "--devices", "8",
     "--parallel", "tp=2,dp=4"),
    ("compare", "resnet50", "-d", "a100", "-d", "tpu_v4", "-d", "zcu102_dpu", "-d", "phone_npu"),
    ("whatif", "resnet50", "--device", "a100", "--quantize", "int8"),
    ("realtime", "facedet", "--device", "phone_npu", "--fps", "60", "--compare", "a100"),
    ("cost", "resnet50", "--device", "a100", "--samples", "1e6"),
    ("cost", "gpt2", "--device", "a100", "--serve", "--batch", "8", "--generate", "8"),
    ("validate",),
    ("list", "devices"),
    ("list", "workloads"),
    ("sweep", "sweeps/systolic_array.yaml", "--fast"),
]


@pytest.mark.parametrize("args", TABLE_COMMANDS, ids=lambda args: " ".join(args[:2]))
def test_every_table_fits_80_columns_and_wide_shows_all(capsys, monkeypatch, args):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = invoke(capsys, *args)
    assert code == 0
    assert max(map(len, out.splitlines())) <= 80
    assert "…" not in out                            # no cell is cut
    code, wide, _ = invoke(capsys, *args, "--wide")
    assert code == 0 and "hidden:" not in wide
    assert max(map(len, wide.splitlines())) >= max(map(len, out.splitlines()))


def test_narrow_run_hides_low_priority_columns_and_keeps_units_in_headers(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    _, out, _ = invoke(capsys, "run", "resnet50", "--device", "a100")
    assert "(us)" in out and "hidden: cycles" in out
    assert " us |" not in out                        # the unit is in the header, not every cell


def test_serve_leads_with_its_summary_in_under_60_lines(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = invoke(capsys, "run", "llama2_7b", "--device", "a100", "--mode", "serve")
    assert code == 0 and len(out.splitlines()) < 60
    for label in ("TTFT", "TPOT", "tokens/s", "KV cache", "peak memory", "energy per generated"):
        assert label in out
    assert "decoder.0" not in out                    # per-op detail only with --layers


def test_provenance_reruns_to_the_same_totals(capsys):
    args = ("run", "resnet50", "--device", "a100", "--batch", "4", "--set",
            "memory.bandwidth=3 TB/s", "--param", "image_size=160", "--json")
    first = json.loads(invoke(capsys, *args)[1])
    made = first["provenance"]
    assert made["accelsim_version"] == accelsim.__version__ and made["created_utc"]
    assert (made["device"], made["overrides"], made["params"], made["batch"]) == \
        ("a100", ["memory.bandwidth=3 TB/s"], {"image_size": 160}, 4)
    assert made["device_file"].endswith("a100.yaml") and first["device_id"] == "a100"
    again = json.loads(invoke(capsys, *shlex.split(made["command"])[1:])[1])
    assert again["totals"] == first["totals"]


@pytest.mark.parametrize("args", [
    ("run", "gpt2", "--device", "a100", "--mode", "serve", "--generate", "4", "--json"),
    ("run", "gpt2", "--mode", "training", "--device", "a100", "--devices", "8", "--json"),
    ("compare", "mobilenet_v2", "-d", "a100", "--json"),
    ("cost", "mobilenet_v2", "--device", "a100", "--samples", "1e6", "--json"),
])
def test_every_result_json_has_provenance(capsys, args):
    data = json.loads(invoke(capsys, *args)[1])
    assert data["provenance"]["command"] == "accelsim " + shlex.join(args)


def test_training_cost_defaults_to_a_sensible_batch_and_says_so(capsys):
    data = json.loads(invoke(capsys, "cost", "resnet50", "--device", "tpu_v4", "--samples",
                             "115e6", "--json")[1])
    assert (data["batch"], data["batch_source"]) == (256, "default")
    given = json.loads(invoke(capsys, "cost", "resnet50", "--device", "tpu_v4", "--samples",
                              "115e6", "--batch", "1", "--json")[1])
    assert data["mfu"] > given["mfu"]
    assert "256 (default" in invoke(capsys, "cost", "resnet50", "--device", "tpu_v4",
                                    "--samples", "115e6")[1]


def test_whatif_says_when_nothing_changed(capsys):
    _, out, _ = invoke(capsys, "whatif", "resnet50", "--device", "tpu_v4", "--set",
                       "memory.bandwidth=2.4 TB/s")
    assert "nothing changed" in out and "compute-bound" in out
    _, out, _ = invoke(capsys, "whatif", "gpt2", "--device", "a100", "--set",
                       "memory.bandwidth=3.35 TB/s")
    assert "nothing changed" not in out


def test_dataframe_of_a_parallel_run_has_a_row_per_stage():
    result = accelsim.simulate("gpt2", "a100", mode="training", devices=8, parallel="tp=2,pp=2,dp=2")
    frame = to_dataframe(result)
    assert len(frame) == 2 and set(frame["device_id"]) == {"a100"}
    assert to_dataframe(result, "totals")["mfu"][0] == result.totals["mfu"]


def test_roofline_labels_each_op_by_the_roof_over_it():
    result = accelsim.simulate("resnet50", "tpu_v4", stack="eager")     # norms, ReLUs on their own
    data = roofline_data(result, accelsim.load_device("tpu_v4"))
    assert data.vector_flops == pytest.approx(1024 * 2 * 1.05e9, rel=0.01)
    memory = np.array([roof == "memory" for roof in data.roof])
    assert memory.any() and (data.intensity[memory] < data.ridge).all()
    assert "vector" in data.roof and "matrix" in data.roof
