"""Inference traces on hand-built graphs whose numbers are worked out by hand below."""

import csv
from pathlib import Path

from accelsim.workload.ir import Gemm, Graph, Op, OpKind, Tensor
from accelsim.workload.trace import MemoryBreakdown, inference_trace, peak_live_bytes
from accelsim.workload.zoo import build

MODEL_STATS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "model_stats.csv"


def stats(model_prefix: str) -> dict[str, str]:
    """The model_stats.csv row whose model starts with `model_prefix`."""
    with MODEL_STATS.open() as f:
        return next(row for row in csv.DictReader(f) if row["model"].startswith(model_prefix))


def linear(name: str, x: Tensor, out: int, dep: str | None = None, dtype: str = "fp16") -> Op:
    """y = x W for x of shape (tokens, in), no bias."""
    tokens, inp = x.shape
    return Op(name, OpKind.MATMUL, inputs=(x,), outputs=(Tensor(f"{name}.out", (tokens, out), dtype),),
              weights=(Tensor(f"{name}.w", (inp, out), dtype),), gemm=Gemm(m=tokens, n=out, k=inp),
              precision=dtype, deps=(dep,) if dep else ())


def unary(name: str, x: Tensor, dep: str, kind: OpKind = OpKind.ELEMENTWISE, fn: str = "relu") -> Op:
    """A one-input op (ReLU by default) at one FLOP per element."""
    return Op(name, kind, inputs=(x,), outputs=(Tensor(f"{name}.out", x.shape, x.dtype),),
              vector_flops=x.elements, precision=x.dtype, deps=(dep,), attrs=(("fn", fn),))


def mlp(widths=(64, 128, 128, 10), batch: int = 8, dtype: str = "fp16", relu_last: bool = False) -> Graph:
    """fc0 -> relu0 -> fc1 -> relu1 -> ... -> fc(n-1), optionally with a ReLU after the last layer."""
    ops, x, dep = [], Tensor("x", (batch, widths[0]), dtype), None
    for i, out in enumerate(widths[1:]):
        ops.append(linear(f"fc{i}", x, out, dep, dtype))
        x, dep = ops[-1].outputs[0], ops[-1].name
        if i < len(widths) - 2 or relu_last:
            ops.append(unary(f"relu{i}", x, dep))
            x, dep = ops[-1].outputs[0], ops[-1].name
    return Graph("mlp", tuple(ops), batch=batch)


def conv(name: str, x: Tensor, cout: int, dep: str | None) -> Op:
    """3x3 'same' convolution on an NCHW tensor as one GEMM."""
    b, cin, h, w = x.shape
    return Op(name, OpKind.CONV2D, inputs=(x,), outputs=(Tensor(f"{name}.out", (b, cout, h, w)),),
              weights=(Tensor(f"{name}.w", (cout, cin, 3, 3)),), gemm=Gemm(m=b * h * w, n=cout, k=9 * cin),
              deps=(dep,) if dep else ())


def tiny_resnet() -> Graph:
    """conv1 -> relu -> conv2 -> add(relu, conv2) -> global pool -> fc, on a 1x3x8x8 fp16 input."""
    c1 = conv("conv1", Tensor("x", (1, 3, 8, 8)), 4, None)
    relu = unary("relu", c1.outputs[0], "conv1")
    c2 = conv("conv2", relu.outputs[0], 4, "relu")
    add = Op("add", OpKind.ELEMENTWISE, inputs=(relu.outputs[0], c2.outputs[0]),
             outputs=(Tensor("add.out", (1, 4, 8, 8)),), vector_flops=256, deps=("relu", "conv2"),
             attrs=(("fn", "add"),))
    pool = Op("pool", OpKind.POOL, inputs=add.outputs, outputs=(Tensor("pool.out", (1, 4)),),
              vector_flops=256, deps=("add",), attrs=(("mode", "avg"),))
    fc = linear("fc", pool.outputs[0], 2, "pool")
    return Graph("tiny_resnet", (c1, relu, c2, add, pool, fc), batch=1)


def fused_qkv() -> Graph:
    """x (4x8) -> qkv (4x24) -> scores reads views q and k -> context reads scores and view v."""
    qkv = linear("qkv", Tensor("x", (4, 8)), 24)
    q, k, v = (Tensor(f"qkv.out:{part}", (4, 8)) for part in "qkv")
    scores = Op("scores", OpKind.MATMUL, inputs=(q, k), outputs=(Tensor("scores.out", (4, 4)),),
                gemm=Gemm(m=4, n=4, k=8), deps=("qkv",))
    context = Op("context", OpKind.MATMUL, inputs=(scores.outputs[0], v),
                 outputs=(Tensor("ctx.out", (4, 8)),), gemm=Gemm(m=4, n=8, k=4), deps=("scores", "qkv"))
    return Graph("fused_qkv", (qkv, scores, context))


def test_inference_trace_keeps_forward_ops_and_counts_weights():
    graph = mlp()
    trace = inference_trace(graph)
    assert trace.ops == graph.ops and trace.mode == "inference"
    assert trace.macs == 8 * 64 * 128 + 8 * 128 * 128 + 8 * 128 * 10
    assert trace.flops == 2 * trace.macs + 2 * 8 * 128          # two ReLUs, 1 FLOP per element
    assert trace.memory.weights == 2 * (64 * 128 + 128 * 128 + 128 * 10)
    assert trace.memory.gradients == trace.memory.optimizer_state == 0


def test_mlp_peak_is_two_hidden_tensors():
    # x (8x64) dies after fc0; from then on each op holds its 8x128 input and 8x128 output (fp16).
    assert peak_live_bytes(mlp().ops) == 2 * (8 * 128 * 2)
    assert inference_trace(mlp()).memory.activations == 4096


def test_residual_keeps_its_skip_tensor_alive():
    # x 384 B; every 4x8x8 map 512 B. conv1: x+h = 896; relu: 1024; conv2: a+c = 1024;
    # add reads the skip `a` and `c` and writes `s`: 1536, the peak.
    assert peak_live_bytes(tiny_resnet().ops) == 3 * 512


def test_network_input_counts_at_the_first_op():
    graph = mlp(widths=(1000, 4, 4))
    assert peak_live_bytes(graph.ops) == 8 * 1000 * 2 + 8 * 4 * 2


def test_memory_total_is_the_sum_of_parts():
    memory = MemoryBreakdown(weights=1, gradients=2, optimizer_state=3, activations=4, kv_cache=5)
    assert memory.total == 15


def test_step_sizes_count_samples_or_tokens():
    trace = inference_trace(mlp())
    assert (trace.samples_per_step, trace.tokens_per_step, trace.item) == (8, None, "samples")
    seq = Graph("seq", mlp().ops, batch=8, meta=(("seq_len", 128),))
    trace = inference_trace(seq)
    assert (trace.items_per_step, trace.item) == (8 * 128, "tokens")


def test_views_keep_their_tensor_alive():
    # qkv.out (192 B) lives until the view v is read by context: 192 + scores 32 + ctx 64 at the end.
    assert peak_live_bytes(fused_qkv().ops) == 192 + 32 + 64


def test_resnet50_weights_are_two_bytes_per_published_param():
    params = int(stats("ResNet-50")["params"])
    assert inference_trace(build("resnet50")).memory.weights == 2 * params
