"""Pareto fronts: the kernels against a brute-force reference, hand-made fronts, sweep records."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.errors import UsageError
from accelsim.kernels.pareto import _front_2d, _front_nd, front_mask, front_reference
from accelsim.sweep.pareto import pareto_front, parse_metrics


def points(dims: int):
    """Small integer coordinates, so that ties and duplicates are common."""
    row = st.lists(st.integers(0, 6), min_size=dims, max_size=dims)
    return st.lists(row, min_size=0, max_size=40)


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 4).flatmap(points))
def test_front_matches_brute_force(rows):
    values = np.array(rows, dtype=float).reshape(len(rows), -1 if rows else 1)
    assert front_mask(values).tolist() == front_reference(values.tolist())


@settings(deadline=None, max_examples=30)
@given(points(2))
def test_nd_cull_agrees_with_2d_sweep(rows):
    values = np.array(rows, dtype=float).reshape(len(rows), 2)
    order = np.lexsort(values.T[::-1]).astype(np.int64)
    sweep, cull = np.zeros(len(rows), bool), np.zeros(len(rows), bool)
    _front_2d(values, order, sweep)
    _front_nd(values, order, cull)
    assert sweep.tolist() == cull.tolist()


def test_staircase():
    values = [[1, 9], [2, 5], [3, 7], [4, 2], [5, 2], [6, 1], [9, 9]]
    assert front_mask(values).tolist() == [True, True, False, True, False, True, False]


def test_duplicates_all_stay_on_the_front():
    assert front_mask([[1, 2], [1, 2], [2, 1], [2, 2]]).tolist() == [True, True, True, False]


def test_one_metric_keeps_every_minimum():
    assert front_mask([[3], [1], [2], [1]]).tolist() == [False, True, False, True]


def test_three_metrics():
    values = [[1, 1, 9], [1, 9, 1], [9, 1, 1], [2, 2, 2], [2, 2, 9], [1, 1, 9]]
    assert front_mask(values).tolist() == [True, True, True, True, False, True]


def test_nan_is_rejected():
    with pytest.raises(ValueError, match="NaN"):
        front_mask([[1.0, float("nan")]])


def test_records_front_skips_errors_and_sorts_by_first_metric():
    records = [{"id": "a", "latency_s": 3.0, "energy_j": 1.0},
               {"id": "b", "latency_s": 1.0, "energy_j": 3.0},
               {"id": "c", "latency_s": 3.0, "energy_j": 3.0},
               {"id": "d", "error": "rejected"}]
    assert [r["id"] for r in pareto_front(records, ["latency_s", "energy_j"])] == ["b", "a"]


def test_minus_prefix_maximises():
    records = [{"id": "a", "latency_s": 1.0, "throughput": 10.0},
               {"id": "b", "latency_s": 2.0, "throughput": 20.0},
               {"id": "c", "latency_s": 2.0, "throughput": 5.0}]
    front = pareto_front(records, parse_metrics("latency_s,-throughput"))
    assert [r["id"] for r in front] == ["a", "b"]


def test_missing_metric_names_the_numeric_fields():
    with pytest.raises(UsageError, match="'area_mm2' is missing.*latency_s"):
        pareto_front([{"id": "a", "latency_s": 1.0, "area_mm2": None}], ["latency_s", "area_mm2"])


def test_metrics_must_not_be_empty():
    with pytest.raises(UsageError):
        parse_metrics(" , ")
