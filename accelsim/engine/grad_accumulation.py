"""Gradient accumulation over micro-batches: each fresh weight gradient added into a buffer.

A step of m micro-batches sums m gradients per weight. Megatron-LM as SC21 ran it keeps an fp32
"main_grad" per parameter and adds each micro-batch's 16-bit gradient into it in a separate kernel
after the wgrad (reading 2 + 4 bytes and writing 4 per parameter); PyTorch's autograd accumulates
into .grad with a separate add too. "fused" (Megatron's later gradient_accumulation_fusion) lets
the wgrad GEMM accumulate into the fp32 buffer itself: no extra kernel. With one micro-batch per
step there is nothing to accumulate. Only the traffic is modelled: the buffer's memory stays the
gradients' (accelsim.workload.training.training_memory).
"""

from __future__ import annotations

from dataclasses import replace

from accelsim.errors import check_name
from accelsim.workload.ir import Op, OpKind, Phase, Tensor
from accelsim.workload.trace import Trace
from accelsim.workload.training import STATE_DTYPE

ACCUMULATION = ("separate", "fused")


def check_accumulation(accumulation: str) -> None:
    """Reject a name that is not one of ACCUMULATION."""
    check_name(accumulation, ACCUMULATION, "grad_accumulation")


def accumulate_op(wgrad: Op) -> Op:
    """main_grad += grad for the weight gradients `wgrad` writes (named after its forward op)."""
    grads = tuple(t for t in wgrad.outputs)
    buffers = tuple(Tensor(f"{t.name}.main", t.shape, STATE_DTYPE) for t in grads)
    return Op(name=f"{wgrad.name.rsplit('.', 1)[0]}.accumulate", kind=OpKind.ELEMENTWISE,
              phase=Phase.WGRAD, inputs=grads + buffers, outputs=buffers,
              vector_flops=sum(t.elements for t in grads), precision=STATE_DTYPE,
              deps=(wgrad.name,), attrs=(("fn", "add"),))


def with_accumulation(trace: Trace, micro_batches: int, accumulation: str) -> Trace:
    """The trace with a separate accumulate after every weight-gradient op, when a step has more
    than one micro-batch and accumulation is "separate"."""
    check_accumulation(accumulation)
    if micro_batches == 1 or accumulation == "fused":
        return trace
    ops = []
    for op in trace.ops:
        ops.append(op)
        if op.phase is Phase.WGRAD and op.outputs:
            ops.append(accumulate_op(op))
    return replace(trace, ops=tuple(ops))
