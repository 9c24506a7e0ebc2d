"""CPU model: datasheet peaks, GEMM latency against the blocked roofline, memory-bound vector ops,
TDP energy, memory capacity and precision checks, bad YAML refused in one line."""

from __future__ import annotations

import math
import warnings

import pytest

from accelsim.api import load_device, simulate
from accelsim.calibrate.validate import gemm_op
from accelsim.devices import cpu, run_precision
from accelsim.errors import InfeasibleError
from accelsim.workload.ir import Op, OpKind, Tensor
from clitools import invoke

MIB = 2.0**20
# Intel Xeon Platinum 8480+ (Intel ARK): 56 cores, 2.0 GHz base, DDR5-4800 x 8 channels, 105 MB L3.
CORES, CLOCK = 56, 2.0e9
AMX_BF16, AMX_INT8 = 1024, 2048        # Intel AMX: operations per cycle per core
AVX512_FP32 = 2 * 16 * 2               # two 512-bit FMA ports x 16 fp32 lanes x 2 FLOPs
DRAM = 8 * 4800e6 * 8                  # channels x transfers/s x 8-byte channel width


@pytest.fixture(scope="module")
def xeon():
    return load_device("xeon_8480")


def test_peak_flops_are_cores_times_clock_times_flops_per_cycle(xeon):
    assert xeon.peak_flops("bf16") == pytest.approx(CORES * CLOCK * AMX_BF16)   # 114.7 TFLOP/s
    assert xeon.peak_flops("int8") == pytest.approx(CORES * CLOCK * AMX_INT8)   # 229.4 TOP/s
    assert xeon.peak_flops("fp32") == pytest.approx(CORES * CLOCK * AVX512_FP32)  # 7.17 TFLOP/s
    assert xeon.memory.bandwidth == pytest.approx(DRAM)                         # 307.2 GB/s
    assert xeon.memory.channels == 8


def test_gemm_that_fits_in_the_llc_is_the_roofline_of_one_pass(xeon):
    op = gemm_op(4096, 4096, 4096, "bf16")            # A, B, C: 32 MiB each, 96 MiB < 105 MiB L3
    c = cpu.cost(op, xeon)
    compute = 2 * 4096**3 / (CORES * CLOCK * AMX_BF16 * xeon.efficiency.gemm("bf16"))
    memory = 3 * 32 * MIB / (DRAM * xeon.memory.efficiency)
    assert c.unit == "matrix" and c.bound == "compute"
    assert c.dram_bytes == 3 * 32 * MIB
    assert c.latency_s == pytest.approx(max(compute, memory) + xeon.op_overhead)


def test_gemm_larger_than_the_llc_rereads_operands_per_block(xeon):
    op = gemm_op(8192, 8192, 8192, "bf16")            # 128 MiB per operand
    side = math.isqrt(int(105 * MIB / (3 * 2)))       # square C blocks whose tiles fill the L3
    reads = 128 * MIB * math.ceil(8192 / side) * 2    # A per block column, B per block row
    c = cpu.cost(op, xeon)
    assert c.dram_read_bytes == pytest.approx(reads) and c.dram_write_bytes == 128 * MIB
    assert c.memory_s == pytest.approx((reads + 128 * MIB) / (DRAM * xeon.memory.efficiency))


def test_fp32_gemm_runs_on_avx512(xeon):
    c = cpu.cost(gemm_op(2048, 2048, 2048, "fp32"), xeon)
    efficiency = xeon.efficiency.gemm("fp32")
    assert c.unit == "simd"
    assert c.compute_s == pytest.approx(2 * 2048**3 / (CORES * CLOCK * AVX512_FP32 * efficiency))


def test_matrix_vector_product_is_memory_bound(xeon):
    c = cpu.cost(gemm_op(1, 8192, 8192, "bf16"), xeon)
    side = math.isqrt(int(105 * MIB / (3 * 2)))
    weights, vector = 8192 * 8192 * 2, 8192 * 2        # the 128 MiB matrix streams once
    assert c.bound == "memory"
    assert c.memory_s == pytest.approx((vector * math.ceil(8192 / side) + weights + vector)
                                       / (DRAM * xeon.memory.efficiency))


def test_vector_op_streams_through_dram_at_tdp(xeon):
    x = Tensor("x", (64, 1024, 1024), "bf16")
    op = Op(name="relu", kind=OpKind.ELEMENTWISE, inputs=(x,), outputs=(Tensor("y", x.shape, "bf16"),),
            precision="bf16")
    c = cpu.cost(op, xeon)
    work = 2 * x.bytes / (DRAM * xeon.memory.efficiency)
    assert c.bound == "memory" and c.latency_s == pytest.approx(work + xeon.op_overhead)
    power = xeon.power
    assert c.energy.total == pytest.approx((power.tdp - power.idle) * work + power.idle * c.latency_s)


def test_memory_capacity_is_checked(xeon):
    assert simulate("llama2_7b", xeon, precision="bf16").totals["fits_in_memory"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = simulate("llama2_7b", "xeon_8480", precision="bf16",
                         overrides=["memory.capacity=8 GiB"])
    assert not small.totals["fits_in_memory"]            # 6.7e9 bf16 weights alone are 13.5 GB


def test_precisions_without_a_unit_are_refused(xeon):
    assert run_precision(xeon, None) == "bf16"
    with pytest.raises(InfeasibleError, match="cannot compute at fp8"):
        run_precision(xeon, "fp8")


CPU_YAML = """\
kind: cpu
name: test cpu
clock: 2 GHz
cores: 4
simd: {fp32: 32}
cache: {l1: 32 KiB, l2: 1 MiB, llc: 8 MiB}
memory: {bandwidth: 50 GB/s, channels: 2}
"""


@pytest.mark.parametrize("edit, fragments", [
    (("cores: 4", "coress: 4"), ("test.yaml:4", "coress", "did you mean 'cores'")),
    (("simd: {fp32: 32}", "simd: {fp33: 32}"), ("test.yaml:5", "fp33")),
    (("l1: 32 KiB", "l1: 32 MiB"), ("test.yaml:6", "l1 < l2 < llc")),
    (("channels: 2", "channels: 2.5"), ("test.yaml:7", "channels", "whole number")),
])
def test_bad_cpu_yaml_is_one_clean_line(tmp_path, monkeypatch, capsys, edit, fragments):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "test.yaml").write_text(CPU_YAML.replace(*edit))
    code, _, err = invoke(capsys, "show", "test.yaml")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_good_cpu_yaml_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "test.yaml").write_text(CPU_YAML)
    code, out, _ = invoke(capsys, "show", "test.yaml", "--json")
    assert code == 0 and '"cpu"' in out
