"""Print the single-GEMM error report against calibrate/gemm_public.csv, per regime and split.

Run: PYTHONPATH=. python benchmarks/gemm_public_report.py [--rows]
"""

import sys

from accelsim.calibrate.gemm_public import evaluate, report


def main(show_rows: bool) -> None:
    """Per-row errors (optional), then median and p90 |error| per regime for each split."""
    rows = evaluate()
    if show_rows:
        for r in rows:
            print(f"{r.id} {r.device} {r.m:>5}x{r.n:>5}x{r.k:>5} {r.precision:5} {r.split:8} "
                  f"{r.regime:7} measured {r.measured_s * 1e6:9.1f} us  predicted "
                  f"{r.predicted_s * 1e6:9.1f} us  {r.error_pct:+6.1f}%")
    for split in ("fit", "held-out"):
        print(f"{split}: regime rows median|err|% p90|err|%")
        for name, (count, median, p90) in report(rows, split).items():
            print(f"  {name:8} {count:3d} {median:6.1f} {p90:6.1f}")


if __name__ == "__main__":
    main("--rows" in sys.argv)
