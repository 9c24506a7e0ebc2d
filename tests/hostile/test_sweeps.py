"""`accelsim sweep` and `accelsim plot --kind pareto` against hostile space files, arguments, stores
and a parent killed mid-sweep, through the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clitools import invoke
from hostile.cli import accelsim, assert_clean_error

ROOT = Path(__file__).resolve().parents[2]
ALEXNET_CSV = ROOT / "accelsim" / "workloads" / "scalesim" / "alexnet.csv"
BUNDLED = ROOT / "accelsim" / "sweeps" / "systolic_array.yaml"          # 324 points
ROWS = "parameters:\n  array.rows: [8, 16, 32]\n"
WAIT_S = 60          # bound of every poll; a pass never waits for it


def write_space(folder: Path, body: str, name: str = "space.yaml") -> Path:
    """A space file of AlexNet on scalesim_32x32 followed by `body` (from line 3)."""
    path = folder / name
    path.write_text(f"workload: {ALEXNET_CSV}\ndevice: scalesim_32x32\n{body}")
    return path


# ---- space files: every point is checked before the first runs ---------------------------------

BAD_SPACES = [
    ("parameters:\n  batch: [1, 0, -5]\n", ":4: parameters.batch: 0: expected an integer >= 1"),
    ("parameters:\n  mode: [inference,\n    flying]\n", ":5: parameters.mode: 'flying'"),
    ("parameters:\n  precision: [int8, garbage]\n", "parameters.precision: 'garbage'"),
    ("mode: flying\n" + ROWS, ":3: mode: expected one of inference, training"),
    ("batch: 0\n" + ROWS, ":3: batch: expected an integer >= 1"),
    ("precision: fp7\n" + ROWS, ":3: precision: expected one of"),
    ("precision: fp32\n" + ROWS, ":3: precision: 'fp32': SCALE-Sim 32x32 (scale.cfg) cannot"),
    ("parameters:\n  precision: [int8, fp64]\n", ":4: parameters.precision: 'fp64':"),
    ("parameters:\n  array.rows: {from: 8, to: .inf, step: 8}\n", "array.rows: expected a number"),
    ("parameters:\n  array.rows: {from: .nan, to: 8, step: 8}\n", "rows: expected a number"),
    ("parameters:\n  memory.bandwidth: {from: 1, to: 8, times: .nan}\n", "got nan"),
    ("parameters:\n  array.rows: [8, .nan]\n", "array.rows: nan: expected a finite number"),
    ("parameters:\n  array.rows: [-.inf]\n", "array.rows: -inf: expected a finite number"),
    ("parameters:\n  array.rows: {from: 8, to: 1e300, step: 1}\n", "more than 100,000 values"),
    ("parameters:\n  sram.ifmap: [32 KiB, -1 KiB]\n", ":4: parameters.sram.ifmap: '-1 KiB'"),
    ("parameters:\n  array.rows: {from: 1, to: 999, step: 0.5}\n", "array.rows: 1.5:"),
    ("parameters: [array.rows]\n", ":3: parameters: expected a mapping"),
    ("parameters: {}\n", ":3: parameters: expected a mapping"),
    ("parameters:\n  array.rows: 8\n", "array.rows: expected a list of values"),
    ("parameters:\n  array.rows: []\n", "array.rows: expected at least one value"),
    ("parameters:\n  array.rows: [[8]]\n", "array.rows: [8]: expected a number"),
    ("parameters:\n  array.rows: [null]\n", "array.rows: None: expected a number"),
    ("parameters:\n  array.rows: [8, 16, 8]\n", "array.rows: 8: appears twice"),
    ("parameters:\n  array.rows: [8]\n  array.rows: [16]\n", "duplicate key 'array.rows'"),
    ("parameters:\n  7: [8]\n", "parameters.7: expected a dotted key"),
    ("parameters:\n  array..rows: [8]\n", "parameters.array..rows: expected a dotted key"),
    ("parameters:\n  array.rowz: [8]\n", ":4: parameters.array.rowz: 8: unknown key"),
    ("set: [1, 2]\n" + ROWS, ":3: set: expected a list of strings"),
    ("set: [array.rows=64]\n" + ROWS, "array.rows: also fixed by set: array.rows=64"),
    ("params: {device: a100}\n" + ROWS, ":3: params: 'device' is a run setting"),
    ("parameters:\n  params.workload: [resnet50]\n", "'workload' is a run setting"),
    ("parameters:\n  params.seq_len: [128]\n", "params.seq_len: 128: file workloads take no"),
    ("metrics: [1]\n" + ROWS, ":3: metrics: expected a list of strings"),
    ("sample: -1\n" + ROWS, ":3: sample: expected an integer >= 1"),
    ("seed: x\n" + ROWS, ":3: seed: expected an integer >= 0"),
    ("paramters: {}\n" + ROWS, ":3: paramters: unknown key"),
    ("parameters:\n  array.rows: {from: 8, to: 64}\n", "{from, to, step}"),
    ("parameters:\n" + "".join(f"  {key}: {{from: 1, to: 1000, step: 1}}\n"
                               for key in ("array.rows", "array.cols", "batch")),
     ":3: parameters: the space has 1,000,000,000 points to run, more than the limit of 100,000"),
]


@pytest.mark.parametrize("body, fragment", BAD_SPACES)
def test_bad_space_is_refused_before_any_point_runs(tmp_path, body, fragment):
    space = write_space(tmp_path, body)
    out = tmp_path / "records.jsonl"
    assert_clean_error(accelsim("sweep", str(space), "--out", str(out)), "space.yaml", fragment)
    assert not out.exists()


@pytest.mark.parametrize("lines, fragment", [
    ("workload: nonexistent.csv\ndevice: scalesim_32x32\n", ":1: workload:"),
    (f"workload: {ALEXNET_CSV}\ndevice: no_such_device\n", ":2: device:"),
    ("workload: [1]\ndevice: scalesim_32x32\n", ":1: workload: expected a name or path"),
    (f"workload: {ALEXNET_CSV}\ndevice: tpu_v1\nmode: training\n", ":3: mode: 'training':"),
])
def test_bad_workload_device_or_mode_names_its_key(tmp_path, lines, fragment):
    space = tmp_path / "space.yaml"
    space.write_text(lines + ROWS)
    assert_clean_error(accelsim("sweep", str(space)), "space.yaml", fragment)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00binary", b"", b"- just\n- a list\n"])
def test_unreadable_space_file_is_a_clean_error(tmp_path, content):
    space = tmp_path / "space.yaml"
    space.write_bytes(content)
    assert_clean_error(accelsim("sweep", str(space)), "space.yaml")


def test_sample_of_a_huge_grid_runs_and_max_points_raises_the_limit(tmp_path):
    grid = "".join(f"  {key}: {{from: 1, to: 1000, step: 1}}\n" for key in ("array.rows",
                                                                               "array.cols"))
    sampled = accelsim("sweep", str(write_space(tmp_path, f"sample: 2\nparameters:\n{grid}")))
    assert sampled.code == 0 and "2 points, 0 failed" in sampled.out
    space = str(write_space(tmp_path, ROWS))
    assert_clean_error(accelsim("sweep", space, "--max-points", "2"),
                       "has 3 points to run, more than the limit of 2; raise it with --max-points")
    assert accelsim("sweep", space, "--max-points", "3").code == 0


# ---- arguments ----------------------------------------------------------------------------------

BAD_ARGUMENTS = [
    (["--workers", "0"], "--workers"),
    (["--workers", "100000"], "workers: expected 1 to"),
    (["--max-points", "0"], "--max-points"),
    (["--max-points", "many"], "--max-points"),
    (["--out", "{tmp}/file/records.jsonl"], "--out: cannot create it"),
    (["--out", "{tmp}"], "--out"),
    (["--out", "{tmp}/space.yaml"], "--out: would overwrite the space file"),
    (["--csv", "{tmp}/file/rows.csv"], "--csv: cannot create it"),
    (["--out", "{tmp}/r.jsonl", "--csv", "{tmp}/r.jsonl"], "--csv: would overwrite --out"),
    (["--plot", "{tmp}/file/front.png"], "--plot: cannot create it"),
    (["--plot", "{tmp}/front.txt"], "cannot tell the figure format"),
    (["--pareto", "latency_s,no_such_metric"], "metric 'no_such_metric' is missing"),
    (["--pareto", ","], "expected at least one metric"),
    (["--resume"], "needs --out"),
    (["--backend", "mpi"], "--backend"),
]


@pytest.mark.parametrize("arguments, fragment", BAD_ARGUMENTS)
def test_bad_argument_is_a_clean_error(tmp_path, arguments, fragment):
    space = write_space(tmp_path, ROWS)
    (tmp_path / "file").write_text("a file, not a folder")
    outcome = accelsim("sweep", str(space), *(arg.format(tmp=tmp_path) for arg in arguments))
    assert_clean_error(outcome, fragment)
    assert space.read_text().startswith("workload:")


def test_unknown_metric_stops_the_pool_at_the_first_record(tmp_path):
    out = tmp_path / "records.jsonl"
    outcome = accelsim("sweep", str(BUNDLED), "-j", "2", "--out", str(out), "--pareto", "nope")
    assert_clean_error(outcome, "metric 'nope' is missing")
    assert len(out.read_text().splitlines()) == 2          # the header and the first record


# ---- stores: corrupt lines, other spaces, other files -------------------------------------------

def run_store(tmp_path: Path, body: str = ROWS, name: str = "space.yaml") -> tuple[Path, Path]:
    """A space file and the store of a finished sweep of it."""
    space = write_space(tmp_path, body, name)
    out = tmp_path / "records.jsonl"
    assert accelsim("sweep", str(space), "--out", str(out)).code == 0
    return space, out


def test_corrupt_last_line_is_dropped_and_the_sweep_resumes(tmp_path, capsys):
    space, out = run_store(tmp_path)
    header, first, *_ = out.read_text().splitlines()
    out.write_text(f"{header}\n{first}\n{{\"id\": \"torn\ngarbage\n")  # killed twice, at the end
    front = tmp_path / "front.svg"
    assert_clean_error(accelsim("plot", str(out), "--kind", "pareto", "-o", str(front)),
                       "records.jsonl:3: not JSON")           # not the last line: an error
    torn = 'garbage {"id"\n'
    out.write_text(f"{header}\n{first}\n{torn}")
    code, text, err = invoke(capsys, "sweep", str(space), "--out", str(out), "--resume")
    assert code == 0 and "3 points, 0 failed" in text
    assert err.strip() == (f"warning: {out}:3: dropped a corrupt last line ({len(torn)} bytes), "
                           "left by a sweep that was killed")
    lines = out.read_text().splitlines()
    assert lines[:2] == [header, first] and len(lines) == 4
    assert all("garbage" not in line for line in lines)
    plotted = accelsim("plot", str(out), "--kind", "pareto", "-o", str(front))
    assert plotted.code == 0 and front.read_text().lstrip().startswith("<?xml")


def test_resume_onto_another_space_names_both(tmp_path):
    _, out = run_store(tmp_path)
    other = write_space(tmp_path, "parameters:\n  array.rows: [8, 64]\n", "other.yaml")
    outcome = accelsim("sweep", str(other), "--out", str(out), "--resume")
    header = json.loads(out.read_text().splitlines()[0])
    assert_clean_error(outcome, "records.jsonl: resume: holds the records of space "
                       f"{header['space']} ({tmp_path / 'space.yaml'}), not of space",
                       "other.yaml", "run without --resume")


@pytest.mark.parametrize("content, fragment", [
    (b'{"id": "a", "point": {}, "latency_s": 1}\n', "no header line"),      # an older store
    (b'{"id": "a", "point": {}}\nnot json\n{"id": "b", "point": {}}\n', "jsonl:2: not JSON"),
    (b'{"id": "a", "point": {}}\n\xff\xfe\n{"id": "b", "point": {}}\n', "jsonl:2: not UTF-8"),
    (b'[1, 2]\n{"id": "b", "point": {}}\n', "records.jsonl:1: not a record with an id"),
])
def test_resume_refuses_a_store_it_cannot_trust(tmp_path, content, fragment):
    out = tmp_path / "records.jsonl"
    out.write_bytes(content)
    outcome = accelsim("sweep", str(write_space(tmp_path, ROWS)), "--out", str(out), "--resume")
    assert_clean_error(outcome, fragment)
    assert out.read_bytes() == content


@pytest.mark.parametrize("content, fragment", [
    (bytes(range(255, -1, -1)) * 8, "records.jsonl:1: not UTF-8 text"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "records.jsonl:1:"),
    (b'{"version": 1,\n "results": []}\n', "records.jsonl:1: not JSON"),
    (b"", "no sweep records"),
])
def test_plot_of_a_file_that_is_no_store_is_a_clean_error(tmp_path, content, fragment):
    out = tmp_path / "records.jsonl"
    out.write_bytes(content)
    outcome = accelsim("plot", str(out), "--kind", "pareto", "-o", str(tmp_path / "f.png"))
    assert_clean_error(outcome, fragment)


def test_plot_of_a_missing_store_is_a_clean_error(tmp_path):
    outcome = accelsim("plot", str(tmp_path / "none.jsonl"), "--kind", "pareto", "-o",
                       str(tmp_path / "f.png"))
    assert_clean_error(outcome, "none.jsonl: no such sweep record file")


# ---- a killed parent takes its pool workers with it ---------------------------------------------

def children(pid: int) -> set[int]:
    """Pids of the live processes whose parent is `pid` (Linux /proc)."""
    return {int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat")
            if _stat(stat)[1:2] == [str(pid)] and alive(int(stat.parent.name))}


def alive(pid: int) -> bool:
    """Whether `pid` runs (exists and is no zombie)."""
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return bool(fields) and fields[0] not in ("Z", "X")


def _stat(path: Path) -> list[str]:
    """State, ppid, ... of a /proc/<pid>/stat file (empty if the process is gone)."""
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def wait_until(condition, what: str) -> None:
    """Poll `condition` until it holds; fail after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


ON_LINUX = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def start_sweep(out: Path) -> tuple[subprocess.Popen, set[int]]:
    """The bundled sweep on two workers in a subprocess (Ctrl-C not ignored), and its workers."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    parent = subprocess.Popen([sys.executable, "-m", "accelsim", "sweep", str(BUNDLED), "-j", "2",
                               "--out", str(out)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    wait_until(lambda: len(children(parent.pid)) >= 2 or parent.poll() is not None, "two workers")
    assert parent.poll() is None, "the sweep ended before it could be stopped"
    return parent, children(parent.pid)


@ON_LINUX
def test_pool_workers_die_with_a_killed_parent_and_the_sweep_resumes(tmp_path):
    out = tmp_path / "records.jsonl"
    parent, workers = start_sweep(out)
    try:
        parent.send_signal(signal.SIGKILL)
        parent.communicate()
        wait_until(lambda: not any(alive(pid) for pid in workers), "the orphaned workers to end")
    finally:
        parent.kill()
        parent.communicate()
        for pid in filter(alive, workers):
            os.kill(pid, signal.SIGKILL)
    resumed = accelsim("sweep", str(BUNDLED), "--out", str(out), "--resume", "-j", "2")
    assert resumed.code == 0 and "324 points, 0 failed" in resumed.out
    assert len(out.read_text().splitlines()) == 1 + 324


@ON_LINUX
def test_ctrl_c_stops_the_sweep_cleanly(tmp_path):
    parent, workers = start_sweep(tmp_path / "records.jsonl")
    parent.send_signal(signal.SIGINT)
    _, err = parent.communicate(timeout=WAIT_S)
    assert (parent.returncode, err.strip()) == (1, "accelsim: aborted")
    wait_until(lambda: not any(alive(pid) for pid in workers), "the workers to end")
