"""One single-device run end to end: load, trace, cost, schedule, total. Serving and parallel runs
build on these pieces; the public facade (accelsim.api) re-exports them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, replace

from accelsim.devices import cost_all, effective_precision, run_precision
from accelsim.devices.area import device_area_mm2
from accelsim.devices.host import with_host_waits
from accelsim.engine.analytic import schedule
from accelsim.engine.feasibility import check_mode, memory_fit
from accelsim.errors import UsageError
from accelsim.result import DYNAMIC_ENERGY, ENERGY_PARTS, Result
from accelsim.workload.ir import Graph
from accelsim.workload.run_load import load_for_run, load_workload  # noqa: F401 (re-exported)
from accelsim.workload.stack import apply_stack, only_ops
from accelsim.workload.trace import MemoryBreakdown

MODES = ("inference", "training", "serve")
ENGINES = ("analytic", "event")
TIMES = ("latency_s", "ttft_s", "tpot_s")      # totals a calibration's interval bounds
RATES = ("throughput", "tokens_per_s", "decode_tokens_per_s", "prefill_tokens_per_s")


def load_device(spec, overrides: Sequence[str] = (), *, plain: bool = False):
    """A validated device config from a bundled name, a YAML path or a config object; a YAML
    without a `power:` block draws its modelled leakage as idle power (devices.area). `plain`:
    a cached bundled device may come as its pydantic-free mirror (accelsim.config.plain)."""
    from accelsim.config.loader import load_device as load
    from accelsim.devices.area import with_modelled_power

    if isinstance(spec, (str, os.PathLike)):
        return with_modelled_power(load(spec, overrides, plain=plain))
    if overrides:
        raise UsageError("overrides apply only to devices given by name or path", key="overrides")
    return spec


def build_trace(graph: Graph, mode: str, *, optimizer: str = "adam", checkpoint: bool = False):
    """The inference or training trace of a graph."""
    if mode == "inference":
        from accelsim.workload.trace import inference_trace

        return inference_trace(graph)
    if mode == "training":
        from accelsim.workload.training import training_trace

        return training_trace(graph, optimizer=optimizer, checkpoint=checkpoint)
    raise UsageError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}", key="mode")


def check_engine(engine: str) -> None:
    """Reject an engine name that is not one of ENGINES."""
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}",
                         key="engine")


def run_totals(costs, layers, device) -> dict[str, float]:
    """Latency, work, traffic and energy by component of one costed trace. Static power is drawn
    once over the run, busy power (idle + active) x latency: under the event engine ops overlap, so
    summing the per-op static terms would count the overlapped time twice."""
    latency = max((layer.start_s + layer.latency_s for layer in layers), default=0.0)
    return {"latency_s": latency, "flops": sum(c.flops for c in costs),
            "macs": sum(c.macs for c in costs), "dram_bytes": sum(c.dram_bytes for c in costs),
            **{part: sum(getattr(c.energy, part) for c in costs) for part in DYNAMIC_ENERGY},
            "static": device.power.busy * latency}


def summary_totals(params: int, run: dict, memory: MemoryBreakdown, samples: int, device) -> dict:
    """The totals every single-device Result carries, from run_totals' figures."""
    latency = run["latency_s"]
    energy = sum(run[part] for part in ENERGY_PARTS)
    return {
        "params": params,
        "flops": run["flops"],
        "macs": run["macs"],
        "dram_bytes": run["dram_bytes"],
        "latency_s": latency,
        "energy_j": energy,
        "energy_breakdown_j": {part: run[part] for part in ENERGY_PARTS},
        "peak_memory_bytes": memory.total,
        "area_mm2": device_area_mm2(device),
        "samples_per_step": samples,
        "throughput": samples / latency if latency > 0 else 0.0,
        "flops_per_s": run["flops"] / latency if latency > 0 else 0.0,
        "average_power_w": energy / latency if latency > 0 else 0.0,
        **memory_fit(memory, device.memory.capacity, device.name),
    }


def with_interval(totals: dict, device) -> dict:
    """`totals` plus bounds (`latency_s_lo`, `latency_s_hi`, `throughput_lo`, ...) on its times
    and rates from a calibrated device's held-out errors, and `interval` saying how they were made;
    `totals` unchanged for an uncalibrated device."""
    calibration = device.calibration
    if calibration is None:
        return totals
    bounded = dict(totals)
    for key in TIMES:
        if key in totals:
            bounded[f"{key}_lo"], bounded[f"{key}_hi"] = calibration.interval(totals[key])
    for key in RATES:
        if totals.get(key):
            slow, fast = calibration.interval(1.0 / totals[key])
            bounded[f"{key}_lo"], bounded[f"{key}_hi"] = 1.0 / fast, 1.0 / slow
    bounded["interval"] = calibration.describe()
    return bounded


def trace_costs(trace, device, stack: str | None) -> list:
    """The costs of a trace's ops on a device: its batch spread where the kind does that, and
    under a host-dispatched `stack` each op's wait on the host (devices.host)."""
    return with_host_waits(cost_all(trace.ops, device, trace.samples_per_step), trace.ops, device,
                           stack)


def run_trace(trace, device, engine: str = "analytic", *, prefetch: bool = False,
              stack: str | None = None):
    """(costs, layer results) of a trace's ops on a device, scheduled by `engine` (the event engine
    with weight prefetch if `prefetch`); under a `stack` that dispatches op by op from the host
    (eager), each op's wait on the host is in its latency (devices.host)."""
    check_engine(engine)
    if prefetch and engine != "event":
        raise UsageError("prefetch needs the event engine (engine='event', --engine event)",
                         key="prefetch")
    costs = trace_costs(trace, device, stack)
    if engine == "event":
        from accelsim.engine.sim import schedule as simulate_events

        return costs, simulate_events(trace.ops, costs, prefetch=prefetch)
    return costs, schedule(trace.ops, costs)


def computable(graph: Graph, device) -> tuple[Graph, str]:
    """A pre-built graph (e.g. quantized per layer) with each op at a precision the device computes
    (falling back with a warning) and the precision to report: its GEMMs' if they agree, else "mixed".
    """
    chosen = {p: effective_precision(device, p) for p in dict.fromkeys(op.precision for op in graph.ops)}
    ops = tuple(op.with_(precision=chosen[op.precision]) if chosen[op.precision] != op.precision
                else op for op in graph.ops)
    gemm_precisions = {op.precision for op in ops if op.macs} or {op.precision for op in ops}
    label = gemm_precisions.pop() if len(gemm_precisions) == 1 else "mixed"
    return replace(graph, ops=ops), label


def prepare(workload, device, *, overrides: Sequence[str] = (), **options):
    """(device config, graph, precision, trace) of a single-device inference or training run on
    `device` (a bundled name, YAML path or config) with `overrides` (options: see prepare_on)."""
    device = load_device(device, overrides, plain=True)
    return (device, *prepare_on(device, workload, **options))


def prepare_on(device, workload, *, mode: str = "inference", batch: int = 1,
               precision: str | None = None, optimizer: str = "adam", checkpoint: bool = False,
               stack: str | None = None, only: str | None = None, **workload_params):
    """(graph, precision, trace) of a single-device inference or training run on a loaded `device`;
    the graph restricted to `only` ops of one kind and run under `stack` (default: the device
    kind's for the mode, accelsim.workload.stack), its meta "stack" saying which; a seq_len
    distribution is padded where the run pads (accelsim.workload.run_load)."""
    check_mode(device, mode)
    precision = run_precision(device, precision)
    stack, graph = load_for_run(workload, stack, device.kind, mode, batch=batch,
                                precision=precision, **workload_params)
    if isinstance(workload, Graph):
        graph, precision = computable(graph, device)
    graph = apply_stack(only_ops(graph, only), stack, device.kind, mode)
    trace = build_trace(graph, mode, optimizer=optimizer, checkpoint=checkpoint)
    return graph, precision, trace


def event_timeline(workload, device, *, prefetch: bool = False, **options):
    """The simpy engine's timeline of a run (unit lanes and memory channels), for traces."""
    from accelsim.engine.sim import run as run_events

    device, graph, _precision, trace = prepare(workload, device, **options)
    return run_events(trace.ops, trace_costs(trace, device, graph.info("stack")), prefetch=prefetch)


def simulate_single(workload, device, *, mode: str = "inference", engine: str = "analytic",
                    prefetch: bool = False, **options) -> Result:
    """One device's inference or training run of `workload` as a Result (options: see prepare)."""
    device, graph, precision, trace = prepare(workload, device, mode=mode, **options)
    return simulate_prepared(graph, precision, trace, device, mode=mode, engine=engine,
                             prefetch=prefetch)


def sequence_lengths(graph: Graph) -> dict:
    """How a graph built from a seq_len distribution was sized (accelsim.workload.seqlen)."""
    mean, mean_square = graph.info("seq_mean"), graph.info("seq_mean_square")
    return {"spec": graph.info("seq_lengths"), "mean": mean, "mean_square": mean_square,
            "attention_ratio": mean_square / mean**2, "padded": graph.info("seq_padded"),
            "padded_length": graph.info("seq_padded_length"), "tokens": graph.info("seq_len"),
            "keys": graph.info("seq_keys")}


def simulate_prepared(graph: Graph, precision: str, trace, device, *, mode: str = "inference",
                      engine: str = "analytic", prefetch: bool = False) -> Result:
    """The Result of a prepared run (see prepare) on `device`: a trace costed on many variants of
    one device (a calibration's search) is built once."""
    costs, layers = run_trace(trace, device, engine, prefetch=prefetch, stack=graph.info("stack"))
    run = run_totals(costs, layers, device)
    latency = run["latency_s"]
    totals = summary_totals(graph.params, run, trace.memory, trace.samples_per_step, device)
    if trace.tokens_per_step:
        totals["tokens_per_step"] = trace.tokens_per_step
        totals["tokens_per_s"] = trace.tokens_per_step / latency if latency > 0 else 0.0
    if graph.info("seq_lengths"):
        totals["sequence_lengths"] = sequence_lengths(graph)
    return Result(workload=graph.name, device=device.name, device_kind=device.kind, mode=mode,
                  precision=precision, batch=graph.batch, layers=layers,
                  totals=with_interval(totals, device), memory=asdict(trace.memory),
                  stack=graph.info("stack"))
