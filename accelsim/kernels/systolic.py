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
Arrays step their folds in lockstep and fetch the blocks they share once (broadcast); residency and
spilling are decided on the slowest array's slices and hold for all arrays.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from accelsim.kernels._jit import njit

WS, OS, IS = 0, 1, 2
DATAFLOWS = ("ws", "os", "is")
M, N, K, COUNT = range(4)                                     # columns of `layers`
ROWS, COLS, DATAFLOW, ARRAYS = range(4)                       # columns of `designs`
A_BYTES, B_BYTES, O_BYTES, ELEM_BYTES = range(4)              # columns of `layer_bytes`
IFMAP_SRAM, FILTER_SRAM, OFMAP_SRAM, BYTES_PER_CYCLE = range(4)   # columns of `design_memory`
MAX_CYCLES = 2.0**62                                          # larger counts raise OverflowError
MAX_DIM = 2**40


class Plan(NamedTuple):
    """Cost of each layer (row) on each design point (column)."""

    cycles: np.ndarray          # compute cycles, int64, SCALE-Sim's count
    stall_cycles: np.ndarray    # int64, cycles waiting for DRAM
    dram_read: np.ndarray       # bytes
    dram_write: np.ndarray      # bytes
    sram_bytes: np.ndarray      # bytes read from and written to the SRAMs


@njit
def _ceil_div(a, b):
    """Integer ceiling division for positive int64."""
    return (a + b - 1) // b


@njit
def _roles(m, n, k, dataflow):
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
    sr, sc, t = _roles(m, n, k, dataflow)
    rounds, sr, sc, t = _share(count, sr, sc, t, rows, cols, dataflow, arrays)
    row_folds = _ceil_div(sr, rows)
    col_folds = _ceil_div(sc, cols)
    fold = _fold_cycles(rows, cols, t, dataflow)
    if float(rounds) * float(row_folds) * float(col_folds) * float(fold) > MAX_CYCLES:
        return -1
    return rounds * row_folds * col_folds * fold - 1


@njit
def _plan(m, n, k, count, rows, cols, dataflow, arrays, a_bytes, b_bytes, o_bytes, elem_bytes,
          ifmap_sram, filter_sram, ofmap_sram, bytes_per_cycle):
    """(compute cycles, stall cycles, DRAM read, DRAM write, SRAM bytes) of one layer on one design."""
    cycles = _cycles(m, n, k, count, rows, cols, dataflow, arrays)
    big_r, big_c, big_t = _roles(m, n, k, dataflow)
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
    first = rounds * row_folds                                        # folds of first column passes
    even = (reads + writes - front) / folds / bytes_per_cycle
    fold = _fold_cycles(rows, cols, t, dataflow)
    stalls = first * max(0.0, even + front / first / bytes_per_cycle - fold)
    stalls += (folds - first) * max(0.0, even - fold)

    full_row_folds = float(_ceil_div(big_r, rows))
    elements = float(_ceil_div(big_c, cols)) * big_t * big_r + full_row_folds * big_t * big_c
    if dataflow == OS:
        elements += float(big_r) * big_c
    else:   # every array that got a piece of T loads the stationary tiles; partial sums read back
        elements += float(_ceil_div(big_t, t)) * big_r * big_c + (full_row_folds - 1.0) * big_t * big_c
    sram = count * elements * elem_bytes + reads + writes
    stall_cycles = np.int64(-1) if stalls > MAX_CYCLES else np.int64(math.ceil(stalls))
    return cycles, stall_cycles, reads, writes, sram


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
    """Fill the plan of layer i on design j: cycles, stalls and traffic[i, j] = (read, write, sram)."""
    for i in range(layers.shape[0]):
        for j in range(designs.shape[0]):
            c, s, r, w, b = _plan(
                layers[i, M], layers[i, N], layers[i, K], layers[i, COUNT], designs[j, ROWS],
                designs[j, COLS], designs[j, DATAFLOW], designs[j, ARRAYS], layer_bytes[i, A_BYTES],
                layer_bytes[i, B_BYTES], layer_bytes[i, O_BYTES], layer_bytes[i, ELEM_BYTES],
                design_memory[j, IFMAP_SRAM], design_memory[j, FILTER_SRAM],
                design_memory[j, OFMAP_SRAM], design_memory[j, BYTES_PER_CYCLE])
            cycles[i, j] = c
            stalls[i, j] = s
            traffic[i, j, 0] = r
            traffic[i, j, 1] = w
            traffic[i, j, 2] = b


def _table(values, name: str, dtype) -> np.ndarray:
    """A contiguous (rows, 4) array of `dtype`, or ValueError."""
    table = np.ascontiguousarray(values, dtype=dtype)
    if table.ndim == 1:
        table = table.reshape(1, -1)
    if table.ndim != 2 or table.shape[1] != 4:
        raise ValueError(f"{name} must have 4 columns, got shape {table.shape}")
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


def _no_overflow(*cycles: np.ndarray) -> None:
    """OverflowError where a cycle count passed MAX_CYCLES (the kernels mark it -1)."""
    if any((counts < 0).any() for counts in cycles):
        raise OverflowError("cycle count exceeds 2**62")


def compute_cycles(layers, designs) -> tuple[np.ndarray, np.ndarray]:
    """SCALE-Sim v2 compute cycles (int64) and utilisation of each layer (row) on each design (column).

    layers: (L, 4) of [m, n, k, count]; designs: (D, 4) of [rows, cols, DATAFLOWS index, arrays].
    Utilisation is MACs / (cycles * PEs), SCALE-Sim's "overall utilization" (cycles at least 1).
    """
    layers = _table(layers, "layers", np.int64)
    designs = _table(designs, "designs", np.int64)
    _check(layers, designs)
    cycles = np.empty((layers.shape[0], designs.shape[0]), dtype=np.int64)
    _cycles_grid(layers, designs, cycles)
    macs = np.prod(layers.astype(np.float64), axis=1)
    pes = np.prod(designs[:, [ROWS, COLS, ARRAYS]].astype(np.float64), axis=1)
    _no_overflow(cycles)
    return cycles, macs[:, None] / (np.maximum(cycles, 1) * pes[None, :])


def plan(layers, layer_bytes, designs, design_memory) -> Plan:
    """Cycles, stalls and traffic of each layer on each design under the module's memory model.

    layer_bytes: (L, 4) of [ifmap (A) bytes, filter (B) bytes, output bytes, bytes per element];
    design_memory: (D, 4) of [usable ifmap, filter, ofmap SRAM bytes per array, DRAM bytes per cycle].
    """
    layers = _table(layers, "layers", np.int64)
    designs = _table(designs, "designs", np.int64)
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
    traffic = np.empty(shape + (3,))
    _plan_grid(layers, layer_bytes, designs, design_memory, cycles, stalls, traffic)
    _no_overflow(cycles, stalls)
    return Plan(cycles, stalls, traffic[..., 0], traffic[..., 1], traffic[..., 2])


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


def plan_reference(m, n, k, count, rows, cols, dataflow, arrays, a_bytes, b_bytes, o_bytes,
                   elem_bytes, ifmap_sram, filter_sram, ofmap_sram, bytes_per_cycle) -> tuple:
    """Plain Python: arrays in lockstep fetch each step's distinct blocks, resident ones once."""
    sr, sc, t = {WS: (k, n, m), OS: (m, n, k), IS: (k, m, n)}[dataflow]
    a, b, o = a_bytes / count, b_bytes / count, o_bytes / count
    streamed, streamed_sram = (b, filter_sram) if dataflow == IS else (a, ifmap_sram)
    work = deal_reference(m, n, k, count, rows, cols, dataflow, arrays)
    _, (r_start, r_stop), _, (t_start, t_stop) = work[0][0]
    x_share = (r_stop - r_start) / sr if dataflow == OS else (t_stop - t_start) / t
    x_fits = streamed * x_share <= streamed_sram
    w_fits = b * min(cols, sc) / sc <= filter_sram
    psum_block = o * (t_stop - t_start) / t * min(cols, sc) / sc
    spill = dataflow != OS and sr > rows and psum_block > ofmap_sram
    steps: dict = {}                                  # step -> {block: (bytes, stays resident)}
    writes = elements = 0.0
    for gemms in work:
        for step, gemm, (r0, r1), (c0, c1), (t0, t1) in _folds_reference(gemms, rows, cols):
            wanted = steps.setdefault(step, {})
            rs, cs, ts = r1 - r0, c1 - c0, t1 - t0
            if dataflow == OS:
                wanted["x", gemm, r0] = (streamed * rs / sr, x_fits)
                wanted["w", gemm, c0] = (b * cs / sc, w_fits)
                writes += o * rs * cs / (sr * sc)
                elements += t * rs + t * cs + rs * cs
                continue
            wanted["x", gemm, t0, r0] = (streamed * ts * rs / (t * sr), x_fits)
            wanted["s", gemm, r0, c0] = ((b if dataflow == WS else a) * rs * cs / (sr * sc), True)
            if spill and r0 > 0:
                wanted["psum", gemm, t0, c0, r0] = (o * ts * cs / (t * sc), False)
            writes += o * ts * cs / (t * sc) if spill or r1 == sr else 0.0
            elements += ts * rs + rs * cs + ts * cs * (2 if r0 > 0 else 1)
    fetched: set = set()
    reads = front = 0.0
    for step in sorted(steps):
        for block, (size, resident) in steps[step].items():
            if resident and block in fetched:
                continue
            reads += size
            front += size if resident and block[0] == "x" else 0.0
            fetched.add(block)
    slowest = _folds_reference(work[0], rows, cols)
    if all(step[1] == 0 for step, *_ in slowest):
        front = 0.0                                   # one column pass: everything spreads evenly
    first = sum(1 for step, *_ in slowest if step[1] == 0)
    stalls = 0.0
    for step, *_, (t0, t1) in slowest:
        demand = (reads + writes - front) / len(slowest) + (front / first if step[1] == 0 else 0.0)
        stalls += max(0.0, demand / bytes_per_cycle - _fold_cycles(rows, cols, t1 - t0, dataflow))
    cycles = cycles_reference(m, n, k, count, rows, cols, dataflow, arrays)
    return cycles, math.ceil(stalls), reads, writes, elements * elem_bytes + reads + writes
