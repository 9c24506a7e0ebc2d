"""`accelsim scalesim` against SCALE-Sim v2.0.2's own reports (tests/golden/scalesim, generate.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clitools import invoke

GOLDEN = Path(__file__).parent / "golden" / "scalesim"
RUNS = sorted(path.name for path in (GOLDEN / "runs").iterdir())
REPORTS = ("COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv")


@pytest.mark.parametrize("run", RUNS)
def test_reports_match_scalesim_byte_for_byte(capsys, tmp_path, run):
    """Every cycle, stall, access count and bandwidth of every layer, in SCALE-Sim's format."""
    topology = GOLDEN / f"{run.split('_')[0]}_small.csv"
    code, out, err = invoke(capsys, "scalesim", "-c", str(GOLDEN / "runs" / run / "scale.cfg"),
                            "-t", str(topology), "-p", str(tmp_path))
    assert code == 0, err
    assert run in out
    for report in REPORTS:
        assert (tmp_path / run / report).read_text() == (GOLDEN / "runs" / run / report).read_text()


def test_golden_covers_every_dataflow_and_mode():
    """3 arrays x 3 dataflows x CALC/USER x conv/GEMM topologies."""
    assert len(RUNS) == 36
    assert {run.split("_")[3] for run in RUNS} == {"os", "ws", "is"}
    assert {run.split("_")[4] for run in RUNS} == {"calc", "user"}


@pytest.mark.parametrize("text, fragment", [
    ("[general]\nrun_name = x\n", "missing section or option 'architecture_presets'"),
    ("[general]\nrun_name = x\n[architecture_presets]\nArrayHeight: 8\n",
     "No section: 'run_presets'"),
    ("garbage", "File contains no section headers"),
    ("[general]\nrun_name = x\n[architecture_presets]\nArrayHeight: 8\n[run_presets]\n"
     "InterfaceBandwidth: CALC\n", "missing section or option 'ArrayWidth'"),
])
def test_bad_cfg_is_one_line_and_exit_2(capsys, tmp_path, text, fragment):
    """A malformed .cfg: one line naming the file, exit 2."""
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(text)
    code, _, err = invoke(capsys, "scalesim", "-c", str(cfg), "-t",
                          str(GOLDEN / "gemm_small.csv"), "-p", str(tmp_path))
    assert code == 2
    assert fragment in err and "bad.cfg" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("edit, key", [("Dataflow : ws", "Dataflow : rs"),
                                       ("ArrayHeight:    8", "ArrayHeight:    0"),
                                       ("InterfaceBandwidth: USER", "InterfaceBandwidth: MAX")])
def test_bad_values_name_their_key(capsys, tmp_path, edit, key):
    """An invalid value names its option."""
    text = (GOLDEN / "runs" / "conv_small_8x8_ws_user" / "scale.cfg").read_text()
    assert edit in text
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(text.replace(edit, key))
    code, _, err = invoke(capsys, "scalesim", "-c", str(cfg), "-t",
                          str(GOLDEN / "gemm_small.csv"), "-p", str(tmp_path))
    assert code == 2 and key.split()[0].rstrip(":") in err and "bad.cfg" in err


def test_a_bad_number_names_the_file_and_line_of_its_option(capsys, tmp_path):
    text = (GOLDEN / "runs" / "conv_small_8x8_ws_user" / "scale.cfg").read_text()
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("Bandwidth"))
    lines[row] = "Bandwidth : -3"
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    code, _, err = invoke(capsys, "scalesim", "-c", str(cfg), "-t",
                          str(GOLDEN / "gemm_small.csv"), "-p", str(tmp_path))
    assert code == 2 and f"bad.cfg:{row + 1}: Bandwidth: expected an integer >= 1" in err


@pytest.mark.slow
def test_alexnet_matches_scalesim(capsys, tmp_path):
    """Mid-size: AlexNet on scale.cfg (32x32 os, 64 kB SRAMs, CALC), SCALE-Sim's own reports."""
    reference = Path(__file__).parents[1] / "accelsim" / "workloads" / "scalesim" / "alexnet.csv"
    cfg = GOLDEN / "alexnet_32x32_os_calc" / "scale.cfg"
    code, _, err = invoke(capsys, "scalesim", "-c", str(cfg), "-t", str(reference),
                          "-p", str(tmp_path))
    assert code == 0, err
    for report in REPORTS:
        got = (tmp_path / "scale_example_run_32x32_os" / report).read_text()
        assert got == (GOLDEN / "alexnet_32x32_os_calc" / report).read_text()
