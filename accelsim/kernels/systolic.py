"""Systolic-array timing exactly as SCALE-Sim v2 counts it, and a SCALE-Sim-like memory model.

Compute. A GEMM with P=m, K=k, N=n maps onto an R x C array as (Sr, Sc, T) = (K, N, P) for weight
stationary (ws), (P, N, K) for output stationary (os) and (K, P, N) for input stationary (is): the
Sr x Sc operand is cut into ceil(Sr/R) * ceil(Sc/C) folds of R x C, run one after another (column
folds outermost), and T values stream through each. A ws/is fold lasts 2R + C + T - 2 cycles: R to
shift the stationary tile in, then the stream, skewed one cycle per row and per column, leaves the
bottom-right PE R + C + T - 2 cycles later. An os fold lasts R + C + T - 2 (nothing to preload; a PE's
output is taken in the cycle of its last MAC). Padded rows and columns of a partial fold are timed
like used ones. SCALE-Sim reports the index, counted from 0, of the cycle in which a layer's last
output is written, so a layer takes folds * fold - 1 cycles: one "- 1" per layer, not per fold.
Its utilisation is MACs / (cycles * PEs). tests/test_systolic_stepper.py steps an array cycle by
cycle to prove these counts.

Several arrays. A layer's `count` independent GEMMs (groups of a grouped convolution, heads of
attention) are dealt to min(arrays, count) groups of arrays first. Inside a group, whole column folds
(Sc) are split across the arrays, then what is left splits the stream T (ws, is) or whole row folds
Sr (os, whose stream T = K would need a sum across arrays). For ws and os that is N (filters) first,
then P; for is it is P first, then N. A layer lasts as long as its slowest array, which runs
ceil(count / groups) GEMMs back to back (still one "- 1").

Memory (bytes; SRAM capacities are per array and already halved when double-buffered).
- ws/is pin a stationary operand (ws: filter, is: ifmap) and read it from DRAM once; os streams its
  filter through the row folds of each column pass: once if that K x C block fits the filter SRAM,
  else once per row fold.
- The streamed operand (ws, os: ifmap; is: filter) goes through the array once per column fold: DRAM
  reads it once if the array's slice of it fits its SRAM, else once per column fold (LRU on a cyclic
  stream bigger than the buffer never hits).
- ws/is accumulate a T x C block of partial sums over the row folds; when it does not fit the ofmap
  SRAM every row fold writes it to DRAM and all but the first read it back. Otherwise, and always for
  os, the output is written once.
- Stalls: with double buffering a fold's operands arrive while the previous fold computes, so a fold
  takes max(fold cycles, its DRAM bytes / DRAM bytes per cycle). DRAM bytes are spread evenly over the
  folds, except a streamed operand read only once, which all arrives during the first column pass.
  The first fold's operands are prefetched during the previous layer, as SCALE-Sim does.
- SRAM bytes: the arrays' accesses as SCALE-Sim counts them (Sr*Sc stationary, ceil(Sc/C)*T*Sr
  streamed, ceil(Sr/R)*T*Sc outputs or os filter elements; each array that holds a piece of T loads
  its own stationary tiles), partial-sum read-backs, and every DRAM byte on its way in or out.
- By operand (Plan.operands): DRAM reads of the ifmap and filter, partial-sum read-backs as ofmap
  DRAM reads, output as ofmap DRAM writes; SRAM reads and writes of each operand likewise, a DRAM
  read entering its operand's SRAM as a write and a DRAM write leaving the ofmap SRAM as a read.
Arrays step their folds in lockstep and fetch the blocks they share once (broadcast); residency and
spilling are decided on the slowest array's slices and hold for all arrays.

Loop order (a design's LOOP_ORDER column). SCALESIM is the order above. BEST runs the same folds,
so the same compute cycles, and lets each layer take the cheapest of three schedules, as a compiler
that tiles for its buffers would (Timeloop, ZigZag): least DRAM bytes, ties (within TIE) to fewer
stall cycles, then to SCALE-Sim's order, column blocks, row blocks. Call the output's dimensions u
(ws/is: the stream T; os: the row folds) and v (the column folds), U the operand along u (ws: ifmap,
is: filter, os: ifmap) and V the one along v (ws: filter, is: ifmap, os: filter).
- ws/is blocks never spill: the stream is cut into chunks whose T x C partial sums fit the ofmap
  SRAM (all of T when there is one row fold), each chunk running all its row folds before the next.
  The array loads its stationary tiles once per chunk (SRAM traffic); the loads are assumed hidden
  behind the stream, as a TPU double-buffers its weight tile (Jouppi et al. 2017), so SCALE-Sim's
  cycle count stands. os streams K inside the PEs and needs no chunks.
- column blocks (V resident): for each block of as many column folds as V's SRAM holds, for each
  chunk, the block's folds. V is read once; U once if all of it fits, else once per block if a chunk
  (os: a row fold) of it fits, with chunks cut to fit, else once per column fold. Where not one
  column fold of V fits, ws/is read V once per chunk (os: that is SCALE-Sim's order).
- row blocks (U resident), where a chunk (os: a row fold) of U fits: for each block of the longest
  chunk (os: most row folds) of U that fits U's SRAM, every column fold. U is read once; V once if
  all of it fits, else once per block (os: once per row fold if not one column fold of V fits).
The operand read once and reused by every outer block (U under column blocks, V under row blocks)
arrives during the first block, as SCALE-Sim's resident ifmap does during the first column pass.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from accelsim.kernels._jit import njit

WS, OS, IS = 0, 1, 2
DATAFLOWS = ("ws", "os", "is")
SCALESIM, BEST = 0, 1
LOOP_ORDERS = ("scalesim", "best")
COLUMN_BLOCKS, ROW_BLOCKS = 1, 2                              # BEST's tilings besides SCALESIM
M, N, K, COUNT = range(4)                                     # columns of `layers`
ROWS, COLS, DATAFLOW, ARRAYS, LOOP_ORDER = range(5)           # columns of `designs`
A_BYTES, B_BYTES, O_BYTES, ELEM_BYTES = range(4)              # columns of `layer_bytes`
IFMAP_SRAM, FILTER_SRAM, OFMAP_SRAM, BYTES_PER_CYCLE = range(4)   # columns of `design_memory`
LEVELS, OPERANDS, DIRECTIONS = ("sram", "dram"), ("ifmap", "filter", "ofmap"), ("reads", "writes")
MAX_CYCLES = 2.0**62                                          # larger counts raise OverflowError
MAX_DIM = 2**40
TIE = 1e-9                  # relative difference under which two tilings' bytes or stalls are equal


class Plan(NamedTuple):
    """Cost of each layer (row) on each design point (column)."""

    cycles: np.ndarray          # compute cycles, int64, SCALE-Sim's count
    stall_cycles: np.ndarray    # int64, cycles waiting for DRAM
    dram_read: np.ndarray       # bytes
    dram_write: np.ndarray      # bytes
    sram_bytes: np.ndarray      # bytes read from and written to the SRAMs
    operands: np.ndarray        # (layers, designs, 12): bytes by LEVELS x OPERANDS x DIRECTIONS


@njit
def _ceil_div(a, b):
    """Integer ceiling division for positive int64."""
    return (a + b - 1) // b


@njit
def roles(m, n, k, dataflow):
    """(Sr, Sc, T) of a GEMM under a dataflow."""
    if dataflow == WS:
        return k, n, m
    if dataflow == OS:
        return m, n, k
    return k, m, n


@njit
def _fold_cycles(rows, cols, t, dataflow):
    """Cycles of one fold streaming t values."""
    if dataflow == OS:
        return rows + cols + t - 2
    return 2 * rows + cols + t - 2


@njit
def _share(count, sr, sc, t, rows, cols, dataflow, arrays):
    """The slowest array's work: (GEMMs back to back, Sr, Sc, T of each)."""
    groups = min(arrays, count)
    left = arrays // groups
    col_blocks = _ceil_div(sc, cols)
    col_parts = min(left, col_blocks)
    sc_part = min(sc, _ceil_div(col_blocks, col_parts) * cols)
    left = left // col_parts
    if dataflow == OS:
        row_blocks = _ceil_div(sr, rows)
        sr = min(sr, _ceil_div(row_blocks, min(left, row_blocks)) * rows)
    else:
        t = _ceil_div(t, min(left, t))
    return _ceil_div(count, groups), sr, sc_part, t


@njit
def _cycles(m, n, k, count, rows, cols, dataflow, arrays):
    """Compute cycles of one layer on one design point; -1 where they pass MAX_CYCLES."""
    sr, sc, t = roles(m, n, k, dataflow)
    rounds, sr, sc, t = _share(count, sr, sc, t, rows, cols, dataflow, arrays)
    row_folds = _ceil_div(sr, rows)
    col_folds = _ceil_div(sc, cols)
    fold = _fold_cycles(rows, cols, t, dataflow)
    if float(rounds) * float(row_folds) * float(col_folds) * float(fold) > MAX_CYCLES:
        return -1
    return rounds * row_folds * col_folds * fold - 1


@njit
def _blocks_fitting(blocks, block_bytes, capacity):
    """How many of `blocks` blocks of block_bytes fit `capacity` (0 if not even one)."""
    if block_bytes * blocks <= capacity:
        return blocks
    return min(blocks, np.int64(math.floor(capacity / block_bytes)))


@njit
def _stalls(reads, writes, front, first, folds, fold, bytes_per_cycle):
    """Cycles waiting for DRAM: `front` bytes come during the first `first` folds, the rest evenly."""
    even = (reads + writes - front) / folds / bytes_per_cycle
    stalls = first * max(0.0, even + front / first / bytes_per_cycle - fold)
    return stalls + (folds - first) * max(0.0, even - fold)


@njit
def _better(traffic, stalls, best_traffic, best_stalls):
    """Whether a tiling moves fewer DRAM bytes than the best so far, or as many with fewer stalls
    (closer than TIE, or a millionth of a cycle, is a tie)."""
    if abs(traffic - best_traffic) > TIE * max(traffic, best_traffic):
        return traffic < best_traffic
    return stalls < best_stalls - TIE * best_stalls - 1e-6


@njit
def _chunked_tiling(order, t, row_folds, col_folds, rounds, u, v, u_value, psum_value, v_fold,
                    v_slice, u_sram, v_sram, ofmap_sram):
    """A ws/is tiling in stream chunks that keep their partial sums in the ofmap SRAM.

    u: streamed operand bytes, v: stationary, per GEMM; u_value, psum_value: bytes per stream value
    (all rows; one column fold); v_fold: V of one column fold; v_slice: V of the slowest array.
    Returns (feasible, U reads, V reads, front bytes, first folds, chunk length), per GEMM.
    """
    chunk = t if row_folds == 1 else _blocks_fitting(t, psum_value, ofmap_sram)
    u_chunk = _blocks_fitting(t, u_value, u_sram)
    if chunk < 1 or order == ROW_BLOCKS and u_chunk < 1:
        return False, 0.0, 0.0, 0.0, 1.0, t
    folds = rounds * row_folds * col_folds
    if order == ROW_BLOCKS:
        chunk = min(chunk, u_chunk)
        if v_slice <= v_sram:                       # V once, during the first chunk
            return True, u, v, v, folds * chunk / t, chunk
        return True, u, v * _ceil_div(t, chunk), 0.0, float(folds), chunk
    if v_fold > v_sram:                             # blocks of one column fold, V once per chunk
        block, v_reads = 1, v * _ceil_div(t, chunk)
    else:
        block, v_reads = _blocks_fitting(col_folds, v_fold, v_sram), v
        if u_chunk >= 1:                            # a block's column folds share a U chunk
            chunk = min(chunk, u_chunk)
    if u_chunk == t:                                # U once, during the first block
        return True, u, v_reads, u, float(rounds * row_folds * block), chunk
    passes = _ceil_div(col_folds, block) if u_chunk >= 1 else col_folds
    return True, u * passes, v_reads, 0.0, float(rounds * row_folds * block), chunk


@njit
def _os_tiling(order, row_folds, col_folds, rounds, u, v, u_slice, u_fold, v_fold, v_slice,
               u_sram, v_sram):
    """An os tiling in blocks of column folds (filter resident) or of row folds (ifmap resident).

    u: ifmap bytes, v: filter, per GEMM; u_slice, v_slice: the slowest array's share; u_fold: ifmap
    of one row fold, v_fold: filter of one column fold. Returns (feasible, U reads, V reads, front
    bytes, first folds), per GEMM.
    """
    if order == COLUMN_BLOCKS:
        block = _blocks_fitting(col_folds, v_fold, v_sram)
        first = float(rounds * row_folds * block)
        if block < 1:
            return False, 0.0, 0.0, 0.0, 1.0
        if u_slice <= u_sram:
            return True, u, v, u, first
        passes = _ceil_div(col_folds, block) if u_fold <= u_sram else col_folds
        return True, u * passes, v, 0.0, first
    block = _blocks_fitting(row_folds, u_fold, u_sram)
    first = float(rounds * block * col_folds)
    if block < 1:
        return False, 0.0, 0.0, 0.0, 1.0
    if v_slice <= v_sram:
        return True, u, v, v, first
    passes = _ceil_div(row_folds, block) if v_fold <= v_sram else row_folds
    return True, u, v * passes, 0.0, first


@njit
def _plan(m, n, k, count, rows, cols, dataflow, arrays, loop_order, a_bytes, b_bytes, o_bytes,
          elem_bytes, ifmap_sram, filter_sram, ofmap_sram, bytes_per_cycle, traffic):
    """(compute cycles, stall cycles) of one layer on one design; fills traffic with DRAM read, DRAM
    write, SRAM bytes, then those bytes by LEVELS x OPERANDS x DIRECTIONS (see Plan.operands)."""
    cycles = _cycles(m, n, k, count, rows, cols, dataflow, arrays)
    big_r, big_c, big_t = roles(m, n, k, dataflow)
    rounds, sr, sc, t = _share(count, big_r, big_c, big_t, rows, cols, dataflow, arrays)
    row_folds = _ceil_div(sr, rows)
    col_folds = _ceil_div(sc, cols)
    a, b, o = a_bytes / count, b_bytes / count, o_bytes / count      # one GEMM's operands
    pass_width = min(cols, big_c) / big_c                             # share of Sc in one column fold
    psum_reads = 0.0
    if dataflow == OS:
        streamed, streamed_sram, streamed_slice = a, ifmap_sram, a * sr / big_r
        pinned = b if b * pass_width <= filter_sram else b * row_folds
        writes = o
    else:
        streamed, streamed_sram = (a, ifmap_sram) if dataflow == WS else (b, filter_sram)
        streamed_slice = streamed * t / big_t
        pinned = b if dataflow == WS else a
        spill = row_folds > 1 and o * (t / big_t) * pass_width > ofmap_sram
        writes = o * row_folds if spill else o
        psum_reads = o * (row_folds - 1) if spill else 0.0
    resident = streamed_slice <= streamed_sram
    streamed_reads = streamed if resident else streamed * col_folds
    front = streamed * count if resident and col_folds > 1 else 0.0   # arrives in the first pass
    reads = count * (streamed_reads + pinned + psum_reads)
    writes = count * writes

    folds = rounds * row_folds * col_folds
    streamed_dram, pinned_dram = streamed_reads, pinned              # per GEMM
    first = float(rounds * row_folds)                                 # folds of first column passes
    fold = _fold_cycles(rows, cols, t, dataflow)
    stalls = _stalls(reads, writes, front, first, folds, fold, bytes_per_cycle)
    chunk = t
    if loop_order == BEST:
        stationary = b if dataflow == WS else a
        stationary_sram = ifmap_sram if dataflow == IS else filter_sram
        for order in (COLUMN_BLOCKS, ROW_BLOCKS):
            if dataflow == OS:
                ok, u_reads, v_reads, front_, first_ = _os_tiling(
                    order, row_folds, col_folds, rounds, a, b, streamed_slice,
                    a * min(rows, big_r) / big_r, b * pass_width, b * sc / big_c, ifmap_sram,
                    filter_sram)
                chunk_ = t
            else:
                ok, u_reads, v_reads, front_, first_, chunk_ = _chunked_tiling(
                    order, t, row_folds, col_folds, rounds, streamed, stationary,
                    streamed / big_t, o * pass_width / big_t, stationary * pass_width,
                    stationary * sc / big_c, streamed_sram, stationary_sram, ofmap_sram)
            if not ok:
                continue
            reads_, writes_ = count * (u_reads + v_reads), count * o
            stalls_ = _stalls(reads_, writes_, count * front_, first_, folds, fold, bytes_per_cycle)
            if _better(reads_ + writes_, stalls_, reads + writes, stalls):
                reads, writes, stalls, chunk = reads_, writes_, stalls_, chunk_
                streamed_dram, pinned_dram, psum_reads = u_reads, v_reads, 0.0

    full_row_folds = float(_ceil_div(big_r, rows))
    streamed_el = float(_ceil_div(big_c, cols)) * big_t * big_r
    folded_el = full_row_folds * big_t * big_c          # os: filter elements; ws/is: outputs
    if dataflow == OS:
        pinned_el, out_el, psum_el = folded_el, float(big_r) * big_c, 0.0
        elements = streamed_el + folded_el + out_el
    else:   # every array that got a piece of T loads the stationary tiles per chunk; psums read back
        pieces = _ceil_div(big_t, t)
        loads = (pieces - 1) * _ceil_div(t, chunk) + _ceil_div(big_t - (pieces - 1) * t, chunk)
        pinned_el, out_el = float(loads) * big_r * big_c, folded_el
        psum_el = (full_row_folds - 1.0) * big_t * big_c
        elements = streamed_el + folded_el + (pinned_el + psum_el)
    scale = count * elem_bytes
    streamed_dram, pinned_dram = count * streamed_dram, count * pinned_dram
    psum_dram = count * psum_reads
    if dataflow == IS:     # the ifmap is pinned, the filter streamed
        ifmap_el, filter_el, ifmap_dram, filter_dram = \
            pinned_el, streamed_el, pinned_dram, streamed_dram
    else:
        ifmap_el, filter_el, ifmap_dram, filter_dram = \
            streamed_el, pinned_el, streamed_dram, pinned_dram
    values = (reads, writes, count * elements * elem_bytes + reads + writes,
              ifmap_el * scale, ifmap_dram, filter_el * scale, filter_dram,
              psum_el * scale + writes, out_el * scale + psum_dram,
              ifmap_dram, 0.0, filter_dram, 0.0, psum_dram, writes)
    for column, value in enumerate(values):
        traffic[column] = value
    stall_cycles = np.int64(-1) if stalls > MAX_CYCLES else np.int64(math.ceil(stalls))
    return cycles, stall_cycles


@njit
def _cycles_grid(layers, designs, out):
    """Fill out[i, j] with the cycles of layer i on design j."""
    for i in range(layers.shape[0]):
        for j in range(designs.shape[0]):
            out[i, j] = _cycles(layers[i, M], layers[i, N], layers[i, K], layers[i, COUNT],
                                designs[j, ROWS], designs[j, COLS], designs[j, DATAFLOW],
                                designs[j, ARRAYS])


@njit
def _plan_grid(layers, layer_bytes, designs, design_memory, cycles, stalls, traffic):
    """Fill the plan of layer i on design j: cycles, stalls and traffic[i, j] (see _plan)."""
    for i in range(layers.shape[0]):
        for j in range(designs.shape[0]):
            cycles[i, j], stalls[i, j] = _plan(
                layers[i, M], layers[i, N], layers[i, K], layers[i, COUNT], designs[j, ROWS],
                designs[j, COLS], designs[j, DATAFLOW], designs[j, ARRAYS], designs[j, LOOP_ORDER],
                layer_bytes[i, A_BYTES], layer_bytes[i, B_BYTES], layer_bytes[i, O_BYTES],
                layer_bytes[i, ELEM_BYTES],
                design_memory[j, IFMAP_SRAM], design_memory[j, FILTER_SRAM],
                design_memory[j, OFMAP_SRAM], design_memory[j, BYTES_PER_CYCLE], traffic[i, j])


def _table(values, name: str, dtype, widths: tuple[int, ...] = (4,)) -> np.ndarray:
    """A contiguous 2-D array of `dtype` with one of `widths` columns, or ValueError."""
    table = np.ascontiguousarray(values, dtype=dtype)
    if table.ndim == 1:
        table = table.reshape(1, -1)
    if table.ndim != 2 or table.shape[1] not in widths:
        raise ValueError(f"{name} must have {' or '.join(map(str, widths))} columns, "
                         f"got shape {table.shape}")
    return table


def _design_table(designs) -> np.ndarray:
    """Designs as a (D, 5) int64 array; a 4-column table gets SCALE-Sim's loop order."""
    table = _table(designs, "designs", np.int64, (4, 5))
    if table.shape[1] == 4:
        table = np.hstack([table, np.full((table.shape[0], 1), SCALESIM, dtype=np.int64)])
    return table


def _check(layers: np.ndarray, designs: np.ndarray) -> None:
    """Reject shapes the kernels do not define."""
    if layers.size and (layers.min() < 1 or layers.max() > MAX_DIM):
        raise ValueError(f"layer m, n, k, count must be in [1, {MAX_DIM}]")
    sizes = designs[:, [ROWS, COLS, ARRAYS]]
    if sizes.size and (sizes.min() < 1 or sizes.max() > MAX_DIM):
        raise ValueError(f"design rows, cols, arrays must be in [1, {MAX_DIM}]")
    flows = designs[:, DATAFLOW]
    if flows.size and (flows.min() < WS or flows.max() > IS):
        raise ValueError("design dataflow must be 0 (ws), 1 (os) or 2 (is)")
    orders = designs[:, LOOP_ORDER]
    if orders.size and (orders.min() < SCALESIM or orders.max() > BEST):
        raise ValueError("design loop order must be 0 (scalesim) or 1 (best)")


def _no_overflow(*cycles: np.ndarray) -> None:
    """OverflowError where a cycle count passed MAX_CYCLES (the kernels mark it -1)."""
    if any((counts < 0).any() for counts in cycles):
        raise OverflowError("cycle count exceeds 2**62")


def compute_cycles(layers, designs) -> tuple[np.ndarray, np.ndarray]:
    """SCALE-Sim v2 compute cycles (int64) and utilisation of each layer (row) on each design (column).

    layers: (L, 4) of [m, n, k, count]; designs: (D, 4) of [rows, cols, DATAFLOWS index, arrays],
    or (D, 5) with a LOOP_ORDERS index, which leaves compute cycles alone.
    Utilisation is MACs / (cycles * PEs), SCALE-Sim's "overall utilization" (cycles at least 1).
    """
    layers = _table(layers, "layers", np.int64)
    designs = _design_table(designs)
    _check(layers, designs)
    cycles = np.empty((layers.shape[0], designs.shape[0]), dtype=np.int64)
    _cycles_grid(layers, designs, cycles)
    macs = np.prod(layers.astype(np.float64), axis=1)
    pes = np.prod(designs[:, [ROWS, COLS, ARRAYS]].astype(np.float64), axis=1)
    _no_overflow(cycles)
    return cycles, macs[:, None] / (np.maximum(cycles, 1) * pes[None, :])


def plan(layers, layer_bytes, designs, design_memory) -> Plan:
    """Cycles, stalls and traffic of each layer on each design under the module's memory model.

    designs: as for compute_cycles, a missing LOOP_ORDER column meaning SCALESIM;
    layer_bytes: (L, 4) of [ifmap (A) bytes, filter (B) bytes, output bytes, bytes per element];
    design_memory: (D, 4) of [usable ifmap, filter, ofmap SRAM bytes per array, DRAM bytes per cycle].
    """
    layers = _table(layers, "layers", np.int64)
    designs = _design_table(designs)
    layer_bytes = _table(layer_bytes, "layer_bytes", np.float64)
    design_memory = _table(design_memory, "design_memory", np.float64)
    _check(layers, designs)
    if layer_bytes.shape[0] != layers.shape[0] or design_memory.shape[0] != designs.shape[0]:
        raise ValueError("layer_bytes/design_memory must have one row per layer/design")
    if min(layer_bytes.min(initial=0), design_memory.min(initial=0)) < 0 \
            or (design_memory[:, BYTES_PER_CYCLE] <= 0).any():
        raise ValueError("bytes must be >= 0 and DRAM bytes per cycle > 0")
    shape = (layers.shape[0], designs.shape[0])
    cycles = np.empty(shape, dtype=np.int64)
    stalls = np.empty(shape, dtype=np.int64)
    traffic = np.empty(shape + (15,))
    _plan_grid(layers, layer_bytes, designs, design_memory, cycles, stalls, traffic)
    _no_overflow(cycles, stalls)
    return Plan(cycles, stalls, traffic[..., 0], traffic[..., 1], traffic[..., 2], traffic[..., 3:])


# ---- plain-Python references the kernels are tested against -------------------------------------

def _runs(total: int, unit: int, parts: int) -> list[tuple[int, int]]:
    """Cut range(total) into blocks of `unit` and deal them, ceil(blocks / parts) at a time, to parts."""
    blocks = -(-total // unit)
    per_part = -(-blocks // min(parts, blocks)) * unit
    return [(start, min(start + per_part, total)) for start in range(0, total, per_part)]


def deal_reference(m, n, k, count, rows, cols, dataflow, arrays) -> list[list[tuple]]:
    """Each array's GEMMs as (gemm, (r0, r1), (c0, c1), (t0, t1)) element ranges, dealt one by one."""
    sr, sc, t = {WS: (k, n, m), OS: (m, n, k), IS: (k, m, n)}[dataflow]
    groups = min(arrays, count)
    per_group = arrays // groups
    col_parts = min(per_group, -(-sc // cols))
    inner = per_group // col_parts
    work: list[list] = [[] for _ in range(arrays)]
    for gemm in range(count):
        base = (gemm % groups) * per_group
        for c, col_range in enumerate(_runs(sc, cols, col_parts)):
            if dataflow == OS:
                splits = [(row_range, (0, t)) for row_range in _runs(sr, rows, inner)]
            else:
                splits = [((0, sr), t_range) for t_range in _runs(t, 1, inner)]
            for p, (row_range, t_range) in enumerate(splits):
                work[base + c * inner + p].append((gemm, row_range, col_range, t_range))
    return work


def _folds_reference(gemms, rows, cols) -> list[tuple]:
    """One array's folds, column folds outermost: ((round, pass, row fold), gemm, row/col/T ranges)."""
    return [((round_, p, f), gemm, (r0, min(r0 + rows, r1)), (c0, min(c0 + cols, c1)), t_range)
            for round_, (gemm, (r_start, r1), (c_start, c1), t_range) in enumerate(gemms)
            for p, c0 in enumerate(range(c_start, c1, cols))
            for f, r0 in enumerate(range(r_start, r1, rows))]


def cycles_reference(m, n, k, count, rows, cols, dataflow, arrays) -> int:
    """Plain Python: time every fold of every array; the slowest array, minus SCALE-Sim's 1."""
    work = deal_reference(m, n, k, count, rows, cols, dataflow, arrays)
    return max(sum(_fold_cycles(rows, cols, t1 - t0, dataflow)
                   for *_, (t0, t1) in _folds_reference(gemms, rows, cols)) for gemms in work) - 1


def _keeping_reference(order, dataflow, rows, cols, sizes, piece, a, b, o, srams):
    """How a tiling holds blocks, from the slowest array's piece: (chunk length, folds per outer
    block, {block kind: kept for the "layer", one outer "block" or one "step"}, front kind, spill),
    or None where the tiling cannot run."""
    sr, sc, t = sizes
    ifmap_sram, filter_sram, ofmap_sram = srams
    _, (r_start, r_stop), (c_start, c_stop), (t_start, t_stop) = piece
    row_folds, col_folds = -(-(r_stop - r_start) // rows), -(-(c_stop - c_start) // cols)
    share = t_stop - t_start
    if dataflow == OS:
        if order == SCALESIM:
            x_fits = a * ((r_stop - r_start) / sr) <= ifmap_sram
            w_fits = b * min(cols, sc) / sc <= filter_sram
            return share, 1, {"x": _kept(x_fits), "w": _kept(w_fits)}, "x", False
        u_fold, v_fold = a * min(rows, sr) / sr, b * (min(cols, sc) / sc)
        if order == COLUMN_BLOCKS:
            block = _blocks_fitting(col_folds, v_fold, filter_sram)
            x_kept = _kept(a * (r_stop - r_start) / sr <= ifmap_sram, u_fold <= ifmap_sram)
            return (share, block, {"x": x_kept, "w": "layer"}, "x", False) if block else None
        block = _blocks_fitting(row_folds, u_fold, ifmap_sram)
        w_kept = _kept(b * (c_stop - c_start) / sc <= filter_sram, v_fold <= filter_sram)
        return (share, block, {"x": "layer", "w": w_kept}, "w", False) if block else None
    u, u_sram, v, v_sram = (a, ifmap_sram, b, filter_sram) if dataflow == WS else \
        (b, filter_sram, a, ifmap_sram)
    if order == SCALESIM:
        x_fits = u * (share / t) <= u_sram
        spill = sr > rows and o * share / t * min(cols, sc) / sc > ofmap_sram
        return share, 1, {"x": _kept(x_fits), "s": "layer"}, "x", spill
    chunk = share if row_folds == 1 else _blocks_fitting(share, o * (min(cols, sc) / sc) / t,
                                                         ofmap_sram)
    u_chunk = _blocks_fitting(share, u / t, u_sram)
    v_fold = v * (min(cols, sc) / sc)
    if chunk < 1 or order == ROW_BLOCKS and u_chunk < 1:
        return None
    if order == ROW_BLOCKS:
        s_kept = _kept(v * (c_stop - c_start) / sc <= v_sram)
        return min(chunk, u_chunk), 1, {"x": "layer", "s": s_kept}, "s", False
    if v_fold > v_sram:
        return chunk, 1, {"x": _kept(u_chunk == share), "s": "step"}, "x", False
    block = _blocks_fitting(col_folds, v_fold, v_sram)
    if 1 <= u_chunk < share:
        chunk = min(chunk, u_chunk)
    return chunk, block, {"x": _kept(u_chunk == share, u_chunk >= 1), "s": "layer"}, "x", False


def _kept(for_layer: bool, for_block: bool = False) -> str:
    """How long a fetched block stays: the layer, the outer block, or the step that wanted it."""
    return "layer" if for_layer else "block" if for_block else "step"


def _substeps_reference(order, dataflow, gemms, rows, cols, chunk, block) -> list[tuple]:
    """One array's steps in a tiling's order: (step, outer block, gemm, row/col/T ranges, fold T)."""
    steps = []
    for round_, (gemm, (r_start, r1), (c_start, c1), (t_start, t1)) in enumerate(gemms):
        row_f = [(r0, min(r0 + rows, r1)) for r0 in range(r_start, r1, rows)]
        col_f = [(c0, min(c0 + cols, c1)) for c0 in range(c_start, c1, cols)]
        chunks = [(s0, min(s0 + chunk, t1)) for s0 in range(t_start, t1, chunk)]
        whole = (t_start, t1)
        if order == SCALESIM:
            order_steps = [((p, f), p, r, c, whole) for p, c in enumerate(col_f)
                           for f, r in enumerate(row_f)]
        elif order == COLUMN_BLOCKS and dataflow == OS:       # row folds reuse an ifmap block
            order_steps = [((g, f, i), g, r, c, whole) for g in range(0, len(col_f), block)
                           for f, r in enumerate(row_f) for i, c in enumerate(col_f[g:g + block])]
        elif order == COLUMN_BLOCKS:
            order_steps = [((g, s, i, f), g, r, c, part) for g in range(0, len(col_f), block)
                           for s, part in enumerate(chunks)
                           for i, c in enumerate(col_f[g:g + block]) for f, r in enumerate(row_f)]
        elif dataflow == OS:                                  # blocks of row folds
            order_steps = [((g, p, i), g, r, c, whole) for g in range(0, len(row_f), block)
                           for p, c in enumerate(col_f) for i, r in enumerate(row_f[g:g + block])]
        else:                                                 # stream chunks
            order_steps = [((s, p, f), s, r, c, part) for s, part in enumerate(chunks)
                           for p, c in enumerate(col_f) for f, r in enumerate(row_f)]
        steps += [((round_, *step), (round_, outer), gemm, r, c, part, t1 - t_start)
                  for step, outer, r, c, part in order_steps]
    return steps


def _tiling_reference(order, m, n, k, count, rows, cols, dataflow, arrays, a_bytes, b_bytes,
                      o_bytes, srams, bytes_per_cycle):
    """One tiling stepped by the arrays in lockstep: (reads, writes, stalls, SRAM elements, reads by
    block kind) or None."""
    sizes = sr, sc, t = {WS: (k, n, m), OS: (m, n, k), IS: (k, m, n)}[dataflow]
    a, b, o = a_bytes / count, b_bytes / count, o_bytes / count
    work = deal_reference(m, n, k, count, rows, cols, dataflow, arrays)
    keeping = _keeping_reference(order, dataflow, rows, cols, sizes, work[0][0], a, b, o, srams)
    if keeping is None:
        return None
    chunk, block, kept, front_kind, spill = keeping
    u, v = (b, a) if dataflow == IS else (a, b)
    fetched: dict = {}                                # (block, how long it stays) -> bytes
    writes = elements = 0.0
    for gemms in work:
        for step, outer, gemm, (r0, r1), (c0, c1), (t0, t1), _ in _substeps_reference(
                order, dataflow, gemms, rows, cols, chunk, block):
            scope = {"layer": (), "block": outer, "step": step}
            rs, cs, ts = r1 - r0, c1 - c0, t1 - t0
            if dataflow == OS:
                wanted = {("x", gemm, r0): a * rs / sr, ("w", gemm, c0): b * cs / sc}
                writes += o * rs * cs / (sr * sc)
                elements += t * rs + t * cs + rs * cs
            else:
                wanted = {("x", gemm, t0, t1, r0): u * ts * rs / (t * sr),
                          ("s", gemm, r0, c0): v * rs * cs / (sr * sc)}
                if spill and r0 > 0:
                    wanted["psum", gemm, t0, c0, r0] = o * ts * cs / (t * sc)
                writes += o * ts * cs / (t * sc) if spill or r1 == sr else 0.0
                elements += ts * rs + rs * cs + ts * cs * (2 if r0 > 0 else 1)
            for name, size in wanted.items():
                fetched.setdefault((name, scope[kept.get(name[0], "step")]), size)
    reads = sum(fetched.values())
    by_kind = {kind: sum(size for (name, _), size in fetched.items() if name[0] == kind)
               for kind in ("x", "w", "s", "psum")}
    front = sum(size for (name, scope), size in fetched.items()
                if name[0] == front_kind and not scope)        # kept all layer: needed up front
    slowest = [(outer[1] == 0, _fold_cycles(rows, cols, fold_t, dataflow) * (t1 - t0) / fold_t)
               for _, outer, _, _, _, (t0, t1), fold_t in _substeps_reference(
                   order, dataflow, work[0], rows, cols, chunk, block)]
    total = sum(cycles for _, cycles in slowest)
    first = sum(cycles for in_first, cycles in slowest if in_first)
    stalls = 0.0
    for in_first, cycles in slowest:                  # bytes arrive in proportion to compute
        demand = (reads + writes - front) * cycles / total + (front * cycles / first if in_first else 0)
        stalls += max(0.0, demand / bytes_per_cycle - cycles)
    return reads, writes, stalls, elements, by_kind


def plan_reference(m, n, k, count, rows, cols, dataflow, arrays, a_bytes, b_bytes, o_bytes,
                   elem_bytes, ifmap_sram, filter_sram, ofmap_sram, bytes_per_cycle,
                   loop_order=SCALESIM) -> tuple:
    """Plain Python: each tiling the loop order allows, stepped fold by fold; the cheapest wins.
    (cycles, stalls, DRAM reads, DRAM writes, SRAM bytes, DRAM reads of ifmap, filter, ofmap)."""
    orders = (SCALESIM,) if loop_order == SCALESIM else (SCALESIM, COLUMN_BLOCKS, ROW_BLOCKS)
    best = None
    for order in orders:
        plan = _tiling_reference(order, m, n, k, count, rows, cols, dataflow, arrays, a_bytes,
                                 b_bytes, o_bytes, (ifmap_sram, filter_sram, ofmap_sram),
                                 bytes_per_cycle)
        if plan and (not best or _better(plan[0] + plan[1], plan[2], best[0] + best[1], best[2])):
            best = plan
    reads, writes, stalls, elements, by_kind = best
    cycles = cycles_reference(m, n, k, count, rows, cols, dataflow, arrays)
    streamed, pinned = by_kind["x"], by_kind["w"] + by_kind["s"]
    operands = (pinned, streamed) if dataflow == IS else (streamed, pinned)
    return (cycles, math.ceil(stalls), reads, writes, elements * elem_bytes + reads + writes,
            (*operands, by_kind["psum"]))
