"""The shortcuts of a single run give what the long way gives, to the bit."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.config.paths import bundled_configs
from accelsim.devices import systolic
from accelsim.devices.energy import sram_pj_per_byte
from accelsim.engine.single import load_device, prepare
from tests.test_config import DEVICES


def test_a_kept_gemm_plan_is_active_plans_for_every_layer_of_resnet50():
    device, _graph, _precision, trace = prepare("resnet50", "tpu_v4")
    design, memory = systolic.design_row(device)
    resident = systolic.resident_tensors(trace.ops, device)
    gemms = [op for op in trace.ops if op.gemm and op.macs]
    assert len({op.gemm for op in gemms}) < len(gemms)        # repeated layers are looked up
    for op in gemms:
        g, vector = op.gemm, systolic.vector_cycles(op, device)
        layer_bytes = systolic.operand_bytes(op, resident)
        p = systolic.active_plan([g.m, g.n, g.k, g.count], layer_bytes, design, memory,
                                 device.arrays_per_core, np.array([[vector]]))
        kept = systolic.gemm_plan((g.m, g.n, g.k, g.count), tuple(layer_bytes), tuple(design),
                                  tuple(memory), device.arrays_per_core, vector)
        assert kept == (p.cycles[0, 0], p.stall_cycles[0, 0], p.dram_read[0, 0],
                        p.dram_write[0, 0], p.sram_bytes[0, 0], tuple(p.operands[0, 0]))


@pytest.mark.parametrize("name", [name for name in DEVICES
                                  if bundled_configs()[name][0].parent.name == "systolic"])
def test_kept_buffer_prices_are_the_energy_models(name):
    device = load_device(name)
    sizes = np.array([device.sram.ifmap, device.sram.filter, device.sram.ofmap])
    expected = np.broadcast_to(sram_pj_per_byte(device, sizes), (3,))
    for override in (None, 0.25):
        if override is not None:
            device = device.model_copy(update={"energy": device.energy.model_copy(
                update={"sram_pj_per_byte": override})})
            expected = np.full(3, override)
        assert systolic.buffer_pj_per_byte(device).tolist() == expected.tolist()
