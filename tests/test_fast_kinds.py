"""Fast sweep paths of gpu, fpga, npu and cpu devices: equal to accelsim.simulate point by point."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import accelsim
from accelsim.errors import UsageError
from accelsim.kernels.gpu import PLAN_FIELDS
from accelsim.kernels.gpu_grid import plan_grid, plan_grid_reference
from accelsim.sweep import load_space, run_sweep
from accelsim.kernels.npu_cache import best_caches, best_caches_reference
from accelsim.sweep.fast_cpu import fast_cpu
from accelsim.sweep.fast_fpga import fast_fpga
from accelsim.sweep.fast_gpu import fast_gpu
from accelsim.sweep.fast_npu import fast_npu
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
    elem, a = [2.0, 1.0, 2.0, 4.0], [1e5, 4e3, 2e6, 5e5]
    b, c = [4e5, 3e7, 7e4, 1e6], [6e4, 8e3, 4e5, 1e4]
    designs = dict(slots=[4, 9, 16], l2_size=[0.0, 1e6, 4e7], l2_bw=[0.0, 5e12, 1e13],
                   dram_bw=[1e11, 1e12, 3e12])
    slot_flops = np.array([[1e12, 2e12, 5e11]] * 4) * np.array([[1.0], [0.5], [2.0], [1.0]])
    common = dict(tiles=[[128, 128], [64, 32], [256, 128]], k_overhead=32.0, tile_intensity=40.0)
    fast = plan_grid(shapes, elem, a, b, c, slot_flops=slot_flops, **designs, **common)
    slow = plan_grid_reference(shapes, elem, a, b, c, slot_flops=slot_flops, **designs, **common)
    assert fast.shape == (4, 3, PLAN_FIELDS)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_plan_grid_refuses_nonpositive_designs():
    with pytest.raises(ValueError, match="positive"):
        plan_grid([[8, 8, 8, 1]], [2.0], [1.0], [1.0], [1.0], slots=[0], slot_flops=[[1.0]],
                  l2_size=[0.0], l2_bw=[0.0], dram_bw=[1.0], tiles=[[8, 8]])


def test_best_caches_match_their_reference():
    rng = np.random.default_rng(7)
    ops, candidates, designs = 9, 30, 12
    cached = rng.random((candidates, ops)) < 0.5
    cached[1::2] = cached[::2]                     # candidates of one cached row, more bytes used
    used = np.sort(rng.integers(0, 8, candidates).astype(float)) * 1e3
    working = rng.integers(1, 6, ops) * 1e3
    sram = rng.integers(0, 12, designs) * 1e3
    # latencies in a few steps, so that different candidates tie
    latency = np.sort(rng.integers(1, 4, (ops, 2, 2, designs)).astype(float), axis=2)[:, :, ::-1]
    np.testing.assert_array_equal(best_caches(cached, used, working, sram, latency),
                                  best_caches_reference(cached, used, working, sram, latency))


# ---- gpu --------------------------------------------------------------------------------------

GPU_DESIGNS = {"sms": [16, 60, 132, 208], "memory.bandwidth": [0.3e12, 1e12, 3.35e12, 8e12],
               "l2.size": [2.0**20, 6 * 2.0**20, 50 * 2.0**20, 2.0**28],
               "clock": [1.0e9, 1.98e9, 1.5e9, 2.2e9]}


@pytest.mark.parametrize("workload, device, options", [
    ("resnet50", "h100", {}), ("resnet50", "a100", {"batch": 32}),
    ("bert_base", "v100", {"precision": "fp32"}), ("gpt2", "mi300x", {"mode": "training"}),
    ("llama2_7b", "a100", {"stack": "eager", "precision": "fp16", "seq_len": 1, "past": 64})])
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


# ---- fpga, npu, cpu ---------------------------------------------------------------------------

FPGA_DESIGNS = {"dpu.cores": [1, 2, 3, 4], "memory.bandwidth": [5e9, 19.2e9, 40e9, 10e9],
                "bram": [600e3, 1184256.0, 4e6, 2e6], "clock": [200e6, 281e6, 300e6, 250e6]}


@pytest.mark.parametrize("workload, batch", [("resnet50", 1), ("resnet50", 6), ("mobilenet_v2", 4)])
def test_fast_fpga_equals_simulate(workload, batch):
    fast = fast_fpga(workload, cores=FPGA_DESIGNS["dpu.cores"], clock=FPGA_DESIGNS["clock"],
                     bandwidth=FPGA_DESIGNS["memory.bandwidth"], bram=FPGA_DESIGNS["bram"],
                     batch=batch)
    assert_equal_to_simulate(fast, workload, "zcu102_dpu", FPGA_DESIGNS, batch=batch)


NPU_DESIGNS = {"sram": [0.5e6, 2e6, 8 * 2.0**20, 32e6, 8e6],
               "memory.bandwidth": [1e9, 4e9, 25e9, 4e9, 2e9], "clock": [5e8, 1e9, 5e8, 2e9, 1e9]}


@pytest.mark.parametrize("workload, device", [("resnet50", "coral_edgetpu"),
                                              ("mobilenet_v2", "phone_npu"),
                                              ("resnet50", "jetson_orin_dla")])
def test_fast_npu_equals_simulate(workload, device):
    fast = fast_npu(workload, device=device, sram=NPU_DESIGNS["sram"], clock=NPU_DESIGNS["clock"],
                    bandwidth=NPU_DESIGNS["memory.bandwidth"])
    assert_equal_to_simulate(fast, workload, device, NPU_DESIGNS)


CPU_DESIGNS = {"cores": [4, 56, 128, 32], "memory.bandwidth": [50e9, 307e9, 1e12, 100e9],
               "cache.llc": [8e6, 105 * 2.0**20, 1e9, 32e6],
               "cache.l2": [1e6, 2 * 2.0**20, 2e6, 4e6],
               "clock": [2e9, 3e9, 2.5e9, 1.9e9]}


@pytest.mark.parametrize("workload, options", [("resnet50", {}),
                                               ("resnet50", {"batch": 64, "precision": "int8"}),
                                               ("bert_base", {"precision": "fp32"}),
                                               ("gpt2", {"mode": "training"})])
def test_fast_cpu_equals_simulate(workload, options):
    fast = fast_cpu(workload, cores=CPU_DESIGNS["cores"], clock=CPU_DESIGNS["clock"],
                    bandwidth=CPU_DESIGNS["memory.bandwidth"], llc=CPU_DESIGNS["cache.llc"],
                    l2=CPU_DESIGNS["cache.l2"], **options)
    assert_equal_to_simulate(fast, workload, "xeon_8480", CPU_DESIGNS, **options)


def test_fast_paths_refuse_impossible_designs():
    with pytest.raises(UsageError, match="feature_buffer must be smaller than bram"):
        fast_fpga("resnet50", bram=[200e3])          # zcu102's feature buffer is 256 KiB
    with pytest.raises(UsageError, match="l1 < l2 < llc"):
        fast_cpu("resnet50", l2=[4e6], llc=[2e6])
    with pytest.raises(UsageError, match="sram must be > 0"):
        fast_npu("resnet50", sram=[0])


# ---- records and the CLI ------------------------------------------------------------------------

def write_space(tmp_path, device: str, parameters: str, extra: str = "") -> str:
    """A space file of ResNet-50 on `device` with these parameter lines."""
    path = tmp_path / "space.yaml"
    path.write_text(f"workload: resnet50\ndevice: {device}\n{extra}parameters:\n{parameters}")
    return str(path)


@pytest.mark.parametrize("device, parameters", [
    ("h100", "  sms: [66, 132]\n  memory.bandwidth: [1 TB/s, 3 TB/s]\n"
             "  l2.size: [8 MiB, 50 MiB]\n"),
    ("zcu102_dpu", "  dpu.cores: [1, 3]\n  bram: [1 MiB, 2 MiB]\n"),
    ("coral_edgetpu", "  sram: [2 MiB, 8 MiB]\n  memory.bandwidth: [2 GB/s, 8 GB/s]\n"),
    ("xeon_8480", "  cores: [8, 56]\n  cache.llc: [16 MiB, 105 MiB]\n")])
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


def test_bundled_gpu_space_is_twenty_thousand_points_the_fast_path_can_vary():
    from accelsim.sweep.fast_gpu import FAST_KEYS

    space = load_space("sweeps/gpu_sm_hbm_l2_20k.yaml")
    assert space.size == 49 * 31 * 13 and set(space.keys) <= set(FAST_KEYS)
