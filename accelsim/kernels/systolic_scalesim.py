"""SCALE-Sim v2.0.2's memory system, replayed on its own demand streams.

A layer is SCALE-Sim's three address matrices (ifmap: P x K im2col addresses, -1 where a window
leaves the input; filter: K x N; ofmap: P x N). Each dataflow cuts them into folds (column folds
outermost) and turns every fold into a demand matrix per operand: one row per cycle, a stream
operand skewed one cycle per column, a stationary block flipped; the three have the same rows.
`row_span` gives where one row of one fold falls on its source, exactly as SCALE-Sim's
systolic_compute_{os,ws,is} build it; the kernels walk the sources directly, row by row.

The rows are served in order, row i at cycle i + stalls so far; a row stalls by the largest of
the three buffers' delays (SCALE-Sim's double_buffered_scratchpad):
- CALC (InterfaceBandwidth: CALC, read_buffer_estimate_bw): reads never stall. Each new address
  (not in the current set nor the active window of sets) joins a set of floor(SRAM words / 100)
  addresses; all 50 sets of a window being filled, the window moves on. That is a greedy cut of
  the operand's stream into segments of 50 sets' worth of distinct addresses: DRAM reads count the
  distinct addresses of every segment, and the rows where segments fill and the first row give
  the DRAM start and stop cycles. Only the ofmap buffer can stall, so it is replayed first and each
  read operand then separately.
- USER (read_buffer): the operand's prefetch matrix, in SCALE-Sim's order, is cut into
  ceil(SRAM words / 100)-address sets; the active window holds half the buffer's sets. A demanded
  address outside the window moves it on by a prefetch of ceil(half the buffer / bandwidth) lines,
  chained one after another from cycle -1 ((lines + 1) cycles each); the row is then served when the
  last prefetch lands. DRAM reads count every requested line at full width.
- The ofmap buffer (write_buffer) fills lines of `bandwidth` words; once half full it drains
  ceil(half / bandwidth) lines, one per cycle, and a write meeting a full buffer mid-drain waits.
All counts are in words (SCALE-Sim's word is one byte).
"""

from __future__ import annotations

import numpy as np

from accelsim.kernels._aot import aot
from accelsim.kernels._jit import njit

OS, WS, IS = 0, 1, 2
DATAFLOWS = ("os", "ws", "is")
IFMAP, FILTER, OFMAP = 0, 1, 2
SETS_PER_BUFFER = 100        # SCALE-Sim splits each read buffer into 100 sets ...
WINDOW_SETS = 50             # ... half of them active (active_buf_frac 0.5)
CALC_BANDWIDTH = 10          # words per cycle of a CALC read buffer's first prefetch
# report columns of `simulate_calc` / `simulate_user`
(TOTAL, STALLS, IF_SRAM_START, IF_SRAM_STOP, F_SRAM_START, F_SRAM_STOP, O_SRAM_START, O_SRAM_STOP,
 IF_DRAM_START, IF_DRAM_STOP, IF_DRAM, F_DRAM_START, F_DRAM_STOP, F_DRAM, O_DRAM_START, O_DRAM_STOP,
 O_DRAM) = range(17)
# USER read-buffer state (int64 array)
(R_START, R_END, R_ACCESS, R_TRACE_FIRST, R_TRACE_LAST, R_LINES, R_ACTIVE, R_PREFETCH, R_PF_LINES,
 R_BW, R_LAST_PF) = range(11)
# write-buffer state
(W_FREE, W_LINE, W_HEAD, W_TAIL, W_DRAIN_END, W_ACCESS, W_FIRST, W_LAST, W_TRACED, W_TOTAL,
 W_DRAIN, W_BW) = range(12)


@njit
def _ceil_div(a, b):
    """Integer ceiling division for positive int64."""
    return (a + b - 1) // b


@njit
def fold_spec(dataflow, operand, fc, fr, rows, cols, sr, sc, t):
    """How one operand's demand of fold (fc, fr) is cut from its source matrix:
    (row0, col0, height, used height, used width, prefix rows, flip, skew, width)."""
    used_r, used_c = min(rows, sr - fr * rows), min(cols, sc - fc * cols)
    if dataflow == WS:
        if operand == IFMAP:
            return 0, fr * rows, t, t, used_r, rows, 0, 1, rows
        if operand == FILTER:
            return fr * rows, fc * cols, rows, used_r, used_c, 0, 1, 0, cols
        return 0, fc * cols, t, t, used_c, 2 * rows - 1, 0, 1, cols
    if dataflow == OS:
        if operand == IFMAP:
            return 0, fr * rows, t, t, used_r, 0, 0, 1, rows
        if operand == FILTER:
            return 0, fc * cols, t, t, used_c, 0, 0, 1, cols
        return fr * rows, fc * cols, rows, used_r, used_c, t - 1, 1, 1, cols
    if operand == IFMAP:
        return fr * rows, fc * cols, rows, used_r, used_c, 0, 1, 0, cols
    if operand == FILTER:
        return 0, fr * rows, t, t, used_r, rows, 0, 1, rows
    return 0, fc * cols, t, t, used_c, 2 * rows - 1, 0, 1, cols


@njit
def fold_rows(dataflow, rows, cols, t):
    """Demand rows (cycles) of one fold."""
    return rows + cols + t - 2 if dataflow == OS else 2 * rows + cols + t - 2


@njit
def row_span(spec, r):
    """Row r of one fold's demand on its source: columns lo..hi-1 (the others: no request) hold
    src[row0 + first + step * c, col0 + c]; (lo, hi, first, step)."""
    height, used_h, used_w, pre, flip, skew = spec[2], spec[3], spec[4], spec[5], spec[6], spec[7]
    q = r - pre                                   # the block row of column 0
    low_q = height - used_h if flip else 0       # block rows that fall on the source
    high_q = height - 1 if flip else used_h - 1
    first = height - 1 - q if flip else q
    if not skew:
        if low_q <= q <= high_q:
            return 0, used_w, first, 0
        return 0, 0, first, 0
    lo = max(0, q - high_q)
    return lo, max(lo, min(used_w, q - low_q + 1)), first, 1 if flip else -1


@njit
def _repeats(dataflow, operand, row_folds, col_folds):
    """How a read operand's demand repeats: (groups, folds per block, blocks per group). A stream
    operand's folds depend on one fold index only, so its stream is one block of folds repeated
    (os filter: each column fold's fold, row_folds times; the others: the row folds, col_folds
    times); a stationary operand's folds are all different."""
    if dataflow == OS and operand == FILTER:
        return col_folds, 1, row_folds
    if operand == (FILTER if dataflow == WS else IFMAP if dataflow == IS else -1):
        return 1, row_folds * col_folds, 1
    return 1, row_folds, col_folds


@njit
def _row_addresses(src, spec, r):
    """How many addresses row r of a fold's demand holds."""
    lo, hi, start, step = row_span(spec, r)
    held = 0
    for c in range(lo, hi):
        held += src[spec[0] + start + step * c, spec[1] + c] >= 0
    return held


@njit
def _busy_row(src, dataflow, operand, shape, backwards):
    """The first (or last) demand row of an operand that holds an address; -1: none."""
    rows, cols, sr, sc, t = shape[0], shape[1], shape[2], shape[3], shape[4]
    fold_n, row_folds = fold_rows(dataflow, rows, cols, t), _ceil_div(sr, rows)
    total = _ceil_div(sc, cols) * row_folds * fold_n
    for j in range(total):
        i = total - 1 - j if backwards else j
        fold, r = divmod(i, fold_n)
        spec = fold_spec(dataflow, operand, fold // row_folds, fold % row_folds, rows, cols, sr, sc,
                         t)
        if _row_addresses(src, spec, r):
            return i
    return -1


@njit
def _calc_stream(src, dataflow, operand, shape, per_window, distinct, segment_of):
    """One read operand's stream cut greedily into segments of `per_window` distinct addresses
    (segment_of: each address's latest segment, 0 at first; segments count from 1): (DRAM reads,
    segments filled, row of the last fill). Repeated blocks are skipped once the cut repeats: a block that reads nothing
    new ends its group; two fills at the same place of the block, `period` blocks apart, repeat
    every `period` blocks; a block of `distinct` addresses, at least a window of them, reads all
    of them new each time (none is still in the segment when it comes back), so its rows are only
    counted (a filter has an address everywhere) and its middle blocks skipped."""
    rows, cols, sr, sc, t = shape[0], shape[1], shape[2], shape[3], shape[4]
    row_folds, fold_n, width = _ceil_div(sr, rows), fold_rows(dataflow, rows, cols, t), max(rows,
                                                                                             cols)
    groups, block, repeats = _repeats(dataflow, operand, row_folds, _ceil_div(sc, cols))
    filled = reads = windows = 0
    segment = 1
    last_fill = -1
    for g in range(groups):
        fills = {-1: (0, 0)}                     # place in the block -> (block, windows) there
        region = src[:, g * cols:min(sc, (g + 1) * cols)] if groups > 1 else src
        fresh = distinct and (repeats == 1 or np.count_nonzero(region >= 0) >= per_window > 0)
        b = 0
        while b < repeats:
            before = reads
            for f in range(block):
                fc, fr = (g, 0) if groups > 1 else divmod(f, row_folds) if repeats == 1 else (0, f)
                spec = fold_spec(dataflow, operand, fc, fr, rows, cols, sr, sc, t)
                row0, col0 = spec[0], spec[1]
                for r in range(fold_n):
                    lo, hi, start, step = row_span(spec, r)
                    if fresh:
                        new = hi - lo if operand == FILTER else _row_addresses(src, spec, r)
                        reads += new
                        filled += new
                        if filled >= per_window > 0:
                            windows += filled // per_window
                            segment += filled // per_window
                            filled %= per_window
                            last_fill = ((g * repeats + b) * block + f) * fold_n + r
                        continue
                    for c in range(lo, hi):
                        addr = src[row0 + start + step * c, col0 + c]
                        if addr < 0 or segment_of[addr] == segment:
                            continue
                        segment_of[addr] = segment
                        reads += 1
                        filled += 1
                        if filled != per_window:
                            continue
                        segment += 1
                        filled = 0
                        windows += 1
                        last_fill = ((g * repeats + b) * block + f) * fold_n + r
                        place = (f * fold_n + r) * width + c
                        if place not in fills:
                            fills[place] = (b, windows)
                            continue
                        period, skipped = b - fills[place][0], windows - fills[place][1]
                        jumps = (repeats - 1 - b) // period
                        windows += jumps * skipped
                        segment += jumps * skipped
                        reads += jumps * skipped * per_window
                        b += jumps * period
                        last_fill += jumps * period * block * fold_n
                        fills.clear()
            if reads == before:
                b = repeats
            elif distinct and b == 0 and reads - before >= per_window > 0 and repeats > 2:
                skipped = filled + (repeats - 2) * (reads - before)
                windows += skipped // per_window
                segment += skipped // per_window
                filled = skipped % per_window
                reads += (repeats - 2) * (reads - before)
                b = repeats - 1
            else:
                b += 1
    return reads, windows, last_fill


@njit
def _drain(state, fills, start_cycle):
    """Write ceil(drain half / bandwidth) of the ofmap buffer's lines to DRAM, one per cycle."""
    lines = min(_ceil_div(state[W_DRAIN], state[W_BW]), state[W_TAIL] - state[W_HEAD])
    if lines == 0:
        return state[W_DRAIN_END]
    last = fills[(state[W_HEAD] + lines - 1) % fills.size]
    words = lines * state[W_BW] - (state[W_BW] - last)
    state[W_ACCESS] += words
    state[W_FREE] += words
    state[W_HEAD] += lines
    if not state[W_TRACED]:
        state[W_FIRST] = start_cycle
        state[W_TRACED] = 1
    state[W_LAST] = start_cycle + lines - 1
    return start_cycle + lines - 1


@njit
def _close_line(state, fills, words):
    """Append a (possibly partial) line of `words` to the buffer's trace."""
    if state[W_TAIL] - state[W_HEAD] >= fills.size:
        raise ValueError("ofmap write-buffer trace overflow")
    fills[state[W_TAIL] % fills.size] = words
    state[W_TAIL] += 1


@njit
def _write(state, fills, words, cycle):
    """`words` ofmap words into the write buffer at `cycle`, one at a time (service_writes): the
    cycle the last is taken."""
    free, line, drain_end = state[W_FREE], state[W_LINE], state[W_DRAIN_END]
    bandwidth, low = state[W_BW], state[W_TOTAL] - state[W_DRAIN]
    for _ in range(words):
        line += 1
        free -= 1
        if line == bandwidth:
            _close_line(state, fills, line)
            line = 0
        if cycle < drain_end:
            if free <= 0:
                cycle = drain_end
        elif free < low:
            if line != 0:
                _close_line(state, fills, line)
                line = 0
            state[W_FREE], state[W_DRAIN_END] = free, drain_end
            drain_end = _drain(state, fills, cycle)
            free = state[W_FREE]
    state[W_FREE], state[W_LINE], state[W_DRAIN_END] = free, line, drain_end
    return cycle


@njit
def _write_row(spec, r, state, fills, cycle):
    """Row r of a fold's ofmap demand (an address everywhere) into the write buffer: (any word
    written, the cycle the last is taken)."""
    lo, hi = row_span(spec, r)[:2]
    return hi > lo, _write(state, fills, hi - lo, cycle)


@njit
def _flush(state, fills, cycle):
    """Drain everything left once the layer's last row is written (empty_all_buffers)."""
    if state[W_LINE] != 0:
        _close_line(state, fills, state[W_LINE])
        state[W_LINE] = 0
    while state[W_TAIL] > state[W_HEAD]:
        state[W_DRAIN_END] = _drain(state, fills, cycle)
        cycle = state[W_DRAIN_END] + 1


@njit
def _in_window(sets, first, stop, state):
    """Whether an address held in sets[first:stop] lies in the active window of a USER buffer."""
    start, end = state[R_START], state[R_END]
    for k in range(first, stop):
        s = sets[k]
        if (start < end and start <= s < end) or (start >= end and (s >= start or s < end)):
            return True
    return False


@njit
def _user_read(state, index, sets, addr):
    """One address through a USER read buffer (read_buffer.service_reads): whether it prefetched."""
    first, stop = index[addr], index[addr + 1]
    if first == stop or _in_window(sets, first, stop, state):
        return False
    while not _in_window(sets, first, stop, state):
        state[R_START] = (state[R_START] + state[R_PREFETCH]) % state[R_LINES]
        state[R_END] = (state[R_START] + state[R_ACTIVE]) % state[R_LINES]
        state[R_ACCESS] += state[R_PF_LINES] * state[R_BW]
        state[R_LAST_PF] += state[R_PF_LINES] + 1
        state[R_TRACE_LAST] = state[R_LAST_PF]
    return True


@njit
def _user_row(src, spec, r, state, index, sets, cycle):
    """Row r of a fold's read demand through a USER buffer at `cycle`: (any address read, the
    row's delay from this operand)."""
    lo, hi, start, step = row_span(spec, r)
    busy = False
    delay = 0
    for c in range(lo, hi):
        addr = src[spec[0] + start + step * c, spec[1] + c]
        if addr >= 0:
            busy = True
            if _user_read(state, index, sets, addr):
                delay = state[R_LAST_PF] - cycle - 1
    return busy, delay


@njit
def _mark(sram, op, busy, served):
    """Note a busy row's serving cycle as the operand's SRAM start (first) and stop (latest)."""
    if busy:
        if sram[op, 0] == np.iinfo(np.int64).min:
            sram[op, 0] = served
        sram[op, 1] = served


@njit
def _report(total, stalls, sram, write):
    """The report row with the ofmap columns filled (read DRAM columns left for the caller)."""
    out = np.zeros(17, dtype=np.int64)
    out[TOTAL], out[STALLS] = total, stalls
    out[IF_SRAM_START:O_SRAM_STOP + 1] = sram.ravel()
    out[O_DRAM_START], out[O_DRAM_STOP], out[O_DRAM] = write[W_FIRST], write[W_LAST], write[W_ACCESS]
    return out


@aot("i8[::1](i4[:,::1], i4[:,::1], i8[::1], i8, i8[::1], i8[::1], i8[::1], i8[::1], i8[::1], "
     "i8[::1], i8[::1], i8[::1])")
def simulate_user(ifmap_src, filter_src, shape, dataflow, if_state, if_index, if_sets,
                  f_state, f_index, f_sets, write, fills):
    """Serve one layer's demand rows through USER read buffers; the report row (see the column
    constants), int64. The ifmap and filter sources hold addresses relative to each operand's
    lowest (-1: none); the ofmap is counted, not addressed. shape: [rows, cols, Sr, Sc, T]; *_state, *_index, *_sets: a read buffer's state and the CSR of
    the sets holding each address; write, fills: the ofmap buffer's state and its ring of fills."""
    rows, cols, sr, sc, t = shape[0], shape[1], shape[2], shape[3], shape[4]
    sram = np.full((3, 2), np.iinfo(np.int64).min)
    served = cycle = stalls = 0
    i = 0
    for fc in range(_ceil_div(sc, cols)):
        for fr in range(_ceil_div(sr, rows)):
            if_spec = fold_spec(dataflow, IFMAP, fc, fr, rows, cols, sr, sc, t)
            f_spec = fold_spec(dataflow, FILTER, fc, fr, rows, cols, sr, sc, t)
            o_spec = fold_spec(dataflow, OFMAP, fc, fr, rows, cols, sr, sc, t)
            for r in range(fold_rows(dataflow, rows, cols, t)):
                cycle = i + stalls
                busy, if_delay = _user_row(ifmap_src, if_spec, r, if_state, if_index, if_sets,
                                           cycle)
                _mark(sram, IFMAP, busy, cycle + 1 + if_delay)
                busy, f_delay = _user_row(filter_src, f_spec, r, f_state, f_index, f_sets, cycle)
                _mark(sram, FILTER, busy, cycle + 1 + f_delay)
                busy, served = _write_row(o_spec, r, write, fills, cycle)
                _mark(sram, OFMAP, busy, served)
                stalls += max(if_delay, f_delay, served - cycle - 1)
                i += 1
    _flush(write, fills, served)
    out = _report(served, stalls, sram, write)
    for state, col in ((if_state, IF_DRAM_START), (f_state, F_DRAM_START)):
        out[col], out[col + 1], out[col + 2] = state[R_TRACE_FIRST], state[R_TRACE_LAST], \
            state[R_ACCESS]
    return out


@njit
def _calc_dram(src, dataflow, operand, shape, items, distinct, segment_of, cycles, out, col):
    """A CALC read operand's DRAM start, stop and reads into out[col:col + 3]; its SRAM start and
    stop cycles: (start, stop)."""
    reads, windows, last_fill = _calc_stream(src, dataflow, operand, shape, WINDOW_SETS * items,
                                             distinct, segment_of)
    first, last = _busy_row(src, dataflow, operand, shape, False), _busy_row(src, dataflow, operand,
                                                                           shape, True)
    if windows:      # the first window's prefetch ends two cycles before the first read
        out[col] = cycles[first] - _ceil_div(WINDOW_SETS * items, CALC_BANDWIDTH)
        out[col + 1] = cycles[last_fill] + 1
    else:            # everything read fits one window, prefetched before cycle -1
        sets = _ceil_div(reads, items) if items else 0
        out[col], out[col + 1] = -_ceil_div(sets * items, CALC_BANDWIDTH), -1
    out[col + 2] = reads
    if first < 0:
        return np.iinfo(np.int64).min, np.iinfo(np.int64).min
    return cycles[first] + 1, cycles[last] + 1


@aot("i8[::1](i4[:,::1], i4[:,::1], i8[::1], i8, i8[::1], b1[::1], i4[::1], i4[::1], i8[::1], "
     "i8[::1])")
def simulate_calc(ifmap_src, filter_src, shape, dataflow, items, distinct,
                  if_segment_of, f_segment_of, write, fills):
    """Serve one layer's demand rows through CALC read buffers of `items` (ifmap, filter) words
    per set; the report row as simulate_user's. distinct: whether no address repeats within the
    (ifmap, filter) source; *_segment_of: 0 per relative address."""
    rows, cols, sr, sc, t = shape[0], shape[1], shape[2], shape[3], shape[4]
    n_rows = _ceil_div(sc, cols) * _ceil_div(sr, rows) * fold_rows(dataflow, rows, cols, t)
    cycles = np.empty(n_rows, dtype=np.int64)
    sram = np.full((3, 2), np.iinfo(np.int64).min)
    served = stalls = 0
    i = 0
    for fc in range(_ceil_div(sc, cols)):           # the ofmap first: only its buffer stalls
        for fr in range(_ceil_div(sr, rows)):
            spec = fold_spec(dataflow, OFMAP, fc, fr, rows, cols, sr, sc, t)
            for r in range(fold_rows(dataflow, rows, cols, t)):
                cycles[i] = i + stalls
                if r >= spec[5]:                    # prefix rows write nothing
                    busy, served = _write_row(spec, r, write, fills, cycles[i])
                    _mark(sram, OFMAP, busy, served)
                    stalls += max(0, served - cycles[i] - 1)
                i += 1
    _flush(write, fills, served)
    out = _report(served, stalls, sram, write)
    out[IF_SRAM_START], out[IF_SRAM_STOP] = _calc_dram(
        ifmap_src, dataflow, IFMAP, shape, items[0], distinct[0], if_segment_of, cycles, out,
        IF_DRAM_START)
    out[F_SRAM_START], out[F_SRAM_STOP] = _calc_dram(
        filter_src, dataflow, FILTER, shape, items[1], distinct[1], f_segment_of, cycles, out,
        F_DRAM_START)
    return out
