"""memory.model scalesim on a systolic device: SCALE-Sim's numbers in layer results, JSON and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

import accelsim
from accelsim.errors import AccelsimError
from accelsim.report.export import write_csv
from accelsim.result import Result

GOLDEN = Path(__file__).parent / "golden" / "scalesim"
DEVICE = "scalesim_32x32"
OVERRIDES = ["memory.model=scalesim", "array.rows=8", "array.cols=8", "array.dataflow=ws",
             "sram.ifmap=1 KiB", "sram.filter=2 KiB", "sram.ofmap=1 KiB"]     # conv_small_8x8_ws


def _rows(report: str, interface: str) -> list[list[str]]:
    """A golden report's cells after the header."""
    path = GOLDEN / "runs" / f"conv_small_8x8_ws_{interface}" / report
    return [[cell.strip() for cell in row][1:-1] for row in csv.reader(path.open())][1:]


@pytest.mark.parametrize("interface", ["user", "calc"])
def test_layers_carry_scalesim_cycles_and_traffic(interface):
    """Cycles, stalls, per-operand SRAM/DRAM traffic and mapping efficiency of every layer."""
    result = accelsim.simulate(str(GOLDEN / "conv_small.csv"), DEVICE,
                               overrides=OVERRIDES + [f"memory.interface={interface}"])
    for layer, compute, detail in zip(result.layers, _rows("COMPUTE_REPORT.csv", interface),
                                      _rows("DETAILED_ACCESS_REPORT.csv", interface)):
        assert layer.cycles + layer.stall_cycles == int(compute[0])
        assert layer.stall_cycles == int(compute[1])
        assert layer.mapping_efficiency * 100 == pytest.approx(float(compute[3]))
        assert layer.compute_utilization * 100 == pytest.approx(float(compute[4]))
        sram, dram = layer.traffic["sram"], layer.traffic["dram"]
        assert [sram["ifmap"]["reads"], sram["filter"]["reads"], sram["ofmap"]["writes"]] == \
            [float(detail[i]) for i in (2, 5, 8)]
        assert [dram["ifmap"]["reads"], dram["filter"]["reads"], dram["ofmap"]["writes"]] == \
            [float(detail[i]) for i in (11, 14, 17)]
        assert layer.dram_bytes == sum(float(detail[i]) for i in (11, 14, 17))


def test_json_and_csv_carry_traffic(tmp_path):
    """The JSON layer gains traffic and efficiencies; the CSV flattens them to dotted columns."""
    result = accelsim.simulate(str(GOLDEN / "gemm_small.csv"), DEVICE, overrides=OVERRIDES)
    layer = result.to_dict()["layers"][0]
    assert set(layer["traffic"]) == {"sram", "dram"}
    assert set(layer["traffic"]["dram"]["ofmap"]) == {"reads", "writes"}
    assert Result.from_dict(result.to_dict()) == result
    write_csv(result, tmp_path / "layers.csv")
    header = (tmp_path / "layers.csv").read_text().splitlines()[0].split(",")
    assert {"traffic.dram.ifmap.reads", "traffic.sram.ofmap.writes", "mapping_efficiency",
            "compute_utilization"} <= set(header)


def test_default_model_shares_the_fold_statistics_and_other_kinds_leave_them_out():
    """The accelsim model has SCALE-Sim's mapping efficiency and compute utilisation (same array);
    other device kinds have no traffic breakdown."""
    plain = accelsim.simulate(str(GOLDEN / "gemm_small.csv"), DEVICE, overrides=OVERRIDES[1:])
    scalesim = accelsim.simulate(str(GOLDEN / "gemm_small.csv"), DEVICE, overrides=OVERRIDES)
    for ours, theirs in zip(plain.layers, scalesim.layers):
        assert set(ours.traffic) == {"sram", "dram"}
        assert (ours.mapping_efficiency, ours.compute_utilization) == \
            (theirs.mapping_efficiency, theirs.compute_utilization)
    gpu = accelsim.simulate(str(GOLDEN / "gemm_small.csv"), "a100")
    assert all(layer.traffic is None and layer.mapping_efficiency is None for layer in gpu.layers)


def test_scalesim_model_needs_one_array():
    """SCALE-Sim's memory system feeds a single array."""
    with pytest.raises(AccelsimError, match="one os/ws/is array"):
        accelsim.simulate(str(GOLDEN / "gemm_small.csv"), DEVICE,
                          overrides=["memory.model=scalesim", "cores=2"])
