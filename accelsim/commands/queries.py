"""The query commands: compare, whatif, realtime, cost. Computation in accelsim.queries, tables in
accelsim.commands.query_tables; heavy imports stay inside the commands."""

from __future__ import annotations

import click

from accelsim.commands.common import (PARAM_HELP, POSITIVE, STACK, WIDE, Finite, emit_json,
                                      workload_params)

MODES = click.Choice(["inference", "training"])
PRECISION_HELP = "fp32, tf32, bf16, fp16, fp8, fp4, int8, int4 (default: the device's own)."


def _emit(answer, as_json: bool, render, wide: bool) -> None:
    """Print the answer's JSON, or render its tables (every column when `wide`)."""
    if as_json:
        emit_json(answer.to_dict())
    else:
        render(answer, wide=wide)


@click.command()
@click.argument("workloads", nargs=-1, required=True)
@click.option("--device", "-d", "devices", multiple=True, required=True,
              help="Bundled device name or YAML path; repeat it. The first is the baseline.")
@click.option("--mode", "modes", type=MODES, multiple=True, default=("inference",), show_default=True,
              help="Repeat for both.")
@click.option("--batch", "-b", "batches", type=click.IntRange(min=1), multiple=True, default=(1,),
              show_default=True, help="Repeat to compare batch sizes.")
@click.option("--precision", "-p", default=None, help=PRECISION_HELP)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help=PARAM_HELP)
@STACK
@WIDE
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON answer.")
def compare(workloads, devices, modes, batches, precision, params, stack, wide, as_json):
    """Run WORKLOADS on several devices side by side: one row per run, ratios to the first device.

    \b
    Examples:
      accelsim compare resnet50 --device a100 --device tpu_v4 --device zcu102_dpu --device phone_npu
      accelsim compare resnet50 -d a100 -d tpu_v4 --mode inference --mode training
      accelsim compare bert_base distilbert -d a100 -d h100 --batch 1 --batch 32 --json
    """
    from accelsim.commands.query_tables import print_comparison, progress
    from accelsim.queries.compare import compare as run_compare

    runs = len(workloads) * len(modes) * len(batches) * len(devices)
    with progress(runs, "compare") as on_run:
        answer = run_compare(workloads, devices, modes=modes, batches=batches, precision=precision,
                             on_run=on_run, stack=stack, **workload_params(params))
    _emit(answer, as_json, print_comparison, wide)


@click.command()
@click.argument("workload")
@click.option("--device", "-d", required=True, help="Bundled device name or YAML path.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help='Change a device field in the what-if run, e.g. --set memory.bandwidth="2.4 TB/s".')
@click.option("--quantize", metavar="PRECISION", default=None,
              help="Store and compute the network (or --layers) at PRECISION, e.g. int8.")
@click.option("--prune", metavar="SPARSITY", default=None,
              help='Prune GEMM weights: a fraction (0.5, unstructured) or "2:4" (structured).')
@click.option("--fuse", is_flag=True,
              help="Eager baseline against the compiled stack: conv+bn+act, matmul+act, "
                   "elementwise chains and attention fused (see --stack).")
@click.option("--student", metavar="WORKLOAD", default=None,
              help="A distilled network to run instead, e.g. distilbert for bert_base.")
@click.option("--layers", multiple=True, metavar="PATTERN",
              help="Ops to quantize or prune (names or glob patterns such as 'layer4.*'); default all.")
@click.option("--mode", type=MODES, default="inference", show_default=True)
@click.option("--batch", "-b", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--precision", "-p", default=None, help=PRECISION_HELP)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help=PARAM_HELP)
@STACK
@click.option("--show", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many layers that changed bound to list.")
@WIDE
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON answer.")
def whatif(workload, device, overrides, quantize, prune, fuse, student, layers, mode, batch,
           precision, params, stack, show, wide, as_json):
    """Run WORKLOAD as it is and with a change, and show how each metric moves.

    \b
    Examples:
      accelsim whatif gpt2 --device a100 --set memory.bandwidth="3.35 TB/s"
      accelsim whatif resnet50 --device a100 --quantize int8
      accelsim whatif bert_base --device a100 --prune 2:4 --batch 32
      accelsim whatif resnet50 --device a100 --prune 0.5 --layers 'layer4.*'
      accelsim whatif gpt2 --device a100 --fuse
      accelsim whatif bert_base --device phone_npu --student distilbert
    """
    from accelsim.commands.query_tables import print_whatif, progress
    from accelsim.queries.whatif import whatif as run_whatif

    with progress(2, "whatif") as on_run:
        answer = run_whatif(workload, device, overrides=overrides, quantize=quantize, prune=prune,
                            fuse=fuse, student=student, layers=layers or None, mode=mode,
                            batch=batch, precision=precision, stack=stack, on_run=on_run,
                            **workload_params(params))
    _emit(answer, as_json, lambda a, wide: print_whatif(a, limit=show, wide=wide), wide)


@click.command()
@click.argument("workload")
@click.option("--device", "-d", required=True, help="Bundled device name or YAML path.")
@click.option("--fps", type=POSITIVE, required=True,
              help="Frames per second the device must sustain.")
@click.option("--compare", "others", multiple=True, metavar="DEVICE",
              help="Another device to answer for (budget only); repeatable.")
@click.option("--with", "sharing", multiple=True, metavar="MODEL@FPS",
              help="Another model sharing the device, e.g. selfie_seg@30; repeatable.")
@click.option("--duration", type=POSITIVE, default=2.0, show_default=True, metavar="SECONDS",
              help="Simulated time over which frames arrive.")
@click.option("--jitter", type=Finite(min=0), default=0.0, show_default=True, metavar="MS",
              help="Each frame arrives up to this late, uniformly at random.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the jitter.")
@click.option("--deadline", type=POSITIVE, default=None, metavar="MS",
              help="Time from a frame's arrival to its deadline (default: its period).")
@click.option("--policy", type=click.Choice(["priority", "round_robin"]), default="priority",
              show_default=True,
              help="priority: the highest frame rate first (rate-monotonic); round_robin: turns.")
@click.option("--timeline", "timeline_path", type=click.Path(dir_okay=False), default=None,
              metavar="FILE.json", help="Write the frames as a Chrome/Perfetto trace.")
@click.option("--precision", "-p", default=None, help=PRECISION_HELP)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help=PARAM_HELP + " Applies to WORKLOAD, not to --with models.")
@STACK
@WIDE
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON answer.")
def realtime(workload, device, fps, others, sharing, duration, jitter, seed, deadline, policy,
             timeline_path, precision, params, stack, wide, as_json):
    """Does DEVICE run WORKLOAD at --fps? Deadline, headroom, highest frame rate, energy and power;
    then the frames in time, beside the --with models, on DEVICE.

    Budget: frames are processed one at a time (batch 1); power at the frame rate is
    energy/frame x fps + idle power x (1 - latency x fps).

    Frames: every model's frames arrive periodically (plus --jitter) for --duration and share the
    device's accelerator; ops the device cannot run (NPU fallback) run on the host CPU meanwhile.
    Scheduling is non-preemptive at op granularity. A frame that could only start at or after its
    deadline is dropped; late and dropped frames are missed.

    \b
    Examples:
      accelsim realtime facedet --device phone_npu --fps 60
      accelsim realtime facedet --device phone_npu --fps 60 --compare a100 --compare jetson_orin
      accelsim realtime resnet50 --device coral_edgetpu --fps 30 --json
      accelsim realtime facedet --device phone_npu --fps 60 --with selfie_seg@30 --duration 1
      accelsim realtime facedet -d coral_edgetpu --fps 400 --with facedet@400 --policy round_robin
    """
    from accelsim.commands.query_tables import print_realtime, progress
    from accelsim.queries.realtime import parse_sharing
    from accelsim.queries.realtime import realtime as run_realtime

    devices = (device, *others)
    models = [parse_sharing(text) for text in sharing]
    with progress(len(devices) + 1, "realtime") as on_run:
        answer = run_realtime(workload, devices, fps, precision=precision, on_run=on_run,
                              sharing=models, duration_s=duration, jitter_s=jitter / 1e3,
                              seed=seed, policy=policy,
                              deadline_s=None if deadline is None else deadline / 1e3, stack=stack,
                              **workload_params(params))
    if timeline_path:
        from accelsim.engine.chrome_trace import write_chrome_trace
        from accelsim.engine.frame_stats import frame_timeline

        write_chrome_trace(frame_timeline(answer.frames), timeline_path,
                           name=f"frames on {answer.budgets[0].device_id}")
    _emit(answer, as_json, print_realtime, wide)


@click.command()
@click.argument("workload")
@click.option("--device", "-d", required=True, help="Bundled device name or YAML path.")
@click.option("--devices", "-n", "count", type=click.IntRange(min=1), default=None,
              help="Devices training together (default 1).")
@click.option("--flops", type=POSITIVE, default=None,
              help="FLOPs of the whole training run, e.g. 3.14e23.")
@click.option("--tokens", type=POSITIVE, default=None,
              help="Training tokens (FLOPs = tokens x the simulated step's FLOPs per token).")
@click.option("--samples", type=POSITIVE, default=None,
              help="Training samples (FLOPs = samples x the simulated step's FLOPs per sample).")
@click.option("--serve", is_flag=True,
              help="Serving cost per million tokens (LLMs) or images (CNNs) instead.")
@click.option("--mfu", type=Finite(min=0, max=1, min_open=True), default=None,
              help="Model FLOPs utilisation (default: modelled from a simulated training step).")
@click.option("--power", metavar="WATTS|tdp", default=None,
              help='Power per device, e.g. "300 W" or tdp (default: the modelled average power).')
@click.option("--price", type=Finite(min=0), metavar="USD", default=None,
              help="USD per device-hour (default: price_per_hour in the device YAML).")
@click.option("--batch", "-b", type=click.IntRange(min=1), default=None,
              help="Batch of the simulated step (default: serving 1; training 256 images for "
                   "CNNs, else 8 sequences, halved until the step fits memory).")
@click.option("--prompt", type=click.IntRange(min=1), default=128, show_default=True,
              help="Serving LLMs: prompt tokens per request.")
@click.option("--generate", type=click.IntRange(min=1), default=128, show_default=True,
              help="Serving LLMs: generated tokens per request.")
@click.option("--precision", "-p", default=None, help=PRECISION_HELP)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a device field.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help=PARAM_HELP)
@STACK
@WIDE
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON answer.")
def cost(workload, device, count, flops, tokens, samples, serve, mfu, power, price, batch, prompt,
         generate, precision, overrides, params, stack, wide, as_json):
    """Energy (kWh) and money of a training run, or of serving a million tokens or images.

    Training: time = FLOPs / (devices x peak x MFU), energy = devices x power x time,
    cost = devices x hours x price per device-hour.

    \b
    Examples:
      accelsim cost gpt3_175b --device a100 --devices 1024 --flops 3.14e23
      accelsim cost gpt3_175b --device a100 --devices 1024 --tokens 300e9 --mfu 0.4 --power tdp
      accelsim cost resnet50 --device tpu_v4 --samples 115e6 --price 1.5
      accelsim cost gpt2 --device a100 --serve --batch 32
      accelsim cost resnet50 --device a100 --serve --batch 64 --json
    """
    from accelsim.commands.query_tables import print_serving_cost, print_training_cost, progress
    from accelsim.errors import UsageError
    from accelsim.queries.cost import serving_cost, training_cost

    options = dict(power=power, price=price, precision=precision, overrides=overrides, stack=stack,
                   **workload_params(params))
    if serve:
        training_only = {"--devices": count, "--flops": flops, "--tokens": tokens,
                         "--samples": samples, "--mfu": mfu}
        given = [name for name, value in training_only.items() if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: training-run options, not for --serve",
                             key="serve")
        with progress(1, "cost: simulating serving"):
            answer = serving_cost(workload, device, batch=batch or 1, prompt=prompt,
                                  generate=generate, **options)
        _emit(answer, as_json, print_serving_cost, wide)
        return
    with progress(1, "cost: simulating a training step"):
        answer = training_cost(workload, device, devices=count or 1, flops=flops, tokens=tokens,
                               samples=samples, mfu=mfu, batch=batch, **options)
    _emit(answer, as_json, print_training_cost, wide)
