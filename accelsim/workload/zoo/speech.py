"""Speech recognition: Whisper base (Radford et al. 2022), an encoder-decoder transformer."""

from __future__ import annotations

from accelsim.workload.ir import Graph, OpKind
from accelsim.workload.zoo._builder import VECTOR_FLOPS, Act, NetBuilder
from accelsim.workload.zoo._transformer import TransformerSpec, transformer_stack
from accelsim.workload.seqlen import shape

# openai/whisper-base config.json: d_model 512, 6 + 6 layers of 8 heads, FFN 2048, 80 mel bins,
# 1500 encoder frames (3000 mel frames, halved by the stride-2 conv), 448 text positions.
WHISPER_BASE = TransformerSpec(layers=6, hidden=512, heads=8, ffn=2048,
                               attn_bias=(True, False, True, True))   # k_proj has no bias
WHISPER_MELS = 80
WHISPER_FRAMES = 3000
WHISPER_TEXT_POSITIONS = 448
# the decoder's prompt when transcribing: <|startoftranscript|>, language, <|transcribe|>,
# <|notimestamps|> (Radford et al. 2022, Fig. 1; openai/whisper tokenizer sot_sequence)
WHISPER_TASK_PROMPT = 4
WHISPER_VOCAB = 51865


def _encoder(b: NetBuilder, spec: TransformerSpec) -> Act:
    """Two GELU conv1d layers over the log-mel spectrogram, positions added, pre-norm layers, norm."""
    x = b.input((b.batch, WHISPER_MELS, WHISPER_FRAMES), "input_features")
    x = b.activation("encoder.conv1.act", b.conv1d("encoder.conv1", x, spec.hidden, 3, padding=1,
                                                   bias=True), "gelu")
    x = b.activation("encoder.conv2.act", b.conv1d("encoder.conv2", x, spec.hidden, 3, stride=2,
                                                   padding=1, bias=True), "gelu")
    frames = x.shape[2]
    x = b.emit("encoder.embed_positions", OpKind.ELEMENTWISE,
               (b.view(x, (b.batch, frames, spec.hidden), "frames"),), (b.batch, frames, spec.hidden),
               (b.weight("encoder.embed_positions.weight", (frames, spec.hidden)),),
               vector_flops=VECTOR_FLOPS["add"] * b.batch * frames * spec.hidden, fn="add")
    return b.norm("encoder.layer_norm", transformer_stack(b, "encoder", x, spec))


def whisper_base(batch: int = 1, precision: str = "fp16", seq_len: int = WHISPER_TEXT_POSITIONS,
                 past: int | None = None) -> Graph:
    """Whisper base (74M): 30 s of 80 x 3000 log-mel through a 6-layer encoder, 6-layer decoder.

    Without `past`: the encoder and the decoder over `seq_len` text tokens, cross-attending to the
    1500 encoder frames. With `past` (decoding with a KV cache): the decoder only, its self-attention
    keys and values and the cross-attention keys and values of the encoder output read from caches.
    """
    spec = WHISPER_BASE
    seq = shape(seq_len, WHISPER_TEXT_POSITIONS, past or 0)
    b = NetBuilder("whisper_base", batch, precision)
    frames = WHISPER_FRAMES // 2
    audio = b.input((batch, frames, spec.hidden), "encoder_output") if past else _encoder(b, spec)
    ids = b.input((batch, seq.tokens), "input_ids", "int32")
    positions = b.input((seq.tokens,), "position_ids", "int32")
    x = b.add("decoder.embed.add", b.embedding("decoder.embed_tokens", ids, WHISPER_VOCAB, spec.hidden),
              b.embedding("decoder.embed_positions", positions, WHISPER_TEXT_POSITIONS, spec.hidden))
    x = transformer_stack(b, "decoder", x, spec, past or 0, context=audio, cached_context=bool(past),
                          keys=seq.keys)
    b.linear("proj_out", b.norm("decoder.layer_norm", x), WHISPER_VOCAB, bias=False,
             weight=b.table("decoder.embed_tokens"))
    return b.graph(**spec.meta("encoder-decoder", seq.tokens, WHISPER_VOCAB),
                   max_positions=WHISPER_TEXT_POSITIONS, tied_embeddings=True, past=past or 0,
                   cross_tokens=frames, serve_prompt=WHISPER_TASK_PROMPT, **seq.meta)
