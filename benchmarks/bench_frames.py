"""Speed of the frame simulation (accelsim.engine.frames) against the event engine, per op run.

Run: python benchmarks/bench_frames.py. Prints warm wall times (best of several runs), frames and ops
simulated per second, and the time per op as a multiple of the event engine's (sim.run, serial) on
one frame of the same model.
"""

from __future__ import annotations

from accelsim.api import build_trace, load_device
from accelsim.devices import cost_all
from accelsim.engine import sim
from accelsim.engine.frames import model_stream, simulate_frames
from accelsim.workload.zoo import build
from _timing import best_of

SCENARIOS = (   # (device, [(model, fps)], duration s): the edge example, then an overloaded part
    ("phone_npu", [("facedet", 60), ("mobilenet_v2", 30)], 2.0),
    ("coral_edgetpu", [("facedet", 400), ("facedet", 400)], 2.0),
)
REPEATS = 3


def main() -> None:
    """Time simulate_frames on each scenario and sim.run on one frame of its first model."""
    print(f"{'scenario':44} {'ms':>8} {'frames/s':>10} {'ops/s':>10} {'x sim.run/op':>12}")
    for device_name, models, duration in SCENARIOS:
        device = load_device(device_name)
        streams = [model_stream(m, device, fps, name=f"{m}@{fps}") for m, fps in models]
        run = simulate_frames(streams, duration_s=duration)
        run_s = best_of(lambda: simulate_frames(streams, duration_s=duration), REPEATS)
        trace = build_trace(build(models[0][0], batch=1, precision="int8"), "inference")
        costs = cost_all(trace.ops, device)
        base_s = best_of(lambda: sim.run(trace.ops, costs, serial=True), REPEATS)
        label = f"{device_name}: " + " + ".join(f"{m}@{fps}" for m, fps in models)
        ops = len(run.slices)
        print(f"{label:44} {run_s * 1e3:8.1f} {len(run.frames) / run_s:10,.0f} {ops / run_s:10,.0f} "
              f"{(run_s / ops) / (base_s / len(trace.ops)):12.2f}")


if __name__ == "__main__":
    main()
