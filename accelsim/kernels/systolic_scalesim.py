"""SCALE-Sim v2.0.2's memory system, replayed on its own demand streams.

A layer is SCALE-Sim's three address matrices (ifmap: P x K im2col addresses, -1 where a window
leaves the input; filter: K x N; ofmap: P x N). Each dataflow cuts them into folds (column folds
outermost) and turns every fold into a demand matrix per operand: one row per cycle, a stream
operand skewed one cycle per column, a stationary block flipped; the three have the same rows.
`demand_row` gives one row of one fold, exactly as SCALE-Sim's systolic_compute_{os,ws,is} build it.

The rows are served in order, row i at cycle i + stalls so far; a row stalls by the largest of
the three buffers' delays (SCALE-Sim's double_buffered_scratchpad):
- CALC (InterfaceBandwidth: CALC, read_buffer_estimate_bw): never stalls. Each new address (not in
  the current set nor the active window of sets) joins a set of floor(SRAM words / 100) addresses;
  all 50 sets of a window being filled, the window moves on. DRAM reads count the new addresses;
  prefetch timing gives the DRAM start and stop cycles.
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

from accelsim.kernels._jit import njit

OS, WS, IS = 0, 1, 2
DATAFLOWS = ("os", "ws", "is")
IFMAP, FILTER, OFMAP = 0, 1, 2
SETS_PER_BUFFER = 100        # SCALE-Sim splits each read buffer into 100 sets ...
WINDOW_SETS = 50             # ... half of them active (active_buf_frac 0.5)
CALC_BANDWIDTH = 10          # words per cycle of a CALC read buffer's first prefetch
# report columns of `simulate`
(TOTAL, STALLS, IF_SRAM_START, IF_SRAM_STOP, F_SRAM_START, F_SRAM_STOP, O_SRAM_START, O_SRAM_STOP,
 IF_DRAM_START, IF_DRAM_STOP, IF_DRAM, F_DRAM_START, F_DRAM_STOP, F_DRAM, O_DRAM_START, O_DRAM_STOP,
 O_DRAM) = range(17)
# read-buffer state (int64 array)
(R_CUR, R_ELEMS, R_START, R_END, R_DONE, R_SEEN, R_FIRST, R_LAST_START, R_LAST_END, R_ACCESS,
 R_TRACE_FIRST, R_TRACE_LAST, R_TRACED, R_ITEMS, R_LINES, R_ACTIVE, R_PREFETCH, R_PF_LINES, R_BW,
 R_LAST_PF) = range(20)
# write-buffer state
(W_FREE, W_LINE, W_HEAD, W_TAIL, W_DRAIN_END, W_ACCESS, W_FIRST, W_LAST, W_TRACED, W_TOTAL,
 W_DRAIN, W_BW, W_EVER) = range(13)


@njit
def _ceil_div(a, b):
    """Integer ceiling division for positive int64."""
    return (a + b - 1) // b


@njit
def fold_spec(dataflow, operand, fc, fr, rows, cols, sr, sc, t):
    """How one operand's demand of fold (fc, fr) is cut from its source matrix:
    (row0, col0, height, used height, used width, prefix rows, suffix rows, flip, skew, width)."""
    used_r, used_c = min(rows, sr - fr * rows), min(cols, sc - fc * cols)
    block = rows + cols + t - 2
    if dataflow == WS:
        if operand == IFMAP:
            return 0, fr * rows, t, t, used_r, rows, cols - 1, 0, 1, rows
        if operand == FILTER:
            return fr * rows, fc * cols, rows, used_r, used_c, 0, block, 1, 0, cols
        return 0, fc * cols, t, t, used_c, 2 * rows - 1, 0, 0, 1, cols
    if dataflow == OS:
        if operand == IFMAP:
            return 0, fr * rows, t, t, used_r, 0, cols - 1, 0, 1, rows
        if operand == FILTER:
            return 0, fc * cols, t, t, used_c, 0, rows - 1, 0, 1, cols
        return fr * rows, fc * cols, rows, used_r, used_c, t - 1, 0, 1, 1, cols
    if operand == IFMAP:
        return fr * rows, fc * cols, rows, used_r, used_c, 0, block, 1, 0, cols
    if operand == FILTER:
        return 0, fr * rows, t, t, used_r, rows, cols - 1, 0, 1, rows
    return 0, fc * cols, t, t, used_c, 2 * rows - 1, 0, 0, 1, cols


@njit
def fold_rows(dataflow, rows, cols, t):
    """Demand rows (cycles) of one fold."""
    return rows + cols + t - 2 if dataflow == OS else 2 * rows + cols + t - 2


@njit
def demand_row(src, spec, r, out):
    """Row r of one fold's demand matrix into out[:width] (-1: no request)."""
    row0, col0, height, used_h, used_w, pre, _, flip, skew, width = spec
    for c in range(width):
        q = r - c if skew else r
        q -= pre
        out[c] = -1
        if 0 <= q < height and c < used_w:
            i = height - 1 - q if flip else q
            if i < used_h:
                out[c] = src[row0 + i, col0 + c]


@njit
def _calc_trace(state, start, stop):
    """Record a CALC prefetch's DRAM trace rows, issued start..stop, served a cycle later."""
    if not state[R_TRACED]:
        state[R_TRACE_FIRST] = start + 1
        state[R_TRACED] = 1
    state[R_TRACE_LAST] = stop + 1


@njit
def _calc_read(state, last_set, addr, cycle):
    """One address through a CALC read buffer (read_buffer_estimate_bw.manage_prefetches)."""
    seen = last_set[addr]
    if seen >= state[R_START] and seen >= 0:
        return                                   # in the active window or the current set
    last_set[addr] = state[R_CUR]
    state[R_ACCESS] += 1
    state[R_ELEMS] += 1
    items = state[R_ITEMS]
    if state[R_ELEMS] != items:
        return
    state[R_ELEMS] = 0
    state[R_CUR] += 1
    if state[R_CUR] != state[R_END] + 1:
        return
    if not state[R_DONE]:
        state[R_LAST_END] = state[R_FIRST] - 2
        needed = _ceil_div(WINDOW_SETS * items, CALC_BANDWIDTH)
        state[R_LAST_START] = state[R_LAST_END] - needed + 1
        state[R_DONE] = 1
    _calc_trace(state, state[R_LAST_START], state[R_LAST_END])
    state[R_START] += WINDOW_SETS
    state[R_END] += WINDOW_SETS
    state[R_LAST_START] = state[R_LAST_END] + 1
    state[R_LAST_END] = cycle


@njit
def _calc_finish(state):
    """The last prefetches of a CALC read buffer (complete_all_prefetches)."""
    if state[R_ELEMS] == 0:
        state[R_CUR] -= 1
    if not state[R_DONE]:
        needed = _ceil_div((state[R_CUR] + 1) * state[R_ITEMS], CALC_BANDWIDTH)
        _calc_trace(state, -2 - needed + 1, -2)
    else:
        _calc_trace(state, state[R_LAST_START], state[R_LAST_END])


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
def _close_line(state, fills):
    """Append the current (possibly partial) line to the buffer's trace."""
    if state[W_TAIL] - state[W_HEAD] >= fills.size:
        raise ValueError("ofmap write-buffer trace overflow")
    fills[state[W_TAIL] % fills.size] = state[W_LINE]
    state[W_TAIL] += 1
    state[W_LINE] = 0
    state[W_EVER] = 1


@njit
def _write(state, fills, cycle):
    """One ofmap word into the write buffer at `cycle`: the cycle it is taken (service_writes)."""
    state[W_LINE] += 1
    state[W_FREE] -= 1
    if state[W_LINE] == state[W_BW]:
        _close_line(state, fills)
    if cycle < state[W_DRAIN_END]:
        if state[W_FREE] <= 0:
            cycle = state[W_DRAIN_END]
    elif state[W_FREE] < state[W_TOTAL] - state[W_DRAIN]:
        if state[W_LINE] != 0:
            _close_line(state, fills)
        state[W_DRAIN_END] = _drain(state, fills, cycle)
    return cycle


@njit
def _flush(state, fills, cycle):
    """Drain everything left once the layer's last row is written (empty_all_buffers)."""
    if state[W_LINE] != 0:
        _close_line(state, fills)
    while state[W_TAIL] > state[W_HEAD]:
        state[W_DRAIN_END] = _drain(state, fills, cycle)
        cycle = state[W_DRAIN_END] + 1


@njit
def simulate(ifmap_src, filter_src, ofmap_src, shape, dataflow, user, reads, last_sets, indexes,
             sets, write, fills):
    """Serve one layer's demand rows; the report row (see the column constants), int64.

    Sources hold addresses relative to each operand's lowest (-1: none). shape: [rows, cols, Sr, Sc,
    T]; reads: (2, 20) read-buffer states; last_sets / indexes, sets: per read buffer, CALC's latest
    set of each address / USER's CSR of the sets holding it; write, fills: the ofmap buffer's state
    and its ring of line fills.
    """
    rows, cols, sr, sc, t = shape
    srcs = (ifmap_src, filter_src, ofmap_src)
    out = np.zeros(17, dtype=np.int64)
    sram = np.full((3, 2), np.iinfo(np.int64).min)
    line = np.empty(max(rows, cols), dtype=np.int64)
    served = np.zeros(3, dtype=np.int64)
    stalls = 0
    i = 0
    for fc in range(_ceil_div(sc, cols)):
        for fr in range(_ceil_div(sr, rows)):
            specs = [fold_spec(dataflow, op, fc, fr, rows, cols, sr, sc, t) for op in range(3)]
            for r in range(fold_rows(dataflow, rows, cols, t)):
                cycle = i + stalls
                delay = np.int64(-1)
                for op in range(3):
                    demand_row(srcs[op], specs[op], r, line)
                    width = specs[op][9]
                    busy = False
                    take = cycle
                    op_delay = np.int64(0) if op < 2 else np.int64(-1)
                    for c in range(width):
                        addr = line[c]
                        if addr == -1:
                            continue
                        busy = True
                        if op == OFMAP:
                            take = _write(write, fills, take)
                        elif user:
                            if _user_read(reads[op], indexes[op], sets[op], addr):
                                op_delay = reads[op][R_LAST_PF] - cycle - 1
                        else:
                            state = reads[op]
                            if not state[R_SEEN]:
                                state[R_SEEN], state[R_FIRST] = 1, cycle
                            _calc_read(state, last_sets[op], addr, cycle)
                    if op == OFMAP:
                        op_delay = take - cycle - 1
                        served[op] = take
                    else:
                        served[op] = cycle + 1 + op_delay
                    if busy:
                        if sram[op, 0] == np.iinfo(np.int64).min:
                            sram[op, 0] = served[op]
                        sram[op, 1] = served[op]
                    delay = max(delay, op_delay)
                stalls += delay
                i += 1
    if not user:
        _calc_finish(reads[0])
        _calc_finish(reads[1])
    _flush(write, fills, served[OFMAP])
    out[TOTAL], out[STALLS] = served[OFMAP], stalls
    out[IF_SRAM_START:O_SRAM_STOP + 1] = sram.ravel()
    for op, col in ((0, IF_DRAM_START), (1, F_DRAM_START)):
        out[col], out[col + 1], out[col + 2] = (reads[op][R_TRACE_FIRST], reads[op][R_TRACE_LAST],
                                                reads[op][R_ACCESS])
    out[O_DRAM_START], out[O_DRAM_STOP], out[O_DRAM] = write[W_FIRST], write[W_LAST], write[W_ACCESS]
    return out
