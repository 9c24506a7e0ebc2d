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
- Activations between ops stay on chip where they fit (costs): batch-parallel inference gives each
  core its own samples (MLPerf's Xeon runs pin one instance per core or four, Intel's
  inference_results_v3.1 run scripts), so a tensor's slices live in their cores' L2 and the shared
  non-inclusive LLC, on_chip_bytes = cores x L2 + LLC in all (mapping.resident_activations plans
  which). A resident tensor moves no DRAM bytes; weights always stream from DRAM.
- Time: max(compute, memory) + `op_overhead` (primitive dispatch and thread fork/join).
- Throughput mode (batch_parallel): an inference batch with a sample for every core runs as one
  independent instance per core, as Intel's MLPerf offline runs do (inference_results v3.0-v4.1
  closed/Intel resnet50 run_offline.sh: --num_instance = cores, --cpus_per_instance 1). The
  instances drift apart, so while some wait on DRAM others compute: the socket is bound by the
  whole run's compute or DRAM time, whichever is larger, and each op takes its time on that
  resource. It needs the weights to fit the shared LLC once for all instances; otherwise every
  instance would stream them itself, and the batch runs as one instance over all cores.
- Energy: the bottom-up components (energy.op_energy) rescaled so that the socket draws its TDP
  while an op works (energy.active_power), plus idle power x latency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from accelsim.devices.base import (NONE_RESIDENT, OpCost, finish, with_resident,
                                   within_power_limit)
from accelsim.devices.energy import active_power, op_energy
from accelsim.devices.gpu import gemm_operands
from accelsim.devices.mapping import resident_activations
from accelsim.workload.ir import BYTES_PER_ELEMENT, Op, OpKind, Phase
from accelsim.workload.trace import storage

if TYPE_CHECKING:
    from accelsim.config.cpu import CpuConfig

def cost(op: Op, device: CpuConfig, resident: frozenset[str] = NONE_RESIDENT) -> OpCost:
    """Cost of one op on one CPU socket; `resident`: activations held on chip (no DRAM bytes)."""
    if op.gemm is not None and op.macs > 0:
        return _gemm_cost(op, device, resident)
    return _stream_cost(op, device, resident)


def on_chip_bytes(cores, l2, llc):
    """Activation bytes a socket holds between ops: every core's L2 plus the shared LLC."""
    return cores * l2 + llc


def resident_tensors(ops: Sequence[Op], device: CpuConfig) -> frozenset[str]:
    """Activations a run of `ops` keeps on chip (see the module docstring)."""
    return resident_activations(ops, on_chip_bytes(device.cores, device.cache.l2,
                                                   device.cache.llc))


costs = with_resident(cost, resident_tensors)


def instance_per_core(ops: Sequence[Op], samples: int, cores, llc):
    """Whether a run of `samples` on `cores` with an L3 of `llc` bytes goes one instance per core
    (see the module docstring); cores and llc may be arrays of design points."""
    if any(op.phase is not Phase.FORWARD for op in ops):
        return False
    weights = sum({w.name: w.bytes for op in ops for w in op.weights}.values())
    return (samples >= cores) & (weights <= llc)


def batch_parallel(costs: Sequence[OpCost], ops: Sequence[Op], device: CpuConfig,
                   samples: int) -> list[OpCost]:
    """A run's op costs with its batch of `samples` spread one instance per core where that is how
    it runs (instance_per_core): each op then takes its time on the run's busier resource."""
    if not instance_per_core(ops, samples, device.cores, device.cache.llc):
        return list(costs)
    by_compute = sum(c.compute_s for c in costs) >= sum(c.memory_s for c in costs)
    return [_on_busier(c, by_compute, device) for c in costs]


def _on_busier(cost: OpCost, by_compute: bool, device: CpuConfig) -> OpCost:
    """`cost` taking its compute (or memory) time plus its overhead instead of the larger of the
    two, its dynamic energy scaled with the time the socket spends on it at TDP."""
    work_s = cost.compute_s if by_compute else cost.memory_s
    alone = max(cost.compute_s, cost.memory_s)
    overhead = cost.latency_s - alone
    latency = overhead + work_s
    scale = work_s / alone if alone > 0 else 1.0
    energy = replace(cost.energy, compute=cost.energy.compute * scale,
                     onchip=cost.energy.onchip * scale, offchip=cost.energy.offchip * scale,
                     static=device.power.busy * latency)
    return replace(cost, latency_s=latency, cycles=round(latency * device.clock),
                   bound="overhead" if overhead > work_s else "compute" if by_compute else "memory",
                   energy=within_power_limit(energy, latency, device.power.tdp))


def on_chip_parts(op: Op, resident: frozenset[str]) -> tuple[float, float, float]:
    """Resident bytes of the op's A operand (every input of a non-GEMM op), B operand (a GEMM's
    second input; weights are never resident) and output."""
    def held(tensors) -> float:
        return sum(t.bytes for t in tensors if storage(t.name) in resident)
    gemm = op.gemm is not None and op.macs > 0
    a, b = (op.inputs, ()) if op.weights or not gemm else (op.inputs[:1], op.inputs[1:])
    return held(a), held(b), held(op.outputs)


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


def blocked_reads(op: Op, cache_bytes: float, held_a: float = 0.0, held_b: float = 0.0) -> float:
    """Bytes of A and B read into a cache of `cache_bytes` by a GEMM blocked for it, less the
    `held_a` and `held_b` bytes of them already on chip."""
    a_bytes, b_bytes = gemm_operands(op)
    a_read, b_read = a_bytes - held_a, b_bytes - held_b
    if a_bytes + b_bytes + op.output_bytes <= cache_bytes:
        return a_read + b_read
    side = block_side(cache_bytes, BYTES_PER_ELEMENT[op.precision])
    g = op.gemm
    return a_read * math.ceil(g.n / side) + b_read * math.ceil(g.m / side)


def stream_reads(op: Op) -> float:
    """Bytes a non-GEMM op reads: its inputs and weights (an embedding: the indices plus the
    gathered rows, not the table)."""
    if op.kind is OpKind.EMBEDDING:
        return op.input_bytes + op.output_bytes
    return op.input_bytes + op.weight_bytes


def _gemm_cost(op: Op, device: CpuConfig, resident: frozenset[str]) -> OpCost:
    """A cache-blocked GEMM on the matrix or SIMD units."""
    rate, unit = gemm_rate(op, device)
    compute_s = op.flops / rate + op.vector_flops / vector_rate(device)
    held_a, held_b, held_c = on_chip_parts(op, resident)
    reads = blocked_reads(op, device.cache.llc, held_a, held_b)
    onchip = blocked_reads(op, device.cache.l2) + op.output_bytes
    return _finish(op, device, compute_s, reads, op.output_bytes - held_c, onchip, unit)


def _stream_cost(op: Op, device: CpuConfig, resident: frozenset[str]) -> OpCost:
    """An op that streams its tensors once, with SIMD arithmetic; resident ones stay on chip."""
    held_in, _, held_out = on_chip_parts(op, resident)
    reads = stream_reads(op)                         # a table's gathered rows come from DRAM
    return _finish(op, device, op.flops / vector_rate(device), reads - held_in,
                   op.output_bytes - held_out, reads + op.output_bytes, "simd")


def _finish(op: Op, device: CpuConfig, compute_s: float, reads: float, writes: float,
            onchip: float, unit: str) -> OpCost:
    """OpCost of overlapped compute and DRAM traffic, with the socket at TDP while it works."""
    memory_s = (reads + writes) / device.memory.effective_bandwidth
    energy = op_energy(device, op, dram_bytes=reads + writes, onchip_bytes=onchip,
                       sram_size=device.cache.llc)
    return finish(op, device, compute_s=compute_s, memory_s=memory_s, reads=reads, writes=writes,
                  energy=active_power(device, energy, max(compute_s, memory_s)), onchip=onchip,
                  overhead_s=device.op_overhead, unit=unit)
