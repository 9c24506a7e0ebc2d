"""The SCALE-Sim replay compiled ahead of time: SCALE-Sim's own reports without importing numba, only
on arguments of its exact types, never from a stale or corrupt file, and JIT where nothing builds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from accelsim.kernels import _aot, systolic_scalesim
from tests.test_scalesim_reports import GOLDEN, REPORTS, RUNS

# Every golden run, in one process, through the CLI; then which heavy modules were imported.
GOLDEN_RUNS = """
import sys
from pathlib import Path
from accelsim.cli import main
golden, out = Path(sys.argv[1]), sys.argv[2]
for cfg in sorted(golden.glob("runs/*/scale.cfg")):
    topology = golden / (cfg.parent.name.split("_")[0] + "_small.csv")
    main(["scalesim", "-c", str(cfg), "-t", str(topology), "-p", out])
print(*(name in sys.modules for name in ("numba", "pydantic", "yaml")))
"""
# `python -m accelsim scalesim ...` (argv[1:]), then which heavy modules it imported.
CLI_MODULES = """
import runpy, sys
sys.argv = ["accelsim", *sys.argv[1:]]
try:
    runpy.run_module("accelsim", run_name="__main__")
finally:
    print(*(name in sys.modules for name in ("numba", "pydantic", "yaml", "rich")))
"""


def run(code: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """A Python child running `code` with JIT enabled (unless `env` says otherwise)."""
    child = {key: value for key, value in os.environ.items() if key != "NUMBA_DISABLE_JIT"}
    return subprocess.run([sys.executable, "-c", code, *args], env={**child, **env},
                          capture_output=True, text=True, check=True)


def assert_golden(out, runs) -> None:
    """Every report of `runs` under `out` is SCALE-Sim's, byte for byte."""
    for name in runs:
        for report in REPORTS:
            assert (out / name / report).read_text() == (GOLDEN / "runs" / name / report).read_text()


@pytest.fixture(scope="module")
def built() -> None:
    """The replay's extension, built here unless it is; skip where nothing can build one."""
    if shutil.which(os.environ.get("CC", "cc").split()[0]) is None:
        pytest.skip("no C compiler")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _aot.entry_points(vars(systolic_scalesim)) is not None


def test_the_compiled_replay_gives_scalesims_reports_without_numba(built, tmp_path):
    out = run(GOLDEN_RUNS, str(GOLDEN), str(tmp_path))
    assert_golden(tmp_path, RUNS)
    assert out.stdout.splitlines()[-1] == "False False False"      # numba, pydantic, yaml


def test_a_scalesim_command_imports_no_numba_pydantic_yaml_or_rich(built, tmp_path):
    run_name = "conv_small_8x8_os_calc"
    out = run(CLI_MODULES, "scalesim", "-c", str(GOLDEN / "runs" / run_name / "scale.cfg"), "-t",
              str(GOLDEN / "conv_small.csv"), "-p", str(tmp_path))
    assert_golden(tmp_path, [run_name])
    assert out.stdout.splitlines()[-1] == "False False False False"


def test_compiled_entry_points_take_only_their_exact_types():
    kernel = _aot.AotKernel(lambda *args: None, "i8[::1](i4[:,::1], i8, b1[::1])")
    matrix, flags = np.zeros((2, 3), dtype=np.int32), np.zeros(4, dtype=bool)
    assert kernel.types == [(np.dtype(np.int32), 2), (np.dtype(np.int64), 0), (np.dtype(bool), 1)]
    assert kernel.accepts((matrix, 3, flags)) and kernel.accepts((matrix[1:], np.int64(3), flags))
    frozen = matrix.copy()
    frozen.flags.writeable = False
    for unsafe in ("i8(b1)", "i8(i8[:])"):
        with pytest.raises(ValueError, match="i8 scalars or C-contiguous arrays"):
            _aot.AotKernel(test_compiled_entry_points_take_only_their_exact_types, unsafe)
    for wrong in [(matrix.astype(np.int64), 3, flags), (matrix, 3, flags.astype(np.int8)),
                  (matrix, True, flags), (matrix, np.int32(3), flags), (matrix, 2**63, flags),
                  (matrix, 3.0, flags), (matrix[0], 3, flags), (frozen, 3, flags), (matrix.T, 3, flags),
                  (matrix[:, 1:], 3, flags), (matrix, 3)]:
        assert not kernel.accepts(wrong)


def test_a_changed_source_or_version_names_another_extension(tmp_path, monkeypatch):
    namespace = vars(systolic_scalesim)
    name = _aot.extension_name(namespace)
    monkeypatch.setattr(np, "__version__", "0.0.0")
    assert _aot.extension_name(namespace) != name
    monkeypatch.undo()
    kernels = tmp_path / "kernels"
    shutil.copytree(os.path.dirname(_aot.__file__), kernels,
                    ignore=shutil.ignore_patterns("__pycache__"))
    with (kernels / "systolic_scalesim.py").open("a") as source:
        source.write("# edited\n")
    monkeypatch.setattr(_aot, "__file__", str(kernels / "_aot.py"))
    assert _aot.extension_name(namespace) != name


def test_a_corrupt_extension_is_rebuilt_and_a_failed_build_is_not_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    namespace = vars(systolic_scalesim)
    name = _aot.extension_name(namespace)
    path = _aot._path(name)
    with open(path, "wb") as corrupt:
        corrupt.write(b"\x7fELF not really")
    builds = []
    monkeypatch.setattr(_aot, "_build", lambda *args: builds.append(args) or "no C compiler (test)")
    with pytest.warns(RuntimeWarning, match="no C compiler"):
        assert _aot._entry_points(namespace) is None
    assert builds == [(systolic_scalesim.__name__, name, path)]
    assert os.path.exists(path + ".failed") and not os.path.exists(path + ".lock")
    assert _aot._entry_points(namespace) is None and len(builds) == 1


def test_an_unwritable_cache_runs_the_jit_kernel_quietly(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _aot._entry_points(vars(systolic_scalesim)) is None


@pytest.mark.slow
def test_scalesim_with_an_unwritable_cache_gives_scalesims_reports(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run(GOLDEN_RUNS, str(GOLDEN), str(tmp_path / "out"), NUMBA_CACHE_DIR=str(blocker / "cache"))
    assert_golden(tmp_path / "out", RUNS)


def test_disabled_jit_runs_plain_python_and_builds_nothing(tmp_path):
    run_name = "gemm_small_8x8_ws_user"
    run(CLI_MODULES, "scalesim", "-c", str(GOLDEN / "runs" / run_name / "scale.cfg"), "-t",
        str(GOLDEN / "gemm_small.csv"), "-p", str(tmp_path / "out"), NUMBA_DISABLE_JIT="1",
        NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    assert_golden(tmp_path / "out", [run_name])
    assert not list((tmp_path / "cache").glob("*_aot_*"))
