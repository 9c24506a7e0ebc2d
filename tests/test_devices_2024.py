"""The 2023-24 parts against their datasheets: H200, B200 (fp4), MI300X, TPU v5e."""

from __future__ import annotations

import pytest

from accelsim.api import load_device
from accelsim.devices import run_precision
from accelsim.errors import InfeasibleError
from accelsim.workload.ir import BYTES_PER_ELEMENT

T = 1e12


def test_h200_is_an_h100_with_hbm3e():
    h100, h200 = load_device("h100"), load_device("h200")
    assert h200.memory.capacity == 141e9 and h200.memory.bandwidth == 4.8e12   # H200 datasheet
    assert h200.peak_flops("bf16") == h100.peak_flops("bf16") == pytest.approx(989.4 * T)
    assert h200.price_per_hour is None


def test_b200_computes_at_fp4_and_the_h100_does_not():
    b200 = load_device("b200")
    assert b200.peak_flops("fp4") == pytest.approx(9000 * T)       # HGX B200 dense FP4
    assert b200.peak_flops("fp4") == 2 * b200.peak_flops("fp8")
    assert BYTES_PER_ELEMENT["fp4"] == 0.5
    assert run_precision(b200, "fp4") == "fp4"
    with pytest.raises(InfeasibleError):
        run_precision(load_device("h100"), "fp4")


def test_mi300x_datasheet_peaks():
    mi300x = load_device("mi300x")
    assert mi300x.sms == 304                                        # compute units
    assert mi300x.peak_flops("bf16") == pytest.approx(1307.4 * T)
    assert mi300x.peak_flops("fp8") == pytest.approx(2614.9 * T)
    assert mi300x.interconnect.intra == "infinity_fabric"


def test_tpu_v5e_mxus_give_the_published_peak():
    v5e = load_device("tpu_v5e")
    assert v5e.peak_flops("bf16") == pytest.approx(197 * T, rel=0.005)   # Cloud TPU v5e docs
    assert not v5e.supports("int8")      # its 2x int8 rate is not expressible: refused, not under-rated
