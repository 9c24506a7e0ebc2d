"""Calibration and validation of device models against published measurements (see validate.py)."""
