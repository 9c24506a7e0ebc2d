"""The on-disk cache of validated bundled devices: same devices and results, misses on any edit."""

from __future__ import annotations

import json
import shutil

import pytest

from accelsim.config import cache
from accelsim.config.loader import hw_configs_dir, load_device
from accelsim.config.paths import resolve
from tests.hostile.cli import accelsim


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty cache directory for this test."""
    where = tmp_path / "cache"
    monkeypatch.setenv(cache.ENV_VAR, str(where))
    return where


@pytest.fixture
def own_configs(tmp_path, monkeypatch):
    """A copy of the bundled device folder that a test may edit."""
    copy = tmp_path / "hw_configs"
    shutil.copytree(hw_configs_dir(), copy)
    monkeypatch.setenv("ACCELSIM_HW_CONFIGS", str(copy))
    return copy


def test_a_bundled_device_is_kept_and_comes_back_equal(cache_dir):
    first = load_device("tpu_v4")
    assert len(list(cache_dir.glob("device-*.pickle"))) == 1
    assert load_device("tpu_v4") == first


def test_overridden_and_user_devices_are_not_kept(cache_dir, tmp_path):
    load_device("tpu_v4", ["memory.bandwidth=1e12"])
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: tpu_v4\nname: mine\n")
    assert load_device(mine).name == "mine"
    assert not cache_dir.exists() or not list(cache_dir.iterdir())


def test_editing_a_parent_in_the_extends_chain_misses(cache_dir, own_configs):
    assert load_device("scalesim_google").clock == 1e9        # inherited from scalesim_32x32
    parent = own_configs / "systolic" / "scalesim_32x32.yaml"
    parent.write_text(parent.read_text().replace("clock: 1 GHz ", "clock: 2 GHz ", 1))
    assert load_device("scalesim_google").clock == 2e9


def test_a_corrupt_entry_is_a_miss_and_is_replaced(cache_dir):
    expected = load_device("a100")
    (entry,) = cache_dir.glob("device-*.pickle")
    entry.write_bytes(b"not a pickle")
    assert load_device("a100") == expected
    assert entry.read_bytes() != b"not a pickle"


def test_an_unwritable_cache_directory_is_survived(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(cache.ENV_VAR, str(blocker / "cache"))
    assert load_device("a100").sms == 108          # A100 whitepaper, Table 1


@pytest.mark.parametrize("device", ["tpu_v4", "a100"])
def test_cli_results_are_byte_identical_with_the_cache_off_missing_and_hit(tmp_path, device):
    runs = []
    for setting in ("off", str(tmp_path / "c"), str(tmp_path / "c")):
        done = accelsim("run", "resnet50", "--device", device, "--json",
                        env={cache.ENV_VAR: setting})
        assert done.code == 0, done.err
        assert json.loads(done.out)["provenance"]["created_utc"]
        runs.append([line for line in done.out.splitlines() if '"created_utc"' not in line])
    assert runs[0] == runs[1] == runs[2]      # validated, validated and kept, the kept mirror
    assert list((tmp_path / "c").glob("device-*.pickle"))


def test_a_schema_module_edited_while_a_process_runs_is_never_stored_as_current(cache_dir,
                                                                                  monkeypatch):
    # a process that imported the old schema stores its device; the module's file then differs
    # from the stamps taken at import, so the entry is a miss for every later process
    schema = cache.SCHEMA_STAMPS[0]
    edited = ((schema[0], schema[1] + 1, schema[2]), *cache.SCHEMA_STAMPS[1:])
    load_device("tpu_v4")
    monkeypatch.setattr(cache, "SCHEMA_STAMPS", edited)       # what a later process sees on disk
    assert cache.load(resolve("tpu_v4")) is None
