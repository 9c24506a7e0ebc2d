"""`accelsim serve WORKLOAD`: request-level LLM serving under load on the discrete-event engine."""

from __future__ import annotations

import click

from accelsim.commands.common import POSITIVE, STACK, WIDE, emit_json, single_run, workload_params

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
STATIC_BATCH = 16       # a static batch's activations are its padded prompts: keep it modest


@click.command(context_settings=CONTEXT)
@click.argument("workload")
@click.option("--device", "-d", required=True, help="Bundled device name or YAML path.")
@click.option("--qps", type=POSITIVE, default=None, help="Mean arrival rate (requests/s).")
@click.option("--arrival", default="poisson", show_default=True,
              help="poisson, gamma (with --cv), constant, or offline (all at once).")
@click.option("--cv", type=POSITIVE, default=1.0, show_default=True,
              help="Coefficient of variation of gamma inter-arrival gaps (>1: bursty).")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False), default=None,
              help="Requests from a CSV or JSONL file: arrival_s, prompt_tokens, output_tokens.")
@click.option("--requests", "count", type=click.IntRange(min=1, max=1_000_000), default=200,
              show_default=True, help="Requests to simulate (a trace: its first N).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--prompt", default=None, metavar="N|DIST",
              help="Prompt tokens: a number, uniform:A:B, lognormal:MEAN:SIGMA or zipf:THETA:MAX "
                   "[default: 512; Whisper: its 4-token task prompt].")
@click.option("--generate", default=None, metavar="N|DIST",
              help="Output tokens per request, as --prompt [default: 128].")
@click.option("--lengths", default=None, metavar="PROFILE",
              help="Published length profile: sharegpt (chat) or arxiv (summarisation).")
@click.option("--scheduler", default="continuous",
              show_default=True, help="static (FasterTransformer), continuous (Orca/vLLM), "
                                      "chunked (Sarathi-Serve).")
@click.option("--max-batch", type=click.IntRange(min=1), default=None,
              help="Most requests in one batch [default: static 16, else 256 (vLLM's)].")
@click.option("--token-budget", type=click.IntRange(min=1), default=None,
              help="Most new tokens per iteration [default: chunked 512, else max(context, 2048)].")
@click.option("--block-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="KV cache block (tokens).")
@click.option("--replicas", type=click.IntRange(min=1, max=4096), default=1, show_default=True)
@click.option("--router", default="round_robin", show_default=True,
              help="round_robin or least_outstanding (fewest unfinished requests).")
@click.option("--tp", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Tensor-parallel devices per replica.")
@click.option("--ep", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Expert parallelism (MoE models): attention ranks per replica, each with its "
                   "own requests, sharing the experts (experts / ep each) over all-to-alls.")
@click.option("--interconnect", default=None, metavar="INTRA[,INTER]",
              help="Links of a tp group and of the ep ranks (default: by device).")
@click.option("--precision", "-p", default=None)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE")
@click.option("--slo", default="ttft_p90=2s,tbt_p99=200ms", show_default=True,
              metavar="METRIC_pNN=TIME,...", help="Latency bounds for goodput and --capacity.")
@click.option("--capacity", is_flag=True, help="Search the highest QPS meeting --slo.")
@click.option("--qps-sweep", default=None, metavar="Q1,Q2,...",
              help="Run at each of these QPS (latency against load).")
@click.option("--requests-out", type=click.Path(dir_okay=False), default=None,
              help="Per-request records (.csv, or .parquet with pyarrow).")
@click.option("--timeline", type=click.Path(dir_okay=False), default=None,
              help="Chrome/Perfetto trace (JSON) of the iterations.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Figure (.png, .svg, .pdf): latency CDFs, or latency against load with "
                   "--qps-sweep.")
@STACK
@WIDE
@click.option("--json", "as_json", is_flag=True, help="Print the JSON result.")
@single_run
def serve(workload, device, qps, arrival, cv, trace_path, count, seed, prompt, generate, lengths,
          scheduler, max_batch, token_budget, block_size, replicas, router, tp, ep, interconnect,
          precision, overrides, params, slo, capacity, qps_sweep, requests_out, timeline,
          plot_path, stack, wide, as_json):
    """Simulate LLM serving of requests arriving over time: batching, KV cache, replicas.

    \b
    Examples:
      accelsim serve gpt2 --device a100 --qps 20 --requests 100
      accelsim serve llama2_7b --device a100 --qps 2 --lengths sharegpt --scheduler chunked
      accelsim serve llama2_7b --device a100 --capacity --requests 600 --prompt 128 --generate 32
      accelsim serve mixtral_8x7b --device h100 --ep 8 --arrival offline --requests 64
    """
    from accelsim.engine.serve_load import prepare_serving, run_load
    from accelsim.engine.serve_metrics import parse_slo
    from accelsim.report.plots import check_path

    bounds = parse_slo(slo)
    if plot_path:
        check_path(plot_path)
    sweep = _parse_sweep(qps_sweep)
    modes = [name for name, on in (("--qps-sweep", sweep), ("--capacity", capacity)) if on]
    if len(modes) > 1:
        raise click.BadParameter("give one of --capacity and --qps-sweep", param_hint=modes[0])
    if trace_path and (qps is not None or modes or lengths or prompt or generate):
        raise click.BadParameter("a trace gives arrivals and lengths; drop --qps, --prompt, "
                                 "--generate, --lengths, --capacity and --qps-sweep",
                                 param_hint="--trace")
    if arrival == "offline" and (qps is not None or modes or trace_path):
        raise click.BadParameter("offline requests all arrive at once: drop --qps, --trace, "
                                 "--capacity and --qps-sweep", param_hint="--arrival")
    if not trace_path and qps is None and not modes and arrival != "offline":
        raise click.BadParameter("give --qps, --trace, --qps-sweep, --capacity or "
                                 "--arrival offline", param_hint="--qps")
    if lengths and (prompt or generate):
        raise click.BadParameter("--lengths sets --prompt and --generate", param_hint="--lengths")
    requests_at, max_prompt = _requests(trace_path, count, seed, prompt, generate, lengths,
                                        arrival, cv, workload, precision, params)
    if max_batch is None:
        max_batch = STATIC_BATCH if scheduler == "static" else 256
    setup = prepare_serving(workload, device, scheduler=scheduler, max_batch=max_batch,
                            token_budget=token_budget, block_size=block_size, replicas=replicas,
                            router=router, tp=tp, ep=ep, interconnect=interconnect,
                            precision=precision,
                            overrides=overrides, max_prompt=max_prompt, stack=stack,
                            **workload_params(params))
    if sweep:
        _run_sweep(setup, requests_at, sweep, slo, bounds, plot_path, as_json, wide)
        return
    if capacity:
        result = _run_capacity(setup, requests_at, slo, qps)
    else:
        result = run_load(setup, requests_at(qps), slo)
    _outputs(result, requests_out, timeline, plot_path, as_json, wide)


def _parse_sweep(text: str | None) -> list[float]:
    """The --qps-sweep values (ascending, positive)."""
    if text is None:
        return []
    try:
        values = sorted({float(item) for item in text.split(",")})
    except ValueError:
        raise click.BadParameter(f"expected numbers separated by commas, got {text!r}",
                                 param_hint="--qps-sweep") from None
    if not values or values[0] <= 0 or values[-1] == float("inf") or len(values) > 64:
        raise click.BadParameter("expected 1 to 64 finite positive rates",
                                 param_hint="--qps-sweep")
    return values


def _requests(trace_path, count, seed, prompt, generate, lengths, arrival, cv, workload,
              precision, params):
    """(qps -> Requests, longest prompt) of the run."""
    from accelsim.workload.requests import (Requests, load_trace, profile_lengths,
                                            synthetic_requests)

    if trace_path:
        trace = load_trace(trace_path, count)
        return (lambda _qps: trace), int(trace.prompt.max())
    if lengths:
        prompt, generate = profile_lengths(lengths)
    context, default_prompt = _context(workload, precision, params)
    options = dict(arrival=arrival, cv=cv, prompt=prompt or default_prompt, output=generate or "128",
                   seed=seed, max_tokens=context)
    unit = synthetic_requests(count, 1.0, **options)      # drawn once: rates scale its arrivals
    return (lambda qps: Requests(unit.arrival_s / (qps or 1.0), unit.prompt, unit.output)), \
        int(unit.prompt.max())


def _context(workload, precision, params) -> tuple[int | None, str]:
    """(the model's context in tokens (None if unbounded), its default prompt length): 512, or
    the model's own where it names one (Whisper's decoder starts from a 4-token task prompt)."""
    from accelsim.engine.single import load_workload

    graph = load_workload(workload, precision=precision or "fp16", **workload_params(params))
    return graph.info("max_positions"), str(graph.info("serve_prompt", 512))


def _run_capacity(setup, requests_at, slo, qps):
    """The run at the capacity QPS, with capacity totals."""
    import warnings

    from accelsim.engine.serve_capacity import price_totals, search_capacity
    from accelsim.engine.serve_load import run_load

    capacity_qps, result, runs = search_capacity(setup, requests_at, slo, qps or 1.0)
    if result is None:
        warnings.warn(f"the SLO {slo} is missed even at the lowest rate tried", stacklevel=2)
        result = run_load(setup, requests_at(qps or 1.0), slo)
    devices = setup.devices
    result.totals.update({"capacity_qps": capacity_qps, "capacity_runs": runs, "devices": devices,
                          **price_totals(capacity_qps, devices, setup.device.price_per_hour)})
    return result


def _run_sweep(setup, requests_at, sweep, slo, bounds, plot_path, as_json, wide):
    """Runs at each offered QPS: a table or JSON, and the latency-load figure."""
    from accelsim.engine.serve_load import run_load
    from accelsim.engine.serve_metrics import percentile_key

    points = [{"qps": q, "totals": run_load(setup, requests_at(q), slo).totals} for q in sweep]
    if plot_path:
        from accelsim.report.serve_plots import latency_load_figure

        latency_load_figure({setup.scheduler: points}, plot_path,
                            {percentile_key(m, q): limit for (m, q), limit in bounds.items()})
    if as_json:
        emit_json({"schema_version": 1, "workload": setup.workload, "device": setup.device.name,
                   "mode": "serve_load_sweep", "sweep": points})
    else:
        from accelsim.report.serve_outputs import print_sweep

        print_sweep(points, f"{setup.workload} on {setup.device.name}: {setup.scheduler} "
                            f"batching against load", wide=wide)


def _outputs(result, requests_out, timeline, plot_path, as_json, wide):
    """Files, then the JSON or the table."""
    from accelsim.report.serve_outputs import print_serve, write_requests, write_serve_trace

    if requests_out:
        write_requests(result, requests_out)
    if timeline:
        write_serve_trace(result, timeline)
    if plot_path:
        from accelsim.report.serve_plots import latency_cdf_figure

        latency_cdf_figure({result.config["scheduler"]: result}, plot_path)
    if as_json:
        from accelsim.result import provenance

        result.provenance = provenance(workload=result.workload, device=result.device,
                                       **result.config)
        emit_json(result.to_dict())
    else:
        print_serve(result, wide=wide)
