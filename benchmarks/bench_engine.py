"""Speed of the event engine against the analytic engine on zoo training traces (A100 costs).

Run: python benchmarks/bench_engine.py. Prints warm wall times (best of several runs), simulated ops
and simpy events per second, and the event engine's time as a multiple of the analytic engine's, for
the concurrent engine, the same with weight prefetch, and the serial one; then the multi-device
training step on the event engine with shared links (accelsim.engine.cluster_sim): GPT-3 175B on
1,024 A100s, its events per second and its time as a multiple of the rest of simulate_parallel.
"""

from __future__ import annotations

import math

from accelsim.api import build_trace, load_device
from accelsim.devices import cost_all
from accelsim.devices.interconnect import default_cluster
from accelsim.engine import analytic, cluster_sim, sim
from accelsim.engine.parallel import simulate_parallel
from accelsim.workload.zoo import build
from _timing import best_of

WORKLOADS = (("gpt2", 8), ("resnet50", 32), ("llama2_7b", 1))
REPEATS = 20
STEP = ("gpt3_175b", 1024, "tp=8,pp=16,dp=8")


def main() -> None:
    """Time analytic.schedule and the event engine (concurrent, with prefetch, serial) on each trace."""
    device = load_device("a100")
    print(f"{'trace':22} {'ops':>5} {'engine':>10} {'ms':>7} {'ops/s':>9} {'events/s':>9} "
          f"{'x analytic':>10} {'makespan':>10}")
    for name, batch in WORKLOADS:
        trace = build_trace(build(name, batch=batch), "training")
        ops, costs = trace.ops, cost_all(trace.ops, device)
        base_s = best_of(lambda: analytic.schedule(ops, costs))
        label = f"{name} b{batch} training"
        print(f"{label:22} {len(ops):5} {'analytic':>10} {base_s * 1e3:7.2f} {len(ops) / base_s:9,.0f} "
              f"{'':>9} {1.0:10.2f} {math.fsum(c.latency_s for c in costs) * 1e3:8.3f}ms")
        for engine, serial, prefetch in (("event", False, False), ("prefetch", False, True),
                                         ("serial", True, False)):
            timeline = sim.run(ops, costs, serial=serial, prefetch=prefetch)
            run_s = best_of(lambda: sim.run(ops, costs, serial=serial, prefetch=prefetch))
            print(f"{'':22} {'':5} {engine:>10} {run_s * 1e3:7.2f} {len(ops) / run_s:9,.0f} "
                  f"{timeline.events / run_s:9,.0f} {run_s / base_s:10.2f} "
                  f"{timeline.makespan_s * 1e3:8.3f}ms")

    training_step(device)


def training_step(device) -> None:
    """Time cluster_sim.simulate_step on GPT-3's step against the rest of simulate_parallel."""
    name, devices, layout = STEP
    whole_s = best_of(lambda: simulate_parallel(name, device, devices=devices, parallel=layout), 3)
    result = simulate_parallel(name, device, devices=devices, parallel=layout)
    plan = cluster_sim.plan_step(result.stages, result.config, default_cluster(device))
    timeline = cluster_sim.simulate_step(plan)
    run_s = best_of(lambda: cluster_sim.simulate_step(plan), 5)
    label = f"{name} step, {devices} devices ({layout})"
    print(f"{label}: {timeline.events:,} events in {run_s * 1e3:.1f} ms, "
          f"{timeline.events / run_s:,.0f} events/s, {run_s / (whole_s - run_s):.2f} x the rest of "
          f"simulate_parallel; step {timeline.step_time_s:.3f} s")


if __name__ == "__main__":
    main()
