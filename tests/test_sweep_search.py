"""Sweep search strategies, constraints, hypervolume and workload mixes."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accelsim
from accelsim.errors import ConfigError, UsageError
from accelsim.sweep import load_space, run_sweep
from accelsim.sweep.constraints import flag, parse_constraint, with_power
from accelsim.sweep.hypervolume import front_hypervolume, hypervolume
from accelsim.sweep.pareto import front_summary, pareto_front
from accelsim.sweep.search import Range, draw
from clitools import invoke

ROOT = Path(__file__).resolve().parents[1]
ALEXNET_CSV = ROOT / "accelsim" / "workloads" / "scalesim" / "alexnet.csv"


def write_space(tmp_path: Path, body: str, head: str = f"workload: {ALEXNET_CSV}\n") -> Path:
    """A space file on scalesim_32x32: `head` (the workload lines), then `body`."""
    path = tmp_path / "space.yaml"
    path.write_text(f"{head}device: scalesim_32x32\n{body}")
    return path


# ---- strategies ---------------------------------------------------------------------------------

def test_lhs_puts_one_point_in_every_stratum_of_every_axis():
    n = 50
    points = draw((("a", Range(0.0, 1.0)), ("b", Range(0.0, 1.0))), "lhs", n, seed=7)
    for key in ("a", "b"):
        strata = sorted(int(point[key] * n) for point in points)
        assert strata == list(range(n))


def test_lhs_on_a_list_picks_each_value_equally_often():
    points = draw((("rows", (8, 16, 32, 64)), ("x", Range(0.0, 1.0))), "lhs", 40, seed=1)
    counts = {value: sum(point["rows"] == value for point in points) for value in (8, 16, 32, 64)}
    assert counts == {8: 10, 16: 10, 32: 10, 64: 10}


def test_draws_are_seeded_inside_their_ranges_and_log_ranges_spread_by_decade():
    axes = (("rows", Range(8, 256, log=True, integer=True)), ("bw", Range(1e9, 1e12, log=True)))
    first = draw(axes, "random", 2000, seed=3)
    assert first == draw(axes, "random", 2000, seed=3) != draw(axes, "random", 2000, seed=4)
    assert all(isinstance(p["rows"], int) and 8 <= p["rows"] <= 256 for p in first)
    assert all(1e9 <= p["bw"] <= 1e12 for p in first)
    decades = np.histogram(np.log10([p["bw"] for p in first]), bins=[9, 10, 11, 12])[0]
    assert all(abs(count - 2000 / 3) < 100 for count in decades)     # log-uniform: 1/3 each


def test_space_search_keys_records_and_refusals(tmp_path):
    body = "search: lhs\nsample: 6\nseed: 2\nparameters:\n  array.rows: {from: 8, to: 64}\n"
    space = load_space(write_space(tmp_path, body))
    assert (space.search, space.runs, space.origin) == ("lhs", 6, {"search": "lhs", "seed": 2})
    records = run_sweep(space)
    assert len(records) == len({r["point"]["array.rows"] for r in records}) == 6
    assert all(r["search"] == "lhs" and r["seed"] == 2 and 8 <= r["point"]["array.rows"] <= 64
               for r in records)
    assert load_space(write_space(tmp_path, body), search="random", seed=5).origin == \
        {"search": "random", "seed": 5}
    with pytest.raises(ConfigError, match="continuous range"):
        load_space(write_space(tmp_path, "parameters:\n  array.rows: {from: 8, to: 64}\n"))
    with pytest.raises(ConfigError, match="search lhs needs sample"):
        load_space(write_space(tmp_path, "search: lhs\nparameters:\n  array.rows: [8]\n"))


# ---- constraints --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, metric, op, bound", [
    ("area_mm2 <= 800", "area_mm2", "<=", 800.0),
    ("power_w<700 W", "power_w", "<", 700.0),
    ("latency_s >= 2 ms", "latency_s", ">=", 2e-3),
    ("peak_memory_bytes == 16 GiB", "peak_memory_bytes", "==", 16 * 2.0**30),
    ("  fits_in_memory ", "fits_in_memory", None, None),
])
def test_constraints_parse_with_units(text, metric, op, bound):
    parsed = parse_constraint(text)
    assert (parsed.metric, parsed.op, parsed.bound) == (metric, op, bound)


@pytest.mark.parametrize("text", ["area_mm2 <= lots", "__import__('os').system('x')",
                                  "area_mm2 ~ 3", "800 >= area_mm2", "area_mm2 <= 1e999", "", 7,
                                  "power_w <= 3 GHz"])
def test_bad_constraint_is_refused_with_its_key(text):
    with pytest.raises(UsageError, match="--constraint"):
        parse_constraint(text, key="--constraint")


def test_flagged_records_stay_but_leave_the_front():
    records = [{"id": str(i), "point": {}, "latency_s": lat, "energy_j": e, "area_mm2": a,
                "fits_in_memory": True} for i, (lat, e, a) in enumerate([(1, 4, 900), (2, 2, 500),
                                                                        (4, 1, 100)])]
    rules = [parse_constraint("area_mm2 <= 800"), parse_constraint("power_w <= 1.5 W")]
    flagged = [flag(with_power(record), rules) for record in records]
    assert [r["violated"] for r in flagged] == [["area_mm2 <= 800", "power_w <= 1.5 W"], [], []]
    assert [r["feasible"] for r in flagged] == [False, True, True]
    assert [r["id"] for r in pareto_front(flagged, ["latency_s", "energy_j"])] == ["1", "2"]
    assert "violated" not in flag(flagged[0], [])          # a constraint dropped on resume


def test_constraint_on_a_missing_metric_names_it():
    with pytest.raises(UsageError, match="metric 'nope' is missing"):
        flag({"id": "x", "point": {}, "latency_s": 1.0}, [parse_constraint("nope <= 1")])


# ---- hypervolume --------------------------------------------------------------------------------

def test_hypervolume_closed_forms():
    assert hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == 6          # staircase: 1 + 2 + 3
    assert hypervolume([[1, 1, 1]], [2, 3, 4]) == 6                    # one box: 1 * 2 * 3
    # two boxes 2x2x1 and 1x1x2 overlapping in a unit cube: 4 + 2 - 1
    assert hypervolume([[0, 0, 1], [1, 1, 0]], [2, 2, 2]) == 5
    assert hypervolume([[1, 1], [5, 0]], [4, 4]) == 9                  # (5, 0) lies outside
    assert hypervolume([[0.5]], [2]) == 1.5


def union_volume(boxes, reference) -> float:
    """Exact volume of a union of boxes [point, reference] by inclusion-exclusion."""
    total = 0.0
    for size in range(1, len(boxes) + 1):
        for subset in itertools.combinations(boxes, size):
            corner = np.max(subset, axis=0)
            total += (-1) ** (size + 1) * np.prod(np.clip(np.asarray(reference) - corner, 0, None))
    return float(total)


@settings(deadline=None, max_examples=60)
@given(st.integers(2, 4).flatmap(lambda d: st.lists(
    st.lists(st.integers(0, 5), min_size=d, max_size=d), min_size=0, max_size=6)))
def test_hypervolume_equals_inclusion_exclusion(rows):
    reference = [6.0] * (len(rows[0]) if rows else 2)
    assert hypervolume(rows, reference) == pytest.approx(union_volume(rows, reference))


def test_front_summary_reference_and_ratio():
    records = [{"id": str(i), "point": {}, "latency_s": x, "energy_j": y}
               for i, (x, y) in enumerate([(1, 3), (2, 2), (3, 1), (3, 3)])]
    summary = front_summary(records, ["latency_s", "energy_j"])
    # worst values (3, 3): only (2, 2) lies strictly inside, a unit box; the ideal box is 2 x 2
    assert summary["reference"] == [3, 3] and summary["hypervolume"] == 1
    assert summary["ratio"] == pytest.approx(1 / 4)
    assert front_summary(records, ["latency_s", "energy_j"], [4, 4])["hypervolume"] == 6
    maximised = front_summary(records, ["latency_s", "-energy_j"], [4, 0])
    assert maximised["reference"] == [4, 0] and maximised["hypervolume"] == 3 * 3   # (1, 3) only
    assert front_hypervolume(np.empty((0, 2)), np.empty((0, 2)))["hypervolume"] == 0


# ---- mixes --------------------------------------------------------------------------------------

MIX = ("mix:\n"
       "  - {workload: gpt2, weight: 0.7, params: {seq_len: 1, past: 64}}\n"
       "  - {workload: gpt2, weight: 0.3, params: {seq_len: 64}}\n"
       "parameters:\n  array.rows: [16, 32]\n")


def test_mix_metrics_are_weighted_sums_of_its_runs(tmp_path):
    space = load_space(write_space(tmp_path, MIX, head=""))
    records = run_sweep(space)
    for record in records:
        rows = [f"array.rows={record['point']['array.rows']}"]
        decode = accelsim.simulate("gpt2", "scalesim_32x32", overrides=rows, seq_len=1, past=64)
        prefill = accelsim.simulate("gpt2", "scalesim_32x32", overrides=rows, seq_len=64)
        for name in ("latency_s", "energy_j"):
            expected = 0.7 * decode.totals[name] + 0.3 * prefill.totals[name]
            assert record[name] == pytest.approx(expected, rel=1e-12)
        assert record["power_w"] == pytest.approx(record["energy_j"] / record["latency_s"])
        assert [part["weight"] for part in record["mix"]] == [0.7, 0.3]
    assert records[0]["id"] != records[1]["id"]


def test_workloads_list_sums_each_workload_once(tmp_path):
    head = f"workloads: [{ALEXNET_CSV}, alexnet]\n"
    record = run_sweep(load_space(write_space(tmp_path, "parameters:\n  array.rows: [16]\n",
                                              head=head)))[0]
    runs = [accelsim.simulate(name, "scalesim_32x32", overrides=["array.rows=16"])
            for name in (str(ALEXNET_CSV), "alexnet")]
    assert record["latency_s"] == pytest.approx(sum(r.totals["latency_s"] for r in runs))


@pytest.mark.parametrize("head, fragment", [
    ("mix: {gpt2: 0}\n", "mix.gpt2: weight: expected a number > 0"),
    ("mix: [{workload: gpt2}]\n", "mix.0: expected {workload, weight[, params]}"),
    ("mix: {gpt2: 1, nope_net: 1}\n", "mix: workload: unknown network 'nope_net'"),
    ("mix: [{workload: gpt2, weight: 1, params: {batch: 2}}]\n", "'batch' is a run setting"),
    (f"workload: {ALEXNET_CSV}\nworkloads: [alexnet]\n", "workloads: give one of"),
    ("workloads: [alexnet, alexnet]\n", "workloads: expected a list of distinct"),
])
def test_bad_mix_names_its_key(tmp_path, head, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_space(write_space(tmp_path, "parameters:\n  array.rows: [16]\n", head=head))


# ---- CLI ----------------------------------------------------------------------------------------

def test_cli_lhs_with_constraint_reports_hypervolume(tmp_path, capsys):
    space = write_space(tmp_path, "parameters:\n  array.rows: {from: 8, to: 128, times: 2}\n"
                                  "  array.cols: {from: 8, to: 128, times: 2}\n")
    code, text, _ = invoke(capsys, "sweep", str(space), "--fast", "--search", "lhs", "--sample",
                           "20", "--seed", "1", "--constraint", "area_mm2 <= 3", "--json",
                           "--pareto", "latency_s,area_mm2")
    assert code == 0
    data = json.loads(text)
    assert (data["search"], data["seed"], data["constraints"]) == ("lhs", 1, ["area_mm2 <= 3"])
    assert data["violating"] > 0 and all(r["area_mm2"] <= 3 for r in data["front"])
    assert data["hypervolume"] > 0 and 0 < data["hypervolume_ratio"] <= 1


def test_resumed_records_are_flagged_by_the_constraints_of_this_run(tmp_path):
    from accelsim.sweep import ResultStore

    body = "parameters:\n  array.rows: [8, 64]\n"
    store = ResultStore(tmp_path / "records.jsonl")
    first = run_sweep(load_space(write_space(tmp_path, body)), store=store)
    assert all("violated" not in record for record in first)
    bound = (first[0]["area_mm2"] + first[1]["area_mm2"]) / 2        # between the two designs
    space = load_space(write_space(tmp_path, body), constraints=(f"area_mm2 <= {bound}",))
    again = run_sweep(space, store=store, resume=True,
                      progress=lambda *_: pytest.fail("a stored point ran again"))
    assert [record["feasible"] for record in again] == [True, False]
