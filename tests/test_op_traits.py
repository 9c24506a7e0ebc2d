"""The op-trait table: one entry per op kind."""

from accelsim.workload.ir import OP_TRAITS, OpCategory, OpKind, OpTraits


def test_every_op_kind_has_traits():
    assert set(OP_TRAITS) == set(OpKind)
    assert all(isinstance(traits, OpTraits) for traits in OP_TRAITS.values())


def test_gemm_kinds_are_the_ones_with_a_gemm_view():
    gemm = {kind for kind, traits in OP_TRAITS.items() if traits.category is OpCategory.GEMM}
    assert gemm == {OpKind.CONV2D, OpKind.MATMUL}
