"""The package travels: a wheel built from the tracked files, installed into a clean venv, works
from an unrelated folder (bundled devices, workloads, sweeps and validation rows included)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from accelsim.calibrate.validate import REFERENCE_CSV

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def tracked_copy(destination: Path) -> Path:
    """The repository's git-tracked files (what a clean clone has) copied to `destination`."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    for name in filter(None, files.stdout.decode().split("\0")):
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    return destination


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The accelsim command of a fresh venv holding only the wheel (dependencies shared)."""
    source = tracked_copy(tmp_path_factory.mktemp("clone"))
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels),
                    str(source)], check=True, capture_output=True)
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next(wheels.glob("accelsim-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True)
    return venv / "bin" / "python"


OWN_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}   # the venv's own


def accelsim(python: Path, cwd: Path, *args: str) -> str:
    """stdout of `accelsim ARGS` run by the installed package from `cwd` (it must succeed)."""
    done = subprocess.run([str(python), "-m", "accelsim", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env=OWN_ENV)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_installed_package_is_the_wheel(installed, tmp_path):
    where = subprocess.run([str(installed), "-c", "import accelsim; print(accelsim.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True,
                           env=OWN_ENV).stdout
    assert str(installed.parents[1]) in where


def test_wheel_lists_devices_and_runs_from_anywhere(installed, tmp_path):
    devices = json.loads(accelsim(installed, tmp_path, "list", "devices", "--json"))
    assert len(devices) >= 13
    run = json.loads(accelsim(installed, tmp_path, "run", "resnet50", "--device", "a100", "--json"))
    assert run["totals"]["macs"] == 4_089_184_256      # ResNet-50's published MACs (torchvision)
    serve = json.loads(accelsim(installed, tmp_path, "run", "llama2_7b", "--device", "h100",
                                "--mode", "serve", "--json"))
    assert serve["totals"]["ttft_s"] > 0
    topology = json.loads(accelsim(installed, tmp_path, "run", "workloads/scalesim/alexnet.csv",
                                   "--device", "scalesim_32x32", "--json"))
    assert len(topology["layers"]) == 5                 # the five conv rows of alexnet.csv
    accelsim(installed, tmp_path, "sweep", "sweeps/systolic_array.yaml", "--fast", "--json")


def test_wheel_validates_the_bundled_rows(installed, tmp_path):
    report = json.loads(accelsim(installed, tmp_path, "validate", "--json"))
    assert sum(row["status"] == "validated" for row in report["rows"]) >= 10


def test_bundled_reference_rows_are_the_shared_ones(reference_dir):
    shared = reference_dir / "measurements_public.csv"
    if not shared.is_file():
        pytest.skip("no shared/reference beside the repository")
    assert REFERENCE_CSV.read_text() == shared.read_text()
