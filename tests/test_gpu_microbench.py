"""benchmarks/gpu_microbench.py: its CSV rows (no torch needed) and its CPU dry run (torch only)."""

import csv
import importlib.util
import re
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_microbench.py"
MEASUREMENT_COLUMNS = ("workload", "device", "mode", "batch", "precision", "metric", "value", "unit")


@pytest.fixture(scope="module")
def bench():
    """The script loaded as a module (benchmarks/ is not a package; torch is imported lazily)."""
    spec = importlib.util.spec_from_file_location("gpu_microbench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def read(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_rows_carry_latency_throughput_and_power_in_the_measurements_format(bench, tmp_path):
    # an 8192^3 GEMM (2 x 8192^3 FLOPs) in 4 ms: 274.9 TFLOP/s
    measured = bench.Measured("gemm:8192x8192x8192", "fp16", 4e-3, 2.0 * 8192**3, "TFLOP/s", 398.5)
    path = tmp_path / "m.csv"
    assert bench.write_csv(bench.rows_for(measured, "a100", "test"), path) == 3
    rows = read(path)
    assert tuple(rows[0])[:len(MEASUREMENT_COLUMNS)] == MEASUREMENT_COLUMNS
    by_metric = {row["metric"]: row for row in rows}
    assert set(by_metric) == {"latency", "throughput", "power"}
    assert (by_metric["latency"]["value"], by_metric["latency"]["unit"]) == ("4", "ms")
    assert float(by_metric["throughput"]["value"]) == pytest.approx(2 * 8192**3 / 4e-3 / 1e12,
                                                                    rel=1e-5)
    assert (by_metric["power"]["value"], by_metric["power"]["unit"]) == ("398.5", "W")
    assert all(row["mode"] == "inference" and row["batch"] == "1" for row in rows)
    assert re.fullmatch(r"gemm[\s:]+(\d+)x(\d+)x(\d+)", rows[0]["workload"])


def test_a_case_without_work_or_power_has_only_a_latency_row(bench):
    rows = bench.rows_for(bench.Measured("launch:empty", "fp32", 5e-6), "h100", "test")
    assert [(row["metric"], row["value"], row["unit"]) for row in rows] == [("latency", "0.005", "ms")]


def test_copy_throughput_is_in_bytes_per_second(bench):
    rows = bench.rows_for(bench.Measured("copy:1000", "int8", 1e-6, 2000.0, "GB/s"), "a100", "t")
    assert [(row["value"], row["unit"]) for row in rows if row["metric"] == "throughput"] == [
        ("2", "GB/s")]


@pytest.mark.parametrize("gpu, name", [("NVIDIA A100-SXM4-80GB", "a100"),
                                       ("NVIDIA H100 80GB HBM3", "h100"),
                                       ("Tesla V100-SXM2-32GB", "v100"),
                                       ("NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090")])
def test_cuda_names_map_to_bundled_devices(bench, gpu, name):
    assert bench.bundled_name(gpu) == name


def test_unknown_suite_is_refused(bench, capsys):
    with pytest.raises(SystemExit) as exc:
        bench.parse_args(["--only", "gemm,fft"])
    assert exc.value.code == 2 and "unknown suite 'fft'" in capsys.readouterr().err


def test_dry_run_on_the_cpu_writes_every_suite(bench, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "cpu.csv"
    assert bench.main(["--dry-run", "--out", str(out)]) == 0
    rows = read(out)
    workloads = {row["workload"].split(":")[0] for row in rows}
    assert workloads == {"gemm", "attention", "copy", "launch"}
    assert all(row["device"] == "cpu" and float(row["value"]) > 0 for row in rows)
    assert not any(row["metric"] == "power" for row in rows)     # no NVML on a dry run
