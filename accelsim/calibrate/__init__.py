"""Calibration and validation of device models against measurements: validate.py compares
predictions with published rows; measurements.py reads measurement CSVs, fit.py fits a device's
efficiencies to them with held-out error bars and device_file.py writes the calibrated device."""
