"""Chrome trace export: the Trace Event Format's structure, one op per track at a time, full coverage."""

import json

import pytest

from accelsim import load_device, simulate
from accelsim.api import build_trace
from accelsim.devices import cost_all
from accelsim.devices.base import OpCost
from accelsim.engine import sim
from accelsim.engine.chrome_trace import chrome_trace, write_chrome_trace
from accelsim.workload.ir import Op, OpKind
from accelsim.workload.zoo import build

W = 1.0e12


def streaming(name: str, nbytes: float, unit: str, *deps: str) -> tuple[Op, OpCost]:
    """A memory-bound op moving `nbytes` at bandwidth W."""
    return (Op(name, OpKind.ELEMENTWISE, inputs=(), outputs=(), deps=deps),
            OpCost(flops=nbytes, macs=0, latency_s=nbytes / W, dram_read_bytes=nbytes,
                   dram_write_bytes=0.0, bound="memory", memory_s=nbytes / W, unit=unit))


@pytest.fixture(scope="module")
def contended():
    """Two streams on two units sharing memory: 2 + 6 MB through 1 TB/s ends at 8 us."""
    pairs = [streaming("a0", 1e6, "tensor"), streaming("a1", 1e6, "tensor", "a0"),
             streaming("b0", 6e6, "vector")]
    ops, costs = zip(*pairs)
    return sim.run(ops, costs)


@pytest.fixture(scope="module")
def a100_trace():
    """GPT-2 training on the A100, simulated by the event engine."""
    trace = build_trace(build("gpt2"), "training")
    return sim.run(trace.ops, cost_all(trace.ops, load_device("a100"))), trace.ops


def load(tmp_path, run, **kw) -> dict:
    """Write the trace and read it back as JSON."""
    return json.loads(write_chrome_trace(run, tmp_path / "trace.json", **kw).read_text())


def check_structure(trace: dict, makespan_s: float) -> list[dict]:
    """Check format, named tracks, no overlap per track, coverage of [0, makespan]; return X events."""
    assert trace["displayTimeUnit"] == "ns"
    events = trace["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert len(set(names.values())) == len(names)
    complete = [e for e in events if e["ph"] == "X"]
    assert complete
    for e in complete:
        assert {"name", "ts", "dur", "pid", "tid", "args"} <= e.keys()
        assert {"flops", "bytes", "bound", "phase"} <= e["args"].keys()
        assert e["dur"] >= 0 and e["tid"] in names
    for tid in names:
        track = sorted((e for e in complete if e["tid"] == tid), key=lambda e: (e["ts"], e["dur"]))
        assert all(a["ts"] + a["dur"] <= b["ts"] + 1e-6 for a, b in zip(track, track[1:]))
    assert min(e["ts"] for e in complete) == 0
    assert max(e["ts"] + e["dur"] for e in complete) == pytest.approx(makespan_s * 1e6, abs=1e-6)
    return complete


def test_timeline_trace_has_unit_and_memory_tracks(tmp_path, contended):
    """Unit tracks and one memory lane per concurrent transfer, covering 0..8 us."""
    assert contended.makespan_s == pytest.approx(8e-6, rel=1e-9)
    trace = load(tmp_path, contended, name="two streams")
    complete = check_structure(trace, 8e-6)
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert names == {"tensor", "vector", "memory 0", "memory 1"}
    process = next(e for e in trace["traceEvents"] if e["name"] == "process_name")
    assert process["args"]["name"] == "two streams"
    b0 = next(e for e in complete if e["name"] == "b0" and e["cat"] == "vector")
    assert b0["args"] == {"flops": 6e6, "bytes": 6e6, "bound": "memory", "phase": "forward"}
    assert b0["dur"] == pytest.approx(8.0)       # shared with a0, a1 until 4 us, then alone


def test_result_trace_places_layers_on_unit_tracks(tmp_path):
    """An analytic Result: one event per layer on its unit's track, back to back."""
    result = simulate(build("alexnet"), "a100")
    trace = load(tmp_path, result)
    complete = check_structure(trace, result["latency_s"])
    assert [e["name"] for e in complete] == [layer.name for layer in result.layers]
    process = next(e for e in trace["traceEvents"] if e["name"] == "process_name")
    assert "alexnet" in process["args"]["name"]


def test_event_result_splits_overlapping_layers_into_lanes():
    """An event-engine Result of a training step: layers that overlap on a unit go to separate lanes."""
    result = simulate(build("resnet50", batch=2), "a100", mode="training", engine="event")
    complete = check_structure(chrome_trace(result), result["latency_s"])
    assert len(complete) == len(result.layers)


def test_zoo_timeline_trace(a100_trace):
    """A real training timeline: every op once per unit track, plus its transfers."""
    timeline, ops = a100_trace
    complete = check_structure(chrome_trace(timeline), timeline.makespan_s)
    units = [e for e in complete if e["cat"] not in (sim.MEMORY, sim.HOST_LINK)]
    assert sorted(e["name"] for e in units) == sorted(op.name for op in ops)
