"""The component library (accelsim.devices.components) and die areas (accelsim.devices.area)
against their cited tables (accelsim/devices/components.csv) and published dies."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import accelsim
from accelsim.devices import area as A
from accelsim.devices import components as C
from accelsim.sweep import load_space, pareto_front
from accelsim.sweep.fastpath import fast_records
from tests.hostile.cli import accelsim as cli
from tests.hostile.cli import assert_clean_error

KIB, MIB = 1024, 1024 * 1024
KINDS_DEVICES = ("tpu_v1", "a100", "phone_npu", "zcu102_dpu", "xeon_8480")


def test_every_table_row_has_a_source_and_a_unit():
    with open(C.Path(C.__file__).with_name("components.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(row["source"].strip() and row["unit"].strip() for row in rows)


# ---- SRAM --------------------------------------------------------------------------------------

def test_sram_fit_holds_out_each_horowitz_point():
    # fit on two of Horowitz's three 45 nm points, predict the third (ISSCC 2014: 10/20/100 pJ):
    # 8 KB +5%, 32 KB -3.5%, 1 MB +13% (extrapolated from the two small arrays)
    points = C.SRAM_READ_PJ_45NM
    for held, tolerance in zip(sorted(points), (0.06, 0.04, 0.14)):
        a, b = C.power_law_fit({k: v for k, v in points.items() if k != held})
        assert a * held**b == pytest.approx(points[held], rel=tolerance)


def test_sram_energy_is_a_power_law_of_the_bank_and_grows_with_ports():
    a, b = C.SRAM_FIT
    assert 0.4 < b < 0.55                      # about the square root of capacity (wire length)
    assert C.sram_read_pj(64 * KIB) == pytest.approx(a * (64 * KIB) ** b)
    assert C.sram_read_pj(64 * KIB, word_bits=32) == pytest.approx(a * (64 * KIB) ** b / 2)
    assert C.sram_read_pj(64 * KIB, ports=2) == pytest.approx(1.5 * C.sram_read_pj(64 * KIB))
    sizes = np.geomspace(256, 256 * MIB, 40)
    assert np.all(np.diff(C.sram_read_pj(sizes)) > 0)
    assert np.all(np.diff(C.sram_area_mm2(sizes)) > 0)


def test_banks_read_one_bank_plus_the_h_tree():
    size, banks = 8 * MIB, 16
    side = math.sqrt(C.sram_area_mm2(size))
    wire = 64 * C.wire_pj_per_bit_mm(45) * side / 2 * (1 - 1 / math.sqrt(banks))
    array = C.sram_read_pj(size / banks, banks=1)
    assert C.sram_read_pj(size, banks=banks) == pytest.approx(array + wire)
    assert C.default_banks(size) == 8 and C.default_banks(4 * KIB) == 1


def test_sram_area_is_cells_times_the_tpu_v1_overhead():
    # Jouppi et al. ISCA 2017: the 24 MiB Unified Buffer is 29% of a 331 mm^2 28 nm die
    assert C.sram_area_mm2(24 * MIB, process_nm=28) == pytest.approx(0.29 * 331)
    assert C.sram_area_mm2(MIB, ports=2, process_nm=28) == pytest.approx(
        2.25 * C.sram_area_mm2(MIB, process_nm=28))                # Rixner et al.: ports^2
    assert C.sram_cell_um2(7) == pytest.approx(0.027)            # TSMC N7 (IEDM 2016), a table row


# ---- node scaling, MACs, wires, registers -----------------------------------------------------------

def test_node_scaling_closed_forms():
    assert C.energy_scale(7) == pytest.approx(7 / 45)
    assert C.logic_area_scale(16) == pytest.approx(3.33 / 28.88)          # WikiChip densities
    # between table nodes: a power law through the two neighbours
    slope = math.log(28.88 / 3.33) / math.log(45 / 16)
    assert C.logic_area_scale(28) == pytest.approx((28 / 45) ** slope)
    # Keckler et al. 2011: 310 pJ (40 nm) and 200 pJ (10 nm) to move 256 bits 10 mm
    assert C.WIRE_PJ_PER_BIT_MM[40] == pytest.approx(310 / 2560, rel=2e-3)
    assert C.WIRE_PJ_PER_BIT_MM[10] == pytest.approx(200 / 2560, rel=2e-3)
    assert C.wire_pj_per_bit_mm(20) == pytest.approx(math.sqrt(C.WIRE_PJ_PER_BIT_MM[40]
                                                               * C.WIRE_PJ_PER_BIT_MM[10]))
    nodes = np.array([65, 45, 28, 16, 10, 7, 5, 3])
    assert np.all(np.diff(C.logic_area_scale(nodes)) < 0) and np.all(np.diff(C.sram_cell_um2(nodes)) < 0)


def test_mac_energy_and_area_are_horowitz_sums():
    assert C.mac_pj("int8") == pytest.approx(0.2 + 0.1)
    assert C.mac_pj("fp64") == pytest.approx(4 * (3.7 + 0.9))
    assert C.mac_area_mm2("fp16") == pytest.approx((1640 + 1360) * 1e-6)
    assert C.mac_area_mm2("int16", 16) == pytest.approx((4 * 282 + 137) * 1e-6 * 3.33 / 28.88)
    # TPU v1's Matrix Multiply Unit: 65,536 int8 PEs in 24% of 331 mm^2 (Jouppi et al. 2017)
    assert 65536 * C.pe_area_mm2("int8", 28) == pytest.approx(0.24 * 331)


def test_register_file_is_flip_flops():
    assert C.register_file_area_mm2(512, process_nm=45) == pytest.approx(512 * 8 * 4.522e-6)


def test_eyeriss_ladder_against_the_sram_fit():
    # Chen et al. ISCA 2016 (65 nm): a 16-bit global-buffer (~100 KB) access costs 6x a
    # register-file (0.5 KB) one; the Horowitz power law gives about 12.7x (error reported, +112%)
    ratio = C.sram_read_pj(108 * KIB, word_bits=16) / C.sram_read_pj(512, word_bits=16)
    assert 6 < ratio < 2.2 * 6


# ---- die areas -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, die_mm2, tolerance", [
    ("tpu_v1", 331, 1e-9),       # Jouppi et al. ISCA 2017 (the calibration itself)
    ("v100", 815, 0.01),         # Volta whitepaper (the GPU calibration itself)
    ("eyeriss", 16, 0.30),       # Chen et al. JSSC 2017: 4.0 mm x 4.0 mm die, held out
    ("a100", 826, 0.15),         # A100 whitepaper, held out
    ("h100", 814, 0.15),         # H100 whitepaper, held out
])
def test_die_areas_against_published_dies(name, die_mm2, tolerance):
    assert A.device_area_mm2(accelsim.load_device(name)) == pytest.approx(die_mm2, rel=tolerance)


@pytest.mark.parametrize("name", KINDS_DEVICES)
def test_every_kind_has_an_area_in_its_totals(name):
    result = accelsim.simulate("gemm", name, m=64, n=64, k=64)
    assert result.totals["area_mm2"] == pytest.approx(A.device_area_mm2(accelsim.load_device(name)))
    assert result.totals["area_mm2"] > 0


def test_area_functions_take_arrays():
    sms = np.array([54, 108, 216])
    gpu = A.gpu_area_mm2(sms, 40 * MIB, tensor_macs_per_sm=512, tensor_precision="tf32")
    assert gpu.shape == (3,) and np.all(np.diff(gpu) > 0)
    assert A.npu_area_mm2([1024, 4096], 8 * MIB, process_nm=5).shape == (2,)
    fpga = A.fpga_area_mm2(2048, [1 * MIB, 4 * MIB], process_nm=16)
    assert fpga[1] > fpga[0]
    assert A.cpu_area_mm2(np.array([8, 16]), 32 * MIB, macs_per_core=32).shape == (2,)


def test_leakage_is_modelled_only_without_a_power_block():
    scalesim = accelsim.load_device("scalesim_32x32")          # its YAML gives no power
    assert scalesim.power.idle == pytest.approx(
        A.device_area_mm2(scalesim) * 28 / 331)               # TPU v1: 28 W idle per die
    assert accelsim.load_device("tpu_v1").power.idle == 28.0   # the YAML's own figure wins


# ---- the README's design-space example --------------------------------------------------------

@pytest.fixture(scope="module")
def readme_records():
    return fast_records(load_space("sweeps/systolic_array.yaml"))


@pytest.mark.parametrize("metrics", [("latency_s", "energy_j"), ("latency_s", "area_mm2")])
def test_readme_fronts_have_at_least_five_distinct_points(readme_records, metrics):
    front = pareto_front(readme_records, list(metrics))
    assert len({tuple(record[m] for m in metrics) for record in front}) >= 5


def test_energy_and_area_move_with_sram_at_a_fixed_array(readme_records):
    for key in ("sram.ifmap", "sram.filter"):
        same_array = [r for r in readme_records if r["point"]["array.rows"] == 64
                      and r["point"]["array.cols"] == 64]
        for metric in ("energy_j", "area_mm2"):
            by_size = {}
            for record in same_array:
                by_size.setdefault(record["point"][key], set()).add(record[metric])
            assert len({min(values) for values in by_size.values()}) == len(by_size) == 3
    small = [r for r in readme_records if r["point"]["array.rows"] == 64 and r["point"]["array.cols"] == 64]
    areas = {r["point"]["sram.ifmap"]: r["area_mm2"] for r in small if r["point"]["sram.filter"] == "32 KiB"}
    assert areas["32 KiB"] < areas["128 KiB"] < areas["512 KiB"]


def test_a_die_area_measurement_is_validated_and_a_bad_unit_refused(tmp_path):
    header = "workload,device,mode,batch,precision,metric,value,unit\n"
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(header + "gemm 64x64x64,a100,inference,1,fp16,area,826,mm2\n")   # A100 whitepaper
    bad.write_text(header + "gemm 64x64x64,a100,inference,1,fp16,area,826,m2\n")
    assert "1 validated rows" in cli("validate", "--measurements", str(good)).out
    assert_clean_error(cli("validate", "--measurements", str(bad)), "bad.csv:2", "unit")
