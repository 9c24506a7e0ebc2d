"""Optimizations as pure Graph -> Graph functions: quantize, prune, fuse; and distillation deltas.

- quantize(graph, precision, layers=None): the chosen ops (default all) compute at `precision`, and
  their weights and outputs are stored at it; every op reading one of those outputs reads it at the new
  dtype. Network inputs (images, token ids) keep their dtype. A device without the precision computes
  at its fallback (accelsim.engine.single.computable warns) while the tensors stay stored at the new dtype.
- prune(graph, sparsity, layers=None): the weight matrix (weights[0]) of every GEMM op with weights
  (convolutions, linear layers) is stored compressed; biases, norms and embedding gathers are kept.
  * unstructured (a float s in [0, 1)): the nonzero (1 - s) of the values plus a 1-bit-per-element
    bitmap locating them: bytes = elements x ((1 - s) x bytes_per_element + 1/8). The math is
    unchanged: no bundled device skips zeros of unstructured sparsity.
  * "2:4" (two nonzeros in every four): half the values plus a 2-bit index per kept value (NVIDIA's
    compressed format, A100 whitepaper): bytes = elements x (bytes_per_element / 2 + 1/8). The op gets
    attrs sparsity="2:4": devices with sparsity_2_4 (accelsim.devices.gpu) run its math at twice the
    tensor-core rate; elsewhere the math is dense. Storage is compressed on every device.
- fuse(graph): (1) attention: a scores matmul, its softmax and the context matmul become one op
  ("<prefix>.attention", FlashAttention-style). Scores (S x keys x head_dim) and context (S x head_dim
  x keys) are equal-sized products, so its Gemm is the context product with the reduction doubled:
  MACs are unchanged, the output is the real [S, head_dim] one, the second operand is K and V stacked,
  and the S x S scores and probabilities never reach DRAM. (2) epilogues: an elementwise op or a
  batchnorm that directly follows the op producing its input, when that output has no other reader,
  merges into the producer (conv + bn + relu, matmul + gelu, elementwise chains such as a residual
  add + relu): the merged op keeps the producer's name and GEMM, adds the vector FLOPs and reads the
  consumer's other inputs, and the intermediate tensor disappears. A GEMM takes only epilogues with
  no other input (device models read every input of a GEMM op as a tiled operand, so a fused residual
  would be charged as re-read per tile). (3) with fold_batchnorm (inference), a batchnorm right
  after a GEMM is folded into it as inference compilers do (TensorRT, oneDNN/IPEX, TFLite, XLA):
  its scale multiplies the weights once ahead of time and its shift becomes the GEMM's bias, so
  only the bias add (1 FLOP per element, not the multiply-add's 2) stays in the epilogue. Fusion
  targets inference; a training trace of a fused graph differentiates each merged op as one op,
  and training never folds a batchnorm (it normalizes with each batch's statistics).
- distillation(teacher, student): parameter, MAC and FLOP deltas of a smaller network trained to mimic
  a larger one (accuracy is out of scope); `accelsim whatif --student` adds the device costs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, replace

from accelsim.errors import UsageError
from accelsim.workload.ir import Graph, Op, OpKind, Tensor, pointwise
from accelsim.workload.trace import storage
from accelsim.workload.zoo import check_precision

BITMAP_INDEX_BITS = 1.0           # unstructured: one bit per element marks the nonzeros
TWO_FOUR_INDEX_BITS = 2.0 * 0.5   # 2:4: a 2-bit position per kept value, half the elements kept


def select(graph: Graph, layers: Iterable[str] | None) -> set[str]:
    """Names of the ops matching any of `layers` (names or fnmatch patterns); all ops for None."""
    names = [op.name for op in graph.ops]
    if layers is None:
        return set(names)
    chosen: set[str] = set()
    for pattern in layers:
        matched = fnmatch.filter(names, pattern)
        if not matched:
            raise UsageError(f"no op of {graph.name} matches {pattern!r}", key="layers")
        chosen.update(matched)
    return chosen


def _retype(ops: Iterable[Op], weights: dict[str, Tensor]) -> tuple[Op, ...]:
    """Ops whose weights come from `weights` by name and whose inputs take their producers' dtypes."""
    ops = [op.with_(weights=tuple(weights.get(w.name, w) for w in op.weights)) for op in ops]
    produced = {t.name: t.dtype for op in ops for t in op.outputs}
    return tuple(op.with_(inputs=tuple(replace(t, dtype=produced.get(storage(t.name), t.dtype))
                                       for t in op.inputs)) for op in ops)


def quantize(graph: Graph, precision: str, *, layers: Iterable[str] | None = None) -> Graph:
    """The graph with the chosen ops (default all) computing and storing at `precision`."""
    check_precision(precision)
    chosen = select(graph, layers)
    ops = [op.with_(precision=precision, outputs=tuple(replace(t, dtype=precision) for t in op.outputs))
           if op.name in chosen else op for op in graph.ops]
    weights = {w.name: replace(w, dtype=precision) for op in ops if op.name in chosen for w in op.weights}
    return replace(graph, ops=_retype(ops, weights))


def parse_sparsity(sparsity: float | str) -> float | str:
    """A fraction in [0, 1) for unstructured pruning, or "2:4"; anything else is a UsageError."""
    if sparsity == "2:4":
        return sparsity
    try:
        value = float(sparsity)
    except (TypeError, ValueError):
        raise UsageError(f"expected a fraction in [0, 1) or '2:4', got {sparsity!r}",
                         key="sparsity") from None
    if not 0.0 <= value < 1.0:
        raise UsageError(f"expected a fraction in [0, 1) or '2:4', got {sparsity!r}", key="sparsity")
    return value


def prune(graph: Graph, sparsity: float | str, *, layers: Iterable[str] | None = None) -> Graph:
    """The graph with the GEMM weight matrices of the chosen ops pruned and stored compressed."""
    sparsity = parse_sparsity(sparsity)
    chosen = select(graph, layers)
    targets = [op for op in graph.ops if op.name in chosen and op.gemm is not None and op.weights]
    if sparsity == "2:4":
        density, index_bits = 0.5, TWO_FOUR_INDEX_BITS
    else:
        density, index_bits = 1.0 - sparsity, BITMAP_INDEX_BITS
    weights = {op.weights[0].name: replace(op.weights[0], density=density, index_bits=index_bits)
               for op in targets}
    marked = {op.name for op in targets}
    ops = [op.with_(attrs=op.attrs + (("sparsity", sparsity),)) if op.name in marked else op
           for op in graph.ops]
    return replace(graph, ops=_retype(ops, weights))


def _readers(ops: Iterable[Op]) -> dict[str, int]:
    """How many ops read each stored tensor."""
    count: dict[str, int] = {}
    for op in ops:
        for name in dict.fromkeys(storage(t.name) for t in op.inputs):
            count[name] = count.get(name, 0) + 1
    return count


def _feeds(producer: Op, consumer: Op, readers: dict[str, int]) -> bool:
    """Whether `consumer` reads `producer`'s only output and is that output's only reader."""
    if len(producer.outputs) != 1:
        return False
    out = producer.outputs[0].name
    return readers.get(out) == 1 and any(storage(t.name) == out for t in consumer.inputs)


def _merge(name: str, first: Op, rest: list[Op], gemm=None) -> Op:
    """One op doing `first` then `rest`: their vector FLOPs, weights and outside inputs; last output.
    Its attrs["fused"] names every original op inside it."""
    members = [first, *rest]
    internal = {t.name for op in members[:-1] for t in op.outputs}
    inputs = tuple(t for op in members for t in op.inputs if storage(t.name) not in internal)
    weights = tuple({w.name: w for op in members for w in op.weights}.values())
    fused = tuple(name for op in members for name in op.attr("fused", (op.name,)))
    attrs = tuple((key, value) for key, value in first.attrs if key != "fused") + (("fused", fused),)
    return first.with_(name=name, inputs=inputs, outputs=members[-1].outputs, weights=weights,
                       gemm=gemm or first.gemm, vector_flops=sum(op.vector_flops for op in members),
                       deps=tuple(dict.fromkeys(d for op in members for d in op.deps)), attrs=attrs)


def _attention_groups(ops: list[Op], readers: dict[str, int]) -> list[tuple[Op, ...]]:
    """The ops in groups: (scores, softmax, context) triples fused, every other op alone."""
    groups, i = [], 0
    while i < len(ops):
        triple = tuple(ops[i:i + 3])
        if (len(triple) == 3 and triple[0].kind is OpKind.MATMUL and not triple[0].weights
                and triple[1].kind is OpKind.SOFTMAX and triple[2].kind is OpKind.MATMUL
                and not triple[2].weights and _feeds(triple[0], triple[1], readers)
                and _feeds(triple[1], triple[2], readers)):
            groups.append(triple)
            i += 3
        else:
            groups.append((ops[i],))
            i += 1
    return groups


def _fused_attention(scores: Op, softmax: Op, context: Op, taken: set[str]) -> Op:
    """scores + softmax + context as one op: the context Gemm with twice the reduction."""
    prefix = scores.name.rpartition(".")[0]
    name = f"{prefix}.attention" if prefix else "attention"
    gemm = replace(context.gemm, k=2 * context.gemm.k)
    return _merge(scores.name if name in taken else name, scores, [softmax, context], gemm)


def _bias_add(batchnorm: Op) -> Op:
    """A batchnorm folded into the GEMM before it: only its shift, the GEMM's bias, is added."""
    return batchnorm.with_(vector_flops=sum(t.elements for t in batchnorm.outputs))


def _epilogue(chain: list[Op], op: Op, readers: dict[str, int], residual: bool) -> bool:
    """Whether `op` (elementwise or batchnorm) can run in the epilogue of the chain before it;
    an op with other inputs (a residual add) only when `residual`."""
    if not pointwise(op):
        return False
    producer = chain[-1]
    if not _feeds(producer, op, readers):
        return False
    return (residual or chain[0].gemm is None
            or all(storage(t.name) == producer.outputs[0].name for t in op.inputs))


def fuse(graph: Graph, *, residual: bool = False, fold_batchnorm: bool = False) -> Graph:
    """The graph with attention cores fused and epilogue ops merged into their producers.

    residual=True also folds ops that read another tensor (residual adds) into a GEMM's epilogue,
    as TensorRT deploys CNNs; the device models then read that tensor as an extra GEMM input.
    fold_batchnorm=True folds a batchnorm that directly follows a GEMM into its weights and bias.
    """
    ops = list(graph.ops)
    readers = _readers(ops)
    taken = {op.name for op in ops}
    chains: list[list[Op]] = []
    for group in _attention_groups(ops, readers):
        if len(group) == 3:
            chains.append([_fused_attention(*group, taken)])
        elif chains and _epilogue(chains[-1], group[0], readers, residual):
            folded = fold_batchnorm and len(chains[-1]) == 1 and chains[-1][0].gemm is not None \
                and group[0].attr("norm") == "batchnorm"
            chains[-1].append(_bias_add(group[0]) if folded else group[0])
        else:
            chains.append([group[0]])
    merged = [chain[0] if len(chain) == 1 else _merge(chain[0].name, chain[0], chain[1:])
              for chain in chains]
    rename = {member: op.name for op in merged for member in op.attr("fused", ())}
    return replace(graph, ops=tuple(
        op.with_(deps=tuple(d for d in dict.fromkeys(rename.get(d, d) for d in op.deps) if d != op.name))
        for op in merged))


@dataclass(frozen=True)
class Distillation:
    """Teacher vs student network size and work (device-independent, accuracy-free)."""

    teacher: str
    student: str
    params: tuple[int, int]
    param_bytes: tuple[float, float]
    macs: tuple[int, int]
    flops: tuple[int, int]
    ops: tuple[int, int]
    layers: tuple[object, object]      # Graph.info("layers") where the zoo records it

    def ratio(self, field: str) -> float:
        """student / teacher for one of the numeric pairs."""
        teacher, student = getattr(self, field)
        return student / teacher if teacher else 0.0

    def to_dict(self) -> dict:
        """JSON-ready: each pair as {teacher, student} plus student/teacher `ratio` where numeric."""
        out: dict = {"teacher": self.teacher, "student": self.student}
        for key in ("params", "param_bytes", "macs", "flops", "ops"):
            teacher, student = getattr(self, key)
            out[key] = {"teacher": teacher, "student": student, "ratio": self.ratio(key)}
        out["layers"] = dict(zip(("teacher", "student"), self.layers))
        return out


def distillation(teacher: Graph, student: Graph) -> Distillation:
    """How much smaller the student is than the teacher."""
    def pair(get) -> tuple:
        return get(teacher), get(student)

    return Distillation(teacher=teacher.name, student=student.name,
                        params=pair(lambda g: g.params), param_bytes=pair(lambda g: g.param_bytes),
                        macs=pair(lambda g: g.macs), flops=pair(lambda g: g.flops),
                        ops=pair(lambda g: len(g.ops)), layers=pair(lambda g: g.info("layers")))
