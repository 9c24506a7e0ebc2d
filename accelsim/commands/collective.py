"""`accelsim collective`: one NCCL-style collective's time, algorithm, protocol and bandwidths."""

from __future__ import annotations

import click

from accelsim.commands.common import WIDE, emit_json


@click.command()
@click.argument("kind", metavar="COLLECTIVE", required=False)
@click.option("--bytes", "nbytes", default="64MiB", show_default=True,
              help="Buffer per device (nccl-tests' size), e.g. 2KiB, 64MiB, 1e9.")
@click.option("--devices", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--interconnect", default="nvlink3", show_default=True, metavar="INTRA[,INTER]",
              help="Bundled fabric names or YAML paths, e.g. nvlink4,infiniband_ndr.")
@click.option("--devices-per-node", type=click.IntRange(min=1), default=None,
              help="Devices per node (default: the intra fabric's domain size).")
@click.option("--algorithm", type=click.Choice(["auto", "ring", "tree", "nvls"]), default="auto",
              show_default=True, help="auto: the fastest, as NCCL's tuner picks.")
@click.option("--protocol", type=click.Choice(["auto", "ll", "ll128", "simple"]), default="auto",
              show_default=True)
@click.option("--check", is_flag=True,
              help="Instead: the model's error against public nccl-tests rows, by message size.")
@WIDE
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON answer.")
def collective(kind, nbytes, devices, interconnect, devices_per_node, algorithm, protocol, check,
               wide, as_json):
    """Time one COLLECTIVE (all_reduce, all_gather, reduce_scatter, all_to_all, send_recv; hyphens
    too) as NCCL runs it: algorithm (ring, tree, NVLink SHARP) and protocol (LL, LL128, Simple)
    picked by size, bus bandwidth as nccl-tests reports it.

    \b
    Examples:
      accelsim collective all_reduce --bytes 64MiB --devices 8 --interconnect nvlink3 --json
      accelsim collective all-gather --bytes 2KiB --devices 4 --interconnect nvlink4
      accelsim collective all_reduce --bytes 1GiB --devices 64 --interconnect nvlink4,infiniband_ndr
      accelsim collective --check
    """
    from accelsim.errors import UsageError
    from accelsim.report.tables import console, show_rows

    if check:
        from accelsim.calibrate.nccl_fit import check_report

        answer = check_report()
        if as_json:
            emit_json(answer)
            return
        rows = [[r["interconnect"], r["regime"], str(r["rows"]), f"{r['median_abs_error']:.1%}",
                 f"{r['median_signed_error']:+.1%}", f"{r['alpha_beta_median_abs_error']:.1%}",
                 f"{r['alpha_beta_median_signed_error']:+.1%}"] for r in answer["regimes"]]
        show_rows(console(wide), f"collective model against {answer['csv']}",
                  ("fabric", "message size", "rows", "|error|", "signed", "alpha-beta |error|",
                   "alpha-beta signed"), rows)
        return
    if kind is None:
        raise UsageError("name a COLLECTIVE (all_reduce, all_gather, reduce_scatter, all_to_all, "
                         "send_recv) or give --check", key="collective")
    from accelsim.queries.collective import buffer_bytes, collective as run, describe

    answer = run(kind, buffer_bytes(nbytes), devices, interconnect, devices_per_node, algorithm,
                 protocol)
    if as_json:
        emit_json(answer)
    else:
        show_rows(console(wide), f"{answer['collective']} on {answer['devices']} devices",
                  ("", "value"), describe(answer))
