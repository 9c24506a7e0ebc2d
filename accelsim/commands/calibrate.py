"""`accelsim calibrate`: fit a device's efficiency parameters to measurements, with error bars."""

from __future__ import annotations

import math
from pathlib import Path

import click

from accelsim.commands.common import WIDE, Finite, emit_json, single_run
from accelsim.errors import UsageError


@click.command(epilog="""\b
Examples:
  accelsim calibrate -d a100 -m calibrate/examples/a100_gemm.csv -o a.yaml --fit efficiency.compute
  accelsim run gemm --device a.yaml --param m=4096 --param n=4096 --param k=4096 --json
""")
@click.option("--device", "-d", required=True, help="Bundled device name or YAML path.")
@click.option("--measurements", "-m", required=True, type=click.Path(dir_okay=False),
              help="CSV: workload,device,mode,batch,precision,metric,value,unit (see "
                   "accelsim.calibrate.measurements); rows of other devices are skipped.")
@click.option("--out", "-o", "out_path", required=True, type=click.Path(dir_okay=False),
              help="The calibrated device YAML to write (it extends --device).")
@click.option("--fit", "keys", multiple=True, metavar="KEY",
              help="Fit only these dotted keys (default: every efficiency and overhead that moves "
                   "a prediction, at most one per two rows).")
@click.option("--coverage", type=Finite(min=0.5, max=0.99), default=0.8, show_default=True,
              help="Probability the interval later runs report should hold.")
@WIDE
@click.option("--json", "as_json", is_flag=True, help="Print the fit as JSON.")
@single_run
def calibrate(device, measurements, out_path, keys, coverage, wide, as_json):
    """Fit a device's efficiencies and overheads to measured numbers, print each row's error
    before and held out (leave-one-out) after, and write a device YAML whose runs report
    latency_s_lo / latency_s_hi bounds from those held-out errors."""
    from accelsim.bundled import bundled
    from accelsim.calibrate.device_file import device_yaml
    from accelsim.calibrate.fit import fit
    from accelsim.calibrate.measurements import read_measurements
    from accelsim.config.loader import load_device

    path = bundled(measurements)
    rows = _rows_of(device, read_measurements(path), str(path))
    result = fit(device, rows, keys=keys, coverage=coverage)
    out = Path(out_path)
    text = device_yaml(result, device, measurements, out)
    try:
        out.write_text(text)
    except OSError as exc:
        raise UsageError(f"cannot write: {exc.strerror or exc}", file=out_path) from None
    load_device(out)                 # the file written loads, or the error names it
    if as_json:
        emit_json({**result.to_dict(), "out": out_path})
    else:
        _print(result, out_path, wide)


def _rows_of(device: str, rows: list, file: str) -> list:
    """The rows measured on `device` (by the name or path given)."""
    from accelsim.config.paths import resolve

    target = resolve(device)
    mine = [row for row in rows if row.device == device or _same_file(row.device, target)]
    if not mine:
        named = sorted({row.device for row in rows})
        raise UsageError(f"no rows for device {device!r}; the file has {', '.join(named)}",
                         file=file, key="device")
    return mine


def _same_file(spec: str, target: Path) -> bool:
    """Whether a row's device names the file `target`."""
    from accelsim.config.paths import resolve
    from accelsim.errors import AccelsimError

    try:
        return resolve(spec) == target
    except AccelsimError:
        return False


def _print(result, out_path: str, wide: bool) -> None:
    """Per-row errors before and held out after, the fitted values and the interval."""
    from accelsim.report.tables import console, show_rows

    out = console(wide)
    rows = [[row.label, row.workload, row.metric, f"{row.value:g} {row.unit}",
             f"{before / row.si - 1:+.1%}", f"{after / row.si - 1:+.1%}"]
            for row, before, after in zip(result.rows, result.before, result.held_out)]
    held = result.held_out_label
    show_rows(out, f"prediction error per row: as shipped, and {held} after the fit",
              ("row", "workload", "metric", "measured", "before", "after"), rows)
    out.print(f"median |error| over {len(result.rows)} rows: "
              f"{result.median_abs_error(result.before):.1%} before, "
              f"{result.median_abs_error(result.held_out):.1%} after ({held})")
    for p, value in zip(result.params, result.values):
        out.print(f"fitted {p.key}: {p.start:.4g} -> {value:.4g}")
    out.print(f"{result.coverage:.0%} interval on later predictions: times x "
              f"[{result.log_error_lo:+.3f}, {result.log_error_hi:+.3f}] in log "
              f"({_pct(result.log_error_lo)} to {_pct(result.log_error_hi)}); {result.method}")
    out.print(f"wrote {out_path}")


def _pct(log_error: float) -> str:
    """A log error as a signed percentage."""
    return f"{math.exp(log_error) - 1:+.1%}"
