"""Hostile measurement files and options for `accelsim calibrate`: one clean line naming the file,
line and column, exit 2."""

from __future__ import annotations

import pytest

from tests.hostile.cli import accelsim, assert_clean_error

HEADER = "workload,device,mode,batch,precision,metric,value,unit\n"
GOOD = "gemm 64x64x64,a100,,,fp16,latency,1,ms\n"

BAD_ROWS = [   # (row, column named in the error)
    ("gemm 64x64x64,a100,,,fp16,latncy,1,ms", "metric"),
    ("gemm 64x64x64,a100,,,fp16,latency,1,W", "unit"),
    ("gemm 64x64x64,a100,,,fp16,latency,-1,ms", "value"),
    ("gemm 64x64x64,a100,,,fp16,latency,nan,ms", "value"),
    ("gemm 64x64x64,a100,,,fp16,latency,1e999,ms", "value"),
    ("gemm 64x64x64,a100,,two,fp16,latency,1,ms", "batch"),
    ("gemm 64x64x64,a100,,0,fp16,latency,1,ms", "batch"),
    ("gemm 64x64x64,a100,,,fp17,latency,1,ms", "precision"),
    ("gemm 64x64x64,a100,sleep,,fp16,latency,1,ms", "mode"),
    ("gemm 64x64x64,a100,,,fp16,ttft,1,ms", "metric"),
    ("gemm 64x64,a100,,,fp16,latency,1,ms", "workload"),
    ("gemm 64x64x99999999999,a100,,,fp16,latency,1,ms", "workload"),
    ("gemm 64x64x64,a100,training,,fp16,latency,1,ms", "mode"),
    (",a100,,,fp16,latency,1,ms", "workload"),
    ("no_such_net,a100,,,fp16,latency,1,ms", "workload"),
    ("resnet50,a100,,,fp16,throughput,1,parsecs/s", "unit"),
    ("gemm 64x64x64,a100,,,fp16,latency,1", None),
]


@pytest.mark.parametrize("row, column", BAD_ROWS)
def test_bad_rows_name_file_line_and_column(tmp_path, row, column):
    (tmp_path / "m.csv").write_text(HEADER + GOOD + row + "\n")
    outcome = accelsim("calibrate", "-d", "a100", "-m", "m.csv", "-o", "o.yaml", cwd=tmp_path)
    assert_clean_error(outcome, "m.csv:3: ", *([f"{column}: "] if column else []))
    assert not (tmp_path / "o.yaml").exists()


@pytest.mark.parametrize("text, fragment", [
    ("", "empty file"),
    ("workload,device,mode,batch,precision,metric,value\n" + GOOD, "missing column(s) unit"),
    (HEADER.rstrip() + ",colour\n", "unknown column 'colour'"),
    (HEADER, "no measurement rows"),
    (HEADER + GOOD.replace("a100", "v100"), "no rows for device 'a100'"),
    (HEADER + GOOD, "at least 2"),
    (HEADER + 'x,"a100\n', "invalid CSV"),
])
def test_bad_files_are_one_clean_line(tmp_path, text, fragment):
    (tmp_path / "m.csv").write_text(text)
    outcome = accelsim("calibrate", "-d", "a100", "-m", "m.csv", "-o", "o.yaml", cwd=tmp_path)
    assert_clean_error(outcome, "m.csv", fragment)


def test_bad_options_are_one_clean_line(tmp_path):
    (tmp_path / "m.csv").write_text(HEADER + GOOD + GOOD.replace("64x64x64", "128x128x128"))
    args = ("calibrate", "-d", "a100", "-m", "m.csv", "-o", "o.yaml")
    assert_clean_error(accelsim(*args, "--fit", "efficiency.compoot", cwd=tmp_path),
                       "fit: ", "efficiency.compute")
    assert_clean_error(accelsim(*args[:-1], "missing/o.yaml", cwd=tmp_path), "cannot write")
    assert_clean_error(accelsim(*args, "--coverage", "1.5", cwd=tmp_path), "--coverage")
    assert_clean_error(accelsim("calibrate", "-d", "a100", "-m", "nope.csv", "-o", "o.yaml",
                                cwd=tmp_path), "nope.csv")
