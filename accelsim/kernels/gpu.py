"""GEMM tiling on a GPU: threadblock tiles run in waves over the SMs; L2 and DRAM traffic per tile.

A GEMM of `count` independent (m x k) @ (k x n) products is cut into tm x tn output tiles. Tiles run
`slots` (the SMs, each tile at its SM's whole rate: tiles resident together would only share it)
at a time, so the math takes ceil(tiles / slots) waves of one tile's time: the tail wave costs a
whole wave. Each tile streams an A panel (tm x k) and a B panel (k x tn)
from L2, so L2 serves A * ceil(n/tn) + B * ceil(m/tm). DRAM sees the same re-reads at the
granularity of an L2 block (an S x S output block whose A and B panels together fill the L2),
never less than each operand once. The kernel scores every candidate tile and returns the fastest.
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.kernels._jit import njit

# Fields of the plan vector returned by best_tile / tile_plan_reference.
TILE, TIME_S, COMPUTE_S, L2_BYTES, DRAM_READ_BYTES, WAVES = range(6)
PLAN_FIELDS = 6


@njit
def _ceil_div(a, b):
    """Integer ceiling division for positive int64."""
    return (a + b - 1) // b


@njit
def _best_tile(m, n, k, count, tiles, slots, slot_flops, elem_bytes, a_bytes, b_bytes, c_bytes,
               l2_size, l2_bw, dram_bw):
    """Score each row (tm, tn) of `tiles`; return the fastest plan as a float64 vector."""
    best = np.zeros(PLAN_FIELDS)
    best[TIME_S] = np.inf
    block = np.int64(l2_size // (2.0 * k * elem_bytes))   # side of an output block filling L2
    for i in range(tiles.shape[0]):
        tm = tiles[i, 0]
        tn = tiles[i, 1]
        rows = _ceil_div(m, tm)
        cols = _ceil_div(n, tn)
        waves = _ceil_div(rows * cols * count, slots)
        compute_s = waves * (2.0 * tm * tn * k) / slot_flops
        l2_bytes = count * elem_bytes * k * (float(m) * cols + float(n) * rows) + c_bytes
        dram_read = a_bytes * _ceil_div(n, max(block, tn)) + b_bytes * _ceil_div(m, max(block, tm))
        time_s = max(compute_s, (dram_read + c_bytes) / dram_bw)
        if l2_bw > 0.0:
            time_s = max(time_s, l2_bytes / l2_bw)
        if time_s < best[TIME_S]:
            best[TILE] = i
            best[TIME_S] = time_s
            best[COMPUTE_S] = compute_s
            best[L2_BYTES] = l2_bytes
            best[DRAM_READ_BYTES] = dram_read
            best[WAVES] = waves
    return best


def best_tile(m: int, n: int, k: int, count: int, tiles, *, slots: int, slot_flops: float,
              elem_bytes: float, a_bytes: float, b_bytes: float, c_bytes: float, l2_size: float,
              l2_bw: float, dram_bw: float) -> np.ndarray:
    """Fastest plan, a vector indexed by TILE..WAVES; l2_size or l2_bw 0: no L2 reuse or limit."""
    if min(m, n, k, count, slots) < 1 or slot_flops <= 0 or dram_bw <= 0:
        raise ValueError("GEMM dims, slots, slot_flops and dram_bw must be positive")
    grid = np.asarray(tiles, dtype=np.int64).reshape(-1, 2)
    return _best_tile(np.int64(m), np.int64(n), np.int64(k), np.int64(count), grid,
                      np.int64(slots), float(slot_flops), float(elem_bytes), float(a_bytes),
                      float(b_bytes), float(c_bytes), float(l2_size), float(l2_bw), float(dram_bw))


def tile_plan_reference(m, n, k, count, tiles, *, slots, slot_flops, elem_bytes, a_bytes, b_bytes,
                        c_bytes, l2_size, l2_bw, dram_bw) -> np.ndarray:
    """Plain-Python reference: enumerate every tile and L2 block, deal tiles out to slots."""
    best = np.zeros(PLAN_FIELDS)
    best[TIME_S] = np.inf
    for index, (tm, tn) in enumerate(tiles):
        per_slot = [0] * slots                           # tiles dealt round-robin onto slots
        panel_elements = 0                               # A and B elements each tile streams per k
        n_tiles = 0
        for _ in range(count):
            for row in range(0, m, tm):
                for col in range(0, n, tn):
                    per_slot[n_tiles % slots] += 1
                    n_tiles += 1
                    panel_elements += min(tm, m - row) + min(tn, n - col)
        compute_s = max(per_slot) * (2.0 * tm * tn * k) / slot_flops
        l2_bytes = elem_bytes * k * panel_elements + c_bytes
        side = int(l2_size // (2.0 * k * elem_bytes))
        block_m, block_n = max(side, tm), max(side, tn)
        block_rows = block_cols = 0                      # L2 blocks along m and along n
        while block_rows * block_m < m:
            block_rows += 1
        while block_cols * block_n < n:
            block_cols += 1
        dram_read = a_bytes * block_cols + b_bytes * block_rows   # each block reads its panels once
        time_s = max(compute_s, (dram_read + c_bytes) / dram_bw)
        if l2_bw > 0:
            time_s = max(time_s, l2_bytes / l2_bw)
        if time_s < best[TIME_S]:
            best[:] = (index, time_s, compute_s, l2_bytes, dram_read, math.ceil(n_tiles / slots))
    return best
