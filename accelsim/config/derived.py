"""What device configs compute from their fields (peak rates, PE counts, intervals), kept apart from
the pydantic schemas so that a cached device (accelsim.config.plain) has it without pydantic."""

from __future__ import annotations

import math


class MemoryDerived:
    """Off-chip memory."""

    @property
    def effective_bandwidth(self) -> float:
        """Achievable bytes/s: peak bandwidth x efficiency."""
        return self.bandwidth * self.efficiency


class PowerDerived:
    """Board or chip power."""

    @property
    def busy(self) -> float:
        """Watts drawn while running before dynamic energy: idle + active."""
        return self.idle + self.active


class MacArrayDerived:
    """A MAC array's lanes."""

    @property
    def macs(self) -> int:
        """MACs per cycle when every lane is busy."""
        return self.pixels * self.in_channels * self.out_channels


class EfficiencyDerived:
    """Achievable fractions of peak: `compute`, or `per_precision` where it differs."""

    def gemm(self, precision: str) -> float:
        """Achievable fraction of the dense peak for GEMMs at `precision`."""
        return self.per_precision.get(precision, self.compute)


class CalibrationDerived:
    """A `calibration:` block's interval."""

    def interval(self, seconds: float) -> tuple[float, float]:
        """(low, high) bounds on a predicted time at `coverage`."""
        return seconds * math.exp(self.log_error_lo), seconds * math.exp(self.log_error_hi)

    def describe(self) -> str:
        """One line: how the interval was made."""
        return (f"{self.coverage:.0%} interval from {self.residuals} held-out residuals of "
                f"{self.measurements} ({self.date}); {self.method}".rstrip("; "))


class DeviceDerived:
    """Every device kind."""

    def peak_flops(self, precision: str) -> float:
        """Peak dense FLOP/s at `precision` (0 if the device cannot compute at it)."""
        raise NotImplementedError

    def supports(self, precision: str) -> bool:
        """Whether the device computes natively at `precision`."""
        return self.peak_flops(precision) > 0


class SystolicDerived(DeviceDerived):
    """A chip of systolic arrays."""

    @property
    def pes(self) -> int:
        """Processing elements (MAC units) on the chip."""
        return self.array.rows * self.array.cols * self.arrays_per_core * self.cores

    def peak_flops(self, precision: str) -> float:
        """2 FLOPs per PE per cycle at any supported precision."""
        return 2.0 * self.pes * self.clock if precision in self.precisions else 0.0


class GpuDerived(DeviceDerived):
    """A GPU whose datasheet peaks scale with SMs x clock."""

    @property
    def peak_scale(self) -> float:
        """SMs x clock relative to `peak_at`: what the datasheet peaks are multiplied by."""
        if self.peak_at is None:
            return 1.0
        return self.sms / self.peak_at.sms * (self.clock / self.peak_at.clock)

    def peak_flops(self, precision: str) -> float:
        """Peak dense FLOP/s: the datasheet table scaled to this config's SMs and clock."""
        return self.peak.get(precision, 0.0) * self.peak_scale

    @property
    def vector_flops(self) -> float:
        """CUDA-core FLOP/s for non-GEMM math: the fp32 peak (the slowest listed rate if absent)."""
        return (self.peak.get("fp32") or min(self.peak.values())) * self.peak_scale


class CpuDerived(DeviceDerived):
    """A CPU socket with SIMD and matrix units."""

    def flops_per_cycle(self, precision: str) -> int:
        """FLOPs per cycle per core at `precision` on the faster of the SIMD and matrix units."""
        return max(self.simd.get(precision, 0), self.matrix.get(precision, 0))

    def peak_flops(self, precision: str) -> float:
        """cores x clock x FLOPs/cycle/core at `precision` (0 if neither unit computes at it)."""
        return float(self.cores * self.flops_per_cycle(precision)) * self.clock

    def on_matrix_unit(self, precision: str) -> bool:
        """Whether GEMMs at `precision` run on the matrix unit (it beats the SIMD units)."""
        return self.matrix.get(precision, 0) > self.simd.get(precision, 0)

    @property
    def vector_flops(self) -> float:
        """SIMD FLOP/s for non-GEMM math: the fp32 rate (the slowest SIMD rate if absent)."""
        per_cycle = self.simd.get("fp32") or min(self.simd.values())
        return float(self.cores * per_cycle) * self.clock


class FpgaDerived(DeviceDerived):
    """An FPGA running a DPU overlay."""

    @property
    def feature_buffer(self) -> float:
        """Bytes of one core's activation (image) banks."""
        return self.dpu.feature_buffer if self.dpu.feature_buffer is not None else self.bram / 2

    @property
    def weight_buffer(self) -> float:
        """Bytes of one core's weight banks: the rest of its BRAM."""
        return self.bram - self.feature_buffer

    def peak_flops(self, precision: str) -> float:
        """cores x ops/cycle x clock at a supported precision."""
        if precision not in self.precisions:
            return 0.0
        return float(self.dpu.cores * self.dpu.ops_per_cycle) * self.clock


class NpuDerived(DeviceDerived):
    """An NPU's MAC array."""

    def peak_flops(self, precision: str) -> float:
        """2 x MACs/cycle x clock at a supported precision."""
        return 2.0 * self.macs_per_cycle.get(precision, 0) * self.clock
