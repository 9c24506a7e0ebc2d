"""The network zoo: `build(name, batch=1, precision="fp16", **params)` returns an IR Graph."""

from __future__ import annotations

import importlib
import inspect
from typing import Callable

from accelsim.errors import WorkloadError, did_you_mean
from accelsim.workload.ir import PRECISIONS, Graph
from accelsim.workload.limits import MAX_SIZE, is_size
from accelsim.workload.seqlen import is_lengths

# module of accelsim.workload.zoo -> (family, the networks it builds: functions of the same name);
# a module is imported when one of its networks is built
MODULES = {
    "cnn": ("cnn", ("resnet50", "alexnet", "vgg16", "mobilenet_v2", "facedet")),
    "vision": ("cnn", ("yolov8n", "selfie_seg")),
    "transformers": ("encoder", ("bert_base", "bert_large", "distilbert", "vit_b16")),
    "llm": ("decoder", ("gpt2", "llama2_7b", "gpt3_175b", "megatron_gpt", "llama3_8b", "llama31_70b",
                         "llama31_405b", "qwen2_7b", "mixtral_8x7b")),
    "speech": ("encoder-decoder", ("whisper_base",)),
    "recsys": ("recommendation", ("dlrm",)),
    "diffusion": ("diffusion", ("sd15_unet",)),
    "gemm": ("gemm", ("gemm",)),
}
ZOO = {name: module for module, (_, names) in MODULES.items() for name in names}


def builder(name: str) -> Callable[..., Graph]:
    """The function that builds zoo network `name` (a key of ZOO)."""
    return getattr(importlib.import_module(f"{__name__}.{ZOO[name]}"), name)


def describe_zoo() -> list[tuple[str, str, str]]:
    """(name, family, first docstring line) of every zoo network, without building them."""
    return [(name, MODULES[module][0], inspect.getdoc(builder(name)).splitlines()[0])
            for name, module in ZOO.items()]


def params_of(name: str) -> dict[str, object]:
    """The parameters a zoo network accepts, with their defaults."""
    return {p.name: p.default for p in inspect.signature(builder(name)).parameters.values()}


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
        if not (param == "seq_len" and is_lengths(value)):    # a distribution: its builder checks it
            check_positive(param, value)
    check_precision(precision)
    return builder(key)(batch=batch, precision=precision, **params)
