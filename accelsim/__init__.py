"""accelsim: hardware-accelerator simulator and performance modeler."""
