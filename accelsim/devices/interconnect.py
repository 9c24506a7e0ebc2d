"""Collective costs on an interconnect: NCCL's algorithm x protocol model where the fabric has one
(accelsim.devices.nccl), else the alpha-beta model of ring and tree algorithms.

`nbytes` is always the full buffer one device holds: the vector being all-reduced, the gathered
result of an all-gather, the input of a reduce-scatter, the send buffer of an all-to-all. A fabric
without an `nccl` block (a TPU torus, a toy link) runs the alpha-beta model, with n devices,
bandwidth bw (per direction per device, times the link's efficiency) and per-step latency a:

  ring all-reduce        2 (n-1)/n x nbytes/bw + 2 (n-1) a    (reduce-scatter then all-gather)
  tree all-reduce        2 nbytes/bw + 2 ceil(log2 n) a       (pipelined reduce up, broadcast down;
                                                               NCCL's tree runs at half the bus
                                                               bandwidth, src/graph/tuning.cc)
  all-gather             (n-1)/n x nbytes/bw + (n-1) a
  reduce-scatter         (n-1)/n x nbytes/bw + (n-1) a
  all-to-all             (n-1)/n x nbytes/bw x hops + (n-1) a
  point-to-point         nbytes/bw + a

All-to-all traffic crosses `hops` links on average: 1 through a switch; d k / 4 on a d-dimensional
torus (or ring, d = 1) of side k = n^(1/d), whose links share the device's bandwidth. "auto" picks
the fastest algorithm (and protocol), as NCCL's tuner does; an empty buffer costs nothing.

A Cluster joins an intra-node fabric and a network between nodes. A group whose devices sit several
per node runs hierarchically (NCCL-style): reduce-scatter inside each node, the collective across
nodes on each device's 1/local share of the data, all-gather inside each node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.config.interconnect import InterconnectConfig, load_interconnect
from accelsim.devices.nccl import Choice, best, mean_hops
from accelsim.errors import UsageError, check_name

ALGORITHMS = ("ring", "tree", "nvls", "p2p", "auto")
COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv")
__all__ = ["ALGORITHMS", "COLLECTIVES", "Cluster", "all_gather", "all_reduce", "all_to_all",
           "chosen", "collective", "default_cluster", "mean_hops", "point_to_point",
           "reduce_scatter"]


def _check(nbytes: float, n: int) -> None:
    """Reject negative sizes and empty groups."""
    if not nbytes >= 0 or n < 1:
        raise UsageError(f"a collective needs nbytes >= 0 and n >= 1 devices, got {nbytes}, {n}",
                         key="collective")


def chosen(kind: str, nbytes: float, n: int, link: InterconnectConfig, algorithm: str = "auto",
           protocol: str = "auto", inter: InterconnectConfig | None = None,
           nodes: int = 1) -> Choice | None:
    """The algorithm x protocol `kind` runs with (None: nothing to do, one device or no bytes);
    with `inter`, over `nodes` nodes of n / nodes devices joined by it."""
    check_name(kind, COLLECTIVES, "collective")
    _check(nbytes, n)
    if n == 1 or nbytes == 0:
        return None
    return best(kind, nbytes, n, link, algorithm, protocol, inter, nodes)


def collective(kind: str, nbytes: float, n: int, link: InterconnectConfig,
               algorithm: str = "auto", protocol: str = "auto") -> float:
    """Seconds for collective `kind` (one of COLLECTIVES) on one flat fabric."""
    choice = chosen(kind, nbytes, n, link, algorithm, protocol)
    return choice.time(nbytes) if choice else 0.0


def all_reduce(nbytes: float, n: int, link: InterconnectConfig, algorithm: str = "ring",
               protocol: str = "auto") -> float:
    """Seconds to all-reduce `nbytes` over `n` devices ("auto": the fastest algorithm)."""
    return collective("all_reduce", nbytes, n, link, algorithm, protocol)


def all_gather(nbytes: float, n: int, link: InterconnectConfig, protocol: str = "auto") -> float:
    """Seconds to gather `nbytes` in all (each device contributes nbytes / n), ring algorithm."""
    return collective("all_gather", nbytes, n, link, "ring", protocol)


def reduce_scatter(nbytes: float, n: int, link: InterconnectConfig,
                   protocol: str = "auto") -> float:
    """Seconds to reduce `nbytes` and leave each device one n-th of the sum, ring algorithm."""
    return collective("reduce_scatter", nbytes, n, link, "ring", protocol)


def all_to_all(nbytes: float, n: int, link: InterconnectConfig) -> float:
    """Seconds for every device to send nbytes / n to each other device."""
    return collective("all_to_all", nbytes, n, link)


def point_to_point(nbytes: float, link: InterconnectConfig) -> float:
    """Seconds to send `nbytes` from one device to a neighbour."""
    return collective("send_recv", nbytes, 2, link)


@dataclass(frozen=True)
class Cluster:
    """Devices in nodes of `devices_per_node`: a fabric inside each node, a network between."""

    intra: InterconnectConfig
    inter: InterconnectConfig | None = None
    devices_per_node: int = 8

    def placement(self, size: int, stride: int = 1) -> tuple[int, int]:
        """(members per node, nodes) of a group of `size` devices whose ranks are `stride` apart."""
        local = max(1, min(size, self.devices_per_node // stride))
        return local, math.ceil(size / local)

    def link(self, size: int, stride: int = 1) -> InterconnectConfig:
        """The fabric a group's neighbours talk over: intra-node if the group fits in one node."""
        return self.intra if self.placement(size, stride)[1] == 1 else self._network()

    def _network(self) -> InterconnectConfig:
        """The network between nodes; an error if the cluster has none."""
        if self.inter is None:
            raise UsageError(f"the job spans more than one node of {self.devices_per_node} devices "
                             f"but no network between nodes was given", key="interconnect")
        return self.inter

    def time(self, kind: str, nbytes: float, size: int, stride: int = 1,
             algorithm: str = "auto", protocol: str = "auto") -> float:
        """Seconds for collective `kind` over a group of `size` devices `stride` ranks apart."""
        return math.fsum(times * choice.time(part)
                         for choice, part, times in self._phases(kind, nbytes, size, stride,
                                                                 algorithm, protocol))

    def cost(self, kind: str, nbytes: float, size: int, stride: int = 1,
             algorithm: str = "auto", protocol: str = "auto") -> tuple[float, float]:
        """(`time`, its fixed part): the launch and per-step latencies of the algorithms chosen
        for `nbytes`, what the collective costs whatever share of the links it gets."""
        phases = self._phases(kind, nbytes, size, stride, algorithm, protocol)
        return (math.fsum(times * choice.time(part) for choice, part, times in phases),
                math.fsum(times * choice.latency for choice, _, times in phases))

    def _phases(self, kind: str, nbytes: float, size: int, stride: int, algorithm: str,
                protocol: str) -> list[tuple[Choice, float, int]]:
        """(choice, bytes, times run) of each collective `kind` runs as, in order."""
        if kind == "send_recv":
            return _phase(chosen(kind, nbytes, 2, self.link(2, stride)), nbytes)
        whole = self.choice(kind, nbytes, size, stride, algorithm, protocol)
        if whole is not None:
            return _phase(whole, nbytes)
        local, nodes = self.placement(size, stride)
        net = self._network()
        if kind == "all_to_all":       # the share bound for other nodes crosses the network
            inside, across = nbytes * local / size, nbytes * (size - local) / size * nodes / (nodes - 1)
            return _phase(chosen(kind, inside, local, self.intra), inside) + \
                _phase(chosen(kind, across, nodes, net), across)
        inside = {"all_reduce": 2, "all_gather": 1, "reduce_scatter": 1}[kind]
        return _phase(chosen("reduce_scatter", nbytes, local, self.intra, "ring", protocol),
                      nbytes, inside) + \
            _phase(chosen(kind, nbytes / local, nodes, net, algorithm, protocol), nbytes / local)

    def choice(self, kind: str, nbytes: float, size: int, stride: int = 1, algorithm: str = "auto",
               protocol: str = "auto") -> Choice | bool | None:
        """How the group runs `kind` as one NCCL collective: its Choice, False when there is
        nothing to move; None when it runs in phases (reduce-scatter inside nodes, the collective
        across them, all-gather inside: a fabric without an NCCL model, or all-to-all)."""
        local, nodes = self.placement(size, stride)
        if nodes == 1:
            return chosen(kind, nbytes, size, self.intra, algorithm, protocol) or False
        net = self._network()
        if local == 1:
            return chosen(kind, nbytes, size, net, algorithm, protocol) or False
        if kind == "all_to_all" or self.intra.nccl is None or net.nccl is None:
            return None
        return chosen(kind, nbytes, size, self.intra, algorithm, protocol, net, nodes) or False

    def send(self, nbytes: float, stride: int) -> float:
        """Seconds to send `nbytes` to the device `stride` ranks away (a pipeline neighbour)."""
        return self.time("send_recv", nbytes, 2, stride)


def _phase(choice: Choice | None, nbytes: float, times: int = 1) -> list[tuple[Choice, float, int]]:
    """One phase of a collective, none when there is nothing to move."""
    return [(choice, nbytes, times)] if choice else []


FALLBACK_FABRIC = ("pcie4_x16", "infiniband_hdr")   # (intra, inter) of a device without `interconnect`


def default_cluster(device, interconnect: str | tuple | None = None,
                    devices_per_node: int | None = None) -> Cluster:
    """The cluster of the device's `interconnect` (FALLBACK_FABRIC without one), or the one named by
    `interconnect` ("intra[,inter]" bundled names or paths); nodes hold the intra fabric's
    domain_size devices."""
    if interconnect is None:
        fabric = device.interconnect
        names = (fabric.intra, fabric.inter) if fabric else FALLBACK_FABRIC
    elif isinstance(interconnect, str):
        names = tuple(part.strip() for part in interconnect.split(",")) + (None,)
    else:
        names = tuple(interconnect) + (None,)
    intra = load_interconnect(names[0])
    inter = load_interconnect(names[1]) if names[1] else None
    return Cluster(intra=intra, inter=inter,
                   devices_per_node=devices_per_node or intra.domain_size or 8)
