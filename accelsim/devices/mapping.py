"""How a layer maps onto a MAC array with on-chip buffers: lane quantisation, DRAM re-reads, tiles.

Shared by the FPGA (DPU), NPU and systolic models. A layer is seen per frame (one sample): output
plane out_h x out_w, a kernel_h x kernel_w kernel, `groups` groups of in_channels -> out_channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from accelsim.workload.ir import Op, pointwise
from accelsim.workload.trace import live_ranges, storage

if TYPE_CHECKING:
    from accelsim.config.common import MacArray


@dataclass(frozen=True)
class LayerShape:
    """One frame of a convolution or matmul, channels counted per group."""

    frames: int
    out_h: int
    out_w: int
    kernel_h: int
    kernel_w: int
    in_channels: int
    out_channels: int
    groups: int = 1

    @property
    def pixels(self) -> int:
        """Output pixels of one frame."""
        return self.out_h * self.out_w

    @property
    def depthwise(self) -> bool:
        """One input channel per group: a depthwise convolution."""
        return self.groups > 1 and self.in_channels == 1

    @property
    def macs(self) -> int:
        """MACs of one frame."""
        return (self.pixels * self.kernel_h * self.kernel_w * self.in_channels * self.out_channels
                * self.groups)


def _pair(value: object) -> tuple[int, int]:
    """A kernel attribute (int or pair) as (height, width)."""
    if isinstance(value, (tuple, list)):
        return int(value[0]), int(value[-1])
    return int(value), int(value)


def _frames_and_plane(op: Op, channels: int) -> tuple[int, int, int]:
    """(frames, out_h, out_w) from the output tensor (NCHW, NHWC or rows x features)."""
    gemm = op.gemm
    shape = op.outputs[0].shape if op.outputs else ()
    if len(shape) == 4:
        if shape[1] == channels:
            frames, out_h, out_w = shape[0], shape[2], shape[3]
        elif shape[3] == channels:
            frames, out_h, out_w = shape[0], shape[1], shape[2]
        else:
            frames, out_h, out_w = 1, 1, gemm.m
        if frames * out_h * out_w == gemm.m:
            return frames, out_h, out_w
    if len(shape) >= 2 and gemm.count == 1 and shape[0] >= 1 and gemm.m % shape[0] == 0:
        return shape[0], 1, gemm.m // shape[0]
    return 1, 1, gemm.m


def layer_shape(op: Op) -> LayerShape | None:
    """The per-frame layer geometry of a conv/matmul op (None for ops without a GEMM view)."""
    gemm = op.gemm
    if gemm is None:
        return None
    kernel_h, kernel_w = _pair(op.attr("kernel", 1))
    if gemm.k % (kernel_h * kernel_w):
        kernel_h = kernel_w = 1
    frames, out_h, out_w = _frames_and_plane(op, gemm.n * gemm.count)
    return LayerShape(frames=frames, out_h=out_h, out_w=out_w, kernel_h=kernel_h, kernel_w=kernel_w,
                      in_channels=gemm.k // (kernel_h * kernel_w), out_channels=gemm.n,
                      groups=gemm.count)


def array_cycles(shape: LayerShape, array: MacArray | None, macs_per_cycle: int) -> int:
    """Cycles for one frame: lanes quantise pixels and channels (ceil), as a DPU tiles a layer.

    Depthwise layers run `depthwise_pixels` pixels x `out_channels` channels per cycle, one kernel
    tap at a time. With channel augmentation, a layer with fewer input channels than lanes packs
    kernel-width taps into the idle lanes (the DPU's first-layer trick).
    """
    if array is None:
        return math.ceil(shape.macs / macs_per_cycle)
    taps = shape.kernel_h * shape.kernel_w
    if shape.depthwise:
        pixels = array.depthwise_pixels or array.pixels
        channels = shape.groups * shape.out_channels
        return math.ceil(shape.pixels / pixels) * taps * math.ceil(channels / array.out_channels)
    if array.channel_augmentation and shape.in_channels < array.in_channels:
        reduction = shape.kernel_h * math.ceil(shape.kernel_w * shape.in_channels / array.in_channels)
    else:
        reduction = taps * math.ceil(shape.in_channels / array.in_channels)
    return (shape.groups * math.ceil(shape.pixels / array.pixels) * reduction
            * math.ceil(shape.out_channels / array.out_channels))


def tiles(weight_bytes: float, input_bytes: float, weight_buffer: float, feature_buffer: float) -> int:
    """Tiles a layer splits into when each buffer is double-buffered (a tile fills half of it)."""
    return max(1, math.ceil(weight_bytes / (weight_buffer / 2)),
               math.ceil(input_bytes / (feature_buffer / 2)))


def dram_traffic(weight_bytes: float, input_bytes: float, output_bytes: float,
                 weight_buffer: float, feature_buffer: float) -> float:
    """DRAM bytes of one layer: every operand once, plus re-reads when neither operand fits.

    Two loop orders are possible; the cheaper one is taken (what a tiling compiler picks):
    weight chunks outer (the input is re-read once per extra chunk) or input bands outer (the
    weights are re-read once per extra band). Tiles are half a buffer (double buffering).
    """
    weight_chunks = math.ceil(weight_bytes / (weight_buffer / 2))
    input_bands = math.ceil(input_bytes / (feature_buffer / 2))
    rereads = min(input_bytes * max(weight_chunks - 1, 0), weight_bytes * max(input_bands - 1, 0))
    return weight_bytes + input_bytes + output_bytes + rereads


def pipelined(compute_s: float, memory_s: float, tile_count: int) -> float:
    """Time of `tile_count` double-buffered tiles: the slower stream, plus the faster one's first
    (or last) tile that nothing hides: max + min / tiles."""
    return max(compute_s, memory_s) + min(compute_s, memory_s) / tile_count



def resident_activations(ops: Sequence[Op], capacity: float) -> frozenset[str]:
    """Stored activations kept on chip for their whole life: walking the ops in order, each output
    stays when it fits beside those already kept over its live range (first fit, never evicted); a
    pointwise op writes it in place of a kept input of as many bytes that dies there. Network inputs
    start in and final outputs (read by no op) go to off-chip memory."""
    ops = tuple(ops)
    ranges = live_ranges(ops)
    occupied = np.zeros(len(ops))
    kept: set[str] = set()
    for i, op in enumerate(ops):
        hosts = [storage(t.name) for t in op.inputs
                 if pointwise(op) and storage(t.name) in kept and ranges[storage(t.name)][1] == i]
        for out in op.outputs:
            first, last, size = ranges[out.name]
            if first != i or last == i:
                continue
            host = next((name for name in hosts if ranges[name][2] == size), None)
            start = i if host is None else i + 1
            if occupied[start:last + 1].max() + size <= capacity:
                occupied[start:last + 1] += size
                kept.add(out.name)
                if host is not None:
                    hosts.remove(host)
    return frozenset(kept)
