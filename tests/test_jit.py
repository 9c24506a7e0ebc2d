"""The numba decorator caches where it can and still works where nothing can be written."""

import os
import subprocess
import sys

import pytest

from accelsim.kernels._jit import writable_dir

# ResNet-50 CB2a_2 (56x56x64 ifmap, 3x3x64 filters, 64 of them, no padding: P = 54 x 54, K = 576,
# N = 64) on a 32x32 weight-stationary array (dataflow index 0 = "ws").
KERNEL_RUN = ("from accelsim.kernels.systolic import compute_cycles; import numpy as np; "
              "c, _ = compute_cycles(np.array([[2916, 64, 576, 1]]), np.array([[32, 32, 0, 1]])); "
              "print(int(c[0, 0]))")


def test_writable_dir_skips_places_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert writable_dir([str(blocker / "cache"), str(tmp_path / "ok")]) == str(tmp_path / "ok")
    assert writable_dir([str(blocker / "cache")]) is None


def test_kernels_run_with_an_unwritable_cache_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(blocker / "cache"))
    env.pop("NUMBA_DISABLE_JIT", None)
    out = subprocess.run([sys.executable, "-c", KERNEL_RUN], env=env, capture_output=True,
                         text=True, check=True)
    # SCALE-Sim ws, ResNet-50 CB2a_2 on 32x32 (../shared/reference/scalesim/golden.csv): 108359.
    assert out.stdout.strip() == "108359"

# A CLI single run (plain-Python kernels where PLAIN_FAST), then the same run after the device's
# kernel (argv[2]) was compiled in that process (numba); totals and layers must match exactly.
SAME_RUN = """
import contextlib, io, json, sys
from accelsim.api import simulate
from accelsim.cli import main
from accelsim.kernels import gpu, systolic

def cli_json(args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(args)
    return {key: json.loads(out.getvalue())[key] for key in ("totals", "layers")}

kernel = {"systolic": systolic._plan_grid, "gpu": gpu._best_tile}[sys.argv[2]]
args = ["run", "resnet50", "--device", sys.argv[1], "--json"]
plain = cli_json(args)
print(kernel.jitted is None)
simulate("resnet50", sys.argv[1])
print(kernel.jitted is not None)
print(plain == cli_json(args))
"""


@pytest.mark.parametrize("device, kernel", [("tpu_v4", "systolic"), ("a100", "gpu")])
def test_single_runs_give_the_same_numbers_without_numba(device, kernel):
    # FPGA and NPU devices use no numba kernel; row stationary and the SCALE-Sim replay always do.
    out = subprocess.run([sys.executable, "-c", SAME_RUN, device, kernel], capture_output=True,
                         text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]
