"""CPU cost model: a roofline per op over the socket's cores and its DRAM.

- GEMM-like ops (linear layers, attention matmuls, convolutions as implicit GEMMs on `op.gemm`) run
  at peak x efficiency for their precision on the faster of the cores' matrix unit (AMX) and SIMD
  FMA units (AVX-512); their epilogue FLOPs run on the SIMD fp32 lanes.
- GEMM traffic is cache-blocked: when A, B and C fit in the last-level cache each crosses the DRAM
  bus once; otherwise C is computed in t x t blocks, t = sqrt(llc / (3 x element bytes)) elements,
  so A is read once per block column of C (ceil(n / t) times) and B once per block row
  (ceil(m / t) times), and C is written once. The same blocking on one core's L2 gives the
  LLC-to-L2 traffic, priced as on-chip energy.
- Other ops (elementwise, norms, softmax, pooling, embeddings) stream their tensors through DRAM
  once and do their math on the SIMD fp32 lanes: memory bound on any real CPU.
- Time: max(compute, memory) + `op_overhead` (primitive dispatch and thread fork/join).
- Energy: the bottom-up components (energy.op_energy) rescaled so that the socket draws its TDP
  while an op works (energy.active_power), plus idle power x latency.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from accelsim.devices.base import OpCost, finish, op_by_op
from accelsim.devices.energy import active_power, op_energy
from accelsim.devices.gpu import gemm_operands
from accelsim.workload.ir import BYTES_PER_ELEMENT, Op, OpKind

if TYPE_CHECKING:
    from accelsim.config.cpu import CpuConfig


def cost(op: Op, device: CpuConfig) -> OpCost:
    """Cost of one op on one CPU socket."""
    if op.gemm is not None and op.macs > 0:
        return _gemm_cost(op, device)
    return _stream_cost(op, device)


costs = op_by_op(cost)


def vector_rate(device: CpuConfig) -> float:
    """Achievable SIMD FLOP/s for non-GEMM math."""
    return device.vector_flops * device.efficiency.vector


def gemm_rate(op: Op, device: CpuConfig) -> tuple[float, str]:
    """Achievable GEMM FLOP/s at the op's precision and the unit that delivers it."""
    peak = device.peak_flops(op.precision)
    if peak <= 0:
        return vector_rate(device), "simd"
    unit = "matrix" if device.on_matrix_unit(op.precision) else "simd"
    return peak * device.efficiency.gemm(op.precision), unit


def block_side(cache_bytes: float, element_bytes: float) -> int:
    """Side in elements of the square C block whose A, B and C tiles fill `cache_bytes`."""
    return max(1, math.isqrt(int(cache_bytes / (3 * element_bytes))))


def blocked_reads(op: Op, cache_bytes: float) -> float:
    """Bytes of A and B read into a cache of `cache_bytes` by a GEMM blocked for it."""
    a_bytes, b_bytes = gemm_operands(op)
    if a_bytes + b_bytes + op.output_bytes <= cache_bytes:
        return a_bytes + b_bytes
    side = block_side(cache_bytes, BYTES_PER_ELEMENT[op.precision])
    g = op.gemm
    return a_bytes * math.ceil(g.n / side) + b_bytes * math.ceil(g.m / side)


def _gemm_cost(op: Op, device: CpuConfig) -> OpCost:
    """A cache-blocked GEMM on the matrix or SIMD units."""
    rate, unit = gemm_rate(op, device)
    compute_s = op.flops / rate + op.vector_flops / vector_rate(device)
    reads = blocked_reads(op, device.cache.llc)
    writes = op.output_bytes
    onchip = blocked_reads(op, device.cache.l2) + writes
    return _finish(op, device, compute_s, reads, writes, onchip, unit)


def _stream_cost(op: Op, device: CpuConfig) -> OpCost:
    """An op that streams its tensors through DRAM once, with SIMD arithmetic."""
    if op.kind is OpKind.EMBEDDING:
        reads = op.input_bytes + op.output_bytes     # indices plus the gathered rows, not the table
    else:
        reads = op.input_bytes + op.weight_bytes
    writes = op.output_bytes
    return _finish(op, device, op.flops / vector_rate(device), reads, writes, reads + writes,
                   "simd")


def _finish(op: Op, device: CpuConfig, compute_s: float, reads: float, writes: float,
            onchip: float, unit: str) -> OpCost:
    """OpCost of overlapped compute and DRAM traffic, with the socket at TDP while it works."""
    memory_s = (reads + writes) / device.memory.effective_bandwidth
    energy = op_energy(device, op, dram_bytes=reads + writes, onchip_bytes=onchip,
                       sram_size=device.cache.llc)
    return finish(op, device, compute_s=compute_s, memory_s=memory_s, reads=reads, writes=writes,
                  energy=active_power(device, energy, max(compute_s, memory_s)), onchip=onchip,
                  overhead_s=device.op_overhead, unit=unit)
