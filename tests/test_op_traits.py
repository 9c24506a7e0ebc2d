"""The op-trait table: one entry per op kind, and the pointwise ops it defines."""

import pytest

from accelsim.workload.ir import (OP_TRAITS, Op, OpCategory, OpKind, OpTraits, Tensor, expected_experts,
                                 pointwise)


def test_every_op_kind_has_traits():
    assert set(OP_TRAITS) == set(OpKind)
    assert all(isinstance(traits, OpTraits) for traits in OP_TRAITS.values())


def test_gemm_category_is_convolution_matmul_and_experts():
    gemm = {kind for kind, traits in OP_TRAITS.items() if traits.category is OpCategory.GEMM}
    assert gemm == {OpKind.CONV2D, OpKind.MATMUL, OpKind.MOE}


@pytest.mark.parametrize("kind, attrs, expected", [
    (OpKind.ELEMENTWISE, (("fn", "relu"),), True),
    (OpKind.NORM, (("norm", "batchnorm"),), True),
    (OpKind.NORM, (("norm", "layernorm"),), False),
    (OpKind.SOFTMAX, (), False),
    (OpKind.MATMUL, (), False),
    (OpKind.OPTIMIZER, (), False),
])
def test_pointwise_ops_are_elementwise_and_batchnorm(kind, attrs, expected):
    x = Tensor("x", (4, 8))
    assert pointwise(Op("op", kind, inputs=(x,), outputs=(x,), attrs=attrs)) is expected


@pytest.mark.parametrize("tokens, experts, top_k, expected", [
    (1, 8, 2, 2.0),                        # one token touches exactly its top-k experts
    (2, 8, 2, 8 * (1 - (6 / 8) ** 2)),     # 3.5: 2 + 2 - expected overlap 0.5
    (1, 8, 8, 8.0),
])
def test_expected_experts_closed_form(tokens, experts, top_k, expected):
    assert expected_experts(tokens, experts, top_k) == pytest.approx(expected)


def test_expected_experts_approaches_all_experts():
    assert expected_experts(4096, 8, 2) == pytest.approx(8.0)


def test_moe_op_reads_only_touched_experts():
    w = Tensor("experts.gate", (8, 16, 4))
    op = Op("moe", OpKind.MOE, inputs=(Tensor("x", (1, 4)),), outputs=(Tensor("y", (1, 4)),),
            weights=(w,), attrs=(("experts", 8), ("top_k", 2), ("tokens", 1)))
    assert op.weight_bytes == pytest.approx(w.bytes * 2 / 8)


def test_embedding_reads_the_rows_it_gathers():
    table = Tensor("table", (1000, 64))
    op = Op("emb", OpKind.EMBEDDING, inputs=(Tensor("ids", (1, 3), "int32"),),
            outputs=(Tensor("rows", (1, 3, 64)),), weights=(table,))
    assert op.weight_bytes == pytest.approx(3 * 64 * 2)
