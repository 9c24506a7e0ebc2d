"""The fast sweep paths of gpu, fpga, npu and cpu devices: equal to accelsim.simulate on every point."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import accelsim
from accelsim.errors import UsageError
from accelsim.kernels.gpu import PLAN_FIELDS
from accelsim.kernels.gpu_grid import plan_grid, plan_grid_reference
from accelsim.sweep import load_space, run_sweep
from accelsim.sweep.fast_gpu import fast_gpu
from accelsim.sweep.fastpath import fast_records
from hostile.cli import accelsim as run_cli
from hostile.cli import assert_clean_error

TOLERANCE = 1e-9
TOTALS = ("latency_s", "energy_j", "dram_bytes")


def simulated(workload: str, device: str, overrides: list[str], **options) -> dict:
    """accelsim.simulate's totals of one design point (memory warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return accelsim.simulate(workload, device, overrides=overrides, **options).totals


def assert_equal_to_simulate(fast, workload: str, device: str, swept: dict, **options) -> None:
    """Each point of `fast` gives the general path's latency, energy, DRAM bytes and memory fit."""
    points = len(fast.latency_s)
    for i in range(points):
        overrides = [f"{key}={values[i]}" for key, values in swept.items()]
        totals = simulated(workload, device, overrides, **options)
        for name in TOTALS:
            assert getattr(fast, name)[i] == pytest.approx(totals[name], rel=TOLERANCE), (i, name)
        assert bool(fast.fits_in_memory[i]) == totals["fits_in_memory"]


# ---- kernel -----------------------------------------------------------------------------------

def test_plan_grid_matches_its_reference():
    shapes = [[100, 300, 700, 1], [1, 4096, 4096, 1], [3136, 64, 576, 2], [50, 50, 5000, 3]]
    elem, a, b, c = [2.0, 1.0, 2.0, 4.0], [1e5, 4e3, 2e6, 5e5], [4e5, 3e7, 7e4, 1e6], [6e4, 8e3, 4e5, 1e4]
    designs = dict(slots=[4, 9, 16], l2_size=[0.0, 1e6, 4e7], l2_bw=[0.0, 5e12, 1e13],
                   dram_bw=[1e11, 1e12, 3e12])
    slot_flops = np.array([[1e12, 2e12, 5e11]] * len(shapes)) * np.array([[1.0], [0.5], [2.0], [1.0]])
    common = dict(tiles=[[128, 128], [64, 32], [256, 128]], k_overhead=32.0, tile_intensity=40.0)
    fast = plan_grid(shapes, elem, a, b, c, slot_flops=slot_flops, **designs, **common)
    slow = plan_grid_reference(shapes, elem, a, b, c, slot_flops=slot_flops, **designs, **common)
    assert fast.shape == (4, 3, PLAN_FIELDS)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_plan_grid_refuses_nonpositive_designs():
    with pytest.raises(ValueError, match="positive"):
        plan_grid([[8, 8, 8, 1]], [2.0], [1.0], [1.0], [1.0], slots=[0], slot_flops=[[1.0]],
                  l2_size=[0.0], l2_bw=[0.0], dram_bw=[1.0], tiles=[[8, 8]])


# ---- gpu --------------------------------------------------------------------------------------

GPU_DESIGNS = {"sms": [16, 60, 132, 208], "memory.bandwidth": [0.3e12, 1e12, 3.35e12, 8e12],
               "l2.size": [2.0**20, 6 * 2.0**20, 50 * 2.0**20, 2.0**28],
               "clock": [1.0e9, 1.98e9, 1.5e9, 2.2e9]}


@pytest.mark.parametrize("workload, device, options", [
    ("resnet50", "h100", {}), ("resnet50", "a100", {"batch": 32}),
    ("bert_base", "v100", {"precision": "fp32"}), ("gpt2", "mi300x", {"mode": "training"})])
def test_fast_gpu_equals_simulate(workload, device, options):
    fast = fast_gpu(workload, device=device, sms=GPU_DESIGNS["sms"],
                    bandwidth=GPU_DESIGNS["memory.bandwidth"], l2_size=GPU_DESIGNS["l2.size"],
                    clock=GPU_DESIGNS["clock"], **options)
    assert_equal_to_simulate(fast, workload, device, GPU_DESIGNS, **options)


def test_fast_gpu_flags_points_that_do_not_fit():
    # ResNet-50 weights alone (25.6 M bf16 parameters, 51 MB) do not fit in 32 MB.
    fast = fast_gpu("resnet50", device="h100", capacity=[32e6, 80e9])
    assert fast.fits_in_memory.tolist() == [False, True]
    assert_equal_to_simulate(fast, "resnet50", "h100", {"memory.capacity": [32e6, 80e9]})


def test_fast_gpu_refuses_bad_designs_and_other_kinds():
    with pytest.raises(UsageError, match="sms must be a whole number"):
        fast_gpu("resnet50", sms=[10.5])
    with pytest.raises(UsageError, match="bandwidth must be > 0"):
        fast_gpu("resnet50", bandwidth=[0.0])
    with pytest.raises(UsageError, match="needs a gpu device"):
        fast_gpu("resnet50", device="tpu_v4")


# ---- records and the CLI ------------------------------------------------------------------------

def write_space(tmp_path, device: str, parameters: str, extra: str = "") -> str:
    """A space file of ResNet-50 on `device` with these parameter lines."""
    path = tmp_path / "space.yaml"
    path.write_text(f"workload: resnet50\ndevice: {device}\n{extra}parameters:\n{parameters}")
    return str(path)


@pytest.mark.parametrize("device, parameters", [
    ("h100", "  sms: [66, 132]\n  memory.bandwidth: [1 TB/s, 3 TB/s]\n  l2.size: [8 MiB, 50 MiB]\n")])
def test_fast_records_match_runner_records(tmp_path, device, parameters):
    space = load_space(write_space(tmp_path, device, parameters))
    fast, slow = fast_records(space), run_sweep(space)
    assert [r["id"] for r in fast] == [r["id"] for r in slow]
    for a, b in zip(fast, slow):
        for name in (*TOTALS, "throughput", "average_power_w"):
            assert a[name] == pytest.approx(b[name], rel=TOLERANCE)
        assert a["fits_in_memory"] == b["fits_in_memory"] and a["area_mm2"] == b["area_mm2"]


def test_cli_fast_sweeps_a_gpu_and_refuses_keys_it_cannot_vary(tmp_path):
    space = write_space(tmp_path, "h100", "  sms: [66, 132]\n  l2.size: [8 MiB, 50 MiB]\n")
    outcome = run_cli("sweep", space, "--fast")
    assert outcome.code == 0 and "4 points, 0 failed" in outcome.out
    space = write_space(tmp_path, "h100", "  sms: [66, 132]\n  launch_overhead: [1 us, 4 us]\n")
    assert_clean_error(run_cli("sweep", space, "--fast"), "fast path of gpu devices sweeps sms",
                       "not launch_overhead")
