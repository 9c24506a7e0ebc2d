"""Interconnects: bundled links against their datasheets, collectives against the alpha-beta closed forms."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.config.interconnect import InterconnectConfig, bundled_interconnects, load_interconnect
from accelsim.config.loader import hw_configs_dir, list_devices, load_device
from accelsim.devices import interconnect as ic
from accelsim.errors import ConfigError, UsageError

BW, EFF, LAT = 100e9, 0.5, 2e-6          # a toy link: 50 GB/s achievable, 2 us per step
NAMES = ("nvlink3", "nvlink4", "nvlink5", "infinity_fabric", "pcie4_x16", "pcie5_x16",
         "tpu_v4_ici", "tpu_v5e_ici", "infiniband_hdr", "infiniband_ndr", "ethernet_100g")


def link(topology: str = "switch", **changes) -> InterconnectConfig:
    """The toy link with a given topology."""
    spec = {"kind": "interconnect", "name": "toy", "bandwidth": BW, "latency": LAT,
            "topology": topology, "efficiency": EFF} | changes
    return InterconnectConfig(**spec)


def test_every_bundled_interconnect_loads_with_a_source():
    assert set(bundled_interconnects()) == set(NAMES)
    for name in NAMES:
        config = load_interconnect(name)
        assert config.source and config.bandwidth > 0 and config.latency > 0


@pytest.mark.parametrize("name, both_directions", [
    ("nvlink3", 600e9),        # A100 datasheet: NVLink 600 GB/s
    ("nvlink4", 900e9),        # H100 datasheet: NVLink 900 GB/s
    ("nvlink5", 1.8e12),       # HGX B200: NVLink 5, 1.8 TB/s per GPU
    ("infinity_fabric", 896e9),   # MI300X: 7 links x 128 GB/s bidirectional
])
def test_nvlink_totals_match_datasheets(name, both_directions):
    assert 2 * load_interconnect(name).bandwidth == pytest.approx(both_directions)


@pytest.mark.parametrize("name, bits_per_s", [
    ("infiniband_hdr", 200e9), ("infiniband_ndr", 400e9), ("ethernet_100g", 100e9),
])
def test_network_ports_match_their_line_rates(name, bits_per_s):
    assert 8 * load_interconnect(name).bandwidth == pytest.approx(bits_per_s)


@pytest.mark.parametrize("name, gigatransfers", [("pcie4_x16", 16), ("pcie5_x16", 32)])
def test_pcie_x16_is_lanes_times_rate_after_128b130b(name, gigatransfers):
    expected = gigatransfers * 1e9 * 16 * 128 / 130 / 8
    assert load_interconnect(name).bandwidth == pytest.approx(expected, rel=0.01)


def test_topologies_and_domains():
    assert load_interconnect("tpu_v4_ici").topology == "torus3d"
    assert load_interconnect("tpu_v4_ici").domain_size == 4096       # Cloud TPU v4 Pod
    assert load_interconnect("nvlink3").domain_size == 8             # HGX A100 board


def test_interconnects_are_not_devices():
    assert not {name for name, _, _ in list_devices()} & set(NAMES)
    with pytest.raises(ConfigError, match="unknown device"):
        load_device("nvlink3")


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'nvlink3'"):
        load_interconnect("nvlnk3")
    with pytest.raises(ConfigError, match="unknown interconnect 'a100'"):
        load_interconnect("a100")
    with pytest.raises(ConfigError, match="expected kind 'interconnect', got 'gpu'"):
        load_interconnect(hw_configs_dir() / "gpu" / "a100.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: interconnect\nname: x\nbandwidth: 1 GB/s\nlatency: 1 us\n"
                   "topology: ring\nbandwith: 2 GB/s\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:6: bandwith: unknown key.*'bandwidth'"):
        load_interconnect(bad)


def test_overrides_and_extends(tmp_path):
    assert load_interconnect("nvlink3", ["bandwidth=100 GB/s"]).bandwidth == 100e9
    child = tmp_path / "slow.yaml"
    child.write_text(f"extends: {bundled_interconnects()['nvlink3'][0]}\nname: slow\n"
                     "efficiency: 0.5 # test\n")
    slow = load_interconnect(child)
    assert slow.efficiency == 0.5 and slow.bandwidth == 300e9


@pytest.mark.parametrize("n", [2, 3, 8, 64])
def test_ring_all_reduce_closed_form(n):
    nbytes = 1e9
    expected = 2 * (n - 1) / n * nbytes / (BW * EFF) + 2 * (n - 1) * LAT
    assert ic.all_reduce(nbytes, n, link()) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n", [2, 5, 8, 1000])
def test_gather_and_scatter_closed_form(n):
    expected = (n - 1) / n * 3e8 / (BW * EFF) + (n - 1) * LAT
    assert ic.all_gather(3e8, n, link()) == pytest.approx(expected, rel=1e-12)
    assert ic.reduce_scatter(3e8, n, link()) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n", [2, 7, 8, 1024])
def test_tree_all_reduce_has_two_log_n_latency_terms(n):
    expected = 2 * 1e6 / (BW * EFF) + 2 * math.ceil(math.log2(n)) * LAT
    assert ic.all_reduce(1e6, n, link(), "tree") == pytest.approx(expected, rel=1e-12)


def test_auto_picks_tree_for_many_small_messages_and_ring_for_large_ones():
    assert ic.all_reduce(1e3, 1024, link(), "auto") == ic.all_reduce(1e3, 1024, link(), "tree")
    assert ic.all_reduce(1e10, 8, link(), "auto") == ic.all_reduce(1e10, 8, link(), "ring")


def test_all_to_all_on_a_switch_and_on_a_ring():
    n, nbytes = 16, 1e9
    flat = (n - 1) / n * nbytes / (BW * EFF) + (n - 1) * LAT
    assert ic.all_to_all(nbytes, n, link("switch")) == pytest.approx(flat)
    ring_bytes = (n - 1) / n * nbytes / (BW * EFF) * n / 4      # bisection: n/4 hops on average
    assert ic.all_to_all(nbytes, n, link("ring")) == pytest.approx(ring_bytes + (n - 1) * LAT)
    torus = (n - 1) / n * nbytes / (BW * EFF) * 2 * 4 / 4        # 4 x 4 torus: 2 dims x side 4 / 4
    assert ic.all_to_all(nbytes, n, link("torus2d")) == pytest.approx(torus + (n - 1) * LAT)


def test_one_device_costs_nothing():
    for kind in ic.COLLECTIVES:
        assert ic.collective(kind, 1e9, 1, link()) == 0.0


@settings(deadline=None, max_examples=25)
@given(st.floats(1, 1e11), st.integers(2, 4096))
def test_ring_all_reduce_is_a_reduce_scatter_then_an_all_gather(nbytes, n):
    both = ic.reduce_scatter(nbytes, n, link()) + ic.all_gather(nbytes, n, link())
    assert ic.all_reduce(nbytes, n, link()) == pytest.approx(both)


def test_unknown_collective_and_algorithm():
    with pytest.raises(UsageError, match="all_reduce"):
        ic.collective("broadcast", 1, 2, link())
    with pytest.raises(UsageError, match="ring"):
        ic.all_reduce(1, 2, link(), "butterfly")


def cluster() -> ic.Cluster:
    """8 devices per node on the toy link, nodes joined by a 10x slower network."""
    return ic.Cluster(intra=link(), inter=link(bandwidth=BW / 10, latency=10 * LAT),
                      devices_per_node=8)


def test_groups_inside_a_node_use_the_intra_node_link():
    assert cluster().time("all_reduce", 1e9, 8, stride=1) == ic.all_reduce(1e9, 8, link())
    assert cluster().time("all_reduce", 1e9, 4, stride=2) == ic.all_reduce(1e9, 4, link())


def test_groups_with_one_device_per_node_use_the_network():
    net = cluster().inter
    assert cluster().time("all_reduce", 1e9, 16, stride=8) == ic.all_reduce(1e9, 16, net)
    assert cluster().send(1e6, stride=8) == pytest.approx(1e6 / net.effective_bandwidth + net.latency)
    assert cluster().send(1e6, stride=1) == pytest.approx(1e6 / (BW * EFF) + LAT)


def test_hierarchical_all_reduce_spanning_nodes():
    nbytes, c = 1e9, cluster()
    inside = 2 * ic.reduce_scatter(nbytes, 8, c.intra)          # reduce-scatter + all-gather
    across = ic.all_reduce(nbytes / 8, 4, c.inter)              # each rank's 1/8 over 4 nodes
    assert c.time("all_reduce", nbytes, 32) == pytest.approx(inside + across)
    flat = ic.all_reduce(nbytes, 32, c.inter)
    assert c.time("all_reduce", nbytes, 32) < flat


def test_spanning_nodes_without_a_network_is_an_error():
    with pytest.raises(UsageError, match="network"):
        ic.Cluster(intra=link(), devices_per_node=8).time("all_reduce", 1e9, 16)


def test_default_clusters_follow_the_device():
    a100 = ic.default_cluster(load_device("a100"))
    assert (a100.intra.name, a100.inter.name, a100.devices_per_node) == (
        load_interconnect("nvlink3").name, load_interconnect("infiniband_hdr").name, 8)
    tpu = ic.default_cluster(load_device("tpu_v4"))
    assert tpu.inter is None and tpu.devices_per_node == 4096
    chosen = ic.default_cluster(load_device("a100"), "pcie4_x16,ethernet_100g", 4)
    assert chosen.devices_per_node == 4 and chosen.inter.topology == "switch"


def test_the_device_yaml_names_its_fabric_and_every_bundled_one_loads():
    pcie5 = ic.default_cluster(load_device("a100", ["interconnect.intra=pcie5_x16"]))
    assert pcie5.intra.name == load_interconnect("pcie5_x16").name
    assert pcie5.inter.name == load_interconnect("infiniband_hdr").name
    generic = ic.default_cluster(load_device("v100"))
    assert (generic.intra.name, generic.inter.name) == tuple(
        load_interconnect(name).name for name in ic.FALLBACK_FABRIC)
    for name, _, _ in list_devices():
        assert ic.default_cluster(load_device(name)).intra.bandwidth > 0
