"""The transformer layer shared by encoders (BERT, ViT) and decoders (GPT, Llama)."""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.errors import WorkloadError
from accelsim.workload.ir import Gemm, OpKind
from accelsim.workload.zoo._builder import VECTOR_FLOPS, Act, NetBuilder


@dataclass(frozen=True)
class TransformerSpec:
    """Hyper-parameters of a stack of identical transformer layers."""

    layers: int
    hidden: int
    heads: int
    ffn: int
    kv_heads: int | None = None    # grouped-query attention; None = multi-head (kv_heads == heads)
    norm: str = "layernorm"        # or "rmsnorm"
    pre_norm: bool = True          # GPT/ViT/Llama; False = post-norm (original Transformer, BERT)
    act: str = "gelu"
    gated: bool = False            # SwiGLU-style MLP: down(act(gate(x)) * up(x))
    bias: bool = True
    fused_qkv: bool = False        # one projection for q, k, v (GPT-2 c_attn, timm ViT qkv)
    rope: bool = False             # rotary position embedding applied to q and k
    attn_bias: tuple[bool, bool, bool, bool] | None = None   # q, k, v, out biases (None: `bias`)
    head_size: int | None = None   # width of one head when not hidden / heads (Gemma)
    window: int | None = None      # sliding-window attention: a token sees at most `window` keys
    experts: int = 0               # mixture of experts: the MLP is `experts` gated MLPs ...
    top_k: int = 0                 # ... of which each token runs `top_k`

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.head_size or self.hidden // self.heads

    @property
    def kv(self) -> int:
        """Key/value heads (as many as query heads unless grouped)."""
        return self.kv_heads or self.heads

    @property
    def biases(self) -> tuple[bool, bool, bool, bool]:
        """Whether the q, k, v and output projections have biases."""
        return self.attn_bias or (self.bias,) * 4

    def meta(self, family: str, seq_len: int, vocab: int | None) -> dict[str, object]:
        """Graph.meta entries the serving/training helpers read."""
        meta = dict(family=family, layers=self.layers, hidden=self.hidden, heads=self.heads,
                    kv_heads=self.kv, head_dim=self.head_dim,
                    seq_len=seq_len, ffn=self.ffn)
        meta |= {"window": self.window} if self.window else {}
        meta |= {"experts": self.experts, "top_k": self.top_k} if self.experts else {}
        return meta | ({"vocab": vocab} if vocab else {})


def _attend(b: NetBuilder, prefix: str, q: Act, keys: tuple[Act, ...], values: tuple[Act, ...],
            spec: TransformerSpec, seen: int) -> Act:
    """Scores over `seen` keys per query (the caches and new keys in `keys`), softmax, context, and
    the output projection back to [B, S, hidden]."""
    batch, heads, seq, hd = q.shape
    count = batch * heads
    scores = b.emit(f"{prefix}.scores", OpKind.MATMUL, (q, *keys), (batch, heads, seq, seen),
                    gemm=Gemm(m=seq, n=seen, k=hd, count=count),
                    vector_flops=VECTOR_FLOPS["scale"] * count * seq * seen)
    probs = b.softmax(f"{prefix}.softmax", scores)
    context = b.emit(f"{prefix}.context", OpKind.MATMUL, (probs, *values), (batch, heads, seq, hd),
                     gemm=Gemm(m=seq, n=hd, k=seen, count=count))
    return b.linear(f"{prefix}.out", b.view(context, (batch, seq, heads * hd)), spec.hidden,
                    spec.biases[3])


def _heads(b: NetBuilder, prefix: str, x: Act, spec: TransformerSpec, parts: tuple[str, ...]) -> list[Act]:
    """Projections of x [B, S, D] to [B, n, S, head_dim] for each of `parts` (q: heads, k and v:
    kv_heads), fused into one linear layer when the spec says so."""
    batch, seq, _ = x.shape
    hd, kv = spec.head_dim, spec.kv
    widths = {"q": spec.heads, "k": kv, "v": kv}
    bias = dict(zip("qkv", spec.biases))
    if spec.fused_qkv and parts == ("q", "k", "v"):
        qkv = b.linear(f"{prefix}.qkv", x, sum(widths.values()) * hd, spec.biases[0])
        return [b.view(qkv, (batch, widths[p], seq, hd), p) for p in parts]
    return [b.view(b.linear(f"{prefix}.{p}", x, widths[p] * hd, bias[p]), (batch, widths[p], seq, hd))
            for p in parts]


def check_heads(prefix: str, spec: TransformerSpec) -> None:
    """Heads must divide the hidden size (unless the head size is given) and be a multiple of
    the key/value heads."""
    kv_heads = spec.kv
    if (spec.head_size is None and spec.hidden % spec.heads) or spec.heads % kv_heads:
        raise WorkloadError(f"heads={spec.heads} must divide hidden={spec.hidden} and be a multiple "
                            f"of kv_heads={kv_heads}", key=prefix)


def self_attention(b: NetBuilder, prefix: str, x: Act, heads: int, kv_heads: int | None = None,
                   bias: bool = True, fused_qkv: bool = False, rope: bool = False,
                   past: int = 0) -> Act:
    """Multi-head (or grouped-query) self-attention over x [B, S, D] (see spec_attention)."""
    spec = TransformerSpec(layers=1, hidden=x.shape[-1], heads=heads, ffn=0, kv_heads=kv_heads,
                           bias=bias, fused_qkv=fused_qkv, rope=rope)
    return spec_attention(b, prefix, x, spec, past)


def spec_attention(b: NetBuilder, prefix: str, x: Act, spec: TransformerSpec, past: int = 0,
                   keys: int | None = None) -> Act:
    """Multi-head (or grouped-query) self-attention over x [B, S, D], projections included.

    keys: new keys a query attends over when not S (a padding-free batch of varied lengths, where
    a token sees its own sequence's: accelsim.workload.seqlen).

    past > 0: the S new tokens also attend to `past` cached tokens, read from the inputs
    prefix.k_cache and prefix.v_cache [B, kv_heads, past, head_dim] (LLM decoding with a KV cache).
    With a sliding window, a token attends to at most `window` keys: the cached ones the new tokens
    leave in the window (a rolling cache), then themselves.
    """
    check_heads(prefix, spec)
    batch, seq, _ = x.shape
    q, k, v = _heads(b, prefix, x, spec, ("q", "k", "v"))
    if spec.rope:
        q, k = b.activation(f"{prefix}.q_rope", q, "rope"), b.activation(f"{prefix}.k_rope", k, "rope")
    kept = min(past, max(spec.window - seq, 0)) if spec.window else past
    cached = {part: (b.input((batch, spec.kv, kept, spec.head_dim),
                             f"{prefix}.{part}_cache"),) if kept else () for part in "kv"}
    new = keys or seq
    seen = min(past + new, spec.window) if spec.window else past + new
    return _attend(b, prefix, q, (*cached["k"], k), (*cached["v"], v), spec, seen)


def cross_attention(b: NetBuilder, prefix: str, x: Act, context: Act, spec: TransformerSpec,
                    cached: bool = False) -> Act:
    """Attention of x [B, S, D] over a context [B, T, C] (encoder output, text embedding): queries
    from x, keys and values projected from the context, or, when `cached`, read from the inputs
    prefix.k_cache and prefix.v_cache [B, kv_heads, T, head_dim] that an earlier pass projected."""
    check_heads(prefix, spec)
    batch, tokens = context.shape[0], context.shape[1]
    (q,) = _heads(b, prefix, x, spec, ("q",))
    if cached:
        shape = (batch, spec.kv, tokens, spec.head_dim)
        k, v = (b.input(shape, f"{prefix}.{part}_cache") for part in "kv")
    else:
        k, v = _heads(b, prefix, context, spec, ("k", "v"))
    return _attend(b, prefix, q, (k,), (v,), spec, tokens)


def mlp(b: NetBuilder, prefix: str, x: Act, spec: TransformerSpec) -> Act:
    """Position-wise feed-forward: fc1 -> act -> fc2, gate/up -> act * up -> down, or experts."""
    if spec.experts:
        return b.moe(f"{prefix}.experts", x, spec.experts, spec.top_k, spec.ffn, spec.act)
    if not spec.gated:
        h = b.activation(f"{prefix}.act", b.linear(f"{prefix}.fc1", x, spec.ffn, spec.bias), spec.act)
        return b.linear(f"{prefix}.fc2", h, spec.hidden, spec.bias)
    gate = b.activation(f"{prefix}.act", b.linear(f"{prefix}.gate", x, spec.ffn, spec.bias), spec.act)
    h = b.mul(f"{prefix}.mul", gate, b.linear(f"{prefix}.up", x, spec.ffn, spec.bias))
    return b.linear(f"{prefix}.down", h, spec.hidden, spec.bias)


def transformer_layer(b: NetBuilder, prefix: str, x: Act, spec: TransformerSpec,
                      past: int = 0, context: Act | None = None, cached_context: bool = False,
                      keys: int | None = None) -> Act:
    """One layer: attention, cross-attention over `context` (if given) and MLP sublayers, each with
    a residual add and a norm (pre or post)."""
    def attention(h: Act) -> Act:
        return spec_attention(b, f"{prefix}.attn", h, spec, past, keys)

    def cross(h: Act) -> Act:
        return cross_attention(b, f"{prefix}.cross_attn", h, context, spec, cached_context)

    def feed_forward(h: Act) -> Act:
        return mlp(b, f"{prefix}.mlp", h, spec)

    sublayers = (attention, cross, feed_forward) if context is not None else (attention, feed_forward)
    for i, sublayer in enumerate(sublayers, start=1):
        if spec.pre_norm:
            x = b.add(f"{prefix}.add{i}", x, sublayer(b.norm(f"{prefix}.norm{i}", x, spec.norm)))
        else:
            x = b.norm(f"{prefix}.norm{i}", b.add(f"{prefix}.add{i}", x, sublayer(x)), spec.norm)
    return x


def transformer_stack(b: NetBuilder, prefix: str, x: Act, spec: TransformerSpec,
                      past: int = 0, context: Act | None = None, cached_context: bool = False,
                      keys: int | None = None) -> Act:
    """`spec.layers` layers named prefix.0, prefix.1, ... (past: cached tokens, see self_attention;
    context: cross-attended in every layer, see transformer_layer; keys: see spec_attention)."""
    for i in range(spec.layers):
        x = transformer_layer(b, f"{prefix}.{i}", x, spec, past, context, cached_context, keys)
    return x
