"""GPU busy power, each HBM byte's route on chip, and the eager stack's wait on host dispatch.

Closed forms from the YAML's cited figures and the component library: a pure copy draws
idle + active + its bytes x (HBM pJ/byte + fabric pJ/byte + L2 pJ/byte) / its time (O'Connor et al.
MICRO 2017: HBM2 3.9 pJ/bit); a host-bound eager run takes ops x dispatch + the last op's own time.
"""

import numpy as np
import pytest

import accelsim
from accelsim.api import load_device, load_workload
from accelsim.calibrate.validate import gemm_op
from accelsim.devices import cost
from accelsim.devices.components import sram_pj_per_byte
from accelsim.devices.host import dispatch_s, host_waits
from accelsim.workload.ir import Op, OpKind, Tensor
from accelsim.workload.stack import apply_stack
from tests.hostile.cli import accelsim as run_cli
from tests.hostile.cli import assert_clean_error

HBM2_PJ_PER_BYTE = 3.9 * 8          # O'Connor et al., "Fine-Grained DRAM", MICRO 2017
DECODE = {"seq_len": 1, "past": 64}


def copy_op(elements: int) -> Op:
    """An fp16 copy of `elements` values: HBM traffic and nothing else."""
    return Op("copy", OpKind.ELEMENTWISE, inputs=(Tensor("x", (elements,), "fp16"),),
              outputs=(Tensor("y", (elements,), "fp16"),))


def test_a_copy_draws_busy_power_plus_its_bytes_priced_per_byte():
    device = load_device("a100")
    elements = 1 << 28
    moved = 2 * 2 * elements                          # read and written, 2 bytes each
    seconds = device.launch_overhead + moved / (device.memory.bandwidth * device.memory.efficiency)
    per_byte = (HBM2_PJ_PER_BYTE + device.energy.fabric_pj_per_byte
                + float(sram_pj_per_byte(device.l2.size, process_nm=device.process_nm)))
    watts = device.power.idle + device.power.active + moved * per_byte * 1e-12 / seconds
    result = cost(copy_op(elements), device)
    assert result.latency_s == pytest.approx(seconds)
    assert result.energy.total / result.latency_s == pytest.approx(watts)
    assert watts < device.power.tdp


def test_the_tdp_clamps_a_saturating_gemm_and_not_a_copy():
    device = load_device("a100")
    gemm = cost(gemm_op(8192, 8192, 8192, "fp16"), device)
    assert gemm.energy.total / gemm.latency_s == pytest.approx(device.power.tdp)
    copy = cost(copy_op(1 << 28), device)
    assert copy.energy.total / copy.latency_s < device.power.tdp


def test_host_waits_follow_the_async_launch_queue():
    # dispatch 10: op 0 issued at 10 runs to 15; op 1 issued at 20 (waits 5) runs a long 50 to 75;
    # ops 2 and 3 were issued at 30 and 40, while the device was busy: no wait
    one = np.ones(4)
    waits = host_waits([5.0, 50.0, 1.0, 1.0], 10.0, one)
    assert waits.tolist() == [10.0, 5.0, 0.0, 0.0]
    assert host_waits([5.0, 50.0], 0.0, one[:2]).tolist() == [0.0, 0.0]
    # design points along a second axis are independent queues
    grid = host_waits(np.array([[1.0, 30.0], [1.0, 30.0]]), 10.0, one[:2])
    assert grid.tolist() == [[10.0, 10.0], [9.0, 0.0]]
    # ops sharing one host call (a multi-tensor optimizer step) are issued together
    # two ops of one call: issued at 5 (waits 5, runs to 6) and 10 (waits 4)
    assert host_waits([1.0, 1.0], 10.0, np.array([0.5, 0.5])).tolist() == [5.0, 4.0]


@pytest.mark.parametrize("optimizer, calls", [("adam", 8), ("sgd", 3)])
def test_an_eager_optimizer_step_is_dispatched_as_its_foreach_calls(optimizer, calls):
    # torch.optim's default on CUDA is the multi-tensor (foreach) step: _multi_tensor_adam makes 8
    # calls for all weights, _multi_tensor_sgd with momentum 3, whatever the number of weights
    from accelsim.devices.host import host_calls
    from accelsim.workload.training import training_trace

    trace = training_trace(load_workload("resnet50", precision="fp16"), optimizer=optimizer)
    steps = [op for op in trace.ops if op.phase.value == "optimizer"]
    # torchvision ResNet-50: 53 convs, 53 batchnorms and the fc own weights
    assert len(steps) == 107
    shares = host_calls(trace.ops)
    assert shares.sum() == pytest.approx(len(trace.ops) - len(steps) + calls)


def eager_decode(device, **extra):
    """A batch-1 llama2_7b decode step under the eager stack."""
    return accelsim.simulate("llama2_7b", device, precision="fp16", stack="eager", **DECODE,
                             **extra)


def test_a_host_bound_eager_decode_takes_ops_times_dispatch():
    slow_host = ["eager_dispatch=2 ms"]          # far above any op's device time
    device = load_device("a100", slow_host)
    result = eager_decode("a100", overrides=slow_host)
    ops = apply_stack(load_workload("llama2_7b", precision="fp16", **DECODE), "eager", "gpu").ops
    last = cost(ops[-1], device).latency_s
    assert len(result.layers) == len(ops)
    assert result.totals["latency_s"] == pytest.approx(len(ops) * 2e-3 + last)
    # waiting, the GPU draws its busy power: average power is busy + the run's dynamic energy
    parts = result.totals["energy_breakdown_j"]
    dynamic = parts["compute"] + parts["onchip"] + parts["offchip"]
    assert result.totals["average_power_w"] == pytest.approx(
        device.power.busy + dynamic / result.totals["latency_s"])
    assert {layer.bound for layer in result.layers} == {"overhead"}


def test_compiled_stacks_pay_no_host_dispatch():
    device = load_device("a100")
    assert dispatch_s(device, "compiled") == 0.0 and dispatch_s(device, "eager") > 0
    plain = accelsim.simulate("llama2_7b", "a100", precision="fp16", **DECODE)
    slow = accelsim.simulate("llama2_7b", "a100", precision="fp16",
                             overrides=["eager_dispatch=2 ms"], **DECODE)
    assert slow.totals["latency_s"] == plain.totals["latency_s"]


def test_a_device_bound_eager_run_waits_only_for_its_first_op():
    fast_host = eager_decode("a100", overrides=["eager_dispatch=0 us"]).totals["latency_s"]
    tiny = eager_decode("a100", overrides=["eager_dispatch=0.1 us"]).totals["latency_s"]
    assert tiny == pytest.approx(fast_host + 0.1e-6)


@pytest.mark.parametrize("key, value, fragment", [
    ("energy.fabric_pj_per_byte", "-3", "energy.fabric_pj_per_byte"),
    ("power.active", "-10 W", "power.active"),
    ("power.active", "390 W", "above the TDP"),
    ("eager_dispatch", "-5 us", "eager_dispatch"),
])
def test_bad_power_and_dispatch_values_exit_2(key, value, fragment):
    assert_clean_error(run_cli("run", "gemm", "--device", "a100", "--set", f"{key}={value}"),
                       fragment)
