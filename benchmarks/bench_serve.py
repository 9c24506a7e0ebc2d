"""Speed of serving under load: requests simulated per second of wall time.

Run: python benchmarks/bench_serve.py. Each case simulates REQUESTS requests of llama2_7b on an A100
(ShareGPT-like lengths, Poisson arrivals) from a cold cost grid, as `accelsim serve` does, and
prints wall seconds, requests per wall second, grid points costed and the ratio against the
baseline in the same process: one single-request `run --mode serve` (simulate_serving).
"""

from __future__ import annotations

import time

from accelsim.engine.serve_load import prepare_serving, run_load
from accelsim.engine.serving import simulate_serving
from accelsim.kernels._jit import single_run
from accelsim.workload.requests import profile_lengths, synthetic_requests
from _timing import best_of

REQUESTS = 2000
CASES = (("continuous", 2.0), ("chunked", 2.0), ("static", 0.5))


def main() -> None:
    """Time run_load for each scheduler against simulate_serving of one request."""
    prompt, output = profile_lengths("sharegpt")
    with single_run():
        base = best_of(lambda: simulate_serving("llama2_7b", "a100", prompt=512, generate=128), 3)
        print(f"baseline: run --mode serve, one request: {base:.3f} s")
        print(f"{'scheduler':12} {'qps':>5} {'wall s':>8} {'requests/s':>11} {'grid pts':>9} "
              f"{'x baseline':>10}")
        for scheduler, qps in CASES:
            start = time.perf_counter()
            requests = synthetic_requests(REQUESTS, qps, prompt=prompt, output=output, seed=0,
                                          max_tokens=4096)
            setup = prepare_serving("llama2_7b", "a100", scheduler=scheduler,
                                    max_batch=8 if scheduler == "static" else 256,
                                    max_prompt=int(requests.prompt.max()))
            run_load(setup, requests)
            wall = time.perf_counter() - start
            print(f"{scheduler:12} {qps:5.1f} {wall:8.2f} {REQUESTS / wall:11.0f} "
                  f"{setup.cost.points_costed:9d} {wall / base:10.1f}")


if __name__ == "__main__":
    main()
