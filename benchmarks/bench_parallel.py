"""Speed of multi-device training and serving runs against the single-device run they build on.

Run: python benchmarks/bench_parallel.py. Prints warm wall times (best of a few runs) and each run's
time as a multiple of the baseline in the same process: one single-device training step of the same
network at the micro-batch size (parallel runs) or one inference pass over the prompt (serving).
"""

from __future__ import annotations


from accelsim import api
from accelsim.engine.serving import simulate_serving
from _timing import best_of

REPEATS = 3
PARALLEL = (("gpt3_175b", 1, 1024, "tp=8,pp=16,dp=8"), ("gpt2", 1, 64, "tp=2,pp=4,dp=8"),
            ("resnet50", 256, 8, "dp=8"))
SERVING = (("llama2_7b", 1, 128, 256), ("llama2_7b", 16, 1024, 1024), ("gpt2", 8, 128, 512))


def main() -> None:
    """Time simulate_parallel and simulate_serving against their single-device baselines."""
    device = api.load_device("a100")
    print(f"{'run':44} {'baseline s':>10} {'run s':>8} {'x baseline':>10}")
    for name, batch, devices, layout in PARALLEL:
        base = best_of(lambda: api.simulate(name, device, mode="training", batch=batch), REPEATS)
        run = best_of(lambda: api.simulate_parallel(name, device, devices=devices,
                                                    parallel=layout, batch=batch), REPEATS)
        label = f"{name} b{batch} on {devices} ({layout})"
        print(f"{label:44} {base:10.3f} {run:8.3f} {run / base:10.2f}")
    for name, batch, prompt, generate in SERVING:
        base = best_of(lambda: api.simulate(name, device, batch=batch, seq_len=prompt), REPEATS)
        run = best_of(lambda: simulate_serving(name, device, batch=batch, prompt=prompt,
                                               generate=generate), REPEATS)
        label = f"serve {name} b{batch} prompt {prompt} generate {generate}"
        print(f"{label:44} {base:10.3f} {run:8.3f} {run / base:10.2f}")


if __name__ == "__main__":
    main()
