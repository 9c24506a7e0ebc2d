"""Speed of the systolic model: ResNet-50 on scalesim_32x32 (ws) against SCALE-Sim, and a sweep.

Run: python benchmarks/bench_systolic.py. Prints warm wall times (best of several runs) and ratios.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accelsim.api import load_device
from accelsim.devices.systolic import cost, design_row, operand_bytes
from accelsim.kernels import systolic as kernel
from accelsim.workload.importers.scalesim_csv import import_scalesim_csv
from _timing import best_of

RESNET50 = Path(__file__).resolve().parents[1] / "accelsim" / "workloads" / "scalesim" / "Resnet50.csv"
SCALESIM_S = 637.0        # SCALE-Sim v2, ResNet-50 on 32x32 ws, measured on this machine (issue)
SWEEP_DESIGNS = 1000


def sweep_designs(device, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` random array shapes (8..256 a side, any dataflow) with the device's memory."""
    rng = np.random.default_rng(0)
    design, memory = design_row(device)
    designs = np.tile(np.asarray(design, dtype=np.int64), (count, 1))
    designs[:, kernel.ROWS] = rng.integers(8, 257, count)
    designs[:, kernel.COLS] = rng.integers(8, 257, count)
    designs[:, kernel.DATAFLOW] = rng.integers(0, 3, count)
    return designs, np.tile(np.asarray(memory), (count, 1))


def main() -> None:
    """Time ResNet-50 through the device model and a layers x designs sweep through the kernels."""
    device = load_device("scalesim_32x32", ["array.dataflow=ws"])
    graph = import_scalesim_csv(RESNET50, precision="int8")
    costs = [cost(op, device) for op in graph.ops]
    network_s = best_of(lambda: [cost(op, device) for op in graph.ops], 20)
    cycles = sum(c.cycles for c in costs)
    stalls = sum(c.stall_cycles for c in costs)
    dram = sum(c.dram_bytes for c in costs)
    print(f"ResNet-50 on {device.name}, ws: {len(costs)} layers, {cycles:,} compute cycles "
          f"(SCALE-Sim: 5,753,486) + {stalls:,} stall cycles, {dram / 1e6:.1f} MB DRAM")
    print(f"  warm wall time {network_s * 1e3:.2f} ms; SCALE-Sim {SCALESIM_S:.0f} s; "
          f"speed-up x{SCALESIM_S / network_s:,.0f}")

    layers = np.array([[op.gemm.m, op.gemm.n, op.gemm.k, op.gemm.count] for op in graph.ops])
    sizes = np.array([operand_bytes(op) for op in graph.ops])
    designs, memory = sweep_designs(device, SWEEP_DESIGNS)
    points = layers.shape[0] * designs.shape[0]
    compute_s = best_of(lambda: kernel.compute_cycles(layers, designs), 10)
    plan_s = best_of(lambda: kernel.plan(layers, sizes, designs, memory), 10)
    tiled = designs.copy()
    tiled[:, kernel.LOOP_ORDER] = kernel.BEST
    best_s = best_of(lambda: kernel.plan(layers, sizes, tiled, memory), 10)
    print(f"Sweep: {layers.shape[0]} layers x {designs.shape[0]} array shapes = {points:,} points")
    print(f"  compute cycles: {compute_s * 1e3:.2f} ms, {points / compute_s:,.0f} layer-points/s")
    print(f"  cycles + stalls + traffic: {plan_s * 1e3:.2f} ms, {points / plan_s:,.0f} layer-points/s")
    print(f"  the same, best loop order: {best_s * 1e3:.2f} ms, {points / best_s:,.0f} layer-points/s")
    print(f"  whole ResNet-50 per design point: {plan_s / designs.shape[0] * 1e6:.1f} us "
          f"(SCALE-Sim x{SCALESIM_S * designs.shape[0] / plan_s:,.0f})")


if __name__ == "__main__":
    main()
