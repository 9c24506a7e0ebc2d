"""GPU power: saturating GEMMs at the board limit, the busy floor, the TDP clamp, energy = power x time.

Published anchors: an 8192^3 fp16 GEMM on random inputs runs power-limited at the A100 SXM's 400 W
limit, and H100 matmuls run power-limited at its 700 W limit (H. He, 'Strangely, Matrix
Multiplications on GPUs Run Faster When Given "Predictable" Data!', thonking.ai, 2024); the limits
are the datasheets' (A100 SXM 400 W, H100 SXM 700 W).
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accelsim
from accelsim.api import load_device
from accelsim.calibrate.validate import gemm_op
from accelsim.devices import cost
from accelsim.devices.base import Energy, within_power_limit
from accelsim.workload.ir import Op, OpKind, Tensor

GPUS = ("v100", "a100", "h100", "jetson_orin")


def power_w(result) -> float:
    """Average power of one op's cost."""
    return result.energy.total / result.latency_s


def test_a100_saturating_fp16_gemm_draws_300_to_400_w():
    device = load_device("a100")
    watts = power_w(cost(gemm_op(8192, 8192, 8192, "fp16"), device))
    assert 300.0 <= watts <= 400.0 * (1 + 1e-9)


def test_h100_saturating_fp16_gemm_draws_near_its_700_w_limit():
    device = load_device("h100")
    watts = power_w(cost(gemm_op(8192, 8192, 8192, "fp16"), device))
    assert 0.9 * 700.0 <= watts <= 700.0 * (1 + 1e-9)


@pytest.mark.parametrize("name", GPUS)
def test_every_op_draws_at_least_the_busy_power(name):
    device = load_device(name)
    tiny = gemm_op(1, 1, 1, "fp16")
    assert power_w(cost(tiny, device)) >= device.power.busy > device.power.idle
    # an op with next to no work costs its launch overhead at (almost exactly) busy power
    assert power_w(cost(tiny, device)) == pytest.approx(device.power.busy, rel=1e-3)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(GPUS), m=st.integers(1, 16384), n=st.integers(1, 16384),
       k=st.integers(1, 16384), precision=st.sampled_from(["fp16", "bf16", "int8", "fp32", "tf32"]))
def test_no_gemm_draws_more_than_the_tdp(name, m, n, k, precision):
    device = load_device(name)
    if not device.supports(precision):
        return
    assert power_w(cost(gemm_op(m, n, k, precision), device)) <= device.power.tdp * (1 + 1e-9)


@pytest.mark.parametrize("name", ["a100", "h100"])
def test_a_run_draws_no_more_than_the_tdp(name):
    result = accelsim.simulate("llama2_7b", name, batch=4, precision="fp16", seq_len=512)
    assert result.totals["average_power_w"] <= load_device(name).power.tdp * (1 + 1e-9)


def stream_op(elements: int) -> Op:
    """An fp16 elementwise op over `elements` values: pure HBM streaming."""
    return Op("add", OpKind.ELEMENTWISE, inputs=(Tensor("x", (elements,), "fp16"),),
              outputs=(Tensor("y", (elements,), "fp16"),), vector_flops=elements)


@pytest.mark.parametrize("name", ["v100", "a100", "h100"])
def test_memory_bound_kernels_draw_less_than_compute_bound_ones(name):
    device = load_device(name)
    gemm = cost(gemm_op(8192, 8192, 8192, "fp16"), device)
    gemv = cost(gemm_op(1, 8192, 8192, "fp16"), device)
    stream = cost(stream_op(1 << 28), device)
    assert gemv.bound == stream.bound == "memory"
    assert max(power_w(gemv), power_w(stream)) < power_w(gemm)


@pytest.mark.parametrize("name", ["a100", "h100"])
def test_run_energy_is_average_power_times_latency(name):
    totals = accelsim.simulate("bert_base", name, batch=8, precision="fp16").totals
    assert totals["energy_j"] == pytest.approx(totals["average_power_w"] * totals["latency_s"])
    assert totals["energy_j"] == pytest.approx(sum(totals["energy_breakdown_j"].values()))


def test_op_energy_is_its_parts_and_static_is_busy_times_latency():
    device = load_device("a100")
    result = cost(gemm_op(4096, 4096, 4096, "bf16"), device)
    e = result.energy
    assert e.total == pytest.approx(e.compute + e.onchip + e.offchip + e.static)
    assert e.static == pytest.approx((device.power.idle + device.power.active) * result.latency_s)


def test_power_limit_scales_dynamic_energy_to_the_tdp_and_keeps_static():
    energy = Energy(compute=3.0, onchip=2.0, offchip=1.0, static=1.0)   # 7 J in 1 s = 7 W
    capped = within_power_limit(energy, 1.0, 4.0)
    assert capped.total == pytest.approx(4.0) and capped.static == 1.0
    # the dynamic parts keep their shares: 3 J of dynamic energy left, split 3:2:1
    assert (capped.compute, capped.onchip, capped.offchip) == pytest.approx((1.5, 1.0, 0.5))


def test_power_limit_leaves_energy_under_the_tdp_or_without_one_alone():
    energy = Energy(compute=1.0, static=1.0)
    assert within_power_limit(energy, 1.0, 5.0) is energy
    assert within_power_limit(energy, 1.0, None) is energy
