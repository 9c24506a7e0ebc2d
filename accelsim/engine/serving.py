"""A serving request on one device: cost the prefill and a few decode steps, integrate the rest.

Decode steps differ only in how many cached tokens attention reads, and their cost grows (piecewise)
linearly with it, so `decode_samples` (default DECODE_SAMPLES) evenly spaced contexts are costed and
every step between them is linearly interpolated (every step is costed when there are no more).

Result layers: the prefill's ops, then one decode step's (at the middle sampled context) starting at
TTFT. Totals add ttft_s, tpot_s (mean decode step), decode_tokens_per_s (batch / tpot_s),
kv_cache_bytes and latency_s = ttft_s + (generate - 1) x tpot_s.
"""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np

from accelsim.devices import run_precision
from accelsim.engine import single
from accelsim.engine.feasibility import check_mode
from accelsim.errors import UsageError
from accelsim.result import Result
from accelsim.workload.ir import Graph
from accelsim.workload.limits import MAX_SIZE, is_size
from accelsim.workload.stack import apply_stack, resolve_stack
from accelsim.workload.serving import (DECODE_SAMPLES, check_decoder, decode_pasts, decode_trace,
                                       kv_cache_bytes, prefill_trace)
from accelsim.workload.trace import MemoryBreakdown

def check_context(graph: Graph, prompt: int, generate: int) -> None:
    """A decoder whose context holds the prompt and every generated token."""
    check_decoder(graph)
    context = graph.info("max_positions")
    if context and prompt + generate > context:
        raise UsageError(f"prompt + generate = {prompt} + {generate} tokens exceed {graph.name}'s "
                         f"context of {context} tokens", key="prompt")


def simulate_serving(workload, device, *, batch: int = 1, prompt: int = 128, generate: int = 128,
                     precision: str | None = None, overrides=(), engine: str = "analytic",
                     decode_samples: int = DECODE_SAMPLES, stack: str | None = None,
                     **workload_params) -> Result:
    """Serve `batch` requests of `prompt` tokens that each generate `generate` tokens, under
    `stack` (default: the device kind's for serving, accelsim.workload.stack)."""
    if {"seq_len", "past"} & set(workload_params):
        raise UsageError("serve mode sets seq_len and past from --prompt and --generate",
                         key="param")
    for key, value in (("batch", batch), ("prompt", prompt), ("generate", generate)):
        if not is_size(value):
            raise UsageError(f"must be a positive integer up to {MAX_SIZE}, got {value!r}", key=key)
    if isinstance(workload, Graph):
        raise UsageError("serve mode builds the network at each context length; give a zoo name",
                         key="workload")
    device = single.load_device(device, overrides)
    check_mode(device, "serve")
    precision = run_precision(device, precision)
    stack = resolve_stack(stack, device.kind, "serve")
    check_context(single.load_workload(workload, batch=batch, precision=precision,
                                       **workload_params), prompt, generate)

    def graph(seq_len: int, past: int | None = None):
        extra = {"past": past} if past else {}
        return apply_stack(single.load_workload(workload, batch=batch, precision=precision,
                                                seq_len=seq_len, **extra, **workload_params),
                           stack, device.kind)

    net = graph(prompt)
    prefill = prefill_trace(net)
    prefill_costs, prefill_layers = single.run_trace(prefill, device, engine)
    first = single.run_totals(prefill_costs, prefill_layers, device)
    ttft = first["latency_s"]

    pasts = decode_pasts(prompt, generate, decode_samples)
    sampled, decode_layers, decode_memory = [], (), MemoryBreakdown()
    for i, past in enumerate(pasts):
        trace = decode_trace(graph(1, past))
        costs, layers = single.run_trace(trace, device, engine)
        sampled.append(single.run_totals(costs, layers, device))
        decode_memory = trace.memory
        if i == len(pasts) // 2:
            decode_layers = tuple(replace(layer, start_s=layer.start_s + ttft) for layer in layers)
    every_step = np.arange(prompt, prompt + generate - 1)
    decode = {key: float(np.interp(every_step, pasts, [s[key] for s in sampled]).sum())
              if sampled else 0.0 for key in first}
    run = {key: first[key] + decode[key] for key in first}

    steps = generate - 1
    tpot = decode["latency_s"] / steps if steps else 0.0
    memory = MemoryBreakdown(weights=prefill.memory.weights,
                             activations=max(prefill.memory.activations, decode_memory.activations),
                             kv_cache=kv_cache_bytes(net, prompt + generate))
    latency = run["latency_s"]
    totals = {
        **single.summary_totals(net.params, run, memory, batch, device),
        "prompt_tokens": prompt,
        "generated_tokens": generate,
        "ttft_s": ttft,
        "tpot_s": tpot,
        "decode_tokens_per_s": batch / tpot if tpot else 0.0,
        "prefill_tokens_per_s": batch * prompt / ttft,
        "tokens_per_s": batch * generate / latency,
        "kv_cache_bytes": memory.kv_cache,
        "decode_steps_costed": len(pasts),
    }
    totals["energy_per_token_j"] = totals["energy_j"] / (batch * generate)
    return Result(workload=net.name, device=device.name, device_kind=device.kind,
                  mode="serve", precision=precision, batch=batch,
                  layers=prefill_layers + decode_layers, totals=single.with_interval(totals, device),
                  memory=asdict(memory), stack=stack)
