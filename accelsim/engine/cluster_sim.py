"""One training step of a data/tensor/pipeline-parallel job as a simpy simulation with shared links.

Model:
- Devices. Tensor-parallel ranks and data-parallel replicas are symmetric, so one device per pipeline
  stage is simulated: its compute lane runs the stage's forward and backward passes, one micro-batch
  at a time, in the 1F1B order (Narayanan et al. SC21); with `virtual_stages` v > 1, device d holds
  virtual stages d, d + p, ... and runs Megatron-LM's interleaved 1F1B order (m a multiple of p).
- Links. Each device has an intra-node link (its NVLink/NVSwitch port, or PCIe where that is the
  fabric) and a network link (its NIC: the fabric YAMLs give bandwidth per device, so one NIC per
  device). A link is processor-shared: n transfers on it at once each get 1/n of its bandwidth.
  A collective or send runs on the link of its group (intra-node if the group fits in a node, else
  the NIC, as Cluster.link says) and costs exactly accelsim.devices.interconnect's time when alone:
  its fixed part (Cluster.cost) is latency that no one shares, the rest is work at full bandwidth
  that concurrent transfers share. Affine collective times therefore compose: two all-reduces of b1
  and b2 bytes started together end when one all-reduce of b1 + b2 would.
- What contends. Tensor-parallel all-reduces run after each forward and backward, in the critical
  path of the micro-batch. Pipeline sends (activations forward, gradients backward: 1/tp per rank
  point-to-point, then Megatron's all-gather inside the receiving node) hold the sender's lane in
  plain 1F1B (Megatron's p2p calls are blocking there) and run beside compute with v > 1 (Megatron
  overlaps them in the interleaved schedule). Data-parallel gradient buckets (25 MiB, PyTorch DDP's
  default) become ready in order as the backward of a stage's last micro-batch proceeds and run one
  after another (one NCCL stream) on the stage's NIC, sharing it with that device's pipeline sends;
  ZeRO 1/2 all-gather updated weights after them, ZeRO 3 all-gathers weights (twice) from the start
  of the last forward. The optimizer step follows the device's gradient synchronisation. The step
  ends when every device has stepped its optimizer.
- Not modelled: per-node NIC sharing beyond what the per-device bandwidth already folds in; switch
  and fabric congestion between nodes (links are per device, the fabric non-blocking); the two
  directions of a link as separate resources; a hierarchical collective's intra-node phases (the
  whole of it runs on the NIC); overlap of a tensor-parallel all-reduce with the compute around it
  (a pass's all-reduces run as one transfer after its compute); stragglers and data loading.

Without contention and with equal stages the step is the closed form (m + p - 1) x slot + exposed
data-parallel tail (tests hold the two together). Energy: the devices' dynamic energy from the
single-device op energies, the devices' idle power over the whole step, and the links' energy per
bit moved (InterconnectConfig.energy_per_bit, sourced in hw_configs/interconnect/; bytes moved are
a transfer's work times the link's bandwidth, so every rank's share of a collective is counted).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import simpy

from accelsim.devices.nccl import bus_factor
from accelsim.engine.resources import Lanes, gc_paused, pop_ended

BUCKET_BYTES = 25 * 2**20           # PyTorch DDP's default gradient bucket (bucket_cap_mb=25)
FORWARD, BACKWARD = "forward", "backward"
INTRA, NETWORK = "intra", "network"


@dataclass(frozen=True)
class Transfer:
    """A collective or send on one link: `fixed_s` of latency no one shares, then `work_s` seconds of
    traffic at the link's full bandwidth, shared with the other transfers on the link; `wire_bytes`
    is what the device puts on the link."""

    link: str
    fixed_s: float
    work_s: float
    label: str
    wire_bytes: float = 0.0

    @property
    def alone_s(self) -> float:
        """Its duration with the link to itself."""
        return self.fixed_s + self.work_s


@dataclass(frozen=True)
class StagePlan:
    """A (virtual) pipeline stage: per-micro-batch compute and transfers, per-step synchronisation."""

    forward_s: float
    backward_s: float
    forward_comm: tuple[Transfer, ...] = ()     # tensor-parallel all-reduces after the forward
    backward_comm: tuple[Transfer, ...] = ()
    send_forward: tuple[Transfer, ...] = ()     # activations to the next stage, in order
    send_backward: tuple[Transfer, ...] = ()    # gradients to the previous stage
    gradient_sync: tuple[Transfer, ...] = ()    # data-parallel buckets, in launch order
    weight_sync: tuple[Transfer, ...] = ()      # ZeRO 1/2 all-gather after the buckets
    weight_prefetch: tuple[Transfer, ...] = ()  # ZeRO 3 all-gathers from the last forward on
    optimizer_s: float = 0.0


@dataclass(frozen=True)
class StepPlan:
    """A training step: stages in pipeline order on `devices` devices (stage g on device g % devices),
    `micro_batches` per step; per link, joules per bit (None: not known)."""

    stages: tuple[StagePlan, ...]
    devices: int
    micro_batches: int
    links: dict[str, float | None] = field(default_factory=dict)    # link -> joules per bit
    blocking_sends: bool = True
    overlap_gradients: bool = True      # buckets launch during the last backward (else after it)

    @property
    def virtual_stages(self) -> int:
        """Stages per device."""
        return len(self.stages) // self.devices


class Slice(tuple):
    """One busy interval of a lane: (track, lane, start_s, end_s, name, category)."""

    __slots__ = ()

    track = property(lambda self: self[0])
    lane = property(lambda self: self[1])
    start_s = property(lambda self: self[2])
    end_s = property(lambda self: self[3])
    name = property(lambda self: self[4])
    category = property(lambda self: self[5])


@dataclass(frozen=True)
class StepTimeline:
    """A simulated step: its time, every busy interval, events, per-link seconds of work and bytes
    moved."""

    step_time_s: float
    slices: tuple[Slice, ...]
    events: int
    link_work_s: dict[str, float]
    link_bytes: dict[str, float]
    device_end_s: tuple[float, ...]


class SharedLink:
    """A link that n concurrent transfers share equally (processor sharing, in virtual time)."""

    __slots__ = ("env", "name", "flows", "clock", "virtual", "version", "lanes", "slices", "work",
                 "seq")

    def __init__(self, env: simpy.Environment, name: str):
        self.env, self.name = env, name
        self.flows: list = []        # heap of (end virtual, seq, event, lane, start, label)
        self.clock = self.virtual = 0.0
        self.version = self.seq = 0
        self.lanes = Lanes()
        self.slices: list[Slice] = []
        self.work = 0.0

    def carry(self, work: float, label: str) -> simpy.Event:
        """An event that fires when `work` seconds of traffic (at full bandwidth) have passed."""
        event = self.env.event()
        self.work += work
        self._update()
        self.seq += 1
        heapq.heappush(self.flows, (self.virtual + work, self.seq, event, self.lanes.take(),
                                    self.env.now, label))
        self._arm()
        return event

    def _update(self) -> None:
        """Advance virtual time to now, ending the transfers that finished on the way."""
        ended, self.clock, self.virtual = pop_ended(self.flows, self.clock, self.virtual,
                                                    self.env.now)
        for (_, _, event, lane, start, label), end in ended:
            self.lanes.give(lane)
            self.slices.append(Slice((self.name, lane, start, end, label, "link")))
            event.succeed()

    def _arm(self) -> None:
        """Wake up at the next transfer's end (earlier wake-ups become stale)."""
        self.version += 1
        if self.flows:
            delay = max((self.flows[0][0] - self.virtual) * len(self.flows), 0.0)
            self.env.timeout(delay, self.version).callbacks.append(self._wake)

    def _wake(self, event: simpy.Event) -> None:
        """A wake-up: collect ended transfers unless a later change superseded it."""
        if event.value == self.version:
            self._update()
            self._arm()


def one_f_one_b(devices: int, micro_batches: int, virtual: int, device: int) -> list[tuple]:
    """Device `device`'s work in order: (FORWARD | BACKWARD, virtual stage, micro-batch), the 1F1B
    schedule, interleaved over `virtual` stages per device as Megatron-LM orders it."""
    p, m, v = devices, micro_batches, virtual
    total = m * v

    def step(k: int, kind: str) -> tuple:
        chunk = (k % (p * v)) // p
        chunk = chunk if kind == FORWARD else v - 1 - chunk
        return kind, chunk * p + device, (k // (p * v)) * p + k % p

    if v == 1:
        warmup = min(p - device - 1, m)
    else:
        warmup = min((p - device - 1) * 2 + (v - 1) * p, total)
    order = [step(k, FORWARD) for k in range(warmup)]
    for k in range(total - warmup):
        order += [step(warmup + k, FORWARD), step(k, BACKWARD)]
    return order + [step(k, BACKWARD) for k in range(total - warmup, total)]


class _Step:
    """One simulation of a StepPlan."""

    def __init__(self, plan: StepPlan):
        p, v = plan.devices, plan.virtual_stages
        if len(plan.stages) != p * v or v < 1:
            raise ValueError(f"{len(plan.stages)} stages on {p} devices")
        if v > 1 and plan.micro_batches % p:
            raise ValueError(f"interleaved 1F1B needs micro-batches ({plan.micro_batches}) "
                             f"a multiple of the pipeline depth ({p})")
        self.plan = plan
        self.env = simpy.Environment()
        self.links: dict[str, SharedLink] = {}
        self.wire_bytes: dict[str, float] = {}
        self.arrived: dict[tuple, simpy.Event] = {}
        self.slices: list[Slice] = []
        self.device_end: list[float | None] = [None] * p
        self.syncs: list[list[simpy.Process]] = [[] for _ in range(p)]

    def run(self) -> StepTimeline:
        """Simulate until every device has stepped its optimizer."""
        for device in range(self.plan.devices):
            self.env.process(self._device(device))
        env, events = self.env, 0
        while True:
            try:
                env.step()
            except simpy.core.EmptySchedule:
                break
            events += 1
        if None in self.device_end:
            raise RuntimeError(f"the schedule deadlocked: devices {self.device_end} never finished")
        slices = self.slices + [s for link in self.links.values() for s in link.slices]
        return StepTimeline(step_time_s=max(self.device_end), slices=tuple(slices), events=events,
                            link_work_s={name: link.work for name, link in self.links.items()},
                            link_bytes=dict(self.wire_bytes),
                            device_end_s=tuple(self.device_end))

    def _link(self, name: str) -> SharedLink:
        """The link called `name`, created on first use."""
        if name not in self.links:
            self.links[name] = SharedLink(self.env, name)
        return self.links[name]

    def _event(self, key: tuple) -> simpy.Event:
        """The event of a micro-batch's activations or gradients arriving at a stage."""
        if key not in self.arrived:
            self.arrived[key] = self.env.event()
        return self.arrived[key]

    def _carry(self, transfers: tuple[Transfer, ...]):
        """Run transfers one after another (a process body)."""
        for transfer in transfers:
            if transfer.fixed_s > 0.0:
                yield self.env.timeout(transfer.fixed_s)
            self.wire_bytes[transfer.link] = self.wire_bytes.get(transfer.link, 0.0) + \
                transfer.wire_bytes
            if transfer.work_s > 0.0:
                yield self._link(transfer.link).carry(transfer.work_s, transfer.label)

    def _compute(self, device: int, seconds: float, name: str, category: str):
        """Hold the device's lane for `seconds` (a process body)."""
        start = self.env.now
        yield self.env.timeout(seconds)
        self.slices.append(Slice((f"device {device}", 0, start, self.env.now, name, category)))

    def _send(self, transfers: tuple[Transfer, ...], key: tuple):
        """Carry a send, then mark its data arrived (a process body)."""
        yield from self._carry(transfers)
        self._event(key).succeed()

    def _device(self, device: int):
        """The device's 1F1B work, its gradient synchronisation and optimizer step (a process)."""
        plan, env = self.plan, self.env
        stages, last = plan.stages, len(plan.stages) - 1
        final_micro = {}
        order = one_f_one_b(plan.devices, plan.micro_batches, plan.virtual_stages, device)
        for kind, g, micro in order:
            if kind == BACKWARD:
                final_micro[g] = micro
        for kind, g, micro in order:
            stage = stages[g]
            if kind == FORWARD:
                if g:
                    yield self._event((FORWARD, g, micro))
                if stage.weight_prefetch and micro == plan.micro_batches - 1:
                    self.syncs[device].append(env.process(self._carry(stage.weight_prefetch)))
                yield from self._compute(device, stage.forward_s, f"F{micro} s{g}", FORWARD)
                yield from self._carry(stage.forward_comm)
                sends, target = (stage.send_forward, g + 1) if g < last else ((), None)
            else:
                if g < last:
                    yield self._event((BACKWARD, g, micro))
                produced = env.event()          # the pass has produced all its gradients
                if micro == final_micro[g] and (stage.gradient_sync or stage.weight_sync):
                    self.syncs[device].append(env.process(self._sync(stage, produced)))
                yield from self._compute(device, stage.backward_s, f"B{micro} s{g}", BACKWARD)
                yield from self._carry(stage.backward_comm)
                produced.succeed()
                sends, target = (stage.send_backward, g - 1) if g else ((), None)
            if target is not None:
                send = self._send(sends, (kind, target, micro))
                if plan.blocking_sends:
                    yield from send
                else:
                    env.process(send)
        if self.syncs[device]:
            yield env.all_of(self.syncs[device])
        optimizer = sum(stages[g].optimizer_s for g in range(device, last + 1, plan.devices))
        if optimizer:
            yield from self._compute(device, optimizer, "optimizer", "optimizer")
        self.device_end[device] = env.now

    def _sync(self, stage: StagePlan, produced: simpy.Event):
        """Gradient buckets launched as the backward pass produces them (evenly over its time alone,
        the last at its end), then ZeRO's weight all-gather."""
        start, count = self.env.now, len(stage.gradient_sync)
        pass_s = stage.backward_s + math.fsum(t.alone_s for t in stage.backward_comm)
        for k, bucket in enumerate(stage.gradient_sync):
            ready = start + pass_s * (k + 1) / count
            if k == count - 1 or not self.plan.overlap_gradients:
                if not produced.triggered:
                    yield produced
            elif ready > self.env.now:
                yield self.env.timeout(ready - self.env.now)
            yield from self._carry((bucket,))
        yield from self._carry(stage.weight_sync)


def carry_all(transfers: list[tuple[float, tuple[Transfer, ...]]]) -> list[float]:
    """End times of transfer chains, each (start_s, transfers run in order), sharing their links."""
    step = _Step(StepPlan(stages=(StagePlan(0.0, 0.0),), devices=1, micro_batches=1))
    env = step.env
    ends = [0.0] * len(transfers)

    def chain(k: int, start: float, chain_transfers: tuple[Transfer, ...]):
        yield env.timeout(start)
        yield from step._carry(chain_transfers)
        ends[k] = env.now

    for k, (start, chain_transfers) in enumerate(transfers):
        env.process(chain(k, start, chain_transfers))
    env.run()
    return ends


def simulate_step(plan: StepPlan) -> StepTimeline:
    """Simulate one training step of `plan` (see the module docstring)."""
    with gc_paused():
        return _Step(plan).run()


# -- from the cost model to a plan --------------------------------------------------------------

def transfer(cluster, kind: str, nbytes: float, size: int, stride: int, link: str,
             label: str) -> Transfer:
    """Collective `kind` ("send" for point-to-point) of `nbytes` over `size` devices `stride` ranks
    apart, as a Transfer whose alone time is the interconnect model's."""
    kind, size = ("send_recv", 2) if kind == "send" else (kind, size)
    total, fixed = cluster.cost(kind, nbytes, size, stride)
    return Transfer(link=link, fixed_s=fixed, work_s=total - fixed, label=label,
                    wire_bytes=nbytes * bus_factor(kind, size))


def link_name(cluster, device: int, size: int, stride: int) -> str:
    """The link of `device` a group of `size` devices `stride` ranks apart talks over."""
    return f"{INTRA if cluster.link(size, stride) is cluster.intra else NETWORK} {device}"


def lumped(transfers: list[Transfer], label: str) -> tuple[Transfer, ...]:
    """Transfers on one link merged into one (latencies and work add up): the tensor-parallel
    all-reduces of a pass, which run back to back in its critical path."""
    by_link: dict[str, list[Transfer]] = {}
    for t in transfers:
        by_link.setdefault(t.link, []).append(t)
    return tuple(Transfer(link, math.fsum(t.fixed_s for t in ts), math.fsum(t.work_s for t in ts),
                          label, math.fsum(t.wire_bytes for t in ts))
                 for link, ts in by_link.items())


def buckets(grad_bytes: float, bucket_bytes: float = BUCKET_BYTES) -> list[float]:
    """Gradient bucket sizes in launch order: full buckets, the remainder first (the last bucket,
    which ends the step, is a full one as in the closed form)."""
    if grad_bytes <= 0:
        return []
    count = math.ceil(grad_bytes / bucket_bytes - 1e-12)
    first = grad_bytes - (count - 1) * bucket_bytes
    return [first] + [bucket_bytes] * (count - 1)


def pipeline_send(cluster, nbytes: float, config, sender: int, receiver: int,
                  sequence_parallel: bool = False) -> tuple[Transfer, ...]:
    """A boundary's activations (or gradients): 1/tp per rank point-to-point from the sender's link,
    then Megatron's all-gather inside the receiving node; with sequence parallelism each rank's
    share (`nbytes`, already split) goes as it is."""
    stride = config.tp * config.dp
    send = transfer(cluster, "send", nbytes if sequence_parallel else nbytes / config.tp, 2, stride,
                    link_name(cluster, sender, 2, stride), "pipeline send")
    parts = (send,) if sequence_parallel else \
        (send, transfer(cluster, "all_gather", nbytes, config.tp, 1,
                        link_name(cluster, receiver, config.tp, 1), "pipeline all-gather"))
    return tuple(t for t in parts if t.alone_s > 0.0)


def plan_step(stages, config, cluster, virtual_stages: int = 1, sequence_parallel: bool = False,
              overlap_gradients: bool = True) -> StepPlan:
    """The StepPlan of parallel.StageResult-like `stages` (pipeline order, virtual_stages per device)
    under ParallelConfig `config` on Cluster `cluster`; with sequence parallelism each tp all-reduce
    is a reduce-scatter and an all-gather."""
    tp_kinds = ("reduce_scatter", "all_gather") if sequence_parallel else ("all_reduce",)
    tp_label = "tp reduce-scatter, all-gather" if sequence_parallel else "tp all-reduce"
    tp, dp, pp, ep, last = config.tp, config.dp, config.pp, config.ep, len(stages) - 1
    sync_kind = "all_reduce" if config.zero == 0 else "reduce_scatter"
    plans = []
    for g, stage in enumerate(stages):
        device = g % pp
        tensor = link_name(cluster, device, tp, 1)

        def reduces(sizes, label):
            return lumped([transfer(cluster, kind, b, tp, 1, tensor, label)
                           for b in sizes if b for kind in tp_kinds], label)

        def over_dp(kind, nbytes, label, times=1, ranks=dp, stride=tp):
            if ranks == 1 or not nbytes:
                return ()
            link = link_name(cluster, device, ranks, stride)
            return (transfer(cluster, kind, nbytes, ranks, stride, link, label),) * times

        def all_to_alls(sizes):
            link = link_name(cluster, device, ep, tp)
            return lumped([transfer(cluster, "all_to_all", b, ep, tp, link, "ep all-to-all")
                           for b in sizes if b], "ep all-to-all")

        dense_grads = stage.grad_bytes - stage.expert_grad_bytes

        start_bytes, end_bytes = stage.boundary_bytes
        plans.append(StagePlan(
            forward_s=stage.forward_s, backward_s=stage.backward_s,
            forward_comm=reduces(stage.tensor_forward_bytes, tp_label)
            + all_to_alls(stage.expert_forward_bytes),
            backward_comm=reduces(stage.tensor_backward_bytes, tp_label)
            + all_to_alls(stage.expert_backward_bytes),
            send_forward=pipeline_send(cluster, end_bytes, config, device, (g + 1) % pp,
                                       sequence_parallel) if g < last else (),
            send_backward=pipeline_send(cluster, start_bytes, config, device, (g - 1) % pp,
                                        sequence_parallel) if g else (),
            gradient_sync=tuple(t for b in buckets(dense_grads)
                                for t in over_dp(sync_kind, b, "dp gradients"))
            + tuple(t for b in buckets(stage.expert_grad_bytes)
                    for t in over_dp(sync_kind, b, "expert gradients", ranks=dp // ep,
                                     stride=tp * ep)),
            weight_sync=over_dp("all_gather", stage.weight_bytes, "zero weights")
            if config.zero in (1, 2) else (),
            weight_prefetch=over_dp("all_gather", stage.weight_bytes, "zero weights", 2)
            if config.zero == 3 else (),
            optimizer_s=stage.optimizer_s))
    links = {}
    for device in range(pp):
        links[f"{INTRA} {device}"] = cluster.intra.energy_per_bit
        if cluster.inter is not None:
            links[f"{NETWORK} {device}"] = cluster.inter.energy_per_bit
    return StepPlan(stages=tuple(plans), devices=pp, micro_batches=config.micro_batches,
                    links=links, blocking_sends=virtual_stages == 1,
                    overlap_gradients=overlap_gradients)


def step_energy(stages, config, timeline: StepTimeline, plan: StepPlan, idle_w: float,
                step_s: float | None = None, host_w: float = 0.0, active_w: float = 0.0) -> dict:
    """Joules of one step for the whole cluster: devices' energy above idle while their ops run
    (per-micro-batch op energies x micro-batches x ranks), split into the work's dynamic energy and
    the active power (`active_w` each, above idle) over the op time; their idle power and their
    share of the host servers' (`host_w` each) over the step (`step_s`, default the timeline's); the
    links' energy per bit moved; with the average power."""
    ranks, step = config.tp * config.dp, timeline.step_time_s if step_s is None else step_s
    busy = ranks * math.fsum(config.micro_batches * (s.forward_j + s.backward_j) + s.optimizer_j
                             for s in stages)
    active = ranks * active_w * math.fsum(config.micro_batches * (s.forward_s + s.backward_s)
                                          + s.optimizer_s for s in stages)
    static, host = config.devices * idle_w * step, config.devices * host_w * step
    link_j, unpriced = 0.0, set()
    for name, nbytes in timeline.link_bytes.items():
        per_bit = plan.links.get(name)
        if per_bit is None:
            unpriced.add(name.split()[0])
            continue
        link_j += ranks * nbytes * 8 * per_bit
    total = busy + static + host + link_j
    return {"energy_per_step_j": total, "average_power_w": total / step if step else 0.0,
            "energy_breakdown_j": {"devices_dynamic": busy - active, "devices_active": active,
                                   "devices_idle": static, "host": host, "links": link_j},
            "links_without_energy_per_bit": sorted(unpriced)}
