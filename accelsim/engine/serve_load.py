"""Serving under load: requests arriving over time at replicas of a model, on the simpy engine.

One simpy process feeds arrivals to a router (round_robin, or least_outstanding: the replica with
the fewest unfinished requests); each replica is a process that asks its scheduler
(accelsim.engine.serve_schedulers) for the next iteration, waits the iteration's time from the
device model (accelsim.engine.iteration_cost) and advances its requests, sleeping while it has
nothing to run. A replica is `tp` devices in a tensor-parallel group, or with expert parallelism
`ep` such attention ranks sharing a MoE model's experts (accelsim.engine.iteration_cost): each rank
has its own scheduler, batch and KV cache (vLLM's data-parallel attention), requests are routed to
ranks (a request's `replica` record is its rank, replica x ep + rank), and the ranks of a replica
run their iterations in step; with ep > 1 the totals add the devices, the weights per device and
the all-to-alls' seconds and share of the replicas' busy time.

KV cache capacity per device = MEMORY_UTILIZATION x memory - weights - peak activations of the
largest iteration, in blocks of `block_size` tokens (weights per device: the dense ones / tp, the
experts' / (tp x ep)). A request whose prompt + output exceeds the
model's context or the whole cache is refused (status "refused", warned); if all are, the run is.
Energy: the iterations' dynamic energy, active power (power.active) of every device while its
group iterates, and idle power of every device over the run.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import simpy

from accelsim.devices import run_precision
from accelsim.devices.interconnect import default_cluster
from accelsim.engine import single
from accelsim.engine.feasibility import check_mode
from accelsim.engine.iteration_cost import IterationCost
from accelsim.engine.serve_metrics import (DEFAULT_SLO, good_requests, latency_totals, meets_slo,
                                           parse_slo, percentile_key)
from accelsim.engine.serve_schedulers import SCHEDULERS, Replica, Request, blocks_for
from accelsim.errors import InfeasibleError, UsageError
from accelsim.units import fmt_bytes
from accelsim.workload.requests import Requests
from accelsim.workload.serving import check_decoder
from accelsim.workload.stack import resolve_stack

ROUTERS = ("round_robin", "least_outstanding")
MEMORY_UTILIZATION = 0.9     # vLLM's default gpu_memory_utilization
BLOCK_SIZE = 16              # vLLM's default KV block size (tokens)
MAX_BATCH = 256              # vLLM's default max_num_seqs
CHUNK_BUDGET = 512           # Sarathi-Serve's smaller token budget (Agrawal et al. OSDI 2024, §5)
MIN_BUDGET = 2048            # vLLM's max_num_batched_tokens floor without chunked prefill


@dataclass
class ServeSetup:
    """A model on replicas of a device: the iteration cost model and the KV block pool."""

    workload: str
    device: object
    precision: str
    cost: IterationCost
    scheduler: str
    max_batch: int
    token_budget: int
    block_size: int
    replicas: int
    router: str
    tp: int
    blocks: int = 0
    ep: int = 1

    @property
    def devices(self) -> int:
        """Devices serving: replicas x ep attention ranks x tp."""
        return self.replicas * self.ep * self.tp


@dataclass
class ServeLoadResult:
    """What a serving run gave: totals, per-request records and the iterations."""

    workload: str
    device: str
    config: dict
    totals: dict
    requests: dict = field(repr=False)
    iterations: list = field(repr=False)
    provenance: dict = field(default_factory=dict)
    device_kind: str = ""
    stack: str = ""                 # software stack modelled (accelsim.workload.stack)

    def to_dict(self) -> dict:
        """The JSON form (per-request records and iterations go to files, not here)."""
        return {"schema_version": 1, "workload": self.workload, "device": self.device,
                "mode": "serve_load", "stack": self.stack, "config": self.config,
                "totals": self.totals,
                "provenance": self.provenance}


def _check_choice(value: str, choices, key: str) -> None:
    """Refuse a value that is not one of `choices`."""
    if value not in choices:
        raise UsageError(f"unknown {key} {value!r}; expected one of {', '.join(choices)}", key=key)


def prepare_serving(workload, device, *, scheduler: str = "continuous", max_batch: int = MAX_BATCH,
                    token_budget: int | None = None, block_size: int = BLOCK_SIZE,
                    replicas: int = 1, router: str = "round_robin", tp: int = 1, ep: int = 1,
                    interconnect=None, precision: str | None = None, overrides=(),
                    max_prompt: int = 0, stack: str | None = None,
                    **workload_params) -> ServeSetup:
    """The setup of a serving run (validated; `max_prompt` sizes a static batch's activations;
    `stack`: accelsim.workload.stack, by default the device kind's for serving; `ep`: expert-
    parallel attention ranks per replica, for MoE models)."""
    _check_choice(scheduler, SCHEDULERS, "scheduler")
    _check_choice(router, ROUTERS, "router")
    for key, value in (("max_batch", max_batch), ("block_size", block_size),
                       ("replicas", replicas), ("tp", tp), ("ep", ep)):
        if not isinstance(value, int) or value < 1:
            raise UsageError(f"must be a positive integer, got {value!r}", key=key)
    if not isinstance(workload, str):
        raise UsageError("serving builds the network at each size; give a zoo name",
                         key="workload")
    device = single.load_device(device, overrides)
    check_mode(device, "serve")
    precision = run_precision(device, precision)
    check_decoder(single.load_workload(workload, precision=precision, **workload_params))
    stack = resolve_stack(stack, device.kind, "serve")
    cost = _shared_cost(workload, device, precision, tp, ep, interconnect, workload_params, stack)
    if token_budget is None:
        token_budget = CHUNK_BUDGET if scheduler == "chunked" else max(cost.context, MIN_BUDGET)
    if token_budget < 1:
        raise UsageError(f"must be a positive integer, got {token_budget!r}", key="token_budget")
    setup = ServeSetup(workload, device, precision, cost, scheduler, max_batch, token_budget,
                       block_size, replicas, router, tp, ep=ep)
    largest = max_batch * max(max_prompt, 1) if scheduler == "static" else token_budget
    activations = cost.activation_bytes(largest)
    free = device.memory.capacity * MEMORY_UTILIZATION - cost.weight_bytes - activations
    setup.blocks = max(0, math.floor(free / (cost.kv_bytes_per_token * block_size)))
    if setup.blocks == 0:
        raise InfeasibleError(
            f"no room for a KV cache on {device.name}: {MEMORY_UTILIZATION:.0%} of "
            f"{fmt_bytes(device.memory.capacity)} holds weights {fmt_bytes(cost.weight_bytes)} + "
            f"activations {fmt_bytes(activations)} per device ({_kv_hint(device, cost)})",
            key="device")
    return setup


def _kv_hint(device, cost: IterationCost) -> str:
    """What would make room for a KV cache: more devices when the weights alone fill the memory."""
    if cost.weight_bytes >= device.memory.capacity * MEMORY_UTILIZATION:
        return "the weights alone do not fit: split them over more devices with --tp or --ep"
    return "a smaller max_batch or token_budget needs fewer activations"


_COSTS: dict = {}           # recent cost models, so sweeps and setups of one model share a grid
KEPT_COSTS = 8


def _shared_cost(workload, device, precision, tp, ep, interconnect, params,
                 stack) -> IterationCost:
    """The (shared) iteration cost model of a model on a tp group (x ep ranks) of a device."""
    key = (workload, repr(device), precision, tp, ep, repr(interconnect),
           repr(sorted(params.items())), stack)
    if key not in _COSTS:
        cluster = default_cluster(device, interconnect) if tp * ep > 1 else None
        while len(_COSTS) >= KEPT_COSTS:
            _COSTS.pop(next(iter(_COSTS)))
        _COSTS[key] = IterationCost(workload, device, precision, tp, cluster, dict(params), stack,
                                    ep)
    return _COSTS[key]


def _refusals(setup: ServeSetup, requests: Requests) -> np.ndarray:
    """Per request: why it can never run ("" if it can)."""
    need = requests.prompt + requests.output
    return np.where(need > setup.cost.context, "context",
                    np.where(blocks_for(need, setup.block_size) > setup.blocks, "kv_cache", ""))


def _work(setup: ServeSetup, replica: Replica, plan) -> tuple:
    """A rank's planned iteration as (prefill (new, past) pairs, decodes, their context tokens)."""
    if plan is None:
        return (), 0, 0
    chunks, decoding = plan
    if setup.scheduler == "static" and decoding:
        longest = max(r.prompt for r in decoding)
        return (), len(decoding), len(decoding) * (longest + replica.static_step + 1)
    return [(new, r.cached) for r, new in chunks], len(decoding), \
        sum(r.cached + 1 for r in decoding)


def _advance(setup: ServeSetup, replica: Replica, chunks, decoding, now: float) -> None:
    """Apply an iteration's results at `now`: cache tokens, emit tokens, finish requests."""
    done = []
    for request, new in chunks:
        request.cached = request.target if setup.scheduler == "static" else request.cached + new
        if not request.prefilling:
            request.emit(now)
            done.append(request)
    for request in decoding:
        if request.generated < request.output:
            request.cached += 1
            request.emit(now)
            done.append(request)
    if setup.scheduler == "static":
        replica.static_step += bool(decoding)
        if all(r.generated >= r.output for r in replica.static_batch):
            for request in replica.static_batch:
                request.finish = now
                replica.release(request)
            replica.running.clear()
            replica.static_batch = []
        return
    finished = [r for r in done if r.generated >= r.output]
    for request in finished:
        request.finish = now
        replica.release(request)
    if finished:
        replica.running = [r for r in replica.running if r.finish is None]


def run_load(setup: ServeSetup, requests: Requests, slo: str = DEFAULT_SLO) -> ServeLoadResult:
    """Simulate `requests` on `setup` and measure them against `slo`."""
    bounds = parse_slo(slo)
    refused = _refusals(setup, requests)
    if refused.all():
        first = int(np.argmax(refused != ""))
        raise InfeasibleError(
            f"no request can be served: prompt + output = {requests.prompt[first]} + "
            f"{requests.output[first]} tokens exceeds {setup.workload}'s "
            + (f"context of {setup.cost.context} tokens" if refused[first] == "context" else
               f"KV cache of {setup.blocks * setup.block_size} tokens on {setup.device.name}"),
            key="prompt")
    if refused.any():
        warnings.warn(f"{int((refused != '').sum())} of {len(requests)} requests refused: prompt "
                      f"+ output exceeds the model context or the KV cache", stacklevel=2)
    env = simpy.Environment()
    replicas = [Replica(setup.blocks, setup.block_size, setup.max_batch, setup.token_budget)
                for _ in range(setup.replicas * setup.ep)]          # attention ranks
    wakeups = [env.event() for _ in range(setup.replicas)]
    states = [Request(i, float(requests.arrival_s[i]), int(requests.prompt[i]),
                      int(requests.output[i])) for i in range(len(requests))]
    routed = np.full(len(states), -1)
    iterations: list[tuple] = []
    energy = [0.0, 0.0]             # dynamic joules, all-to-all seconds

    def arrivals():
        for request in states:
            if request.arrival > env.now:        # simultaneous arrivals queue together
                yield env.timeout(request.arrival - env.now)
            if refused[request.index]:
                continue
            k = request.index % len(replicas) if setup.router == "round_robin" else \
                min(range(len(replicas)), key=lambda j: replicas[j].outstanding)
            routed[request.index] = k
            replicas[k].waiting.append(request)
            if not wakeups[k // setup.ep].triggered:
                wakeups[k // setup.ep].succeed()

    def serve(g: int, ranks: list[Replica]):
        while True:
            plans = [rank.plan(setup.scheduler) for rank in ranks]
            if not any(plans):
                wakeups[g] = env.event()
                yield wakeups[g]
                continue
            seconds, joules, exchange = setup.cost.group_iteration(
                [_work(setup, rank, plan) for rank, plan in zip(ranks, plans)])
            start = env.now
            yield env.timeout(seconds)
            energy[0] += joules
            energy[1] += exchange
            planned = [plan for plan in plans if plan]
            iterations.append((g, start, seconds,
                               sum(new for chunks, _ in planned for _, new in chunks),
                               sum(len(decoding) for _, decoding in planned),
                               sum(len({r.index for r, _ in chunks} | {r.index for r in decoding})
                                   for chunks, decoding in planned)))
            for rank, plan in zip(ranks, plans):
                if plan:
                    _advance(setup, rank, *plan, env.now)

    env.process(arrivals())
    for g in range(setup.replicas):
        env.process(serve(g, replicas[g * setup.ep:(g + 1) * setup.ep]))
    env.run()
    return _result(setup, requests, states, refused, routed, replicas, iterations, energy,
                   bounds)


def _result(setup, requests, states, refused, routed, replicas, iterations, energy,
            bounds) -> ServeLoadResult:
    """Totals and records of a finished run (`energy`: dynamic joules, all-to-all seconds)."""
    dynamic_j, exchange_s = energy
    served = [r for r in states if not refused[r.index]]
    records = {
        "request": np.arange(len(states)),
        "arrival_s": requests.arrival_s,
        "prompt_tokens": requests.prompt,
        "output_tokens": requests.output,
        "replica": routed,
        "status": np.where(refused != "", np.char.add("refused_", refused), "done"),
        "ttft_s": _by_index(states, lambda r: r.first_token - r.arrival),
        "tbt_mean_s": _by_index(states, lambda r: (r.last_token - r.first_token) / (r.output - 1)
                                if r.output > 1 else 0.0),
        "e2e_s": _by_index(states, lambda r: r.finish - r.arrival),
        "preemptions": np.array([r.preemptions for r in states]),
    }
    done = refused == ""
    ttft, tbt_mean, e2e = (records[key][done] for key in ("ttft_s", "tbt_mean_s", "e2e_s"))
    gaps = np.concatenate([r.gaps for r in served if r.gaps] or [np.zeros(0)])
    start = min(r.arrival for r in served)
    span = max(r.finish for r in served) - start
    tokens = sum(r.output for r in served)
    idle_j = setup.cost.idle_power_w * setup.replicas * span
    busy = sum(it[2] for it in iterations)
    static_j = idle_j + setup.cost.active_power_w * busy
    totals = latency_totals({"ttft": ttft, "tbt": gaps, "e2e": e2e}, bounds)
    good = good_requests({"ttft": ttft, "tbt": tbt_mean, "e2e": e2e}, bounds)
    batch_sizes = [it[5] for it in iterations]
    kv_token_bytes = setup.cost.kv_bytes_per_token * setup.tp
    totals.update({
        "requests": len(served),
        "refused": len(states) - len(served),
        "duration_s": span,
        "requests_per_s": len(served) / span if span > 0 else 0.0,
        "tokens_per_s": tokens / span if span > 0 else 0.0,
        "goodput_rps": float(good.sum()) / span if span > 0 else 0.0,
        "slo_met": meets_slo(totals, bounds),
        "ttft_mean_s": float(ttft.mean()),
        "e2e_mean_s": float(e2e.mean()),
        "mean_batch_size": float(np.mean(batch_sizes)) if batch_sizes else 0.0,
        "iterations": len(iterations),
        "kv_capacity_bytes": setup.blocks * setup.block_size * kv_token_bytes,
        "kv_peak_bytes": max(r.peak_blocks for r in replicas) * setup.block_size * kv_token_bytes,
        "preemptions": sum(r.preemptions for r in replicas),
        "energy_j": dynamic_j + static_j,
        "energy_per_token_j": (dynamic_j + static_j) / tokens if tokens else 0.0,
    })
    if setup.ep > 1:
        totals.update({"devices": setup.devices,
                       "weights_per_device_bytes": setup.cost.weight_bytes,
                       "all_to_all_s": exchange_s,
                       "all_to_all_share": exchange_s / busy if busy else 0.0})
    config = {"scheduler": setup.scheduler, "max_batch": setup.max_batch,
              "token_budget": setup.token_budget, "block_size": setup.block_size,
              "kv_blocks": setup.blocks, "replicas": setup.replicas, "router": setup.router,
              "tp": setup.tp, "ep": setup.ep, "precision": setup.precision,
              "slo": {percentile_key(m, q): limit for (m, q), limit in bounds.items()}}
    return ServeLoadResult(workload=setup.workload, device=setup.device.name, config=config,
                           totals=totals, requests=records, iterations=iterations,
                           device_kind=setup.device.kind, stack=setup.cost.stack)


def _by_index(states, value) -> np.ndarray:
    """A per-request float column (nan for requests that never finished)."""
    return np.array([value(r) if r.finish is not None else math.nan for r in states])
