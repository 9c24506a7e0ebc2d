"""The numba decorator caches where it can and still works where nothing can be written."""

import os
import subprocess
import sys

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
