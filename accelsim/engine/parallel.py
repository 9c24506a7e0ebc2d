"""Multi-device training: data, tensor and pipeline parallelism with ZeRO, as step time and memory.

One data-parallel replica is modeled (replicas are identical, so 1024 devices cost as much as
8), and within it one tensor-parallel rank (ranks are symmetric):

- Tensor parallelism (Megatron-LM): accelsim.engine.tensor_parallel shards the graph; a transformer
  layer all-reduces b x s x h activations twice forward and twice backward inside the tp group
  (twice more in backward with full recomputation, which re-runs the forward). Recomputation
  (none / selective / full), sequence parallelism and interleaved 1F1B: accelsim.engine.recompute.
  Transformers train with Megatron's dropouts (accelsim.workload.dropout).
- Pipeline parallelism (1F1B, Narayanan et al. SC21): the sharded ops are cut into `pp` stages at
  layer boundaries, balancing their time. A step of m micro-batches takes (m + (p - 1) / v) slots
  of the slowest stage (v virtual stages per device, 1 without interleaving), so the bubble is
  (p - 1) / (v m + p - 1) of the pipeline time. Stage s holds the activations of min(p - s, m)
  micro-batches in flight (with recomputation, each is charged what it keeps plus one recompute
  buffer, which only one of them needs at a time: an upper bound). Boundary activations go 1/tp
  per rank over the network and are all-gathered inside the node (Megatron's scatter/gather),
  v times per micro-batch with interleaving.
- Expert parallelism (MoE models, `ep` ranks within dp): accelsim.engine.expert_parallel splits
  each MoE layer's experts over the ep ranks, with a dispatch and a combine all-to-all per layer and
  pass; expert gradients sync over the dp / ep ranks holding the same experts.
- Data parallelism: the gradient all-reduce runs in buckets overlapped with the last micro-batch's
  backward; what is exposed is max(0, comm - backward) for all but the last bucket, plus the last
  bucket. ZeRO (Rajbhandari et al. 2020) 1/2/3 shards optimizer state / + gradients / + weights
  over dp: stages 1-2 reduce-scatter gradients (overlapped) and all-gather updated weights
  (exposed), stage 3 all-gathers weights in forward and backward (overlapped with both) and
  reduce-scatters gradients.

- Overheads as parameters: `straggler` stretches every step by that fraction (the slowest of many
  devices sets the pace), `dataloader_s` adds seconds per step that input loading is not hidden.

Per-device compute is the single-device trace (accelsim.engine.single.prepare, run_trace) on the
sharded graph at the micro-batch size. Placement follows Megatron's rank order: tp ranks adjacent,
then dp, then pp.

Utilisation: MFU counts the model's FLOPs (forward + backward of the unsharded trace, no
recomputation, plus the optimizer update) per device-second at peak; HFU counts the FLOPs the
devices execute, recomputation included (with full recomputation a transformer's HFU is about
4/3 of its MFU). Megatron-LM's published "teraFLOP/s per GPU" (SC21 eq. 3) counts recomputation:
compare it with hardware_flops_per_device_per_s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from accelsim.devices import run_precision
from accelsim.devices.interconnect import Cluster, default_cluster
from accelsim.engine import cluster_sim, single
from accelsim.engine.cluster_sim import BUCKET_BYTES
from accelsim.engine.feasibility import check_mode, memory_fit
from accelsim.engine.expert_parallel import (check_expert_parallel, dispatch_bytes,
                                             expert_weight_share, moe_ops, shard_experts)
from accelsim.engine.grad_accumulation import check_accumulation, with_accumulation
from accelsim.engine import recompute as recipe
from accelsim.engine.recompute import bubble_slots, in_flight, resolve_recompute, trace_checkpoint
from accelsim.engine.tensor_parallel import shard_graph, tensor_parallel_all_reduces
from accelsim.workload.run_load import load_for_run
from accelsim.workload.stack import apply_stack
from accelsim.errors import UsageError, check_name
from accelsim.workload.dropout import with_dropout
from accelsim.workload.ir import Graph, Op, Phase
from accelsim.workload.trace import MemoryBreakdown, live_ranges
from accelsim.workload.training import (activation_parts, checkpoint_starts, layer_cuts,
                                        training_trace)

AXES = ("tp", "pp", "dp", "zero", "vpp", "ep")
DEFAULT_SEQUENCES = 1536            # GPT-3's global batch (Brown et al. 2020, Table 2.1)
BACKWARD_PHASES = (Phase.RECOMPUTE, Phase.DGRAD, Phase.WGRAD)
SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class ParallelConfig:
    """How a job is split: tensor x pipeline x data parallel degrees, ZeRO stage, batch sizes,
    virtual pipeline stages per device (interleaved 1F1B) and expert-parallel ranks (within dp)."""

    tp: int = 1
    pp: int = 1
    dp: int = 1
    zero: int = 0
    micro_batch: int = 1
    global_batch: int = 1
    vpp: int = 1
    ep: int = 1

    @property
    def devices(self) -> int:
        """tp x pp x dp."""
        return self.tp * self.pp * self.dp

    @property
    def micro_batches(self) -> int:
        """Micro-batches per replica per step."""
        return self.global_batch // (self.dp * self.micro_batch)


def parse_parallel(text: str | dict | None) -> dict[str, int]:
    """"tp=8,pp=16,dp=8" (any subset, plus zero=0..3, vpp=v and ep=e) as a dict of ints."""
    if not text:
        return {}
    if isinstance(text, dict):
        items = text.items()
    else:
        items = [part.partition("=")[::2] for part in text.replace(" ", "").split(",") if part]
    out = {}
    for key, value in items:
        if key not in AXES:
            raise UsageError(f"unknown axis {key!r} in {text!r}; expected {', '.join(AXES)}",
                             key="parallel")
        if key in out:
            raise UsageError(f"{key} given twice in {text!r}", key="parallel")
        try:
            out[key] = int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{key} must be an integer, got {value!r}", key="parallel") from None
    return out


def parallel_config(devices: int, parallel: str | dict | None, micro_batch: int,
                    global_batch: int | None = None, sequences: bool = False) -> ParallelConfig:
    """A checked ParallelConfig; dp defaults to devices / (tp x pp), the global batch to
    DEFAULT_SEQUENCES for sequence models and to one micro-batch per replica otherwise."""
    axes = parse_parallel(parallel)
    tp, pp = axes.get("tp", 1), axes.get("pp", 1)
    if "dp" not in axes and tp * pp >= 1 and devices % (tp * pp):
        raise UsageError(f"devices = {devices} is not a multiple of tp x pp = {tp} x {pp}; "
                         "give --devices", key="parallel")
    dp = axes.get("dp", devices // max(1, tp * pp))
    global_batch = global_batch or (DEFAULT_SEQUENCES if sequences else dp * micro_batch)
    config = ParallelConfig(tp=tp, pp=pp, dp=dp, zero=axes.get("zero", 0), micro_batch=micro_batch,
                            global_batch=global_batch, vpp=axes.get("vpp", 1), ep=axes.get("ep", 1))
    if min(tp, pp, dp, micro_batch, global_batch, config.vpp, config.ep) < 1 or \
            config.zero not in (0, 1, 2, 3):
        given = ", ".join(f"{key}={value}" for key, value in asdict(config).items())
        raise UsageError(f"tp, pp, dp, vpp, ep and batches must be >= 1 and zero 0..3, got {given}",
                         key="parallel")
    if config.devices != devices:
        raise UsageError(f"tp x pp x dp = {tp} x {pp} x {dp} = {config.devices}, but devices = "
                         f"{devices}", key="parallel")
    if global_batch % (dp * micro_batch):
        raise UsageError(f"global batch {global_batch} is not a multiple of dp x micro-batch = "
                         f"{dp} x {micro_batch}", key="global_batch")
    if config.vpp > 1 and (pp == 1 or config.micro_batches % pp):
        raise UsageError(f"vpp = {config.vpp} (interleaved 1F1B) needs pp > 1 and micro-batches "
                         f"({config.micro_batches}) a multiple of pp = {pp}", key="parallel")
    return config


# -- pipeline stages --------------------------------------------------------------------------

def pipeline_stages(ops: tuple[Op, ...], pp: int, op_seconds: dict[str, float]) -> list[int]:
    """Start indices of `pp` contiguous stages cut at layer boundaries, balancing their seconds."""
    if pp == 1:
        return [0]
    cuts = layer_cuts(ops)
    if len(cuts) < pp - 1:
        raise UsageError(f"pp={pp} needs {pp - 1} stage boundaries but the network has only "
                         f"{len(cuts)} layer boundaries", key="parallel")
    prefix = [0.0]
    for op in ops:
        prefix.append(prefix[-1] + op_seconds.get(op.name, 0.0))
    starts, lo = [0], 0
    for k in range(1, pp):
        target = prefix[-1] * k / pp
        hi = len(cuts) - (pp - 1 - k)          # leave a cut for every later stage
        best = min(range(lo, hi), key=lambda i: abs(prefix[cuts[i]] - target))
        starts.append(cuts[best])
        lo = best + 1
    return starts


def boundary_bytes(ops: tuple[Op, ...], start: int) -> float:
    """Bytes of the produced activations that cross from ops[:start] into ops[start:]."""
    ranges = live_ranges(ops).values()
    return sum(size for first, last, size in ranges if 0 <= first < start <= last)


# -- memory -----------------------------------------------------------------------------------

def zero_memory(memory: MemoryBreakdown, dp: int, zero: int) -> MemoryBreakdown:
    """Per-device model states under ZeRO stage `zero` over `dp` ranks (Rajbhandari et al. 2020):
    1 shards optimizer state, 2 also gradients, 3 also weights; activations are untouched."""
    return replace(memory,
                   optimizer_state=memory.optimizer_state / (dp if zero >= 1 else 1),
                   gradients=memory.gradients / (dp if zero >= 2 else 1),
                   weights=memory.weights / (dp if zero >= 3 else 1))


# -- the step ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class StageResult:
    """A pipeline stage of one tensor-parallel rank: per-micro-batch times, per-device memory."""

    first_op: str
    last_op: str
    forward_s: float
    backward_s: float               # recomputation included
    tensor_comm_s: float            # tp all-reduces, forward and backward, per micro-batch
    pipeline_comm_s: float          # sends to the neighbouring stages, per micro-batch
    data_comm_exposed_s: float      # per step
    optimizer_s: float              # per step
    in_flight: float                # micro-batches whose activations the stage holds
    memory: MemoryBreakdown
    # volumes and energies the step's event engine (accelsim.engine.cluster_sim) runs on:
    tensor_forward_bytes: tuple[float, ...] = ()    # each tp all-reduce of a forward
    tensor_backward_bytes: tuple[float, ...] = ()   # each of a backward (recompute's included)
    boundary_bytes: tuple[float, float] = (0.0, 0.0)   # activations at the start, end boundary
    grad_bytes: float = 0.0         # per device
    weight_bytes: float = 0.0       # per device, before ZeRO sharding
    forward_j: float = 0.0          # per micro-batch, above idle: dynamic + active power x op time
    backward_j: float = 0.0
    optimizer_j: float = 0.0        # per step
    recompute_s: float = 0.0        # the part of backward_s that re-runs forward ops
    tensor_comm_bytes: float = 0.0  # per micro-batch: message bytes of the tp collectives
    pipeline_comm_bytes: float = 0.0   # per device per micro-batch over the network, all chunks
    expert_comm_s: float = 0.0      # ep all-to-alls (dispatch, combine), per micro-batch
    expert_forward_bytes: tuple[float, ...] = ()    # each ep all-to-all of a forward
    expert_backward_bytes: tuple[float, ...] = ()   # each of a backward (recompute's included)
    expert_grad_bytes: float = 0.0  # the experts' share of grad_bytes (synced over dp / ep)

    @property
    def slot_s(self) -> float:
        """One micro-batch's forward + backward with its tp, ep and pipeline communication."""
        return self.forward_s + self.backward_s + self.tensor_comm_s + self.expert_comm_s + \
            self.pipeline_comm_s


@dataclass(frozen=True)
class ParallelResult:
    """A multi-device training step: time, utilisation, memory per device, time to train."""

    workload: str
    device: str
    device_kind: str
    precision: str
    config: ParallelConfig
    interconnect: dict[str, str | int | None]
    stages: tuple[StageResult, ...]
    step_time_s: float
    model_flops_per_step: float
    hardware_flops_per_step: float
    peak_flops: float
    items_per_step: int
    item: str                       # "tokens" or "samples"
    memory_capacity: float | None
    train_items: float | None = None
    device_id: str = ""
    provenance: dict = field(default_factory=dict)
    stack: str = ""                 # software stack modelled (accelsim.workload.stack)
    energy: dict = field(default_factory=dict)      # cluster_sim.step_energy
    timeline: object = field(default=None, repr=False, compare=False)   # cluster_sim.StepTimeline
    recompute: str = "none"         # activation recomputation (accelsim.engine.recompute)
    sequence_parallel: bool = False
    straggler: float = 0.0          # fraction every step is stretched by the slowest device
    dataloader_s: float = 0.0       # exposed input-loading seconds per step

    @property
    def totals(self) -> dict:
        """The headline numbers: step time, MFU, throughput, memory per device, time to train."""
        return _totals(self)

    @property
    def worst_stage(self) -> StageResult:
        """The stage holding the most memory per device."""
        return max(self.stages, key=lambda stage: stage.memory.total)

    def to_dict(self) -> dict:
        """JSON-ready form: the run's identity, totals, per-device memory and the stages."""
        return {"schema_version": 1, "workload": self.workload, "device": self.device,
                "device_id": self.device_id, "device_kind": self.device_kind, "mode": "training", "precision": self.precision,
                "stack": self.stack, "batch": self.config.micro_batch, "parallel": asdict(self.config)
                | {"devices": self.config.devices, "micro_batches": self.config.micro_batches},
                "recipe": {"recompute": self.recompute, "sequence_parallel": self.sequence_parallel,
                           "straggler": self.straggler, "dataloader_s": self.dataloader_s},
                "interconnect": self.interconnect, "totals": self.totals,
                "memory": asdict(self.worst_stage.memory),
                "stages": [asdict(stage) | {"slot_s": stage.slot_s} for stage in self.stages],
                "provenance": self.provenance}

    def __getitem__(self, key: str):
        """Shortcut to a total: result["mfu"]."""
        return self.totals[key]


def _totals(result: ParallelResult) -> dict:
    """The headline numbers of a ParallelResult."""
    config, step = result.config, result.step_time_s
    slot = max(stage.slot_s for stage in result.stages)
    m, bubble = config.micro_batches, bubble_slots(config.pp, config.vpp)
    critical = max(result.stages, key=lambda stage: stage.slot_s)
    tail = max(result.stages, key=lambda stage: stage.data_comm_exposed_s + stage.optimizer_s)
    memory = result.worst_stage.memory
    busy = step - result.dataloader_s
    totals = {
        "step_time_s": step,
        "mfu": result.model_flops_per_step / (config.devices * result.peak_flops * step),
        "hfu": result.hardware_flops_per_step / (config.devices * result.peak_flops * step),
        "model_flops_per_step": result.model_flops_per_step,
        "model_flops_per_device_per_s": result.model_flops_per_step / (config.devices * step),
        "hardware_flops_per_device_per_s": result.hardware_flops_per_step / (config.devices * step),
        "samples_per_step": config.global_batch,
        "samples_per_s": config.global_batch / step,
        f"{result.item}_per_step": result.items_per_step,
        f"{result.item}_per_s": result.items_per_step / step,
        "devices": config.devices,
        "bubble_fraction": bubble / (m + bubble),
        "time_breakdown_s": {"compute": m * (critical.forward_s + critical.backward_s),
                             "recompute": m * critical.recompute_s,
                             "bubble": bubble * slot, "optimizer": tail.optimizer_s,
                             "straggler": busy - busy / (1 + result.straggler),
                             "dataloader": result.dataloader_s},
        "comm_exposed_s": {"tensor": m * critical.tensor_comm_s,
                           "expert": m * critical.expert_comm_s,
                           "pipeline": m * critical.pipeline_comm_s,
                           "data": tail.data_comm_exposed_s},
        "memory_per_device_bytes": memory.total,
        "memory_breakdown_bytes": asdict(memory),
        **memory_fit(memory, result.memory_capacity, result.device, " per device"),
        **result.energy,
    }
    if result.train_items:
        totals["time_to_train_s"] = result.train_items / result.items_per_step * step
        totals["time_to_train_days"] = totals["time_to_train_s"] / SECONDS_PER_DAY
    return totals


def _data_comm(grad_bytes: float, weight_bytes: float, window_s: float, config: ParallelConfig,
               cluster: Cluster, experts: float = 0.0) -> float:
    """Exposed seconds of one stage's data-parallel synchronisation per step; the `experts`
    fraction of the state syncs over the dp / ep ranks holding the same experts."""
    if experts and config.ep > 1:
        dense = _data_comm(grad_bytes * (1 - experts), weight_bytes * (1 - experts), window_s,
                           config, cluster)
        return dense + _data_comm(grad_bytes * experts, weight_bytes * experts, 0.0,
                                  replace(config, dp=config.dp // config.ep,    # ranks ep apart
                                          tp=config.tp * config.ep, ep=1), cluster)
    if config.dp == 1:
        return 0.0

    def sync(fraction: float) -> tuple[float, float]:
        """(overlappable, exposed-after-the-step) seconds to sync `fraction` of the state."""
        grads, weights = grad_bytes * fraction, weight_bytes * fraction
        if config.zero == 0:
            return cluster.time("all_reduce", grads, config.dp, config.tp), 0.0
        scatter = cluster.time("reduce_scatter", grads, config.dp, config.tp)
        gather = cluster.time("all_gather", weights, config.dp, config.tp)
        return (scatter + 2 * gather, 0.0) if config.zero == 3 else (scatter, gather)

    last = min(1.0, BUCKET_BYTES / grad_bytes) if grad_bytes else 1.0
    overlapped, after = sync(1.0)
    last_overlapped, _ = sync(last)
    return max(0.0, overlapped - last_overlapped - window_s) + last_overlapped + after


def with_overheads(step_s: float, straggler: float, dataloader_s: float) -> float:
    """A step stretched by the straggler fraction (the slowest device sets the pace), plus the
    data loader's exposed seconds."""
    return step_s * (1.0 + straggler) + dataloader_s


GRAD_REDUCE = ("overlapped", "after")


def check_grad_reduce(grad_reduce: str) -> bool:
    """Whether gradient sync overlaps the backward, for a GRAD_REDUCE name."""
    return check_name(grad_reduce, GRAD_REDUCE, "grad_reduce") == "overlapped"


def check_overheads(straggler: float, dataloader_s: float) -> None:
    """A straggler fraction in [0, 10] and data-loader seconds >= 0, finite."""
    if not 0.0 <= straggler <= 10.0:
        raise UsageError(f"straggler must be a fraction of the step in [0, 10], got {straggler!r}",
                         key="straggler")
    if not 0.0 <= dataloader_s < float("inf"):
        raise UsageError(f"dataloader seconds must be >= 0 and finite, got {dataloader_s!r}",
                         key="dataloader_s")


def simulate_parallel(workload, device, *, devices: int, parallel: str | dict | None = None,
                      batch: int = 1, global_batch: int | None = None, tokens: float | None = None,
                      interconnect=None, devices_per_node: int | None = None,
                      precision: str | None = None, optimizer: str = "adam",
                      checkpoint: bool = False, overrides=(), stack: str | None = None,
                      recompute: str | None = None, sequence_parallel: bool = False,
                      straggler: float = 0.0, dataloader_s: float = 0.0, dropout: bool = True,
                      grad_reduce: str = "overlapped", grad_accumulation: str = "separate",
                      **workload_params) -> ParallelResult:
    """Simulate a data/tensor/pipeline-parallel training step of `workload` on `devices` devices.

    batch: micro-batch per device. global_batch: samples per step (default 1536 sequences for
    sequence models, dp x batch otherwise). tokens: items to train on (tokens for sequence models,
    samples otherwise) for time_to_train. interconnect: "intra[,inter]" names, or a Cluster.
    recompute: "none", "selective" or "full" (checkpoint=True is "full"); sequence_parallel,
    vpp=v in `parallel`: see accelsim.engine.recompute. straggler, dataloader_s: per-step overheads.
    dropout: train with Megatron's dropouts (accelsim.workload.dropout). grad_reduce:
    "overlapped" (gradient buckets sync during the last backward, PyTorch DDP) or "after" (after
    the whole backward, as Megatron-LM's DDP did until its 2023 --overlap-grad-reduce).
    grad_accumulation: "separate" or "fused" (accelsim.engine.grad_accumulation).
    """
    overlap_grad_reduce = check_grad_reduce(grad_reduce)
    check_accumulation(grad_accumulation)
    recompute = resolve_recompute(recompute, checkpoint)
    check_overheads(straggler, dataloader_s)
    device = single.load_device(device, overrides)
    check_mode(device, "training")
    precision = run_precision(device, precision)
    stack, graph = load_for_run(workload, stack, device.kind, "training", batch=batch,
                                precision=precision, **workload_params)
    graph = with_dropout(graph) if dropout else graph
    checkpoint = trace_checkpoint(recompute, graph)
    seq_len = graph.info("seq_len")
    config = parallel_config(devices, parallel, graph.batch, global_batch, bool(seq_len))
    check_expert_parallel(graph, config.ep, config.dp)
    cluster = interconnect if isinstance(interconnect, Cluster) else \
        default_cluster(device, interconnect, devices_per_node)

    shard = shard_experts(shard_graph(graph, config.tp), config.ep)
    shard = apply_stack(recipe.sequence_parallel(graph, shard, config.tp) if sequence_parallel else shard,
                        stack, device.kind, "training")
    trace = with_accumulation(single.prepare(shard, device, mode="training", optimizer=optimizer,
                                             checkpoint=checkpoint, stack=stack)[3],
                              config.micro_batches, grad_accumulation)
    layers = single.run_trace(trace, device)[1]     # op times only: memory is per stage, below
    seconds: dict[str, dict[Phase, float]] = {}
    joules: dict[str, dict[Phase, float]] = {}      # above idle: the idle part is the step's
    for layer in layers:
        name = layer.name.rsplit(".", 1)[0] if layer.phase != Phase.FORWARD.value else layer.name
        for table, value in ((seconds, layer.latency_s),
                             (joules, layer.energy_j - device.power.idle * layer.latency_s)):
            by_phase = table.setdefault(name, {})
            by_phase[Phase(layer.phase)] = by_phase.get(Phase(layer.phase), 0.0) + value
    op_seconds = {name: sum(t for ph, t in phases.items() if ph is not Phase.OPTIMIZER)
                  for name, phases in seconds.items()}
    chunks = pipeline_stages(shard.ops, config.pp * config.vpp, op_seconds)
    starts = chunks[::config.vpp]      # a device's v chunks cost as much as v consecutive ones
    comm = tensor_parallel_all_reduces(graph)
    stages = tuple(_stage(shard, starts, s, seconds, comm, config, cluster, optimizer, checkpoint,
                          joules, sequence_parallel, overlap_grad_reduce)
                   for s in range(config.pp))

    full = training_trace(graph, optimizer=optimizer).flops_by_phase()
    per_micro = sum(full.get(phase, 0) for phase in (Phase.FORWARD, Phase.DGRAD, Phase.WGRAD))
    model_flops = per_micro * config.global_batch / config.micro_batch + \
        full.get(Phase.OPTIMIZER, 0)
    update_flops = sum(layer.flops for layer in layers if layer.phase == Phase.OPTIMIZER.value)
    hardware_flops = config.tp * config.dp * (
        config.micro_batches * (sum(layer.flops for layer in layers) - update_flops) + update_flops)

    # The step on the event engine, links shared (cluster_sim): each device's stage as its v
    # interleaved chunks; without contention and with equal stages it is the closed form
    # (m + (p - 1) / v) x slowest slot + exposed tail (tests/test_cluster_sim); then the overheads.
    plan = cluster_sim.plan_step(virtual_stages(stages, config.vpp), config, cluster, config.vpp,
                                 sequence_parallel, overlap_grad_reduce)
    timeline = cluster_sim.simulate_step(plan)
    step = with_overheads(timeline.step_time_s, straggler, dataloader_s)
    energy = cluster_sim.step_energy(stages, config, timeline, plan, device.power.idle, step,
                                     device.power.host, device.power.active)
    item = "tokens" if seq_len else "samples"
    return ParallelResult(
        workload=graph.name, device=device.name, device_kind=device.kind, precision=precision,
        config=config, interconnect={"intra": cluster.intra.name,
                                     "inter": cluster.inter.name if cluster.inter else None,
                                     "devices_per_node": cluster.devices_per_node},
        stages=stages, step_time_s=step, model_flops_per_step=model_flops,
        hardware_flops_per_step=hardware_flops, peak_flops=device.peak_flops(precision),
        items_per_step=config.global_batch * (int(seq_len) if seq_len else 1), item=item,
        memory_capacity=device.memory.capacity, train_items=tokens, stack=stack, energy=energy,
        timeline=timeline, recompute=recompute, sequence_parallel=sequence_parallel,
        straggler=straggler, dataloader_s=dataloader_s)


def _stage(shard: Graph, starts: list[int], s: int, seconds: dict[str, dict[Phase, float]],
           comm: dict[str, tuple[float, float]], config: ParallelConfig, cluster: Cluster,
           optimizer: str, checkpoint: bool | str | int, joules: dict[str, dict[Phase, float]],
           sequence_parallel: bool, overlap_grad_reduce: bool) -> StageResult:
    """Times and memory of pipeline stage `s` (its v interleaved chunks together)."""
    end = starts[s + 1] if s + 1 < len(starts) else len(shard.ops)
    ops = shard.ops[starts[s]:end]
    names = [op.name for op in ops]

    def total(phases: tuple[Phase, ...], table=seconds) -> float:
        return sum(table.get(n, {}).get(ph, 0.0) for n in names for ph in phases)

    forward, backward = total((Phase.FORWARD,)), total(BACKWARD_PHASES)
    full = bool(checkpoint) and checkpoint != "selective"       # the forward runs twice
    forward_reduces = [comm[n][0] for n in names if n in comm]
    reduces = forward_reduces * (2 if full else 1) + [comm[n][1] for n in names if n in comm]
    tensor_comm = sum(_tensor_collective(nbytes, config.tp, cluster, sequence_parallel)
                      for nbytes in reduces if nbytes)

    pipeline_comm, pipeline_bytes, crossing = 0.0, 0.0, []
    for boundary in (starts[s], end):
        nbytes = boundary_bytes(shard.ops, boundary) if 0 < boundary < len(shard.ops) else 0.0
        crossing.append(nbytes)
        if nbytes:
            share = nbytes if sequence_parallel else nbytes / config.tp   # SP: already split
            gather = 0.0 if sequence_parallel else cluster.time("all_gather", nbytes, config.tp)
            pipeline_bytes += config.vpp * share
            pipeline_comm += config.vpp * (cluster.send(share, config.tp * config.dp) + gather)

    states = training_trace(replace(shard, ops=ops), optimizer=optimizer,
                            checkpoint=checkpoint).memory
    held = in_flight(s, config.pp, config.micro_batches, config.vpp)
    kept, recreated = activation_parts(ops, checkpoint_starts(ops, checkpoint),
                                       checkpoint == "selective")
    memory = replace(zero_memory(states, config.dp, config.zero),
                     activations=kept * held + recreated)
    optimizer_s = total((Phase.OPTIMIZER,)) / (config.dp if config.zero >= 1 else 1)
    window = (backward + (forward if config.zero == 3 else 0.0)) if overlap_grad_reduce else 0.0
    experts = expert_weight_share(ops) if config.ep > 1 else 0.0
    data_comm = _data_comm(states.gradients, states.weights, window, config, cluster, experts)
    # each MoE op: a dispatch and a combine all-to-all per pass (and per recomputed forward)
    expert_forward = [dispatch_bytes(op) for op in moe_ops(replace(shard, ops=ops))
                      for _ in range(2)] if config.ep > 1 else []
    expert_backward = expert_forward * (2 if full else 1)
    expert_comm = sum(cluster.time("all_to_all", nbytes, config.ep, config.tp)
                      for nbytes in expert_forward + expert_backward)
    return StageResult(first_op=names[0], last_op=names[-1], forward_s=forward, backward_s=backward,
                       tensor_comm_s=tensor_comm, pipeline_comm_s=pipeline_comm,
                       data_comm_exposed_s=data_comm, optimizer_s=optimizer_s, in_flight=held,
                       memory=memory, tensor_forward_bytes=tuple(forward_reduces),
                       tensor_backward_bytes=tuple(reduces[len(forward_reduces):]),
                       boundary_bytes=(crossing[0], crossing[1]), grad_bytes=states.gradients,
                       weight_bytes=states.weights,
                       forward_j=total((Phase.FORWARD,), joules),
                       backward_j=total(BACKWARD_PHASES, joules),
                       optimizer_j=total((Phase.OPTIMIZER,), joules) /
                       (config.dp if config.zero >= 1 else 1),
                       recompute_s=total((Phase.RECOMPUTE,)), tensor_comm_bytes=sum(reduces),
                       pipeline_comm_bytes=pipeline_bytes, expert_comm_s=expert_comm,
                       expert_forward_bytes=tuple(expert_forward),
                       expert_backward_bytes=tuple(expert_backward),
                       expert_grad_bytes=states.gradients * experts)


def _tensor_collective(nbytes: float, tp: int, cluster: Cluster, sequence_parallel: bool) -> float:
    """Seconds of one tp all-reduce of `nbytes`, or with sequence parallelism its reduce-scatter
    plus all-gather."""
    if not sequence_parallel:
        return cluster.time("all_reduce", nbytes, tp)
    return cluster.time("reduce_scatter", nbytes, tp) + cluster.time("all_gather", nbytes, tp)


def virtual_stages(stages: tuple[StageResult, ...], v: int) -> tuple[StageResult, ...]:
    """Each device's stage as its v interleaved chunks, in pipeline order (chunk k of device d is
    stage k p + d): an even v-th of its work, state and energy, every chunk sending its device's
    boundary activations."""
    if v == 1:
        return stages

    def chunk(stage: StageResult, k: int) -> StageResult:
        return replace(stage, forward_s=stage.forward_s / v, backward_s=stage.backward_s / v,
                       optimizer_s=stage.optimizer_s / v,
                       tensor_forward_bytes=stage.tensor_forward_bytes[k::v],
                       tensor_backward_bytes=stage.tensor_backward_bytes[k::v],
                       expert_forward_bytes=stage.expert_forward_bytes[k::v],
                       expert_backward_bytes=stage.expert_backward_bytes[k::v],
                       grad_bytes=stage.grad_bytes / v, weight_bytes=stage.weight_bytes / v,
                       expert_grad_bytes=stage.expert_grad_bytes / v,
                       forward_j=stage.forward_j / v, backward_j=stage.backward_j / v,
                       optimizer_j=stage.optimizer_j / v)
    return tuple(chunk(stage, k) for k in range(v) for stage in stages)
