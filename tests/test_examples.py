"""Every example in the README and in each command's --help runs, in order, from one scratch folder,
and shows something (output on the screen or a file written)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from accelsim.bundled import PACKAGE
from accelsim.calibrate.validate import REFERENCE_CSV
from accelsim.cli import cli

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def help_examples() -> list[str]:
    """The `accelsim ...` lines of every command's help, continuation lines joined; `plot` last,
    as its examples draw what the others wrote."""
    lines = []
    for name in sorted(cli.list_commands(None), key=lambda name: name == "plot"):
        command = cli.get_command(None, name)
        text = f"{command.help or ''}\n{command.epilog or ''}".replace("\\\n", " ")
        lines += [line.strip() for line in text.splitlines() if line.strip().startswith("accelsim ")]
    return lines


def readme_examples() -> list[str]:
    """The `accelsim ...` lines of the README's code blocks."""
    return [line.strip() for language, block in readme_blocks() if language in ("", "sh", "bash")
            for line in block.splitlines() if line.strip().startswith("accelsim ")]


def readme_blocks() -> list[tuple[str, str]]:
    """(language, text) of each fenced code block of the README."""
    return re.findall(r"^```(\w*)\n(.*?)^```", (REPO / "README.md").read_text(), re.S | re.M)


def readme_python() -> list[str]:
    """The README's Python code blocks."""
    return [block for language, block in readme_blocks() if language == "python"]


def scratch(folder: Path) -> Path:
    """A folder holding the files the examples name as a user's own."""
    (folder / "my_devices").mkdir()
    (folder / "my_devices" / "variant.yaml").write_text("extends: a100\nsms: 216\n")
    shutil.copy(REFERENCE_CSV, folder / "my_measurements.csv")
    (folder / "my_runs.csv").write_text("workload,device,mode,batch,precision,metric,value,unit\n"
                                        "resnet50,a100,inference,256,int8,throughput,42379,"
                                        "samples/s\n")
    shutil.copy(PACKAGE / "workloads" / "scalesim" / "scale.cfg", folder / "my.cfg")
    shutil.copy(PACKAGE / "workloads" / "scalesim" / "alexnet.csv", folder / "my_topology.csv")
    return folder


def test_examples_are_found():
    assert len(help_examples()) >= 40 and len(readme_examples()) >= 15
    assert len(readme_python()) >= 2


@pytest.mark.parametrize("code", readme_python(), ids=lambda code: code.splitlines()[0])
def test_readme_python_runs_from_any_folder(code, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip()


def test_every_example_runs_and_shows_something(tmp_path):
    folder = scratch(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "COLUMNS": "80"}
    failures = []
    for example in help_examples() + readme_examples():
        before = {path: path.stat().st_mtime for path in folder.rglob("*")}
        done = subprocess.run(["bash", "-c", example], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=300)
        after = {path: path.stat().st_mtime for path in folder.rglob("*")}
        wrote = any(before.get(path) != stamp for path, stamp in after.items())
        if done.returncode != 0 or not (done.stdout.strip() or wrote):
            failures.append(f"{example}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
    assert failures == []
