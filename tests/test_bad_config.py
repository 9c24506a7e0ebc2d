"""Bad device input: every error is one line naming the file, the line and the key path."""

from __future__ import annotations

import pytest

from accelsim.config.loader import load_device
from accelsim.errors import ConfigError
from clitools import invoke

GOOD = """\
kind: systolic
name: test array
clock: 1 GHz
array:
  rows: 32
  cols: 32
  dataflow: ws
sram:
  ifmap: 64 KiB
  filter: 64 KiB
  ofmap: 64 KiB
memory:
  bandwidth: 10 GB/s
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run in a scratch directory so files are named by their relative paths in messages."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str) -> str:
    """Write `text` to `name` in the scratch directory and return the name."""
    with open(name, "w") as handle:
        handle.write(text)
    return name


def edit(old: str, new: str) -> str:
    """The good config with one line replaced."""
    assert old in GOOD
    return GOOD.replace(old, new)


def error(spec: str, overrides: tuple[str, ...] = ()) -> ConfigError:
    """The ConfigError that loading `spec` raises; its message must be a single line."""
    with pytest.raises(ConfigError) as info:
        load_device(spec, overrides)
    message = str(info.value)
    assert "\n" not in message
    return info.value


def assert_at(err: ConfigError, file: str, line: int | None, key: str | None, *fragments: str):
    """`err` points at file:line: key and its message contains every fragment."""
    assert (err.file, err.line, err.key) == (file, line, key), str(err)
    where = f"{file}:{line}: " if line else f"{file}: "
    assert str(err).startswith(where + (f"{key}: " if key else "")), str(err)
    for fragment in fragments:
        assert fragment in str(err), str(err)


def test_the_good_config_loads():
    assert load_device(write("dev.yaml", GOOD)).array.rows == 32


def test_malformed_yaml_reports_the_parser_line():
    spec = write("dev.yaml", edit("  cols: 32\n", "  cols: 32\n   bad: [\n"))
    assert_at(error(spec), "dev.yaml", 7, None, "invalid YAML")


def test_top_level_must_be_a_mapping():
    assert_at(error(write("dev.yaml", "- a100\n- v100\n")), "dev.yaml", 1, None,
              "expected a mapping", "got a list")


def test_empty_file():
    assert_at(error(write("dev.yaml", "# nothing here\n")), "dev.yaml", None, None, "empty")


def test_duplicate_key_names_both_lines():
    spec = write("dev.yaml", GOOD + "clock: 2 GHz\n")
    assert_at(error(spec), "dev.yaml", 14, None, "duplicate key 'clock'", "line 3")


def test_missing_kind():
    spec = write("dev.yaml", GOOD.replace("kind: systolic\n", ""))
    assert_at(error(spec), "dev.yaml", 1, "kind", "missing", "gpu, systolic, fpga, npu")


def test_unknown_kind_suggests_the_closest():
    spec = write("dev.yaml", edit("kind: systolic", "kind: systolc"))
    assert_at(error(spec), "dev.yaml", 1, "kind", "unknown kind 'systolc'",
              "did you mean 'systolic'?")


def test_unknown_key_suggests_the_closest():
    spec = write("dev.yaml", edit("  bandwidth: 10 GB/s", "  bandwdith: 10 GB/s"))
    err = error(spec)
    assert_at(err, "dev.yaml", 13, "memory.bandwdith", "unknown key 'bandwdith'",
              "did you mean 'bandwidth'?")


def test_wrong_type():
    spec = write("dev.yaml", edit("  rows: 32", "  rows: many"))
    assert_at(error(spec), "dev.yaml", 5, "array.rows", "expected an integer", "'many'")


def test_bad_unit_string():
    spec = write("dev.yaml", edit("  bandwidth: 10 GB/s", "  bandwidth: fast"))
    assert_at(error(spec), "dev.yaml", 13, "memory.bandwidth",
              'expected a bandwidth like "900 GB/s", got \'fast\'')


def test_unit_of_the_wrong_family():
    spec = write("dev.yaml", edit("clock: 1 GHz", "clock: 1 GB"))
    assert_at(error(spec), "dev.yaml", 3, "clock", "expected a frequency", "'1 GB'")


def test_negative_size():
    spec = write("dev.yaml", edit("  filter: 64 KiB", "  filter: -64 KiB"))
    assert_at(error(spec), "dev.yaml", 10, "sram.filter", "must be > 0", "'-64 KiB'")


def test_zero_count():
    spec = write("dev.yaml", edit("  cols: 32", "  cols: 0"))
    assert_at(error(spec), "dev.yaml", 6, "array.cols", "must be >= 1", "got 0")


def test_bad_choice_lists_the_choices():
    spec = write("dev.yaml", edit("  dataflow: ws", "  dataflow: xs"))
    assert_at(error(spec), "dev.yaml", 7, "array.dataflow", "'os', 'ws', 'is' or 'rs'", "'xs'")


def test_wrong_type_in_a_list_names_the_item():
    spec = write("dev.yaml", GOOD + "precisions:\n  - int8\n  - 16\n")
    assert_at(error(spec), "dev.yaml", 16, "precisions[1]", "expected a string", "16")


def test_missing_required_field_points_at_its_parent():
    spec = write("dev.yaml", edit("  bandwidth: 10 GB/s\n", "  type: DDR4\n"))
    assert_at(error(spec), "dev.yaml", 12, "memory.bandwidth", "required key is missing")


def test_a_section_that_is_not_a_mapping():
    spec = write("dev.yaml", GOOD + "vector: 128\n")
    assert_at(error(spec), "dev.yaml", 14, "vector", "expected a mapping", "128")


def test_several_problems_report_the_first_line_and_count_the_rest():
    spec = write("dev.yaml", edit("clock: 1 GHz", "clock: soon").replace("  cols: 32", "  cols: 0"))
    assert_at(error(spec), "dev.yaml", 3, "clock", "expected a frequency", "(and 1 more problem)")


NPU = "extends: phone_npu\nname: test npu\nsupported_ops: [conv2d, {}]\n"


def test_unknown_npu_op_suggests_the_closest():
    spec = write("npu.yaml", NPU.format("sofmax"))
    assert_at(error(spec), "npu.yaml", 3, "supported_ops[1]", "expected an op kind an NPU runs",
              "got 'sofmax'", "did you mean 'softmax'?")


def test_npu_cannot_name_a_kind_only_training_has():
    spec = write("npu.yaml", NPU.format("optimizer"))
    assert_at(error(spec), "npu.yaml", 3, "supported_ops[1]", "got 'optimizer'")


@pytest.mark.parametrize("command", [("show", "npu.yaml"), ("run", "resnet50", "--device", "npu.yaml")])
def test_cli_reports_a_bad_npu_op_on_one_line_with_exit_2(capsys, command):
    write("npu.yaml", NPU.format("pooling"))
    code, out, err = invoke(capsys, *command)
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        "accelsim: error: npu.yaml:3: supported_ops[1]: expected an op kind an NPU runs (conv2d, "
        "matmul, elementwise, norm, softmax, pool, embedding), got 'pooling' (did you mean 'pool'?)"]


def test_missing_file():
    assert_at(error("nowhere/dev.yaml"), "nowhere/dev.yaml", None, None, "no such file")


def test_unknown_bundled_name_suggests_close_names():
    err = error("a10")
    assert (err.file, err.line, err.key) == (None, None, None)
    assert "unknown device 'a10'" in str(err) and "'a100'" in str(err)


def test_error_inside_a_parent_is_reported_in_the_parent():
    write("parent.yaml", edit("clock: 1 GHz", "clock: quick"))
    spec = write("child.yaml", "extends: parent.yaml\nname: child\n")
    assert_at(error(spec), "parent.yaml", 3, "clock", "expected a frequency", "'quick'")


def test_error_in_a_child_of_a_bundled_device():
    spec = write("child.yaml", "extends: a100\nsms: lots\n")
    assert_at(error(spec), "child.yaml", 2, "sms", "expected an integer", "'lots'")


def test_extends_target_missing():
    spec = write("child.yaml", "name: child\nextends: gone.yaml\n")
    assert_at(error(spec), "child.yaml", 2, "extends", "no such file 'gone.yaml'")


def test_extends_unknown_bundled_name():
    spec = write("child.yaml", "extends: a1000\n")
    assert_at(error(spec), "child.yaml", 1, "extends", "unknown device 'a1000'", "'a100'")


def test_extends_cycle():
    write("a.yaml", "extends: b.yaml\nname: a\n")
    write("b.yaml", "name: b\nextends: a.yaml\n")
    assert_at(error("a.yaml"), "b.yaml", 2, "extends", "cycle a.yaml -> b.yaml -> a.yaml")


def test_set_without_equals():
    assert_at(error(write("dev.yaml", GOOD), ("array.rows",)), "--set", None, None,
              "expected KEY=VALUE", "'array.rows'")


def test_set_unknown_key_fails_like_a_yaml_key():
    err = error(write("dev.yaml", GOOD), ("memory.bandwdith=3 TB/s",))
    assert_at(err, "--set", None, "memory.bandwdith", "unknown key 'bandwdith'",
              "did you mean 'bandwidth'?")


def test_set_bad_value():
    err = error("a100", ("memory.bandwidth=fast",))
    assert_at(err, "--set", None, "memory.bandwidth", "expected a bandwidth", "'fast'")


def test_set_into_a_scalar():
    err = error("a100", ("clock.max=2 GHz",))
    assert_at(err, "--set", None, "clock.max", "which is a value, not a mapping")


def test_set_leaves_yaml_errors_at_their_line():
    spec = write("dev.yaml", edit("  rows: 32", "  rows: -1"))
    assert_at(error(spec, ("array.cols=16",)), "dev.yaml", 5, "array.rows", "must be >= 1")


def test_python_tags_are_refused_as_in_safe_load():
    spec = write("dev.yaml", GOOD + "source: !!python/object/apply:os.getcwd []\n")
    assert_at(error(spec), "dev.yaml", 14, None, "invalid YAML", "python/object/apply")
