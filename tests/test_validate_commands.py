"""Every validate row is reproducible: its command, run through the real CLI, prints its prediction."""

from __future__ import annotations

import json
import shlex

import pytest

from tests.hostile.cli import accelsim

pytestmark = pytest.mark.slow     # a CLI subprocess per row


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    outcome = accelsim("validate", "--json")
    assert outcome.code == 0, outcome.err
    return [row for row in json.loads(outcome.out)["rows"] if row["predicted"] is not None]


def test_every_bundled_row_has_a_command(rows):
    assert len(rows) >= 12
    for row in rows:
        assert row["command"].startswith(("accelsim run ", "accelsim serve ")) and row["key"]


def test_each_command_prints_the_prediction_at_its_key(rows):
    for row in rows:
        argv = shlex.split(row["command"])[1:]
        outcome = accelsim(*argv, "--json")
        assert outcome.code == 0, (row["id"], outcome.err)
        result = json.loads(outcome.out)
        assert result["totals"][row["key"]] == pytest.approx(row["predicted"], rel=1e-9), row["id"]
        assert result["stack"] == row["stack"]
