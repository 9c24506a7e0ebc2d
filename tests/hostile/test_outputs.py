"""Every output a command writes, aimed at a place that cannot be written: one line, exit 2."""

from __future__ import annotations

import pytest

from tests.hostile.cli import accelsim, assert_clean_error

SERVE = ("serve", "gpt2", "--device", "a100", "--qps", "1", "--requests", "3")
CFG = "tests/golden/scalesim/alexnet_32x32_os_calc/scale.cfg"
TOPOLOGY = "tests/golden/scalesim/conv_small.csv"
WRITERS = {
    "run --trace": ("run", "resnet50", "--device", "a100", "--trace", "{out}/t.json"),
    "run --trace, a training step": ("run", "gpt2", "--device", "a100", "--mode", "training",
                                     "--devices", "4", "--parallel", "pp=2,dp=2",
                                     "--trace", "{out}/t.json"),
    "run --csv": ("run", "resnet50", "--device", "a100", "--csv", "{out}/r.csv"),
    "run --plot": ("run", "resnet50", "--device", "a100", "--plot", "{out}/p.png"),
    "serve --timeline": (*SERVE, "--timeline", "{out}/t.json"),
    "serve --requests-out": (*SERVE, "--requests-out", "{out}/r.csv"),
    "realtime --timeline": ("realtime", "facedet", "--device", "phone_npu", "--fps", "30",
                            "--duration", "0.1", "--timeline", "{out}/t.json"),
    "scalesim -p": ("scalesim", "-c", CFG, "-t", TOPOLOGY, "-p", "{out}"),
}


@pytest.mark.parametrize("name", WRITERS)
def test_an_output_under_a_regular_file_is_a_clean_error(name, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    args = [arg.format(out=blocker) for arg in WRITERS[name]]
    assert_clean_error(accelsim(*args), str(blocker))
