"""Interconnect schema and loading: the links between devices (NVLink, PCIe, InfiniBand, TPU ICI).

Bundled interconnects live in hw_configs/interconnect/ and load by name ("nvlink3") or YAML path,
with the device loader's machinery: line-aware YAML, `extends:`, --set overrides, file:line errors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from accelsim.config.explain import config_error
from accelsim.config.paths import bundled_configs
from accelsim.config.tree import load_tree
from accelsim.config.overrides import apply_overrides
from accelsim.config.types import Bandwidth, Count, Fraction, Seconds, Strict
from accelsim.config.yaml_lines import plain
from accelsim.errors import ConfigError, did_you_mean

INTERCONNECT_DIR = "interconnect"      # under hw_configs/
TOPOLOGIES = ("ring", "switch", "torus2d", "torus3d")
PROTOCOLS = ("ll", "ll128", "simple")      # NCCL's wire protocols (accelsim/devices/nccl.py)


Scale = Annotated[float, Field(gt=0, le=100)]


class ProtocolScale(Strict):
    """A factor per NCCL protocol."""

    ll: Scale = 1.0
    ll128: Scale = 1.0
    simple: Scale = 1.0


class NcclModel(Strict):
    """How NCCL runs collectives on a fabric: latency row, protocols, NVLink SHARP, fitted costs."""

    hardware: Literal["nvlink", "pci", "net"]     # row of NCCL's hwLat table (src/graph/tuning.cc)
    protocols: tuple[Literal["ll", "ll128", "simple"], ...] = PROTOCOLS
    launch: Seconds = 0.0                 # per call, on top of NCCL's latency model (fitted)
    latency_scale: ProtocolScale = ProtocolScale()   # x NCCL's baseLat + hwLat (fitted)
    pipeline: Seconds = 0.0               # LL128/Simple chunk pipeline fill, at most (fitted)
    ll_max_bandwidth: Bandwidth = 87.7e9  # LL bus bandwidth cap (tuning.cc llMaxBws, one node)
    nvls: bool = False                    # NVLink SHARP: the switch reduces (H100 NVSwitch, later)
    nvls_bandwidth: Bandwidth | None = None   # NVLS all-reduce algorithm bandwidth per device
    nvls_latency: Seconds = 23e-6         # NCCL's NVLS latency over NVLink (tuning.cc hwLat)

    @model_validator(mode="after")
    def _complete(self) -> "NcclModel":
        """NVLS needs its bandwidth; every collective needs the Simple protocol to fall back on."""
        if self.nvls and self.nvls_bandwidth is None:
            raise ValueError("nvls: true needs nvls_bandwidth")
        if "simple" not in self.protocols:
            raise ValueError("protocols must include simple")
        return self


class InterconnectConfig(Strict):
    """A fabric between devices: bandwidth per direction per device, per-step latency, topology."""

    kind: Literal["interconnect"]
    name: str
    source: str = ""
    bandwidth: Bandwidth                  # per direction per device, all of its links together
    latency: Seconds                      # one step of a collective: one hop, send to receive
    topology: Literal["ring", "switch", "torus2d", "torus3d"]
    efficiency: Fraction = 1.0            # achievable fraction of `bandwidth` in collectives
    domain_size: Count | None = None      # devices one fabric spans (8 GPUs on an NVSwitch board)
    nccl: NcclModel | None = None         # NCCL's cost model; None: plain alpha-beta ring and tree

    @property
    def effective_bandwidth(self) -> float:
        """Achievable bytes/s per direction per device."""
        return self.bandwidth * self.efficiency


def bundled_interconnects() -> dict[str, list[Path]]:
    """Bundled interconnect YAML files by stem."""
    return bundled_configs(INTERCONNECT_DIR)


def list_interconnects() -> list[tuple[str, str]]:
    """(name, title) of every bundled interconnect, sorted by name."""
    return [(name, load_interconnect(name).name) for name in sorted(bundled_interconnects())]


def load_interconnect(spec: str | os.PathLike | InterconnectConfig,
                      overrides: Sequence[str] = ()) -> InterconnectConfig:
    """A validated interconnect from a bundled name ("nvlink3"), a YAML path or a config object."""
    if isinstance(spec, InterconnectConfig):
        return spec
    data = apply_overrides(load_tree(_resolve(spec)), overrides)
    if data.get("kind") != "interconnect":
        origin = data.where.get("kind", data.origin)
        raise ConfigError(f"expected kind 'interconnect', got {data.get('kind')!r}",
                          file=origin.file, line=origin.line, key="kind")
    try:
        return InterconnectConfig.model_validate(plain(data))
    except ValidationError as exc:
        raise config_error(exc, data, InterconnectConfig) from None


def _resolve(spec: str | os.PathLike) -> Path:
    """The YAML file of a bundled interconnect name; paths pass through to the device loader."""
    text = os.fspath(spec)
    if isinstance(spec, os.PathLike) or text.endswith((".yaml", ".yml")) or "/" in text:
        return Path(text)
    paths = bundled_interconnects().get(text)
    if not paths:
        names = sorted(bundled_interconnects())
        raise ConfigError(f"unknown interconnect {text!r}{did_you_mean(text, names)}; bundled: "
                          f"{', '.join(names)}, or give a path to a YAML file", key="interconnect")
    return paths[0]
