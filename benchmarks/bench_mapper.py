"""Speed and gain of the mapping search: whole networks with --mapping search against fixed.

Run: python benchmarks/bench_mapper.py. Prints the search time per network (mapper memo cleared,
kernels warm) and the energy the searched mappings save over the device's fixed ones.
"""

from __future__ import annotations

import time

from accelsim.api import simulate
from accelsim.devices import mapper

CASES = (("resnet50", "tpu_v5e", {}), ("resnet50", "scalesim_32x32", {"memory.model": "accelsim"}),
         ("bert_base", "tpu_v5e", {}),
         ("vgg16", "eyeriss", {"batch": 3, "precision": "int16", "only": "conv2d"}),
         ("alexnet", "eyeriss", {"batch": 4, "precision": "int16", "only": "conv2d"}))


def run(workload: str, device: str, options: dict, mode: str):
    """One run under `mode`, with its wall time."""
    sets = [f"{key}={value}" for key, value in options.items() if "." in key]
    kwargs = {key: value for key, value in options.items() if "." not in key}
    start = time.perf_counter()
    result = simulate(workload, device, overrides=[f"mapping.mode={mode}", *sets], **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    """Each case: fixed (warm) and search (memo cleared) wall times, energy saved."""
    for workload, device, options in CASES:
        run(workload, device, options, "fixed")
        fixed, fixed_s = run(workload, device, options, "fixed")
        mapper.search.cache_clear()
        searched, search_s = run(workload, device, options, "search")
        saved = 1 - searched.totals["energy_j"] / fixed.totals["energy_j"]
        print(f"{workload} on {device}: fixed {fixed_s:.2f} s, search {search_s:.2f} s, "
              f"energy saved {saved:.1%}")


if __name__ == "__main__":
    main()
