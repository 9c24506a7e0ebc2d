"""Systolic device model: SCALE-Sim golden cycles, memory closed forms, loop orders, several arrays,
vector ops."""

import configparser
import csv
import math
from pathlib import Path

import pytest

from accelsim.api import build_trace, load_device, load_workload
from accelsim.config.systolic import SystolicConfig
from accelsim.devices.energy import PJ, dram_pj_per_byte
from accelsim.devices.systolic import bytes_per_cycle, cost, costs, operand_bytes
from accelsim.errors import UsageError
from accelsim.workload.importers.scalesim_csv import import_scalesim_csv
from accelsim.workload.ir import Gemm, Op, OpKind, Tensor

SCALESIM = Path(__file__).resolve().parents[2] / "shared" / "reference" / "scalesim"
CLOCK = 1e9
UNLIMITED = 1e30          # bytes/s: SCALE-Sim's golden cycles have no memory stalls


def scale_cfg(name: str = "scale.cfg") -> dict:
    """A SCALE-Sim config file as a SystolicConfig spec (1-byte words, 1 GHz)."""
    parser = configparser.ConfigParser()
    parser.read(SCALESIM / name)
    arch = parser["architecture_presets"]
    kib = 1024
    return {"kind": "systolic", "name": name, "clock": CLOCK, "precisions": ["int8"],
            "array": {"rows": int(arch["ArrayHeight"]), "cols": int(arch["ArrayWidth"]),
                      "dataflow": arch["Dataflow"].strip()},
            "sram": {"ifmap": float(arch["IfmapSramSzkB"]) * kib,
                     "filter": float(arch["FilterSramSzkB"]) * kib,
                     "ofmap": float(arch["OfmapSramSzkB"]) * kib},
            "memory": {"bandwidth": float(arch["Bandwidth"]) * CLOCK}}


def device(spec: dict | None = None, **changes) -> SystolicConfig:
    """scale.cfg with some top-level fields (or sub-dicts, merged) changed."""
    spec = spec or scale_cfg()
    for key, value in changes.items():
        spec[key] = {**spec.get(key, {}), **value} if isinstance(value, dict) else value
    return SystolicConfig.model_validate(spec)


def matmul(m: int, n: int, k: int, count: int = 1, precision: str = "int8", vector_flops: int = 0) -> Op:
    """count x (m x k) @ (k x n) with int8 tensors."""
    return Op("mm", OpKind.MATMUL, inputs=(Tensor("x", (count, m, k), precision),),
              outputs=(Tensor("y", (count, m, n), precision),),
              weights=(Tensor("w", (count, k, n), precision),), gemm=Gemm(m, n, k, count),
              precision=precision, vector_flops=vector_flops)


def golden() -> dict[str, tuple[int, str]]:
    """golden.csv rows for ResNet-50: layer -> (compute cycles, mapping_util)."""
    with open(SCALESIM / "golden.csv") as handle:
        return {row["layer"]: (int(row["compute_cycles"]), row["mapping_util"])
                for row in csv.DictReader(handle) if row["topology"] == "Resnet50.csv"}


def test_resnet50_matches_scalesim_golden_exactly():
    chip = device(array={"rows": 32, "cols": 32, "dataflow": "ws"}, memory={"bandwidth": UNLIMITED})
    graph = import_scalesim_csv(SCALESIM / "Resnet50.csv", precision="int8")
    costs = {op.name: cost(op, chip) for op in graph.ops}
    expected = golden()
    total_cycles, total_util = expected.pop("TOTAL")
    for layer, (cycles, _) in expected.items():
        assert costs[layer].cycles == cycles, layer
    assert sum(c.cycles for c in costs.values()) == total_cycles
    assert all(c.bound == "compute" for c in costs.values())
    # SCALE-Sim's utilisation: MACs / (cycles x PEs), over the whole network
    util = sum(c.macs for c in costs.values()) / (total_cycles * 32 * 32)
    assert round(util, 3) == float(total_util)


def test_everything_fits_reads_each_operand_once():
    op = matmul(64, 48, 40)
    c = cost(op, device(memory={"bandwidth": UNLIMITED}))
    assert c.dram_read_bytes == op.input_bytes + op.weight_bytes
    assert c.dram_write_bytes == op.output_bytes
    assert c.unit == "array" and c.bound == "compute"
    # os on 32x32: ceil(64/32) * ceil(48/32) folds of 32 + 32 + 40 - 2 cycles, minus 1
    assert c.cycles == 2 * 2 * 102 - 1
    assert c.latency_s == pytest.approx(c.cycles / CLOCK)


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_unlimited_bandwidth_never_stalls(dataflow):
    tiny_sram = {"ifmap": 16, "filter": 16, "ofmap": 16}
    c = cost(matmul(300, 200, 100), device(array={"dataflow": dataflow}, sram=tiny_sram,
                                           memory={"bandwidth": UNLIMITED}))
    assert c.bound == "compute" and c.compute_s * CLOCK == c.cycles


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_tiny_bandwidth_makes_latency_bytes_over_bandwidth(dataflow):
    bandwidth = 1e6       # 0.001 bytes per cycle
    chip = device(array={"dataflow": dataflow}, memory={"bandwidth": bandwidth})
    c = cost(matmul(300, 200, 100), chip)
    assert c.bound == "memory"
    dram_s = c.dram_bytes / bandwidth
    # every fold waits for its bytes; one cycle either way: SCALE-Sim's "- 1" and rounding up stalls
    assert dram_s - 1 / CLOCK <= c.latency_s <= dram_s + 1 / CLOCK
    assert c.memory_s == pytest.approx(dram_s)


def test_ws_streams_the_ifmap_once_per_column_fold_when_it_does_not_fit():
    # ws on 32x32: N = 100 -> 4 column folds; the 300 x 100 ifmap (30000 B) > 16 KiB usable.
    op = matmul(300, 100, 100)
    chip = device(array={"dataflow": "ws"}, sram={"ifmap": 32 * 1024}, memory={"bandwidth": UNLIMITED})
    assert cost(op, chip).dram_read_bytes == 4 * op.input_bytes + op.weight_bytes
    # without double buffering the whole 32 KiB holds it: read once
    single = device(array={"dataflow": "ws"}, sram={"ifmap": 32 * 1024, "double_buffered": False},
                    memory={"bandwidth": UNLIMITED})
    assert cost(op, single).dram_read_bytes == op.input_bytes + op.weight_bytes


def test_is_streams_the_filter_once_per_column_fold_when_it_does_not_fit():
    # is: columns hold P = 300 -> 10 column folds; the 100 x 200 filter does not fit 16 bytes.
    op = matmul(300, 200, 100)
    chip = device(array={"dataflow": "is"}, sram={"filter": 32}, memory={"bandwidth": UNLIMITED})
    assert cost(op, chip).dram_read_bytes == op.input_bytes + 10 * op.weight_bytes


def test_os_streams_the_filter_once_per_row_fold_when_its_block_does_not_fit():
    # os: rows hold P = 300 -> 10 row folds; a K x C = 100 x 32 filter block (3200 B) > 1 KiB usable.
    op = matmul(300, 200, 100)
    chip = device(array={"dataflow": "os"}, sram={"filter": 2048}, memory={"bandwidth": UNLIMITED})
    assert cost(op, chip).dram_read_bytes == op.input_bytes + 10 * op.weight_bytes


def test_ws_partial_sums_spill_when_the_ofmap_block_does_not_fit():
    # ws: K = 100 -> 4 row folds; the P x C = 300 x 32 partial-sum block > 4 KiB usable.
    op = matmul(300, 64, 100)
    chip = device(array={"dataflow": "ws"}, sram={"ofmap": 8 * 1024}, memory={"bandwidth": UNLIMITED})
    c = cost(op, chip)
    assert c.dram_write_bytes == 4 * op.output_bytes
    assert c.dram_read_bytes == op.input_bytes + op.weight_bytes + 3 * op.output_bytes


def test_first_column_pass_carries_a_resident_ifmap():
    # ws, 4x4 array, P=10, K=8, N=8 (int8): 2 row x 2 column folds of 2*4 + 4 + 10 - 2 = 20 cycles.
    # DRAM: ifmap 80 B (read in the first pass), filter 64 B, ofmap 80 B = 144 B spread over 4 folds.
    # At 2 B/cycle a first-pass fold needs (144/4 + 80/2) / 2 = 38 cycles (18 stall), the others 18.
    chip = device(array={"rows": 4, "cols": 4, "dataflow": "ws"}, memory={"bandwidth": 2 * CLOCK})
    c = cost(matmul(10, 8, 8), chip)
    assert c.cycles == 4 * 20 - 1 and c.stall_cycles == 2 * 18
    assert c.bound == "memory"
    assert c.dram_read_bytes == 80 + 64 and c.dram_write_bytes == 80


def tpu_like(dataflow: str = "ws") -> SystolicConfig:
    """2 cores x 4 arrays of 128x128 with ample memory."""
    return device(array={"rows": 128, "cols": 128, "dataflow": dataflow}, cores=2, arrays_per_core=4,
                  memory={"bandwidth": UNLIMITED})


def test_eight_arrays_split_the_filters_first():
    # N = 1024 = 8 x 128: each array gets 128 filters, one column fold; K = 256 -> 2 row folds.
    c = cost(matmul(500, 1024, 256), tpu_like())
    assert c.cycles == 2 * 1 * (2 * 128 + 128 + 500 - 2) - 1


def test_eight_arrays_split_the_pixels_when_filters_run_out():
    # N = 64: one column fold for one array; the other factor of 8 splits P = 800 into 100s.
    c = cost(matmul(800, 64, 128), tpu_like())
    assert c.cycles == 1 * 1 * (2 * 128 + 128 + 100 - 2) - 1


def test_os_splits_whole_row_folds_after_columns():
    # os: N = 128 is one column fold, P = 1024 = 8 row folds -> one each; K = 50 streams.
    c = cost(matmul(1024, 128, 50), tpu_like("os"))
    assert c.cycles == 128 + 128 + 50 - 2 - 1


def test_grouped_gemms_are_dealt_to_arrays_then_run_back_to_back():
    # 20 depthwise-like GEMMs (9 x 1 filters) on 8 arrays: 3 rounds on the busiest array.
    c = cost(matmul(196, 1, 9, count=20), tpu_like())
    assert c.cycles == 3 * (2 * 128 + 128 + 196 - 2) - 1
    one_array = device(array={"rows": 128, "cols": 128, "dataflow": "ws"},
                       memory={"bandwidth": UNLIMITED})
    assert cost(matmul(196, 1, 9, count=20), one_array).cycles == 20 * (2 * 128 + 128 + 196 - 2) - 1


def test_vector_epilogue_overlaps_the_array():
    chip = device(memory={"bandwidth": UNLIMITED})
    array_only = cost(matmul(64, 64, 64), chip).cycles
    assert cost(matmul(64, 64, 64, vector_flops=128 * 10), chip).cycles == array_only
    assert cost(matmul(64, 64, 64, vector_flops=128 * 10**6), chip).cycles == 10**6


def elementwise(elements: int, flops_per_element: int) -> Op:
    """A unary int8 op."""
    return Op("act", OpKind.ELEMENTWISE, inputs=(Tensor("x", (elements,), "int8"),),
              outputs=(Tensor("y", (elements,), "int8"),), vector_flops=flops_per_element * elements,
              precision="int8")


def test_vector_op_compute_bound():
    chip = device(cores=2, vector={"flops_per_cycle": 100}, memory={"bandwidth": UNLIMITED})
    c = cost(elementwise(1000, 50), chip)
    assert c.unit == "vector" and c.bound == "compute"
    assert c.cycles == math.ceil(50_000 / 200)
    assert c.dram_read_bytes == 1000 and c.dram_write_bytes == 1000


def test_vector_op_memory_bound():
    chip = device(memory={"bandwidth": 4 * CLOCK})          # 4 bytes per cycle
    c = cost(elementwise(1000, 1), chip)
    assert c.bound == "memory" and c.cycles + c.stall_cycles == 2000 / 4
    assert c.latency_s == pytest.approx(2000 / (4 * CLOCK))


def test_embedding_reads_indices_and_rows_not_the_table():
    op = Op("emb", OpKind.EMBEDDING, inputs=(Tensor("ids", (16,), "int32"),),
            outputs=(Tensor("rows", (16, 64), "int8"),), weights=(Tensor("table", (50000, 64), "int8"),),
            precision="int8")
    c = cost(op, device(memory={"bandwidth": UNLIMITED}))
    assert c.dram_read_bytes == 16 * 4 + 16 * 64


def test_unsupported_precision_is_a_usage_error():
    with pytest.raises(UsageError, match="fp16"):
        cost(matmul(8, 8, 8, precision="fp16"), device())


def test_offchip_energy_prices_the_dram_traffic():
    chip = device()
    c = cost(matmul(300, 200, 100), chip)
    assert c.energy.offchip == pytest.approx(c.dram_bytes * dram_pj_per_byte(chip) * PJ)
    assert c.energy.compute > 0 and c.onchip_bytes > c.dram_bytes


# ---- loop order: each layer's cheapest tiling ---------------------------------------------------

@pytest.mark.parametrize("dataflow, kib, reads", [
    # ws, K = 100 (4 row folds), N = 64 (2 column folds), P = 300; ifmap A = 30000 B, filter
    # B = 6400 B, output O = 19200 B. A 32-column psum row is 32 B. Usable SRAM is half of each.
    # ofmap 4 KiB usable: chunks of 128 pixels keep their psums; a chunk of 81 pixels (8100 B)
    # also fits the 8 KiB ifmap half, so ifmap-resident chunks of 81: A once, and B (not even a
    # 3200 B column fold of it fits the 2 KiB filter half) once per chunk, ceil(300 / 81) = 4 times.
    ("ws", {"ifmap": 16, "filter": 4, "ofmap": 8}, 30000 + 4 * 6400),
    # ofmap 512 B usable: chunks of 16 pixels, 19 of them, would read B 19 times; one column
    # fold of B (3200 B) fits 4 KiB, so filter-resident: B once, A once per column fold.
    ("ws", {"ifmap": 16, "filter": 8, "ofmap": 1}, 2 * 30000 + 6400),
    # os, P = 300 (10 row folds of 3200 B of ifmap), N = 200 (7 column folds), K = 100; A = 30000,
    # B = 20000: blocks of 2 row folds fill the 8 KiB ifmap half, so A once and each 3200 B
    # column fold of B once per block: 5 times. (SCALE-Sim's order reads A 7 times.)
    ("os", {"ifmap": 16, "filter": 8, "ofmap": 1}, 30000 + 5 * 20000),
])
def test_best_loop_order_tiles_for_the_buffers(dataflow, kib, reads):
    n = 64 if dataflow == "ws" else 200
    op = matmul(300, n, 100)
    sram = {name: size * 1024 for name, size in kib.items()}
    chips = {order: device(array={"dataflow": dataflow}, memory={"bandwidth": UNLIMITED},
                           sram={**sram, "loop_order": order}) for order in ("scalesim", "best")}
    best, scalesim = cost(op, chips["best"]), cost(op, chips["scalesim"])
    assert best.dram_read_bytes == pytest.approx(reads)
    assert best.dram_write_bytes == op.output_bytes                     # no partial-sum spill
    assert best.dram_bytes < scalesim.dram_bytes
    assert best.cycles == scalesim.cycles                               # the same folds
    assert best.onchip_bytes > best.dram_bytes


def test_best_loop_order_removes_the_partial_sum_spill():
    # the spill of test_ws_partial_sums_spill_when_the_ofmap_block_does_not_fit: chunks of
    # 4096 / 32 = 128 pixels keep their psums; A (30000 B) and B (6400 B) fit their 32 KiB
    # halves, so every operand moves once and the cycles are SCALE-Sim's.
    op = matmul(300, 64, 100)
    chip = device(array={"dataflow": "ws"}, memory={"bandwidth": UNLIMITED},
                  sram={"ofmap": 8 * 1024, "loop_order": "best"})
    c = cost(op, chip)
    assert c.dram_read_bytes == op.input_bytes + op.weight_bytes
    assert c.dram_write_bytes == op.output_bytes
    assert c.cycles == 4 * 2 * (2 * 32 + 32 + 300 - 2) - 1


def test_unknown_loop_order_is_rejected():
    with pytest.raises(ValueError, match="loop_order"):
        device(sram={"loop_order": "fastest"})


def array_costs(name: str, loop_order: str, batch: int) -> list[tuple[Op, object]]:
    """ResNet-50 GEMMs on a device YAML with a loop order, and their costs."""
    chip = load_device(name, [f"sram.loop_order={loop_order}"])
    graph = load_workload("resnet50", batch=batch, precision=chip.precisions[0])
    return [(op, cost(op, chip)) for op in build_trace(graph, "inference").ops
            if op.gemm is not None and op.macs > 0]


@pytest.mark.parametrize("name, compute_bound_convs", [("tpu_v1", 5), ("tpu_v4", 24)])
def test_tpus_tile_resnet50_down_to_compulsory_traffic(name, compute_bound_convs):
    # TPU YAMLs set loop_order: best. At batch 64, SCALE-Sim's order spills partial sums and
    # re-reads ifmaps; the tiling moves each GEMM's operands about once, so a layer waits for
    # DRAM only where its compulsory bytes (ifmap + filter + output) alone outlast its compute.
    # Each layer's ifmap and output still go through DRAM (34 GB/s on TPU v1): 48 of TPU v1's 53
    # convolutions cannot hide that, so most of them stay memory bound. SCALE-Sim's order may idle
    # some of TPU v4's arrays to give the others more SRAM; the tiling never needs to.
    chip = load_device(name)
    assert chip.sram.loop_order == "best"
    best, scalesim = array_costs(name, "best", 64), array_costs(name, "scalesim", 64)
    compulsory = [sum(operand_bytes(op)[:3]) for op, _ in best]
    for (op, c), (_, s), floor in zip(best, scalesim, compulsory):
        assert c.compute_s <= s.compute_s
        assert c.dram_write_bytes == operand_bytes(op)[2]
        assert floor * (1 - 1e-9) <= c.dram_bytes <= s.dram_bytes * (1 + 1e-9)
        fits = floor / bytes_per_cycle(chip) <= round(c.compute_s * chip.clock)
        assert (c.bound == "compute") == fits, op.name
    assert sum(c.dram_bytes for _, c in best) <= 1.01 * sum(compulsory)
    assert sum(s.dram_bytes for _, s in scalesim) > 1.5 * sum(compulsory)
    convs = [c.bound for op, c in best if op.kind is OpKind.CONV2D]
    assert convs.count("compute") == compute_bound_convs and len(convs) == 53


def test_row_stationary_ignores_the_loop_order():
    op = matmul(300, 64, 100, precision="int16")
    eyeriss = {order: cost(op, load_device("eyeriss", [f"sram.loop_order={order}"]))
               for order in ("scalesim", "best")}
    assert eyeriss["best"] == eyeriss["scalesim"]


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
def test_resnet50_traffic_splits_dram_and_sram_bytes_exactly(dataflow):
    """Per-operand DRAM bytes sum to the layer's DRAM bytes, SRAM bytes to its on-chip bytes
    (integral byte counts: exactly)."""
    device = load_device("tpu_v4", [f"array.dataflow={dataflow}"])
    ops = build_trace(load_workload("resnet50", precision="bf16"), "inference").ops
    for op, c in zip(ops, costs(ops, device)):
        if c.unit != "array":
            continue
        levels = {level: sum(moved["reads"] + moved["writes"] for moved in operands.values())
                  for level, operands in c.traffic.items()}
        assert levels["dram"] == c.dram_read_bytes + c.dram_write_bytes
        assert levels["sram"] == c.onchip_bytes
        assert c.traffic["dram"]["ifmap"]["writes"] == c.traffic["dram"]["filter"]["writes"] == 0
        assert 0 < c.compute_utilization <= c.mapping_efficiency <= 1
