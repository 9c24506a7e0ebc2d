"""load_workload: a zoo name, a SCALE-Sim topology (.csv), a YAML network (.yaml/.yml, see
yaml_network.py), an ONNX model (.onnx, see importers/onnx_model.py) or a HuggingFace config (.json,
or a folder holding config.json, see importers/hf_config.py) -> Graph."""

from __future__ import annotations

from pathlib import Path

from accelsim.bundled import bundled
from accelsim.errors import WorkloadError
from accelsim.workload import zoo
from accelsim.workload.ir import Graph
from accelsim.workload.limits import check_graph

SUFFIXES = (".csv", ".yaml", ".yml", ".onnx", ".json")


def load_workload(spec: str | Path, *, batch: int = 1, precision: str = "fp16", **params: object) -> Graph:
    """A zoo network by name, or a .csv / .yaml / .onnx / HF .json file (or a folder with config.json),
    checked against the bounds of workload/limits.py.

    Parameters: a zoo network's own; seq_len and past for a HF config; for ONNX, the sizes of the
    model's named dynamic axes (e.g. sequence=128)."""
    path = bundled(spec)
    if path.is_dir() and (path / "config.json").is_file():
        path = path / "config.json"
    if path.suffix.lower() not in SUFFIXES:
        if path.is_file():
            raise WorkloadError(f"unsupported workload file type {path.suffix.lower()!r}; use .csv, "
                                f".yaml, .onnx or a HuggingFace config.json", file=str(path))
        return check_graph(zoo.build(str(spec), batch, precision, **params))
    return check_graph(_load_file(path, batch, precision, params), str(path))


def _load_file(path: Path, batch: int, precision: str, params: dict[str, object]) -> Graph:
    """The graph of a workload file (see load_workload)."""
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        from accelsim.workload.importers.onnx_model import import_onnx

        return import_onnx(path, batch=batch, precision=precision, dims=params)
    if suffix == ".json":
        unknown = set(params) - {"seq_len", "past"}
        if unknown:
            raise WorkloadError("a HuggingFace config takes only seq_len and past", file=str(path),
                                key=sorted(unknown)[0])
        from accelsim.workload.importers.hf_config import import_hf_config

        return import_hf_config(path, batch=batch, precision=precision, **params)
    if params:
        raise WorkloadError(f"file workloads take no parameters, got {', '.join(params)}",
                            file=str(path), key=next(iter(params)))
    zoo.check_positive("batch", batch)
    zoo.check_precision(precision)
    if suffix == ".csv":
        if batch != 1:
            raise WorkloadError("SCALE-Sim topologies are batch 1", file=str(path), key="batch")
        from accelsim.workload.importers.scalesim_csv import import_scalesim_csv

        return import_scalesim_csv(path, precision=precision)
    from accelsim.workload.yaml_network import load_yaml_network

    return load_yaml_network(path, batch=batch, precision=precision)
