"""The software stack (eager | compiled): defaults per device kind and mode, recorded on every run."""

from __future__ import annotations

import json

import pytest

import accelsim
from accelsim.errors import UsageError
from accelsim.queries.whatif import whatif
from accelsim.result import Result
from accelsim.workload.ir import OpKind
from accelsim.workload.stack import apply_stack, default_stack, resolve_stack
from accelsim.workload.zoo import build
from tests.clitools import invoke
from tests.hostile.cli import accelsim as cli, assert_clean_error


@pytest.mark.parametrize("kind", ["gpu", "systolic", "npu", "fpga"])
def test_inference_and_serving_run_compiled_on_every_kind(kind):
    assert default_stack(kind, "inference") == default_stack(kind, "serve") == "compiled"


def test_training_runs_eager_on_gpus_and_compiled_under_xla():
    assert default_stack("gpu", "training") == "eager"
    assert default_stack("systolic", "training") == "compiled"


def test_an_explicit_stack_wins_and_a_bad_one_is_refused():
    assert resolve_stack("eager", "gpu", "inference") == "eager"
    with pytest.raises(UsageError, match="unknown stack"):
        resolve_stack("jit", "gpu", "inference")


def test_compiled_resnet50_on_a_gpu_is_its_53_convs_and_3_other_ops():
    # conv + bn + relu and each residual add (+ relu) run as one TensorRT kernel: 53 convolutions,
    # maxpool, avgpool and fc remain (torchvision ResNet-50 has 53 convs and 16 residual adds)
    compiled = apply_stack(build("resnet50"), "compiled", "gpu")
    assert len(compiled.ops) == 53 + 3 and compiled.info("stack") == "compiled"
    eager = apply_stack(build("resnet50"), "eager", "gpu")
    assert eager.ops == build("resnet50").ops and eager.info("stack") == "eager"


def test_npus_and_fpgas_keep_residual_adds_as_their_own_ops():
    compiled = apply_stack(build("resnet50"), "compiled", "fpga")
    assert sum(op.kind is OpKind.ELEMENTWISE for op in compiled.ops) == 16
    assert not any(op.kind is OpKind.NORM for op in compiled.ops)


def test_compiled_bert_runs_attention_as_one_kernel_per_layer():
    compiled = apply_stack(build("bert_base", seq_len=64), "compiled", "systolic")
    assert sum(op.name.endswith(".attention") for op in compiled.ops) == 12     # BERT-base layers
    assert not any(op.kind is OpKind.SOFTMAX for op in compiled.ops)


def test_every_result_records_its_stack():
    assert accelsim.simulate("resnet50", "a100").stack == "compiled"
    trained = accelsim.simulate("resnet50", "a100", mode="training", batch=2)
    assert trained.stack == "eager"
    assert accelsim.simulate("resnet50", "tpu_v4", mode="training", batch=2).stack == "compiled"
    eager = accelsim.simulate("resnet50", "a100", stack="eager")
    assert eager.stack == "eager" and eager.provenance["stack"] == "eager"
    assert eager.to_dict()["stack"] == "eager"
    assert Result.from_dict(eager.to_dict()).stack == "eager"


def test_the_compiled_stack_moves_fewer_bytes_than_eager():
    eager = accelsim.simulate("resnet50", "a100", batch=8, stack="eager")
    compiled = accelsim.simulate("resnet50", "a100", batch=8, stack="compiled")
    assert compiled["macs"] == eager["macs"]
    assert compiled["dram_bytes"] < eager["dram_bytes"]
    assert compiled["latency_s"] < eager["latency_s"]


def test_whatif_fuse_is_the_eager_baseline_against_the_compiled_stack():
    answer = whatif("resnet50", "a100", fuse=True, batch=8)
    assert (answer.base.stack, answer.variant.stack) == ("eager", "compiled")
    assert answer.base["latency_s"] == accelsim.simulate("resnet50", "a100", batch=8,
                                                         stack="eager")["latency_s"]
    assert answer.variant["latency_s"] == accelsim.simulate("resnet50", "a100",
                                                            batch=8)["latency_s"]
    with pytest.raises(UsageError, match="--fuse"):
        whatif("resnet50", "a100", fuse=True, stack="compiled")


def test_run_takes_stack_and_json_records_it(capsys):
    code, out, _ = invoke(capsys, "run", "resnet50", "--device", "a100", "--stack", "eager",
                          "--json")
    assert code == 0 and json.loads(out)["stack"] == "eager"


def test_only_keeps_one_kind_of_op(capsys):
    code, out, _ = invoke(capsys, "run", "alexnet", "--device", "eyeriss", "--only", "conv2d",
                          "--json")
    assert code == 0
    assert {layer["kind"] for layer in json.loads(out)["layers"]} == {"conv2d"}


def test_bad_stack_and_only_are_clean_cli_errors():
    assert_clean_error(cli("run", "resnet50", "--device", "a100", "--stack", "jit"), "--stack")
    assert_clean_error(cli("run", "resnet50", "--device", "a100", "--only", "lstm"), "only",
                       "no 'lstm' ops")
    assert_clean_error(cli("run", "gpt2", "--device", "a100", "--mode", "serve", "--only",
                           "matmul"), "only")


def test_inference_folds_each_batchnorm_into_its_conv_leaving_the_bias_add():
    # TensorRT, oneDNN, TFLite and XLA fold an inference batchnorm (y = a x + b, 2 FLOPs per
    # element) into the conv before it: a scales the weights ahead of time, b is the conv's bias
    graph = build("resnet50")
    norms = [op for op in graph.ops if op.attr("norm") == "batchnorm"]
    assert len(norms) == 53                                   # one after each of the 53 convs
    assert all(op.vector_flops == 2 * op.outputs[0].elements for op in norms)
    elements = sum(op.outputs[0].elements for op in norms)
    vector = sum(op.vector_flops for op in graph.ops)
    inference = apply_stack(graph, "compiled", "gpu")
    assert sum(op.vector_flops for op in inference.ops) == vector - elements
    assert sum(op.macs for op in inference.ops) == sum(op.macs for op in graph.ops)
    training = apply_stack(graph, "compiled", "systolic", "training")    # batch statistics
    assert sum(op.vector_flops for op in training.ops) == vector
