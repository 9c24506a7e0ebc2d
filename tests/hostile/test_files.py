"""Hostile input files through the real CLI: each ends in one clean error line naming file and line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.config.yaml_lines import parse_yaml, read_yaml
from accelsim.errors import AccelsimError
from accelsim.files import MAX_TEXT_BYTES, MAX_YAML_BYTES
from tests.hostile.cli import accelsim, assert_clean_error

BIG = "1" + "0" * 30                                   # 10**30: past C long and every size bound
FIFO, FOLDER = object(), object()
DEEP_FLOW = "[" * 5000 + "]" * 5000
DEEP_BLOCK = "".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "x: 1\n"
BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
DEVICE = "extends: a100\n"
NET = "input: [3, 8, 8]\nlayers:\n"
SPACE = "workload: resnet50\ndevice: a100\n"
GPT2 = ('"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 100, '
        '"n_positions": 64')
GEMM = "Layer, M, N, K\n"


class Sparse(int):
    """A file of this many bytes, all holes: created at once, refused by its size alone."""


def write(path: Path, content: object) -> None:
    """Create `path` holding `content` (text, bytes, a FIFO, a folder or a sparse size)."""
    if content is FIFO:
        os.mkfifo(path)
    elif content is FOLDER:
        path.mkdir()
    elif isinstance(content, Sparse):
        with path.open("wb") as handle:
            handle.truncate(content)
    elif callable(content):
        content(path)
    else:
        path.write_bytes(content if isinstance(content, bytes) else content.encode())


def onnx_model(nodes, inputs, inits):
    """A writer of an ONNX model (skipped without the onnx package)."""
    def save(path: Path) -> None:
        onnx = pytest.importorskip("onnx")
        import numpy as np
        from onnx import helper, numpy_helper

        graph = helper.make_graph(
            [helper.make_node(*node[:3], **node[3]) for node in nodes], "g",
            [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape)
             for name, shape in inputs],
            [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
            [numpy_helper.from_array(np.zeros(shape, np.float32), name) for name, shape in inits])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return save


def rows(count: int, last: str = "") -> str:
    """A GEMM topology of `count` layers, then `last`."""
    return GEMM + "".join(f"l{i}, 1, 2, 3\n" for i in range(count)) + last


RUN_DEVICE = ("run", "resnet50", "--device", "dev.yaml")
RUN_NET = ("run", "net.yaml", "--device", "a100")
RUN_HF = ("run", "hf.json", "--device", "a100")
RUN_CSV = ("run", "topo.csv", "--device", "a100")
RUN_ONNX = ("run", "m.onnx", "--device", "a100")
SWEEP = ("sweep", "space.yaml")

# id: (file name, content, CLI args, fragments of the one error line)
CASES = {
    "device-deep-flow": ("dev.yaml", DEVICE + "sms: " + DEEP_FLOW, RUN_DEVICE,
                         ("dev.yaml:2: ", "nested deeper than 64 levels")),
    "device-deep-block": ("dev.yaml", DEVICE + DEEP_BLOCK, RUN_DEVICE,
                          ("dev.yaml:65: ", "nested deeper than 64 levels")),
    "device-alias-bomb": ("dev.yaml", DEVICE + BOMB, RUN_DEVICE,
                          ("dev.yaml:", "more than 250000 values")),
    "device-recursive-alias": ("dev.yaml", DEVICE + "sms: &a [*a]\n", RUN_DEVICE,
                               ("dev.yaml:2: ", "recursive")),
    "device-int-too-large": ("dev.yaml", DEVICE + f"sms: {BIG}\n", RUN_DEVICE,
                             ("dev.yaml:2: ", "integer", "larger than")),
    "device-int-5000-digits": ("dev.yaml", DEVICE + "sms: " + "9" * 5000 + "\n", RUN_DEVICE,
                               ("dev.yaml:2: ", "integer")),
    "device-bad-timestamp": ("dev.yaml", DEVICE + "name: 2001-13-01\n", RUN_DEVICE,
                             ("dev.yaml:2: ", "month must be in 1..12")),
    "device-bad-int-tag": ("dev.yaml", DEVICE + "sms: !!int abc\n", RUN_DEVICE,
                           ("dev.yaml:2: ", "cannot read the value")),
    "device-not-utf8": ("dev.yaml", DEVICE.encode() + b"name: \xff\n", RUN_DEVICE,
                        ("dev.yaml:2: ", "not a UTF-8 text file")),
    "device-too-big": ("dev.yaml", Sparse(MAX_YAML_BYTES + 1), RUN_DEVICE,
                       ("dev.yaml: ", "larger than the limit of 1048576 bytes")),
    "device-empty": ("dev.yaml", "", RUN_DEVICE, ("dev.yaml: ", "file is empty")),
    "device-top-list": ("dev.yaml", "- gpu\n", RUN_DEVICE, ("dev.yaml:1: ", "got a list")),
    "device-top-string": ("dev.yaml", "gpu\n", RUN_DEVICE, ("dev.yaml:1: ", "got the scalar")),
    "net-deep": ("net.yaml", NET + "  - " + DEEP_FLOW, RUN_NET,
                 ("net.yaml:3: ", "nested deeper than 64 levels")),
    "net-alias-bomb": ("net.yaml", NET + "  - {type: relu}\n" + BOMB, RUN_NET,
                       ("net.yaml:", "more than 250000 values")),
    "net-not-utf8": ("net.yaml", NET.encode() + b"  - {type: relu, name: \xff}\n", RUN_NET,
                     ("net.yaml:3: ", "not a UTF-8 text file")),
    "net-too-big": ("net.yaml", Sparse(MAX_YAML_BYTES + 1), RUN_NET,
                    ("net.yaml: ", "larger than the limit")),
    "net-repeat-1e9": ("net.yaml", NET + "  - {type: repeat, times: 1000000000, "
                       "layers: [{type: relu}]}\n", RUN_NET,
                       ("net.yaml:3: ", "layers[0].layers[0]", "more than 100000 ops")),
    "net-add-mismatch": ("net.yaml", NET + "  - {type: conv2d, name: c1, out_channels: 4, "
                         "kernel: 3}\n  - {type: conv2d, out_channels: 5, kernel: 1}\n"
                         "  - {type: add, with: c1}\n", RUN_NET,
                         ("net.yaml:5: ", "layers[2].with", "cannot add shape [1, 4, 6, 6]")),
    "net-int-too-large": ("net.yaml", NET + f"  - {{type: linear, out_features: {BIG}}}\n",
                          RUN_NET, ("net.yaml:3: ", "integer")),
    "net-size-too-large": ("net.yaml", NET + "  - {type: linear, out_features: 4294967296}\n",
                           RUN_NET, ("net.yaml:3: ", "layers[0].out_features", "invalid value")),
    "net-meta-nan": ("net.yaml", "meta: {seq_len: .nan}\n" + NET + "  - {type: relu}\n", RUN_NET,
                     ("net.yaml:1: ", "meta", "finite numbers")),
    "net-no-ops": ("net.yaml", NET + "  - {type: flatten}\n", RUN_NET,
                   ("net.yaml: ", "no ops to run")),
    "net-top-list": ("net.yaml", "- {type: relu}\n", RUN_NET, ("net.yaml: ", "expected a mapping")),
    "net-fifo": ("net.yaml", FIFO, RUN_NET, ("net.yaml: ", "not a regular file")),
    "net-folder": ("net.yaml", FOLDER, RUN_NET, ("net.yaml: ", "is a folder")),
    "sweep-deep": ("space.yaml", SPACE + "parameters: " + DEEP_FLOW, SWEEP,
                   ("space.yaml:3: ", "nested deeper than 64 levels")),
    "sweep-alias-bomb": ("space.yaml", SPACE + BOMB + "parameters: {sms: *a8}\n", SWEEP,
                         ("space.yaml:", "more than 250000 values")),
    "sweep-not-utf8": ("space.yaml", SPACE.encode() + b"name: \xff\n", SWEEP,
                       ("space.yaml:3: ", "not a UTF-8 text file")),
    "sweep-too-big": ("space.yaml", Sparse(MAX_YAML_BYTES + 1), SWEEP,
                      ("space.yaml: ", "larger than the limit")),
    "sweep-fifo": ("space.yaml", FIFO, SWEEP, ("space.yaml: ", "not a regular file")),
    "hf-deep": ("hf.json", "[" * 100_000 + "]" * 100_000, RUN_HF,
                ("hf.json: ", "nested too deeply")),
    "hf-not-utf8": ("hf.json", b'{"model_type": "\xff"}', RUN_HF,
                    ("hf.json:1: ", "not a UTF-8 text file")),
    "hf-too-big": ("hf.json", Sparse(MAX_TEXT_BYTES + 1), RUN_HF,
                   ("hf.json: ", "larger than the limit of 67108864 bytes")),
    "hf-million-layers": ("hf.json", "{" + GPT2.replace('"n_layer": 2', '"n_layer": 1000000') + "}",
                          RUN_HF, ("hf.json: ", "more than 100000 ops")),
    "hf-bool-layers": ("hf.json", "{" + GPT2.replace('"n_layer": 2', '"n_layer": true') + "}",
                       RUN_HF, ("hf.json: n_layer: ", "expected a positive integer")),
    "hf-float-layers": ("hf.json", "{" + GPT2.replace('"n_layer": 2', '"n_layer": 2.0') + "}",
                        RUN_HF, ("hf.json: n_layer: ", "got 2.0")),
    "hf-zero-width": ("hf.json", "{" + GPT2.replace('"n_embd": 64', '"n_embd": 0') + "}", RUN_HF,
                      ("hf.json: n_embd: ", "got 0")),
    "hf-negative-vocab": ("hf.json", "{" + GPT2.replace('"vocab_size": 100', '"vocab_size": -5')
                          + "}", RUN_HF, ("hf.json: vocab_size: ", "got -5")),
    "hf-huge-vocab": ("hf.json", "{" + GPT2.replace('"vocab_size": 100', f'"vocab_size": {BIG}')
                      + "}", RUN_HF, ("hf.json: vocab_size: ", "up to 2147483648")),
    "hf-int-5000-digits": ("hf.json", '{"n_layer": ' + "9" * 5000 + "}", RUN_HF,
                           ("hf.json: ", "invalid JSON")),
    "hf-model-type-list": ("hf.json", '{"model_type": ["gpt2"]}', RUN_HF,
                           ("hf.json: model_type: ", "unsupported model_type")),
    "hf-activation-list": ("hf.json", "{" + GPT2 + ', "activation_function": ["gelu"]}', RUN_HF,
                           ("hf.json: activation_function: ", "unsupported activation")),
    "hf-top-array": ("hf.json", "[1, 2]", RUN_HF, ("hf.json: ", "expected a JSON object")),
    "csv-int-too-large": ("topo.csv", GEMM + f"l1, {BIG}, 2, 3\n", RUN_CSV,
                          ("topo.csv:2: M: ", "up to 2147483648")),
    "csv-superscript-digit": ("topo.csv", GEMM + "l1, \u00b2, 2, 3\n", RUN_CSV,
                              ("topo.csv:2: M: ", "positive integer")),
    "csv-not-utf8": ("topo.csv", GEMM.encode() + b"\xff, 1, 2, 3\n", RUN_CSV,
                     ("topo.csv:2: ", "not a UTF-8 text file")),
    "csv-too-big": ("topo.csv", Sparse(MAX_TEXT_BYTES + 1), RUN_CSV,
                    ("topo.csv: ", "larger than the limit")),
    "csv-missing-columns": ("topo.csv", "Layer, M, N\nl1, 1, 2\n", RUN_CSV,
                            ("topo.csv:1: ", "header has 3 columns")),
    "csv-short-row": ("topo.csv", GEMM + "l1, 1, 2\n", RUN_CSV, ("topo.csv:2: K: ", "needs 4")),
    "csv-header-only": ("topo.csv", GEMM, RUN_CSV, ("topo.csv: ", "no layers")),
    "csv-huge-field": ("topo.csv", GEMM + "l1, " + "1" * 200_000 + ", 2, 3\n", RUN_CSV,
                       ("topo.csv:2: ", "invalid CSV")),
    "csv-too-many-rows": ("topo.csv", rows(100_001), RUN_CSV,
                          ("topo.csv:100002: ", "more than 100000 layers")),
    "csv-late-duplicate": ("topo.csv", rows(40_000, "l7, 1, 2, 3\n"), RUN_CSV,
                           ("topo.csv:40002: ", "duplicate layer name 'l7'")),
    "csv-fifo": ("topo.csv", FIFO, RUN_CSV, ("topo.csv: ", "not a regular file")),
    "onnx-empty": ("m.onnx", b"", RUN_ONNX, ("m.onnx: ", "no ops to run")),
    "onnx-fifo": ("m.onnx", FIFO, RUN_ONNX, ("m.onnx: ", "not a regular file")),
    "onnx-conv-channels": ("m.onnx", onnx_model([("Conv", ["x", "w"], ["y"], {})],
                                                [("x", [1, 3, 8, 8])], [("w", [4, 5, 3, 3])]),
                           RUN_ONNX, ("m.onnx: ", "Conv", "does not fit an input of 3 channels")),
    "onnx-matmul-inner": ("m.onnx", onnx_model([("MatMul", ["x", "w"], ["y"], {})],
                                               [("x", [2, 8])], [("w", [6, 4])]),
                          RUN_ONNX, ("m.onnx: ", "MatMul", "inner dimensions differ: 8 and 6")),
    "measurements-bad-value": ("m.csv", "id,device,workload,metric,value,unit\n"
                               "x,a100,resnet50,latency,abc,ms\n", ("validate", "--csv", "m.csv"),
                               ("m.csv:2: value: ", "finite number")),
    "measurements-empty-unit": ("m.csv", "id,device,workload,metric,value,unit\n"
                                "x,a100,resnet50,latency,1,  \n", ("validate", "--csv", "m.csv"),
                                ("m.csv:2: unit: ", "empty cell")),
    "measurements-not-utf8": ("m.csv", b"id,device\n\xff,x\n", ("validate", "--csv", "m.csv"),
                              ("m.csv:2: ", "not a UTF-8 text file")),
    "plot-deep": ("r.json", "[" * 100_000 + "]" * 100_000, ("plot", "r.json", "--out", "p.png"),
                  ("r.json: ", "nested too deeply")),
    "plot-fifo": ("r.json", FIFO, ("plot", "r.json", "--out", "p.png"),
                  ("r.json: ", "not a regular file")),
}

# id: (CLI args, fragments): hostile values given on the command line
ARGS = {
    "set-deep": (("run", "resnet50", "--device", "a100", "--set", "memory=" + DEEP_FLOW),
                 ("--set:1: memory: ", "nested deeper than 64 levels")),
    "set-int-too-large": (("run", "resnet50", "--device", "scalesim_32x32", "--set",
                           f"array.rows={BIG}"), ("--set:1: array.rows: ", "integer")),
    "param-int-too-large": (("run", "resnet50", "--device", "a100", "--param", f"image_size={BIG}"),
                            ("--param:1: image_size: ", "integer")),
    "param-size-too-large": (("run", "resnet50", "--device", "a100", "--param",
                              "image_size=4294967296"), ("image_size: ", "up to 2147483648")),
    "param-nan": (("run", "gpt2", "--device", "a100", "--param", "seq_len=.nan"),
                  ("seq_len: ", "got nan")),
    "param-deep": (("run", "gpt2", "--device", "a100", "--param", "seq_len=" + DEEP_FLOW),
                   ("--param:1: seq_len: ", "nested deeper")),
    "batch-too-large": (("run", "resnet50", "--device", "a100", "--batch", BIG),
                        ("batch: ", "up to 2147483648")),
    "batch-flops-too-large": (("run", "gpt3_175b", "--device", "a100", "--batch", "2147483648"),
                              ("more than the limit of 2**",)),
    "batch-gemm-too-large": (("run", "resnet50", "--device", "tpu_v5e", "--batch", "100000000"),
                             ("conv1: ", "over the limit of 2**40")),
    "prompt-too-large": (("run", "llama2_7b", "--device", "a100", "--mode", "serve", "--prompt",
                          BIG), ("prompt: ", "up to 2147483648")),
    "sweep-dev-zero": (("sweep", "/dev/zero"), ("/dev/zero: ", "not a regular file")),
}


@pytest.mark.parametrize("name, content, args, fragments", CASES.values(), ids=list(CASES))
def test_hostile_file_is_a_clean_error(tmp_path, name, content, args, fragments):
    write(tmp_path / name, content)
    assert_clean_error(accelsim(*args, cwd=tmp_path), *fragments)


@pytest.mark.parametrize("args, fragments", ARGS.values(), ids=list(ARGS))
def test_hostile_value_is_a_clean_error(tmp_path, args, fragments):
    assert_clean_error(accelsim(*args, cwd=tmp_path), *fragments)


YAML_PIECES = st.sampled_from(["[", "]", "{", "}", ":", ",", "- ", "&a ", "*a", "!!int ", "? ",
                               "<<: ", "\n", "  ", "'", '"', "|", "#", "x", "1", "0x", "1e9",
                               "2001-13-01", ".nan", "9" * 30, "!!binary ", "&b ", "*b"])


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.lists(YAML_PIECES, max_size=40).map("".join)))
def test_yaml_loader_raises_only_accelsim_errors_on_text(text):
    try:
        parse_yaml(text, "fuzz.yaml")
    except AccelsimError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_yaml_reader_raises_only_accelsim_errors_on_bytes(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(data)
        try:
            read_yaml(path, "fuzz.yaml")
        except AccelsimError:
            pass
