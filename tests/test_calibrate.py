"""Calibration: the fit recovers known parameters, its intervals cover held-back rows at about their
nominal rate, and runs on a calibrated device report them.

The synthetic checks draw "measurements" from the model with chosen parameter values (an input the
fit never sees) times seeded log-normal noise of known sigma, so the truth is known independently of
what the fit returns.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from accelsim.api import load_device, simulate
from accelsim.calibrate.fit import conformal_bounds, fit, min_residuals
from accelsim.calibrate.measurements import read_measurements
from accelsim.calibrate.predict import RowModel
from accelsim.errors import UsageError

HEADER = "workload,device,mode,batch,precision,metric,value,unit\n"
TRUTH = {"efficiency.compute": 0.7, "memory.efficiency": 0.75}
KEYS = tuple(TRUTH)


def gemm_rows(count: int, seed: int) -> list[str]:
    """`count` GEMM shapes log-uniform in 16..8192 (compute- and memory-bound), as CSV cells
    before the value."""
    rng = np.random.default_rng(seed)
    dims = np.exp(rng.uniform(math.log(16), math.log(8192), size=(count, 3))).astype(int)
    return [f"gemm {m}x{n}x{k},a100,inference,1,fp16,latency" for m, n, k in dims]


def synthetic(tmp_path, name: str, count: int, seed: int, sigma: float):
    """A measurements CSV of GEMM latencies on an A100 whose true parameters are TRUTH, times
    exp(N(0, sigma)) noise; returns its path."""
    truth = load_device("a100", [f"{key}={value}" for key, value in TRUTH.items()])
    cells = gemm_rows(count, seed)
    placeholder = tmp_path / f"{name}_shapes.csv"
    placeholder.write_text(HEADER + "".join(f"{c},1,s\n" for c in cells))
    noise = np.exp(np.random.default_rng(seed + 1).normal(0.0, sigma, count))
    values = [float(RowModel(row, truth).predict(truth) * factor)
              for row, factor in zip(read_measurements(placeholder), noise)]
    path = tmp_path / f"{name}.csv"
    path.write_text(HEADER + "".join(f"{c},{v!r},s\n" for c, v in zip(cells, values)))
    return path


def test_fit_recovers_known_parameters_without_noise(tmp_path):
    rows = read_measurements(synthetic(tmp_path, "exact", 12, seed=3, sigma=0.0))
    result = fit("a100", rows, keys=KEYS)
    fitted = dict(zip((p.key for p in result.params), result.values))
    for key, value in TRUTH.items():
        assert fitted[key] == pytest.approx(value, rel=0.02), key
    assert result.median_abs_error(result.held_out) < 0.01


def test_fit_recovers_known_parameters_through_noise(tmp_path):
    rows = read_measurements(synthetic(tmp_path, "noisy", 40, seed=5, sigma=0.05))
    result = fit("a100", rows, keys=KEYS, max_folds=8)
    fitted = dict(zip((p.key for p in result.params), result.values))
    for key, value in TRUTH.items():
        assert fitted[key] == pytest.approx(value, rel=0.05), key


@pytest.mark.parametrize("seeds", [(11, 41, 7, 23)])
def test_intervals_cover_held_back_rows_at_about_the_nominal_rate(tmp_path, seeds):
    """Four independent calibrations on 60 rows, each checked on 200 fresh rows: pooled, about 80%
    of held-back rows fall inside the 80% interval (one calibration's coverage varies by ~0.06)."""
    sigma, covered = 0.1, []
    for seed in seeds:
        train = read_measurements(synthetic(tmp_path, f"train{seed}", 60, seed=seed, sigma=sigma))
        held = read_measurements(synthetic(tmp_path, f"held{seed}", 200, seed=seed + 1,
                                           sigma=sigma))
        result = fit("a100", train, keys=KEYS, coverage=0.8, max_folds=10)
        assert result.exact and result.residuals == 60
        device = load_device("a100", [f"{p.key}={v!r}" for p, v in zip(result.params,
                                                                        result.values)])
        errors = np.array([math.log(row.si / RowModel(row, device).predict(device))
                           for row in held])
        covered += list((errors >= result.log_error_lo) & (errors <= result.log_error_hi))
        # about as wide as the noise: 2 x 1.2816 sigma is a normal distribution's 80% interval
        assert result.log_error_hi - result.log_error_lo == pytest.approx(2 * 1.2816 * sigma,
                                                                          rel=0.35)
    assert np.mean(covered) == pytest.approx(0.8, abs=0.08)


def test_conformal_ranks_by_hand():
    residuals = list(range(1, 20))          # n = 19: ranks floor(20 x 0.1) = 2, ceil(20 x 0.9) = 18
    assert conformal_bounds(residuals, 0.8) == (2.0, 18.0, True)
    assert conformal_bounds([3, 1, 2], 0.8) == (1.0, 3.0, False)
    assert min_residuals(0.8) == 9          # (9 + 1) x 0.1 = 1: the first exact rank
    assert min_residuals(0.9) == 19


CALIBRATED = """extends: a100
calibration:
  measurements: m.csv
  date: '2026-01-01'
  rows: 10
  coverage: 0.8
  residuals: 10
  log_error_lo: -0.1
  log_error_hi: 0.2
"""


def test_runs_on_a_calibrated_device_report_the_interval(tmp_path):
    path = tmp_path / "cal.yaml"
    path.write_text(CALIBRATED)
    totals = simulate("resnet50", str(path), batch=8).totals
    latency = totals["latency_s"]
    assert totals["latency_s_lo"] == pytest.approx(latency * math.exp(-0.1))
    assert totals["latency_s_hi"] == pytest.approx(latency * math.exp(0.2))
    assert totals["throughput_lo"] == pytest.approx(totals["throughput"] / math.exp(0.2))
    assert totals["throughput_hi"] == pytest.approx(totals["throughput"] / math.exp(-0.1))
    assert "80%" in totals["interval"] and "m.csv" in totals["interval"]
    served = simulate("gpt2", str(path), mode="serve", prompt=16, generate=4).totals
    assert served["ttft_s_lo"] == pytest.approx(served["ttft_s"] * math.exp(-0.1))
    assert served["tpot_s_hi"] == pytest.approx(served["tpot_s"] * math.exp(0.2))


def test_an_uncalibrated_device_reports_no_interval():
    totals = simulate("resnet50", "a100", batch=8).totals
    assert not any(key.endswith(("_lo", "_hi")) for key in totals) and "interval" not in totals


def test_a_calibration_with_crossed_quantiles_is_refused(tmp_path):
    from accelsim.errors import ConfigError

    path = tmp_path / "bad.yaml"
    path.write_text(CALIBRATED.replace("-0.1", "0.3"))
    with pytest.raises(ConfigError, match="log_error_lo"):
        load_device(str(path))


def test_reader_converts_units_and_defaults(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(HEADER.rstrip() + ",params,source\n"
                    "gemm 64x64x64,a100,,,,latency,2.5,ms,,a\n"
                    "gemm 64x64x64,a100,,,,throughput,3,TFLOP/s,,b\n"
                    "bert_base,a100,inference,4,fp16,throughput,100,samples/s,seq_len=64,c\n"
                    "bert_base,a100,,,,power,250,W,,d\n")
    rows = read_measurements(path)
    assert [row.si for row in rows] == [pytest.approx(2.5e-3), 3e12, 100, 250]
    assert rows[0].batch == 1 and rows[0].mode == "inference" and rows[0].precision is None
    assert rows[0].gemm == (64, 64, 64) and rows[1].flop_rate and not rows[2].flop_rate
    assert rows[2].params == {"seq_len": 64} and rows[3].source == "d" and rows[3].line == 5


def test_one_row_is_not_enough(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text(HEADER + "gemm 64x64x64,a100,,,,latency,1,ms\n")
    with pytest.raises(UsageError, match="at least 2"):
        fit("a100", read_measurements(path))


def test_a_row_the_model_cannot_run_names_its_line(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(HEADER.rstrip() + ",params\n" + "gemm 64x64x64,a100,,,,latency,1,ms,\n"
                    "resnet50,a100,,,,latency,1,ms,stack=maybe\n")
    with pytest.raises(UsageError, match=r"m\.csv:3: params: .*stack"):
        fit("a100", read_measurements(path))
