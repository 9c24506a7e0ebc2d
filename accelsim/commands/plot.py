"""`accelsim plot FILE`: figures of saved results (run --json output) or of a sweep's records."""

from __future__ import annotations

import click

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
KINDS = ("layers", "roofline", "energy", "timeline", "pareto")


@click.command(context_settings=CONTEXT)
@click.argument("input_file", metavar="RESULT.json|SWEEP.jsonl", type=click.Path(dir_okay=False))
@click.option("--kind", "-k", type=click.Choice(KINDS), default="layers", show_default=True)
@click.option("--out", "-o", "out_path", type=click.Path(dir_okay=False), required=True,
              help="Figure file (.png or .svg).")
@click.option("--device", "-d", default=None,
              help="Device (name or YAML path) whose peak rates the roofline draws.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a field of --device.")
@click.option("--index", type=click.IntRange(min=0), default=None,
              help="Which result of a JSON list (needed when there are several).")
@click.option("--pareto", "metrics", default="latency_s,energy_j", show_default=True,
              metavar="METRIC,METRIC", help="Metrics of the Pareto plot (x, y, then any others).")
def plot(input_file, kind, out_path, device, overrides, index, metrics):
    """Draw a figure of saved results: per-layer latency, roofline, energy breakdown, timeline,
    or the Pareto front of a sweep.

    \b
    Examples:
      accelsim run resnet50 --device a100 --json > r.json
      accelsim plot r.json --kind roofline --device a100 -o roofline.png
      accelsim plot out/demo.json --kind energy -o energy.svg
      accelsim plot out/array.jsonl --kind pareto --pareto latency_s,area_mm2 -o front.png
    """
    from accelsim.report.plots import check_path

    check_path(out_path)
    if kind == "pareto":
        from accelsim.report.plots import pareto_figure
        from accelsim.sweep.pareto import pareto_front, parse_metrics
        from accelsim.sweep.store import ResultStore

        records = list(ResultStore(input_file).load().values())
        if not records:
            raise click.BadParameter(f"no sweep records in {input_file}", param_hint="INPUT_FILE")
        objectives = parse_metrics(metrics)
        pareto_figure(records, pareto_front(records, objectives), objectives, out_path)
        return
    from accelsim.api import load_device
    from accelsim.report.plots import energy_figure, plot_result

    results = _read_results(input_file)
    if kind == "energy" and index is None:
        energy_figure(results, out_path)
        return
    if index is None and len(results) > 1:
        raise click.BadParameter(f"{input_file} holds {len(results)} results; pick one",
                                 param_hint="--index")
    if index is not None and index >= len(results):
        raise click.BadParameter(f"{input_file} holds {len(results)} results",
                                 param_hint="--index")
    plot_result(results[index or 0], kind, out_path,
                device=load_device(device, overrides) if device else None)


def _read_results(path: str) -> list:
    """The Result(s) of a JSON file written by `accelsim run --json` or `accelsim demo`."""
    from accelsim.errors import UsageError
    from accelsim.files import read_json
    from accelsim.result import Result

    data = read_json(path, path, UsageError)
    try:
        items = data if isinstance(data, list) else [data]
        return [Result.from_dict(item) for item in items]
    except (ValueError, KeyError, TypeError):
        raise UsageError("not an accelsim result JSON (accelsim run --json)", file=path) from None
