"""One collective on a cluster: its time, algorithm and protocol, and nccl-tests' bandwidths.

Bus bandwidth follows nccl-tests (doc/PERFORMANCE.md): algorithm bandwidth (bytes / time) x
2(n-1)/n for all-reduce, x (n-1)/n for all-gather, reduce-scatter and all-to-all, x 1 for send/recv.
"""

from __future__ import annotations

from accelsim import units
from accelsim.devices.interconnect import COLLECTIVES, default_cluster
from accelsim.devices.nccl import bus_bandwidth
from accelsim.errors import UsageError, did_you_mean
from accelsim.workload.limits import MAX_ELEMENTS
from accelsim.queries.common import envelope


def collective_name(text: str) -> str:
    """The collective `text` names (hyphens or underscores), else a usage error."""
    kind = text.strip().lower().replace("-", "_")
    if kind not in COLLECTIVES:
        raise UsageError(f"unknown collective {text!r}{did_you_mean(kind, COLLECTIVES)}; expected "
                         f"one of {', '.join(COLLECTIVES)}", key="collective")
    return kind


def buffer_bytes(text: str) -> float:
    """Bytes from a number or a unit string ("64MiB", "2 KiB", "1e6"), 0 to MAX_ELEMENTS (1 PiB:
    no buffer one device holds is larger)."""
    try:
        nbytes = units.parse(text, "bytes")
    except units.UnitError as exc:
        raise UsageError(str(exc), key="--bytes") from None
    if not 0 <= nbytes <= MAX_ELEMENTS:
        raise UsageError(f"must be >= 0 and at most 1 PiB, got {text!r}", key="--bytes")
    return nbytes


def collective(kind: str, nbytes: float, devices: int, interconnect: str = "nvlink3",
               devices_per_node: int | None = None, algorithm: str = "auto",
               protocol: str = "auto") -> dict:
    """The JSON answer for one collective of `nbytes` per device over `devices` devices."""
    kind = collective_name(kind)
    if devices < 1:
        raise UsageError(f"--devices must be >= 1, got {devices}", key="devices")
    cluster = default_cluster(None, interconnect, devices_per_node)
    nodes = cluster.placement(devices)[1]
    seconds = cluster.time(kind, nbytes, devices, 1, algorithm, protocol)
    choice = cluster.choice(kind, nbytes, 2 if kind == "send_recv" else devices, 1, algorithm,
                            protocol)
    how = ("hierarchical", None) if choice is None else \
        (choice.algorithm, choice.protocol) if choice else (None, None)
    totals = {"latency_s": seconds, "algorithm": how[0], "protocol": how[1],
              "algorithm_bandwidth_bytes_per_s": nbytes / seconds if seconds else 0.0,
              "bus_bandwidth_bytes_per_s": bus_bandwidth(kind, nbytes, devices, seconds)}
    return envelope("collective", {
        "collective": kind, "bytes": nbytes, "devices": devices, "nodes": nodes,
        "devices_per_node": cluster.devices_per_node,
        "interconnect": {"intra": cluster.intra.name,
                         "inter": cluster.inter.name if cluster.inter else None},
        "requested": {"algorithm": algorithm, "protocol": protocol}, "totals": totals})


def describe(answer: dict) -> list[list[str]]:
    """(quantity, value) rows of a collective answer for a table."""
    totals = answer["totals"]
    how = totals["algorithm"] or "none (nothing to move)"
    if totals["protocol"]:
        how += f" / {totals['protocol']}"
    nodes = f"{answer['nodes']} node(s) of {answer['devices_per_node']}"
    return [["collective", answer["collective"]],
            ["buffer per device", units.fmt_bytes(answer["bytes"])],
            ["devices", f"{answer['devices']} ({nodes})"],
            ["fabric", " + ".join(n for n in answer["interconnect"].values() if n)],
            ["algorithm / protocol", how], ["latency", units.fmt(totals["latency_s"], "s")],
            ["algorithm bandwidth", units.fmt(totals["algorithm_bandwidth_bytes_per_s"], "B/s")],
            ["bus bandwidth", units.fmt(totals["bus_bandwidth_bytes_per_s"], "B/s")]]
