"""Die area of design points: accelsim.devices.area (the component library) under the sweep's names."""

from __future__ import annotations

from accelsim.devices.area import (cpu_area_mm2, device_area_mm2, fpga_area_mm2, gpu_area_mm2,
                                   npu_area_mm2, sram_bytes, systolic_area_mm2, widest_precision)
from accelsim.devices.components import MIB, pe_area_mm2

chip_area_mm2 = systolic_area_mm2
__all__ = ["MIB", "chip_area_mm2", "cpu_area_mm2", "device_area_mm2", "fpga_area_mm2",
           "gpu_area_mm2", "npu_area_mm2", "pe_area_mm2", "sram_bytes", "systolic_area_mm2",
           "widest_precision"]
