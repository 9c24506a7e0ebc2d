"""YAML networks: the bundled examples against closed forms, and file:line:key errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from accelsim.errors import WorkloadError
from accelsim.workload.ir import OpKind
from accelsim.workload.loader import load_workload

WORKLOADS = Path(__file__).resolve().parents[1] / "accelsim" / "workloads"


def test_lenet5_counts():
    # LeCun et al. 1998: C1 6@5x5, C3 16@5x5 (full connections), C5 120, F6 84, output 10.
    g = load_workload(WORKLOADS / "lenet5.yaml")
    fc = [(400, 120), (120, 84), (84, 10)]
    assert g.params == (25 + 1) * 6 + (150 + 1) * 16 + sum((i + 1) * o for i, o in fc)   # 61,706
    assert g.macs == 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + sum(i * o for i, o in fc)
    assert g.ops[-1].outputs[0].shape == (1, 10) and g.info("family") == "cnn"


def test_tiny_encoder_counts_and_batch():
    v, d, f, layers, s, batch = 30522, 256, 1024, 4, 128, 3
    g = load_workload(WORKLOADS / "tiny_encoder.yaml", batch=batch, precision="bf16")
    per_layer = 4 * (d * d + d) + 2 * d * f + f + d + 4 * d
    assert g.params == v * d + layers * per_layer + 2 * d
    assert g.macs == batch * (s * layers * (4 * d * d + 2 * d * f) + 2 * layers * s * s * d)
    adds = [op for op in g.ops if op.name == "encoder.2.add1"]
    assert set(adds[0].deps) == {"encoder.2.attn.out", "encoder.1.add2"}
    assert g.info("hidden") == d and g.ops[0].kind is OpKind.EMBEDDING


def write(tmp_path: Path, text: str) -> Path:
    """A network file from an indented YAML snippet."""
    path = tmp_path / "net.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_branches_with_from_and_add(tmp_path):
    path = write(tmp_path, """
        input: [8, 16, 16]
        layers:
          - {type: conv2d, name: a, out_channels: 8, kernel: 3, padding: 1}
          - {type: conv2d, name: b, out_channels: 8, kernel: [1, 1], from: input}
          - {type: add, name: sum, with: a}
          - {type: global_avgpool}
          - {type: flatten}
          - {type: linear, out_features: 4, bias: false}
        """)
    ops = {op.name: op for op in load_workload(path, batch=2).ops}
    assert ops["b"].deps == () and set(ops["sum"].deps) == {"a", "b"}
    assert ops["linear_5"].gemm.m == 2 and ops["linear_5"].params == 32


@pytest.mark.parametrize(("layers", "match"), [
    ("- {type: conv2d, out_channels: 4, kernal: 3}", r"net.yaml:3: layers\[0\].kernal: unknown key .*'kernel'"),
    ("- {type: conv, out_channels: 4}", r":3: layers\[0\].type: unknown layer type 'conv' .*'conv2d'"),
    ("- {type: conv2d, out_channels: 4}", r":3: layers\[0\]: missing required key 'kernel'"),
    ("- {type: conv2d, out_channels: 0, kernel: 3}", r":3: layers\[0\].out_channels: invalid value 0"),
    ("- {type: conv2d, out_channels: 4, kernel: 9}", r":3: layers\[0\]: kernel 9x9 does not fit"),
    ("- {type: add, with: conv}", r":3: layers\[0\].with: no earlier layer named 'conv'"),
    ("- {type: relu, name: r}\n- {type: relu, name: r}", r":4: layers\[1\].name: duplicate layer name"),
    ("- {type: embedding, num_embeddings: 10, dim: 4}", r":3: layers\[0\]: embedding needs token ids"),
    ("- type: repeat\n  times: 2\n  layers:\n    - {type: linear, out_feature: 3}",
     r":6: layers\[0\].layers\[0\].out_feature: unknown key"),
    ("- {type: relu, type: gelu}", r":3: type: duplicate key"),
    ("- {type: relu\n", r"net.yaml:\d+: invalid YAML"),
])
def test_errors_name_file_line_and_key(tmp_path, layers, match):
    path = write(tmp_path, "input: [3, 8, 8]\nlayers:\n" + layers + "\n")
    with pytest.raises(WorkloadError, match=match):
        load_workload(path)


def test_top_level_errors(tmp_path):
    with pytest.raises(WorkloadError, match=r"net.yaml:1: inputs: unknown key .*'input'"):
        load_workload(write(tmp_path, "inputs: [3]\nlayers: [{type: relu}]\n"))
    with pytest.raises(WorkloadError, match=r"net.yaml:1: layers: missing required key"):
        load_workload(write(tmp_path, "input: [3]\n"))
    with pytest.raises(WorkloadError, match=r"no parameter|take no parameters"):
        load_workload(WORKLOADS / "lenet5.yaml", seq_len=4)
