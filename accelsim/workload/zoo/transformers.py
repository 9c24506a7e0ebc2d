"""Encoder transformers: BERT-base, DistilBERT (HuggingFace layouts) and ViT-B/16."""

from __future__ import annotations

from accelsim.errors import WorkloadError
from accelsim.workload.ir import Graph, OpKind
from accelsim.workload.seqlen import SeqLengths, shape
from accelsim.workload.zoo._builder import VECTOR_FLOPS, Act, NetBuilder
from accelsim.workload.zoo._transformer import TransformerSpec, transformer_stack

BERT_VOCAB = 30522
BERT_MAX_POSITIONS = 512
BERT_BASE = TransformerSpec(layers=12, hidden=768, heads=12, ffn=3072, pre_norm=False)
BERT_LARGE = TransformerSpec(layers=24, hidden=1024, heads=16, ffn=4096, pre_norm=False)
DISTILBERT = TransformerSpec(layers=6, hidden=768, heads=12, ffn=3072, pre_norm=False)
VIT_B16 = TransformerSpec(layers=12, hidden=768, heads=12, ffn=3072, fused_qkv=True)


def _bert_embeddings(b: NetBuilder, seq_len: int, hidden: int, vocab: int = BERT_VOCAB,
                     max_positions: int = BERT_MAX_POSITIONS, token_types: int = 2) -> Act:
    """Word + position (+ token type, if token_types > 0) embeddings, summed and layer-normalized."""
    ids = b.input((b.batch, seq_len), "input_ids", "int32")
    terms = [b.embedding("embeddings.word", ids, vocab, hidden),
             b.embedding("embeddings.position", b.input((seq_len,), "position_ids", "int32"),
                         max_positions, hidden)]
    if token_types:
        terms.append(b.embedding("embeddings.token_type", b.input((b.batch, seq_len), "token_type_ids",
                                                                   "int32"), token_types, hidden))
    return b.norm("embeddings.norm", b.add("embeddings.add", *terms))


def _bert(name: str, spec: TransformerSpec, batch: int, precision: str,
          seq_len: int | str | SeqLengths, vocab: int = BERT_VOCAB,
          max_positions: int = BERT_MAX_POSITIONS, token_types: int = 2) -> Graph:
    """A BERT encoder (post-norm layers) with its pooler: tanh(dense(first token))."""
    seq = shape(seq_len, max_positions)
    b = NetBuilder(name, batch, precision)
    x = _bert_embeddings(b, seq.tokens, spec.hidden, vocab, max_positions, token_types)
    cls = b.view(transformer_stack(b, "encoder", x, spec, keys=seq.keys), (batch, spec.hidden), "cls")
    b.activation("pooler.act", b.linear("pooler.dense", cls, spec.hidden), "tanh")
    return b.graph(**spec.meta("encoder", seq.tokens, vocab), **seq.meta)


def bert_base(batch: int = 1, precision: str = "fp16", seq_len: int | str = 128) -> Graph:
    """BERT-base-uncased (Devlin et al. 2018) with its pooler, as in HuggingFace BertModel.

    seq_len: a length, or a distribution of lengths (accelsim.workload.seqlen)."""
    return _bert("bert_base", BERT_BASE, batch, precision, seq_len)


def bert_large(batch: int = 1, precision: str = "fp16", seq_len: int | str = 384) -> Graph:
    """BERT-large-uncased (Devlin et al. 2018) with its pooler; seq 384 as in MLPerf's SQuAD task.

    seq_len: a length, or a distribution of lengths, e.g. "squad" (accelsim.workload.seqlen)."""
    return _bert("bert_large", BERT_LARGE, batch, precision, seq_len)


def distilbert(batch: int = 1, precision: str = "fp16", seq_len: int | str = 128) -> Graph:
    """DistilBERT-base-uncased (Sanh et al. 2019): 6 BERT layers, no token types, no pooler."""
    seq = shape(seq_len, BERT_MAX_POSITIONS)
    b = NetBuilder("distilbert", batch, precision)
    transformer_stack(b, "transformer", _bert_embeddings(b, seq.tokens, DISTILBERT.hidden,
                                                         token_types=0), DISTILBERT, keys=seq.keys)
    return b.graph(**DISTILBERT.meta("encoder", seq.tokens, BERT_VOCAB), **seq.meta)


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
