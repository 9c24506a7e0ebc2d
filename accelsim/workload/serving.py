"""LLM serving traces: prefill the prompt, then decode one token per step against a KV cache.

Prefill is the forward pass over batch x prompt tokens with attention over the prompt; it writes
every layer's keys and values to the cache and emits the first generated token. Each decode step
feeds the last generated token of every sequence (seq_len 1) and attends over the `past` cached
tokens plus itself: its GEMMs are matrix-vector products that read every weight once, and its
attention reads the whole cache, so decoding is bound by memory bandwidth on GPUs.

Following vLLM's metrics, time to first token (TTFT) is the prefill, and a request of `generate`
tokens runs generate - 1 decode steps with past = prompt, prompt + 1, ..., prompt + generate - 2.
The KV cache reserved per request holds 2 (K and V) x layers x kv_heads x head_dim x context tokens
(a sliding window caps the context at the window; an encoder-decoder adds its encoder's tokens).
"""

from __future__ import annotations

from accelsim.errors import UsageError
from accelsim.workload.ir import BYTES_PER_ELEMENT, Graph, Op, OpKind, Phase
from accelsim.workload.trace import MemoryBreakdown, Trace, peak_live_bytes

DECODE_SAMPLES = 8      # decode contexts costed per request; the steps between are interpolated
SERVED_FAMILIES = ("decoder", "encoder-decoder")   # encoder-decoder: the prefill runs the encoder


def check_decoder(graph: Graph) -> None:
    """Serving needs a decoder (decoder-only or encoder-decoder) with the KV-cache metadata of the zoo."""
    if graph.info("family") not in SERVED_FAMILIES or not graph.info("layers"):
        raise UsageError(f"serve mode needs a decoder language model (gpt2, llama3_8b, whisper_base, "
                         f"...); {graph.name} is not one", key="mode")


def is_attention(op: Op) -> bool:
    """Whether an op's cost depends on the cached context: the score and context matmuls (GEMMs
    without weights) and the softmax between them."""
    return op.kind is OpKind.SOFTMAX or (op.gemm is not None and not op.weights)


def layer_index(op: Op) -> int | None:
    """The decoder layer an op belongs to (the zoo names them decoder.<i>.*), None outside one."""
    prefix, _, rest = op.name.partition(".")
    index = rest.partition(".")[0]
    return int(index) if prefix == "decoder" and index.isdigit() else None


def kv_cache_bytes(graph: Graph, context: int, batch: int | None = None) -> float:
    """Bytes of keys and values for `context` tokens of `batch` sequences (default: the graph's); a
    sliding window keeps at most `window` tokens, and cross-attention keys of an encoder's output
    (`cross_tokens`) stay for the whole request."""
    per_token = 2 * graph.info("layers") * graph.info("kv_heads") * graph.info("head_dim")
    context = min(context, graph.info("window") or context) + (graph.info("cross_tokens") or 0)
    dtype = graph.ops[0].precision if graph.ops else "fp16"
    return per_token * context * (batch or graph.batch) * BYTES_PER_ELEMENT[dtype]


def decode_pasts(prompt: int, generate: int, samples: int = DECODE_SAMPLES) -> list[int]:
    """Cached-token counts of the decode steps to cost: every step, or `samples` spread evenly."""
    first, steps = prompt, generate - 1
    if steps <= samples:
        return list(range(first, first + steps))
    last = first + steps - 1
    return sorted({round(first + i * (last - first) / (samples - 1)) for i in range(samples)})


def prefill_trace(graph: Graph) -> Trace:
    """The prompt's forward pass; memory: weights, peak live activations, the prompt's KV cache."""
    check_decoder(graph)
    prompt = int(graph.info("seq_len"))
    memory = MemoryBreakdown(weights=graph.param_bytes, activations=peak_live_bytes(graph.ops),
                             kv_cache=kv_cache_bytes(graph, prompt))
    return Trace(name=graph.name, mode="serve", ops=tuple(op.with_(phase=Phase.PREFILL)
                                                          for op in graph.ops),
                 memory=memory, batch=graph.batch, samples_per_step=graph.batch,
                 tokens_per_step=graph.batch * prompt)


def decode_trace(graph: Graph) -> Trace:
    """One decode step (seq_len 1 attending over graph.info("past") cached tokens)."""
    check_decoder(graph)
    if graph.info("seq_len") != 1:
        raise UsageError(f"a decode step feeds one token per sequence, got seq_len "
                         f"{graph.info('seq_len')}", key="seq_len")
    cached = {name for op in graph.ops for name in (t.name for t in op.inputs)
              if name.endswith(("k_cache", "v_cache"))}
    live = tuple(op.with_(inputs=tuple(t for t in op.inputs if t.name not in cached))
                 for op in graph.ops)
    context = int(graph.info("past") or 0) + 1
    memory = MemoryBreakdown(weights=graph.param_bytes, activations=peak_live_bytes(live),
                             kv_cache=kv_cache_bytes(graph, context))
    return Trace(name=graph.name, mode="serve", ops=tuple(op.with_(phase=Phase.DECODE)
                                                          for op in graph.ops),
                 memory=memory, batch=graph.batch, samples_per_step=graph.batch,
                 tokens_per_step=graph.batch)
