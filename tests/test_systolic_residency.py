"""Whole-run activation residency on systolic chips with a shared SRAM: closed forms on hand-built
chains, liveness, TPU v1 ResNet-50, and devices without one costed op by op."""

import math

import pytest

import accelsim
from accelsim.api import build_trace, load_device, load_workload
from accelsim.config.systolic import SystolicConfig
from accelsim.devices import cost_all
from accelsim.devices.systolic import bytes_per_cycle, cost, costs, resident_tensors
from accelsim.sweep.fast import fast_systolic
from accelsim.workload.ir import Gemm, Op, OpKind, Tensor

KIB = 1024
PIXELS, CHANNELS = 1024, 8        # one fold of an 8 x 8 array: k = n = 8, m = 1024
ACT = PIXELS * CHANNELS           # int8 activation bytes
WEIGHTS = CHANNELS * CHANNELS     # int8 1 x 1 filter bytes
FOLD = 2 * 8 + 8 + PIXELS - 2     # SCALE-Sim ws fold: 2R + C + T - 2 cycles


def chip(shared_sram: float | None, bandwidth: float = 10e9) -> SystolicConfig:
    """An 8 x 8 ws array at 1 GHz whose SRAMs hold any operand here whole (no re-reads)."""
    return SystolicConfig.model_validate({
        "kind": "systolic", "name": "toy", "clock": 1e9, "precisions": ["int8"],
        "array": {"rows": 8, "cols": 8, "dataflow": "ws"},
        "sram": {"ifmap": 64 * KIB, "filter": 64 * KIB, "ofmap": 64 * KIB},
        "shared_sram": shared_sram, "memory": {"bandwidth": bandwidth}})


def act(name: str) -> Tensor:
    """A PIXELS x CHANNELS int8 activation."""
    return Tensor(name, (PIXELS, CHANNELS), "int8")


def conv1x1(name: str, source: str, deps: tuple[str, ...] = ()) -> Op:
    """A 1 x 1 convolution CHANNELS -> CHANNELS over PIXELS pixels, reading `source`."""
    return Op(name, OpKind.CONV2D, inputs=(act(source),), outputs=(act(name),),
              weights=(Tensor(f"{name}.w", (CHANNELS, CHANNELS), "int8"),),
              gemm=Gemm(PIXELS, CHANNELS, CHANNELS), precision="int8", deps=deps,
              attrs=(("kernel", 1),))


def pointwise(name: str, kind: OpKind, sources: tuple[str, ...]) -> Op:
    """An elementwise op over PIXELS x CHANNELS (relu: one source, add: two)."""
    return Op(name, kind, inputs=tuple(act(s) for s in sources), outputs=(act(name),),
              vector_flops=ACT, precision="int8", deps=sources)


CHAIN = (conv1x1("a", "x"), conv1x1("b", "a", ("a",)))


def dram(run) -> float:
    """DRAM bytes of a run's costs."""
    return sum(c.dram_bytes for c in run)


def test_intermediate_that_fits_never_touches_dram():
    run = costs(CHAIN, chip(shared_sram=ACT))
    assert dram(run) == ACT + 2 * WEIGHTS + ACT                 # input + weights + final output
    assert [c.dram_write_bytes for c in run] == [0, ACT]
    assert [c.dram_read_bytes for c in run] == [ACT + WEIGHTS, WEIGHTS]


def test_intermediate_that_does_not_fit_goes_through_dram_as_alone():
    device = chip(shared_sram=ACT - 1)
    run = costs(CHAIN, device)
    assert run == [cost(op, device) for op in CHAIN]
    assert dram(run) == ACT + 2 * WEIGHTS + 2 * ACT + ACT       # plus the intermediate, both ways


def test_stalls_follow_the_reduced_traffic():
    # One fold: stalls = ceil(max(0, DRAM bytes / bytes per cycle - fold cycles)).
    device = chip(shared_sram=ACT, bandwidth=10e9)
    alone, resident = cost(CHAIN[1], device), costs(CHAIN, device)[1]
    assert alone.stall_cycles == math.ceil((2 * ACT + WEIGHTS) / bytes_per_cycle(device) - FOLD)
    assert alone.bound == "memory"
    assert (ACT + WEIGHTS) / bytes_per_cycle(device) < FOLD
    assert resident.stall_cycles == 0 and resident.bound == "compute"
    assert resident.cycles == alone.cycles == FOLD - 1


def test_residual_branch_stays_live_until_its_last_reader():
    ops = CHAIN + (pointwise("add", OpKind.ELEMENTWISE, ("b", "a")),
                   conv1x1("c", "add", ("add",)))
    # a is read by b and by add: a and b are live together, so both need 2 x ACT.
    assert resident_tensors(ops, chip(shared_sram=2 * ACT)) == {"a", "b", "add"}
    device = chip(shared_sram=2 * ACT - 1)
    assert resident_tensors(ops, device) == {"a", "add"}       # b does not fit beside a
    add = costs(ops, device)[2]
    assert (add.dram_read_bytes, add.dram_write_bytes) == (ACT, 0)   # b from DRAM, a on chip


def test_pointwise_op_writes_in_place_of_an_input_that_dies_there():
    ops = (CHAIN[0], pointwise("relu", OpKind.ELEMENTWISE, ("a",)), conv1x1("b", "relu", ("relu",)))
    assert resident_tensors(ops, chip(shared_sram=ACT)) == {"a", "relu"}
    assert dram(costs(ops, chip(shared_sram=ACT))) == ACT + 2 * WEIGHTS + ACT


def test_final_outputs_and_network_inputs_stay_in_dram():
    run = costs(CHAIN, chip(shared_sram=1e12))
    assert run[0].dram_read_bytes == ACT + WEIGHTS and run[1].dram_write_bytes == ACT


@pytest.fixture(scope="module")
def tpu_v1_resnet50():
    """TPU v1 and ResNet-50's batch-64 inference ops."""
    device = load_device("tpu_v1")
    return device, build_trace(load_workload("resnet50", batch=64, precision="int8"),
                               "inference").ops


def test_tpu_v1_convs_on_chip_move_only_weights_and_run_at_the_roofline(tpu_v1_resnet50):
    device, ops = tpu_v1_resnet50
    # Roofline ridge from the paper's numbers: 92 TOPS over 34 GB/s (Jouppi et al. 2017, Table 2).
    ridge = device.peak_flops("int8") / (device.memory.bandwidth * device.memory.efficiency)
    resident = resident_tensors(ops, device)
    run = costs(ops, device)
    convs = [(op, c) for op, c in zip(ops, run) if op.kind is OpKind.CONV2D]
    on_chip = [(op, c) for op, c in convs
               if {t.name for t in op.inputs + op.outputs} <= resident]
    assert len(on_chip) >= len(convs) // 3
    for op, c in on_chip:
        assert c.dram_bytes == op.weight_bytes
        if op.flops / op.weight_bytes > ridge:
            assert c.bound == "compute", op.name
    alone = [cost(op, device).bound for op, _ in convs]
    assert sum(c.bound == "compute" for _, c in convs) > 4 * alone.count("compute")


def test_tpu_v1_fast_path_applies_the_same_residency():
    sweep = fast_systolic("resnet50", [256, 128], 256, "ws", device="tpu_v1", batch=8)
    for i, rows in enumerate([256, 128]):
        result = accelsim.simulate("resnet50", "tpu_v1", batch=8,
                                   overrides=[f"array.rows={rows}"])
        assert sweep.dram_bytes[i] == pytest.approx(result["dram_bytes"], rel=1e-12)
        assert sweep.latency_s[i] == pytest.approx(result["latency_s"], rel=1e-12)


@pytest.mark.parametrize("name", ["scalesim_32x32", "scalesim_google", "eyeriss"])
def test_devices_without_shared_sram_cost_op_by_op(name):
    device = load_device(name)
    assert device.shared_sram is None
    ops = build_trace(load_workload("mobilenet_v2", precision=device.precisions[0]),
                      "inference").ops
    assert cost_all(ops, device) == [cost(op, device) for op in ops]
