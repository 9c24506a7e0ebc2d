"""Bounds on workload sizes: a hostile size is refused here instead of overflowing int64 later."""

from __future__ import annotations

from accelsim.errors import WorkloadError
from accelsim.workload.ir import Graph

MAX_SIZE = 2**31            # any one size: batch, a dimension, a channel, head, layer or table count
MAX_OPS = 100_000           # ops in one graph
MAX_ELEMENTS = 2**50        # elements of one tensor
MAX_FLOPS = 2**60           # FLOPs of one graph (a training step's ~3x stays within int64)
MAX_GEMM_DIM = 2**40        # m, n, k and count of one GEMM (the systolic kernels' domain)


def is_size(value: object) -> bool:
    """True for an int in [1, MAX_SIZE] (bools excluded)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SIZE


def check_graph(graph: Graph, file: str | None = None) -> Graph:
    """`graph` if it has ops and stays within MAX_ELEMENTS, MAX_GEMM_DIM and MAX_FLOPS, else a
    WorkloadError."""
    if not graph.ops:
        raise WorkloadError("the network has no ops to run", file=file)
    for op in graph.ops:
        for tensor in (*op.inputs, *op.outputs, *op.weights):
            if tensor.elements > MAX_ELEMENTS:
                raise WorkloadError(f"tensor {tensor.name!r} has {tensor.elements:.3g} elements, "
                                    f"more than the limit of 2**50", file=file, key=op.name)
        if op.gemm is not None and max(op.gemm.m, op.gemm.n, op.gemm.k, op.gemm.count) > MAX_GEMM_DIM:
            raise WorkloadError(f"its GEMM {op.gemm.m} x {op.gemm.n} x {op.gemm.k} (x {op.gemm.count}) "
                                f"has a dimension over the limit of 2**40", file=file, key=op.name)
    if graph.flops > MAX_FLOPS:
        raise WorkloadError(f"the network needs {graph.flops:.3g} FLOPs, more than the limit of "
                            f"2**60", file=file)
    return graph
