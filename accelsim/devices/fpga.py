"""FPGA cost model: a DPUCZDX8G-like engine of `cores` DPU cores sharing one DDR.

Per layer and frame (Xilinx PG338): the conv GEMM is tiled onto the array's pixel x input-channel x
output-channel lanes (ceil quantisation, see mapping.array_cycles); the core's BRAM holds weight and
activation tiles, and when neither operand fits the cheaper loop order re-reads the other from DDR
(mapping.dram_traffic); loads, compute and stores of double-buffered tiles overlap, so a layer takes
max(compute, memory) plus one tile of the faster stream (mapping.pipelined), plus `layer_overhead`.

Multi-core throughput: the cores run independent frames (Vitis AI runs one frame per core thread),
so an op over a batch of B frames runs ceil(B / cores) rounds, each with up to `cores` frames at once;
while k cores are busy each gets 1/k of the DDR bandwidth (capped by its own AXI ports). Report
multi-core throughput as batch / latency at a batch that is a multiple of `cores` (batch = cores is
the steady state of the Vitis AI multi-thread benchmark); batch 1 gives single-frame latency.

The Vitis AI compiler's layer fusion (PG338: "substantial optimizations including layer fusion")
is the compiled software stack (accelsim.workload.stack): BatchNorm and activations arrive merged
into the producing conv. Residual adds, unmerged elementwise ops (an eager run), pooling and other
ops run on the misc engine at one element per pixel x channel lane per cycle,
streaming their operands through DDR.

Energy: bottom-up (energy.op_energy), on-chip accesses priced for one block RAM (`bram_block`),
compute and on-chip energy times the device's `fabric_energy_factor` (FPGA fabric against an ASIC
at the same node).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from accelsim.devices.base import OpCost, finish, op_by_op
from accelsim.devices.energy import op_energy
from accelsim.devices.mapping import array_cycles, dram_traffic, layer_shape, pipelined, tiles
from accelsim.workload.ir import BYTES_PER_ELEMENT, Op

if TYPE_CHECKING:
    from accelsim.config.fpga import FpgaConfig


def _frames(op: Op) -> int:
    """Independent frames in the op: the leading dimension of its output (1 if it has none)."""
    shape = layer_shape(op)
    if shape is not None:
        return shape.frames
    out = op.outputs[0].shape if op.outputs else ()
    return out[0] if len(out) >= 2 and out[0] >= 1 else 1


def _core_bandwidth(device: FpgaConfig, active_cores: int) -> float:
    """DDR bandwidth one core gets while `active_cores` cores stream at once."""
    shared = device.memory.effective_bandwidth / active_cores
    port = device.dpu.port_bandwidth
    return min(shared, port) if port is not None else shared


def _rounds(frames: int, cores: int) -> list[tuple[int, int]]:
    """(busy cores, rounds) groups for `frames` frames spread over `cores` cores."""
    full, rest = divmod(frames, cores)
    return [(active, count) for active, count in ((cores, full), (rest, 1)) if active and count]


def _per_frame(op: Op, device: FpgaConfig, frames: int) -> tuple[int, float, float, float, int]:
    """(cycles, DRAM bytes, output bytes, BRAM bytes, tiles) of one frame of `op`."""
    weights = op.weight_bytes
    inputs, outputs = op.input_bytes / frames, op.output_bytes / frames
    array = device.dpu.array
    lanes = device.dpu.ops_per_cycle // 2
    shape = layer_shape(op)
    if shape is None:
        elements = max(sum(t.elements for t in op.inputs), sum(t.elements for t in op.outputs))
        element_lanes = array.pixels * array.in_channels if array else lanes
        return math.ceil(elements / frames / element_lanes), inputs + outputs, outputs, 0.0, 1
    cycles = array_cycles(shape, array, lanes)
    traffic = dram_traffic(weights, inputs, outputs, device.weight_buffer, device.feature_buffer)
    if array is None:
        bram = weights + inputs + outputs
    else:   # an input byte feeds out_channels lanes, a weight byte feeds `pixels` lanes
        element = BYTES_PER_ELEMENT.get(op.precision, 1.0)
        bram = shape.macs * (1 / array.out_channels + 1 / array.pixels) * element + outputs
    return (cycles, traffic, outputs, bram,
            tiles(weights, inputs, device.weight_buffer, device.feature_buffer))


def cost(op: Op, device: FpgaConfig) -> OpCost:
    """Cost of `op` on the DPU, its frames spread over the cores."""
    frames = _frames(op)
    cycles, traffic, outputs, bram, tile_count = _per_frame(op, device, frames)
    work_s = compute_s = memory_s = overhead_s = 0.0
    for active, rounds in _rounds(frames, device.dpu.cores):
        frame_compute = cycles / device.clock
        frame_memory = traffic / _core_bandwidth(device, active)
        work_s += rounds * pipelined(frame_compute, frame_memory, tile_count)
        compute_s += rounds * frame_compute
        memory_s += rounds * frame_memory
        overhead_s += rounds * device.dpu.layer_overhead
    energy = op_energy(device, op, dram_bytes=frames * traffic, onchip_bytes=frames * bram,
                       sram_size=device.bram_block)
    factor = device.fabric_energy_factor
    return finish(op, device, compute_s=compute_s, memory_s=memory_s, work_s=work_s,
                  overhead_s=overhead_s, reads=frames * (traffic - outputs),
                  writes=frames * outputs, onchip=frames * bram, unit="dpu",
                  energy=replace(energy, compute=energy.compute * factor,
                                 onchip=energy.onchip * factor))


costs = op_by_op(cost)
