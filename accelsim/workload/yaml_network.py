"""YAML network files -> Graph.

Format (one sample's shapes; the batch comes from `load_workload(batch=...)`)::

    name: lenet5              # optional, default: the file name
    family: cnn               # optional Graph.meta family (cnn / encoder / decoder), default custom
    meta: {image_size: 32}    # optional extra Graph.meta scalars (layers, hidden, seq_len, ...)
    input: [1, 32, 32]        # [C, H, W] image, [S, D] token vectors, or [S] token ids
    layers:                   # applied in order, each to the previous layer's output
      - {type: conv2d, name: c1, out_channels: 6, kernel: 5}
      - {type: tanh}
      - {type: add, with: c1}                     # residual: previous output + c1's output
      - {type: linear, out_features: 10, from: c1} # `from` reads another layer instead

Layer types and their keys (defaults in parentheses; every layer also takes `name` (type_index),
and `from`):
    conv2d: out_channels, kernel (int or [kh, kw]), stride (1), padding (0), groups (1), bias (false)
    linear: out_features, bias (true)           embedding: num_embeddings, dim (input must be ids)
    maxpool / avgpool: kernel, stride (kernel), padding (0)      global_avgpool, flatten
    batchnorm, layernorm, rmsnorm, softmax, relu, relu6, gelu, silu, sigmoid, tanh
    attention: heads, kv_heads (heads), bias (true) -- q/k/v/out projections and the S x S core
    add: with (a layer name)
    repeat: times, layers -- the list runs `times` times, ops named <name>.<i>.<layer name>
`from`/`with` name a layer of the same list (or of an enclosing one); `input` is the input of the
innermost list (the graph input at top level, each iteration's input inside a repeat). Errors name
file:line and the key path, e.g. `net.yaml:7: layers[2].kernel: ...`.
"""

from __future__ import annotations

import math
from collections import ChainMap
from pathlib import Path

import yaml

from accelsim.errors import WorkloadError, did_you_mean
from accelsim.files import MAX_YAML_BYTES, BoundedLoader, load_yaml, read_text
from accelsim.workload.ir import Graph
from accelsim.workload.limits import is_size
from accelsim.workload.zoo._builder import ACTIVATIONS, Act, NetBuilder
from accelsim.workload.zoo._transformer import self_attention

REQUIRED = object()
_POOL = {"kernel": REQUIRED, "stride": None, "padding": 0}
LAYER_KEYS: dict[str, dict[str, object]] = {
    "conv2d": {"out_channels": REQUIRED, "kernel": REQUIRED, "stride": 1, "padding": 0, "groups": 1,
               "bias": False},
    "linear": {"out_features": REQUIRED, "bias": True},
    "embedding": {"num_embeddings": REQUIRED, "dim": REQUIRED},
    "maxpool": _POOL, "avgpool": _POOL,
    "attention": {"heads": REQUIRED, "kv_heads": None, "bias": True},
    "add": {"with": REQUIRED},
    "repeat": {"times": REQUIRED, "layers": REQUIRED},
    **{kind: {} for kind in ("global_avgpool", "flatten", "batchnorm", "layernorm", "rmsnorm",
                             "softmax", *ACTIVATIONS)},
}
COMMON_KEYS = {"type": REQUIRED, "name": None, "from": None}
TOP_KEYS = {"name": None, "family": "custom", "meta": None, "input": REQUIRED, "layers": REQUIRED}


def _broadcasts(shape: tuple[int, ...], into: tuple[int, ...]) -> bool:
    """Whether `shape` broadcasts into `into` (numpy rules, `into` unchanged)."""
    return len(shape) <= len(into) and all(
        size in (1, target) for size, target in zip(reversed(shape), reversed(into)))


def _scalar(value: object) -> bool:
    """A string or a finite number."""
    return isinstance(value, str) or isinstance(value, (int, float)) and math.isfinite(value)


VALID = {   # key -> validator; keys not listed are counts (ints in [1, MAX_SIZE])
    "bias": lambda v: isinstance(v, bool),
    "kernel": lambda v: is_size(v) or (isinstance(v, list) and len(v) == 2 and all(map(is_size, v))),
    "padding": lambda v: v == 0 or is_size(v),
    "name": lambda v: isinstance(v, str) and v != "",
    "from": lambda v: isinstance(v, str) and v != "",
    "with": lambda v: isinstance(v, str) and v != "",
    "layers": lambda v: isinstance(v, list) and v != [],
}
BUILD = {
    "conv2d": lambda b, name, x, a: b.conv2d(name, x, **a),
    "linear": lambda b, name, x, a: b.linear(name, x, **a),
    "embedding": lambda b, name, x, a: b.embedding(name, x, **a),
    "maxpool": lambda b, name, x, a: b.pool(name, x, "max", **a),
    "avgpool": lambda b, name, x, a: b.pool(name, x, "avg", **a),
    "global_avgpool": lambda b, name, x, a: b.adaptive_pool(name, x),
    "flatten": lambda b, name, x, a: b.view(x, (x.shape[0], math.prod(x.shape[1:]))),
    "batchnorm": lambda b, name, x, a: b.batchnorm(name, x),
    "layernorm": lambda b, name, x, a: b.norm(name, x, "layernorm"),
    "rmsnorm": lambda b, name, x, a: b.norm(name, x, "rmsnorm"),
    "softmax": lambda b, name, x, a: b.softmax(name, x),
    "attention": lambda b, name, x, a: self_attention(b, name, x, **a),
    "add": lambda b, name, x, a: b.add(name, x, a["with"]),
    **{fn: (lambda b, name, x, a, fn=fn: b.activation(name, x, fn)) for fn in ACTIVATIONS},
}


class _Map(dict):
    """A YAML mapping that remembers its own line and the line of each key."""

    line = 0
    key_lines: dict[str, int]


class _LineLoader(BoundedLoader):
    """BoundedLoader whose mappings are _Map and whose duplicate keys are errors."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    """Build a _Map, recording lines and rejecting duplicate keys."""
    loader.flatten_mapping(node)
    result = _Map()
    result.line, result.key_lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in result:
            raise WorkloadError("duplicate key", file=loader.source, line=line, key=str(key))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


class _Network:
    """Turns one parsed YAML network into ops, naming file:line:key in every error."""

    def __init__(self, path: Path, builder: NetBuilder):
        self.file = str(path)
        self.b = builder

    def fail(self, message: str, node: _Map | None, key: str, field: str | None = None) -> WorkloadError:
        """An error at `node`'s line (or its `field`'s line), key path `key`."""
        line = None
        if isinstance(node, _Map):
            line = node.key_lines.get(field, node.line) if field else node.line
        return WorkloadError(message, file=self.file, line=line, key=key)

    def fields(self, node: object, allowed: dict[str, object], where: str) -> dict[str, object]:
        """Mapping `node` checked against `allowed` (key -> default or REQUIRED), defaults filled."""
        if not isinstance(node, _Map):
            raise self.fail(f"expected a mapping, got {node!r}", None, where)
        for key in node:
            if key not in allowed:
                hint = did_you_mean(str(key), list(allowed))
                raise self.fail(f"unknown key{hint}; allowed: {', '.join(allowed)}", node,
                                f"{where}.{key}" if where else str(key), key)
        missing = [key for key, default in allowed.items() if default is REQUIRED and key not in node]
        if missing:
            raise self.fail(f"missing required key {missing[0]!r}", node, where or missing[0])
        return {key: node.get(key, default) for key, default in allowed.items()}

    def check(self, node: _Map, key: str, value: object, where: str) -> object:
        """Validate one layer value by its key (see VALID); None means 'use the default'."""
        if value is not None and not VALID.get(key, is_size)(value):
            raise self.fail(f"invalid value {value!r}", node, f"{where}.{key}", key)
        return value

    def resolve(self, scope: ChainMap, ref: str, node: _Map, path: str, key: str) -> Act:
        """The output of the layer called `ref`."""
        if ref not in scope:
            raise self.fail(f"no earlier layer named {ref!r}{did_you_mean(ref, list(scope))}",
                            node, path, key)
        return scope[ref]

    def run(self, layers: list, x: Act, scope: ChainMap, prefix: str, where: str) -> Act:
        """Apply a list of layers to x, registering each layer's output in scope."""
        for i, node in enumerate(layers):
            path = f"{where}[{i}]"
            kind = node.get("type") if isinstance(node, _Map) else None
            if kind not in LAYER_KEYS:
                hint = did_you_mean(str(kind), list(LAYER_KEYS)) if kind else ""
                raise self.fail(f"unknown layer type {kind!r}{hint}; known: {', '.join(LAYER_KEYS)}",
                                node, f"{path}.type", "type")
            values = self.fields(node, {**COMMON_KEYS, **LAYER_KEYS[kind]}, path)
            args = {k: self.check(node, k, v, path) for k, v in values.items() if k != "type"}
            name, source = args.pop("name") or f"{kind}_{i}", args.pop("from")
            if name in scope.maps[0]:
                raise self.fail(f"duplicate layer name {name!r}", node, f"{path}.name", "name")
            if source:
                x = self.resolve(scope, source, node, f"{path}.from", "from")
            if kind == "repeat":
                for j in range(args["times"]):
                    x = self.run(args["layers"], x, scope.new_child({"input": x}),
                                 f"{prefix}{name}.{j}.", f"{path}.layers")
            else:
                if kind == "add":
                    args["with"] = self.resolve(scope, args["with"], node, f"{path}.with", "with")
                    if not _broadcasts(args["with"].shape, x.shape):
                        raise self.fail(f"cannot add shape {list(args['with'].shape)} to "
                                        f"{list(x.shape)}", node, f"{path}.with", "with")
                x = self.layer(kind, prefix + name, x, args, node, path)
            scope[name] = x
        return x

    def layer(self, kind: str, name: str, x: Act, args: dict, node: _Map, path: str) -> Act:
        """Build one layer, turning shape errors into file:line errors."""
        if (x.tensor.dtype == "int32") != (kind == "embedding"):
            need = "token ids ([S] input)" if kind == "embedding" else "an embedding before it"
            raise self.fail(f"{kind} needs {need}", node, path)
        if kind == "attention" and len(x.shape) != 3:
            raise self.fail(f"attention needs [S, D] tokens, got {list(x.shape[1:])}", node, path)
        try:
            return BUILD[kind](self.b, name, x, args)
        except WorkloadError as exc:
            raise self.fail(exc.message, node, path) from None


def load_yaml_network(path: str | Path, *, batch: int = 1, precision: str = "fp16") -> Graph:
    """Read a YAML network file (format in this module's docstring) into a Graph."""
    path = Path(path)
    text = read_text(path, str(path), WorkloadError, MAX_YAML_BYTES)
    doc = load_yaml(text, str(path), WorkloadError, loader=_LineLoader)
    net = _Network(path, NetBuilder(path.stem, batch, precision))
    top = net.fields(doc, TOP_KEYS, "")
    shape = top["input"]
    if not (isinstance(shape, list) and 1 <= len(shape) <= 3 and all(is_size(v) for v in shape)):
        raise net.fail(f"expected 1 to 3 positive sizes, got {shape!r}", doc, "input", "input")
    meta = top["meta"] or {}
    if not isinstance(meta, dict) or not all(map(_scalar, meta.values())):
        raise net.fail("expected a mapping of scalars (finite numbers or strings)", doc, "meta", "meta")
    if not isinstance(top["layers"], list) or not top["layers"]:
        raise net.fail("expected a non-empty list of layers", doc, "layers", "layers")
    net.b.name = str(top["name"] or path.stem)
    x = net.b.input((batch, *shape), dtype="int32" if len(shape) == 1 else None)
    net.run(top["layers"], x, ChainMap({"input": x}), "", "layers")
    return net.b.graph(**{"family": str(top["family"]), **meta})
