"""Systolic kernels against their plain-Python references, big-integer closed forms and bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.kernels import systolic as kernel

small = st.integers(1, 12)
dataflows = st.integers(0, 2)


def closed_form(m, n, k, rows, cols, dataflow):
    """README's formula in Python integers (no overflow)."""
    sr, sc, t = [(k, n, m), (m, n, k), (k, m, n)][dataflow]
    fold = rows + cols + t - 2 if dataflow == kernel.OS else 2 * rows + cols + t - 2
    return -(-sr // rows) * -(-sc // cols) * fold - 1


@settings(deadline=None, max_examples=150)
@given(m=small, n=small, k=small, count=st.integers(1, 4), rows=st.integers(1, 4),
       cols=st.integers(1, 4), dataflow=dataflows, arrays=st.integers(1, 9))
def test_cycles_match_reference(m, n, k, count, rows, cols, dataflow, arrays):
    cycles, util = kernel.compute_cycles([m, n, k, count], [rows, cols, dataflow, arrays])
    assert cycles[0, 0] == kernel.cycles_reference(m, n, k, count, rows, cols, dataflow, arrays)
    # SCALE-Sim's "- 1" lets a 1x1 os array (fold = T) claim more than one MAC per cycle
    assert 0 < util[0, 0] <= 1 or rows == cols == 1 and dataflow == kernel.OS


@settings(deadline=None, max_examples=200)
@given(m=small, n=small, k=small, count=st.integers(1, 3), rows=st.integers(1, 4),
       cols=st.integers(1, 4), dataflow=dataflows, arrays=st.integers(1, 6),
       loop_order=st.sampled_from([kernel.SCALESIM, kernel.BEST]),
       elem=st.sampled_from([0.5, 1.0, 2.0]), tensors=st.booleans(),
       srams=st.tuples(*[st.sampled_from([1.0, 8.0, 20.0, 50.0, 100.0, 1e9])] * 3),
       bytes_per_cycle=st.sampled_from([0.25, 2.0, 1e9, math.inf]))
def test_plan_matches_reference(m, n, k, count, rows, cols, dataflow, arrays, loop_order, elem,
                                tensors, srams, bytes_per_cycle):
    a_bytes = m * k * count * elem / (3 if tensors else 1)    # a conv's ifmap is smaller than im2col
    sizes = [a_bytes, k * n * count * elem, m * n * count * elem, elem]
    got = kernel.plan([m, n, k, count], sizes, [rows, cols, dataflow, arrays, loop_order],
                      [*srams, bytes_per_cycle])
    want = kernel.plan_reference(m, n, k, count, rows, cols, dataflow, arrays, *sizes, *srams,
                                 bytes_per_cycle, loop_order)
    assert got.cycles[0, 0] == want[0]
    assert abs(got.stall_cycles[0, 0] - want[1]) <= 1          # ceil of sums summed in another order
    totals = [got.dram_read[0, 0], got.dram_write[0, 0], got.sram_bytes[0, 0]]
    assert totals == pytest.approx(want[2:5])
    dram = got.operands[0, 0].reshape(2, 3, 2)[1]          # LEVELS x OPERANDS x DIRECTIONS
    assert list(dram[:, 0]) == pytest.approx(want[5])
    assert list(dram[:2, 1]) == [0.0, 0.0] and dram[2, 1] == got.dram_write[0, 0]
    assert got.operands[0, 0].sum() == pytest.approx(got.sram_bytes[0, 0] + dram.sum())


@settings(deadline=None, max_examples=40)
@given(m=st.integers(1, 3000), n=st.integers(1, 3000), k=st.integers(1, 5000),
       count=st.integers(1, 8), rows=st.integers(4, 256), cols=st.integers(4, 256),
       dataflow=dataflows, arrays=st.integers(1, 8),
       srams=st.tuples(*[st.floats(2.0**6, 2.0**24)] * 3), bytes_per_cycle=st.floats(0.5, 1e3))
def test_best_moves_no_more_bytes_than_scalesim_in_the_same_cycles(m, n, k, count, rows, cols,
                                                                    dataflow, arrays, srams,
                                                                    bytes_per_cycle):
    sizes = [m * k * count, k * n * count, m * n * count, 1.0]
    scalesim, best = (kernel.plan([m, n, k, count], sizes, [rows, cols, dataflow, arrays, order],
                                  [*srams, bytes_per_cycle])
                      for order in (kernel.SCALESIM, kernel.BEST))
    assert best.cycles[0, 0] == scalesim.cycles[0, 0]
    assert best.dram_read[0, 0] + best.dram_write[0, 0] \
        <= (scalesim.dram_read[0, 0] + scalesim.dram_write[0, 0]) * (1 + 1e-9)
    # never below compulsory traffic: every operand read and the output written once (a spill
    # can still win: re-reading a filter that does not fit may cost more than the partial sums)
    assert best.dram_read[0, 0] >= (sizes[0] + sizes[1]) * (1 - 1e-9)
    assert best.dram_write[0, 0] >= sizes[2] * (1 - 1e-9)


@settings(deadline=None, max_examples=100)
@given(m=st.integers(1, 2**30), n=st.integers(1, 2**30), k=st.integers(1, 2**30),
       rows=st.integers(1, 512), cols=st.integers(1, 512), dataflow=dataflows)
def test_large_layers_are_exact_in_int64(m, n, k, rows, cols, dataflow):
    want = closed_form(m, n, k, rows, cols, dataflow)
    if want > 2**62:
        with pytest.raises(OverflowError):
            kernel.compute_cycles([m, n, k, 1], [rows, cols, dataflow, 1])
    else:
        assert int(kernel.compute_cycles([m, n, k, 1], [rows, cols, dataflow, 1])[0][0, 0]) == want


def test_grid_is_every_layer_on_every_design():
    layers = [[12100, 64, 147, 1], [49, 2048, 512, 1], [1, 1000, 2048, 3]]
    designs = [[32, 32, 0, 1], [8, 128, 1, 1], [128, 128, 2, 8]]
    cycles, util = kernel.compute_cycles(layers, designs)
    assert cycles.shape == util.shape == (3, 3) and cycles.dtype == np.int64
    for i, layer in enumerate(layers):
        for j, design in enumerate(designs):
            assert cycles[i, j] == kernel.cycles_reference(*layer, *design)
            assert util[i, j] == pytest.approx(
                math.prod(layer) / (cycles[i, j] * design[0] * design[1] * design[3]))


def test_utilisation_of_one_full_fold():
    # ws, 4x4 array, K = N = 4, P = 100: 100 * 16 MACs in 2*4 + 4 + 100 - 2 - 1 = 109 cycles.
    _, util = kernel.compute_cycles([100, 4, 4, 1], [4, 4, kernel.WS, 1])
    assert util[0, 0] == pytest.approx(100 * 16 / (109 * 16))


def test_a_layer_of_zero_cycles_has_finite_utilisation():
    # os, 1x1 array, one MAC: fold = 1 + 1 + 1 - 2 = 1 cycle, SCALE-Sim reports 1 - 1 = 0.
    cycles, util = kernel.compute_cycles([1, 1, 1, 1], [1, 1, kernel.OS, 1])
    assert cycles[0, 0] == 0 and util[0, 0] == 1.0


@pytest.mark.parametrize("layers, designs", [
    ([0, 1, 1, 1], [4, 4, 0, 1]),
    ([1, 1, 1, 1], [4, 4, 3, 1]),
    ([1, 1, 1, 1], [4, 0, 0, 1]),
    ([[1, 1, 1]], [4, 4, 0, 1]),
    ([1, 1, 1, 1], [4, 4, 0, 1, 2]),
])
def test_bad_tables_are_rejected(layers, designs):
    with pytest.raises(ValueError):
        kernel.compute_cycles(layers, designs)


def test_stalls_past_int64_raise():
    with pytest.raises(OverflowError):
        kernel.plan([4, 4, 4, 1], [16, 16, 16, 1], [4, 4, 0, 1], [64, 64, 64, 1e-30])


def test_plan_rejects_zero_bandwidth():
    with pytest.raises(ValueError):
        kernel.plan([4, 4, 4, 1], [16, 16, 16, 1], [4, 4, 0, 1], [64, 64, 64, 0])
