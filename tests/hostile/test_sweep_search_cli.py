"""`accelsim sweep` search strategies, constraints, hypervolume references and mixes against hostile
space files and arguments, through the real CLI in a subprocess."""

from __future__ import annotations

import importlib.util

import pytest

from hostile.cli import accelsim, assert_clean_error
from hostile.test_sweeps import ROWS, write_space

BAD_SPACES = [
    ('constraints: ["area_mm2 <= 800", "area_mm2 <= big"]\n' + ROWS,
     ":3: constraints[1]: 'area_mm2 <= big': 'big' is not a number"),
    ("constraints:\n  - fits_in_memory\n  - __import__('os').system('ls')\n" + ROWS,
     ":5: constraints[1]: \"__import__('os').system('ls')\": expected \"METRIC OP NUMBER\""),
    ('constraints: ["power_w <= 3 GHz"]\n' + ROWS, "constraints[0]: 'power_w <= 3 GHz'"),
    ("constraints: area_mm2 <= 800\n" + ROWS, ":3: constraints: expected a list"),
    ("search: annealing\n" + ROWS, ":3: search: expected one of grid, random, lhs, optuna"),
    ("search: lhs\n" + ROWS, ":3: search: search lhs needs sample: N"),
    ("search: grid\nsample: 4\n" + ROWS, ":4: sample: a grid runs every point"),
    ("parameters:\n  array.rows: {from: 8, to: 64}\n", "array.rows: a continuous range"),
    ("sample: 3\nparameters:\n  array.rows: {from: 64, to: 8}\n", "expected from < to"),
    ("sample: 3\nparameters:\n  array.rows: {from: 0, to: 8, log: true}\n", "from > 0 with log"),
    ("sample: 3\nparameters:\n  array.rows: {from: 1, to: 8, log: 1}\n",
     "log: expected true or false"),
    ("sample: 3\nparameters:\n  batch: {from: 0.5, to: 4}\n", "parameters.batch: 0.5:"),
    ("mix: {gpt2: -1}\n" + ROWS, ":3: mix.gpt2: weight: expected a number > 0"),
    ("mix: []\n" + ROWS, ":3: mix: expected a mapping workload -> weight"),
]


@pytest.mark.parametrize("body, fragment", BAD_SPACES)
def test_bad_search_constraint_or_mix_is_refused(tmp_path, body, fragment):
    space = write_space(tmp_path, body)
    if body.startswith("mix"):          # a mix names the workloads itself
        space.write_text("device: scalesim_32x32\n" + "\n" + body)
    assert_clean_error(accelsim("sweep", str(space)), "space.yaml", fragment)


BAD_ARGUMENTS = [
    (["--constraint", "area_mm2 <="], "--constraint: 'area_mm2 <=': expected"),
    (["--constraint", "no_such_metric < 3"], "constraint: 'no_such_metric < 3': metric"),
    (["--constraint", "latency_s"], "'latency_s' is not a true/false field"),
    (["--reference", "1"], "--reference: expected 2 values, one per metric"),
    (["--reference", "1 s,lots"], "--reference: 'energy_j <= lots'"),
    (["--search", "lhs"], "search lhs needs sample"),
    (["--sample", "0"], "--sample"),
    (["--search", "optuna", "--sample", "3", "--fast"], "fast: the fast path runs one workload"),
]


@pytest.mark.parametrize("arguments, fragment", BAD_ARGUMENTS)
def test_bad_search_argument_is_a_clean_error(tmp_path, arguments, fragment):
    assert_clean_error(accelsim("sweep", str(write_space(tmp_path, ROWS)), *arguments), fragment)


@pytest.mark.skipif(importlib.util.find_spec("optuna") is not None, reason="optuna is installed")
def test_optuna_without_the_extra_names_it(tmp_path):
    outcome = accelsim("sweep", str(write_space(tmp_path, ROWS)), "--search", "optuna",
                       "--sample", "4")
    assert_clean_error(outcome, "search: optuna needs the optuna extra: pip install "
                                "'accelsim[optuna]'")


def test_optuna_search_is_seeded_and_tags_its_records(tmp_path):
    pytest.importorskip("optuna")
    space = str(write_space(tmp_path, "sample: 6\nparameters:\n  array.rows: {from: 8, to: 64}\n"))
    runs = [accelsim("sweep", space, "--search", "optuna", "--json") for _ in range(2)]
    assert runs[0].code == 0 and runs[0].out == runs[1].out and '"search": "optuna"' in runs[0].out
