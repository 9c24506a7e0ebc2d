"""GPU cost model: GEMM-like ops as tiled waves over the SMs, everything else streamed through HBM.

Every op pays the device's kernel launch overhead on top of its work. GEMMs (linear layers, batched
attention matmuls, convolutions as implicit GEMMs on `op.gemm`) run on the tensor cores at
peak x achievable efficiency for the op's precision, in waves of threadblock tiles with optional
split-K (the library picks the fastest tile and split; see kernels/gpu.py for tile and wave
quantization, the per-CTA fill/epilogue `efficiency.tile_overhead_k` and the small-tile operand-feed
limit `efficiency.tile_intensity`), overlapped with their L2 and DRAM traffic; 2:4-sparse ops double
the tensor rate where the device supports it. A GEMM too thin for tiles (a matrix-vector product, a
tiny wgrad: CUDA cores do its math no slower than the best tiling) runs as a CUDA-core streaming
kernel when that is no slower than the tiled plan; so does a thin GEMM at a CUDA-core precision.
Elementwise, normalization, softmax, pooling, embedding and optimizer ops stream their tensors at
the achievable HBM bandwidth and do their arithmetic at the CUDA-core fp32 rate.

Energy: beyond the MACs and the L2/DRAM traffic, tensor-core GEMMs pay for their operand traffic
through the register file. A warp-level MMA (the device's `mma`, m x n accumulators over K x e =
k_bytes for an element of e bytes; PTX mma.m16n8k{32/e}: m 16, n 8, k_bytes 32) reads A (m x k_bytes)
and B (n x k_bytes) and reads and writes the accumulators C and D (2 x m x n x accumulator_bytes):
for m16n8k{32/e} with fp32/int32 accumulators, 1792 bytes for 4096/e MACs, i.e. 0.4375 x e bytes per
MAC, priced as an SRAM access of the SM's register-file size (energy.sram_pj_per_byte); L2 traffic
is priced by the L2's size (1 MB banks behind an H-tree, devices.components).
Each HBM byte also pays its route across the die between the memory PHYs and the SMs
(`energy.fabric_pj_per_byte`, wire energy over a die side), and while it runs the GPU draws its busy
power: idle + `power.active` (boost clocks, SMs and caches powered), whatever its work.
Where a GPU's YAML gives measured tensor-core MAC energies (`energy.mac_pj`, fitted to GEMMs that run
at the board power limit), they replace the 45 nm figures. No op draws more than the board's TDP:
devices.base.within_power_limit scales its dynamic energy down to it, with latency unchanged (the
GEMM efficiencies are fitted to throughputs measured at the power limit, so throttling is in them).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from accelsim.devices.base import OpCost, finish, op_by_op
from accelsim.devices.energy import PJ, op_energy, sram_pj_per_byte
from accelsim.kernels import gpu as tiling
from accelsim.workload.ir import BYTES_PER_ELEMENT, Op

if TYPE_CHECKING:
    from accelsim.config.gpu import GpuConfig


CUDA_CORE_PRECISIONS = ("fp32", "fp64")   # GEMMs at these run on CUDA cores, not tensor cores
THIN_PADDING = 2.0     # a CUDA-core GEMM streams (GEMV-like) when tiling would double its math


def cost(op: Op, device: GpuConfig) -> OpCost:
    """Cost of one op on one GPU."""
    if op.gemm is not None and op.macs > 0:
        return _gemm_cost(op, device)
    return _stream_cost(op, device)


costs = op_by_op(cost)


def vector_rate(device: GpuConfig) -> float:
    """Achievable CUDA-core FLOP/s for non-GEMM math."""
    return device.vector_flops * device.efficiency.vector


def gemm_rate(op: Op, device: GpuConfig) -> tuple[float, str]:
    """Achievable GEMM FLOP/s at the op's precision and the unit that delivers it."""
    peak = device.peak_flops(op.precision)
    if peak <= 0:
        return vector_rate(device), "cuda"
    rate = peak * device.efficiency.gemm(op.precision)
    if op.precision in CUDA_CORE_PRECISIONS:
        return rate, "cuda"
    if op.attr("sparsity") == "2:4" and device.sparsity_2_4:
        rate *= 2.0
    return rate, "tensor"


def gemm_operands(op: Op) -> tuple[float, float]:
    """DRAM bytes of the A (activation) and B (weight, or second input) operands."""
    if op.weights:
        return op.input_bytes, op.weight_bytes
    first = op.inputs[0].bytes if op.inputs else 0.0
    return first, op.input_bytes - first


def tile_plan(op: Op, device: GpuConfig, rate: float, a_bytes: float = 0.0, b_bytes: float = 0.0,
              c_bytes: float = 0.0, dram_bw: float = 1.0, l2: bool = False):
    """The fastest tile/split plan of the op's GEMM (kernels/gpu.py); memory free by default."""
    g = op.gemm
    l2_size = device.l2.size if l2 and device.l2 else 0.0
    l2_bw = device.l2.bandwidth if l2 and device.l2 and device.l2.bandwidth else 0.0
    return tiling.best_tile(g.m, g.n, g.k, g.count, device.tiles, slots=device.sms,
                            slot_flops=rate / device.sms,
                            elem_bytes=BYTES_PER_ELEMENT[op.precision], a_bytes=a_bytes,
                            b_bytes=b_bytes, c_bytes=c_bytes, l2_size=l2_size, l2_bw=l2_bw,
                            dram_bw=dram_bw, k_overhead=device.efficiency.tile_overhead_k,
                            tile_intensity=device.efficiency.tile_intensity)


def tile_compute_s(op: Op, device: GpuConfig, rate: float) -> float:
    """Seconds of the op's math (vector epilogue included) under its fastest tiling, memory free."""
    plan = tile_plan(op, device, rate)
    return float(plan[tiling.COMPUTE_S]) + op.vector_flops / vector_rate(device)


def _gemm_cost(op: Op, device: GpuConfig) -> OpCost:
    """Tiled GEMM on tensor cores (or CUDA cores when that is faster)."""
    rate, unit = gemm_rate(op, device)
    a_bytes, b_bytes = gemm_operands(op)
    bandwidth = device.memory.effective_bandwidth
    l2_bw = device.l2.bandwidth if device.l2 and device.l2.bandwidth else 0.0
    plan = tile_plan(op, device, rate, a_bytes, b_bytes, op.output_bytes, bandwidth, l2=True)
    partial = float(plan[tiling.PARTIAL_BYTES]) / 2        # split-K partials: written, read back
    c_bytes = op.output_bytes + partial
    compute_s = float(plan[tiling.COMPUTE_S]) + op.vector_flops / vector_rate(device)
    reads = float(plan[tiling.DRAM_READ_BYTES]) + partial
    onchip = float(plan[tiling.L2_BYTES])
    memory_s = max((reads + c_bytes) / bandwidth, onchip / l2_bw if l2_bw else 0.0)
    simt_compute_s = op.flops / vector_rate(device)
    simt_memory_s = (a_bytes + b_bytes + op.output_bytes) / bandwidth
    # Thin: the CUDA cores do the math no slower than the best tiling (tiles mostly padding; at a
    # CUDA-core precision, half padding or more). A bandwidth-free test, so more bandwidth never
    # flips an op back onto a slower tiled plan.
    padding = 1.0 if unit == "tensor" else THIN_PADDING
    if max(simt_compute_s, simt_memory_s) <= max(compute_s, memory_s) and (
            padding * simt_compute_s <= tile_compute_s(op, device, rate)):
        compute_s, memory_s, reads, unit = simt_compute_s, simt_memory_s, a_bytes + b_bytes, "cuda"
        c_bytes = op.output_bytes
        onchip = reads + c_bytes
    return _finish(op, device, compute_s, memory_s, reads, c_bytes, onchip, unit)


def _stream_cost(op: Op, device: GpuConfig) -> OpCost:
    """An op that streams its tensors through HBM once, with CUDA-core arithmetic."""
    reads = op.input_bytes + op.weight_bytes     # an embedding: indices plus the gathered rows
    writes = op.output_bytes
    compute_s = op.flops / vector_rate(device)
    memory_s = (reads + writes) / device.memory.effective_bandwidth
    return _finish(op, device, compute_s, memory_s, reads, writes, reads + writes, "cuda")


def register_file_energy(op: Op, device: GpuConfig) -> float:
    """Joules of tensor-core operand traffic through the register file (see module docstring)."""
    mma = device.mma
    fragment = (mma.m + mma.n) * mma.k_bytes + 2 * mma.m * mma.n * mma.accumulator_bytes
    bytes_per_mac = fragment * BYTES_PER_ELEMENT[op.precision] / (mma.m * mma.n * mma.k_bytes)
    return op.macs * bytes_per_mac * sram_pj_per_byte(device, device.register_file) * PJ


def _finish(op: Op, device: GpuConfig, compute_s: float, memory_s: float, reads: float,
            writes: float, onchip: float, unit: str) -> OpCost:
    """OpCost from the overlapped compute and memory times plus the launch overhead."""
    energy = op_energy(device, op, dram_bytes=reads + writes, onchip_bytes=onchip,
                       **({"sram_size": device.l2.size} if device.l2 else {}))
    if unit == "tensor":
        energy = replace(energy, onchip=energy.onchip + register_file_energy(op, device))
    return finish(op, device, compute_s=compute_s, memory_s=memory_s, reads=reads, writes=writes,
                  energy=energy, onchip=onchip, overhead_s=device.launch_overhead, unit=unit)
