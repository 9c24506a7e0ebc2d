"""accelsim: hardware-accelerator simulator and performance modeler.

Public API: load_device, load_workload, simulate, run_sweep (imported on first use, so the CLI starts fast).
"""

__all__ = ["load_device", "load_workload", "simulate", "run_sweep"]
from accelsim._version import __version__


def __getattr__(name: str):
    """Import the public API lazily."""
    if name in ("load_device", "load_workload", "simulate"):
        from accelsim import api

        return getattr(api, name)
    if name == "run_sweep":
        from accelsim.sweep import run_sweep

        return run_sweep
    raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
