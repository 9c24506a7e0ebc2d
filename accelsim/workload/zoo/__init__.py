"""The network zoo: `build(name, batch=1, precision="fp16", **params)` returns an IR Graph."""

from __future__ import annotations

import inspect
from typing import Callable

from accelsim.errors import WorkloadError, did_you_mean
from accelsim.workload.ir import PRECISIONS, Graph
from accelsim.workload.limits import MAX_SIZE, is_size
from accelsim.workload.zoo.cnn import alexnet, facedet, mobilenet_v2, resnet50, vgg16
from accelsim.workload.zoo.gemm import gemm
from accelsim.workload.zoo.llm import gpt2, gpt3_175b, llama2_7b
from accelsim.workload.zoo.transformers import bert_base, bert_large, distilbert, vit_b16

ZOO: dict[str, Callable[..., Graph]] = {
    fn.__name__: fn
    for fn in (resnet50, alexnet, vgg16, mobilenet_v2, facedet, bert_base, bert_large, distilbert,
               vit_b16,
               gpt2, llama2_7b, gpt3_175b, gemm)
}

FAMILY_OF_MODULE = {"cnn": "cnn", "transformers": "encoder", "llm": "decoder", "gemm": "gemm"}


def describe_zoo() -> list[tuple[str, str, str]]:
    """(name, family, first docstring line) of every zoo network, without building them."""
    return [(name, FAMILY_OF_MODULE[fn.__module__.rsplit(".", 1)[-1]], inspect.getdoc(fn).splitlines()[0])
            for name, fn in ZOO.items()]


def params_of(name: str) -> dict[str, object]:
    """The parameters a zoo network accepts, with their defaults."""
    return {p.name: p.default for p in inspect.signature(ZOO[name]).parameters.values()}


def check_positive(key: str, value: object) -> None:
    """Reject anything but an int in [1, MAX_SIZE]."""
    if not is_size(value):
        raise WorkloadError(f"must be a positive integer up to {MAX_SIZE}, got {value!r}", key=key)


def check_precision(precision: object) -> None:
    """Reject a precision that is not in ir.PRECISIONS."""
    if precision not in PRECISIONS:
        raise WorkloadError(f"unknown precision {precision!r}{did_you_mean(str(precision), PRECISIONS)}",
                            key="precision")


def build(name: str, batch: int = 1, precision: str = "fp16", **params: object) -> Graph:
    """Build zoo network `name` (case-insensitive, '-' accepted for '_')."""
    key = name.strip().lower().replace("-", "_")
    if key not in ZOO:
        raise WorkloadError(f"unknown network {name!r}{did_you_mean(key, list(ZOO))}; "
                            f"known: {', '.join(ZOO)}", key="workload")
    accepted = params_of(key)
    for param, value in {"batch": batch, **params}.items():
        if param not in accepted:
            hint = did_you_mean(param, list(accepted))
            raise WorkloadError(f"{key} takes no parameter {param!r}{hint}; it takes {', '.join(accepted)}",
                                key=param)
        check_positive(param, value)
    check_precision(precision)
    return ZOO[key](batch=batch, precision=precision, **params)
