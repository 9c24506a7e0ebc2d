"""NCCL's collective cost model: latency and bandwidth by algorithm and protocol, picked as NCCL's
tuner picks them (the fastest predicted algorithm x protocol for the message).

`nbytes` is the full buffer one device holds, as in accelsim.devices.interconnect. On a fabric of
achievable bus bandwidth B = bandwidth x efficiency (the Simple protocol's), n devices:

  time(a, p) = launch + s x (base[a][p] + steps(a) x hw[a][p]) + t + t F / (t + F)

  where t = nbytes / algbw(a, p) is the streaming time and F = pipeline the time to fill the
  chunk pipeline of LL128, Simple and NVLS (0 for LL, whose 8-byte lines need no chunks): small
  messages run at about half speed, large ones pay F once.

  ring   steps 2(n-1) for all-reduce, n-1 for all-gather and reduce-scatter;
         algbw = busbw(p) x n / steps (the bytes each device moves per byte of buffer)
  tree   all-reduce only; inside a node a chain: 2(n-1) steps; algbw = busbw_tree(p) / 2
  nvls   all-reduce on NVLink SHARP (the NVSwitch adds the vectors, H100 and later): one NVLS
         latency; algbw = nvls_bandwidth, whatever n (each device sends and receives nbytes once)
  p2p    send/recv and all-to-all: one step; all-to-all moves (n-1)/n x nbytes x hops

  busbw(simple) = B; busbw(ll128) = 0.92 B (120 of 128 bytes are data); busbw(ll) = B/4 for
  all-reduce, B/3 otherwise, at most ll_max_bandwidth (8-byte stores of 4 data bytes + a flag);
  busbw_tree = 0.92 B, LL 1/3.8 of that, LL128 7/9 of that.

Across nodes of `local` devices joined by a network (NCCL's rings and trees span them): the ring
crosses the network 2(nodes-1) times in an all-reduce (nodes-1 in the others) at the network's
step latency and runs at min(B, local x B_network), the node's NICs together; the tree adds
2 ceil(log2 nodes) network levels; NVLS stays inside one node.

base and hw are NCCL's baseLat and hwLat tables and the protocol factors are NCCL's model
refinements (NVIDIA/nccl src/graph/tuning.cc, v2.19); s = latency_scale (one per protocol),
F, B and nvls_bandwidth are fitted per fabric on public nccl-tests rows (calibrate/nccl_fit.py);
launch (default 0) is a per-call cost a user may add.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accelsim.config.interconnect import PROTOCOLS, InterconnectConfig
from accelsim.errors import UsageError, check_name

US = 1e-6
ALGORITHMS = ("ring", "tree", "nvls", "p2p")   # p2p: send/recv and all-to-all
# tuning.cc baseLat (us), by algorithm then protocol (LL, LL128, Simple); NVLS has none
BASE_LATENCY = {"tree": (6.8, 14.0, 0.0), "ring": (6.6, 14.0, 8.4), "nvls": (0.0, 0.0, 0.0)}
# tuning.cc hwLat (us) per step, by hardware, algorithm, protocol
STEP_LATENCY = {
    "nvlink": {"tree": (0.6, 1.25, 28.0), "ring": (0.6, 1.9, 3.4)},
    "pci": {"tree": (1.0, 1.9, 28.0), "ring": (1.0, 2.5, 5.7)},
    "net": {"tree": (5.0, 8.5, 28.0), "ring": (2.7, 4.0, 14.0)},
}
LL128_DATA = 0.92          # tuning.cc: LL128 bus bandwidth 0.92 of Simple's (120 of 128 bytes)
TREE_BANDWIDTH = 0.92      # tuning.cc: tree bus bandwidth 0.92 of the ring's
TREE_LL = 1 / 3.8          # tuning.cc: tree LL
TREE_LL128 = 7 / 9         # tuning.cc: tree LL128 inside one node


@dataclass(frozen=True)
class Choice:
    """One algorithm x protocol for a collective: its fixed latency and its algorithm bandwidth."""

    algorithm: str
    protocol: str
    latency: float             # seconds, whatever the size
    algbw: float               # bytes of buffer per second
    fill: float = 0.0          # seconds to fill the chunk pipeline, at most (0: LL, no chunks)

    def time(self, nbytes: float) -> float:
        """Seconds to run the collective on `nbytes`: while the pipeline fills, about half speed."""
        stream = nbytes / self.algbw
        filling = stream * self.fill / (stream + self.fill) if self.fill else 0.0
        return self.latency + stream + filling


def best(kind: str, nbytes: float, n: int, link: InterconnectConfig, algorithm: str = "auto",
         protocol: str = "auto", inter: InterconnectConfig | None = None, nodes: int = 1) -> Choice:
    """The fastest algorithm x protocol for `kind` on `nbytes` over `n` devices (NCCL's tuner),
    among those `algorithm` and `protocol` allow ("auto": all that the collective and fabric have);
    with `inter`, the n devices sit n / nodes per node of `link`, nodes joined by `inter`."""
    every = choices(link, kind, n, inter, nodes)
    if algorithm == protocol == "auto":
        return min(every, key=lambda c: c.time(nbytes))
    check_name(algorithm, ("auto", *ALGORITHMS), "algorithm")
    check_name(protocol, ("auto", *PROTOCOLS), "protocol")
    allowed = [c for c in every
               if algorithm in ("auto", c.algorithm) and protocol in ("auto", c.protocol)]
    if not allowed:
        raise UsageError(f"{kind} on {link.name} has no {algorithm} algorithm with the {protocol} "
                         f"protocol over {n} devices", key="algorithm")
    return min(allowed, key=lambda c: c.time(nbytes))


_CHOICES: dict[tuple, tuple] = {}     # (id(link), kind, n, id(inter), nodes) -> (link, inter, choices)


def choices(link: InterconnectConfig, kind: str, n: int, inter: InterconnectConfig | None = None,
            nodes: int = 1) -> tuple[Choice, ...]:
    """_choices, remembered per fabric object (hashing a config on every call would cost more
    than the model; the entry holds the objects, so their ids stay theirs)."""
    key = (id(link), kind, n, id(inter), nodes)
    hit = _CHOICES.get(key)
    if hit is None:
        if len(_CHOICES) > 65536:
            _CHOICES.clear()
        hit = _CHOICES[key] = (link, inter, _choices(link, kind, n, inter, nodes))
    return hit[2]


def clear_cache() -> None:
    """Forget remembered choices (a fit builds thousands of fabrics)."""
    _CHOICES.clear()


def _choices(link: InterconnectConfig, kind: str, n: int, inter: InterconnectConfig | None = None,
             nodes: int = 1) -> tuple[Choice, ...]:
    """Every algorithm x protocol NCCL could run `kind` with over `n` devices of `link` (a fabric
    without an `nccl` model: the alpha-beta ring, and tree for all-reduce, at `latency` per step).
    Across `nodes` nodes joined by `inter`, rings and trees cross the network nodes - 1 times per
    pass, at the bus bandwidth of the slower of the fabric and the node's share of the network."""
    model = link.nccl
    if model is None:
        return _alpha_beta(link, kind, n)
    local = n // nodes
    steps = {"all_reduce": 2 * (n - 1), "all_gather": n - 1, "reduce_scatter": n - 1}.get(kind, 1)
    crossings = (nodes - 1) * (2 if kind == "all_reduce" else 1)
    out = []
    for index, protocol in enumerate(PROTOCOLS):
        if protocol not in model.protocols or (inter and protocol not in inter.nccl.protocols):
            continue
        fill = model.pipeline if protocol != "ll" else 0.0
        bus = _bus_bandwidth(link, kind, protocol)
        ring_latency = _latency(model, "ring", index, steps - crossings)
        if inter:
            bus = min(bus, local * _bus_bandwidth(inter, kind, protocol))
            ring_latency += _latency(inter.nccl, "ring", index, crossings, base=False)
        out.append(Choice(_ring_name(kind), protocol,
                          ring_latency, bus * _ring_share(kind, n, steps, link), fill))
        if kind == "all_reduce":
            tree = bus * TREE_BANDWIDTH * (TREE_LL, TREE_LL128, 1.0)[index]
            if protocol == "ll":
                tree = min(tree, model.ll_max_bandwidth)
            tree_latency = _latency(model, "tree", index, 2 * (local - 1))
            if inter:
                tree_latency += _latency(inter.nccl, "tree", index,
                                         2 * math.ceil(math.log2(nodes)), base=False)
            out.append(Choice("tree", protocol, tree_latency, tree / 2, fill))
    if kind == "all_reduce" and model.nvls and nodes == 1:
        latency = model.launch + model.latency_scale.simple * model.nvls_latency
        out.append(Choice("nvls", "simple", latency, model.nvls_bandwidth, model.pipeline))
    return tuple(out)


def _alpha_beta(link: InterconnectConfig, kind: str, n: int) -> tuple[Choice, ...]:
    """Ring (and for all-reduce tree) of the plain alpha-beta model: `latency` per step."""
    steps = {"all_reduce": 2 * (n - 1), "send_recv": 1}.get(kind, n - 1)
    ring = Choice(_ring_name(kind), "simple", steps * link.latency,
                  link.effective_bandwidth * _ring_share(kind, n, steps, link))
    if kind != "all_reduce":
        return (ring,)
    tree = Choice("tree", "simple", 2 * math.ceil(math.log2(n)) * link.latency,
                  link.effective_bandwidth / 2)
    return ring, tree


def _ring_name(kind: str) -> str:
    """The name of a collective's ring-like algorithm: p2p for send/recv and all-to-all."""
    return "p2p" if kind in ("all_to_all", "send_recv") else "ring"


def _latency(model, algorithm: str, index: int, steps: int, base: bool = True) -> float:
    """Seconds of fixed cost: launch plus NCCL's base latency (if `base`) and per-step latencies,
    scaled."""
    step = STEP_LATENCY[model.hardware][algorithm][index] * US
    scale = getattr(model.latency_scale, PROTOCOLS[index])
    if not base:
        return scale * steps * step
    return model.launch + scale * (BASE_LATENCY[algorithm][index] * US + steps * step)


def _bus_bandwidth(link: InterconnectConfig, kind: str, protocol: str) -> float:
    """Bus bandwidth of a ring under `protocol` (NCCL's protocol refinements)."""
    bus = link.effective_bandwidth
    if protocol == "ll128":
        return bus * LL128_DATA
    if protocol == "ll":
        return min(bus / (4 if kind == "all_reduce" else 3), link.nccl.ll_max_bandwidth)
    return bus


def _ring_share(kind: str, n: int, steps: int, link: InterconnectConfig) -> float:
    """Algorithm bandwidth per bus bandwidth: buffer bytes per byte a device sends."""
    if kind == "all_to_all":
        return n / (n - 1) / mean_hops(n, link)
    if kind == "send_recv":
        return 1.0
    return n / steps


TORUS_DIMS = {"ring": 1, "torus2d": 2, "torus3d": 3}


def mean_hops(n: int, link: InterconnectConfig) -> float:
    """Links an all-to-all byte crosses on average: 1 on a switch, d k / 4 on a d-torus, side k."""
    dims = TORUS_DIMS.get(link.topology)
    if dims is None:
        return 1.0
    return max(1.0, dims * n ** (1.0 / dims) / 4)


def bus_bandwidth(kind: str, nbytes: float, n: int, seconds: float) -> float:
    """nccl-tests' bus bandwidth of a run (doc/PERFORMANCE.md): algbw x 2(n-1)/n for all-reduce,
    x (n-1)/n for all-gather, reduce-scatter and all-to-all, x 1 for send/recv."""
    if seconds <= 0 or n < 2:
        return 0.0
    return nbytes / seconds * bus_factor(kind, n)


def bus_factor(kind: str, n: int) -> float:
    """Bytes a device sends per byte of buffer in `kind` over n devices (nccl-tests' bus factors)."""
    return {"all_reduce": 2 * (n - 1) / n, "send_recv": 1.0}.get(kind, (n - 1) / n)

