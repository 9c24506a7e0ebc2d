"""Single-kernel micro-benchmarks: one GEMM, as GEMM benchmarks (DeepBench, cuBLAS sweeps) time it."""

from __future__ import annotations

from accelsim.workload.ir import Graph
from accelsim.workload.zoo._builder import NetBuilder


def gemm(batch: int = 1, precision: str = "fp16", m: int = 4096, n: int = 4096,
         k: int = 4096) -> Graph:
    """One GEMM, C[m, n] = A[m, k] @ B[k, n] per sample, B a weight (e.g. DeepBench's M, N, K)."""
    b = NetBuilder(f"gemm_{m}x{n}x{k}", batch, precision)
    b.linear("gemm", b.input((batch * m, k), "a"), n, bias=False)
    return b.graph(family="gemm", m=m, n=n, k=k)
