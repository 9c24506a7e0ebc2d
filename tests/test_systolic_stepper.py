"""A cycle-stepping systolic array proves SCALE-Sim's closed form for every dataflow.

The stepper moves every value one PE per cycle and decides nothing from the closed form. Its only
inputs are the edge schedules SCALE-Sim's demand matrices encode: in ws/is the stationary tile is
shifted in from the top, bottom row first, one row per cycle (R cycles), then stream value t enters
row i from the left at cycle R + t + i (the skew), while partial sums move down and leave the bottom
row; in os, row i receives its operand at cycle t + i and column j at cycle t + j, and a PE's output
is produced with its last MAC. Folds run back to back, column folds outermost, on the full R x C
array with zero padding (SCALE-Sim times padded lanes like used ones). The stepper also checks that
the numbers it computes equal A @ B, so the schedule is a working one.

Off-by-one findings: (1) the closed form is the index, counted from 0, of the cycle in which the
last output appears, one less than the cycles the layer occupies; the "- 1" is once per layer, never
per fold. (2) in a partial last fold the last *real* output appears (C - used columns) cycles before
the padded one SCALE-Sim waits for. (3) os counts no drain: outputs shifted out through the array
edge would add cycles per fold that SCALE-Sim does not charge.
"""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.kernels import systolic as kernel


def stationary_fold(tile, stream, rows, cols):
    """Step one ws/is fold: `tile` (rows x cols) is pinned, `stream` (T x rows) flows right.

    Returns the T x cols outputs and the cycle (from the fold's first) of the last one to leave.
    """
    steps = len(stream)
    weight = [[0] * cols for _ in range(rows)]
    right = [[None] * cols for _ in range(rows)]      # (t, value) each PE passes to its right
    down = [[None] * cols for _ in range(rows)]       # (t, partial sum) each PE passes down
    out = [[None] * cols for _ in range(steps)]
    waiting, cycle = steps * cols, 0
    while True:
        if cycle < rows:                              # preload: shift the tile down a row
            weight = [list(tile[rows - 1 - cycle])] + weight[:-1]
        else:
            new_right = [[None] * cols for _ in range(rows)]
            new_down = [[None] * cols for _ in range(rows)]
            for i in range(rows):
                t = cycle - rows - i
                new_right[i][0] = (t, stream[t][i]) if 0 <= t < steps else None
                new_right[i][1:] = right[i][:-1]
                for j in range(cols):
                    if new_right[i][j] is None:
                        continue
                    t, x = new_right[i][j]
                    above = down[i - 1][j] if i else (t, 0)
                    assert above is not None and above[0] == t, "stream and partial sum out of step"
                    new_down[i][j] = (t, above[1] + x * weight[i][j])
            right, down = new_right, new_down
            for j, leaving in enumerate(down[rows - 1]):
                if leaving is not None:
                    out[leaving[0]][j] = leaving[1]
                    waiting -= 1
            if waiting == 0:
                return out, cycle
        cycle += 1


def output_stationary_fold(left, top, rows, cols):
    """Step one os fold: left[i][t] flows right along row i, top[t][j] flows down column j.

    Returns the rows x cols outputs and the cycle (from the fold's first) of the last one produced.
    """
    steps = len(top)
    right = [[None] * cols for _ in range(rows)]
    down = [[None] * cols for _ in range(rows)]
    acc = [[0] * cols for _ in range(rows)]
    macs = [[0] * cols for _ in range(rows)]
    waiting, cycle = rows * cols, 0
    while True:
        new_right = [[None] * cols for _ in range(rows)]
        new_down = [[None] * cols for _ in range(rows)]
        for i in range(rows):
            t = cycle - i
            new_right[i][0] = (t, left[i][t]) if 0 <= t < steps else None
            new_right[i][1:] = right[i][:-1]
        for j in range(cols):
            t = cycle - j
            new_down[0][j] = (t, top[t][j]) if 0 <= t < steps else None
            for i in range(1, rows):
                new_down[i][j] = down[i - 1][j]
        right, down = new_right, new_down
        for i in range(rows):
            for j in range(cols):
                if right[i][j] is None and down[i][j] is None:
                    continue
                assert None not in (right[i][j], down[i][j]) and right[i][j][0] == down[i][j][0], \
                    "operands out of step"
                acc[i][j] += right[i][j][1] * down[i][j][1]
                macs[i][j] += 1
                waiting -= macs[i][j] == steps
        if waiting == 0:
            return acc, cycle
        cycle += 1


def padded(matrix, r0, c0, rows, cols):
    """The rows x cols block of `matrix` at (r0, c0), zero-padded past its edges."""
    block = np.zeros((rows, cols), dtype=np.int64)
    part = matrix[r0:r0 + rows, c0:c0 + cols]
    block[:part.shape[0], :part.shape[1]] = part
    return block


def step_layer(a, b, rows, cols, dataflow):
    """Run A @ B fold by fold on the stepper; return the product and the last output's cycle."""
    m, k = a.shape
    n = b.shape[1]
    product = np.zeros((m, n), dtype=np.int64)
    sr, sc = {"ws": (k, n), "os": (m, n), "is": (k, m)}[dataflow]
    start, last = 0, -1
    for c0 in range(0, sc, cols):
        for r0 in range(0, sr, rows):
            if dataflow == "ws":
                out, end = stationary_fold(padded(b, r0, c0, rows, cols), padded(a, 0, r0, m, rows),
                                           rows, cols)
                product[:, c0:c0 + cols] += np.array(out)[:, :n - c0]
            elif dataflow == "is":
                out, end = stationary_fold(padded(a.T, r0, c0, rows, cols),
                                           padded(b.T, 0, r0, n, rows), rows, cols)
                product[c0:c0 + cols, :] += np.array(out).T[:m - c0, :]
            else:
                out, end = output_stationary_fold(padded(a, r0, 0, rows, k), padded(b, 0, c0, k, cols),
                                                  rows, cols)
                product[r0:r0 + rows, c0:c0 + cols] = np.array(out)[:m - r0, :n - c0]
            last = start + end
            start = last + 1
    return product, last


def closed_form(m, n, k, rows, cols, dataflow):
    """The README's formula, written out for one array."""
    sr, sc, t = {"ws": (k, n, m), "os": (m, n, k), "is": (k, m, n)}[dataflow]
    fold = (rows + cols + t - 2) if dataflow == "os" else (2 * rows + cols + t - 2)
    return math.ceil(sr / rows) * math.ceil(sc / cols) * fold - 1


dims = st.integers(1, 9)
array_sides = st.integers(2, 4)


@settings(deadline=None, max_examples=60)
@given(m=dims, n=dims, k=dims, rows=array_sides, cols=array_sides,
       dataflow=st.sampled_from(kernel.DATAFLOWS), seed=st.integers(0, 2**16))
def test_stepper_matches_closed_form_and_kernel(m, n, k, rows, cols, dataflow, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, size=(m, k))
    b = rng.integers(-4, 5, size=(k, n))
    product, last = step_layer(a, b, rows, cols, dataflow)
    assert (product == a @ b).all()
    assert last == closed_form(m, n, k, rows, cols, dataflow)
    cycles, _ = kernel.compute_cycles([m, n, k, 1], [rows, cols, kernel.DATAFLOWS.index(dataflow), 1])
    assert cycles[0, 0] == last


def test_single_fold_by_hand():
    # ws, 2x2 array, 3 stream values: 2 cycles of preload, then the last value enters row 1 at cycle
    # 2 + 2 + 1 = 5, reaches column 1 at 6 and leaves the bottom row in that cycle.
    _, last = step_layer(np.ones((3, 2), dtype=np.int64), np.ones((2, 2), dtype=np.int64), 2, 2, "ws")
    assert last == 6
    # os, 2x2 array, K = 3: the last pair meets in PE (1, 1) at cycle 2 + 1 + 1 = 4.
    _, last = step_layer(np.ones((2, 3), dtype=np.int64), np.ones((3, 2), dtype=np.int64), 2, 2, "os")
    assert last == 4
