"""The device YAML a calibration writes: `extends:` the base device, the fitted values with their
source in comments, and a `calibration:` block that later runs draw their intervals from."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import yaml

from accelsim.calibrate.fit import Fit


def extends_value(device: str, out_path: Path) -> str:
    """How the written file names its base: a bundled name as given, a file relative to it."""
    from accelsim.config.paths import resolve

    path = resolve(device)
    if Path(device).name == device and not device.endswith((".yaml", ".yml")):
        return device
    return Path(os.path.relpath(path, out_path.resolve().parent)).as_posix()


def calibration_block(fit: Fit, measurements: str) -> dict:
    """The `calibration:` mapping of the device schema (accelsim.config.calibration)."""
    return {"measurements": measurements,
            "date": datetime.now(timezone.utc).date().isoformat(),
            "rows": len(fit.rows), "fitted": [p.key for p in fit.params],
            "coverage": fit.coverage, "residuals": fit.residuals,
            "log_error_lo": round(fit.log_error_lo, 6), "log_error_hi": round(fit.log_error_hi, 6),
            "median_abs_error_before": round(fit.median_abs_error(fit.before), 6),
            "median_abs_error_after": round(fit.median_abs_error(fit.held_out), 6),
            "method": fit.method}


def device_yaml(fit: Fit, device: str, measurements: str, out_path: Path) -> str:
    """The text of the calibrated device file."""
    source = f"fitted to {len(fit.rows)} rows of {measurements}"
    lines = [f"# {device} calibrated by `accelsim calibrate` ({source}).",
             "# Runs on this device report latency_s_lo/_hi (and rate bounds) from `calibration`.",
             f"extends: {extends_value(device, out_path)}"]
    nested: dict = {}
    for p, value in zip(fit.params, fit.values):
        *parents, leaf = p.key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        shown = f"{value * 1e6:.4g} us" if not p.log else f"{value:.4f}"
        was = f"{p.start * 1e6:.4g} us" if not p.log else f"{p.start:.4f}"
        node[leaf] = (shown, f"{source} (was {was})")
    lines += _lines(nested, 0)
    block = yaml.safe_dump({"calibration": calibration_block(fit, measurements)},
                           sort_keys=False, width=100)
    return "\n".join(lines) + "\n" + block


def _lines(tree: dict, depth: int) -> list[str]:
    """Nested (value, comment) leaves as indented YAML lines."""
    out = []
    for key, value in tree.items():
        indent = "  " * depth
        if isinstance(value, dict):
            out += [f"{indent}{key}:", *_lines(value, depth + 1)]
        else:
            shown, comment = value
            out.append(f"{indent}{key}: {shown}    # {comment}")
    return out
