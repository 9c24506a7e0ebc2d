"""Networks as the measured systems ran them: inference-engine epilogue fusion, and BERT-large.

Inference engines (TensorRT, the Edge TPU and Vitis AI compilers) fold batch norm into the
preceding convolution and run activations, residual adds, normalizations and (in fused attention)
softmax in the epilogue of the GEMM that produced their input, so those intermediates never reach
DRAM. `fuse_epilogues` applies that to a zoo graph. BERT-large (MLPerf's BERT) is not in the zoo;
`bert_large` builds it with the zoo's transformer builder at the published dimensions.
"""

from __future__ import annotations

from collections import Counter

from accelsim.workload.ir import Graph, Op, OpKind
from accelsim.workload.trace import storage

EPILOGUE_KINDS = (OpKind.ELEMENTWISE, OpKind.NORM, OpKind.SOFTMAX)
# BERT-large (Devlin et al. 2018): 24 layers, hidden 1024, 16 heads, FFN 4096, post-norm.
BERT_LARGE = dict(layers=24, hidden=1024, heads=16, ffn=4096, pre_norm=False)
BERT_VOCAB = 30522
BERT_MAX_POSITIONS = 512


def fuse_epilogues(graph: Graph) -> Graph:
    """Fold each elementwise/norm/softmax op into the GEMM-like op whose sole reader it is."""
    readers = Counter(storage(t.name) for op in graph.ops for t in op.inputs)
    ops: dict[str, Op] = {}          # fused ops by name, in execution order
    owner: dict[str, str] = {}       # tensor name -> fused GEMM-like op that writes it
    alias: dict[str, str] = {}       # folded op name -> op it was folded into
    for op in graph.ops:
        op = op.with_(deps=tuple(dict.fromkeys(alias.get(d, d) for d in op.deps)))
        chained = next((t for t in op.inputs if t.name in owner and readers[storage(t.name)] == 1),
                       None)
        if op.kind not in EPILOGUE_KINDS or chained is None:
            ops[op.name] = op
            if op.gemm is not None:
                owner.update((t.name, op.name) for t in op.outputs)
            continue
        host = ops.pop(owner.pop(chained.name))   # re-inserted last: after the epilogue's inputs
        ops[host.name] = host.with_(
            inputs=host.inputs + tuple(t for t in op.inputs if t is not chained),
            outputs=op.outputs, weights=host.weights + op.weights,
            vector_flops=host.vector_flops + op.vector_flops,
            deps=tuple(dict.fromkeys(host.deps + tuple(d for d in op.deps if d != host.name))))
        alias[op.name] = host.name
        owner.update((t.name, host.name) for t in op.outputs)
    return Graph(graph.name, tuple(ops.values()), graph.batch, graph.meta)


def bert_large(batch: int = 1, precision: str = "fp16", seq_len: int = 384) -> Graph:
    """BERT-large for SQuAD as MLPerf runs it: embeddings, 24 post-norm layers, span head."""
    from accelsim.workload.zoo._builder import NetBuilder
    from accelsim.workload.zoo._transformer import TransformerSpec, transformer_stack

    spec = TransformerSpec(**BERT_LARGE)
    b = NetBuilder("bert_large", batch, precision)
    tables = (("word", (batch, seq_len), BERT_VOCAB), ("position", (seq_len,), BERT_MAX_POSITIONS),
              ("token_type", (batch, seq_len), 2))
    terms = [b.embedding(f"embeddings.{name}", b.input(shape, f"{name}_ids", "int32"), rows,
                         spec.hidden) for name, shape, rows in tables]
    x = b.norm("embeddings.norm", b.add("embeddings.add", *terms))
    x = transformer_stack(b, "encoder", x, spec)
    b.linear("qa_outputs", x, 2)                   # start and end logits per token
    return b.graph(**spec.meta("encoder", seq_len, BERT_VOCAB))
