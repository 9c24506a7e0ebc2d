"""Encoder transformers: BERT-base, DistilBERT (HuggingFace layouts) and ViT-B/16."""

from __future__ import annotations

from accelsim.errors import WorkloadError
from accelsim.workload.ir import Graph, OpKind
from accelsim.workload.zoo._builder import VECTOR_FLOPS, Act, NetBuilder
from accelsim.workload.zoo._transformer import TransformerSpec, transformer_stack

BERT_VOCAB = 30522
BERT_MAX_POSITIONS = 512
BERT_BASE = TransformerSpec(layers=12, hidden=768, heads=12, ffn=3072, pre_norm=False)
DISTILBERT = TransformerSpec(layers=6, hidden=768, heads=12, ffn=3072, pre_norm=False)
VIT_B16 = TransformerSpec(layers=12, hidden=768, heads=12, ffn=3072, fused_qkv=True)


def check_seq_len(seq_len: int, max_positions: int) -> None:
    """Learned position tables bound the sequence length."""
    if seq_len > max_positions:
        raise WorkloadError(f"must be at most {max_positions} (learned position table)", key="seq_len")


def _bert_embeddings(b: NetBuilder, seq_len: int, token_types: bool) -> Act:
    """Word + position (+ token type) embeddings, summed and layer-normalized."""
    ids = b.input((b.batch, seq_len), "input_ids", "int32")
    terms = [b.embedding("embeddings.word", ids, BERT_VOCAB, BERT_BASE.hidden),
             b.embedding("embeddings.position", b.input((seq_len,), "position_ids", "int32"),
                         BERT_MAX_POSITIONS, BERT_BASE.hidden)]
    if token_types:
        terms.append(b.embedding("embeddings.token_type", b.input((b.batch, seq_len), "token_type_ids",
                                                                   "int32"), 2, BERT_BASE.hidden))
    return b.norm("embeddings.norm", b.add("embeddings.add", *terms))


def bert_base(batch: int = 1, precision: str = "fp16", seq_len: int = 128) -> Graph:
    """BERT-base-uncased (Devlin et al. 2018) with its pooler, as in HuggingFace BertModel."""
    check_seq_len(seq_len, BERT_MAX_POSITIONS)
    b = NetBuilder("bert_base", batch, precision)
    x = transformer_stack(b, "encoder", _bert_embeddings(b, seq_len, token_types=True), BERT_BASE)
    cls = b.view(x, (batch, BERT_BASE.hidden), "cls")
    b.activation("pooler.act", b.linear("pooler.dense", cls, BERT_BASE.hidden), "tanh")
    return b.graph(**BERT_BASE.meta("encoder", seq_len, BERT_VOCAB))


def distilbert(batch: int = 1, precision: str = "fp16", seq_len: int = 128) -> Graph:
    """DistilBERT-base-uncased (Sanh et al. 2019): 6 BERT layers, no token types, no pooler."""
    check_seq_len(seq_len, BERT_MAX_POSITIONS)
    b = NetBuilder("distilbert", batch, precision)
    transformer_stack(b, "transformer", _bert_embeddings(b, seq_len, token_types=False), DISTILBERT)
    return b.graph(**DISTILBERT.meta("encoder", seq_len, BERT_VOCAB))


def vit_b16(batch: int = 1, precision: str = "fp16", image_size: int = 224) -> Graph:
    """ViT-B/16 (Dosovitskiy et al. 2020): 16x16 patches, class token, pre-norm encoder, linear head."""
    patch, hidden = 16, VIT_B16.hidden
    if image_size % patch:
        raise WorkloadError(f"must be a multiple of the patch size {patch}", key="image_size")
    b = NetBuilder("vit_b16", batch, precision)
    image = b.input((batch, 3, image_size, image_size), "image")
    patches = b.conv2d("patch_embed", image, hidden, patch, patch, bias=True)
    tokens = (image_size // patch) ** 2 + 1
    x = b.emit("embeddings", OpKind.ELEMENTWISE, (b.view(patches, (batch, tokens - 1, hidden)),),
               (batch, tokens, hidden),
               (b.weight("cls_token", (1, 1, hidden)), b.weight("pos_embedding", (1, tokens, hidden))),
               vector_flops=VECTOR_FLOPS["add"] * batch * tokens * hidden, fn="add")
    x = b.norm("encoder.norm", transformer_stack(b, "encoder", x, VIT_B16))
    b.linear("head", b.view(x, (batch, hidden), "cls"), 1000)
    meta = VIT_B16.meta("encoder", tokens, None)
    return b.graph(**meta, image_size=image_size, patch_size=patch)
