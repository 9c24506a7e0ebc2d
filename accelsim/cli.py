"""The accelsim command line. Heavy imports (numba kernels, matplotlib, pandas) live inside commands."""

from __future__ import annotations

import importlib
import os
import sys
import warnings

import click

from accelsim.commands.common import (PARAM_HELP, POSITIVE, STACK, WIDE, emit_json, single_run,
                                      workload_params)
from accelsim.errors import AccelsimError
from accelsim.result import COMMAND

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
# command -> module of accelsim.commands that defines it (a function of the same name)
LAZY_COMMANDS = {"calibrate": "calibrate", "collective": "collective", "compare": "queries", "cost": "queries", "plot": "plot",
                 "realtime": "queries", "scalesim": "scalesim", "serve": "serve", "sweep": "sweep",
                 "whatif": "queries"}


class LazyGroup(click.Group):
    """A command group that imports the module of a LAZY_COMMANDS command only when it is used."""

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            module = importlib.import_module(f"accelsim.commands.{LAZY_COMMANDS[name]}")
            self.add_command(getattr(module, name))
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings=CONTEXT)
@click.version_option(package_name="accelsim")
def cli() -> None:
    """Simulate neural networks on GPUs, systolic arrays, FPGAs and NPUs.

    \b
    Examples:
      accelsim list devices
      accelsim run resnet50 --device a100
      accelsim run gpt2 --device tpu_v4 --mode training --batch 8
      accelsim run resnet50 --device a100 --set memory.bandwidth="4 TB/s" --json
    """


@cli.command()
@click.argument("workload")
@click.option("--device", "-d", required=True, help="Bundled device name or YAML path.")
@click.option("--mode", type=click.Choice(["inference", "training", "serve"]), default="inference",
              show_default=True, help="serve: LLM prefill + decode with a KV cache.")
@click.option("--batch", "-b", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--precision", "-p", default=None, help="fp32, tf32, bf16, fp16, fp8, fp4, int8, int4.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help='Override a device field, e.g. --set memory.bandwidth="3 TB/s".')
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help=PARAM_HELP)
@STACK
@click.option("--only", metavar="OP_KIND", default=None,
              help="Keep only ops of one kind, e.g. --only conv2d (the conv layers a paper "
                   "reports).")
@click.option("--optimizer", type=click.Choice(["adam", "sgd"]), default="adam", show_default=True)
@click.option("--checkpoint", is_flag=True,
              help="Activation checkpointing (training); multi-device: --recompute full.")
@click.option("--recompute", type=click.Choice(["none", "selective", "full"]), default=None,
              help="Activation recomputation of a multi-device training run (default none).")
@click.option("--sequence-parallel", is_flag=True,
              help="Megatron sequence parallelism over the tp group (multi-device training).")
@click.option("--straggler", type=click.FloatRange(0, 10), default=0.0, show_default=True,
              metavar="FRACTION", help="Fraction every training step is stretched by stragglers.")
@click.option("--dataloader-s", type=click.FloatRange(0, 1e6), default=0.0, show_default=True,
              metavar="SECONDS", help="Exposed data-loading seconds per training step.")
@click.option("--grad-reduce", type=click.Choice(["overlapped", "after"]), default="overlapped",
              show_default=True,
              help="Data-parallel gradient sync during the backward or after it (Megatron 2021).")
@click.option("--grad-accumulation", type=click.Choice(["separate", "fused"]), default="separate",
              show_default=True,
              help="Micro-batch gradients added by their own kernel or inside the wgrad GEMM.")
@click.option("--prompt", type=click.IntRange(min=1), default=128, show_default=True,
              help="Prompt tokens per request (serve).")
@click.option("--generate", type=click.IntRange(min=1), default=128, show_default=True,
              help="Generated tokens per request (serve).")
@click.option("--devices", type=click.IntRange(min=1), default=1, show_default=True,
              help="Devices for a parallel training step.")
@click.option("--parallel", default=None, metavar="tp=T,pp=P,dp=D[,zero=Z][,vpp=V][,ep=E]",
              help="Parallel layout, e.g. tp=8,pp=16,dp=8 (vpp: interleaved 1F1B chunks; ep: "
                   "expert-parallel ranks within dp for MoE models).")
@click.option("--tokens", type=POSITIVE, default=None,
              help="Tokens (or samples) to train on, for time-to-train, e.g. 300e9.")
@click.option("--global-batch", type=click.IntRange(min=1), default=None,
              help="Sequences (or samples) per training step across all devices.")
@click.option("--interconnect", default=None, metavar="INTRA[,INTER]",
              help="Links, e.g. nvlink3,infiniband_hdr (default: by device).")
@click.option("--engine", type=click.Choice(["analytic", "event"]), default="analytic",
              show_default=True,
              help="analytic: ops back to back; event: simpy, independent ops overlap and share "
                   "memory bandwidth.")
@click.option("--prefetch", is_flag=True,
              help="Event engine: fetch each unit's next weights while the op before runs "
                   "(double buffering).")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False), default=None,
              help="Write a Chrome/Perfetto trace (JSON) of the run (a training step on several "
                   "devices: a track per device and per link).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Figure of the run (.png, .svg, .pdf).")
@click.option("--plot-kind", type=click.Choice(["layers", "roofline", "energy", "timeline"]),
              default="layers", show_default=True)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Per-layer CSV.")
@click.option("--parquet", "parquet_path", type=click.Path(dir_okay=False), default=None,
              help="Per-layer Parquet (needs the results extra).")
@click.option("--layers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Show only the N costliest layers, costliest first (serve: per-op detail is "
                   "shown only with --layers).")
@click.option("--mapping", type=click.Choice(["fixed", "search"]), default=None,
              help="Systolic arrays: the device's own mapping of each layer, or the best loop "
                   "order, tiles and PE mapping found for --objective (shown per layer in --json). "
                   "Same as --set mapping.mode=...")
@click.option("--objective", type=click.Choice(["energy", "latency", "edp"]), default=None,
              help="What --mapping search minimises [default: energy].")
@WIDE
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON result.")
@single_run
def run(workload, device, mode, batch, precision, overrides, params, stack, only, optimizer,
        checkpoint, recompute, sequence_parallel, straggler, dataloader_s, grad_reduce,
        grad_accumulation, prompt, generate, devices, parallel, tokens, global_batch, interconnect,
        engine, prefetch, trace_path, plot_path, plot_kind, csv_path, parquet_path, layers, mapping,
        objective, wide, as_json):
    """Simulate WORKLOAD (zoo name or file) on a device and report per-layer costs.

    \b
    Examples:
      accelsim run resnet50 --device a100 --batch 64
      accelsim run resnet50 --device a100 --batch 64 --stack eager
      accelsim run bert_base --device tpu_v4 --mode training --param seq_len=512
      accelsim run bert_large --device a100 --batch 64 --param seq_len=squad
      accelsim run gemm --device v100 --param m=4096 --param n=7000 --param k=4096
      accelsim run workloads/scalesim/Resnet50.csv --device scalesim_32x32 --set array.dataflow=ws
      accelsim run gpt2 --device a100 --engine event --trace gpt2.json
      accelsim run resnet50 --device tpu_v4 --plot roofline.png --plot-kind roofline --csv l.csv
      accelsim run resnet50 --device tpu_v5e --mapping search --objective edp --json
      accelsim run llama2_7b --device a100 --mode serve --prompt 128 --generate 256
      accelsim run gpt3_175b --mode training --device a100 --devices 1024 \\
          --parallel tp=8,pp=16,dp=8 --tokens 300e9
      accelsim run gpt3_175b --mode training --device a100 --devices 1024 \\
          --parallel tp=8,pp=16,dp=8,vpp=2 --recompute selective --sequence-parallel
    """
    from accelsim.api import simulate

    if mapping or objective:
        from accelsim.api import load_device

        kind = load_device(device, overrides).kind
        if kind != "systolic":
            raise click.BadParameter(f"a {kind} device runs each layer one way; --mapping and "
                                     "--objective choose among systolic-array mappings",
                                     param_hint="--mapping" if mapping else "--objective")
    overrides = (*overrides, *(f"mapping.{key}={value}" for key, value
                               in (("mode", mapping), ("objective", objective)) if value))
    multi_device = devices > 1 or parallel is not None
    per_layer_outputs = {"--plot": plot_path, "--csv": csv_path, "--parquet": parquet_path}
    for flag, path in per_layer_outputs.items():
        if multi_device and path:
            raise click.BadParameter("not available for multi-device runs", param_hint=flag)
    result = simulate(workload, device, mode=mode, batch=batch, precision=precision,
                      overrides=overrides, optimizer=optimizer, checkpoint=checkpoint,
                      engine=engine, prompt=prompt, generate=generate, devices=devices,
                      parallel=parallel, tokens=tokens, global_batch=global_batch,
                      interconnect=interconnect, prefetch=prefetch, stack=stack, only=only,
                      recompute=recompute, sequence_parallel=sequence_parallel,
                      straggler=straggler, dataloader_s=dataloader_s, grad_reduce=grad_reduce,
                      grad_accumulation=grad_accumulation, **workload_params(params))
    if multi_device and trace_path:
        from accelsim.engine.chrome_trace import write_chrome_trace

        write_chrome_trace(result.timeline, trace_path,
                           name=f"{result.workload} step on {result.config.devices} x {result.device}")
    if multi_device and as_json:
        emit_json(result.to_dict())
        return
    if multi_device:
        from accelsim.report.tables import print_totals

        title = f"{result.workload} on {result.config.devices} x {result.device_id}"
        print_totals(title, result.totals, wide=wide)
        return
    if trace_path:
        from accelsim.engine.chrome_trace import write_chrome_trace

        write_chrome_trace(result, trace_path)
    if plot_path:
        from accelsim.api import load_device
        from accelsim.report.plots import save_plot

        save_plot(result, plot_path, plot_kind, device=load_device(device, overrides))
    for path in filter(None, (csv_path, parquet_path)):
        from accelsim.report.export import export

        export(result, path)
    if as_json:
        emit_json(result.to_dict())
    else:
        from accelsim.report.tables import print_result

        print_result(result, limit=layers, wide=wide)


@cli.command()
@click.argument("workload")
@click.option("--device", "-d", required=True, help="Bundled device name or YAML path.")
@click.option("--mode", type=click.Choice(["inference", "training"]), default="inference",
              show_default=True)
@click.option("--batch", "-b", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--precision", "-p", default=None)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE")
@STACK
@click.option("--out", "-o", "out_path", type=click.Path(dir_okay=False), default="trace.json",
              show_default=True, help="Where to write the Chrome/Perfetto trace.")
@click.option("--prefetch", is_flag=True,
              help="Fetch each unit's next weights while the op before runs (double buffering).")
@click.option("--json", "as_json", is_flag=True, help="Print the trace to stdout instead.")
@single_run
def trace(workload, device, mode, batch, precision, overrides, params, stack, out_path, prefetch,
          as_json):
    """Write a Chrome/Perfetto timeline of a run on the event engine (units and memory lanes).

    \b
    Examples:
      accelsim trace resnet50 --device tpu_v4 -o resnet50.json    # open in ui.perfetto.dev
      accelsim trace bert_base --device a100 --mode training --batch 8 --json > bert.json
    """
    from accelsim.api import event_timeline
    from accelsim.engine.chrome_trace import chrome_trace, write_chrome_trace

    timeline = event_timeline(workload, device, mode=mode, batch=batch, precision=precision,
                              overrides=overrides, prefetch=prefetch, stack=stack,
                              **workload_params(params))
    if as_json:
        emit_json(chrome_trace(timeline, name=workload))
        return
    write_chrome_trace(timeline, out_path, name=workload)
    click.echo(f"wrote {out_path}: {len(timeline.layers)} ops, "
               f"{timeline.makespan_s * 1e3:.3f} ms simulated")


@cli.command(name="list")
@click.argument("what", type=click.Choice(["devices", "workloads"]), default="devices")
@WIDE
@click.option("--json", "as_json", is_flag=True)
def list_(what, wide, as_json):
    """List bundled devices or zoo workloads.

    \b
    Examples:
      accelsim list devices
      accelsim list workloads --json
    """
    from accelsim.report.tables import console, show_rows

    if what == "devices":
        from accelsim.config.loader import list_devices

        rows = [list(row) for row in list_devices()]
        columns = ("name", "kind", "device")
    else:
        from accelsim.workload.zoo import describe_zoo

        rows = [list(row) for row in describe_zoo()]
        columns = ("name", "family", "description")
    if as_json:
        emit_json([dict(zip(columns, row)) for row in rows])
        return
    show_rows(console(wide), f"bundled {what}", columns, rows)


@cli.command()
@click.argument("device")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE")
@click.option("--json", "as_json", is_flag=True)
def show(device, overrides, as_json):
    """Show a device's resolved configuration (after extends and --set), with units (--json: SI).

    \b
    Examples:
      accelsim show tpu_v4
      accelsim show scalesim_32x32 --set array.rows=64 --json
      accelsim show my_devices/variant.yaml
    """
    import yaml

    from accelsim.config.loader import describe, load_device

    config = load_device(device, overrides)
    if as_json:
        emit_json(describe(config))
    else:
        click.echo(yaml.safe_dump(describe(config, with_units=True), sort_keys=False).rstrip())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="JSON (default: the same schema as YAML).")
def schema(as_json):
    """Print the JSON Schema of device YAML files (for editors and validators).

    \b
    Examples:
      accelsim schema                      # readable, as YAML
      accelsim schema --json > device.schema.json
    """
    from accelsim.config.loader import device_json_schema

    if as_json:
        emit_json(device_json_schema())
    else:
        import yaml

        click.echo(yaml.safe_dump(device_json_schema(), sort_keys=False).rstrip())


@cli.command()
@click.option("--csv", "csv_paths", type=click.Path(dir_okay=False), multiple=True,
              help="Reference CSV keyed by row id, repeatable (default: the bundled public rows "
                   "and accelsim's own).")
@click.option("--measurements", "measurement_paths", type=click.Path(dir_okay=False),
              multiple=True,
              help="Measurements CSV with columns workload,device,mode,batch,precision,metric,"
                   "value,unit (metric: latency, throughput, ttft, tpot, power, energy, area); "
                   "repeatable.")
@WIDE
@click.option("--json", "as_json", is_flag=True)
def validate(csv_paths, measurement_paths, wide, as_json):
    """Compare predictions with published measurements and print the errors.

    Every prediction is what an `accelsim run` command answers (under the device's default
    software stack); each row names its command and the totals key read.

    \b
    Examples:
      accelsim validate
      accelsim validate --csv my_measurements.csv --json
      accelsim validate --measurements my_runs.csv
    """
    from accelsim.calibrate.validate import validate as run_validation
    from accelsim.commands.query_tables import print_validation

    report = run_validation(csv_paths or None, measurement_paths)
    if as_json:
        emit_json(report.to_dict())
    else:
        print_validation(report, wide=wide)


@cli.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="out", show_default=True)
@WIDE
def demo(out_dir, wide):
    """The main job: bundled networks on one device of each kind, inference and training.

    \b
    Example:
      accelsim demo --out out     # table on screen, out/demo.json and out/demo.png
    """
    from accelsim.report.demo import run_demo

    run_demo(out_dir, wide=wide)


def main(argv=None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2. numpy's BLAS runs one
    thread unless the user chose otherwise: accelsim's arrays are small, and a pool of BLAS threads
    started at import only burns CPU (a third of `accelsim scalesim`'s on AlexNet)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    warnings.showwarning = lambda message, *_args, **_kw: click.echo(f"warning: {message}", err=True)
    argv = sys.argv[1:] if argv is None else list(argv)
    recorded = COMMAND.set(tuple(argv))
    try:
        cli.main(args=argv, prog_name="accelsim", standalone_mode=False)
    except AccelsimError as exc:
        click.echo(f"accelsim: error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("accelsim: aborted", err=True)
        sys.exit(1)
    except BrokenPipeError:                 # the reader went away (`| head`)
        raise
    except OSError as exc:                  # a file that cannot be read or written, a full disk
        where = exc.filename or "the output"
        click.echo(f"accelsim: error: cannot access {where}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        click.echo(f"accelsim: error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    finally:
        COMMAND.reset(recorded)


if __name__ == "__main__":
    main()
