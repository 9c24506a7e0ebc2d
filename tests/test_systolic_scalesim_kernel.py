"""The SCALE-Sim memory replay kernel against plain-Python references built as SCALE-Sim builds them:
whole demand matrices (padding, flips, skews, concatenation) and read buffers made of Python sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from accelsim.kernels import systolic_scalesim as k
from accelsim.kernels.systolic_scalesim_layer import (Memory, _windows_apart, gemm_layer,
                                                      layer_report, prefetch_order, roles, sources)


def _skew(matrix: np.ndarray) -> np.ndarray:
    """SCALE-Sim's skew_matrix: column c delayed by c rows."""
    rows, cols = matrix.shape
    out = np.full((rows + cols - 1, cols), -1, dtype=matrix.dtype)
    for c in range(cols):
        out[c:c + rows, c] = matrix[:, c]
    return out


def _pad(block: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """A block padded with -1 to rows x cols."""
    out = np.full((rows, cols), -1, dtype=np.int64)
    out[:block.shape[0], :block.shape[1]] = block
    return out


def _gap(rows: int, width: int) -> np.ndarray:
    """Rows of no requests."""
    return np.full((rows, width), -1, dtype=np.int64)


def with_ofmap(layer, memory: Memory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The read sources and SCALE-Sim's ofmap address matrix, P x N (transposed for is)."""
    sr, sc, t = roles(layer, memory.dataflow)
    p, n = {"ws": (t, sc), "os": (sr, sc), "is": (sc, t)}[memory.dataflow]
    ofmap = np.add.outer(np.arange(p) * n, np.arange(n))
    return (*sources(layer, memory), ofmap.T if memory.dataflow == "is" else ofmap)


def demand_reference(srcs, dataflow: str, rows: int, cols: int, sr: int, sc: int, t: int):
    """The three whole demand matrices, fold by fold as systolic_compute_{os,ws,is} make them."""
    a, b, o = srcs
    out = ([], [], [])
    for fc in range(-(-sc // cols)):
        for fr in range(-(-sr // rows)):
            r0, c0 = fr * rows, fc * cols
            if dataflow == "ws":
                parts = (_skew(np.vstack([_gap(rows, rows), _pad(a[:, r0:r0 + rows], t, rows),
                                          _gap(cols - 1, rows)])),
                         np.vstack([np.flip(_pad(b[r0:r0 + rows, c0:c0 + cols], rows, cols), 0),
                                    _gap(rows + cols + t - 2, cols)]),
                         _skew(np.vstack([_gap(2 * rows - 1, cols), _pad(o[:, c0:c0 + cols], t,
                                                                         cols)])))
            elif dataflow == "os":
                parts = (_skew(np.vstack([_pad(a[:, r0:r0 + rows], t, rows), _gap(cols - 1, rows)])),
                         _skew(np.vstack([_pad(b[:, c0:c0 + cols], t, cols), _gap(rows - 1, cols)])),
                         _skew(np.vstack([_gap(t - 1, cols), np.flip(_pad(
                             o[r0:r0 + rows, c0:c0 + cols], rows, cols), 0)])))
            else:
                parts = (np.vstack([np.flip(_pad(a[r0:r0 + rows, c0:c0 + cols], rows, cols), 0),
                                    _gap(rows + cols + t - 2, cols)]),
                         _skew(np.vstack([_gap(rows, rows), _pad(b[:, r0:r0 + rows], t, rows),
                                          _gap(cols - 1, rows)])),
                         _skew(np.vstack([_gap(2 * rows - 1, cols), _pad(o[:, c0:c0 + cols], t,
                                                                         cols)])))
            for store, part in zip(out, parts):
                store.append(part)
    return tuple(np.vstack(parts) for parts in out)


def calc_reads_reference(demand: np.ndarray, words: int) -> int:
    """CALC DRAM reads: addresses missing the current set and the active window of 50 sets."""
    per_set = words // 100
    sets: list[set] = []
    current: set = set()
    start, reads = 0, 0
    for addr in demand.ravel():
        if addr == -1 or addr in current or any(addr in s for s in sets[start:]):
            continue
        current.add(addr)
        reads += 1
        if len(current) == per_set:
            sets.append(current)
            current = set()
            if len(sets) == start + 50:
                start += 50
    return reads


def user_reads_reference(demand: np.ndarray, stream: np.ndarray, words: int, bandwidth: int) -> int:
    """USER DRAM reads: whole request lines of the first fill and of every prefetch that a demand
    outside the active window of sets forces."""
    per_set = math.ceil(words / 100)
    valid = [a for a in stream if a != -1]
    sets = [set(valid[i:i + per_set]) for i in range(0, len(valid) // per_set * per_set, per_set)]
    sets.append(set(valid[len(valid) // per_set * per_set:]))
    active = math.ceil(words / 2)
    n_active = min(math.ceil(active / per_set), len(sets))
    n_prefetch = min(math.ceil((words - active) / per_set), len(sets) - n_active)
    window = list(range(n_active))
    reads = min(math.ceil(active / bandwidth), math.ceil(stream.size / bandwidth)) * bandwidth
    for addr in demand.ravel():
        while addr != -1 and any(addr in sets[i] for i in range(len(sets))) and \
                not any(addr in sets[i] for i in window):
            begin = (window[0] + n_prefetch) % len(sets)
            window = [(begin + i) % len(sets) for i in range(n_active)] if n_active < len(sets) \
                else list(range(len(sets)))
            reads += math.ceil((words - active) / bandwidth) * bandwidth
    return reads


LAYERS = [(12, 12, 3, 3, 4, 8, 1, 1), (16, 16, 3, 3, 2, 5, 2, 2), gemm_layer(20, 9, 13)]


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("layer", LAYERS)
def test_demand_rows_match_whole_matrices(dataflow, layer):
    """row_span, fold by fold, gives SCALE-Sim's concatenated demand matrices."""
    memory = Memory(4, 3, dataflow, 1024, 1024, 1024, 0)
    srcs = with_ofmap(layer, memory)
    sr, sc, t = roles(layer, dataflow)
    whole = demand_reference(srcs, dataflow, 4, 3, sr, sc, t)
    flow = k.DATAFLOWS.index(dataflow)
    for op in range(3):
        rows = []
        for fc in range(-(-sc // 3)):
            for fr in range(-(-sr // 4)):
                spec = k.fold_spec(flow, op, fc, fr, 4, 3, sr, sc, t)
                for r in range(k.fold_rows(flow, 4, 3, t)):
                    lo, hi, first, step = k.row_span(spec, r)
                    line = np.full(spec[8], -1, dtype=np.int64)
                    for c in range(lo, hi):
                        line[c] = srcs[op][spec[0] + first + step * c, spec[1] + c]
                    rows.append(line)
        assert np.array_equal(np.array(rows), whole[op])


@settings(deadline=None, max_examples=25)
@given(h=st.integers(3, 14), fh=st.integers(1, 3), ch=st.integers(1, 4), nf=st.integers(1, 9),
       stride=st.integers(1, 2), rows=st.integers(2, 6), cols=st.integers(2, 6),
       dataflow=st.sampled_from(["os", "ws", "is"]), words=st.sampled_from([100, 160, 400]),
       bandwidth=st.integers(0, 7))
def test_dram_reads_match_the_set_references(h, fh, ch, nf, stride, rows, cols, dataflow, words,
                                             bandwidth):
    """CALC and USER ifmap/filter DRAM reads equal the set-based references on random layers."""
    layer = (h, h, fh, fh, ch, nf, stride, stride)
    memory = Memory(rows, cols, dataflow, words, words, 4 * words, bandwidth)
    report = layer_report(layer, memory)
    srcs = with_ofmap(layer, memory)
    demands = demand_reference(srcs, dataflow, rows, cols, *roles(layer, dataflow))
    blocks = {"ws": ((rows, True), (cols, False)), "os": ((rows, True), (cols, True)),
              "is": ((cols, False), (rows, True))}[dataflow]
    for op in range(2):
        if bandwidth:
            want = user_reads_reference(demands[op], prefetch_order(srcs[op], *blocks[op]), words,
                                        bandwidth)
        else:
            want = calc_reads_reference(demands[op], words)
        assert report.dram_reads[op] == want


def calc_stream_reference(demand: np.ndarray, per_window: int) -> tuple[int, int, int]:
    """A CALC read stream cut greedily into segments of per_window distinct addresses: (reads,
    segments filled, demand row of the last fill)."""
    segment: set = set()
    reads, windows, last = 0, 0, -1
    for row, line in enumerate(demand):
        for addr in line:
            if addr == -1 or addr in segment:
                continue
            segment.add(addr)
            reads += 1
            if len(segment) == per_window:
                segment, windows, last = set(), windows + 1, row
    return reads, windows, last


@settings(deadline=None, max_examples=40)
@given(h=st.integers(3, 12), fh=st.integers(1, 3), ch=st.integers(1, 3), nf=st.integers(1, 9),
       stride=st.integers(1, 3), rows=st.integers(2, 5), cols=st.integers(2, 5),
       dataflow=st.sampled_from(["os", "ws", "is"]), per_window=st.integers(0, 60))
def test_calc_stream_skips_repeats_exactly(h, fh, ch, nf, stride, rows, cols, dataflow, per_window):
    """The CALC cut, with its skips of repeated blocks, gives the reads, fills and last fill row of
    the cut of the whole demand matrix."""
    layer = (h, h, min(fh, h), min(fh, h), ch, nf, stride, stride)
    srcs = with_ofmap(layer, Memory(rows, cols, dataflow, 1, 1, 1, 0))
    sr, sc, t = roles(layer, dataflow)
    demands = demand_reference(srcs, dataflow, rows, cols, sr, sc, t)
    shape = np.array([rows, cols, sr, sc, t])
    flow = k.DATAFLOWS.index(dataflow)
    for op, distinct in ((0, _windows_apart(layer)), (1, True)):
        table = np.zeros(int(srcs[op].max()) + 1, dtype=np.int32)
        got = k._calc_stream(srcs[op], flow, op, shape, per_window, distinct, table)
        assert tuple(got) == calc_stream_reference(demands[op], per_window)


@pytest.mark.parametrize("h", [3, 4, 5, 7])
@pytest.mark.parametrize("fh", [1, 2, 3])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_windows_apart_exactly_when_no_ifmap_address_repeats(h, fh, stride):
    """_windows_apart (which lets the CALC cut skip) holds just when the im2col has no repeat."""
    for layer in ((h, h, fh, fh, 2, 3, stride, stride), (h, 5, fh, 1, 1, 2, stride, 1)):
        ifmap = sources(layer, Memory(2, 2, "ws", 1, 1, 1, 0))[0]
        valid = ifmap[ifmap >= 0]
        assert _windows_apart(layer) == (np.unique(valid).size == valid.size)
