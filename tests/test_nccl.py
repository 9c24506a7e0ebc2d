"""NCCL's collective model: closed forms from NCCL's own tables and nccl-tests' definitions, the
tuner's choices, and held-out public nccl-tests rows."""

from __future__ import annotations

import json
import statistics

import pytest

from accelsim.calibrate import nccl_fit
from accelsim.config.interconnect import InterconnectConfig, load_interconnect
from accelsim.devices import interconnect as ic
from accelsim.devices.nccl import bus_bandwidth
from accelsim.errors import ConfigError, UsageError
from tests.hostile.cli import accelsim, assert_clean_error

BW, EFF = 100e9, 0.5               # a toy NVLink fabric: 50 GB/s of Simple bus bandwidth
US = 1e-6
RANK = {"ll": 0, "ll128": 1, "simple": 2}


def fabric(**nccl) -> InterconnectConfig:
    """The toy fabric under NCCL's model with NCCL's own latencies (no fitted factors)."""
    return InterconnectConfig(kind="interconnect", name="toy", bandwidth=BW, latency=1e-6,
                              topology="switch", efficiency=EFF,
                              nccl={"hardware": "nvlink", **nccl})


@pytest.mark.parametrize("n", [2, 4, 8])
def test_simple_ring_all_reduce_is_nccls_latency_plus_the_bus_traffic(n):
    # NCCL tuning.cc: Simple ring baseLat 8.4 us + 2(n-1) NVLink steps of 3.4 us; the ring moves
    # 2(n-1)/n of the buffer at the bus bandwidth
    link, nbytes = fabric(protocols=["simple"]), 1e9
    expected = (8.4 + 2 * (n - 1) * 3.4) * US + 2 * (n - 1) / n * nbytes / (BW * EFF)
    assert ic.all_reduce(nbytes, n, link, "ring") == pytest.approx(expected, rel=1e-12)


def test_large_simple_ring_bus_bandwidth_tends_to_link_bandwidth_times_efficiency():
    link = fabric(protocols=["simple"], pipeline=50 * US)
    for kind in ("all_reduce", "all_gather", "reduce_scatter"):
        seconds = ic.collective(kind, 1e13, 8, link)
        assert bus_bandwidth(kind, 1e13, 8, seconds) == pytest.approx(BW * EFF, rel=1e-3)


def test_a_tiny_message_costs_nccls_ll_latency():
    # LL ring: baseLat 6.6 us + 14 steps of 0.6 us on 8 GPUs (tuning.cc); LL carries 1/4 of the bus
    seconds = ic.all_reduce(8, 8, fabric())
    assert seconds == pytest.approx((6.6 + 14 * 0.6) * US + 8 * 14 / 8 / (BW * EFF / 4))
    assert ic.chosen("all_reduce", 8, 8, fabric()).protocol == "ll"


@pytest.mark.parametrize("name", ["nvlink3", "nvlink4", "pcie4_x16", "infiniband_ndr"])
@pytest.mark.parametrize("n", [2, 4, 8])
def test_time_grows_with_size_and_protocols_switch_once_each_way(name, n):
    link = load_interconnect(name)
    sizes = [2 ** e for e in range(0, 34)]
    times = [ic.all_reduce(s, n, link, "auto") for s in sizes]
    assert times == sorted(times) and times[0] > 0
    ranks = [RANK[ic.chosen("all_reduce", s, n, link, "auto").protocol] for s in sizes]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 2   # LL first, Simple last


def test_gather_and_scatter_cost_the_same_and_half_an_all_reduce_of_traffic():
    link = fabric(protocols=["simple"])
    for nbytes in (1e3, 1e6, 1e9):
        gather = ic.all_gather(nbytes, 8, link)
        assert ic.reduce_scatter(nbytes, 8, link) == gather
        latency = (8.4 + 7 * 3.4) * US        # n-1 Simple steps
        ring_latency = (8.4 + 14 * 3.4) * US
        assert ic.all_reduce(nbytes, 8, link, "ring") - ring_latency == pytest.approx(
            2 * (gather - latency))


def test_nvls_wins_on_eight_h100s_but_not_on_two():
    # NVLink SHARP: the switch reduces, so its algorithm bandwidth does not fall with n as a
    # ring's n / 2(n-1) share does (NVIDIA/nccl-tests#212: 480 GB/s bus, ~275 algorithm, 8 GPUs)
    h100 = load_interconnect("nvlink4")
    assert ic.chosen("all_reduce", 2 ** 30, 8, h100).algorithm == "nvls"
    assert ic.chosen("all_reduce", 2 ** 30, 2, h100).algorithm == "ring"
    assert ic.chosen("all_reduce", 2 ** 30, 8, load_interconnect("nvlink3")).algorithm == "ring"
    with pytest.raises(UsageError, match="no nvls algorithm"):
        ic.all_reduce(1e6, 8, load_interconnect("nvlink3"), "nvls")


def test_bus_bandwidth_follows_nccl_tests():
    # nccl-tests doc/PERFORMANCE.md: all-reduce 2(n-1)/n, all-gather / reduce-scatter (n-1)/n
    assert bus_bandwidth("all_reduce", 1e9, 8, 1.0) == pytest.approx(1e9 * 14 / 8)
    assert bus_bandwidth("all_gather", 1e9, 8, 1.0) == pytest.approx(1e9 * 7 / 8)
    assert bus_bandwidth("send_recv", 1e9, 2, 1.0) == 1e9


def test_across_nodes_the_ring_runs_at_the_slower_of_fabric_and_the_nodes_nics():
    # one NIC per GPU: a node's ring traffic crosses its 8 NICs, 8 x 25 GB/s x 0.91 on HDR
    cluster = ic.default_cluster(None, "nvlink3,infiniband_hdr")
    seconds = cluster.time("all_reduce", 1e12, 16)
    hdr = load_interconnect("infiniband_hdr").effective_bandwidth
    assert bus_bandwidth("all_reduce", 1e12, 16, seconds) == pytest.approx(8 * hdr, rel=1e-3)


def test_nvls_needs_its_bandwidth_and_every_fabric_simple(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: interconnect\nname: x\nbandwidth: 1 GB/s\nlatency: 1 us\n"
                   "topology: switch\nnccl:\n  hardware: nvlink\n  nvls: true\n")
    with pytest.raises(ConfigError, match="nvls_bandwidth"):
        load_interconnect(bad)
    with pytest.raises(Exception, match="simple"):
        fabric(protocols=["ll"])


def test_held_out_public_rows_within_tolerance():
    # the bundled values are fitted on the even rows (nccl_fit); the odd rows were not used
    rows = [r for r in nccl_fit.read_rows() if r.held_out]
    links = {name: load_interconnect(name) for name in ("nvlink3", "nvlink4")}
    for name, link in links.items():
        errors = [abs(nccl_fit.signed_error(r, link)) for r in rows if r.interconnect == name]
        assert len(errors) >= 7 and statistics.median(errors) < 0.12, name
    for regime in nccl_fit.regime_report(rows, links):
        assert regime["median_abs_error"] < 0.25, regime


def test_bundled_values_are_what_the_fit_gives():
    train = [r for r in nccl_fit.read_rows() if not r.held_out]
    for name, values in nccl_fit.fit_all(train).items():
        bundled = nccl_fit.current(load_interconnect(name))
        assert values == pytest.approx({key: bundled[key] for key in values}), name


def test_cli_json_totals():
    out = accelsim("collective", "all_reduce", "--bytes", "64MiB", "--devices", "8",
                   "--interconnect", "nvlink3", "--json")
    assert out.code == 0, out.err
    answer = json.loads(out.out)
    totals = answer["totals"]
    assert {"latency_s", "bus_bandwidth_bytes_per_s", "algorithm_bandwidth_bytes_per_s",
            "algorithm", "protocol"} <= set(totals)
    assert answer["bytes"] == 64 * 2 ** 20
    assert totals["bus_bandwidth_bytes_per_s"] == pytest.approx(
        totals["algorithm_bandwidth_bytes_per_s"] * 14 / 8)
    hyphen = json.loads(accelsim("collective", "all-reduce", "--bytes", "64MiB", "--json").out)
    assert hyphen["totals"]["latency_s"] == totals["latency_s"]


@pytest.mark.parametrize("args, fragments", [
    (("all_reduce", "--bytes", "-1MiB"), ("--bytes", ">= 0")),
    (("all_reduce", "--bytes", "1e300"), ("--bytes", "at most 1 PiB")),
    (("all_reduce", "--bytes", "lots"), ("--bytes", "size")),
    (("all_reduce", "--devices", "0"), ("--devices",)),
    (("broadcast",), ("unknown collective 'broadcast'",)),
    (("all_reduce", "--interconnect", "nvlnk3"), ("did you mean 'nvlink3'",)),
    (("all_reduce", "--devices", "16"), ("no network between nodes",)),
    (("all_reduce", "--protocol", "ll256"), ("--protocol",)),
    (("all_reduce", "--algorithm", "nvls"), ("no nvls algorithm",)),
    ((), ("COLLECTIVE",)),
])
def test_cli_refuses_bad_input_in_one_line(args, fragments):
    assert_clean_error(accelsim("collective", *args), *fragments)


def test_cli_check_reports_every_regime():
    out = accelsim("collective", "--check", "--json")
    assert out.code == 0, out.err
    regimes = json.loads(out.out)["regimes"]
    assert {r["regime"] for r in regimes} == {label for label, _, _ in nccl_fit.REGIMES}
