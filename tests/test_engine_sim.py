"""The event engine against closed forms: chains sum, independent branches overlap, shared memory splits.

Costs here are hand-made OpCosts on a device with memory bandwidth W: an op moving b bytes has
memory_s = b / W, so the expected times below are sums, maxima and processor-sharing closed forms.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim import load_device, simulate
from accelsim.api import build_trace
from accelsim.devices import cost_all
from accelsim.devices.base import OpCost
from accelsim.engine import analytic, sim
from accelsim.errors import UsageError, WorkloadError
from accelsim.workload.ir import Op, OpKind
from accelsim.workload.zoo import build

W = 2.0e12            # bytes/s of the hand-made device's memory
REL = 1e-9


@pytest.fixture(scope="module")
def a100():
    """The bundled A100 config."""
    return load_device("a100")


def op(name: str, *deps: str) -> Op:
    """A bare op: the engine reads only its name and deps."""
    return Op(name, OpKind.ELEMENTWISE, inputs=(), outputs=(), deps=deps)


def cost(latency: float, nbytes: float = 0.0, unit: str = "", compute: float = 0.0) -> OpCost:
    """An OpCost with `nbytes` of DRAM traffic at bandwidth W."""
    return OpCost(flops=0, macs=0, latency_s=latency, dram_read_bytes=nbytes, dram_write_bytes=0.0,
                  bound="memory" if nbytes / W >= compute else "compute", compute_s=compute,
                  memory_s=nbytes / W, unit=unit)


def memory_bound(nbytes: float, unit: str = "") -> OpCost:
    """A pure streaming op: it takes exactly its transfer time."""
    return cost(nbytes / W, nbytes, unit)


def chain(prefix: str, n: int) -> list[Op]:
    """n ops, each depending on the one before."""
    return [op(f"{prefix}{i}", *([f"{prefix}{i - 1}"] if i else [])) for i in range(n)]


def critical_path(ops, costs) -> float:
    """Longest dependency path of op latencies (ops in topological order)."""
    finish: dict[str, float] = {}
    for o, c in zip(ops, costs):
        finish[o.name] = max((finish[d] for d in o.deps), default=0.0) + c.latency_s
    return max(finish.values(), default=0.0)


def check_invariants(ops, costs, timeline, tol=1e-9):
    """What every simulation must satisfy, whatever the graph (to float rounding: tol x makespan)."""
    span = timeline.makespan_s
    slack = tol * span
    ends = {layer.name: layer.start_s + layer.latency_s for layer in timeline.layers}
    for o, c, layer in zip(ops, costs, timeline.layers):
        assert layer.latency_s >= c.latency_s - slack
        assert all(layer.start_s >= ends[d] - slack for d in o.deps)
    by_lane: dict[tuple[str, int], list] = {}
    for b in timeline.busy:
        by_lane.setdefault((b.resource, b.lane), []).append(b)
    for intervals in by_lane.values():
        intervals.sort(key=lambda b: (b.start_s, b.end_s))
        assert all(a.end_s <= b.start_s + slack for a, b in zip(intervals, intervals[1:]))
    for channel in {sim.channel_name(c) for c in costs}:
        work = math.fsum(min(c.memory_s, c.latency_s) for c in costs if sim.channel_name(c) == channel)
        assert work <= span + slack
    for unit in {c.unit for c in costs}:
        assert math.fsum(c.latency_s for c in costs if c.unit == unit) <= span + slack
    assert critical_path(ops, costs) <= span + slack
    # each instant some op is inside its own latency or some channel runs at full rate
    assert span <= math.fsum(c.latency_s + min(c.memory_s, c.latency_s) for c in costs) + slack


def test_chain_reproduces_the_analytic_sum():
    """A chain of compute-, memory- and overhead-bound ops, max- and sum-overlapped: latencies add."""
    costs = [cost(3e-6, 1e6, "tensor", 3e-6), memory_bound(8e6, "vector"),
             cost(2e-6 + 1e6 / W, 1e6, "host", 2e-6),          # sum rule: compute + transfer
             cost(5e-6, 2e3, "tensor", 1e-6),                     # launch overhead dominates
             cost(0.0, 0.0, "fused"), memory_bound(3e6)]
    ops = chain("op", len(costs))
    timeline = sim.run(ops, costs)
    expected = math.fsum(c.latency_s for c in costs)
    assert timeline.makespan_s == pytest.approx(expected, rel=REL)
    starts = [math.fsum(c.latency_s for c in costs[:i]) for i in range(len(costs))]
    assert [layer.start_s for layer in timeline.layers] == pytest.approx(starts, rel=REL, abs=0)
    assert [layer.latency_s for layer in timeline.layers] == pytest.approx(
        [c.latency_s for c in costs], rel=REL)
    assert timeline.events == len(ops)       # one per op: lone transfers need no wake-up


@pytest.mark.parametrize("name, mode", [("resnet50", "training"), ("gpt2", "inference"),
                                        ("mobilenet_v2", "inference")])
def test_serial_zoo_trace_equals_analytic(name, mode, a100):
    """In trace order, one op at a time, the event engine gives the analytic schedule op by op."""
    trace = build_trace(build(name, batch=2), mode)
    costs = cost_all(trace.ops, a100)
    expected = analytic.schedule(trace.ops, costs)
    timeline = sim.run(trace.ops, costs, serial=True)
    assert timeline.makespan_s == pytest.approx(expected[-1].start_s + expected[-1].latency_s, rel=REL)
    assert [x.start_s for x in timeline.layers] == pytest.approx([x.start_s for x in expected], rel=REL)
    assert timeline.events == len(trace.ops)


def test_zoo_chain_needs_no_serial_flag(a100):
    """VGG-16 inference is a chain already: the concurrent engine gives the sum of latencies."""
    trace = build_trace(build("vgg16"), "inference")
    costs = cost_all(trace.ops, a100)
    assert sim.run(trace.ops, costs).makespan_s == pytest.approx(
        math.fsum(c.latency_s for c in costs), rel=REL)


@pytest.mark.parametrize("name, mode", [("resnet50", "training"), ("bert_base", "inference")])
def test_concurrent_zoo_trace_keeps_invariants(name, mode, a100):
    """Branches of real traces overlap, within the critical-path and work bounds."""
    trace = build_trace(build(name, batch=2), mode)
    costs = cost_all(trace.ops, a100)
    check_invariants(trace.ops, costs, sim.run(trace.ops, costs))


def test_branches_on_different_units_overlap():
    """Two independent compute-only chains on different units: makespan = max, not sum."""
    a, b = [1e-6, 2e-6, 3e-6], [4e-6, 4e-6]
    ops = chain("a", 3) + chain("b", 2)
    costs = [cost(t, unit="tensor") for t in a] + [cost(t, unit="vector") for t in b]
    assert sim.run(ops, costs).makespan_s == pytest.approx(max(sum(a), sum(b)), rel=REL)


def test_branches_on_one_unit_take_turns():
    """The same two chains on one unit: makespan = sum; with two lanes, max again."""
    a, b = [1e-6, 2e-6, 3e-6], [4e-6, 4e-6]
    ops = chain("a", 3) + chain("b", 2)
    costs = [cost(t, unit="tensor") for t in a + b]
    assert sim.run(ops, costs).makespan_s == pytest.approx(sum(a) + sum(b), rel=REL)
    two = sim.run(ops, costs, capacity={"tensor": 2})
    assert two.makespan_s == pytest.approx(max(sum(a), sum(b)), rel=REL)
    assert {b.lane for b in two.busy} == {0, 1}


def test_diamond_waits_for_both_branches():
    """a -> (b on x, c on y) -> d: d starts when the slower branch ends."""
    ops = [op("a"), op("b", "a"), op("c", "a"), op("d", "b", "c")]
    costs = [cost(1e-6), cost(2e-6, unit="x"), cost(5e-6, unit="y"), cost(1e-6)]
    layers = sim.schedule(ops, costs)
    assert [x.start_s for x in layers] == pytest.approx([0.0, 1e-6, 1e-6, 6e-6], rel=REL)


def test_ready_ops_take_the_unit_in_trace_order():
    """Three ops ready at once on one unit run in trace order."""
    ops = [op("first"), op("second"), op("third")]
    costs = [cost(1e-6), cost(2e-6), cost(3e-6)]
    assert [x.start_s for x in sim.schedule(ops, costs)] == pytest.approx([0.0, 1e-6, 3e-6], rel=REL)


@pytest.mark.parametrize("b1, b2", [(4e6, 4e6), (1e6, 7e6), (3e6, 5e5)])
def test_two_memory_bound_streams_share_bandwidth(b1, b2):
    """Two memory-bound chains on one channel: all done at (b1 + b2) / W, the smaller at 2 min / W."""
    s1 = [memory_bound(b1 / 4, "tensor")] * 4
    s2 = [memory_bound(b2 / 2, "vector")] * 2
    ops, costs = chain("s", 4) + chain("t", 2), s1 + s2
    timeline = sim.run(ops, costs)
    assert timeline.makespan_s == pytest.approx((b1 + b2) / W, rel=REL)
    first_done = min(timeline.layers[3].start_s + timeline.layers[3].latency_s,
                     timeline.layers[5].start_s + timeline.layers[5].latency_s)
    assert first_done == pytest.approx(2 * min(b1, b2) / W, rel=REL)
    assert sim.run(ops[:4], s1).makespan_s == pytest.approx(b1 / W, rel=REL)


def test_compute_bound_op_hides_its_slowed_transfer():
    """A: 1 us of compute moving 0.2 us of bytes; B: 1 us of pure streaming, concurrently.

    Sharing equally, A's bytes are through at 0.4 us (hidden under its compute: A ends at 1 us);
    B got 0.2 us of work by then and runs alone for the remaining 0.8 us: it ends at 1.2 us.
    """
    ops = [op("a"), op("b")]
    costs = [cost(1e-6, 0.2e-6 * W, "tensor", 1e-6), memory_bound(1e-6 * W, "vector")]
    layers = sim.schedule(ops, costs)
    assert layers[0].latency_s == pytest.approx(1e-6, rel=REL)
    assert layers[1].latency_s == pytest.approx(1.2e-6, rel=REL)


def test_memory_lanes_record_overlapping_transfers():
    """Concurrent transfers get separate lanes of the memory channel, one interval per transfer."""
    ops = [op("a"), op("b")]
    costs = [memory_bound(1e6, "x"), memory_bound(3e6, "y")]
    memory = sorted((b for b in sim.run(ops, costs).busy if b.resource == sim.MEMORY),
                    key=lambda b: b.lane)
    assert [(b.lane, b.op) for b in memory] == [(0, 0), (1, 1)]
    assert [b.end_s for b in memory] == pytest.approx([2e6 / W, 4e6 / W], rel=REL)


def test_host_ops_use_the_host_link_not_memory():
    """A host op's transfer crosses the host link, so it does not slow a device op's memory traffic."""
    ops = [op("npu"), op("cpu")]
    costs = [memory_bound(4e6, "npu"), memory_bound(4e6, "host")]
    timeline = sim.run(ops, costs)
    assert timeline.makespan_s == pytest.approx(4e6 / W, rel=REL)
    assert {b.resource for b in timeline.busy} == {"npu", "host", sim.MEMORY, sim.HOST_LINK}


def test_zero_time_ops_pass_through():
    """Fused ops (no time, no traffic) neither delay nor break a chain."""
    ops = chain("f", 3)
    costs = [cost(0.0, unit="fused"), cost(1e-6), cost(0.0, unit="fused")]
    assert sim.run(ops, costs).makespan_s == pytest.approx(1e-6, rel=REL)
    assert sim.run([], []).makespan_s == 0.0


@pytest.mark.parametrize("ops, message", [
    ([op("a", "ghost")], "unknown op 'ghost'"),
    ([op("a", "b"), op("b", "a")], "dependency cycle"),
    ([op("a"), op("a")], "two ops are named 'a'"),
])
def test_bad_graphs_raise_workload_errors(ops, message):
    """Unknown deps, cycles and duplicate names are the workload's fault, reported by name."""
    with pytest.raises(WorkloadError, match=message):
        sim.run(ops, [cost(1e-6)] * len(ops))


def test_ops_and_costs_must_pair_up():
    """A cost per op."""
    with pytest.raises(ValueError, match="2 ops but 1 costs"):
        sim.run([op("a"), op("b")], [cost(1e-6)])


@st.composite
def dags(draw):
    """Random DAGs of up to 12 ops on up to three units, some memory-heavy."""
    n = draw(st.integers(1, 12))
    ops, costs = [], []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, max(i - 1, 0)), max_size=min(i, 3), unique=True))
        ops.append(op(f"n{i}", *(f"n{d}" for d in deps if d < i)))
        compute = draw(st.floats(0.0, 5e-6))
        transfer = draw(st.floats(0.0, 5e-6))
        rule = draw(st.sampled_from([max, lambda c, m: c + m]))
        costs.append(cost(rule(compute, transfer), transfer * W, draw(st.sampled_from("xyz")), compute))
    return ops, costs


@settings(deadline=None, max_examples=40)
@given(dags())
def test_random_dags_keep_invariants(graph):
    """Dependencies, lanes, work and critical-path bounds hold on any DAG; serial equals analytic."""
    ops, costs = graph
    check_invariants(ops, costs, sim.run(ops, costs))
    serial = sim.run(ops, costs, serial=True)
    check_invariants(ops, costs, serial)
    assert serial.makespan_s == pytest.approx(math.fsum(c.latency_s for c in costs), rel=REL)


def test_api_event_engine(a100):
    """simulate(engine="event") overlaps resnet50's training branches within the work bounds."""
    graph = build("resnet50", batch=2)
    event = simulate(graph, a100, mode="training", engine="event")
    trace = build_trace(graph, "training")
    costs = cost_all(trace.ops, a100)
    assert critical_path(trace.ops, costs) <= event["latency_s"] * (1 + REL)
    assert event["latency_s"] == pytest.approx(max(x.start_s + x.latency_s for x in event.layers))
    with pytest.raises(UsageError, match="unknown engine"):
        simulate(graph, a100, engine="simpy")


def test_static_energy_is_busy_power_over_the_run_not_per_op():
    """With overlapping ops the event engine's run is shorter than the sum of op latencies; static
    energy is the device's busy power (idle + active) times the run, under either engine."""
    from accelsim import simulate
    from accelsim.api import load_device

    busy = load_device("a100").power.busy
    for engine in ("analytic", "event"):
        result = simulate("resnet50", "a100", mode="training", batch=8, engine=engine)
        static = result.totals["energy_breakdown_j"]["static"]
        assert static == pytest.approx(busy * result.totals["latency_s"], rel=1e-12)
