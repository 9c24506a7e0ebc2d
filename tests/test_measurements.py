"""The measurements CSV reader shared by validate and calibrate: good rows, and hostile files."""

from __future__ import annotations

import pytest

from accelsim.calibrate.measurements import (RunSpec, read_measurements, to_si, totals_key)
from accelsim.errors import UsageError
from tests.hostile.cli import accelsim, assert_clean_error

HEADER = "workload,device,mode,batch,precision,metric,value,unit\n"


def write(tmp_path, text: str, name: str = "m.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rows_become_runs_with_si_values_and_totals_keys(tmp_path):
    path = write(tmp_path, HEADER + "resnet50,a100,inference,256,int8,throughput,42379,samples/s\n"
                                    "llama2_7b,a100,serve,1,fp16,tpot,12.5,ms\n"
                                    "resnet50,a100,,,,power,250,W\n"
                                    "gemm,a100,,,bf16,throughput,271.2,TFLOP/s\n")
    rows = read_measurements(path)
    assert [m.key for m in rows] == ["throughput", "tpot_s", "average_power_w", "flops_per_s"]
    assert rows[0].run == RunSpec("resnet50", "a100", batch=256, precision="int8")
    assert rows[1].value_si == pytest.approx(12.5e-3) and rows[1].run.mode == "serve"
    assert rows[2].run == RunSpec("resnet50", "a100") and rows[2].line == 4
    assert rows[3].value_si == pytest.approx(271.2e12)


def test_extra_columns_such_as_a_source_are_allowed(tmp_path):
    path = write(tmp_path, "source," + HEADER.replace("\n", ",id\n")
                 + "MLPerf,resnet50,a100,inference,1,int8,latency,0.5,ms,R1\n")
    assert read_measurements(path)[0].value_si == pytest.approx(0.5e-3)


@pytest.mark.parametrize("value, unit, metric, si", [
    (2.5, "ms", "latency", 2.5e-3), (3, "us", "latency p90", 3e-6), (271.2, "TFLOP/s", "", 271.2e12),
    (42379, "samples/s per accelerator", "throughput", 42379), (35, "frames/s at 278 mW", "", 35),
    (250, "mW", "power", 0.25), (4, "mJ", "energy", 4e-3), (900, "tokens/s", "throughput", 900)])
def test_units_convert_to_si(value, unit, metric, si):
    assert to_si(value, unit, metric) == pytest.approx(si)


def test_a_metrics_unit_must_be_of_its_family():
    with pytest.raises(UsageError, match="unknown unit"):
        to_si(3, "W", "latency")
    assert totals_key("latency median", "ms") == "latency_s"


@pytest.mark.parametrize("row, line, key, fragment", [
    ("resnet50,a100,inference,256,int8,throughput,abc,samples/s", 2, "value", "finite number"),
    ("resnet50,a100,inference,256,int8,throughput,nan,samples/s", 2, "value", "finite number"),
    ("resnet50,a100,inference,256,int8,throughput,-3,samples/s", 2, "value", "positive"),
    ("resnet50,a100,inference,0,int8,throughput,3,samples/s", 2, "batch", "positive integer"),
    ("resnet50,a100,inference,1.5,int8,throughput,3,samples/s", 2, "batch", "positive integer"),
    ("resnet50,a100,inference,99999999999999999999,int8,throughput,3,samples/s", 2, "batch",
     "positive integer"),
    ("resnet50,a100,infer,1,int8,throughput,3,samples/s", 2, "mode", "did you mean 'inference'"),
    ("resnet50,a100,inference,1,int9,throughput,3,samples/s", 2, "precision", "expected one of"),
    ("resnet50,a100,inference,1,int8,speed,3,samples/s", 2, "metric", "expected one of"),
    ("resnet50,a100,inference,1,int8,latency,3,furlongs", 2, "unit", "unknown unit"),
    ("resnet50,a100,inference,1,int8,ttft,3,ms", 2, "mode", "serving metric"),
    (",a100,inference,1,int8,latency,3,ms", 2, "workload", "empty cell"),
    ("resnet50,a100,inference,1,int8,latency,3,ms,extra", 2, None, "9 cells for 8 columns"),
])
def test_bad_cells_name_the_file_line_and_column(tmp_path, row, line, key, fragment):
    path = write(tmp_path, HEADER + row + "\n")
    with pytest.raises(UsageError, match=fragment) as caught:
        read_measurements(path)
    assert (caught.value.file, caught.value.line, caught.value.key) == (str(path), line, key)


def test_missing_columns_and_empty_files_are_refused(tmp_path):
    with pytest.raises(UsageError, match="missing column") as caught:
        read_measurements(write(tmp_path, "workload,device,value\nresnet50,a100,3\n"))
    assert caught.value.line == 1 and caught.value.key == "mode"
    with pytest.raises(UsageError, match="no measurement rows"):
        read_measurements(write(tmp_path, HEADER))
    with pytest.raises(UsageError):
        read_measurements(write(tmp_path, ""))
    with pytest.raises(UsageError, match="no such file|cannot read|not found|does not exist"):
        read_measurements(tmp_path / "absent.csv")


def test_binary_and_malformed_csv_are_clean_errors(tmp_path):
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(UsageError):
        read_measurements(binary)
    quoted = write(tmp_path, HEADER + 'resnet50,a100,inference,1,int8,latency,"3\n')
    with pytest.raises(UsageError):
        read_measurements(quoted)


def test_validate_measurements_through_the_cli(tmp_path):
    bad = write(tmp_path, HEADER + "resnet50,a100,inference,1,int8,latency,3,parsecs\n")
    assert_clean_error(accelsim("validate", "--measurements", str(bad)), f"{bad}:2", "unit")
    typo = write(tmp_path, HEADER + "resnet50,a1000,inference,1,int8,latency,3,ms\n", "t.csv")
    assert_clean_error(accelsim("validate", "--measurements", str(typo)), f"{typo}:2",
                       "unknown device")
    good = write(tmp_path, HEADER + "resnet50,a100,inference,1,int8,latency,3,ms\n", "g.csv")
    outcome = accelsim("validate", "--measurements", str(good), "--json")
    assert outcome.code == 0, outcome.err
    assert '"command": "accelsim run resnet50 --device a100 --batch 1 --precision int8"' in \
        outcome.out
