"""Calibration and validation of device models against published measurements."""

from accelsim.calibrate.validate import CASES, ValidationReport, validate

__all__ = ["CASES", "ValidationReport", "validate"]
