"""Sequence-length distributions (accelsim.workload.seqlen): closed forms, equivalences, refusals."""

from __future__ import annotations

import math

import pytest

from accelsim import api
from accelsim.workload.seqlen import NAMED, SeqLengths, distribution, moments, run_lengths
from accelsim.workload.zoo import build
from tests.hostile.cli import accelsim, assert_clean_error

BERT_BASE_HEADS, HEAD_DIM, HIDDEN = 12, 64, 768


def gemms(graph, suffix: str) -> list:
    """The GEMMs of layer 0's ops whose names end with `suffix`."""
    return [op.gemm for op in graph.ops if op.name.startswith("encoder.0.") and op.name.endswith(suffix)]


def lengths_file(tmp_path, text: str, name: str = "lengths.csv") -> str:
    """A lengths file holding `text`, as a file: spec."""
    path = tmp_path / name
    path.write_text(text)
    return f"file:{path}"


def test_attention_and_linear_macs_of_listed_lengths_are_the_closed_forms(tmp_path):
    lengths = (3, 6, 9)       # E[L] = 6 and E[L^2] / E[L] = 7 are whole: no rounding
    graph = build("bert_base", batch=3, seq_len=lengths_file(tmp_path, "3\n6\n9\n"))
    squares = sum(n * n for n in lengths)
    attention = sum(g.macs for g in gemms(graph, ".attn.scores") + gemms(graph, ".attn.context"))
    assert attention == 2 * squares * BERT_BASE_HEADS * HEAD_DIM
    (query,) = gemms(graph, ".attn.q")
    assert query.macs == sum(lengths) * HIDDEN * HIDDEN


def test_varied_lengths_hold_the_sums_to_rounding(tmp_path):
    lengths = (100, 200, 384)
    graph = build("bert_base", batch=3, seq_len=lengths_file(tmp_path, "\n".join(map(str, lengths))))
    mean = sum(lengths) / 3
    (scores,) = gemms(graph, ".attn.scores")
    expected = sum(n * n for n in lengths) * BERT_BASE_HEADS * HEAD_DIM
    assert scores.macs == pytest.approx(expected, rel=1.01 / mean)
    (query,) = gemms(graph, ".attn.q")
    assert query.macs == pytest.approx(sum(lengths) * HIDDEN * HIDDEN, rel=0.51 / mean)


def test_plain_seq_len_matches_the_published_bert_large_count():
    # Open Model Zoo, bert-large-uncased-whole-word-masking-squad-0001: 246.93 GOps at seq 384
    graph = build("bert_large", seq_len=384)
    assert 2 * graph.macs / 1e9 == pytest.approx(246.93, rel=5e-3)
    assert "seq_lengths" not in dict(graph.meta)
    one_length = build("bert_large", seq_len="384")
    assert [op.gemm for op in one_length.ops] == [op.gemm for op in graph.ops]


def test_a_file_of_lengths_equals_the_same_lengths_given_another_way(tmp_path):
    listed = lengths_file(tmp_path, "\n".join(str(n) for n in range(10, 21)), "listed.csv")
    histogram = lengths_file(tmp_path, "length,count\n5,2\n7,1\n", "histogram.csv")
    repeated = lengths_file(tmp_path, "# lengths\n5\n5\n7\n", "repeated.csv")
    assert moments(listed, 512) == moments("uniform:10:20", 512)
    assert moments(histogram, 512) == pytest.approx(moments(repeated, 512))
    assert [op.gemm for op in build("bert_base", 4, seq_len=listed).ops] == \
        [op.gemm for op in build("bert_base", 4, seq_len="uniform:10:20").ops]


def test_distribution_moments_are_the_closed_forms():
    mean, square, longest = moments("zipf:1:3", 512)           # P(k) ~ 1/k over 1..3
    assert (mean, square, longest) == pytest.approx((3 / (11 / 6), 6 / (11 / 6), 3))
    mean, square, _ = moments("uniform:100:300", 512)
    assert square == pytest.approx(200**2 + (201**2 - 1) / 12)
    mean, square, longest = moments("lognormal:1000:0.3", 131072)   # far from the clip
    assert mean == pytest.approx(1000, rel=1e-6)
    assert square / mean**2 == pytest.approx(math.exp(0.3**2), rel=1e-4)
    assert longest == 131072


def test_squad_reproduces_its_published_padding_and_full_windows():
    lengths, probs, longest = distribution("squad", 512)
    mean, square, _ = moments("squad", 512)
    assert 1 - mean / 384 == pytest.approx(0.54, abs=0.002)         # OpenReview 3nzKUh9a4M
    assert probs[lengths == 384].sum() == pytest.approx(263 / 10833, abs=0.001)   # MLPerf
    assert longest == 384 and "squad" in NAMED
    assert square / mean**2 == pytest.approx(1.18, abs=0.01)


def test_padded_runs_use_the_longest_length_and_results_record_it():
    eager = api.simulate("bert_base", "a100", batch=2, stack="eager", seq_len="uniform:10:20")
    compiled = api.simulate("bert_base", "a100", batch=2, seq_len="uniform:10:20")
    plain = api.simulate("bert_base", "a100", batch=2, stack="eager", seq_len=20)
    assert eager["macs"] == plain["macs"]
    assert eager["sequence_lengths"]["padded"] and not compiled["sequence_lengths"]["padded"]
    assert compiled["sequence_lengths"]["spec"] == "uniform:10:20"
    assert compiled["tokens_per_step"] == eager["tokens_per_step"] == pytest.approx(2 * 15)
    assert compiled.provenance["params"] == {"seq_len": "uniform:10:20"}
    assert run_lengths({"seq_len": "squad"}, "compiled", "systolic") == \
        {"seq_len": SeqLengths("squad", padded=True)}


def test_decoder_queries_attend_past_plus_their_own_sequence():
    graph = build("llama2_7b", batch=2, seq_len="uniform:10:20", past=100)
    scores = next(op.gemm for op in graph.ops if op.name.endswith("0.attn.scores"))
    assert (scores.m, scores.n) == (15, 100 + round((15**2 + 10) / 15))


def test_whatif_fuse_pads_the_eager_baseline_only():
    from accelsim.queries.whatif import whatif

    answer = whatif("bert_base", "a100", fuse=True, seq_len="uniform:10:20")
    assert answer.base["sequence_lengths"]["padded"]
    assert not answer.variant["sequence_lengths"]["padded"]


@pytest.mark.parametrize("spec, fragment", [
    ("lognormal:-1:1", "positive number"),
    ("uniform:5:2", "A <= B"),
    ("file:/nonexistent/lengths.csv", "lengths.csv"),
    ("uniform:100:600", "over the 512 tokens"),
])
def test_hostile_distributions_exit_2_with_one_line(spec, fragment):
    assert_clean_error(accelsim("run", "bert_large", "--device", "a100", "--param",
                                f"seq_len={spec}"), fragment)


def test_a_bad_lengths_file_names_its_line(tmp_path):
    spec = lengths_file(tmp_path, "10\n0\n")
    assert_clean_error(accelsim("run", "bert_base", "--device", "a100", "--param", f"seq_len={spec}"),
                       "lengths.csv:2:")
