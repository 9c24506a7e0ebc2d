"""Recommendation models: DLRM as MLPerf runs it on Criteo 1TB (Naumov et al. 2019)."""

from __future__ import annotations

from accelsim.workload.ir import Gemm, Graph
from accelsim.workload.zoo._builder import Act, NetBuilder

# MLPerf DLRM on Criteo Terabyte, --max-ind-range=40000000 (facebookresearch/dlrm, dlrm_s_pytorch.py):
# rows of the 26 categorical tables, embedding width, bottom and top MLP widths.
CRITEO_1TB_TABLES = (39884406, 39043, 17289, 7420, 20263, 3, 7120, 1543, 63, 38532951, 2953546,
                     403346, 10, 2208, 11938, 155, 4, 976, 14, 39979771, 25641295, 39664984, 585935,
                     12972, 108, 36)
DLRM_DIM = 128
DLRM_DENSE = 13
DLRM_BOTTOM = (512, 256, 128)
DLRM_TOP = (1024, 1024, 512, 256, 1)


def _mlp(b: NetBuilder, prefix: str, x: Act, widths: tuple[int, ...], last: str) -> Act:
    """Linear layers with ReLU between them and `last` after the final one."""
    for i, width in enumerate(widths):
        x = b.activation(f"{prefix}.{i}.act", b.linear(f"{prefix}.{i}", x, width),
                         last if i == len(widths) - 1 else "relu")
    return x


def dlrm(batch: int = 1, precision: str = "fp16") -> Graph:
    """DLRM, MLPerf Criteo 1TB config: 26 tables of width 128, dot-product feature interaction.

    Each sample looks up one row per table (a gather bound by memory bandwidth); the bottom MLP's
    output and the 26 rows interact through their pairwise dot products (27 x 27, the 351 below the
    diagonal kept), concatenated with the bottom output into the top MLP (479 inputs). As in the
    reference training code, the tables take sparse gradients: a step updates only the rows it read."""
    b = NetBuilder("dlrm", batch, precision)
    dense = _mlp(b, "bottom_mlp", b.input((batch, DLRM_DENSE), "dense"), DLRM_BOTTOM, "relu")
    rows = [b.embedding(f"emb.{i}", b.input((batch, 1), f"sparse{i}_ids", "int32"), size, DLRM_DIM,
                        sparse=True) for i, size in enumerate(CRITEO_1TB_TABLES)]
    features = len(rows) + 1
    t = b.concat("interaction.stack", b.view(dense, (batch, 1, DLRM_DIM)), *rows)
    z = b.matmul("interaction.dot", t, b.view(t, t.shape, "T"), (batch, features, features),
                 Gemm(m=features, n=features, k=DLRM_DIM, count=batch))
    pairs = features * (features - 1) // 2
    x = b.concat("interaction.cat", dense, b.view(z, (batch, pairs), "tril"))
    _mlp(b, "top_mlp", x, DLRM_TOP, "sigmoid")
    return b.graph(family="recommendation", tables=len(CRITEO_1TB_TABLES), embedding_dim=DLRM_DIM)
