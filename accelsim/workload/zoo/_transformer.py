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

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads

    def meta(self, family: str, seq_len: int, vocab: int | None) -> dict[str, object]:
        """Graph.meta entries the serving/training helpers read."""
        meta = dict(family=family, layers=self.layers, hidden=self.hidden, heads=self.heads,
                    kv_heads=self.kv_heads or self.heads, head_dim=self.head_dim,
                    seq_len=seq_len, ffn=self.ffn)
        return meta | ({"vocab": vocab} if vocab else {})


def self_attention(b: NetBuilder, prefix: str, x: Act, heads: int, kv_heads: int | None = None,
                   bias: bool = True, fused_qkv: bool = False, rope: bool = False,
                   past: int = 0) -> Act:
    """Multi-head (or grouped-query) self-attention over x [B, S, D], projections included.

    past > 0: the S new tokens also attend to `past` cached tokens, read from the inputs
    prefix.k_cache and prefix.v_cache [B, kv_heads, past, head_dim] (LLM decoding with a KV cache).
    """
    batch, seq, hidden = x.shape
    kv_heads = kv_heads or heads
    if hidden % heads or heads % kv_heads:
        raise WorkloadError(f"heads={heads} must divide hidden={hidden} and be a multiple of "
                            f"kv_heads={kv_heads}", key=prefix)
    hd = hidden // heads
    if fused_qkv:
        qkv = b.linear(f"{prefix}.qkv", x, (heads + 2 * kv_heads) * hd, bias)
        q, k, v = (b.view(qkv, (batch, n, seq, hd), part)
                   for part, n in (("q", heads), ("k", kv_heads), ("v", kv_heads)))
    else:
        q, k, v = (b.view(b.linear(f"{prefix}.{part}", x, n * hd, bias), (batch, n, seq, hd))
                   for part, n in (("q", heads), ("k", kv_heads), ("v", kv_heads)))
    if rope:
        q, k = b.activation(f"{prefix}.q_rope", q, "rope"), b.activation(f"{prefix}.k_rope", k, "rope")
    cached = {part: (b.input((batch, kv_heads, past, hd), f"{prefix}.{part}_cache"),)
              if past else () for part in "kv"}
    count, keys = batch * heads, past + seq
    scores = b.emit(f"{prefix}.scores", OpKind.MATMUL, (q, *cached["k"], k),
                    (batch, heads, seq, keys), gemm=Gemm(m=seq, n=keys, k=hd, count=count),
                    vector_flops=VECTOR_FLOPS["scale"] * count * seq * keys)
    probs = b.softmax(f"{prefix}.softmax", scores)
    context = b.emit(f"{prefix}.context", OpKind.MATMUL, (probs, *cached["v"], v),
                     (batch, heads, seq, hd), gemm=Gemm(m=seq, n=hd, k=keys, count=count))
    return b.linear(f"{prefix}.out", b.view(context, (batch, seq, hidden)), hidden, bias)


def mlp(b: NetBuilder, prefix: str, x: Act, spec: TransformerSpec) -> Act:
    """Position-wise feed-forward: fc1 -> act -> fc2, or gate/up -> act * up -> down."""
    if not spec.gated:
        h = b.activation(f"{prefix}.act", b.linear(f"{prefix}.fc1", x, spec.ffn, spec.bias), spec.act)
        return b.linear(f"{prefix}.fc2", h, spec.hidden, spec.bias)
    gate = b.activation(f"{prefix}.act", b.linear(f"{prefix}.gate", x, spec.ffn, spec.bias), spec.act)
    h = b.mul(f"{prefix}.mul", gate, b.linear(f"{prefix}.up", x, spec.ffn, spec.bias))
    return b.linear(f"{prefix}.down", h, spec.hidden, spec.bias)


def transformer_layer(b: NetBuilder, prefix: str, x: Act, spec: TransformerSpec,
                      past: int = 0) -> Act:
    """One layer: attention and MLP sublayers, each with a residual add and a norm (pre or post)."""
    def attention(h: Act) -> Act:
        return self_attention(b, f"{prefix}.attn", h, spec.heads, spec.kv_heads, spec.bias,
                              spec.fused_qkv, spec.rope, past)

    def feed_forward(h: Act) -> Act:
        return mlp(b, f"{prefix}.mlp", h, spec)

    for i, sublayer in enumerate((attention, feed_forward), start=1):
        if spec.pre_norm:
            x = b.add(f"{prefix}.add{i}", x, sublayer(b.norm(f"{prefix}.norm{i}", x, spec.norm)))
        else:
            x = b.norm(f"{prefix}.norm{i}", b.add(f"{prefix}.add{i}", x, sublayer(x)), spec.norm)
    return x


def transformer_stack(b: NetBuilder, prefix: str, x: Act, spec: TransformerSpec,
                      past: int = 0) -> Act:
    """`spec.layers` layers named prefix.0, prefix.1, ... (past: cached tokens, see self_attention)."""
    for i in range(spec.layers):
        x = transformer_layer(b, f"{prefix}.{i}", x, spec, past)
    return x
