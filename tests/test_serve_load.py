"""Serving under load (accelsim.engine.serve_load): closed forms, consistency with the single-request
serving model, scheduler behaviour, KV cache pressure and the `accelsim serve` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accelsim.api import simulate
from accelsim.engine.serve_capacity import search_capacity
from accelsim.engine.serve_load import prepare_serving, run_load
from accelsim.engine.serve_metrics import parse_slo
from accelsim.workload.requests import (Requests, arrival_times, lognormal_profile, load_trace,
                                        sample_lengths, synthetic_requests)
from tests.hostile.cli import accelsim, assert_clean_error


def one(prompt: int, output: int, arrival: float = 0.0) -> Requests:
    """A single request."""
    return Requests(np.array([arrival]), np.array([prompt]), np.array([output]))


@pytest.mark.parametrize("workload, prompt, generate", [("llama2_7b", 300, 50), ("gpt2", 77, 33)])
def test_one_request_at_a_time_reproduces_run_mode_serve(workload, prompt, generate):
    reference = simulate(workload, "a100", mode="serve", prompt=prompt, generate=generate).totals
    result = run_load(prepare_serving(workload, "a100"), one(prompt, generate))
    assert result.requests["ttft_s"][0] == pytest.approx(reference["ttft_s"], rel=0.03)
    assert result.requests["tbt_mean_s"][0] == pytest.approx(reference["tpot_s"], rel=0.05)


def test_serving_energy_counts_active_power_while_iterating():
    # a lone request keeps its replica busy from arrival to finish: raising power.active by 50 W
    # adds 50 W x the run's duration (idle power is unchanged; dynamic energy does not depend on it)
    def energy(active: str) -> dict:
        setup = prepare_serving("gpt2", "a100", overrides=[f"power.active={active}"])
        return run_load(setup, one(128, 16)).totals

    low, high = energy("50 W"), energy("100 W")
    assert low["duration_s"] == high["duration_s"]
    assert high["energy_j"] - low["energy_j"] == pytest.approx(50.0 * low["duration_s"], rel=1e-9)


def test_constant_service_single_server_matches_md1_waiting_time():
    # M/D/1, Pollaczek-Khinchine: mean wait in queue W = rho * S / (2 (1 - rho)).
    setup = prepare_serving("gpt2", "a100", max_batch=1)
    service = run_load(setup, one(32, 2)).requests["e2e_s"][0]
    rho = 0.5
    run = run_load(setup, synthetic_requests(20000, rho / service, prompt="32", output="2", seed=1))
    waiting = float(np.mean(run.requests["e2e_s"])) - service
    assert waiting == pytest.approx(rho * service / (2 * (1 - rho)), rel=0.05)


def test_littles_law_mean_in_system_is_throughput_times_mean_e2e():
    run = run_load(prepare_serving("gpt2", "a100"),
                   synthetic_requests(400, 30.0, prompt="uniform:16:200", output="uniform:4:64",
                                      seed=2))
    arrivals = run.requests["arrival_s"]
    finishes = arrivals + run.requests["e2e_s"]
    events = sorted([(t, 1) for t in arrivals] + [(t, -1) for t in finishes])
    area, inside, last = 0.0, 0, events[0][0]
    for time, step in events:
        area += inside * (time - last)
        inside, last = inside + step, time
    mean_in_system = area / (finishes.max() - arrivals.min())
    assert mean_in_system == pytest.approx(
        run.totals["requests_per_s"] * run.totals["e2e_mean_s"], rel=1e-9)


def test_continuous_batching_beats_static_on_median_latency_at_high_load():
    requests = synthetic_requests(150, 6.0, prompt="uniform:100:500", output="uniform:20:300",
                                  seed=3)
    e2e = {scheduler: run_load(prepare_serving("llama2_7b", "a100", scheduler=scheduler,
                                               max_batch=32, max_prompt=500),
                               requests).totals["e2e_p50_s"]
           for scheduler in ("static", "continuous", "chunked")}
    assert e2e["continuous"] < e2e["static"]
    assert e2e["chunked"] < e2e["static"]


def test_static_batch_returns_together_and_tokens_counted():
    run = run_load(prepare_serving("gpt2", "a100", scheduler="static", max_batch=4),
                   Requests(np.zeros(4), np.array([10, 20, 30, 40]), np.array([2, 4, 8, 16])))
    finishes = run.requests["arrival_s"] + run.requests["e2e_s"]
    assert np.ptp(finishes) == 0                   # the whole batch returns when it ends
    assert run.totals["iterations"] == 16          # one prefill + 15 decode steps
    assert run.totals["mean_batch_size"] == 4


def test_full_kv_cache_preempts_and_still_serves_everyone():
    setup = prepare_serving("llama2_7b", "a100", overrides=["memory.capacity=20 GiB"])
    run = run_load(setup, synthetic_requests(24, 50.0, prompt="400", output="600", seed=4))
    assert run.totals["preemptions"] > 0
    assert run.totals["requests"] == 24 and not np.isnan(run.requests["e2e_s"]).any()
    assert run.totals["kv_peak_bytes"] <= run.totals["kv_capacity_bytes"]


def test_request_longer_than_context_is_refused_and_counted():
    requests = Requests(np.array([0.0, 0.1]), np.array([100, 1000]), np.array([10, 100]))
    with pytest.warns(UserWarning, match="1 of 2 requests refused"):
        run = run_load(prepare_serving("gpt2", "a100"), requests)      # gpt2: 1024 positions
    assert run.totals["refused"] == 1
    assert list(run.requests["status"]) == ["done", "refused_context"]


def test_replicas_share_load_and_tp_speeds_up_a_request():
    requests = synthetic_requests(200, 8.0, prompt="512", output="128", seed=5)
    single = run_load(prepare_serving("llama2_7b", "a100"), requests).totals
    two = run_load(prepare_serving("llama2_7b", "a100", replicas=2,
                                   router="least_outstanding"), requests).totals
    assert two["e2e_p50_s"] < single["e2e_p50_s"]
    solo = run_load(prepare_serving("llama2_7b", "a100"), one(512, 64)).requests
    tp2 = run_load(prepare_serving("llama2_7b", "a100", tp=2), one(512, 64)).requests
    assert tp2["e2e_s"][0] < solo["e2e_s"][0]


def test_capacity_meets_the_slo_and_a_bit_more_does_not():
    setup = prepare_serving("gpt2", "a100")
    slo = "ttft_p90=20ms,tbt_p99=5ms"

    def requests_at(qps):
        return synthetic_requests(150, qps, prompt="256", output="32", seed=6)

    capacity, run, _runs = search_capacity(setup, requests_at, slo, 10.0)
    assert capacity > 0 and run.totals["slo_met"]
    assert not run_load(setup, requests_at(capacity * 1.1), slo).totals["slo_met"]


def test_a_burst_met_at_every_rate_is_flagged_not_reported_as_capacity():
    # 4 requests fit in one batch: the SLO holds up to the search's highest rate, a rate no server
    # sustains, so the capacity comes with the steady-state warning
    setup = prepare_serving("gpt2", "a100")
    with pytest.warns(UserWarning, match="steady state"):
        capacity, _run, _runs = search_capacity(
            setup, lambda qps: synthetic_requests(4, qps, prompt="16", output="4", seed=1),
            "ttft_p90=1s", 10.0)
    assert capacity >= 1e5 / 2


def test_length_specs_and_profile_fit():
    rng = np.random.default_rng(0)
    assert set(sample_lengths("uniform:3:5", 500, rng, "prompt")) == {3, 4, 5}
    draws = sample_lengths(lognormal_profile(1730, 5696), 40000, rng, "prompt")
    assert np.median(draws) == pytest.approx(1730, rel=0.03)          # the published median
    assert np.percentile(draws, 90) == pytest.approx(5696, rel=0.05)  # and 90th percentile
    assert sample_lengths("zipf:1.2:50", 1000, rng, "generate").max() <= 50


@pytest.mark.parametrize("arrival, cv", [("poisson", 1.0), ("gamma", 3.0), ("constant", 0.0)])
def test_arrival_gaps_have_the_asked_rate_and_variability(arrival, cv):
    times = arrival_times(50000, 4.0, arrival, cv or 1.0, np.random.default_rng(0))
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(0.25, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.05, abs=1e-9)


def test_offline_requests_all_arrive_at_once_and_finish_in_one_batch():
    # 8 identical requests at t = 0 fit one batch: each runs its prefill then its decode steps
    # together, so all finish at the same time, as they would alone at batch 8
    requests = synthetic_requests(8, 1.0, arrival="offline", prompt="64", output="16")
    assert not requests.arrival_s.any()
    run = run_load(prepare_serving("gpt2", "a100", max_batch=8), requests)
    assert np.ptp(run.requests["e2e_s"]) == pytest.approx(0, abs=1e-12)


def test_slo_parsing_units():
    assert parse_slo("ttft_p90=2s,tbt_p99=200ms,e2e_p50=3") == {
        ("ttft", 90.0): 2.0, ("tbt", 99.0): pytest.approx(0.2), ("e2e", 50.0): 3.0}


def test_trace_csv_and_jsonl_agree(tmp_path):
    csv_path, jsonl_path = tmp_path / "t.csv", tmp_path / "t.jsonl"
    csv_path.write_text("arrival_s,prompt_tokens,output_tokens\n0.5,100,10\n0,64,8\n")
    jsonl_path.write_text('{"arrival_s": 0.5, "prompt_tokens": 100, "output_tokens": 10}\n'
                          '{"arrival_s": 0, "prompt_tokens": 64, "output_tokens": 8}\n')
    a, b = load_trace(str(csv_path)), load_trace(str(jsonl_path))
    assert list(a.arrival_s) == list(b.arrival_s) == [0.0, 0.5]
    assert list(a.prompt) == list(b.prompt) == [64, 100]


def test_cli_same_seed_same_numbers(tmp_path):
    args = ("serve", "gpt2", "--device", "a100", "--qps", "30", "--requests", "60",
            "--prompt", "lognormal:200:0.6", "--generate", "uniform:8:40", "--json")
    runs = [json.loads(accelsim(*args, "--seed", seed).out) for seed in ("7", "7", "8")]
    assert runs[0]["totals"] == runs[1]["totals"]
    assert runs[0]["totals"] != runs[2]["totals"]


def test_cli_writes_requests_timeline_and_plot(tmp_path):
    out = accelsim("serve", "gpt2", "--device", "a100", "--qps", "20", "--requests", "30",
                   "--requests-out", str(tmp_path / "r.csv"), "--timeline",
                   str(tmp_path / "t.json"), "--plot", str(tmp_path / "cdf.png"))
    assert out.code == 0, out.err
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 31
    trace = json.loads((tmp_path / "t.json").read_text())
    assert any(e["ph"] == "X" for e in trace["traceEvents"])
    assert (tmp_path / "cdf.png").stat().st_size > 0


@pytest.mark.parametrize("args, fragments", [
    (("--qps", "-1"), ("--qps",)),
    (("--qps", "2", "--prompt", "lognormal:x:1"), ("prompt", "lognormal:x:1")),
    (("--qps", "2", "--prompt", "gauss:1:2"), ("prompt",)),
    (("--qps", "2", "--scheduler", "fifo"), ("scheduler", "fifo")),
    (("--qps", "2", "--router", "random"), ("router",)),
    (("--qps", "2", "--arrival", "bursty"), ("arrival",)),
    (("--qps", "2", "--slo", "ttft=2s"), ("slo",)),
    (("--qps", "2", "--slo", "ttft_p90=fast"), ("slo", "ttft_p90")),
    (("--qps", "2", "--lengths", "chat"), ("lengths", "sharegpt")),
    (("--qps", "2", "--prompt", "5000"), ("context",)),
    ((), ("--qps",)),
    (("--qps", "2", "--capacity", "--qps-sweep", "1,2"), ("--capacity",)),
    (("--qps-sweep", "1,x"), ("--qps-sweep",)),
    (("--qps", "2", "--requests-out", "r.txt"), ("requests-out",)),
    (("--qps", "2", "--plot", "p.gif"), ("plot",)),
    (("--qps", "2", "--tp", "5"), ("tp = 5",)),
    (("--arrival", "offline", "--qps", "2"), ("--arrival", "drop --qps")),
    (("--arrival", "batch"), ("arrival", "offline")),
])
def test_cli_bad_options_fail_cleanly(args, fragments, tmp_path):
    assert_clean_error(accelsim("serve", "gpt2", "--device", "a100", "--requests", "5", *args,
                                cwd=tmp_path), *fragments)


@pytest.mark.parametrize("content, fragments", [
    ("arrival_s,prompt_tokens\n0,10\n", ("t.csv:1", "output_tokens")),
    ("arrival_s,prompt_tokens,output_tokens\n0,10,5\n1,ten,5\n", ("t.csv:3", "prompt_tokens")),
    ("arrival_s,prompt_tokens,output_tokens\n-1,10,5\n", ("t.csv:2", "arrival_s")),
    ("arrival_s,prompt_tokens,output_tokens\n0,10,0\n", ("t.csv:2", "output_tokens")),
    ('{"arrival_s": 0, "prompt_tokens": 3, "output_tokens": 2}\n{"arrival_s": 1}\n',
     ("t.csv:2", "prompt_tokens")),
    ('{"arrival_s": 0, \n', ("t.csv:1", "JSON")),
    ("", ("t.csv", "no requests")),
])
def test_cli_bad_trace_files_name_file_line_and_key(content, fragments, tmp_path):
    (tmp_path / "t.csv").write_text(content)
    assert_clean_error(accelsim("serve", "gpt2", "--device", "a100", "--trace", "t.csv",
                                cwd=tmp_path), *fragments)


def test_whisper_serves_with_its_own_task_prompt_by_default(tmp_path):
    # the generic 512-token default prompt exceeds Whisper's 448-token decoder context; its
    # requests start from the 4-token task prompt (start-of-transcript, language, task, timestamps)
    out = tmp_path / "requests.csv"
    done = accelsim("serve", "whisper_base", "--device", "a100", "--qps", "1", "--requests", "5",
                    "--requests-out", str(out), "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["totals"]["requests"] == 5
    rows = out.read_text().splitlines()
    column = rows[0].split(",").index("prompt_tokens")
    assert {row.split(",")[column] for row in rows[1:]} == {"4"}
