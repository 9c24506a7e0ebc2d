"""Figures: every kind is written as a real PNG/SVG, the roofline's numbers, lazy matplotlib."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import accelsim
from accelsim.cli import main
from accelsim.errors import UsageError
from accelsim.report.plots import (KINDS, energy_figure, pareto_figure, plot_result, roofline_data,
                                   save_plot)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LENET5 = str(Path(__file__).resolve().parents[1] / "accelsim" / "workloads" / "lenet5.yaml")


@pytest.fixture(scope="module")
def result():
    """A short run with compute- and memory-bound layers and more than one unit."""
    return accelsim.simulate(LENET5, "tpu_v4", mode="training", batch=4)


def is_svg(path) -> bool:
    """An XML document with an <svg> root."""
    text = path.read_text()
    return text.lstrip().startswith("<?xml") and "<svg" in text


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_writes_png_and_svg(result, tmp_path, kind):
    for suffix in (".png", ".svg"):
        path = tmp_path / f"{kind}{suffix}"
        plot_result(result, kind, str(path), device=accelsim.load_device("tpu_v4"))
        assert path.read_bytes().startswith(PNG_MAGIC) if suffix == ".png" else is_svg(path)


def test_save_plot_defaults_to_layer_bars(result, tmp_path):
    save_plot(result, str(tmp_path / "sub" / "layers.png"))
    assert (tmp_path / "sub" / "layers.png").read_bytes().startswith(PNG_MAGIC)


def devices_public(reference_dir) -> dict[str, dict]:
    """Rows of devices_public.csv by device name."""
    with open(reference_dir / "devices_public.csv", newline="") as handle:
        return {row["device"]: row for row in csv.DictReader(handle)}


def test_roofline_ridge_is_peak_over_bandwidth(reference_dir):
    specs = devices_public(reference_dir)
    a100 = specs["NVIDIA A100-SXM4-80GB"]
    data = roofline_data(accelsim.simulate("resnet50", "a100", precision="fp16"),
                         accelsim.load_device("a100"))
    assert data.peak_flops == pytest.approx(float(a100["peak_dense_tflops_fp16_bf16"]) * 1e12)
    assert data.bandwidth == pytest.approx(float(a100["mem_bw_gb_s"]) * 1e9)
    assert data.ridge == pytest.approx(312e12 / 2039e9)
    tpu = specs["Google TPU v1"]
    ridge = roofline_data(accelsim.simulate("resnet50", "tpu_v1"),
                          accelsim.load_device("tpu_v1")).ridge
    assert ridge == pytest.approx(float(tpu["peak_tops_int8"]) * 1e12
                                  / (float(tpu["mem_bw_gb_s"]) * 1e9), rel=0.01)


def test_roofline_points_are_flops_per_byte_and_per_second(result):
    data = roofline_data(result, accelsim.load_device("tpu_v4"))
    placed = [layer for layer in result.layers if layer.flops and layer.dram_bytes]
    assert len(data.intensity) == len(placed)
    assert data.intensity[0] == placed[0].flops / placed[0].dram_bytes
    assert data.achieved[0] == placed[0].flops / placed[0].latency_s


def test_energy_and_pareto_figures(result, tmp_path):
    energy_figure([result, accelsim.simulate(LENET5, "a100")],
                  str(tmp_path / "energy.png"))
    records = [{"id": str(i), "latency_s": float(i), "energy_j": float(9 - i)} for i in range(5)]
    pareto_figure(records + [{"id": "x", "error": "rejected"}], records, ["latency_s", "energy_j"],
                  str(tmp_path / "front.svg"))
    assert (tmp_path / "energy.png").read_bytes().startswith(PNG_MAGIC)
    assert is_svg(tmp_path / "front.svg")


def test_bad_requests_are_usage_errors(result, tmp_path):
    with pytest.raises(UsageError, match="figure format"):
        save_plot(result, str(tmp_path / "layers.jpeg"))
    with pytest.raises(UsageError, match="needs the device"):
        save_plot(result, str(tmp_path / "roof.png"), kind="roofline")
    with pytest.raises(UsageError, match="unknown plot kind"):
        save_plot(result, str(tmp_path / "x.png"), kind="pie")


def test_importing_the_cli_does_not_import_matplotlib():
    code = ("import sys, accelsim.cli; "
            "print(sorted(m for m in ('matplotlib', 'pandas', 'dask') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_plot_command_reads_saved_results(result, tmp_path, capsys):
    single, several = tmp_path / "one.json", tmp_path / "many.json"
    single.write_text(result.to_json())
    several.write_text(json.dumps([result.to_dict(), result.to_dict()]))
    main(["plot", str(single), "-k", "roofline", "-d", "tpu_v4", "-o", str(tmp_path / "r.svg")])
    main(["plot", str(several), "-k", "energy", "-o", str(tmp_path / "e.png")])
    main(["plot", str(several), "-k", "timeline", "--index", "1", "-o", str(tmp_path / "t.png")])
    assert is_svg(tmp_path / "r.svg")
    assert (tmp_path / "t.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(several), "-o", str(tmp_path / "l.png")])
    assert exit_info.value.code == 2
    assert "pick one" in capsys.readouterr().err
