"""GEMM tile plans of many GEMMs on many GPU designs: kernels/gpu.py's best tile per (GEMM, design).

A design is an SM count with each SM's FLOP/s for each GEMM, an L2 (size, bandwidth; 0: none) and a
DRAM bandwidth; a GEMM is its (m, n, k, count), element bytes and DRAM bytes of A, B and C. The
plan of GEMM u on design d is exactly kernels.gpu.best_tile's for those arguments.
"""

from __future__ import annotations

import numpy as np

from accelsim.kernels._jit import njit
from accelsim.kernels.gpu import PLAN_FIELDS, _best_tile, tile_plan_reference


@njit
def _plan_grid(shapes, elem_bytes, a_bytes, b_bytes, c_bytes, slots, slot_flops, l2_size, l2_bw,
               dram_bw, tiles, k_overhead, tile_intensity):
    """(gemms, designs, PLAN_FIELDS) fastest plans."""
    plans = np.zeros((shapes.shape[0], slots.shape[0], PLAN_FIELDS))
    for u in range(shapes.shape[0]):
        for d in range(slots.shape[0]):
            plans[u, d] = _best_tile(shapes[u, 0], shapes[u, 1], shapes[u, 2], shapes[u, 3], tiles,
                                     slots[d], slot_flops[u, d], elem_bytes[u], a_bytes[u],
                                     b_bytes[u], c_bytes[u], l2_size[d], l2_bw[d], dram_bw[d],
                                     k_overhead, tile_intensity)
    return plans


def plan_grid(shapes, elem_bytes, a_bytes, b_bytes, c_bytes, *, slots, slot_flops, l2_size, l2_bw,
              dram_bw, tiles, k_overhead: float = 0.0, tile_intensity: float = 0.0) -> np.ndarray:
    """(gemms, designs, PLAN_FIELDS) plans: shapes (gemms, 4) of m, n, k, count; per-GEMM element
    and operand bytes; per-design slots, l2_size, l2_bw, dram_bw; slot_flops (gemms, designs)."""
    shapes = np.asarray(shapes, dtype=np.int64).reshape(-1, 4)
    slots = np.asarray(slots, dtype=np.int64).reshape(-1)
    slot_flops = np.asarray(slot_flops, dtype=np.float64).reshape(shapes.shape[0], slots.shape[0])
    dram_bw = np.asarray(dram_bw, dtype=np.float64).reshape(-1)
    if shapes.size and (shapes.min() < 1 or slots.min(initial=1) < 1
                        or slot_flops.min(initial=1.0) <= 0 or dram_bw.min(initial=1.0) <= 0):
        raise ValueError("GEMM dims, slots, slot_flops and dram_bw must be positive")
    if k_overhead < 0 or tile_intensity < 0:
        raise ValueError("k_overhead and tile_intensity must not be negative")
    per_gemm = [np.asarray(v, dtype=np.float64).reshape(-1) for v in (elem_bytes, a_bytes, b_bytes,
                                                                      c_bytes)]
    per_design = [np.asarray(v, dtype=np.float64).reshape(-1) for v in (l2_size, l2_bw)]
    return _plan_grid(shapes, *per_gemm, slots, slot_flops, *per_design, dram_bw,
                      np.asarray(tiles, dtype=np.int64).reshape(-1, 2), float(k_overhead),
                      float(tile_intensity))


def plan_grid_reference(shapes, elem_bytes, a_bytes, b_bytes, c_bytes, *, slots, slot_flops,
                        l2_size, l2_bw, dram_bw, tiles, k_overhead=0.0,
                        tile_intensity=0.0) -> np.ndarray:
    """Plain-Python reference: kernels.gpu.tile_plan_reference on each (GEMM, design) pair."""
    plans = np.zeros((len(shapes), len(slots), PLAN_FIELDS))
    for u, (m, n, k, count) in enumerate(shapes):
        for d, slot_count in enumerate(slots):
            plans[u, d] = tile_plan_reference(
                m, n, k, count, tiles, slots=int(slot_count), slot_flops=slot_flops[u][d],
                elem_bytes=elem_bytes[u], a_bytes=a_bytes[u], b_bytes=b_bytes[u],
                c_bytes=c_bytes[u], l2_size=l2_size[d], l2_bw=l2_bw[d], dram_bw=dram_bw[d],
                k_overhead=k_overhead, tile_intensity=tile_intensity)
    return plans
