"""GEMM tiling on a GPU: threadblock tiles run in waves over the SMs; L2 and DRAM traffic per tile.

A GEMM of `count` independent (m x k) @ (k x n) products is cut into tm x tn output tiles, and K
into `split` slices (split-K: each slice of every tile is its own CTA, whose fp32 partial sums are
written and read back once more for the reduction). CTAs run `slots` (the SMs, each CTA at its SM's
whole rate: CTAs resident together would only share it) at a time, so the math takes
ceil(tiles x split / slots) waves of one CTA's time: the tail wave costs a whole wave. A CTA's time
is its K slice plus `k_overhead` more K steps (pipeline fill and epilogue), at the SM's rate scaled
by min(1, tile intensity / `tile_intensity`), where a tile's intensity tm*tn/(tm+tn) is its MACs per
operand element loaded: small tiles are operand-feed bound. Each tile streams an A panel (tm x k)
and a B panel (k x tn) from L2, so L2 serves A * ceil(n/tn) + B * ceil(m/tm). DRAM sees the same
re-reads at the granularity of an output block that shares its panels in L2: the larger of an
S x S block whose A and B panels together fill the L2, and one wave's CTAs in a square of
isqrt(slots) x isqrt(slots) tiles (rasterized CTAs walk K in step, so L2 only holds their current
K slabs); with no L2, every tile reads its own panels. Never less than each operand once. The kernel scores every tile and split and returns
the fastest.
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.kernels._jit import njit

# Fields of the plan vector returned by best_tile / tile_plan_reference.
TILE, TIME_S, COMPUTE_S, L2_BYTES, DRAM_READ_BYTES, WAVES, SPLIT, PARTIAL_BYTES = range(8)
PLAN_FIELDS = 8
MAX_SPLIT = 16           # split-K slices considered (CUTLASS split-K / cuBLAS reduction kernels)
MIN_SLICE = 128          # a split-K slice spans at least this many K steps
PARTIAL_ELEMENT = 4.0    # bytes of an fp32 split-K partial sum


@njit
def _ceil_div(a, b):
    """Integer ceiling division for positive int64."""
    return (a + b - 1) // b


@njit
def _best_tile(m, n, k, count, tiles, slots, slot_flops, elem_bytes, a_bytes, b_bytes, c_bytes,
               l2_size, l2_bw, dram_bw, k_overhead, tile_intensity):
    """Score each row (tm, tn) of `tiles` and each split; return the fastest plan (float64)."""
    best = np.zeros(PLAN_FIELDS)
    best[TIME_S] = np.inf
    block = np.int64(l2_size // (2.0 * k * elem_bytes))   # side of an output block filling L2
    wave_side = np.int64(np.sqrt(float(slots)) if l2_size > 0.0 else 1)   # tiles a side per wave
    for i in range(tiles.shape[0]):
        tm = tiles[i, 0]
        tn = tiles[i, 1]
        rows = _ceil_div(m, tm)
        cols = _ceil_div(n, tn)
        block_m = max(block, wave_side * tm)
        block_n = max(block, wave_side * tn)
        rate = slot_flops
        if tile_intensity > 0.0:
            rate *= min(1.0, tm * tn / (tm + tn) / tile_intensity)
        l2_bytes = count * elem_bytes * k * (float(m) * cols + float(n) * rows) + c_bytes
        dram_read = a_bytes * _ceil_div(n, block_n) + b_bytes * _ceil_div(m, block_m)
        for split in range(1, MAX_SPLIT + 1):
            piece = _ceil_div(k, split)
            if split > 1 and (piece < MIN_SLICE or _ceil_div(k, piece) != split):
                continue
            waves = _ceil_div(rows * cols * count * split, slots)
            compute_s = waves * (2.0 * tm * tn * (piece + k_overhead)) / rate
            partial = 0.0 if split == 1 else 2.0 * PARTIAL_ELEMENT * split * m * n * count
            time_s = max(compute_s, (dram_read + c_bytes + partial) / dram_bw)
            if l2_bw > 0.0:
                time_s = max(time_s, (l2_bytes + partial) / l2_bw)
            if time_s < best[TIME_S]:
                best[TILE] = i
                best[TIME_S] = time_s
                best[COMPUTE_S] = compute_s
                best[L2_BYTES] = l2_bytes + partial
                best[DRAM_READ_BYTES] = dram_read
                best[WAVES] = waves
                best[SPLIT] = split
                best[PARTIAL_BYTES] = partial
    return best


def best_tile(m: int, n: int, k: int, count: int, tiles, *, slots: int, slot_flops: float,
              elem_bytes: float, a_bytes: float, b_bytes: float, c_bytes: float, l2_size: float,
              l2_bw: float, dram_bw: float, k_overhead: float = 0.0,
              tile_intensity: float = 0.0) -> np.ndarray:
    """Fastest plan, a vector indexed by TILE..PARTIAL_BYTES; l2_size or l2_bw 0: no L2 reuse or
    limit; tile_intensity 0: every tile runs at the SM's whole rate."""
    if min(m, n, k, count, slots) < 1 or slot_flops <= 0 or dram_bw <= 0:
        raise ValueError("GEMM dims, slots, slot_flops and dram_bw must be positive")
    if k_overhead < 0 or tile_intensity < 0:
        raise ValueError("k_overhead and tile_intensity must not be negative")
    grid = np.asarray(tiles, dtype=np.int64).reshape(-1, 2)
    return _best_tile(np.int64(m), np.int64(n), np.int64(k), np.int64(count), grid,
                      np.int64(slots), float(slot_flops), float(elem_bytes), float(a_bytes),
                      float(b_bytes), float(c_bytes), float(l2_size), float(l2_bw), float(dram_bw),
                      float(k_overhead), float(tile_intensity))


def tile_plan_reference(m, n, k, count, tiles, *, slots, slot_flops, elem_bytes, a_bytes, b_bytes,
                        c_bytes, l2_size, l2_bw, dram_bw, k_overhead=0.0,
                        tile_intensity=0.0) -> np.ndarray:
    """Plain-Python reference: enumerate every tile, K slice and L2 block, deal CTAs out to slots."""
    best = np.zeros(PLAN_FIELDS)
    best[TIME_S] = np.inf
    for index, (tm, tn) in enumerate(tiles):
        side = int(l2_size // (2.0 * k * elem_bytes))
        wave_side = math.isqrt(slots) if l2_size > 0 else 1   # no L2: no sharing within a wave
        block_m, block_n = max(side, wave_side * tm), max(side, wave_side * tn)
        block_rows = block_cols = 0                      # L2 blocks along m and along n
        while block_rows * block_m < m:
            block_rows += 1
        while block_cols * block_n < n:
            block_cols += 1
        dram_read = a_bytes * block_cols + b_bytes * block_rows   # each block reads its panels once
        feed = 1.0 if tile_intensity == 0 else min(1.0, tm * tn / (tm + tn) / tile_intensity)
        for split in range(1, MAX_SPLIT + 1):
            slices = [min(k, start + math.ceil(k / split)) - start
                      for start in range(0, k, math.ceil(k / split))]
            if split > 1 and (len(slices) != split or slices[0] < MIN_SLICE):
                continue
            per_slot = [0] * slots                       # CTAs dealt round-robin onto slots
            panel_elements = 0                           # A and B elements each tile streams per k
            ctas = 0
            for _ in range(count):
                for row in range(0, m, tm):
                    for col in range(0, n, tn):
                        panel_elements += min(tm, m - row) + min(tn, n - col)
                        for _ in slices:
                            per_slot[ctas % slots] += 1
                            ctas += 1
            compute_s = (max(per_slot) * 2.0 * tm * tn * (slices[0] + k_overhead)
                         / (slot_flops * feed))
            partial = 0.0 if split == 1 else 2.0 * PARTIAL_ELEMENT * split * m * n * count
            l2_bytes = elem_bytes * k * panel_elements + c_bytes
            time_s = max(compute_s, (dram_read + c_bytes + partial) / dram_bw)
            if l2_bw > 0:
                time_s = max(time_s, (l2_bytes + partial) / l2_bw)
            if time_s < best[TIME_S]:
                best[:] = (index, time_s, compute_s, l2_bytes + partial, dram_read,
                           math.ceil(ctas / slots), split, partial)
    return best
