"""The CLI starts fast: no heavy library is imported until a command needs it."""

import subprocess
import sys

HEAVY = ("numba", "numpy", "matplotlib", "pandas", "dask", "pydantic", "simpy")


def test_cli_import_loads_no_heavy_library():
    code = ("import sys, accelsim.cli; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_is_reachable_from_the_package():
    import accelsim

    assert callable(accelsim.simulate) and callable(accelsim.run_sweep)
    assert set(accelsim.__all__) == {"load_device", "load_workload", "simulate", "run_sweep"}
