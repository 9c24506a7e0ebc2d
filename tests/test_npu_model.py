"""NPU cost model: lanes, weight caching and spill, activation placement, host fallback, power,
Coral MobileNetV2 (P08) and Jetson AGX Orin ResNet-50 (P07)."""

from __future__ import annotations

import csv
import math

import pytest
from pydantic import ValidationError

import accelsim
from accelsim.config.npu import NpuConfig
from accelsim.devices import npu
from accelsim.errors import UsageError
from accelsim.workload.zoo._builder import NetBuilder

MIB = 1024 * 1024


def device(sram: float = MIB, array: dict | None = None, tdp: float | None = None,
           idle: float = 0.0, invoke: float = 0.0, layer: float = 0.0,
           supported: tuple[str, ...] = ("conv2d", "matmul", "elementwise", "pool", "norm")):
    """A 1 GHz NPU with 4096 int8 / 1024 fp16 MACs, 10 GB/s DRAM, a 10 GFLOP/s host on a 1 GB/s link."""
    return NpuConfig(kind="npu", name="t", clock=1e9, macs_per_cycle={"int8": 4096, "fp16": 1024},
                     array=array, sram=sram, supported_ops=supported, layer_overhead=layer,
                     host={"flops": 1e10, "link_bandwidth": 1e9, "invoke_overhead": invoke},
                     memory={"type": "LPDDR4", "bandwidth": 1e10}, power={"tdp": tdp, "idle": idle})


def fc_graph(widths: tuple[int, ...], batch: int = 1, precision: str = "int8"):
    """A graph of linear layers widths[0] -> widths[1] -> ..."""
    b = NetBuilder("t", batch, precision)
    x = b.input((batch, widths[0]))
    for i, width in enumerate(widths[1:]):
        x = b.linear(f"fc{i}", x, width, bias=False)
    return b.graph()


def fc_chain(widths: tuple[int, ...], batch: int = 1, precision: str = "int8"):
    """The ops of fc_graph."""
    return fc_graph(widths, batch, precision).ops


def test_lone_op_reads_its_input_and_writes_its_output_offchip():
    op = fc_chain((512, 512))[0]
    c = npu.cost(op, device())
    assert (c.dram_read_bytes, c.dram_write_bytes) == (512, 512)      # weights cached on chip
    assert c.compute_s == pytest.approx(math.ceil(op.macs / 4096) / 1e9)
    assert c.unit == "npu"


def test_intermediate_activations_stay_on_chip():
    first, second = npu.costs(fc_chain((512, 512, 512)), device())
    assert (first.dram_read_bytes, first.dram_write_bytes) == (512, 0)
    assert (second.dram_read_bytes, second.dram_write_bytes) == (0, 512)


def test_weights_beyond_the_sram_stream_every_inference():
    ops = fc_chain((640, 640, 640, 640))           # three 400 KiB weight matrices, 1 MiB SRAM
    costs = npu.costs(ops, device())
    assert [c.dram_read_bytes for c in costs] == [640, 0, 640 * 640]
    assert costs[2].bound == "memory"
    assert costs[2].memory_s == pytest.approx((640 * 640 + 640) / 1e10)


def test_activations_spill_when_they_do_not_fit():
    first, second = npu.costs(fc_chain((256, 256, 256), batch=4096), device())   # 1 MiB tensors
    assert (first.dram_read_bytes, first.dram_write_bytes) == (MIB, MIB)      # weights stay cached
    assert (second.dram_read_bytes, second.dram_write_bytes) == (MIB, MIB)


def test_unsupported_kind_runs_on_the_host_over_the_link():
    b = NetBuilder("t", 1, "int8")
    b.softmax("softmax", b.input((1, 1000)))
    op = b.graph().ops[0]
    c = npu.cost(op, device())
    assert c.unit == "host"
    assert c.latency_s == pytest.approx(op.flops / 1e10 + 2 * 1000 / 1e9)


def test_invoke_overhead_is_paid_once_per_inference():
    costs = npu.costs(fc_chain((256, 256, 256)), device(invoke=1e-3, layer=1e-6))
    assert costs[0].latency_s == pytest.approx(1e-3 + 1e-6 + max(costs[0].compute_s, costs[0].memory_s))
    assert costs[1].latency_s == pytest.approx(1e-6 + max(costs[1].compute_s, costs[1].memory_s))


def test_narrower_throughput_precisions_take_longer():
    int8 = npu.cost(fc_chain((4096, 4096), precision="int8")[0], device())
    fp16 = npu.cost(fc_chain((4096, 4096), precision="fp16")[0], device())
    assert fp16.cycles == 4 * int8.cycles


def test_precision_without_macs_is_a_usage_error():
    with pytest.raises(UsageError, match="bf16"):
        npu.cost(fc_chain((64, 64), precision="bf16")[0], device())


def test_lanes_quantise_channels_and_pack_frames():
    lanes = {"pixels": 4, "in_channels": 32, "out_channels": 32}
    one = npu.cost(fc_chain((64, 64), batch=1)[0], device(array=lanes))
    four = npu.cost(fc_chain((64, 64), batch=4)[0], device(array=lanes))
    odd = npu.cost(fc_chain((65, 64), batch=1)[0], device(array=lanes))
    assert one.cycles == four.cycles == 1 * 2 * 2          # ceil(1/4) x ceil(64/32) x ceil(64/32)
    assert odd.cycles == 1 * 3 * 2


def test_npu_draws_tdp_while_busy_and_idle_power_otherwise():
    c = npu.costs(fc_chain((1024, 1024)), device(tdp=2.0, idle=0.5, invoke=1e-3))[0]
    busy = max(c.compute_s, c.memory_s)
    assert c.energy.static == pytest.approx(0.5 * c.latency_s)
    assert c.energy.compute + c.energy.onchip + c.energy.offchip == pytest.approx(1.5 * busy)


def test_schema_rejects_an_array_that_contradicts_macs_per_cycle():
    with pytest.raises(ValidationError, match="MAC lanes"):
        device(array={"pixels": 1, "in_channels": 32, "out_channels": 32})


def test_simulate_plans_the_whole_run():
    graph = fc_graph((640, 640, 640, 640))
    result = accelsim.simulate(graph, device(), precision="int8")
    planned = npu.costs(graph.ops, device())
    assert result.totals["latency_s"] == pytest.approx(sum(c.latency_s for c in planned))
    assert result.totals["dram_bytes"] == pytest.approx(640 + 640 * 640 + 640)


def measured(reference_dir, row_id: str) -> float:
    """The value of one row of measurements_public.csv."""
    with open(reference_dir / "measurements_public.csv", newline="") as f:
        return float(next(row for row in csv.DictReader(f) if row["id"] == row_id)["value"])


def test_coral_mobilenet_v2_latency_against_measurement(reference_dir, capsys):
    row_id, workload, device_name = "P08", "mobilenet_v2", "coral_edgetpu"
    ms = measured(reference_dir, row_id)
    result = accelsim.simulate(workload, device_name, batch=1, precision="int8")
    predicted = result.totals["latency_s"] * 1e3
    with capsys.disabled():
        print(f"\n{device_name} {workload}: {predicted:.3f} ms predicted vs {ms} ms measured "
              f"({row_id}), error {predicted / ms - 1:+.1%}")
    assert predicted == pytest.approx(ms, rel=0.30)


def test_coral_resnet50_streams_the_weights_that_miss_the_cache():
    """Coral benchmarks page (not fitted): ResNet-50 V1 299x299 takes 56 ms on the Dev Board, its
    25 MB of int8 weights mostly streaming over PCIe since only 8 MiB fit on chip."""
    result = accelsim.simulate("resnet50", "coral_edgetpu", precision="int8", image_size=299)
    assert result.totals["latency_s"] * 1e3 == pytest.approx(56, rel=0.30)
    assert result.totals["dram_bytes"] > 15e6
