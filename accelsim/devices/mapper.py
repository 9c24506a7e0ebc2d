"""Mapping search for a GEMM-like layer on a MAC array with on-chip buffers (Timeloop/ZigZag style).

A layer is `count` GEMMs of M x N outputs reducing over K (A: M x K ifmap, B: K x N filters,
C: M x N outputs). A mapping is
- a spatial unrolling: which two of M, N, K run across the array's rows and columns (a systolic
  array's dataflow: ws puts K on rows and N on columns, os M and N, is K and M);
- an on-chip tile (Tm, Tn, Tk): the block of each operand held in its buffer (A in the ifmap buffer,
  B in the filter buffer, C's partial sums in the ofmap buffer), each no larger than its buffer and
  at least the array's spatial tile (its rows and columns of the unrolled dimensions);
- a loop order: the nesting, outer to inner, of the loops over tiles.
DRAM traffic follows from reuse (Timeloop's analysis for a two-level hierarchy): an operand tile is
fetched again each time a loop it depends on advances, and the loops nested inside its innermost
such loop reuse it; an output tile whose K loop is not innermost of its loops spills partial sums
(written at every K step and read back at all but the first). The on-chip buffers see every DRAM
byte once plus the array's own reads (A once per fold of N, B once per fold of M, C written once
per fold of K), which the tiling does not change.
Time is the array's compute (ceil-quantised folds of the unrolled dimensions, times the streamed
one) or the DRAM time, whichever is longer (double-buffered tiles); energy prices MACs, buffer
and DRAM bytes and static power over that time. A convolution's A is its im2col matrix; its DRAM
bytes are scaled by `a_scale` (the input tensor's bytes over the matrix's), the overlap of
neighbouring windows that a line buffer reads once.
The search scores every (unrolling, tile, order) whose tile sizes are, for each trip count t of a
loop bound D, the smallest tile taking t trips, ceil(D / t): traffic depends on the trip counts
alone and a smaller tile never needs more room, so the others are dominated (past 128^2/4 only the
halvings and exact divisors are kept). It keeps the lowest objective (energy, latency or EDP), ties
to the lower latency, and the fixed mapping where that scores as well. Results are memoised per
layer shape and device.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import NamedTuple

import numpy as np

DIMS = ("m", "n", "k")
ORDERS = tuple(itertools.permutations(range(3)))     # outer -> inner loop dims, by index
UNROLLS = {"ws": (2, 1), "os": (0, 1), "is": (2, 0)}  # (rows dim, cols dim) per dataflow
OBJECTIVES = ("energy", "latency", "edp")
RELEVANT = ((0, 2), (2, 1), (0, 1))                  # A: m, k; B: k, n; C: m, n
MAX_CANDIDATES = 128                                 # about 2 sqrt(bound) sizes are exact below 128^2/4


class Layer(NamedTuple):
    """One GEMM-like layer: count x (M x K) @ (K x N), bytes per element."""

    m: int
    n: int
    k: int
    count: int = 1
    elem: float = 1.0
    a_scale: float = 1.0               # DRAM bytes of A per byte of its M x K matrix (conv: < 1)


class Hardware(NamedTuple):
    """The array, its three operand buffers, DRAM and the energy prices the objective weighs."""

    rows: int
    cols: int
    ifmap_bytes: float                 # buffer for A tiles
    filter_bytes: float                # buffer for B tiles
    ofmap_bytes: float                 # buffer for C tiles (partial sums)
    dram_bytes_per_cycle: float
    mac_pj: float = 1.0
    sram_pj_per_byte: float = 1.0
    dram_pj_per_byte: float = 100.0
    static_pj_per_cycle: float = 0.0
    unrolls: tuple[str, ...] = ("ws",)   # spatial unrollings the array can run


class Mapping(NamedTuple):
    """One mapping and its cost."""

    unroll: str                        # dataflow name of the spatial unrolling
    tile: tuple[int, int, int]         # (Tm, Tn, Tk) held on chip
    order: tuple[str, str, str]        # tile loops, outer to inner
    cycles: float                      # compute cycles
    stall_cycles: float                # DRAM time beyond compute
    dram_read: float                   # bytes
    dram_write: float                  # bytes
    sram_bytes: float                  # buffer bytes read and written
    energy_pj: float

    @property
    def latency_cycles(self) -> float:
        """Compute plus stalls."""
        return self.cycles + self.stall_cycles

    def score(self, objective: str) -> float:
        """The objective's value (lower is better)."""
        if objective == "energy":
            return self.energy_pj
        if objective == "latency":
            return self.latency_cycles
        return self.energy_pj * self.latency_cycles

    def describe(self) -> dict:
        """The mapping as a layer's JSON shows it."""
        return {"unroll": self.unroll, "tile": dict(zip(DIMS, self.tile)), "loop_order": list(self.order)}


def candidate_tiles(bound: int, largest: float | None = None) -> np.ndarray:
    """Tile sizes worth trying for a loop bound, up to `largest`: for each trip count t the
    smallest tile that takes t trips, ceil(bound / t) (traffic depends on trip counts alone and a
    smaller tile never holds more, so it dominates); past MAX_CANDIDATES sizes only every trip
    count ceil(bound / 2^i) and the exact divisors."""
    if bound <= MAX_CANDIDATES ** 2 // 4:
        sizes = {-(-bound // t) for t in range(1, bound + 1)}
    else:
        divisors = {d for d in range(1, int(bound ** 0.5) + 1) if bound % d == 0}
        sizes = ({-(-bound // (1 << i)) for i in range(bound.bit_length() + 1)}
                 | divisors | {bound // d for d in divisors})
    tiles = np.array(sorted(sizes), dtype=np.float64)
    return tiles if largest is None else tiles[tiles <= max(1.0, largest)]


def _ceil(a, b):
    """Ceiling division (arrays or scalars)."""
    return np.ceil(np.asarray(a, dtype=np.float64) / b)


def evaluate(layer: Layer, hw: Hardware, unroll: str, tiles: np.ndarray, order: tuple[int, ...]):
    """Cost columns (cycles, stalls, dram read, dram write, sram bytes, energy) of each tile row
    (T x 3 array of Tm, Tn, Tk) under one unrolling and loop order; capacity not checked."""
    bounds = np.array([layer.m, layer.n, layer.k], dtype=np.float64)
    trips = _ceil(bounds, tiles)                                   # T x 3 loop trip counts
    fetches = []
    for operand in range(3):
        innermost = max(order.index(d) for d in RELEVANT[operand])
        fetches.append(np.prod(trips[:, list(order[:innermost + 1])], axis=1))
    sizes = [tiles[:, 0] * tiles[:, 2], tiles[:, 2] * tiles[:, 1], tiles[:, 0] * tiles[:, 1]]
    # a fetched tile carries the part of the bound left (edge tiles are smaller): scale by coverage
    cover = bounds / (trips * tiles)
    covers = [cover[:, 0] * cover[:, 2], cover[:, 2] * cover[:, 1], cover[:, 0] * cover[:, 1]]
    a_bytes, b_bytes, c_writes = (f * s * c * layer.elem * layer.count
                                  for f, s, c in zip(fetches, sizes, covers))
    a_bytes = a_bytes * layer.a_scale
    c_once = layer.m * layer.n * layer.elem * layer.count
    dram_read = a_bytes + b_bytes + (c_writes - c_once)           # spilled psums read back
    dram_write = c_writes
    rows_dim, cols_dim = UNROLLS[unroll]
    stream = 3 - rows_dim - cols_dim
    spatial = {rows_dim: hw.rows, cols_dim: hw.cols}
    folds = [float(np.ceil(bounds[d] / spatial[d])) if d in spatial else 1.0 for d in range(3)]
    cycles = layer.count * folds[rows_dim] * folds[cols_dim] * (bounds[stream] + hw.rows + hw.cols - 2)
    array_side = (layer.m * layer.k * folds[1] + layer.k * layer.n * folds[0]
                  + layer.m * layer.n * folds[2]) * layer.elem * layer.count
    sram = array_side + dram_read + dram_write
    dram_cycles = (dram_read + dram_write) / hw.dram_bytes_per_cycle
    stalls = np.maximum(0.0, dram_cycles - cycles)
    macs = float(layer.m) * layer.n * layer.k * layer.count
    energy = (macs * hw.mac_pj + sram * hw.sram_pj_per_byte
              + (dram_read + dram_write) * hw.dram_pj_per_byte
              + (cycles + stalls) * hw.static_pj_per_cycle)
    return (np.broadcast_to(cycles, stalls.shape), stalls, dram_read, dram_write,
            np.broadcast_to(sram, stalls.shape), energy)


def fits(layer: Layer, hw: Hardware, tiles: np.ndarray) -> np.ndarray:
    """Tiles whose A, B and C blocks fit their buffers."""
    e = layer.elem
    return ((tiles[:, 0] * tiles[:, 2] * e <= hw.ifmap_bytes)
            & (tiles[:, 2] * tiles[:, 1] * e <= hw.filter_bytes)
            & (tiles[:, 0] * tiles[:, 1] * e <= hw.ofmap_bytes))


def tile_grid(layer: Layer, hw: Hardware) -> np.ndarray:
    """Every combination of candidate tile sizes (T x 3), each no larger than its buffers allow
    with the other two dims at one."""
    e = layer.elem
    largest = (min(hw.ifmap_bytes, hw.ofmap_bytes) / e, min(hw.filter_bytes, hw.ofmap_bytes) / e,
               min(hw.ifmap_bytes, hw.filter_bytes) / e)
    axes = [candidate_tiles(d, cap) for d, cap in zip((layer.m, layer.n, layer.k), largest)]
    return np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)


def spatial_tile(layer: Layer, hw: Hardware, unroll: str) -> np.ndarray:
    """The smallest on-chip tile an unrolling allows: the array's rows and columns of the unrolled
    dimensions (or the whole bound), one of the streamed one."""
    rows_dim, cols_dim = UNROLLS[unroll]
    bounds = (layer.m, layer.n, layer.k)
    smallest = [1.0, 1.0, 1.0]
    smallest[rows_dim] = float(min(bounds[rows_dim], hw.rows))
    smallest[cols_dim] = float(min(bounds[cols_dim], hw.cols))
    return np.array(smallest)


def _best(layer: Layer, hw: Hardware, objective: str, tiles: np.ndarray,
          orders=ORDERS, unrolls=None) -> Mapping | None:
    """The best mapping over `tiles` (already capacity-checked) that hold each unrolling's
    spatial tile, loop orders and unrollings."""
    best: Mapping | None = None
    every = tiles
    for unroll in unrolls or hw.unrolls:
        tiles = every[(every >= spatial_tile(layer, hw, unroll)).all(axis=1)]
        if not len(tiles):
            continue
        for order in orders:
            cols = evaluate(layer, hw, unroll, tiles, order)
            latency = cols[0] + cols[1]
            score = cols[5] if objective == "energy" else latency if objective == "latency" \
                else cols[5] * latency
            i = int(np.lexsort((latency, score))[0])
            candidate = Mapping(unroll, tuple(int(t) for t in tiles[i]),
                                tuple(DIMS[d] for d in order), float(cols[0][i]), float(cols[1][i]),
                                float(cols[2][i]), float(cols[3][i]), float(cols[4][i]),
                                float(cols[5][i]))
            if best is None or _better(candidate, best, objective):
                best = candidate
    return best


def _better(a: Mapping, b: Mapping, objective: str) -> bool:
    """a beats b on the objective (relative ties broken by latency)."""
    sa, sb = a.score(objective), b.score(objective)
    if abs(sa - sb) > 1e-12 * max(sa, sb):
        return sa < sb
    return a.latency_cycles < b.latency_cycles


@lru_cache(maxsize=4096)
def search(layer: Layer, hw: Hardware, objective: str = "energy") -> Mapping:
    """The best mapping of `layer` on `hw` for `objective` (memoised per layer shape)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    grid = tile_grid(layer, hw)
    return _or_fixed(layer, hw, objective, _best(layer, hw, objective, grid[fits(layer, hw, grid)]))


def _or_fixed(layer: Layer, hw: Hardware, objective: str, found: Mapping | None) -> Mapping:
    """`found` unless the fixed mapping scores at least as well (or nothing was found)."""
    fallback = fixed(layer, hw)
    return fallback if found is None or _better(fallback, found, objective) else found


@lru_cache(maxsize=4096)
def fixed(layer: Layer, hw: Hardware) -> Mapping:
    """The device's own mapping: its first unrolling, loops nested as the array folds (rows
    dimension, columns dimension, then the streamed one innermost) and the largest tile that fits,
    grown in that order (the stationary operand's block first) from the spatial tile, which is kept
    even where it exceeds a buffer (the buffers then stream)."""
    unroll = hw.unrolls[0]
    rows_dim, cols_dim = UNROLLS[unroll]
    order = (rows_dim, cols_dim, 3 - rows_dim - cols_dim)
    tile = spatial_tile(layer, hw, unroll)[None, :]
    for d in order:
        for size in candidate_tiles((layer.m, layer.n, layer.k)[d])[::-1]:
            if size <= tile[0, d]:
                break
            trial = tile.copy()
            trial[0, d] = size
            if fits(layer, hw, trial)[0]:
                tile = trial
                break
    return _best(layer, hw, "energy", tile, orders=(order,), unrolls=(unroll,))


def brute_force(layer: Layer, hw: Hardware, objective: str) -> Mapping:
    """Reference: every tile size 1..bound of each dim, every order and unrolling, plus fixed."""
    axes = [np.arange(1, d + 1, dtype=np.float64) for d in (layer.m, layer.n, layer.k)]
    grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
    return _or_fixed(layer, hw, objective, _best(layer, hw, objective, grid[fits(layer, hw, grid)]))
