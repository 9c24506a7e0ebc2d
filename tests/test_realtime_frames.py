"""Camera frames with deadlines (engine.frames, queries.realtime): schedules worked out by hand,
the utilisation bound, Liu & Layland's rate-monotonic bound, determinism, and the CLI."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.api import load_device, simulate
from accelsim.engine.frame_stats import all_stats, frame_timeline
from accelsim.engine.frames import Stream, fit_together, model_stream, simulate_frames
from accelsim.errors import UsageError
from accelsim.queries.realtime import parse_sharing, realtime
from accelsim.workload.trace import MemoryBreakdown
from hostile.cli import accelsim, assert_clean_error

PHONE_NPU_IDLE = 0.05        # hw_configs/npu/phone_npu.yaml


def stream(name: str, fps: float, *ops: float, host: tuple[bool, ...] = ()) -> Stream:
    """A synthetic stream whose frames run `ops` (seconds) on the accelerator unless `host` says."""
    return Stream(name=name, fps=fps, latencies=ops, on_host=host or (False,) * len(ops))


def rm_schedulable(streams: list[Stream]) -> bool:
    """Liu & Layland's rate-monotonic test (1973) with blocking (Sha, Rajkumar & Lehoczky 1990): in
    priority order, sum_{j<=i} C_j/T_j + B_i/T_i <= i (2^(1/i) - 1), B_i the longest op of a
    lower-priority stream (non-preemptive at op granularity)."""
    ordered = sorted(streams, key=lambda s: -s.fps)
    for i, s in enumerate(ordered, start=1):
        blocking = max((max(o.latencies) for o in ordered[i:]), default=0.0)
        load = sum(o.latency_s * o.fps for o in ordered[:i]) + blocking * s.fps
        if load > i * (2 ** (1 / i) - 1):
            return False
    return True


# -- schedules by hand ---------------------------------------------------------------------------

def test_overloaded_stream_runs_late_frames_and_drops_those_that_would_start_after_the_deadline():
    # 1 fps, 1.5 s frames: 0 [0, 1.5) late; 1 [1.5, 3) late; 2 due at 3, could start at 3: dropped;
    # 3 [3, 4.5) late; 4 [4.5, 6) late; 5 due at 6: dropped.
    run = simulate_frames([stream("slow", 1.0, 1.5)], duration_s=6)
    assert [f.status for f in run.frames] == ["late", "late", "dropped"] * 2
    assert [f.start_s for f in run.frames] == [0.0, 1.5, None, 3.0, 4.5, None]
    assert run.span_s == 6.0


def test_round_robin_takes_turns_by_op_and_priority_runs_the_first_stream_through():
    a, b = stream("a", 10, 1e-3, 1e-3), stream("b", 10, 1e-3, 1e-3)
    robin = all_stats(simulate_frames([a, b], duration_s=0.1, policy="round_robin"))[0]
    first = all_stats(simulate_frames([a, b], duration_s=0.1, policy="priority"))[0]
    # round robin: a0 [0,1] b0 [1,2] a1 [2,3] b1 [3,4] ms; priority (tie: order): a [0,2], b [2,4]
    assert [s.latency_p50_s for s in robin] == [pytest.approx(3e-3), pytest.approx(4e-3)]
    assert [s.latency_p50_s for s in first] == [pytest.approx(2e-3), pytest.approx(4e-3)]


def test_priority_serves_the_higher_frame_rate_first():
    slow, fast = stream("slow", 10, 2e-3), stream("fast", 20, 1e-3)
    each, _ = all_stats(simulate_frames([slow, fast], duration_s=0.1))
    assert each[1].latency_p99_s == pytest.approx(1e-3)          # never waits: both arrive at 0
    assert each[0].latency_p99_s == pytest.approx(3e-3)          # waits for fast's 1 ms


def test_host_ops_overlap_another_streams_accelerator_ops():
    on_host = stream("cpu", 100, 6e-3, host=(True,))
    on_npu = stream("npu", 100, 6e-3)
    each, total = all_stats(simulate_frames([on_host, on_npu], duration_s=0.1))
    assert [s.latency_p99_s for s in each] == [pytest.approx(6e-3)] * 2
    assert total.missed == 0
    assert (total.accelerator_utilization, total.host_utilization) == (pytest.approx(0.6),) * 2
    shared = simulate_frames([on_host, stream("cpu2", 100, 6e-3, host=(True,))], duration_s=0.1)
    second = next(f for f in shared.frames if f.stream == 1)     # waits 6 ms for the host
    assert (second.start_s, second.end_s, second.status) == (6e-3, pytest.approx(12e-3), "late")


def test_a_relative_deadline_replaces_the_period():
    run = simulate_frames([stream("a", 10, 30e-3)], duration_s=1, deadline_s=20e-3)
    assert all(f.status == "late" for f in run.frames)
    assert all(f.deadline_s == pytest.approx(f.arrival_s + 20e-3) for f in run.frames)


# -- the utilisation bound -----------------------------------------------------------------------

@pytest.mark.parametrize("policy", ["priority", "round_robin"])
@pytest.mark.parametrize("rates, ops", [((100, 100), 7), ((100, 50, 50), 6), ((200, 100), 4)])
def test_overload_misses_at_least_the_utilisation_bound(policy, rates, ops):
    # Every frame is `ops` ops of 1 ms. Frames on time end by duration + D and the accelerator does
    # at most that much work by then, so they are at most (duration + D) / C of N = U x duration / C
    # frames: miss rate >= 1 - 1/U - D/(U x duration), 1 - 1/U as the duration grows.
    duration, work = 1.0, ops * 1e-3
    streams = [stream(f"s{i}", fps, *[1e-3] * ops) for i, fps in enumerate(rates)]
    utilisation = sum(fps * work for fps in rates)
    assert utilisation > 1
    run = simulate_frames(streams, duration_s=duration, policy=policy)
    total = all_stats(run)[1]
    longest_deadline = 1 / min(rates)
    assert total.frames == sum(rates) * duration
    horizon = longest_deadline / (utilisation * duration)
    assert total.deadline_miss_rate >= 1 - 1 / utilisation - horizon
    assert total.accelerator_utilization == pytest.approx(1.0, abs=0.05)   # never idle


def test_overloaded_phone_part_misses_at_least_the_utilisation_bound():
    answer = realtime("facedet", ["coral_edgetpu"], 400, sharing=[("facedet", 400)], duration_s=0.2)
    latency = simulate("facedet", "coral_edgetpu")["latency_s"]
    utilisation = 2 * 400 * latency
    assert utilisation > 1
    total = answer.to_dict()["frames"]["total"]
    assert total["frames"] == 160
    assert total["deadline_miss_rate"] >= 1 - 1 / utilisation - (1 / 400) / (utilisation * 0.2)


# -- Liu & Layland ---------------------------------------------------------------------------------

def test_two_models_under_the_rate_monotonic_bound_miss_nothing_under_priority():
    detector = model_stream("facedet", "coral_edgetpu", 200, name="facedet")
    segmenter = model_stream("mobilenet_v2", "coral_edgetpu", 100, name="mobilenet_v2")
    utilisation = detector.latency_s * 200 + segmenter.latency_s * 100
    assert utilisation < 2 * (math.sqrt(2) - 1)                  # 0.828
    assert rm_schedulable([detector, segmenter])
    answer = realtime("mobilenet_v2", ["coral_edgetpu"], 100, sharing=[("facedet", 200)],
                      duration_s=0.5)
    frames = answer.to_dict()["frames"]
    assert frames["total"]["missed"] == 0 and frames["total"]["frames"] == 150


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([20, 25, 40, 50, 100]),
                          st.lists(st.floats(1e-4, 6e-3), min_size=1, max_size=5)),
                min_size=2, max_size=3))
def test_streams_passing_the_rate_monotonic_test_miss_nothing(specs):
    streams = [stream(f"s{i}", fps, *ops) for i, (fps, ops) in enumerate(specs)]
    if not rm_schedulable(streams):
        return
    total = all_stats(simulate_frames(streams, duration_s=0.2))[1]
    assert total.missed == 0


# -- a model alone, energy, determinism ----------------------------------------------------------

def test_a_model_alone_well_under_its_period_misses_nothing_at_its_single_run_latency():
    run = simulate("facedet", "phone_npu")
    answer = realtime("facedet", ["phone_npu"], 60, duration_s=1.0)
    frames = answer.to_dict()["frames"]
    (model,), total = frames["models"], frames["total"]
    assert (model["frames"], model["missed"]) == (60, 0)
    assert model["latency_p50_s"] == pytest.approx(run["latency_s"], rel=1e-9)
    # 60 frames in 1 s: each frame's energy (static included) plus idle power for the rest
    power = 60 * run["energy_j"] + PHONE_NPU_IDLE * (1 - 60 * run["latency_s"])
    assert total["average_power_w"] == pytest.approx(power, rel=1e-9)
    assert total["accelerator_utilization"] == pytest.approx(60 * run["latency_s"], rel=1e-9)
    assert answer.budgets[0].latency_s == run["latency_s"]        # the budget is still there


def test_jitter_0_ignores_the_seed_and_a_seed_repeats_its_jitter():
    streams = [stream("a", 60, 4e-3, 2e-3), stream("b", 30, 9e-3)]
    plain = [simulate_frames(streams, duration_s=1, seed=seed).frames for seed in (1, 2)]
    assert plain[0] == plain[1]
    jittered = [simulate_frames(streams, duration_s=1, jitter_s=5e-3, seed=seed).frames
                for seed in (7, 7, 8)]
    assert jittered[0] == jittered[1] != jittered[2]
    assert all(0 <= f.arrival_s - f.index / (60, 30)[f.stream] < 5e-3 for f in jittered[0])


def test_timeline_has_each_frame_and_its_ops():
    run = simulate_frames([stream("a", 10, 1e-3, 2e-3, host=(False, True)), stream("b", 10, 1e-3)],
                          duration_s=0.2)
    names = {(layer.unit, layer.name) for layer in frame_timeline(run).layers}
    assert {("accelerator", "a #0"), ("host", "a #1"), ("a frames", "a #1"),
            ("b frames", "b #0")} <= names


@pytest.mark.parametrize("text, fragment", [
    ("mobilenet_v2", "MODEL@FPS"), ("@30", "MODEL@FPS"), ("mobilenet_v2@0", "positive"),
    ("mobilenet_v2@-5", "positive"), ("mobilenet_v2@inf", "finite"), ("mobilenet_v2@x", "number")])
def test_parse_sharing_rejects(text, fragment):
    with pytest.raises(UsageError, match=fragment):
        parse_sharing(text)


def test_models_sharing_a_device_must_fit_its_memory_at_once():
    phone = load_device("phone_npu")                              # 8 GiB LPDDR5
    five = Stream("a", 1, (1.0,), (False,), memory=MemoryBreakdown(weights=4 << 30,
                                                                   activations=1 << 30))
    assert fit_together([five], phone) == {"fits_in_memory": True}
    with pytest.warns(UserWarning, match="10 GiB for all models at once"):
        assert fit_together([five, five], phone)["fits_in_memory"] is False


def test_too_many_frames_are_refused():
    with pytest.raises(UsageError, match="duration"):
        simulate_frames([stream("a", 1e6, 1e-3)], duration_s=2)


@pytest.mark.parametrize("option, value", [("seed", -1), ("seed", 1.5), ("jitter_s", math.nan),
                                           ("deadline_s", 0.0), ("policy", "edf")])
def test_bad_simulation_settings_are_refused(option, value):
    with pytest.raises(UsageError, match=option.split("_")[0]):
        simulate_frames([stream("a", 10, 1e-3)], duration_s=1, **{option: value})


# -- the CLI ---------------------------------------------------------------------------------------

def test_cli_json_timeline_and_table(tmp_path):
    trace = tmp_path / "frames.json"
    done = accelsim("realtime", "facedet", "-d", "phone_npu", "--fps", "60", "--with",
                    "mobilenet_v2@30", "--duration", "0.5", "--jitter", "2", "--seed", "3",
                    "--timeline", str(trace), "--json")
    assert done.code == 0, done.err
    data = json.loads(done.out)
    assert data["devices"][0]["meets"] is True                   # the budget's fields stay
    frames = data["frames"]
    assert [m["name"] for m in frames["models"]] == ["facedet@60", "mobilenet_v2@30"]
    assert (frames["total"]["frames"], frames["jitter_s"], frames["seed"]) == (45, 0.002, 3)
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("name") == "mobilenet_v2@30 #14" for e in events)
    table = accelsim("realtime", "facedet", "-d", "phone_npu", "--fps", "60", "--with",
                     "mobilenet_v2@30", "--duration", "0.5")
    assert table.code == 0 and "frames on phone_npu" in table.out and "total" in table.out


@pytest.mark.parametrize("args, fragments", [
    (["--with", "nosuch@30"], ["--with", "nosuch@30", "unknown network"]),
    (["--with", "mobilenet_v2@0"], ["--with", "positive"]),
    (["--with", "mobilenet_v2@-1"], ["--with", "positive"]),
    (["--with", "mobilenet_v2"], ["--with", "MODEL@FPS"]),
    (["--with", "mobilenet_v2@nan"], ["--with"]),
    (["--duration", "0"], ["--duration"]),
    (["--duration", "1e9"], ["duration", "frames"]),
    (["--jitter", "-1"], ["--jitter"]),
    (["--deadline", "0"], ["--deadline"]),
    (["--policy", "edf"], ["--policy"]),
    (["--seed", "-1"], ["--seed"]),
])
def test_cli_bad_frame_options_are_one_clean_line(args, fragments):
    assert_clean_error(accelsim("realtime", "facedet", "-d", "phone_npu", "--fps", "60", *args),
                       *fragments)
