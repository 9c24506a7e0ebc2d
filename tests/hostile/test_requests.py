"""Impossible or nonsensical requests through the real CLI: refused in one line, or warned."""

from __future__ import annotations

import json

import pytest

from tests.hostile.cli import accelsim, assert_clean_error

REFUSED = [
    (["realtime", "facedet", "--device", "phone_npu", "--fps", "inf"], ["--fps", "finite"]),
    (["realtime", "facedet", "--device", "phone_npu", "--fps", "nan"], ["--fps"]),
    (["realtime", "facedet", "--device", "phone_npu", "--fps", "0"], ["--fps"]),
    (["cost", "gpt3_175b", "--device", "a100", "--flops", "inf"], ["--flops", "finite"]),
    (["cost", "gpt3_175b", "--device", "a100", "--flops", "nan"], ["--flops"]),
    (["cost", "gpt3_175b", "--device", "a100", "--flops", "1e23", "--price", "nan"], ["--price"]),
    (["cost", "gpt3_175b", "--device", "a100", "--flops", "1e23", "--mfu", "inf"], ["--mfu"]),
    (["cost", "gpt3_175b", "--device", "a100", "--tokens", "-5"], ["--tokens"]),
    (["cost", "resnet50", "--device", "a100", "--samples", "-inf"], ["--samples"]),
    (["run", "gpt3_175b", "--device", "a100", "--mode", "training", "--devices", "8",
      "--tokens", "inf"], ["--tokens"]),
    (["whatif", "bert_base", "--device", "a100", "--student", "resnet50"],
     ["student", "resnet50 reads image", "bert_base reads input_ids"]),
    (["whatif", "resnet50", "--device", "a100", "--student", "gpt2"], ["student", "gpt2"]),
    (["run", "resnet50", "--device", "a100", "--layers", "-5"], ["--layers"]),
    (["run", "resnet50", "--device", "a100", "--layers", "0"], ["--layers"]),
    (["run", "gpt2", "--device", "a100", "--mode", "training", "--devices", "7",
      "--parallel", "tp=7"], ["parallel", "tp = 7 does not divide gpt2's 12 heads"]),
    (["run", "llama2_7b", "--device", "a100", "--mode", "training", "--devices", "3",
      "--parallel", "tp=3"], ["parallel", "32 heads"]),
    (["run", "gpt2", "--device", "a100", "--mode", "training", "--devices", "8",
      "--parallel", "tp=2,tp=4"], ["parallel", "tp given twice"]),
    (["run", "gpt2", "--device", "a100", "--mode", "training", "--parallel", "tp=7"],
     ["parallel", "devices = 1 is not a multiple of tp x pp = 7 x 1"]),
    (["run", "gpt2", "--device", "a100", "--mode", "training", "--devices", "8",
      "--parallel", "tp=2,pp=2,dp=3"], ["parallel", "12", "devices = 8"]),
    (["run", "gpt2", "--device", "a100", "--mode", "training", "--devices", "8",
      "--parallel", "tp=8,sp=2"], ["parallel", "unknown axis 'sp'"]),
    (["run", "gpt2", "--device", "a100", "--mode", "training", "--devices", "8",
      "--parallel", "tp=x"], ["parallel", "tp must be an integer"]),
    (["run", "llama2_7b", "--device", "a100", "--mode", "serve", "--prompt", "1000000"],
     ["prompt", "1000000 + 128 tokens exceed llama2_7b's context of 4096"]),
    (["run", "gpt2", "--device", "a100", "--mode", "serve", "--prompt", "1000", "--generate",
      "100"], ["prompt", "context of 1024"]),
    (["run", "llama2_7b", "--device", "a100", "--param", "seq_len=5000"],
     ["seq_len", "at most 4096"]),
    (["run", "gpt2", "--device", "a100", "--mode", "serve", "--param", "seq_len=64"],
     ["param", "serve mode sets seq_len"]),
    (["run", "resnet50", "--device", "a100", "--mode", "serve"], ["resnet50"]),
    (["run", "resnet50", "--device", "a100", "--prefetch"], ["prefetch", "event engine"]),
    (["run", "resnet50", "--device", "a100", "--mode", "flying"], ["--mode"]),
    (["run", "resnet50", "--device", "a100", "--batch", "0"], ["--batch"]),
    (["run", "resnet50", "--device", "a100", "--batch", "-3"], ["--batch"]),
    (["run", "resnet50", "--device", "a100", "--engine", "quantum"], ["--engine"]),
    (["run", "resnet50", "--device", "a100", "--param", "image_size"], ["--param"]),
    (["run", "resnet50", "--device", "a100", "--param", "bogus=3"], ["bogus"]),
    (["run", "resnet50", "--device", "nonexistent_gpu"], ["nonexistent_gpu"]),
    (["run", "resnet5", "--device", "a100"], ["resnet5", "resnet50"]),
    (["run", "resnet50", "--device", "a100", "--devices", "2"], ["training"]),
    (["run", "resnet50", "--device", "a100", "--devices", "4", "--mode", "training",
      "--csv", "t.csv"], ["--csv"]),
    (["whatif", "resnet50", "--device", "a100"], ["nothing to change"]),
    (["whatif", "resnet50", "--device", "a100", "--layers", "conv1"], ["--quantize or --prune"]),
    (["cost", "gpt2", "--device", "a100", "--serve", "--flops", "1e20"], ["--flops", "--serve"]),
    (["cost", "gpt2", "--device", "a100"], ["--flops, --tokens or --samples"]),
    (["run", "resnet50", "--device", "a100", "--precision", "int3"],
     ["precision", "unknown precision 'int3'"]),
    (["run", "resnet50", "--device", "a100", "--precision", "garbage"], ["unknown precision"]),
    (["run", "resnet50", "--device", "a100", "--precision", ""], ["unknown precision ''"]),
    (["run", "resnet50", "--device", "coral_edgetpu", "--precision", "fp16"],
     ["precision", "cannot compute at fp16", "supports int8"]),
    (["run", "resnet50", "--device", "tpu_v1", "--precision", "bf16"], ["cannot compute at bf16"]),
    *[(["run", "resnet50", "--device", device, "--mode", "training"],
       ["mode", "cannot run training", "inference only"])
      for device in ("coral_edgetpu", "zcu102_dpu", "phone_npu", "tpu_v1", "jetson_orin_dla")],
    (["run", "resnet50", "--device", "tpu_v1", "--mode", "training", "--devices", "4"],
     ["cannot run training"]),
    (["cost", "resnet50", "--device", "phone_npu", "--samples", "1e6"], ["cannot run training"]),
    *[(["run", "resnet50", "--device", device, "--set", override],
       [key, "unknown precision", "did you mean"])
      for device, override, key in (("a100", "peak.fp17=100 TFLOP/s", "peak.fp17"),
                                    ("a100", "efficiency.per_precision.int3=0.5",
                                     "efficiency.per_precision.int3"),
                                    ("phone_npu", "macs_per_cycle.int9=5", "macs_per_cycle.int9"),
                                    ("a100", "energy.mac_pj.int9=5", "energy.mac_pj.int9"),
                                    ("tpu_v4", "precisions=[int9]", "precisions[0]"),
                                    ("a100", "default_precision=int9", "default_precision"))],
    (["run", "resnet50", "--device", "tpu_v4", "--set", "precisions=[]"], ["precisions"]),
    (["run", "resnet50", "--device", "a100", "--set", "sms=true"], ["sms", "whole number"]),
    (["run", "resnet50", "--device", "a100", "--set", "memory.bandwidth=1e400 GB/s"],
     ["memory.bandwidth", "finite"]),
    (["run", "resnet50", "--device", "a100", "--set", "clock=1e400 GHz"], ["clock", "finite"]),
    (["run", "resnet50", "--device", "a100", "--set", "memory.efficiency=1e-320"],
     ["memory.efficiency"]),
    (["run", "resnet50", "--device", "a100", "--set", "power.idle=900 W"],
     ["power", "above the TDP"]),
    (["show", "a100", "--set", "sms=100000000000000000000000000000"], ["sms"]),
    (["serve", "llama31_405b", "--device", "a100", "--qps", "1"],
     ["no room for a KV cache", "weights alone do not fit", "--tp"]),
]


@pytest.mark.parametrize("args, fragments", REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_impossible_requests_are_refused_in_one_line(args, fragments, tmp_path):
    assert_clean_error(accelsim(*args, cwd=tmp_path), *fragments)


def test_a_run_that_does_not_fit_memory_warns_and_says_so_in_json():
    outcome = accelsim("run", "llama2_7b", "--device", "a100", "--mode", "serve", "--batch", "64",
                       "--prompt", "2048", "--generate", "2048", "--json")
    assert outcome.code == 0
    totals = json.loads(outcome.out)["totals"]
    assert totals["fits_in_memory"] is False
    # KV cache: 2 (K, V) x 32 layers x 4096 hidden x 2 bytes x 64 requests x 4096 tokens = 128 GiB
    assert "kv_cache 128 GiB" in totals["memory_note"] and "has 80 GiB" in totals["memory_note"]
    assert outcome.err.startswith("warning: does not fit in memory: needs")
    assert len(outcome.err.strip().splitlines()) == 1


def test_a_parallel_run_that_does_not_fit_warns_once_per_device():
    outcome = accelsim("run", "gpt3_175b", "--device", "a100", "--mode", "training",
                       "--devices", "8", "--parallel", "tp=8", "--json")
    assert json.loads(outcome.out)["totals"]["fits_in_memory"] is False
    assert outcome.err.count("warning:") == 1 and "per device" in outcome.err


def test_a_run_that_fits_is_silent():
    outcome = accelsim("run", "resnet50", "--device", "a100", "--json")
    assert outcome.code == 0 and outcome.err == ""
    assert json.loads(outcome.out)["totals"]["fits_in_memory"] is True
