"""accelsim: hardware-accelerator simulator and performance modeler."""

from accelsim.api import load_device, load_workload, simulate

__all__ = ["load_device", "load_workload", "simulate"]
__version__ = "0.1.0"
