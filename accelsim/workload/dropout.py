"""Dropout where Megatron-LM trains GPT with it: on the attention probabilities and on each
block's output before its residual add.

The zoo's graphs carry no dropout (inference runs none). `with_dropout` inserts the three dropouts
per transformer layer that Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
Transformer Models", Section 4.1) count: after every softmax whose output a matmul reads
(a x s x s per sequence), and on the weight-GEMM input of every two-input residual add (s x h).
Each writes its output and a one-byte mask; its backward reads only the mask
(accelsim.workload.training.saved_for_backward).
"""

from __future__ import annotations

from dataclasses import replace

from accelsim.workload.ir import Graph, Op, OpKind, Tensor

MASK_DTYPE = "int8"
DROPOUT_FLOPS = 2          # per element: compare a random number with p, scale by 1 / (1 - p)


def dropout_op(name: str, x: Tensor, producer: str) -> Op:
    """Dropout of `x`: its output and a one-byte keep-mask."""
    outputs = (Tensor(f"{name}.out", x.shape, x.dtype), Tensor(f"{name}.mask", x.shape, MASK_DTYPE))
    return Op(name=name, kind=OpKind.ELEMENTWISE, inputs=(x,), outputs=outputs,
              vector_flops=DROPOUT_FLOPS * x.elements, precision=x.dtype, deps=(producer,),
              attrs=(("fn", "dropout"),))


def _dropped(graph: Graph) -> dict[str, tuple[str, str]]:
    """Tensor name -> (producing op, dropout op name) for every tensor `with_dropout` drops."""
    producer = {t.name: op for op in graph.ops for t in op.outputs}
    dropped = {}
    for op in graph.ops:
        if op.kind is OpKind.MATMUL and not op.weights:
            for t in op.inputs:
                source = producer.get(t.name)
                if source is not None and source.kind is OpKind.SOFTMAX:
                    dropped[t.name] = (source.name, f"{source.name}.dropout")
        if op.kind is OpKind.ELEMENTWISE and op.attr("fn") == "add" and len(op.inputs) == 2:
            for t in op.inputs:
                source = producer.get(t.name)
                if source is not None and source.gemm is not None and source.weights:
                    dropped[t.name] = (source.name, f"{source.name}.dropout")
    return dropped


def with_dropout(graph: Graph) -> Graph:
    """The graph with Megatron's training dropouts inserted (see the module docstring)."""
    dropped = _dropped(graph)
    if not dropped:
        return graph
    tensors = {t.name: t for op in graph.ops for t in op.outputs}
    ops = []
    for op in graph.ops:
        inputs = tuple(Tensor(f"{dropped[t.name][1]}.out", t.shape, t.dtype) if t.name in dropped
                       else t for t in op.inputs)
        extra = tuple(dropped[t.name][1] for t in op.inputs if t.name in dropped)
        ops.append(replace(op, inputs=inputs, deps=tuple(dict.fromkeys(op.deps + extra))))
        for t in op.outputs:
            if t.name in dropped:
                ops.append(dropout_op(dropped[t.name][1], tensors[t.name], op.name))
    return replace(graph, ops=tuple(ops))
