"""Design-space sweeps: space files, the runner and its store, the fast path, area, the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import accelsim
from accelsim.errors import ConfigError, UsageError
from accelsim.kernels.pareto import front_reference
from accelsim.sweep import ResultStore, Space, fast_systolic, load_space, run_sweep
from accelsim.sweep import runner
from accelsim.sweep.area import MIB
from accelsim.sweep.fastpath import fast_records
from clitools import invoke

ROOT = Path(__file__).resolve().parents[1]
RESNET50_CSV = ROOT / "accelsim" / "workloads" / "scalesim" / "Resnet50.csv"
ALEXNET_CSV = ROOT / "accelsim" / "workloads" / "scalesim" / "alexnet.csv"


def write_space(tmp_path: Path, parameters: str, extra: str = "") -> Path:
    """A space file of AlexNet (SCALE-Sim CSV) on scalesim_32x32 with these parameter lines."""
    path = tmp_path / "space.yaml"
    path.write_text(f"workload: {ALEXNET_CSV}\ndevice: scalesim_32x32\n{extra}"
                    f"parameters:\n{parameters}")
    return path


# ---- spaces ----------------------------------------------------------------------------------

def test_ranges_expand_to_their_closed_forms(tmp_path):
    space = load_space(write_space(tmp_path, (
        "  array.rows: {from: 8, to: 256, times: 2}\n"
        "  memory.bandwidth: {from: 10 GB/s, to: 40 GB/s, step: 10 GB/s}\n"
        "  sram.ifmap: [32 KiB, 1 MiB]\n")))
    assert dict(space.parameters) == {"array.rows": (8, 16, 32, 64, 128, 256),
                                      "memory.bandwidth": (10e9, 20e9, 30e9, 40e9),
                                      "sram.ifmap": ("32 KiB", "1 MiB")}
    assert space.size == 6 * 4 * 2 == len(space.points())
    assert space.points()[1] == {"array.rows": 8, "memory.bandwidth": 10e9, "sram.ifmap": "1 MiB"}


def test_geometric_range_keeps_an_endpoint_lost_to_rounding(tmp_path):
    space = load_space(write_space(tmp_path, "  memory.bandwidth: {from: 1, to: 1000, times: 10}\n"))
    assert dict(space.parameters)["memory.bandwidth"] == (1, 10, 100, 1000)


def test_random_sample_is_distinct_seeded_and_inside_the_grid(tmp_path):
    path = write_space(tmp_path, "  array.rows: [8, 16, 32, 64]\n  array.cols: [8, 16, 32]\n",
                       "sample: 5\nseed: 3\n")
    space = load_space(path)
    picked = space.points()
    grid = [dict(zip(space.keys, (r, c))) for r in (8, 16, 32, 64) for c in (8, 16, 32)]
    assert len(picked) == 5 and all(p in grid for p in picked)
    assert len({json.dumps(p) for p in picked}) == 5
    assert load_space(path).points() == picked


def test_bundled_space_loads():
    space = load_space(ROOT / "accelsim" / "sweeps" / "systolic_array.yaml")
    assert space.size == 6 * 6 * 3 * 3
    assert Path(space.workload) == RESNET50_CSV


def test_bad_device_key_names_the_space_file_line_and_key(tmp_path):
    path = write_space(tmp_path, "  array.rows: [8]\n  array.row: [16]\n")
    with pytest.raises(ConfigError) as info:
        load_space(path)
    assert str(info.value).startswith(f"{path}:5: parameters.array.row: 16: unknown key")


def test_bad_value_and_unknown_key_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"space.yaml:4: parameters.array.rows: -4:"):
        load_space(write_space(tmp_path, "  array.rows: [8, -4]\n"))
    with pytest.raises(ConfigError, match=r"space.yaml:3: paramters: unknown key"):
        load_space(write_space(tmp_path, "  array.rows: [8]\n", "paramters: {}\n"))
    with pytest.raises(ConfigError, match=r"array.rows: expected from <= to"):
        load_space(write_space(tmp_path, "  array.rows: {from: 64, to: 8, step: 8}\n"))


def test_run_settings_and_workload_params_reach_simulate(tmp_path):
    space = load_space(write_space(tmp_path, "  precision: [int8]\n  array.rows: [16]\n",
                                   "set: [array.dataflow=ws]\n"))
    args = space.run_args(space.points()[0])
    assert args["precision"] == "int8"
    assert args["overrides"] == ("array.dataflow=ws", 'array.rows=16')


# ---- runner and store -------------------------------------------------------------------------

def test_record_is_the_simulated_run(tmp_path):
    space = load_space(write_space(tmp_path, "  array.rows: [16]\n  sram.ifmap: [128 KiB]\n"))
    record = runner.evaluate(space, space.points()[0])
    result = accelsim.simulate(str(ALEXNET_CSV), "scalesim_32x32",
                               overrides=["array.rows=16", "sram.ifmap=128 KiB"])
    assert record["latency_s"] == result["latency_s"]
    assert record["energy_j"] == result["energy_j"]
    assert record["precision"] == "int8"


def test_rejected_point_becomes_an_error_record():
    space = Space(workload=str(ALEXNET_CSV), device="scalesim_32x32",
                  parameters=(("batch", (1, 0)),))           # unchecked: load_space refuses 0
    ok, rejected = run_sweep(space)
    assert "error" not in ok
    assert rejected["error"] == "batch: batch must be >= 1, got 0"


def test_pool_gives_the_records_of_one_process(tmp_path):
    space = load_space(write_space(tmp_path, "  array.rows: [8, 16]\n  array.cols: [8, 32]\n"))
    assert run_sweep(space, workers=2) == run_sweep(space, workers=1)


def test_resume_runs_only_missing_points(tmp_path, monkeypatch):
    space = load_space(write_space(tmp_path, "  array.rows: [8, 16, 32]\n"))
    store = ResultStore(tmp_path / "out" / "records.jsonl")
    first = run_sweep(space, store=store)
    header, *lines = store.path.read_text().splitlines()
    store.path.write_text(f"{header}\n{lines[0]}\n{lines[2]}\n{lines[1][:25]}")   # 2 kept, 1 torn
    calls = []
    monkeypatch.setattr(runner, "evaluate", lambda s, p: calls.append(p) or first[1])
    with pytest.warns(UserWarning, match=r"jsonl:4: dropped a corrupt last line \(25 bytes\)"):
        assert run_sweep(space, store=store, resume=True) == first
    assert calls == [space.points()[1]]
    assert len(store.load()) == 3


def test_store_rejects_a_corrupt_record_before_the_last_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"id": "a", "point": {}}\nnot json\n{"id": "b", "point": {}}\n')
    with pytest.raises(UsageError, match="records.jsonl:2:"):
        ResultStore(path).load()


def test_dask_backend_matches_the_process_backend(tmp_path):
    pytest.importorskip("distributed")
    space = load_space(write_space(tmp_path, "  array.rows: [8, 32]\n"))
    assert run_sweep(space, backend="dask", workers=1) == run_sweep(space)


def test_backend_errors_are_usage_errors(tmp_path, monkeypatch):
    space = load_space(write_space(tmp_path, "  array.rows: [8]\n"))
    with pytest.raises(UsageError, match="unknown backend 'mpi'"):
        run_sweep(space, backend="mpi")
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(UsageError, match=r"accelsim\[dask\]"):
        run_sweep(space, backend="dask")


# ---- fast path --------------------------------------------------------------------------------

def test_fast_path_reproduces_scalesim_golden_cycles(reference_dir):
    golden = {}
    for line in (reference_dir / "scalesim" / "golden.csv").read_text().splitlines()[1:]:
        topology, rows, cols, dataflow, layer, cycles, _ = line.split(",")
        if layer == "TOTAL":
            golden[topology, int(rows), int(cols), dataflow] = int(cycles)
    (topology, rows, cols, dataflow), total = next(iter(golden.items()))
    sweep = fast_systolic(ROOT / "accelsim" / "workloads" / "scalesim" / topology, [rows, 8], cols, dataflow,
                          ifmap_sram=2**30, filter_sram=2**30, ofmap_sram=2**30, bandwidth=1e18)
    assert sweep.stall_cycles[0] == 0
    assert sweep.cycles[0] == total


@pytest.mark.parametrize("workload, device", [(RESNET50_CSV, "scalesim_32x32"),
                                              ("mobilenet_v2", "scalesim_32x32"),
                                              ("bert_base", "tpu_v4")])
def test_fast_path_equals_simulate(workload, device):
    designs = [(8, 16, "ws", 5e9, 32 * 1024), (64, 32, "os", 20e9, 2 * MIB),
               (128, 256, "is", 40e9, 256 * 1024)]
    rows, cols, flows, bandwidths, ifmaps = (list(column) for column in zip(*designs))
    sweep = fast_systolic(workload, rows, cols, flows, device=device, bandwidth=bandwidths,
                          ifmap_sram=ifmaps)
    for i, (r, c, flow, bandwidth, ifmap) in enumerate(designs):
        result = accelsim.simulate(str(workload), device, overrides=[
            f"array.rows={r}", f"array.cols={c}", f"array.dataflow={flow}",
            f"memory.bandwidth={bandwidth}", f"sram.ifmap={ifmap}"])
        assert sweep.cycles[i] == sum(layer.cycles + layer.stall_cycles for layer in result.layers)
        assert sweep.latency_s[i] == pytest.approx(result["latency_s"], rel=1e-12)
        assert sweep.energy_j[i] == pytest.approx(result["energy_j"], rel=1e-12)
        assert sweep.dram_bytes[i] == pytest.approx(result["dram_bytes"], rel=1e-12)


def test_fast_records_match_runner_records(tmp_path):
    space = load_space(write_space(tmp_path, "  array.rows: [8, 64]\n  sram.filter: [16 KiB, 1 MiB]\n"))
    slow = run_sweep(space)
    fast = fast_records(space)
    assert [r["id"] for r in fast] == [r["id"] for r in slow]
    for a, b in zip(fast, slow):
        assert a["latency_s"] == pytest.approx(b["latency_s"], rel=1e-12)
        assert a["area_mm2"] == pytest.approx(b["area_mm2"], rel=1e-12)
        assert a["energy_j"] == pytest.approx(b["energy_j"], rel=1e-12)
        assert a["throughput"] == pytest.approx(b["throughput"], rel=1e-12)
        assert a["average_power_w"] == pytest.approx(b["average_power_w"], rel=1e-12)
        assert a["fits_in_memory"] is b["fits_in_memory"]


def test_fast_path_refuses_other_devices_and_keys(tmp_path):
    with pytest.raises(UsageError, match="systolic"):
        fast_systolic("resnet50", 32, 32, device="a100")
    space = load_space(write_space(tmp_path, "  clock: [1 GHz]\n"))
    with pytest.raises(UsageError, match="not clock"):
        fast_records(space)


# ---- CLI --------------------------------------------------------------------------------------

def test_cli_front_is_non_dominated_and_fast_agrees(tmp_path, capsys):
    space = write_space(tmp_path, "  array.rows: [8, 32, 128]\n  array.cols: [8, 32, 128]\n")
    out = tmp_path / "records.jsonl"
    code, text, _ = invoke(capsys, "sweep", str(space), "--out", str(out), "--json",
                           "--pareto", "latency_s,area_mm2", "--plot", str(tmp_path / "f.svg"))
    assert code == 0
    data = json.loads(text)
    records = list(ResultStore(out).load().values())
    values = [[r["latency_s"], r["area_mm2"]] for r in records]
    on_front = {r["id"] for r, keep in zip(records, front_reference(values)) if keep}
    assert {r["id"] for r in data["front"]} == on_front and data["points"] == 9
    assert (tmp_path / "f.svg").read_text().lstrip().startswith("<?xml")
    code, text, _ = invoke(capsys, "sweep", str(space), "--fast", "--json", "--pareto",
                           "latency_s,area_mm2")
    assert code == 0
    assert {r["id"] for r in json.loads(text)["front"]} == on_front


def test_cli_table_and_errors(tmp_path, capsys):
    space = write_space(tmp_path, "  array.rows: [8, 16]\n")
    code, text, _ = invoke(capsys, "sweep", str(space))
    assert code == 0 and "2 points, 0 failed" in text
    code, _, err = invoke(capsys, "sweep", str(space), "--resume")
    assert code == 2 and "--out" in err
    code, _, err = invoke(capsys, "sweep", str(write_space(tmp_path, "  array.rowz: [8]\n")))
    assert code == 2 and "space.yaml:4: parameters.array.rowz" in err
    code, _, err = invoke(capsys, "sweep", str(write_space(tmp_path, "  batch: [0]\n")))
    assert code == 2 and "space.yaml:4: parameters.batch: 0: expected an integer >= 1" in err


def test_tpu_v1_unified_buffer_is_counted_once_in_area():
    # Jouppi et al. 2017: 24 MiB Unified Buffer (ifmap + inter-layer activations), 256 KiB weight
    # FIFO, 4 MiB accumulators.
    from accelsim.api import load_device
    from accelsim.sweep.area import sram_bytes

    assert sram_bytes(load_device("tpu_v1")) == (24 + 0.25 + 4) * MIB


def test_points_that_do_not_fit_memory_are_marked_and_kept_off_the_front(tmp_path, capsys):
    space = tmp_path / "memory.yaml"
    space.write_text("workload: gpt2\ndevice: jetson_orin\nmode: training\n"
                     "parameters:\n  batch: [1, 8, 64, 512]\n")
    code, out, err = invoke(capsys, "sweep", str(space), "--pareto", "latency_s,energy_j",
                            "--json")
    assert code == 0 and "warning" not in err           # no warning per point: the record says it
    answer = json.loads(out)
    assert answer["infeasible"] >= 1
    assert all(record["fits_in_memory"] for record in answer["front"])
    # GPT-2 training at batch 512 x 1024 tokens keeps far more than the Orin's 64 GiB
    assert {record["point"]["batch"] for record in answer["front"]} <= {1, 8, 64}
