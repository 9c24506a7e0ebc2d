"""The teaching notebooks exist, are committed executed (their outputs render on the web page)
and mix explanation with code."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("01_quickstart", "02_training_vs_inference", "03_design_space_exploration",
         "04_optimizations", "05_llm_serving", "06_serving_under_load", "07_accelerator_dse")


def cells(name: str) -> list[dict]:
    """The cells of notebooks/<name>.ipynb."""
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_explains_and_runs_code(name):
    kinds = [cell["cell_type"] for cell in cells(name)]
    assert kinds[0] == "markdown"
    assert kinds.count("markdown") >= 3 and kinds.count("code") >= 3


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_executed_and_small(name):
    code = [cell for cell in cells(name) if cell["cell_type"] == "code"]
    assert all(cell["execution_count"] is not None for cell in code)
    assert not any(out["output_type"] == "error" for cell in code for out in cell["outputs"])
    assert (NOTEBOOKS / f"{name}.ipynb").stat().st_size < 500_000


def test_optimizations_notebook_has_figures():
    outputs = [out for cell in cells("04_optimizations") for out in cell.get("outputs", [])]
    assert sum("image/png" in out.get("data", {}) for out in outputs) >= 2


@pytest.mark.parametrize("name", NAMES)
def test_notebook_ends_with_exercises(name):
    last = "".join(cells(name)[-1]["source"])
    assert "## Try this" in last
