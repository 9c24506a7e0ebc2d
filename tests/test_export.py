"""Exports: CSV tables, DataFrames, Parquet, by-suffix export and the JSON round trip."""

from __future__ import annotations

import csv
import json
import sys

import pytest

import accelsim
from accelsim.errors import UsageError
from accelsim.report.export import export, rows, to_dataframe, write_csv, write_parquet
from accelsim.result import Result

RESNET50_PARAMS = 25_557_032     # torchvision ResNet-50 (shared/reference/model_stats.csv)


@pytest.fixture(scope="module")
def runs() -> list[Result]:
    """ResNet-50 on a GPU and on a systolic array."""
    return [accelsim.simulate("resnet50", "a100"), accelsim.simulate("resnet50", "tpu_v4")]


def read_csv(path) -> list[dict]:
    """Rows of a CSV file as dicts of strings."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_layers_csv_has_one_row_per_layer_led_by_the_run(runs, tmp_path):
    write_csv(runs, tmp_path / "layers.csv")
    table = read_csv(tmp_path / "layers.csv")
    assert len(table) == sum(len(r.layers) for r in runs)
    assert list(table[0])[:7] == ["workload", "device", "device_id", "device_kind", "mode",
                                  "precision", "batch"]
    gpu = [row for row in table if row["device_kind"] == "gpu"]
    assert sum(int(row["flops"]) for row in gpu) == runs[0]["flops"]
    assert sum(int(row["macs"]) for row in gpu) == 4_089_184_256   # torchvision ResNet-50 MACs


def test_totals_csv_flattens_nested_totals_and_memory(runs, tmp_path):
    write_csv(runs, tmp_path / "totals.csv", table="totals")
    table = read_csv(tmp_path / "totals.csv")
    assert [int(row["params"]) for row in table] == [RESNET50_PARAMS] * 2
    parts = ("compute", "onchip", "offchip", "static")
    for row in table:
        breakdown = sum(float(row[f"energy_breakdown_j.{part}"]) for part in parts)
        assert breakdown == pytest.approx(float(row["energy_j"]))
        assert float(row["memory.weights"]) > 0


def test_dataframe_has_per_layer_rows_with_run_columns(runs):
    frame = to_dataframe(runs)
    assert len(frame) == sum(len(r.layers) for r in runs)
    assert {"workload", "device", "mode", "latency_s", "bound"} <= set(frame.columns)
    flops = frame.groupby("device")["flops"].sum()
    assert flops[runs[0].device] == runs[0]["flops"]
    totals = to_dataframe(runs[0], table="totals")
    assert totals.loc[0, "params"] == RESNET50_PARAMS


def test_parquet_round_trips_the_dataframe(runs, tmp_path):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    write_parquet(runs, tmp_path / "layers.parquet")
    back = pandas.read_parquet(tmp_path / "layers.parquet")
    assert back["latency_s"].tolist() == to_dataframe(runs)["latency_s"].tolist()


def test_missing_extras_are_usage_errors(runs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(UsageError, match=r"accelsim\[results\]"):
        write_parquet(runs, tmp_path / "x.parquet")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(UsageError, match="pandas"):
        to_dataframe(runs)


def test_export_picks_the_format_by_suffix(runs, tmp_path):
    export(runs[1], tmp_path / "run.csv")
    export(runs[1], tmp_path / "run.json")
    assert len(read_csv(tmp_path / "run.csv")) == len(runs[1].layers)
    assert Result.from_dict(json.loads((tmp_path / "run.json").read_text())) == runs[1]
    with pytest.raises(UsageError, match="cannot tell the format"):
        export(runs[1], tmp_path / "run.xlsx")
    with pytest.raises(UsageError, match="unknown table"):
        rows(runs, table="ops")
