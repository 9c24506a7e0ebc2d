"""The shortcuts of a single run give what the long way gives, to the bit."""

from __future__ import annotations

import numpy as np

from accelsim.devices import systolic
from accelsim.engine.single import prepare


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
