"""The op-trait table: one entry per op kind, and the pointwise ops it defines."""

import pytest

from accelsim.workload.ir import OP_TRAITS, Op, OpCategory, OpKind, OpTraits, Tensor, pointwise


def test_every_op_kind_has_traits():
    assert set(OP_TRAITS) == set(OpKind)
    assert all(isinstance(traits, OpTraits) for traits in OP_TRAITS.values())


def test_gemm_category_is_convolution_and_matmul():
    gemm = {kind for kind, traits in OP_TRAITS.items() if traits.category is OpCategory.GEMM}
    assert gemm == {OpKind.CONV2D, OpKind.MATMUL}


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
