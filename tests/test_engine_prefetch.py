"""Weight prefetch in the event engine against closed forms (double buffering on hand-built chains).

Costs are hand-made on a device with memory bandwidth B = 1 TB/s, so 1e6 bytes take 1 us: an op with
compute c, w weight bytes and a other bytes has memory time m = (w + a) / B and latency
max(c, m) + o (o: the overhead a cost model puts on top). A prefetch of op 2's weights runs on the
channel while op 1 holds the unit; processor sharing splits the bandwidth equally between the
transfers running at once, so the closed forms below are sums of the work each got.
"""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim import load_device, simulate
from accelsim.api import build_trace
from accelsim.devices import cost_all
from accelsim.devices.base import OpCost
from accelsim.engine import analytic, sim
from accelsim.engine.chrome_trace import chrome_trace
from accelsim.errors import UsageError
from accelsim.workload.ir import Op, OpKind, Tensor
from accelsim.workload.zoo import build
from clitools import invoke

B = 1.0e12            # bytes/s
US = 1e-6
REL = 1e-9


def op(name: str, *deps: str, weights: int = 0) -> Op:
    """An op with `weights` bytes of int8 parameters: the engine reads its name, deps and weights."""
    tensors = (Tensor(f"{name}.w", (weights,), "int8"),) if weights else ()
    return Op(name, OpKind.ELEMENTWISE, inputs=(), outputs=(), weights=tensors, deps=deps)


def cost(compute: float, weights: float = 0.0, other: float = 0.0, overhead: float = 0.0,
         unit: str = "", rule=max) -> OpCost:
    """An OpCost reading `weights` + `other` bytes at bandwidth B; latency rule(c, m) + overhead."""
    memory = (weights + other) / B
    return OpCost(flops=0, macs=0, latency_s=rule(compute, memory) + overhead,
                  dram_read_bytes=weights + other, dram_write_bytes=0.0,
                  bound="memory" if memory > compute else "compute", compute_s=compute,
                  memory_s=memory, unit=unit)


def end(layer) -> float:
    """When a layer's op ended."""
    return layer.start_s + layer.latency_s


def prefetches(timeline) -> list:
    """The busy intervals of prefetch transfers."""
    return [b for b in timeline.busy if b.prefetch]


def test_prefetch_work_is_the_weights_share_that_can_be_hidden():
    """The weights' share of the transfer, capped by transfer - compute and by the bytes read."""
    three = op("a", weights=3_000_000)                  # 3 us of weights in a 4 us transfer
    assert sim.prefetch_work(three, cost(1 * US, 3e6, 1e6)) == pytest.approx(3 * US)
    assert sim.prefetch_work(three, cost(2 * US, 3e6, 1e6)) == pytest.approx(2 * US)
    assert sim.prefetch_work(three, cost(5 * US, 3e6, 1e6)) == 0.0      # compute-bound
    assert sim.prefetch_work(op("a"), cost(0.0, 0.0, 4e6)) == 0.0       # no weights
    assert sim.prefetch_work(op("a", weights=9_000_000), cost(0.0, 0.0, 4e6)) == pytest.approx(4 * US)
    assert sim.prefetch_work(op("a", weights=1_000_000), cost(1 * US)) == 0.0   # no traffic
    # a transfer longer than the latency (memory_s > latency_s) is capped at the latency first
    capped = OpCost(flops=0, macs=0, latency_s=2 * US, dram_read_bytes=4e6, dram_write_bytes=4e6,
                    bound="memory", memory_s=8 * US)
    assert sim.prefetch_work(op("a", weights=4_000_000), capped) == pytest.approx(1 * US)


@pytest.mark.parametrize("c2", [2 * US, 5 * US, 8 * US])
@pytest.mark.parametrize("m1", [0.0, 1 * US])
def test_compute_bound_predecessor_hides_all_the_weights(m1, c2):
    """Op 1 computes c1 >= m1 + W2/B: op 2's weights arrive under it, so op 2 takes
    max(c2, m2 - W2/B) + o2 and the makespan shrinks by max(c2, m2) - max(c2, m2 - W2/B)."""
    c1, w2, a2, o2 = 6 * US, 4e6, 3e6, 0.5 * US
    m2 = (w2 + a2) / B
    ops = [op("one"), op("two", "one", weights=int(w2))]
    costs = [cost(c1, other=m1 * B), cost(c2, w2, a2, o2)]
    off, on = sim.run(ops, costs), sim.run(ops, costs, prefetch=True)
    run2 = max(c2, m2 - w2 / B) + o2
    assert on.layers[1].start_s == pytest.approx(c1, rel=REL)
    assert on.layers[1].latency_s == pytest.approx(run2, rel=REL)
    assert on.makespan_s == pytest.approx(c1 + run2, rel=REL)
    assert off.makespan_s - on.makespan_s == pytest.approx(max(c2, m2) - max(c2, m2 - w2 / B),
                                                           rel=REL, abs=1e-18)
    # one event per op, plus a wake-up when op 1's own transfer leaves a channel shared with the
    # prefetch (there is none when op 2 is compute-bound: its weights would not shorten it)
    assert on.events == 2 + (m1 > 0 and c2 < m2)


@pytest.mark.parametrize("m1", [0.0, 1 * US])
def test_short_predecessor_hides_only_what_the_channel_moved_under_it(m1):
    """c1 < W2/B: the channel is busy throughout op 1 and its own transfer takes m1 of it (shared
    equally until it ends at 2 m1 <= c1), so c1 - m1 of op 2's weights arrive first:
    op 2 takes max(c2, m2 - (c1 - m1)) + o2, and the prefetch stops when op 2 starts."""
    c1, w2, a2, c2, o2 = 4 * US, 6e6, 2e6, 1 * US, 0.5 * US
    m2 = (w2 + a2) / B
    ops = [op("one"), op("two", "one", weights=int(w2))]
    costs = [cost(c1, other=m1 * B), cost(c2, w2, a2, o2)]
    on = sim.run(ops, costs, prefetch=True)
    run2 = max(c2, m2 - (c1 - m1)) + o2
    assert on.layers[1].latency_s == pytest.approx(run2, rel=REL)
    assert on.makespan_s == pytest.approx(c1 + run2, rel=REL)
    [fetch] = prefetches(on)
    assert (fetch.resource, fetch.op) == (sim.MEMORY, 1)
    assert (fetch.start_s, fetch.end_s) == pytest.approx((0.0, c1), rel=REL)


def test_memory_bound_predecessor_gains_nothing():
    """Op 1 streams m1 = 3 us under 1 us of compute: sharing with the prefetch, its transfer ends at
    2 m1 (op 1 stretched by m1) while op 2's weights get m1; op 2 saves exactly m1. Same makespan."""
    m1, w2, a2, c2, o2 = 3 * US, 6e6, 2e6, 1 * US, 0.5 * US
    m2 = (w2 + a2) / B
    ops = [op("one"), op("two", "one", weights=int(w2))]
    costs = [cost(1 * US, other=m1 * B), cost(c2, w2, a2, o2)]
    on = sim.run(ops, costs, prefetch=True)
    assert end(on.layers[0]) == pytest.approx(2 * m1, rel=REL)
    assert on.layers[1].latency_s == pytest.approx(max(c2, m2 - m1) + o2, rel=REL)
    assert on.makespan_s == pytest.approx(m1 + max(c2, m2) + o2, rel=REL)


def test_each_unit_looks_one_weighted_op_ahead():
    """Unit x runs a (compute), b, c (both with weights); unit y runs d (weights) after a.

    x fetches b's weights from t=0 and c's only once b has started (one buffer ahead); y fetches d's
    from t=0 although d waits for a: it is y's next op.
    """
    ops = [op("a"), op("b", "a", weights=1_000_000), op("c", "b", weights=1_000_000),
           op("d", "a", weights=1_000_000)]
    costs = [cost(5 * US, unit="x"), cost(0.0, 1e6, 1e6, unit="x"), cost(0.0, 1e6, 1e6, unit="x"),
             cost(0.0, 1e6, 1e6, unit="y")]
    on = sim.run(ops, costs, prefetch=True)
    starts = {ops[b.op].name: b.start_s for b in prefetches(on)}
    assert starts["b"] == 0.0 and starts["d"] == 0.0
    assert starts["c"] == pytest.approx(on.layers[1].start_s, rel=REL)


@pytest.fixture(scope="module")
def tpu_v4():
    """The bundled TPU v4 config."""
    return load_device("tpu_v4")


@pytest.fixture(scope="module")
def a100():
    """The bundled A100 config."""
    return load_device("a100")


def test_prefetch_off_reproduces_the_analytic_schedule(tpu_v4):
    """ResNet-50 on TPU v4, one op at a time, prefetch off: the analytic schedule op by op."""
    trace = build_trace(build("resnet50", batch=1, precision="bf16"), "inference")
    costs = cost_all(trace.ops, tpu_v4)
    expected = analytic.schedule(trace.ops, costs)
    timeline = sim.run(trace.ops, costs, serial=True, prefetch=False)
    assert timeline.makespan_s == pytest.approx(end(expected[-1]), rel=REL)
    starts = [x.start_s for x in expected]
    assert [x.start_s for x in timeline.layers] == pytest.approx(starts, rel=REL)
    assert timeline.events == len(trace.ops) and not prefetches(timeline)


def reduced_critical_path(ops, costs) -> float:
    """Longest dependency path when every op is shortened by all of its prefetchable work."""
    finish: dict[str, float] = {}
    for o, c in zip(ops, costs):
        start = max((finish[d] for d in o.deps), default=0.0)
        finish[o.name] = start + c.latency_s - sim.prefetch_work(o, c)
    return max(finish.values(), default=0.0)


@pytest.mark.parametrize("device", ["tpu_v4", "a100"])
def test_weight_heavy_decode_is_never_slower(device, request):
    """GPT-2 at batch 1, one token (decode-like, ~90% of the bytes are weights): prefetch never slows
    it, and it cannot beat the critical path of latencies less each op's prefetchable work."""
    dev = request.getfixturevalue(device)
    graph = build("gpt2", batch=1, seq_len=1, precision="bf16")
    off = simulate(graph, dev, engine="event", stack="eager")["latency_s"]     # the trace below
    on = simulate(graph, dev, engine="event", prefetch=True, stack="eager")["latency_s"]
    trace = build_trace(graph, "inference")
    costs = cost_all(trace.ops, dev)
    assert reduced_critical_path(trace.ops, costs) * (1 - REL) <= on <= off * (1 + REL)
    assert math.fsum(min(c.memory_s, c.latency_s) for c in costs) <= on * (1 + REL)


def test_compute_bound_network_changes_little(tpu_v4):
    """BERT-base at batch 8 on TPU v4 is mostly compute-bound: its ops can hide < 1% of the run."""
    trace = build_trace(build("bert_base", batch=8, precision="bf16"), "inference")
    costs = cost_all(trace.ops, tpu_v4)
    off = sim.run(trace.ops, costs).makespan_s
    on = sim.run(trace.ops, costs, prefetch=True).makespan_s
    hideable = math.fsum(sim.prefetch_work(o, c) for o, c in zip(trace.ops, costs))
    assert hideable < 0.01 * off
    assert off - hideable <= on * (1 + REL) and on <= off * (1 + REL)


def test_chrome_trace_shows_prefetches_on_memory_lanes(a100):
    """GPT-2 training, prefetch on: no overlap per track, the run covered, prefetches on memory."""
    trace = build_trace(build("gpt2", batch=2), "training")
    timeline = sim.run(trace.ops, cost_all(trace.ops, a100), prefetch=True)
    events = chrome_trace(timeline)["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    for tid in {e["tid"] for e in complete}:
        track = sorted((e for e in complete if e["tid"] == tid), key=lambda e: (e["ts"], e["dur"]))
        assert all(a["ts"] + a["dur"] <= b["ts"] + 1e-6 for a, b in zip(track, track[1:]))
    assert min(e["ts"] for e in complete) == 0
    assert max(e["ts"] + e["dur"] for e in complete) == pytest.approx(timeline.makespan_s * 1e6)
    fetched = [e for e in complete if e["name"].endswith("(prefetch)")]
    assert fetched and {e["cat"] for e in fetched} == {sim.MEMORY}
    units = [e for e in complete if e["cat"] not in (sim.MEMORY, sim.HOST_LINK)]
    assert sorted(e["name"] for e in units) == sorted(o.name for o in trace.ops)


@st.composite
def dags(draw):
    """Random DAGs of up to 10 ops on two units, some carrying weights, max- or sum-overlapped."""
    n = draw(st.integers(1, 10))
    ops, costs = [], []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, max(i - 1, 0)), max_size=min(i, 2), unique=True))
        weights = draw(st.sampled_from([0, 0, 500_000, 2_000_000, 5_000_000]))
        ops.append(op(f"n{i}", *(f"n{d}" for d in deps if d < i), weights=weights))
        costs.append(cost(draw(st.floats(0.0, 5 * US)), weights, draw(st.floats(0.0, 3e6)),
                          draw(st.sampled_from([0.0, 0.5 * US])), draw(st.sampled_from("xy")),
                          draw(st.sampled_from([max, lambda c, m: c + m]))))
    return ops, costs


@settings(deadline=None, max_examples=40)
@given(dags(), st.sampled_from([1, 2]))
def test_random_dags_keep_prefetch_invariants(graph, lanes):
    """Deps and lanes hold, each prefetch ends by its op's start, one per unit at a time, and no op
    saves more than its prefetchable work; one op at a time, prefetch is never slower."""
    ops, costs = graph
    on = sim.run(ops, costs, capacity={"x": lanes}, prefetch=True)
    span = on.makespan_s
    slack = REL * span
    ends = {layer.name: end(layer) for layer in on.layers}
    for o, c, layer in zip(ops, costs, on.layers):
        assert layer.latency_s >= c.latency_s - sim.prefetch_work(o, c) - slack
        assert all(layer.start_s >= ends[d] - slack for d in o.deps)
    by_lane: dict[tuple[str, int], list] = {}
    for b in on.busy:
        by_lane.setdefault((b.resource, b.lane), []).append(b)
    for b in prefetches(on):
        by_lane.setdefault(("prefetch", costs[b.op].unit), []).append(b)
        assert b.end_s <= on.layers[b.op].start_s + slack
    for intervals in by_lane.values():
        intervals.sort(key=lambda b: (b.start_s, b.end_s))
        assert all(a.end_s <= b.start_s + slack for a, b in zip(intervals, intervals[1:]))
    assert reduced_critical_path(ops, costs) <= span + slack
    assert math.fsum(min(c.memory_s, c.latency_s) for c in costs) <= span + slack
    serial = sim.run(ops, costs, serial=True, prefetch=True).makespan_s
    assert serial <= math.fsum(c.latency_s for c in costs) * (1 + REL)


def test_api_and_cli_options(capsys, tmp_path, a100):
    """simulate(prefetch=True) needs the event engine and one device; the CLI flags reach it."""
    graph = build("gpt2", batch=1, seq_len=1)
    for bad in ({}, {"engine": "event", "mode": "serve"}, {"engine": "event", "devices": 2}):
        with pytest.raises(UsageError, match="prefetch"):
            simulate(graph, a100, prefetch=True, **bad)
    expected = simulate("gpt2", "a100", seq_len=1, engine="event", prefetch=True)["latency_s"]
    code, out, _ = invoke(capsys, "run", "gpt2", "-d", "a100", "--param", "seq_len=1",
                          "--engine", "event", "--prefetch", "--json")
    assert code == 0 and json.loads(out)["totals"]["latency_s"] == pytest.approx(expected, rel=REL)
    code, _, err = invoke(capsys, "run", "gpt2", "-d", "a100", "--prefetch")
    assert code == 2 and "prefetch needs the event engine" in err
    path = tmp_path / "trace.json"
    code, _, _ = invoke(capsys, "trace", "gpt2", "-d", "a100", "--param", "seq_len=1", "--prefetch",
                        "-o", str(path))
    names = [e["name"] for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]
    assert code == 0 and any(name.endswith("(prefetch)") for name in names)
