"""The roofline cost: time = max(FLOPs / peak, bytes / bandwidth); any device kind, any op."""

from __future__ import annotations

from accelsim.devices.base import OpCost, finish
from accelsim.devices.energy import op_energy
from accelsim.workload.ir import Op


def roofline_cost(op: Op, device, *, compute_fraction: float = 1.0,
                  memory_fraction: float = 1.0, unit: str = "") -> OpCost:
    """Cost of `op` streaming every operand once from DRAM at the device's peak rates."""
    peak = device.peak_flops(op.precision) * compute_fraction
    reads = op.input_bytes + op.weight_bytes
    writes = op.output_bytes
    return finish(op, device, compute_s=op.flops / peak if peak > 0 else 0.0,
                  memory_s=(reads + writes) / (device.memory.effective_bandwidth * memory_fraction),
                  reads=reads, writes=writes, unit=unit,
                  energy=op_energy(device, op, dram_bytes=reads + writes, onchip_bytes=reads + writes))
