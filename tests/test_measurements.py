"""The measurements CSV reader shared by validate and calibrate: good rows, and hostile files."""

from __future__ import annotations

import pytest

from accelsim.calibrate.measurements import read_measurements, to_si, totals_key
from accelsim.calibrate.runs import RunSpec, run_of
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
                                    "gemm 8192x8192x8192,a100,,,bf16,throughput,271.2,TFLOP/s\n")
    rows = read_measurements(path)
    assert [totals_key(m.metric, m.unit) for m in rows] == ["throughput", "tpot_s",
                                                           "average_power_w", "flops_per_s"]
    assert run_of(rows[0]) == RunSpec("resnet50", "a100", batch=256, precision="int8")
    assert rows[1].si == pytest.approx(12.5e-3) and run_of(rows[1]).mode == "serve"
    assert run_of(rows[2]) == RunSpec("resnet50", "a100") and rows[2].line == 4
    assert rows[3].si == pytest.approx(271.2e12)


def test_a_gemm_row_runs_the_zoo_gemm(tmp_path):
    path = write(tmp_path, HEADER + "gemm 64x4096x4096,a100,,,fp16,latency,0.1,ms\n")
    run = run_of(read_measurements(path)[0])
    assert run == RunSpec("gemm", "a100", precision="fp16", params=(("m", 64), ("n", 4096),
                                                                    ("k", 4096)))


def test_a_source_and_an_id_column_are_allowed(tmp_path):
    path = write(tmp_path, "source," + HEADER.replace("\n", ",id\n")
                 + "MLPerf,resnet50,a100,inference,1,int8,latency,0.5,ms,R1\n")
    row = read_measurements(path)[0]
    assert row.si == pytest.approx(0.5e-3) and (row.source, row.id) == ("MLPerf", "R1")


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
