"""Energy model: constants against energy_45nm.csv, scaling rules, per-level pricing, Eyeriss power."""

from __future__ import annotations

import csv
import re

import pytest

from accelsim.config.loader import load_device
from accelsim.config.systolic import SystolicConfig
from accelsim.devices import energy as E
from accelsim.workload.zoo._builder import NetBuilder

MIB = 1024 * 1024


def device(process_nm: float = 45.0, memory_type: str = "DDR3", idle: float = 0.0, **energy):
    """A minimal systolic device: only the fields the energy model reads matter."""
    return SystolicConfig(
        kind="systolic", name="t", clock=1e9, process_nm=process_nm, array={"rows": 8, "cols": 8},
        sram={"ifmap": 1024, "filter": 1024, "ofmap": 1024},
        memory={"type": memory_type, "bandwidth": 1e9}, power={"idle": idle}, energy=energy)


@pytest.fixture(scope="module")
def csv_rows(reference_dir) -> dict[str, tuple[str, str]]:
    """energy_45nm.csv as operation -> (energy_pj, per)."""
    with open(reference_dir / "energy_45nm.csv", newline="") as f:
        return {row["operation"]: (row["energy_pj"], row["per"]) for row in csv.DictReader(f)}


def test_op_constants_equal_the_csv(csv_rows):
    for op, pj in E.HOROWITZ_OP_PJ.items():
        assert float(csv_rows[op][0]) == pj
        assert csv_rows[op][1] == "op"


def test_sram_dram_and_ladder_equal_the_csv(csv_rows):
    for size, pj in E.HOROWITZ_SRAM_PJ_PER_64BIT.items():
        label = f"SRAM read {size // 1024} KB" if size < MIB else f"SRAM read {size // MIB} MB"
        assert float(csv_rows[label][0]) == pj
        assert csv_rows[label][1] == "64-bit access"
    low, high = csv_rows["DRAM"][0].split("-")
    assert (float(low), float(high)) == E.HOROWITZ_DRAM_PJ_PER_64BIT
    ladder_row = next(k for k in csv_rows if k.startswith("Eyeriss ladder"))
    assert [float(x) for x in csv_rows[ladder_row][0].split("/")] == list(E.EYERISS_LADDER.values())


def test_mac_is_multiply_plus_accumulate_add():
    assert E.MAC_PJ_45NM["int8"] == pytest.approx(0.2 + 0.1)      # int8 mult + int32 add
    assert E.MAC_PJ_45NM["fp16"] == pytest.approx(1.1 + 0.4)
    assert E.MAC_PJ_45NM["fp32"] == pytest.approx(3.7 + 0.9)
    assert E.MAC_PJ_45NM["int16"] == pytest.approx(0.2 * 4 + 0.1)   # width^2 multiplier rule
    assert E.MAC_PJ_45NM["fp64"] == pytest.approx(4 * (3.7 + 0.9))


def test_node_scaling_is_linear_and_dram_is_not():
    at7, at45 = device(process_nm=7), device()
    assert E.node_scale(at7) == pytest.approx(7 / 45)
    assert E.mac_pj(at7, "int8") == pytest.approx(0.3 * 7 / 45)
    # one bank (no H-tree wire): the SRAM array's energy is linear in the node
    assert E.sram_pj_per_byte(at7, 8 * 1024) == pytest.approx(E.sram_pj_per_byte(at45, 8 * 1024) * 7 / 45)
    assert E.dram_pj_per_byte(at7) == E.dram_pj_per_byte(at45)


@pytest.mark.parametrize("size,pj_per_64bit", [(8 * 1024, 10), (32 * 1024, 20), (MIB, 100)])
def test_sram_fit_reproduces_horowitz_rows(size, pj_per_64bit):
    # Horowitz ISSCC 2014 (45 nm): a power law through three points, each within 3%
    assert E.sram_pj_per_byte(device(), size) == pytest.approx(pj_per_64bit / 8, rel=0.03)


def test_sram_energy_grows_with_size_and_banks_cap_the_array():
    sizes = [1024, 8 * 1024, 64 * 1024, 512 * 1024, 4 * MIB, 64 * MIB]
    prices = [E.sram_pj_per_byte(device(), size) for size in sizes]
    assert prices == sorted(prices)
    # 64 MiB is 64 banks of 1 MiB: one bank's energy plus the wire to it, far below the power law
    assert E.sram_pj_per_byte(device(), 64 * MIB) < 2 * E.sram_pj_per_byte(device(), MIB)


@pytest.mark.parametrize("memory_type,key", [("HBM2", "HBM2"), ("HBM2e", "HBM2E"), ("HBM3", "HBM3"),
                                             ("LPDDR5X", "LPDDR5"), ("DDR4", "DDR4"),
                                             ("LPDDR4 (host) over PCIe", "LPDDR4"), ("DRAM", "DDR3"),
                                             ("off-chip DRAM via FPGA", "DDR3")])
def test_dram_energy_by_memory_type(memory_type, key):
    assert E.dram_type(device(memory_type=memory_type)) == key
    per_byte = 8 * E.DRAM_PJ_PER_BIT[key]
    assert E.dram_pj_per_byte(device(memory_type=memory_type)) == pytest.approx(per_byte)


def test_dram_anchors():
    assert E.DRAM_PJ_PER_BIT["HBM2"] == 3.9                           # O'Connor et al. MICRO 2017
    assert E.DRAM_PJ_PER_BIT["DDR3"] == pytest.approx((1300 + 2600) / 2 / 64)
    assert E.DRAM_PJ_PER_BIT["DDR4"] == pytest.approx(E.DRAM_PJ_PER_BIT["DDR3"] * 0.64)   # (1.2/1.5)^2


def test_eyeriss_ladder_prices_registers_and_links():
    d = device(process_nm=65)
    mac16 = 0.9 * 65 / 45
    assert E.register_pj_per_byte(d) == pytest.approx(mac16 / 2)
    assert E.noc_pj_per_byte(d) == pytest.approx(2 * mac16 / 2)


def test_overrides_win():
    d = device(mac_pj={"int8": 0.05}, sram_pj_per_byte=1.0, dram_pj_per_byte=20.0,
               register_pj_per_byte=0.1, noc_pj_per_byte=0.2, vector_flop_pj=0.3)
    assert (E.mac_pj(d, "int8"), E.sram_pj_per_byte(d), E.dram_pj_per_byte(d)) == (0.05, 1.0, 20.0)
    assert (E.register_pj_per_byte(d), E.noc_pj_per_byte(d), E.vector_flop_pj(d)) == (0.1, 0.2, 0.3)
    assert E.mac_pj(d, "fp16") == pytest.approx(1.5)                 # entries not overridden stay


def conv(h: int, cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0,
         groups: int = 1, batch: int = 1, precision: str = "int16"):
    """One convolution op built by the zoo's builder."""
    b = NetBuilder("t", batch, precision)
    b.conv2d("conv", b.input((batch, cin, h, h)), cout, kernel, stride, padding, groups)
    return b.graph().ops[0]


def test_op_energy_components():
    d = device(idle=2.0)
    op = conv(8, 16, 16, 3, padding=1, precision="int8")
    e = E.op_energy(d, op, dram_bytes=1000, onchip_bytes=500, latency_s=1e-3,
                    sram_size=8 * 1024, register_bytes=300, noc_bytes=200)
    assert e.compute == pytest.approx(op.macs * 0.3e-12)
    mac16 = 0.8 + 0.1                      # int16 MAC at 45 nm: the Eyeriss ladder's unit
    sram = 500 * E.sram_pj_per_byte(d, 8 * 1024)                 # Horowitz: 10 pJ per 64 bits, to 3%
    assert e.onchip == pytest.approx((sram + 300 * mac16 / 2 + 200 * 2 * mac16 / 2) * 1e-12)
    assert sram == pytest.approx(500 * 10 / 8, rel=0.03)
    assert e.offchip == pytest.approx(1000 * 1950 / 8 * 1e-12)
    assert e.static == pytest.approx(2.0 * 1e-3)


def test_old_keyword_signature_still_works():
    op = conv(8, 16, 16, 3, padding=1, precision="int8")
    e = E.op_energy(device(), op, dram_bytes=0.0, onchip_bytes=8.0, latency_s=0.0)
    assert e.onchip == pytest.approx(8 * E.sram_pj_per_byte(device()) * 1e-12)


# The AlexNet that Eyeriss ran (Krizhevsky et al. 2012, Caffe, 227x227, two groups in conv2/4/5):
# (input size, in channels, out channels, kernel, stride, padding, groups).
EYERISS_ALEXNET = ((227, 3, 96, 11, 4, 0, 1), (27, 96, 256, 5, 1, 2, 2), (13, 256, 384, 3, 1, 1, 1),
                   (13, 384, 384, 3, 1, 1, 2), (13, 384, 256, 3, 1, 1, 2))


def test_eyeriss_alexnet_power_from_the_ladder(reference_dir, capsys):
    """Row-stationary access counts per frame, priced by the energy model (closed form):
    every MAC reads its ifmap and filter words and reads and writes its psum in the PE register
    files (4 RF accesses, Chen et al. ISCA 2016); every ifmap/ofmap word of a layer crosses DRAM once
    and filters once per batch; each DRAM word is written into and read out of the 108 KB global
    buffer once, and each global-buffer read crosses the inter-PE network."""
    with open(reference_dir / "measurements_public.csv", newline="") as f:
        p10 = next(row for row in csv.DictReader(f) if row["id"] == "P10")
    batch, fps = int(p10["batch"]), float(p10["value"])
    measured_mw = float(re.search(r"at ([0-9.]+) mW", p10["unit"]).group(1))
    eyeriss = load_device("eyeriss")
    ops = [conv(*layer) for layer in EYERISS_ALEXNET]
    assert sum(op.macs for op in ops) == pytest.approx(666e6, rel=0.01)   # JSSC 2017: 666 M MACs
    joules = 0.0
    for op in ops:
        dram = op.input_bytes + op.output_bytes + op.weight_bytes / batch
        joules += E.op_energy(eyeriss, op, dram_bytes=dram, onchip_bytes=2 * dram,
                              sram_size=108 * 1024, register_bytes=4 * 2 * op.macs, noc_bytes=dram,
                              latency_s=0.0).total
    predicted_mw = joules * fps * 1e3
    with capsys.disabled():
        print(f"\nEyeriss AlexNet conv layers: {joules * 1e3:.2f} mJ/frame x {fps:.0f} frame/s = "
              f"{predicted_mw:.0f} mW predicted vs {measured_mw:.0f} mW measured")
    assert measured_mw / 2 < predicted_mw < measured_mw * 2


def test_vector_flops_cost_an_fp32_add_each():
    b = NetBuilder("t", 1, "int8")
    b.activation("relu", b.input((1, 1000)), "relu")
    e = E.op_energy(device(process_nm=90), b.graph().ops[0], dram_bytes=0.0, latency_s=0.0)
    assert e.compute == pytest.approx(1000 * 0.9 * 90 / 45 * 1e-12)
