"""Plain mirrors of cached devices: the same fields and derived quantities as the pydantic models,
the same results to the byte, and a single run on a cached device that never imports pydantic."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from accelsim.config import cache
from accelsim.config.plain import Plain, mirror
from accelsim.engine.single import load_device, simulate_single
from accelsim.workload.ir import PRECISIONS
from tests.test_config import DEVICES

PER_PRECISION = ("peak_flops", "supports", "flops_per_cycle", "on_matrix_unit", "gemm")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty cache directory for this test."""
    where = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_VAR, str(where))
    return where


def assert_mirrors(model, plain) -> None:
    """Every field (same type), set field and derived quantity of `model` is its mirror's."""
    assert isinstance(plain, Plain) and plain.model_fields_set == model.model_fields_set
    for name in type(model).model_fields:
        value, mirrored = getattr(model, name), getattr(plain, name)
        if hasattr(value, "model_fields"):
            assert_mirrors(value, mirrored)
        else:
            assert type(mirrored) is type(value) and mirrored == value, name
    for name in dir(type(plain)):
        if isinstance(getattr(type(plain), name), property):
            assert getattr(plain, name) == getattr(model, name), name
        elif name in PER_PRECISION:
            for precision in PRECISIONS:
                assert getattr(plain, name)(precision) == getattr(model, name)(precision), name


@pytest.mark.parametrize("name", DEVICES)
def test_a_mirror_has_the_fields_and_derived_quantities_of_its_model(name):
    model = load_device(name)
    assert_mirrors(model, mirror(model))
    assert_mirrors(model, pickle.loads(pickle.dumps(mirror(model))))


@pytest.mark.parametrize("name", DEVICES)
def test_a_run_on_the_cached_mirror_is_byte_identical(name, cache_dir):
    model = load_device(name)                           # validated, and kept in the cache
    plain = load_device(name, plain=True)
    assert isinstance(plain, Plain) and not isinstance(model, Plain)
    for mode in ("inference", "training"):
        if mode in model.modes:
            runs = [simulate_single("gemm", device, mode=mode, m=256, n=384, k=512).to_json()
                    for device in (model, plain)]
            assert runs[0] == runs[1]


def test_a_mirror_is_read_only_and_copies_as_pydantic_does():
    model = load_device("tpu_v4")
    plain = mirror(model)
    with pytest.raises(AttributeError):
        plain.clock = 1.0
    update = {"clock": 2e9}
    assert mirror(model.model_copy(update=update)) == plain.model_copy(update=update)
    assert plain.model_copy(update=update).model_fields_set >= {"clock"}


RUN_AND_LIST_HEAVY = """
import contextlib, io, sys
from accelsim.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["run", "resnet50", "--device", sys.argv[1], "--json"])
print(",".join(m for m in ("pydantic", "yaml", "numba", "rich") if m in sys.modules) or "-")
"""


@pytest.mark.parametrize("device", ["tpu_v4", "a100"])
def test_a_single_run_of_a_cached_device_imports_no_pydantic_yaml_numba_or_rich(device, cache_dir):
    runs = [subprocess.run([sys.executable, "-c", RUN_AND_LIST_HEAVY, device], capture_output=True,
                           text=True, check=True).stdout.strip() for _ in range(2)]
    assert runs == ["pydantic,yaml", "-"]                # validated once, then the kept mirror
