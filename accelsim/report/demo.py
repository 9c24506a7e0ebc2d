"""The main job (`make demo`): bundled networks on one device of each kind, accelerators beside a
general-purpose server CPU, inference and training (training where the part can train: the FPGA
DPU and the phone NPU are inference-only)."""

from __future__ import annotations

import json
from pathlib import Path

from accelsim.result import Result

WORKLOADS = ("resnet50", "mobilenet_v2", "bert_base", "gpt2")
DEVICES = ("a100", "tpu_v4", "zcu102_dpu", "phone_npu", "xeon_8480")
RUNS = (("inference", 1), ("training", 8))   # (mode, batch)


def run_demo(out_dir: str, *, wide: bool = False) -> list[Result]:
    """Run the matrix, print one table, write demo.json and demo.png under `out_dir`."""
    from rich.progress import Progress

    from accelsim.api import load_device, simulate
    from accelsim.report.plots import comparison_figure
    from accelsim.report.tables import console, print_summary

    devices = {name: load_device(name) for name in DEVICES}
    jobs = [(w, d, mode, batch) for w in WORKLOADS for mode, batch in RUNS for d in DEVICES
            if mode in devices[d].modes]
    results = []
    with Progress(transient=True, console=console()) as progress:
        task = progress.add_task("simulating", total=len(jobs))
        for workload, device, mode, batch in jobs:
            results.append(simulate(workload, device, mode=mode, batch=batch))
            progress.advance(task)
    print_summary(results, "accelsim demo: latency and energy are per step (one batch)", wide=wide)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "demo.json").write_text(json.dumps([r.to_dict() for r in results], indent=1))
    comparison_figure(results, str(out / "demo.png"))
    console().print(f"wrote {out / 'demo.json'} and {out / 'demo.png'}")
    return results
