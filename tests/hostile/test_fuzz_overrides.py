"""Hypothesis fuzzing of --set: any key and value either loads a valid device or raises one of
accelsim's own errors (which the CLI prints as one line with exit 2) - never anything else."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.config.loader import describe, load_device
from accelsim.errors import AccelsimError

DEVICES = ("a100", "tpu_v4", "zcu102_dpu", "phone_npu")
KEYS = ("sms", "clock", "memory.bandwidth", "memory.capacity", "memory.efficiency", "power.idle",
        "power.tdp", "array.rows", "array.cols", "cores", "sram.ifmap", "peak.fp16", "name",
        "efficiency.compute", "launch_overhead", "macs_per_cycle.int8", "memory", "kind", "x.y")
SCALARS = st.one_of(st.integers(min_value=-10**40, max_value=10**40), st.floats(),
                    st.booleans(), st.none(), st.text(max_size=30))
VALUES = st.one_of(SCALARS.map(str), st.sampled_from(
    ["1e400", "-1e400", ".inf", ".nan", "1e-320", "2 TB/s", "1e400 GB/s", "[1, 2]", "{a: 1}",
     "'x'", "true", "0", "-1", "0x10", "1_000", "10 GHz", "300 W", "''", "[[[[]]]]", "*a", "&a 1",
     "!!python/object:os.system", "2**64", "18446744073709551617"]))


def finite_numbers(tree) -> bool:
    """Whether every number in a described device is finite."""
    if isinstance(tree, dict):
        return all(finite_numbers(value) for value in tree.values())
    if isinstance(tree, (list, tuple)):
        return all(finite_numbers(value) for value in tree)
    return not isinstance(tree, float) or math.isfinite(tree)


@settings(max_examples=300, deadline=None)
@given(device=st.sampled_from(DEVICES), key=st.sampled_from(KEYS) | st.text(max_size=12),
       value=VALUES)
def test_any_override_loads_a_sane_device_or_is_a_clean_error(device, key, value):
    try:
        config = load_device(device, [f"{key}={value}"])
    except AccelsimError as exc:
        assert "\n" not in str(exc)
        return
    assert finite_numbers(describe(config))
