"""Device configs: every bundled YAML loads, matches its public source, and extends/--set work."""

from __future__ import annotations

import configparser
import csv
import re
from pathlib import Path

import pytest
import yaml

from accelsim.config import KINDS
from accelsim.config.loader import (bundled_configs, describe, device_json_schema, hw_configs_dir,
                                    list_devices, load_device)
from accelsim.config.yaml_lines import parse_yaml

BUNDLED = sorted(bundled_configs())                # every YAML under hw_configs/
DEVICES = sorted(name for name, paths in bundled_configs().items()
                 if paths[0].relative_to(hw_configs_dir()).parts[0] in KINDS)
NUMBER_LINE = re.compile(r"^\s*[\w-]+:\s*\.?\d")   # a key whose value starts with a digit


def _devices_csv(reference_dir: Path) -> dict[str, dict[str, str]]:
    """devices_public.csv rows by device name."""
    with open(reference_dir / "devices_public.csv", newline="") as handle:
        return {row["device"]: row for row in csv.DictReader(handle)}


def _scalesim_cfg(reference_dir: Path, name: str) -> configparser.SectionProxy:
    """The [architecture_presets] section of a SCALE-Sim config."""
    parser = configparser.ConfigParser()
    parser.read(reference_dir / "scalesim" / name)
    return parser["architecture_presets"]


@pytest.mark.parametrize("name", DEVICES)
def test_every_bundled_device_loads(name):
    device = load_device(name)
    assert device.kind in KINDS
    assert device.name and device.source
    assert device.memory.bandwidth > 0


def test_bundled_names_are_unique():
    assert all(len(paths) == 1 for paths in bundled_configs().values())


@pytest.mark.parametrize("name", BUNDLED)
def test_every_number_in_bundled_yaml_has_a_source_comment(name):
    [path] = bundled_configs()[name]
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if NUMBER_LINE.match(line):
            assert "#" in line, f"{path.name}:{number} has a number without a source comment"


def test_list_devices_covers_every_kind():
    rows = list_devices()
    assert sorted(name for name, _, _ in rows) == DEVICES
    assert {kind for _, kind, _ in rows} == set(KINDS)
    assert {name for name, _, _ in rows} >= {"v100", "a100", "h100", "tpu_v1", "tpu_v4", "eyeriss",
                                             "scalesim_32x32", "scalesim_google", "zcu102_dpu",
                                             "coral_edgetpu", "jetson_orin_dla", "phone_npu"}
    assert [KINDS.index(kind) for _, kind, _ in rows] == sorted(KINDS.index(k) for _, k, _ in rows)


@pytest.mark.parametrize("name, cfg", [("scalesim_32x32", "scale.cfg"),
                                       ("scalesim_google", "google.cfg")])
def test_scalesim_configs_match_their_cfg_files(reference_dir, name, cfg):
    preset = _scalesim_cfg(reference_dir, cfg)
    device = load_device(name)
    assert device.array.rows == int(preset["ArrayHeight"])
    assert device.array.cols == int(preset["ArrayWidth"])
    assert device.array.dataflow == preset["Dataflow"].strip()
    kib = 1024                                   # SCALE-Sim's "kB" is 1024 bytes
    assert device.sram.ifmap == int(preset["IfmapSramSzkB"]) * kib
    assert device.sram.filter == int(preset["FilterSramSzkB"]) * kib
    assert device.sram.ofmap == int(preset["OfmapSramSzkB"]) * kib
    words_per_cycle = int(preset["Bandwidth"])   # one-byte words
    assert device.memory.bandwidth == pytest.approx(words_per_cycle * device.clock)


@pytest.mark.parametrize("name, device_row", [
    ("v100", "NVIDIA V100-SXM2-32GB"),
    ("a100", "NVIDIA A100-SXM4-80GB"),
    ("h100", "NVIDIA H100-SXM5-80GB"),
])
def test_gpus_match_devices_public_csv(reference_dir, name, device_row):
    row = _devices_csv(reference_dir)[device_row]
    device = load_device(name)
    fp16 = float(row["peak_dense_tflops_fp16_bf16"]) * 1e12
    assert device.peak_flops("fp16") == pytest.approx(fp16)
    assert device.peak_flops("fp32") == pytest.approx(float(row["peak_tflops_fp32"]) * 1e12)
    if row["peak_tops_int8"]:
        assert device.peak_flops("int8") == pytest.approx(float(row["peak_tops_int8"]) * 1e12)
    assert device.memory.bandwidth == pytest.approx(float(row["mem_bw_gb_s"]) * 1e9)
    assert device.memory.capacity == float(row["mem_gib"]) * 2**30
    assert device.clock == pytest.approx(float(row["clock_ghz"]) * 1e9)
    assert device.sms == int(row["units_or_sms"].split()[0])
    assert device.l2.size == float(row["on_chip_sram_mib"].split()[0]) * 2**20
    assert device.power.tdp == float(row["tdp_w"])


def test_a100_bf16_peak_and_bandwidth_match_the_datasheet_row(reference_dir):
    row = _devices_csv(reference_dir)["NVIDIA A100-SXM4-80GB"]
    a100 = load_device("a100")
    assert a100.peak_flops("bf16") == 312e12 == float(row["peak_dense_tflops_fp16_bf16"]) * 1e12
    assert a100.memory.bandwidth == 2039e9 == float(row["mem_bw_gb_s"]) * 1e9


@pytest.mark.parametrize("name, device_row, precision", [
    ("tpu_v1", "Google TPU v1", "int8"),
    ("tpu_v4", "Google TPU v4", "bf16"),
])
def test_tpus_match_devices_public_csv(reference_dir, name, device_row, precision):
    row = _devices_csv(reference_dir)[device_row]
    device = load_device(name)
    column = "peak_tops_int8" if precision == "int8" else "peak_dense_tflops_fp16_bf16"
    assert device.peak_flops(precision) == pytest.approx(float(row[column]) * 1e12, rel=0.005)
    assert device.clock == pytest.approx(float(row["clock_ghz"]) * 1e9)
    assert device.memory.bandwidth == pytest.approx(float(row["mem_bw_gb_s"]) * 1e9)
    assert device.memory.capacity == float(row["mem_gib"]) * 2**30
    assert device.power.tdp == float(row["tdp_w"])


def test_tpu_v4_layout_and_on_chip_memories():
    tpu = load_device("tpu_v4")
    assert (tpu.cores, tpu.arrays_per_core, tpu.array.rows, tpu.array.cols) == (2, 4, 128, 128)
    assert tpu.supports("bf16") and tpu.supports("int8") and not tpu.supports("fp32")
    assert tpu.shared_sram == 128 * 2**20                      # CMEM
    tpu_v1 = load_device("tpu_v1")
    on_chip = tpu_v1.sram.ifmap + tpu_v1.sram.ofmap           # unified buffer + accumulators
    assert on_chip == 28 * 2**20


def test_eyeriss_matches_the_jssc_paper(reference_dir):
    row = _devices_csv(reference_dir)["MIT Eyeriss (65 nm)"]
    eyeriss = load_device("eyeriss")
    assert eyeriss.pes == 168 == int(row["units_or_sms"].split()[0])
    assert eyeriss.clock == pytest.approx(float(row["clock_ghz"]) * 1e9)
    macs_per_s = float(row["peak_tops_int8"].split()[0]) * 1e12      # "0.0336 (16-bit MACs)"
    assert eyeriss.peak_flops("int16") == pytest.approx(2 * macs_per_s)
    assert eyeriss.power.tdp == pytest.approx(float(row["tdp_w"].split()[0]))
    assert eyeriss.sram.ifmap + eyeriss.sram.ofmap == 108 * 1024   # the 108 KB global buffer
    assert eyeriss.process_nm == 65


def test_fpga_and_npus_match_devices_public_csv(reference_dir):
    rows = _devices_csv(reference_dir)
    dpu = load_device("zcu102_dpu")
    dpu_row = rows["Xilinx ZCU102 + DPUCZDX8G B4096 x3"]
    assert dpu.dpu.cores == 3 and dpu.dpu.ops_per_cycle == 4096
    assert dpu.peak_flops("int8") == pytest.approx(3 * 4096 * 281e6)
    approx_tops = float(dpu_row["peak_tops_int8"].strip("~")) * 1e12   # "~3.6" at "~0.3" GHz
    assert dpu.peak_flops("int8") == pytest.approx(approx_tops, rel=0.05)
    assert dpu.memory.bandwidth == pytest.approx(float(dpu_row["mem_bw_gb_s"]) * 1e9)
    coral = load_device("coral_edgetpu")
    coral_row = rows["Google Coral Edge TPU"]
    assert coral.peak_flops("int8") == pytest.approx(float(coral_row["peak_tops_int8"]) * 1e12,
                                                     rel=0.05)   # 4096 MACs: "4 TOPS" is rounded
    assert coral.sram == float(coral_row["on_chip_sram_mib"].split()[0]) * 2**20
    assert coral.power.tdp == float(coral_row["tdp_w"])
    orin_row = rows["NVIDIA Jetson AGX Orin 64GB"]
    dla, gpu = load_device("jetson_orin_dla"), load_device("jetson_orin")
    sparse_total = float(orin_row["peak_tops_int8"].split()[0]) * 1e12   # GPU + DLA, 2:4 sparse
    dense_total = dla.peak_flops("int8") + gpu.peak_flops("int8")
    assert 2 * dense_total == pytest.approx(sparse_total, rel=0.01)
    assert dla.memory.bandwidth == pytest.approx(float(orin_row["mem_bw_gb_s"]) * 1e9)


def test_phone_npu_is_a_few_watts_int8_and_fp16():
    npu = load_device("phone_npu")
    assert npu.supports("int8") and npu.supports("fp16")
    assert 1 * 2**20 <= npu.sram <= 16 * 2**20
    assert 1 <= npu.power.tdp <= 10
    assert "LPDDR5" in npu.memory.type


def test_extends_merges_nested_mappings(tmp_path):
    child = tmp_path / "a100_fast.yaml"
    child.write_text("extends: a100\nname: faster A100\nmemory:\n  bandwidth: 3 TB/s\n")
    device = load_device(str(child))
    a100 = load_device("a100")
    assert device.name == "faster A100"
    assert device.memory.bandwidth == 3e12
    assert device.memory.capacity == a100.memory.capacity      # sibling key kept from the parent
    assert device.peak == a100.peak


def test_extends_relative_path_chain(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "base.yaml").write_text("extends: scalesim_32x32\nclock: 2 GHz\n")
    (tmp_path / "sub" / "leaf.yaml").write_text("extends: ../base.yaml\narray:\n  rows: 64\n")
    device = load_device(tmp_path / "sub" / "leaf.yaml")
    assert (device.clock, device.array.rows, device.array.cols) == (2e9, 64, 32)


def test_set_overrides_parse_values_as_yaml():
    device = load_device("scalesim_32x32", ["array.dataflow=ws", "array.rows=64",
                                            "memory.bandwidth=3 TB/s", "clock=1e9"])
    assert device.clock == 1e9                  # YAML reads 1e9 as a string; units parse it
    assert device.array.dataflow == "ws"
    assert device.array.rows == 64
    assert device.memory.bandwidth == 3e12


def test_set_adds_a_dict_entry_and_later_overrides_win():
    device = load_device("a100", ["peak.fp8=1 PFLOP/s", "clock=1 GHz", "clock=1.5 GHz"])
    assert device.peak["fp8"] == 1e15
    assert device.peak["bf16"] == 312e12
    assert device.clock == 1.5e9


def test_environment_variable_moves_the_bundled_directory(tmp_path, monkeypatch):
    (tmp_path / "mine.yaml").write_text((hw_configs_dir() / "gpu" / "v100.yaml").read_text())
    monkeypatch.setenv("ACCELSIM_HW_CONFIGS", str(tmp_path))
    assert load_device("mine").name == "NVIDIA V100-SXM2-32GB"
    assert [row[0] for row in list_devices()] == ["mine"]


def test_describe_is_plain_si_data_with_derived_peaks():
    data = describe(load_device("a100"))
    assert (data["kind"], data["name"]) == ("gpu", "NVIDIA A100-SXM4-80GB")
    assert data["memory"]["bandwidth"] == 2039e9
    assert data["derived"]["peak_flops"]["bf16"] == 312e12


def test_json_schema_accepts_unit_strings_and_extends():
    schema = device_json_schema()
    assert schema["discriminator"]["propertyName"] == "kind"
    gpu = schema["$defs"]["GpuConfig"]
    assert "extends" in gpu["properties"]
    assert {"type": "string"} in gpu["properties"]["clock"]["anyOf"]


@pytest.mark.parametrize("text", [
    "a: 1\nb: [1, 2.5, '3', 1e9, 0x10, yes, null]\nc: {d: 3 TB/s}\n",
    "base: &b\n  x: 1\n  y: 2\nother:\n  <<: *b\n  y: 3\nmore:\n  <<: [*b, {x: 9, z: 1}]\n",
    "- 1\n- [2, 3]\n",
])
def test_line_aware_loader_has_safe_load_semantics(text):
    assert parse_yaml(text, "t.yaml") == yaml.safe_load(text)


def test_line_aware_loader_records_key_and_item_lines():
    data = parse_yaml("a: 1\nb:\n  c: 2\n  d:\n    - x\n    - y\n", "t.yaml")
    assert data.where["b"] == ("t.yaml", 2)
    assert data["b"].where["c"] == ("t.yaml", 3)
    assert data["b"]["d"].where[1] == ("t.yaml", 6)


def test_show_with_units_formats_every_unit_field():
    shown = describe(load_device("a100"), with_units=True)
    # devices_public.csv: A100 80 GB HBM2e, 2039 GB/s, 400 W, 312 TFLOP/s bf16, 1.41 GHz
    assert shown["memory"]["capacity"] == "80 GiB"
    assert shown["memory"]["bandwidth"] == "2.04 TB/s"
    assert shown["power"]["tdp"] == "400 W"
    assert shown["clock"] == "1.41 GHz"
    assert shown["peak"]["bf16"] == "312 TFLOP/s"
    assert shown["derived"]["peak_flops"]["bf16"] == "312 TFLOP/s"
    assert shown["sms"] == 108 and shown["memory"]["efficiency"] == 0.88   # plain numbers stay
