"""The public API: load a device and a workload, simulate a run, get a Result. A thin facade over
accelsim.engine (single-device runs in engine.single, serving in engine.serving, parallel
training in engine.parallel)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from accelsim.config.paths import resolve
from accelsim.engine.single import (ENGINES, MODES, build_trace, check_engine, event_timeline,
                                    load_device, load_workload, simulate_single)
from accelsim.errors import UsageError
from accelsim.result import provenance

__all__ = ["ENGINES", "MODES", "build_trace", "event_timeline", "load_device", "load_workload",
           "simulate", "simulate_parallel"]


def simulate_parallel(workload, device, *, devices: int, parallel: str | None = None, **options):
    """A data/tensor/pipeline-parallel training step (see accelsim.engine.parallel)."""
    from accelsim.engine.parallel import simulate_parallel as run

    return run(workload, device, devices=devices, parallel=parallel, **options)


def simulate(workload, device, *, mode: str = "inference", batch: int = 1,
             precision: str | None = None, overrides: Sequence[str] = (), optimizer: str = "adam",
             checkpoint: bool = False, engine: str = "analytic", prompt: int = 128,
             generate: int = 128, devices: int = 1, parallel: str | None = None,
             tokens: float | None = None, global_batch: int | None = None, interconnect=None,
             prefetch: bool = False, stack: str | None = None, only: str | None = None,
             recompute: str | None = None, sequence_parallel: bool = False,
             straggler: float = 0.0, dataloader_s: float = 0.0, grad_reduce: str = "overlapped",
             grad_accumulation: str = "separate", **workload_params):
    """Simulate `workload` (name, path or Graph) on `device` (name, path or config).

    engine: "analytic" (ops back to back in trace order) or "event" (simpy: independent ops overlap
    on different units and share off-chip bandwidth; see accelsim.engine.sim). prefetch (event
    engine, single device, inference or training): each unit fetches its next op's weights while the
    op before runs (double buffering).
    mode "serve": an LLM serving `batch` requests of `prompt` tokens, each generating `generate`
    tokens (prefill + decode with a KV cache; see accelsim.engine.serving).
    devices > 1 or `parallel` ("tp=8,pp=16,dp=8[,zero=1]"): a multi-device training step, returned
    as a ParallelResult (see simulate_parallel), with its recipe: recompute ("none", "selective",
    "full"; checkpoint=True is "full"), sequence_parallel, straggler (fraction), dataloader_s
    (seconds per step), grad_reduce ("overlapped" or "after" the backward) and
    grad_accumulation ("separate" or "fused" into the wgrad GEMM).
    stack: "eager" or "compiled" (default: the device kind's for the mode; see
    accelsim.workload.stack). only: keep only ops of one kind, e.g. "conv2d" (single-device runs).
    Every result records its `device_id` (bundled name or file stem) and its `provenance`.
    """
    options = dict(mode=mode, batch=batch, precision=precision, overrides=list(overrides),
                   optimizer=optimizer, checkpoint=checkpoint, engine=engine, prompt=prompt,
                   generate=generate, devices=devices, parallel=parallel, tokens=tokens,
                   global_batch=global_batch, interconnect=interconnect, prefetch=prefetch,
                   stack=stack, only=only, recompute=recompute,
                   sequence_parallel=sequence_parallel, straggler=straggler,
                   dataloader_s=dataloader_s, grad_reduce=grad_reduce,
                   grad_accumulation=grad_accumulation)
    result = _simulate(workload, device, **options, **workload_params)
    device_spec = _spec(device)
    return replace(result, device_id=Path(device_spec).stem if device_spec else result.device,
                   provenance=provenance(workload=_spec(workload) or workload.name,
                                         params=workload_params, device=device_spec or result.device,
                                         device_file=device_spec and str(resolve(device_spec)),
                                         **options))


def _spec(spec) -> str | None:
    """A name or path spec as text, None for a loaded object (a Graph or a device config)."""
    return os.fspath(spec) if isinstance(spec, (str, os.PathLike)) else None


def _simulate(workload, device, *, mode, batch, precision, overrides, optimizer, checkpoint, engine,
              prompt, generate, devices, parallel, tokens, global_batch, interconnect, prefetch,
              stack, only, recompute, sequence_parallel, straggler, dataloader_s, grad_reduce,
              grad_accumulation, **workload_params):
    """simulate() without the device_id and provenance."""
    if batch < 1:
        raise UsageError(f"batch must be >= 1, got {batch}", key="batch")
    check_engine(engine)
    if only is not None and (mode == "serve" or devices > 1 or parallel):
        raise UsageError("only (keeping one kind of op) is for single-device inference and "
                         "training runs", key="only")
    if prefetch and (mode == "serve" or devices > 1 or parallel):
        raise UsageError("prefetch is modelled for single-device inference and training runs",
                         key="prefetch")
    recipe = dict(recompute=recompute, sequence_parallel=sequence_parallel, straggler=straggler,
                  dataloader_s=dataloader_s, grad_reduce=grad_reduce,
                  grad_accumulation=grad_accumulation)
    if not (devices > 1 or parallel) and (recompute or sequence_parallel or straggler or dataloader_s
                                          or grad_reduce != "overlapped"
                                          or grad_accumulation != "separate"):
        raise UsageError("recompute, sequence parallelism, straggler and data-loader overheads are "
                         "modelled for multi-device training runs (give devices > 1 or parallel; "
                         "checkpoint is full recomputation on one device)", key="recompute")
    if devices > 1 or parallel:
        if mode != "training":
            raise UsageError(f"multi-device runs model training; got mode {mode!r} (serve an LLM "
                             "on several devices with `accelsim serve --tp T --ep E`)", key="mode")
        return simulate_parallel(workload, device, devices=devices, parallel=parallel, batch=batch,
                                 global_batch=global_batch, tokens=tokens,
                                 interconnect=interconnect, precision=precision,
                                 overrides=overrides, optimizer=optimizer, checkpoint=checkpoint,
                                 stack=stack, **recipe, **workload_params)
    if mode == "serve":
        from accelsim.engine.serving import simulate_serving

        return simulate_serving(workload, device, batch=batch, prompt=prompt, generate=generate,
                                precision=precision, overrides=overrides, engine=engine,
                                stack=stack, **workload_params)
    return simulate_single(workload, device, mode=mode, batch=batch, precision=precision,
                           overrides=overrides, optimizer=optimizer, checkpoint=checkpoint,
                           engine=engine, prefetch=prefetch, stack=stack, only=only,
                           **workload_params)
