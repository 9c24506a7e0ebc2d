"""GPU schema: SMs, tensor-core peaks per precision, GEMM tiles, L2, HBM, launch overhead, eager
host dispatch."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationError

from accelsim.config.common import DeviceBase
from accelsim.config.derived import EfficiencyDerived, GpuDerived
from accelsim.config.types import (Bandwidth, Bytes, Count, FlopRate, Fraction, Frequency, Precision,
                                   Seconds, Strict)
from accelsim.config.yaml_lines import YamlMap, as_yaml_map, merge

# CUTLASS-style threadblock tiles (M x N) that a GEMM library picks among per problem shape.
DEFAULT_TILES = ((256, 128), (128, 256), (128, 128), (128, 64), (64, 128), (64, 64))


class Cache(Strict):
    """An on-chip cache level: capacity and achievable bandwidth to the SMs."""

    size: Bytes
    bandwidth: Bandwidth | None = None


class Mma(Strict):
    """One warp-level matrix instruction (default: PTX mma.m16n8k{32/e}, sm_80 and later; on AMD a
    wavefront-level MFMA such as v_mfma_f32_16x16x16_bf16)."""

    m: Count = 16                    # accumulator rows
    n: Count = 8                     # accumulator columns
    k_bytes: Count = 32              # K x element bytes of the A and B operands
    accumulator_bytes: Count = 4     # fp32/int32 accumulators


class PeakBasis(Strict):
    """The SM count and clock at which a GPU's `peak` table is quoted (the datasheet's)."""

    sms: Count
    clock: Frequency


class GpuEfficiency(EfficiencyDerived, Strict):
    """Achievable fractions of peak, each with its source in the YAML."""

    compute: Fraction = 1.0          # best large-GEMM fraction of `peak` (large tiles, K -> infinity)
    per_precision: dict[Precision, Fraction] = Field(default_factory=dict)   # `compute` where it differs
    vector: Fraction = 1.0           # CUDA-core fraction for non-GEMM math
    tile_overhead_k: float = Field(0.0, ge=0, le=1e6)   # K steps each CTA pays for fill + epilogue
    tile_intensity: float = Field(0.0, ge=0, le=1e4)    # tile tm*tn/(tm+tn) that keeps an SM busy


class GpuConfig(GpuDerived, DeviceBase):
    """A GPU: streaming multiprocessors with tensor cores and HBM (on AMD parts, `sms` counts compute
    units and the tensor cores are matrix cores).

    `peak` is the datasheet's chip total at `peak_at`, the `sms` and `clock` of the YAML that gives
    it; changing them (--set, or a YAML that extends it) scales every rate with SMs x clock.
    `peak["fp32"]` is the CUDA-core (non-tensor) fp32 rate; non-GEMM math runs at it. HBM's
    achievable fraction of peak bandwidth is `memory.efficiency`.
    """

    kind: Literal["gpu"]
    clock: Frequency
    sms: Count
    peak: dict[Precision, FlopRate] = Field(min_length=1)   # dense chip peak per precision at `peak_at`
    peak_at: PeakBasis | None = None               # None: at this config's own sms and clock
    sparsity_2_4: bool = False                     # 2:4 sparse weights double tensor throughput
    l2: Cache | None = None
    launch_overhead: Seconds = 0.0
    eager_dispatch: Seconds = 0.0          # host seconds per op under the eager stack (devices.host)
    tiles: tuple[tuple[Count, Count], ...] = Field(DEFAULT_TILES, min_length=1)   # (M, N) tiles
    register_file: Bytes = 256 * 1024              # per SM: 64K 32-bit registers (Volta-Hopper whitepapers)
    mma: Mma = Field(default_factory=Mma)   # its operand traffic prices register-file energy
    efficiency: GpuEfficiency = Field(default_factory=GpuEfficiency)
    extra: dict[str, float] = Field(default_factory=dict)


def quote_peak(tree: YamlMap, own: YamlMap) -> YamlMap:
    """A GPU YAML's merged `tree` with `peak_at` pinned to its sms and clock where its own keys
    (`own`) give `peak` but no `peak_at`, so that later changes to sms or clock scale `peak`."""
    if tree.get("kind") != "gpu" or "peak" not in own or "peak_at" in own:
        return tree
    try:
        basis = PeakBasis(sms=tree.get("sms"), clock=tree.get("clock"))
    except ValidationError:          # reported against sms or clock themselves
        return tree
    return merge(tree, as_yaml_map({"peak_at": basis.model_dump()}, tree.where.get("peak")))
