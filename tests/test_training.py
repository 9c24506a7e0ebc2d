"""Training traces: hand-worked numbers on small graphs, closed forms and published counts on the zoo."""

import re

import pytest

from accelsim.errors import UsageError
from accelsim.workload.ir import OP_TRAITS, Gemm, Graph, Op, OpCategory, OpKind, Phase, Tensor
from accelsim.workload.trace import Trace
from accelsim.workload.training import backward_ops, layer_cuts, training_trace
from accelsim.workload.zoo import build
from test_trace import fused_qkv, linear, mlp, stats, tiny_resnet, unary

MLP_PARAMS = 64 * 128 + 128 * 128 + 128 * 10


def by_name(trace: Trace) -> dict[str, Op]:
    """Ops of a trace by name."""
    return {op.name: op for op in trace.ops}


def assert_valid_order(trace: Trace) -> None:
    """Op names are unique and every dep names an op that comes earlier."""
    seen: set[str] = set()
    for op in trace.ops:
        assert op.name not in seen
        assert set(op.deps) <= seen, (op.name, set(op.deps) - seen)
        seen.add(op.name)


def test_mlp_training_macs_are_three_forwards_minus_first_dgrad():
    graph = mlp()
    trace = training_trace(graph)
    forward = 8 * 64 * 128 + 8 * 128 * 128 + 8 * 128 * 10
    assert graph.macs == forward
    assert trace.macs == 3 * forward - 8 * 64 * 128
    assert "fc0.dgrad" not in by_name(trace) and "fc0.wgrad" in by_name(trace)
    assert_valid_order(trace)


def test_mlp_training_flops_add_relu_backward_and_adam():
    trace = training_trace(mlp())
    relu_flops = 2 * 8 * 128                     # forward, and the same again in backward
    assert trace.flops == 2 * trace.macs + 2 * relu_flops + 12 * MLP_PARAMS
    assert trace.flops_by_phase()[Phase.OPTIMIZER] == 12 * MLP_PARAMS


def test_backward_gemm_shapes():
    ops = by_name(training_trace(mlp()))
    assert ops["fc1.dgrad"].gemm == Gemm(m=8, n=128, k=128)       # dX (8x128) = dY (8x128) W^T
    assert ops["fc2.dgrad"].gemm == Gemm(m=8, n=128, k=10)        # dX (8x128) = dY (8x10) W^T (10x128)
    assert ops["fc2.wgrad"].gemm == Gemm(m=128, n=10, k=8)        # dW (128x10) = X^T (128x8) dY (8x10)
    assert ops["fc2.wgrad"].outputs[0].shape == (128, 10)


def test_backward_runs_in_reverse_with_gradient_deps():
    trace = training_trace(mlp())
    names = [op.name for op in trace.ops if op.phase in (Phase.DGRAD, Phase.WGRAD)]
    assert names == ["fc2.dgrad", "fc2.wgrad", "relu1.dgrad", "fc1.dgrad", "fc1.wgrad", "relu0.dgrad",
                     "fc0.wgrad"]
    ops = by_name(trace)
    assert ops["fc1.wgrad"].deps == ("relu1.dgrad", "fc1")
    assert ops["fc2.dgrad"].deps == ("fc2",)                      # its gradient comes from the loss


@pytest.mark.parametrize("dtype, optimizer, weights, grads, state", [
    ("fp16", "adam", 2, 2, 12),      # ZeRO (Rajbhandari et al. 2020) 3.1: 2 + 2 + 12 = 16 bytes/param
    ("bf16", "adam", 2, 2, 12),
    ("fp32", "adam", 4, 4, 8),
    ("fp16", "sgd", 2, 2, 8),        # fp32 master + momentum
    ("fp32", "sgd", 4, 4, 4),
])
def test_model_state_bytes_per_param(dtype, optimizer, weights, grads, state):
    memory = training_trace(mlp(dtype=dtype), optimizer=optimizer).memory
    assert memory.weights == weights * MLP_PARAMS
    assert memory.gradients == grads * MLP_PARAMS
    assert memory.optimizer_state == state * MLP_PARAMS


def test_master_weights_can_be_turned_off():
    memory = training_trace(mlp(), master_weights=False).memory
    assert memory.optimizer_state == 8 * MLP_PARAMS


def test_optimizer_ops_move_weights_grads_and_states():
    ops = by_name(training_trace(mlp()))
    update = ops["fc1.optimizer"]
    assert update.phase is Phase.OPTIMIZER and update.deps == ("fc1.wgrad",)
    params = 128 * 128
    assert update.input_bytes == (2 + 3 * 4) * params           # fp16 grad, fp32 master, m, v
    assert update.output_bytes == (2 + 3 * 4) * params          # fp16 weight copy, master, m, v
    assert update.vector_flops == 12 * params


def test_mlp_activations_kept_for_backward():
    # fc0 keeps x (8x64), relu0 and fc1 share relu0's output (8x128), relu1 and fc2 relu1's (8x128);
    # fc outputs are read by nobody's backward (ReLU keeps its own output). fp16.
    assert training_trace(mlp()).memory.activations == 2 * (8 * 64 + 2 * 8 * 128)


def test_residual_network_cuts_only_between_blocks():
    # conv1 | relu | conv2 add | pool | fc: inside the residual block two tensors cross.
    assert layer_cuts(tiny_resnet().ops) == [1, 2, 4, 5]


def test_checkpointing_keeps_boundaries_and_one_segment():
    # 16 ops, each a 4x32 fp16 tensor (256 B) long: 16 units, segments of sqrt(16) = 4 ops.
    graph = mlp(widths=(32,) * 9, batch=4, relu_last=True)
    plain, ckpt = training_trace(graph), training_trace(graph, checkpoint=True)
    assert plain.memory.activations == 9 * 256                   # x and the 8 ReLU outputs
    # kept: x and the outputs of relu1, relu3, relu5; the last segment re-creates relu6 and relu7's.
    assert ckpt.memory.activations == 4 * 256 + 2 * 256
    assert ckpt.flops == plain.flops + graph.flops
    assert sum(op.phase is Phase.RECOMPUTE for op in ckpt.ops) == len(graph.ops)
    assert_valid_order(ckpt)


def test_recompute_runs_right_before_its_segments_backward():
    trace = training_trace(mlp(widths=(32,) * 9, batch=4, relu_last=True), checkpoint="sqrt")
    names = [op.name for op in trace.ops]
    last_segment = names.index("fc6.recompute")
    assert names[last_segment:last_segment + 5] == ["fc6.recompute", "relu6.recompute", "fc7.recompute",
                                                    "relu7.recompute", "relu7.dgrad"]
    ops = by_name(trace)
    assert ops["fc6.recompute"].deps == ("relu5",)                # the kept boundary
    assert ops["relu6.recompute"].deps == ("fc6.recompute",)
    assert ops["fc6.wgrad"].deps == ("relu6.dgrad", "fc6.recompute")


def test_bad_checkpoint_and_optimizer_are_usage_errors():
    with pytest.raises(UsageError):
        training_trace(mlp(), checkpoint="every")
    with pytest.raises(UsageError):
        training_trace(mlp(), optimizer="lamb")


def attention_graph(tokens: int = 16, d: int = 8, heads: int = 2) -> Graph:
    """x -> q, k -> scores = q k^T / sqrt(d) per head (weightless batched matmul) -> softmax."""
    x = Tensor("x", (tokens, heads * d))
    q, k = linear("q", x, heads * d), linear("k", x, heads * d)
    scores = Op("scores", OpKind.MATMUL, inputs=(q.outputs[0], k.outputs[0]),
                outputs=(Tensor("scores.out", (heads, tokens, tokens)),),
                gemm=Gemm(m=tokens, n=tokens, k=d, count=heads), vector_flops=heads * tokens * tokens,
                deps=("q", "k"))
    softmax = unary("softmax", scores.outputs[0], "scores", kind=OpKind.SOFTMAX)
    return Graph("attention", (q, k, scores, softmax))


def test_attention_matmul_has_two_dgrads_folded_and_no_wgrad():
    ops = by_name(training_trace(attention_graph()))
    assert ops["scores.dgrad"].gemm == Gemm(m=16, n=8, k=16, count=4)
    assert ops["scores.dgrad"].macs == 2 * 16 * 16 * 8 * 2
    assert [o.name for o in ops["scores.dgrad"].outputs] == ["q.out.grad", "k.out.grad"]
    assert ops["scores.dgrad"].vector_flops == 2 * 16 * 16                 # the 1/sqrt(d) scaling of dC
    assert "scores.wgrad" not in ops
    assert ops["softmax.dgrad"].vector_flops == 2 * (2 * 16 * 16)


def test_views_of_a_fused_projection_get_gradients():
    ops = by_name(training_trace(fused_qkv()))
    assert [t.name for t in ops["scores.dgrad"].outputs] == ["qkv.out.grad:q", "qkv.out.grad:k"]
    assert ops["qkv.wgrad"].deps == ("scores.dgrad", "context.dgrad", "qkv")
    assert "qkv.dgrad" not in ops


def test_embedding_gets_scatter_add_wgrad_and_tied_weights_update_once():
    table = Tensor("wte", (100, 8))
    ids = Tensor("ids", (2, 5), "int32")
    emb = Op("emb", OpKind.EMBEDDING, inputs=(ids,), outputs=(Tensor("emb.out", (10, 8)),), weights=(table,))
    head = Op("head", OpKind.MATMUL, inputs=emb.outputs, outputs=(Tensor("logits", (10, 100)),),
              weights=(table,), gemm=Gemm(m=10, n=100, k=8), deps=("emb",))
    trace = training_trace(Graph("tied", (emb, head), batch=2))
    ops = by_name(trace)
    assert "emb.dgrad" not in ops and ops["emb.wgrad"].vector_flops == 10 * 8
    assert [op.name for op in trace.ops if op.phase is Phase.OPTIMIZER] == ["emb.optimizer"]
    assert ops["emb.optimizer"].deps == ("emb.wgrad", "head.wgrad")
    assert trace.memory.weights + trace.memory.gradients + trace.memory.optimizer_state == 16 * 800


def backward_of(kind: OpKind) -> dict[str, Op]:
    """Backward ops of `src -> op`, where op (of `kind`, with weights, a Gemm if the traits say GEMM)
    maps a produced (4, 8) tensor to a (4, 8) tensor at 32 vector FLOPs."""
    x, y = Tensor("x", (4, 8)), Tensor("y", (4, 8))
    gemm = Gemm(m=4, n=8, k=8) if OP_TRAITS[kind].category is OpCategory.GEMM else None
    src = Op("src", OpKind.ELEMENTWISE, inputs=(Tensor("in", (4, 8)),), outputs=(x,))
    op = Op("op", kind, inputs=(x,), outputs=(y,), weights=(Tensor("w", (8, 8)),), gemm=gemm,
            vector_flops=32, deps=("src",))
    return {o.name: o for o in backward_ops((src, op), [0])}


@pytest.mark.parametrize("kind", list(OpKind))
def test_backward_flops_of_every_kind_follow_its_traits(kind):
    ops, traits = backward_of(kind), OP_TRAITS[kind]
    dgrad, wgrad = ops["op.dgrad"], ops["op.wgrad"]
    if dgrad.gemm:                                    # a GEMM's vector FLOPs go to its wgrad
        assert dgrad.macs == wgrad.macs == 4 * 8 * 8
        assert (dgrad.vector_flops, wgrad.vector_flops) == (0, traits.backward_vector * 32)
    else:
        assert (dgrad.macs, wgrad.macs) == (0, 0)
        assert dgrad.vector_flops == traits.backward_vector * 32
        assert wgrad.vector_flops == traits.wgrad_per_output * 4 * 8


@pytest.mark.parametrize("kind, dgrad, wgrad", [
    (OpKind.MATMUL, 2 * 4 * 8 * 8, 2 * 4 * 8 * 8 + 32),   # dX = dY W^T, dW = X^T dY: the forward's MACs
    (OpKind.NORM, 2 * 32, 2 * 4 * 8),                    # through mean and variance; scale multiply-add
    (OpKind.EMBEDDING, 0, 4 * 8),                        # a scatter-add of the output gradient
])
def test_backward_flops_closed_forms(kind, dgrad, wgrad):
    ops = backward_of(kind)
    assert (ops["op.dgrad"].flops, ops["op.wgrad"].flops) == (dgrad, wgrad)


# --- the zoo ---------------------------------------------------------------------------------------

def megatron_flops(graph: Graph, recompute: bool) -> float:
    """Narayanan et al. 2021 (SC'21) section 5.1: 72 B s l h^2 (1 + s/6h + V/12hl) FLOPs per step, or
    96 B s l h^2 (1 + s/6h + V/16hl) when every layer's forward is recomputed (the logits are not)."""
    b, s, l, h, v = (graph.batch, graph.info("seq_len"), graph.info("layers"), graph.info("hidden"),
                     graph.info("vocab"))
    if recompute:
        return 96 * b * s * l * h ** 2 * (1 + s / (6 * h) + v / (16 * h * l))
    return 72 * b * s * l * h ** 2 * (1 + s / (6 * h) + v / (12 * h * l))


@pytest.mark.parametrize("name", ["resnet50", "bert_base", "gpt2"])
def test_training_is_about_three_forwards(name):
    graph = build(name, batch=8)
    trace = training_trace(graph)
    assert 2.9 <= trace.flops / graph.flops <= 3.1
    assert_valid_order(trace)


def test_gpt3_training_compute_matches_brown_and_megatron():
    graph = build("gpt3_175b", batch=1)
    trace = training_trace(graph)
    row = stats("GPT-3 175B")
    tokens = float(row["input"].split()[0])                                   # 300e9
    published = float(re.search(r"([\d.]+e\d+) training FLOPs", row["source"]).group(1))
    assert trace.tokens_per_step == graph.info("seq_len") == 2048
    total = trace.flops * tokens / trace.tokens_per_step
    assert total == pytest.approx(published, rel=0.03)
    # Brown et al. count 6 N D, which leaves out the attention score and context matmuls: s / 6h more.
    s, h = graph.info("seq_len"), graph.info("hidden")
    assert total == pytest.approx(published * (1 + s / (6 * h)), rel=0.01)
    assert trace.flops == pytest.approx(megatron_flops(graph, recompute=False), rel=0.01)


def test_gpt3_full_recompute_matches_megatron():
    graph = build("gpt3_175b", batch=1)
    plain, ckpt = training_trace(graph), training_trace(graph, checkpoint=True)
    assert ckpt.flops == pytest.approx(megatron_flops(graph, recompute=True), rel=0.01)
    assert 3.9 <= ckpt.flops / graph.flops <= 4.1
    assert ckpt.memory.activations < plain.memory.activations / 5


@pytest.mark.parametrize("name", ["resnet50", "gpt2"])
def test_checkpointing_shrinks_activations(name):
    graph = build(name, batch=8)
    plain, ckpt = training_trace(graph), training_trace(graph, checkpoint=True)
    assert ckpt.memory.activations < plain.memory.activations / 2
    assert ckpt.flops == plain.flops + graph.flops
    assert_valid_order(ckpt)


def test_gpt2_activations_match_korthikanti_without_dropout():
    # Korthikanti et al. 2022 eq. 1: s b h (34 + 5 a s / h) bytes per layer in fp16. Without dropout
    # its masks (2 sbh + a s^2 b) and the dropped-out probabilities (2 a s^2 b) go: 32 sbh + 2 a s^2 b.
    # Outside the layers: the final norm's and the LM head's inputs (2 sbh each) and the int32 ids.
    b, s = 2, 1024
    graph = build("gpt2", batch=b, seq_len=s)
    layers, h, a = graph.info("layers"), graph.info("hidden"), graph.info("heads")
    per_layer = 32 * s * b * h + 2 * a * s * s * b
    ids = 4 * b * s + 4 * s                                                   # token and position ids
    assert training_trace(graph).memory.activations == layers * per_layer + 4 * s * b * h + ids


def test_bert_base_adam_mixed_precision_is_16_bytes_per_param():
    memory = training_trace(build("bert_base", precision="fp16")).memory
    params = int(stats("BERT-base")["params"])
    assert memory.weights + memory.gradients + memory.optimizer_state == 16 * params
