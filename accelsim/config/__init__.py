"""Device configuration: schemas per kind, YAML loading with line numbers, `extends:`, overrides."""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from accelsim.config.cpu import CpuConfig
from accelsim.config.fpga import FpgaConfig
from accelsim.config.gpu import GpuConfig
from accelsim.config.npu import NpuConfig
from accelsim.config.systolic import SystolicConfig

DeviceConfig = Annotated[Union[GpuConfig, SystolicConfig, FpgaConfig, NpuConfig, CpuConfig],
                         Field(discriminator="kind")]
KINDS = ("gpu", "systolic", "fpga", "npu", "cpu")
