"""Mapping search for a GEMM-like layer on a MAC array with on-chip buffers (Timeloop/ZigZag style).

A layer is `count` GEMMs of M x N outputs reducing over K (A: M x K ifmap, B: K x N filters,
C: M x N outputs). A mapping is
- a spatial unrolling: which two of M, N, K run across the array's rows and columns (a systolic
  array's dataflow: ws puts K on rows and N on columns, os M and N, is K and M);
- an on-chip tile (Tm, Tn, Tk): the block of each operand held in its buffer (A in the ifmap buffer,
  B in the filter buffer, C's partial sums in the ofmap buffer), each no larger than its buffer;
- a loop order: the nesting, outer to inner, of the loops over tiles.
DRAM traffic follows from reuse (Timeloop's analysis for a two-level hierarchy): an operand tile is
fetched again each time a loop it depends on advances, and the loops nested inside its innermost
such loop reuse it; an output tile whose K loop is not innermost of its loops spills partial sums
(written at every K step and read back at all but the first). The on-chip buffers see every DRAM
byte once plus the array's own reads (A once per column fold, B once per row fold, C written once
per reduction fold), which the tiling does not change.
Time is the array's compute (ceil-quantised folds of the unrolled dimensions, times the streamed
one) or the DRAM time, whichever is longer (double-buffered tiles); energy prices MACs, buffer
and DRAM bytes and static power over that time. The search scores every (unrolling, tile, order)
whose tile sizes are candidate factors of the loop bounds (each bound split into ceil(D / 2^i)
and its exact divisors, so tiles never hold a partial remainder the next one could have taken)
and keeps the lowest objective (energy, latency or EDP), ties to the lower latency. Results are
memoised per layer shape and device.
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


def _best(layer: Layer, hw: Hardware, objective: str, tiles: np.ndarray,
          orders=ORDERS, unrolls=None) -> Mapping | None:
    """The best mapping over `tiles` (already capacity-checked), orders and unrollings."""
    best: Mapping | None = None
    for unroll in unrolls or hw.unrolls:
        for order in orders:
            cols = evaluate(layer, hw, unroll, tiles, order)
            score = {"energy": cols[5], "latency": cols[0] + cols[1],
                     "edp": cols[5] * (cols[0] + cols[1])}[objective]
            latency = cols[0] + cols[1]
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
    grid = grid[fits(layer, hw, grid)]
    if not len(grid):
        return fixed(layer, hw)
    found = _best(layer, hw, objective, grid)
    fallback = fixed(layer, hw)
    return fallback if _better(fallback, found, objective) else found


def fixed(layer: Layer, hw: Hardware) -> Mapping:
    """The device's own mapping: its first unrolling, loops nested as the array folds (rows
    dimension, columns dimension, then the streamed one innermost) and the largest tile that fits,
    grown in that order (the stationary operand's block first); a tile of one row, column and
    channel when even that exceeds a buffer."""
    unroll = hw.unrolls[0]
    rows_dim, cols_dim = UNROLLS[unroll]
    order = (rows_dim, cols_dim, 3 - rows_dim - cols_dim)
    tile = np.array([[1.0, 1.0, 1.0]])
    for d in order:
        for size in candidate_tiles((layer.m, layer.n, layer.k)[d])[::-1]:
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
    grid = grid[fits(layer, hw, grid)]
    fallback = fixed(layer, hw)
    if not len(grid):
        return fallback
    found = _best(layer, hw, objective, grid)
    return fallback if _better(fallback, found, objective) else found
