"""The teaching notebooks exist, are committed without outputs and mix explanation with code."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NAMES = ("01_quickstart", "02_training_vs_inference", "03_design_space_exploration",
         "04_optimizations", "05_llm_serving")


def cells(name: str) -> list[dict]:
    """The cells of notebooks/<name>.ipynb."""
    return json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_explains_and_runs_code(name):
    kinds = [cell["cell_type"] for cell in cells(name)]
    assert kinds[0] == "markdown"
    assert kinds.count("markdown") >= 3 and kinds.count("code") >= 3


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name):
    code = [cell for cell in cells(name) if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_ends_with_exercises(name):
    last = "".join(cells(name)[-1]["source"])
    assert "## Try this" in last
