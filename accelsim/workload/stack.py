"""The software stack a network runs under: how its ops become kernels.

- eager: every op is its own kernel, as PyTorch runs a model op by op without a compiler; on GPUs
  the host dispatches each op (Python, dispatcher, launch: the device's `eager_dispatch`) and the
  GPU waits when the host falls behind (accelsim.devices.host). Compiled stacks replay captured
  graphs (CUDA graphs, TensorRT, vLLM) without per-op host work.
- compiled: what inference compilers and XLA do (TensorRT, XLA, TFLite, Vitis AI, NPU compilers):
  conv + batchnorm + activation run in the producing kernel's epilogue (for inference the batchnorm
  folded into the conv's weights and bias, leaving a bias add), and attention is one fused
  kernel (FlashAttention-style: the S x S scores never reach DRAM). Residual adds join the GEMM's
  epilogue where the compiler does that: TensorRT (GPUs), XLA (TPUs, systolic arrays) and oneDNN
  on CPUs (its "sum" post-op); the
  NPU (TFLite, QNN) and FPGA (Vitis AI) runtimes run an elementwise add as its own instruction
  (PG338 lists Elementwise-Sum beside convolution). All of it is
  accelsim.workload.transforms.fuse, the one fusion implementation.

Padding-free transformer batches (TensorRT's variable-length BERT) come from a seq_len
distribution (e.g. --param seq_len=squad), padded except under this stack on GPUs
(accelsim.workload.seqlen).

Defaults (default_stack) follow what users deploy: inference and serving run compiled on every
device kind; training runs eager on GPUs and CPUs (PyTorch) and compiled elsewhere (XLA on TPUs
and other systolic arrays; NPUs and FPGAs only run compiled models).
"""

from __future__ import annotations

from dataclasses import replace

from accelsim.errors import UsageError
from accelsim.workload.ir import Graph
from accelsim.workload.transforms import fuse

STACKS = ("eager", "compiled")
EAGER_TRAINING_KINDS = ("gpu", "cpu")     # training on these kinds runs eager by default (PyTorch)
RESIDUAL_FUSING_KINDS = ("gpu", "systolic", "cpu")     # compilers folding residual adds into GEMMs


def check_stack(stack: str) -> None:
    """Reject a stack name that is not one of STACKS."""
    if stack not in STACKS:
        raise UsageError(f"unknown stack {stack!r}; expected one of {', '.join(STACKS)}",
                         key="stack")


def default_stack(kind: str, mode: str) -> str:
    """The stack users deploy on a device `kind` in `mode` (see the module docstring)."""
    return "eager" if mode == "training" and kind in EAGER_TRAINING_KINDS else "compiled"


def resolve_stack(stack: str | None, kind: str, mode: str) -> str:
    """`stack` checked, or the default for the device kind and mode when None."""
    if stack is None:
        return default_stack(kind, mode)
    check_stack(stack)
    return stack


def apply_stack(graph: Graph, stack: str, kind: str, mode: str = "inference") -> Graph:
    """The graph as `stack` runs it on a device of `kind` in `mode` (compiled: fused, and for
    inference batchnorms folded into the GEMMs before them), with meta "stack" recording which."""
    check_stack(stack)
    ran = graph if stack == "eager" else fuse(graph, residual=kind in RESIDUAL_FUSING_KINDS,
                                              fold_batchnorm=mode != "training")
    return replace(ran, meta=tuple((k, v) for k, v in ran.meta if k != "stack") + (("stack", stack),))


def only_ops(graph: Graph, kind: str | None) -> Graph:
    """The graph restricted to ops of OpKind value `kind` (e.g. "conv2d"); unchanged for None."""
    if kind is None:
        return graph
    ops = tuple(op for op in graph.ops if op.kind.value == kind)
    if not ops:
        kinds = ", ".join(sorted({op.kind.value for op in graph.ops}))
        raise UsageError(f"{graph.name} has no {kind!r} ops; it has {kinds}", key="only")
    return replace(graph, name=f"{graph.name} ({kind} only)", ops=ops)
