"""One SCALE-Sim v2 layer end to end: address matrices, prefetch orders, buffers, report numbers.

`layer_report` builds SCALE-Sim's operand matrices for a conv layer (a GEMM is an M x K "image",
one 1 x K filter per output column), lays them out per dataflow, runs the memory replay of
accelsim.kernels.systolic_scalesim and adds the counts SCALE-Sim takes from the fold shapes (SRAM
accesses, mapping efficiency, compute utilisation). Words are bytes, as SCALE-Sim counts them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from accelsim.kernels import systolic_scalesim as k
from accelsim.workload.ir import Op, OpKind

CONV = ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "filters", "stride_h", "stride_w")


class Memory(NamedTuple):
    """A SCALE-Sim array and memory system (sizes in words)."""

    rows: int
    cols: int
    dataflow: str            # os, ws or is
    ifmap_sram: int
    filter_sram: int
    ofmap_sram: int
    user_bandwidth: int      # words per cycle per buffer (InterfaceBandwidth USER); 0: CALC


class LayerReport(NamedTuple):
    """SCALE-Sim's per-layer report numbers."""

    total_cycles: int
    stall_cycles: int
    overall_util: float          # %
    mapping_efficiency: float    # %
    compute_util: float          # %
    sram_reads: tuple[int, int, int]       # ifmap, filter reads; ofmap writes
    dram_reads: tuple[int, int, int]       # ifmap, filter reads; ofmap writes
    sram_cycles: tuple[int, ...]           # start, stop of ifmap, filter, ofmap
    dram_cycles: tuple[int, ...]           # start, stop of ifmap, filter, ofmap


def gemm_layer(m: int, n: int, k_: int) -> tuple[int, ...]:
    """A GEMM as SCALE-Sim's conv layer: an M x K image, N filters of 1 x K."""
    return (m, k_, 1, k_, 1, n, 1, 1)


def scalesim_layer(op: Op) -> tuple[int, ...]:
    """One GEMM of the op as SCALE-Sim's conv layer: an unpadded conv over the padded input where
    the op is a convolution with its input size, else (a matmul, a linear layer) an M x K image."""
    g = op.gemm
    in_hw = op.attr("in_hw", None)
    if op.kind is not OpKind.CONV2D or in_hw is None:
        return gemm_layer(g.m, g.n, g.k)
    fh, fw = _pair(op.attr("kernel", 1))
    sh, sw = _pair(op.attr("stride", 1))
    ph, pw = _pair(op.attr("padding", 0))
    return (in_hw[0] + 2 * ph, in_hw[1] + 2 * pw, fh, fw, g.k // (fh * fw), g.n, sh, sw)


def _pair(value) -> tuple[int, int]:
    """An int or an (h, w) pair as a pair."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _outer(along_rows: np.ndarray, along_cols: np.ndarray, transposed: bool) -> np.ndarray:
    """The matrix of along_rows[i] + along_cols[j], or its transpose, built C-contiguous, in int32
    where every sum fits."""
    big = int(along_rows.max()) + int(along_cols.max()) >= np.iinfo(np.int32).max
    along_rows, along_cols = (a.astype(np.int64 if big else np.int32) for a in (along_rows, along_cols))
    return np.add.outer(along_cols, along_rows) if transposed else np.add.outer(along_rows, along_cols)


def operands(layer, transposed: tuple[bool, bool] = (False, False)):
    """SCALE-Sim's ifmap (P x K) and filter (K x N) address matrices (each transposed where asked;
    the ofmap's, P x N, is only counted), counted from each operand's first address (SCALE-Sim's
    offsets shift a whole operand, which no buffer count sees); -1 where a window leaves the input."""
    h, w, fh, fw, ch, nf, sh, sw = layer
    oh, ow = -(-(h - fh + sh) // sh), -(-(w - fw + sw) // sw)
    p, window, n = np.arange(oh * ow), np.arange(fh * fw * ch), np.arange(nf)
    i_row, i_col = (p // ow) * sh, (p % ow) * sw
    c_row, rest = np.divmod(window, fw * ch)
    c_col, c_ch = np.divmod(rest, ch)
    ifmap = _outer((i_row * w + i_col) * ch, (c_row * w + c_col) * ch + c_ch, transposed[0])
    leaving = np.flatnonzero((i_row > h - fh) | (i_col > w - fw))
    if leaving.size:
        outside = (i_row[leaving, None] + c_row >= h) | (i_col[leaving, None] + c_col >= w)
        if transposed[0]:
            ifmap[:, leaving] = np.where(outside.T, -1, ifmap[:, leaving])
        else:
            ifmap[leaving] = np.where(outside, -1, ifmap[leaving])
    return ifmap, _outer(window, n * window.size, transposed[1])


def sources(layer, memory: Memory) -> tuple[np.ndarray, np.ndarray]:
    """The read matrices each dataflow cuts its folds from: ws (I, F), os (I^T, F), is (I^T, F^T)
    (its ofmap: O, O, O^T)."""
    return operands(layer, {"ws": (False, False), "os": (True, False),
                            "is": (True, True)}[memory.dataflow])


def _windows_apart(layer) -> bool:
    """Whether no two of a conv layer's windows share an input (no ifmap address repeats)."""
    h, w, fh, fw, ch, nf, sh, sw = layer
    return (fh <= sh or h == fh) and (fw <= sw or w == fw)     # h == fh: one window row


def roles(layer, dataflow: str) -> tuple[int, int, int]:
    """(Sr, Sc, T) of a layer under a dataflow."""
    h, w, fh, fw, ch, nf, sh, sw = layer
    p = -(-(h - fh + sh) // sh) * -(-(w - fw + sw) // sw)
    window = fh * fw * ch
    return {"ws": (window, nf, p), "os": (p, nf, window), "is": (window, p, nf)}[dataflow]


def _diagonals(matrix: np.ndarray) -> np.ndarray:
    """Elements in anti-diagonal order, each diagonal from its bottom row up (SCALE-Sim's skew)."""
    rows, cols = matrix.shape
    r, c = np.indices(matrix.shape)
    slots = np.full((rows + cols - 1) * cols, -1, dtype=np.int64)    # diagonal-major, column-minor
    slots[((r + c) * cols + c).ravel()] = np.arange(matrix.size)
    return matrix.ravel()[slots[slots >= 0]]


def prefetch_order(src: np.ndarray, block: int, diagonal: bool) -> np.ndarray:
    """A read operand in SCALE-Sim's prefetch order: its source cut into `block`-wide column
    slices (padded with -1) stacked, then flattened by rows or anti-diagonals."""
    width = -(-src.shape[1] // block) * block
    padded = np.full((src.shape[0], width), -1, dtype=np.int64)
    padded[:, :src.shape[1]] = src
    stacked = padded.reshape(src.shape[0], -1, block).transpose(1, 0, 2).reshape(-1, block)
    return _diagonals(stacked) if diagonal else stacked.ravel()


def _prefetch_layout(dataflow: str, memory: Memory) -> tuple[tuple[int, bool], tuple[int, bool]]:
    """(block width, diagonal order) of the ifmap and filter prefetch matrices."""
    rows, cols = memory.rows, memory.cols
    return {"ws": ((rows, True), (cols, False)), "os": ((rows, True), (cols, True)),
            "is": ((cols, False), (rows, True))}[dataflow]


def _user_read_state(stream: np.ndarray, words: int, bandwidth: int, size: int):
    """A USER read buffer: its state and the CSR (index, sets) of the sets holding each address."""
    per_set = -(-words // k.SETS_PER_BUFFER)
    valid = stream[stream >= 0]
    set_of = np.arange(valid.size) // per_set
    lines = valid.size // per_set + 1
    order = np.argsort(valid, kind="stable")
    held, set_of = valid[order], set_of[order]
    first = np.ones(held.size, dtype=bool)          # each (address, set) once
    first[1:] = (held[1:] != held[:-1]) | (set_of[1:] != set_of[:-1])
    held, set_of = held[first], set_of[first]
    index = np.searchsorted(held, np.arange(size + 1)).astype(np.int64)
    active_words = math.ceil(words * 0.5)
    active = min(-(-active_words // per_set), lines)
    prefetch = min(-(-(words - active_words) // per_set), lines - active)
    first_lines = min(-(-active_words // bandwidth), -(-stream.size // bandwidth))
    state = np.zeros(11, dtype=np.int64)
    state[[k.R_START, k.R_END, k.R_LINES, k.R_ACTIVE, k.R_PREFETCH]] = 0, active, lines, active, \
        prefetch
    state[[k.R_PF_LINES, k.R_BW, k.R_ACCESS]] = -(-(words - active_words) // bandwidth), bandwidth, \
        first_lines * bandwidth
    state[[k.R_TRACE_FIRST, k.R_TRACE_LAST, k.R_LAST_PF]] = -first_lines, -1, -1
    return state, index, set_of.astype(np.int64)


def _write_state(words: int, bandwidth: int) -> tuple[np.ndarray, np.ndarray]:
    """The ofmap write buffer's initial state and line ring."""
    state = np.zeros(12, dtype=np.int64)
    state[[k.W_FREE, k.W_TOTAL, k.W_BW]] = words, words, bandwidth
    state[k.W_DRAIN] = words - math.ceil(words * 0.5)
    return state, np.zeros(4 * (words + bandwidth) + 16, dtype=np.int64)


def fold_stats(memory: Memory, sr: int, sc: int, t: int) -> tuple[float, float]:
    """Mapping efficiency and compute utilisation averaged over the folds, as SCALE-Sim sums them."""
    rows, cols = memory.rows, memory.cols
    span = {"os": rows + cols + t - 2}.get(memory.dataflow, 2 * rows + 2 * cols + t - 3)
    mapping = compute = 0.0
    folds = 0
    for fc in range(-(-sc // cols)):
        for fr in range(-(-sr // rows)):
            used = min(rows, sr - fr * rows) * min(cols, sc - fc * cols)
            mapping += used / (rows * cols)
            compute += used * t / (rows * cols * span)
            folds += 1
    return mapping / folds * 100, compute / folds * 100


def _sram_counts(memory: Memory, sr: int, sc: int, t: int) -> tuple[int, int, int]:
    """SRAM ifmap reads, filter reads, ofmap writes as SCALE-Sim counts them from fold shapes."""
    row_folds, col_folds = -(-sr // memory.rows), -(-sc // memory.cols)
    if memory.dataflow == "ws":
        return col_folds * t * sr, sr * sc, row_folds * t * sc
    if memory.dataflow == "os":
        return col_folds * t * sr, row_folds * t * sc, \
            sr * sc + row_folds * col_folds * (memory.rows + memory.cols)
    return sr * sc, col_folds * t * sr, row_folds * t * sc


def layer_report(layer, memory: Memory) -> LayerReport:
    """SCALE-Sim v2's report numbers of one conv layer (see `gemm_layer`) on `memory`."""
    if memory.dataflow not in k.DATAFLOWS:
        raise ValueError(f"dataflow must be one of {k.DATAFLOWS}")
    sr, sc, t = roles(layer, memory.dataflow)
    srcs = sources(layer, memory)
    shape = np.array([memory.rows, memory.cols, sr, sc, t], dtype=np.int64)
    flow = k.DATAFLOWS.index(memory.dataflow)
    write, fills = _write_state(memory.ofmap_sram, memory.user_bandwidth or memory.cols)
    words = (memory.ifmap_sram, memory.filter_sram)
    if memory.user_bandwidth > 0:
        buffers = [_user_read_state(prefetch_order(src, block, diagonal), sram, memory.user_bandwidth,
                                    int(src.max()) + 1)
                   for (block, diagonal), src, sram in zip(_prefetch_layout(memory.dataflow, memory),
                                                           srcs, words)]
        out = k.simulate_user(*srcs, shape, flow, *buffers[0], *buffers[1], write, fills)
    else:
        items = np.array(words, dtype=np.int64) // k.SETS_PER_BUFFER
        h, w, fh, fw, ch, nf = layer[:6]
        segment_of = [np.zeros(size, dtype=np.int32) for size in (h * w * ch, fh * fw * ch * nf)]
        out = k.simulate_calc(*srcs, shape, flow, items, np.array([_windows_apart(layer), True]),
                              *segment_of, write, fills)
    mapping, compute = fold_stats(memory, sr, sc, t)
    macs = sr * sc * t
    total = int(out[k.TOTAL])
    return LayerReport(
        total_cycles=total, stall_cycles=int(out[k.STALLS]),
        overall_util=macs * 100 / (total * memory.rows * memory.cols),
        mapping_efficiency=mapping, compute_util=compute,
        sram_reads=_sram_counts(memory, sr, sc, t),
        dram_reads=(int(out[k.IF_DRAM]), int(out[k.F_DRAM]), int(out[k.O_DRAM])),
        sram_cycles=tuple(int(x) for x in out[k.IF_SRAM_START:k.O_SRAM_STOP + 1]),
        dram_cycles=tuple(int(out[c]) for c in (k.IF_DRAM_START, k.IF_DRAM_STOP, k.F_DRAM_START,
                                                 k.F_DRAM_STOP, k.O_DRAM_START, k.O_DRAM_STOP)))
