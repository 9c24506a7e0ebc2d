"""Unit strings at the edges: "40 MiB", "1.41 GHz", "2039 GB/s" -> SI numbers, and bad strings."""

from __future__ import annotations

import pytest

from accelsim import units


@pytest.mark.parametrize("value, family, expected", [
    ("40 MiB", "bytes", 40 * 1024**2),
    ("64 KiB", "bytes", 65536),
    ("1 kB", "bytes", 1000),
    ("80 GiB", "bytes", 80 * 2**30),
    ("1.41 GHz", "frequency", 1.41e9),
    ("700 MHz", "frequency", 7e8),
    ("2039 GB/s", "bandwidth", 2.039e12),
    ("2TB/s", "bandwidth", 2e12),
    ("  900 GB/s  ", "bandwidth", 9e11),
    ("1 GiB/s", "bandwidth", 2**30),
    ("278 mW", "power", 0.278),
    ("400 W", "power", 400.0),
    ("4 us", "time", 4e-6),
    ("312 TFLOP/s", "flops", 3.12e14),
    ("4 TOPS", "flops", 4e12),
    ("3.7 pJ", "energy", 3.7e-12),
    ("64 bit", "bits", 64.0),
    ("1e9", "frequency", 1e9),
    ("2.5e-3 s", "time", 2.5e-3),
    (".5 GHz", "frequency", 5e8),
    (1e9, "frequency", 1e9),
    (64, "bytes", 64.0),
])
def test_parse_accepts_numbers_and_unit_strings(value, family, expected):
    assert units.parse(value, family) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("value, family", [
    ("fast", "bandwidth"),
    ("3 TB", "bandwidth"),          # bytes, not bytes per second
    ("1.41 GHZ", "frequency"),      # unit spelling is case-sensitive
    ("40 MiHz", "frequency"),       # binary prefixes are for bytes only
    ("40 MB/h", "bandwidth"),
    ("", "bytes"),
    ("GB/s", "bandwidth"),          # no number
    ("1 2 GB/s", "bandwidth"),
    (True, "bytes"),                # YAML booleans are not numbers
    (None, "power"),
    ([1], "bytes"),
])
def test_parse_rejects_bad_values_with_an_example(value, family):
    with pytest.raises(units.UnitError) as info:
        units.parse(value, family)
    assert units.FAMILIES[family][1] in str(info.value)
    assert repr(value) in str(info.value)


def test_unit_error_is_a_value_error():
    assert issubclass(units.UnitError, ValueError)


@pytest.mark.parametrize("value, unit, text", [
    (2.039e12, "B/s", "2.04 TB/s"),
    (1.41e9, "Hz", "1.41 GHz"),
    (0.278, "W", "278 mW"),
    (0, "W", "0 W"),
])
def test_fmt_uses_decimal_prefixes(value, unit, text):
    assert units.fmt(value, unit) == text


def test_fmt_bytes_uses_binary_prefixes():
    assert units.fmt_bytes(40 * 1024**2) == "40 MiB"
    assert units.fmt_bytes(512) == "512 B"


@pytest.mark.parametrize("value, family, show", [
    (1.41e9, "frequency", lambda v: units.fmt(v, "Hz")),
    (0.278, "power", lambda v: units.fmt(v, "W")),
    (2.039e12, "bandwidth", lambda v: units.fmt(v, "B/s")),
    (40 * 2**20, "bytes", units.fmt_bytes),
])
def test_formatted_values_parse_back(value, family, show):
    assert units.parse(show(value), family) == pytest.approx(value, rel=1e-3)
