"""The package version, read by setuptools (pyproject's dynamic version) and by results."""

__version__ = "0.1.0"
