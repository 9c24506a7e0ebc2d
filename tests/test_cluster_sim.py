"""The training step on the event engine: 1F1B against its closed form, links shared by processor
sharing, a Perfetto trace with a lane per device and per link, cluster energy."""

from __future__ import annotations

import json

import pytest

from accelsim.config.interconnect import InterconnectConfig
from accelsim.devices.interconnect import Cluster
from accelsim.engine.cluster_sim import (StagePlan, StepPlan, Transfer, buckets, carry_all,
                                         one_f_one_b, simulate_step, transfer)
from accelsim.engine.parallel import simulate_parallel
from clitools import invoke

BW, LAT = 100e9, 5e-6
LINK = InterconnectConfig(kind="interconnect", name="toy", bandwidth=BW, latency=LAT,
                          topology="switch", domain_size=8)
CLUSTER = Cluster(intra=LINK, inter=LINK.model_copy(update={"name": "net"}), devices_per_node=8)


def ring_all_reduce(nbytes: float, n: int) -> float:
    """The ring all-reduce closed form: 2 (n-1)/n x bytes / bandwidth + 2 (n-1) steps of latency."""
    return 2 * (n - 1) / n * nbytes / BW + 2 * (n - 1) * LAT


def uniform_plan(p: int, m: int, forward: float, backward: float, tensor: float,
                 virtual: int = 1, **changes) -> StepPlan:
    """p devices x `virtual` equal stages, each with a tp all-reduce of `tensor` s after each pass."""
    stages = tuple(StagePlan(forward, backward, (Transfer(f"intra {g % p}", 0.0, tensor, "tp"),),
                             (Transfer(f"intra {g % p}", 0.0, tensor, "tp"),), **changes)
                   for g in range(p * virtual))
    return StepPlan(stages, p, m, blocking_sends=virtual == 1)


# -- schedule and closed form -----------------------------------------------------------------

def test_1f1b_order_runs_warmup_forwards_then_alternates():
    assert [(k[0][0], k[2]) for k in one_f_one_b(4, 5, 1, 1)] == [
        ("f", 0), ("f", 1), ("f", 2), ("b", 0), ("f", 3), ("b", 1), ("f", 4), ("b", 2), ("b", 3),
        ("b", 4)]
    for device in range(4):
        order = one_f_one_b(4, 8, 2, device)
        assert len(order) == 2 * 8 * 2 and {g % 4 for _, g, _ in order} == {device}


@pytest.mark.parametrize("p, m", [(1, 1), (1, 5), (2, 3), (4, 2), (4, 8), (16, 96)])
def test_without_contention_the_engine_is_the_closed_form(p, m):
    # equal stages; one 25 MiB bucket of gradients that ends after the last backward, then Adam
    bucket = transfer(CLUSTER, "all_reduce", 25 * 2**20, 8, 8, "network 0", "dp")
    plan = uniform_plan(p, m, 1e-3, 2e-3, 3e-4, gradient_sync=(bucket,), optimizer_s=5e-4)
    slot = 1e-3 + 2e-3 + 2 * 3e-4
    tail = bucket.alone_s + 5e-4
    assert bucket.alone_s == pytest.approx(ring_all_reduce(25 * 2**20, 8), rel=1e-12)
    assert simulate_step(plan).step_time_s == pytest.approx((m + p - 1) * slot + tail, rel=1e-9)


@pytest.mark.parametrize("p, v", [(2, 2), (4, 2), (4, 4)])
def test_interleaved_1f1b_shrinks_the_bubble_by_the_virtual_stages(p, v):
    # Narayanan et al. SC21, section 2.2.2: the bubble becomes (p - 1) / v of a device's slot
    m, forward, backward = 8, 1e-3 / v, 2e-3 / v
    timeline = simulate_step(uniform_plan(p, m, forward, backward, 0.0, virtual=v))
    assert timeline.step_time_s == pytest.approx((m + (p - 1) / v) * 3e-3, rel=1e-9)


def test_real_run_pp1_matches_the_closed_form_when_buckets_hide():
    # dp over NVLink, gradient buckets far faster than the backward: only the last is exposed
    result = simulate_parallel("gpt2", "a100", devices=2, parallel="dp=2", global_batch=8,
                               seq_len=1024)
    stage, m = result.stages[0], result.config.micro_batches
    closed = m * stage.slot_s + stage.data_comm_exposed_s + stage.optimizer_s
    assert result.step_time_s == pytest.approx(closed, rel=1e-9)


# -- contention -------------------------------------------------------------------------------

def test_two_all_reduces_on_one_link_end_by_the_time_of_one_of_their_sum():
    b1, b2, n = 40e6, 100e6, 8
    t1, t2 = (transfer(CLUSTER, "all_reduce", b, n, 1, "intra 0", "ar") for b in (b1, b2))
    ends = carry_all([(0.0, (t1,)), (0.0, (t2,))])
    assert max(ends) == pytest.approx(ring_all_reduce(b1 + b2, n), rel=1e-9)
    # the smaller one shares the bandwidth all its life: twice its bandwidth term
    assert min(ends) == pytest.approx(2 * (n - 1) * LAT + 2 * (2 * (n - 1) / n * b1 / BW), rel=1e-9)


def test_a_later_collective_shares_what_is_left_processor_sharing():
    b1, b2, n, late = 100e6, 100e6, 8, 0.5e-3
    t1, t2 = (transfer(CLUSTER, "all_reduce", b, n, 1, "intra 0", "ar") for b in (b1, b2))
    ends = carry_all([(0.0, (t1,)), (late, (t2,))])
    fixed = 2 * (n - 1) * LAT
    w1, w2 = (2 * (n - 1) / n * b / BW for b in (b1, b2))
    # t1 alone until t2's latency has passed, then both at half rate until t1 ends
    alone = late + fixed - fixed
    assert ends[0] == pytest.approx(fixed + alone + 2 * (w1 - alone), rel=1e-9)
    assert ends[1] == pytest.approx(fixed + w1 + w2, rel=1e-9)    # the link never idles


def test_dp_buckets_and_pipeline_sends_sharing_a_nic_slow_the_step():
    # two stages, one micro-batch: stage 1's last backward ends at T, then its gradient send to
    # stage 0 (w_s of work) and its one bucket (latency a, then w_d) start together on its NIC
    send = transfer(CLUSTER, "send", 50e6, 2, 64, "network 1", "pp")
    a_bucket = transfer(CLUSTER, "all_reduce", 100e6, 8, 8, "network 1", "dp")
    w_s, f_s, a, w_d = send.work_s, send.fixed_s, a_bucket.fixed_s, a_bucket.work_s
    assert f_s == LAT and a > f_s and w_s > a and w_d > w_s - a

    def plan(bucket):
        first = StagePlan(1e-3, 8e-3, send_forward=(send,))
        last = StagePlan(1e-3, 2e-3, send_backward=(send,), gradient_sync=(bucket,))
        return StepPlan((first, last), 2, 1)

    separate = simulate_step(plan(Transfer("network 9", a, w_d, "dp"))).step_time_s
    shared = simulate_step(plan(a_bucket)).step_time_s
    # after its own latency f_s the send runs alone until the bucket's latency a has passed, then
    # at half rate: it ends w_s - (a - f_s) later, and so does stage 0
    assert shared - separate == pytest.approx(w_s - (a - f_s), rel=1e-9)


def test_buckets_are_pytorch_ddp_sized_and_cover_the_gradients():
    sizes = buckets(60 * 2**20)
    assert sizes == [10 * 2**20, 25 * 2**20, 25 * 2**20] and buckets(0) == []


# -- trace and energy -------------------------------------------------------------------------

def test_step_trace_has_a_lane_per_device_and_link_and_compute_never_overlaps(tmp_path, capsys):
    path = tmp_path / "step.json"
    assert invoke(capsys, "run", "gpt2", "--device", "a100", "--mode", "training", "--devices", "16",
            "--parallel", "tp=2,pp=2,dp=4", "--param", "seq_len=128", "--trace", str(path))[0] == 0
    events = json.loads(path.read_text())["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert {"device 0", "device 1"} <= set(names.values())
    assert any(n.startswith("intra 0") for n in names.values())
    assert any(n.startswith("network 1") for n in names.values())
    for tid, name in names.items():
        spans = sorted((e["ts"], e["ts"] + e["dur"]) for e in events
                       if e["ph"] == "X" and e["tid"] == tid)
        assert spans, name
        assert all(end <= nxt + 1e-6 for (_, end), (nxt, _) in zip(spans, spans[1:])), name


def test_cluster_energy_adds_devices_idle_host_and_links():
    result = simulate_parallel("gpt2", "a100", devices=2, parallel="dp=2", global_batch=8,
                               seq_len=1024)
    energy, step = result.totals["energy_breakdown_j"], result.step_time_s
    assert energy["devices_idle"] == pytest.approx(2 * 55.0 * step)       # a100.yaml: idle 55 W
    # each GPU's share of a DGX A100's other power: (6.5 kW max - 8 x 400 W) / 8 (datasheet)
    assert energy["host"] == pytest.approx(2 * (6500 - 8 * 400) / 8 * step)
    # ring all-reduce over 2 devices: each sends its whole gradient once; NVLink 3 at 5.5 pJ/bit
    grads = result.stages[0].grad_bytes
    assert energy["links"] == pytest.approx(2 * grads * 8 * 5.5e-12, rel=1e-6)
    assert result["energy_per_step_j"] == pytest.approx(sum(energy.values()))
    assert result["average_power_w"] == pytest.approx(result["energy_per_step_j"] / step)
    assert 2 * 55.0 < result["average_power_w"] < 2 * 6500 / 8      # idle < P < 2/8 of a DGX max


def test_cluster_energy_splits_active_power_from_the_work():
    run = dict(devices=2, parallel="dp=2", global_batch=8, seq_len=1024)
    result = simulate_parallel("gpt2", "a100", **run)
    without = simulate_parallel("gpt2", "a100", overrides=("power.active=0 W",), **run)
    energy, calm = result.totals["energy_breakdown_j"], without.totals["energy_breakdown_j"]
    op_s = 2 * sum(result.config.micro_batches * (s.forward_s + s.backward_s) + s.optimizer_s
                   for s in result.stages)
    assert energy["devices_active"] == pytest.approx(100.0 * op_s)    # a100.yaml: active 100 W
    assert calm["devices_active"] == 0.0 < calm["devices_dynamic"]
    assert without.step_time_s == result.step_time_s      # power does not set the time
