"""First-order die area of every device kind from the component library (devices.components).

A die is its MAC units (array PEs, tensor cores, SIMD lanes: components.pe_area_mm2, each sized for
the precision that takes the most area at its peak rate) plus its SRAMs (components.sram_area_mm2),
divided by CORE_SHARE, the share of TPU v1's die that those parts take (Jouppi et al. ISCA 2017:
a <= 331 mm^2 28 nm die whose 65,536 int8 PEs, 24 MiB Unified Buffer, 4 MiB of accumulators and
256 KiB weight FIFO are modelled; control, I/O, PHYs, vector units and wiring make up the rest);
GPUs by GPU_CORE_SHARE, V100's (NVIDIA Volta whitepaper: 815 mm^2).
An FPGA design occupies its ASIC-equivalent area x the FPGA/ASIC area gap (Kuon & Rose, TCAD 2007).
Every function takes numbers or numpy arrays (broadcast together) so sweeps can call it on whole
design spaces. Caveats: GPU L1/shared memory, CPU out-of-order logic and memory PHYs are not
counted beyond CORE_SHARE (see `accelsim validate` for the errors against published dies).
"""

from __future__ import annotations

import numpy as np

from accelsim.devices import components as c
from accelsim.devices.components import MIB, TPU_V1_NM


def _core_mm2(pes, sram_bytes, precision: str, process_nm):
    """PEs of `precision` plus single-ported SRAM, before the uncore."""
    return np.asarray(pes, dtype=np.float64) * c.pe_area_mm2(precision, process_nm) \
        + c.sram_area_mm2(sram_bytes, process_nm=process_nm)


TPU_V1_SRAM = 24 * MIB + 4 * MIB + 256 * 1024     # Unified Buffer, accumulators, weight FIFO
CORE_SHARE = float(_core_mm2(65536, TPU_V1_SRAM, "int8", TPU_V1_NM) / c.TABLE["tpu_v1_die_mm2"][TPU_V1_NM])


def widest_precision(precisions) -> str:
    """The precision (of those the library knows; int8 if none) whose MAC takes the most area."""
    return max((p for p in precisions if p in c.MAC_UM2_45NM), key=c.MAC_UM2_45NM.__getitem__,
               default="int8")


def largest_units(macs_per_precision: dict) -> tuple[float, str]:
    """(MAC units, precision) of the precision whose MAC rate takes the most area."""
    precision = max(macs_per_precision,
                    key=lambda p: macs_per_precision[p] * c.MAC_UM2_45NM.get(p, 0.0))
    return macs_per_precision[precision], precision


def systolic_area_mm2(pes, sram_bytes, *, precision: str = "int8", process_nm=TPU_V1_NM):
    """Die of a systolic/NPU chip: `pes` PEs of `precision` and `sram_bytes` of SRAM."""
    return _core_mm2(pes, sram_bytes, precision, process_nm) / CORE_SHARE


npu_area_mm2 = systolic_area_mm2


def _gpu_core_mm2(sms, l2_bytes, tensor_macs_per_sm, tensor_precision, fp32_lanes_per_sm,
                  register_file_bytes, process_nm):
    """A GPU's SMs (tensor-core MACs, fp32 lanes, register file) plus its L2, before the uncore."""
    sm = np.asarray(tensor_macs_per_sm, dtype=np.float64) * c.pe_area_mm2(tensor_precision, process_nm) \
        + np.asarray(fp32_lanes_per_sm, dtype=np.float64) * c.pe_area_mm2("fp32", process_nm) \
        + c.sram_area_mm2(register_file_bytes, process_nm=process_nm)
    return np.asarray(sms, dtype=np.float64) * sm + c.sram_area_mm2(l2_bytes, process_nm=process_nm)


# V100 (NVIDIA Volta whitepaper, 2017): 815 mm^2 at 12 nm; 80 SMs of 8 tensor cores (64 fp16 FMA
# per clock each) and 64 fp32 lanes, 256 KiB of registers per SM, 6 MiB of L2. A GPU spends far more
# of its die outside these (L1/shared memory, fp64/int units, schedulers, HBM and NVLink PHYs) than
# TPU v1 does: GPU_CORE_SHARE is V100's modelled share, A100 and H100 are held out (validate).
GPU_CORE_SHARE = float(_gpu_core_mm2(80, 6 * MIB, 512, "fp16", 64, 256 * 1024, 12.0)
                       / c.TABLE["v100_die_mm2"][12.0])


def gpu_area_mm2(sms, l2_bytes, *, tensor_macs_per_sm, tensor_precision: str = "fp16",
                 fp32_lanes_per_sm=64, register_file_bytes=256 * 1024, process_nm=7.0):
    """Die of a GPU: `sms` SMs of tensor-core MACs, fp32 lanes and a register file, plus its L2."""
    return _gpu_core_mm2(sms, l2_bytes, tensor_macs_per_sm, tensor_precision, fp32_lanes_per_sm,
                         register_file_bytes, process_nm) / GPU_CORE_SHARE


def fpga_area_mm2(macs, bram_bytes, *, precision: str = "int8", process_nm=16.0):
    """Fabric a design occupies: its ASIC-equivalent MACs and block RAM x the FPGA area gap."""
    return _core_mm2(macs, bram_bytes, precision, process_nm) * c.FPGA_AREA_GAP


def cpu_area_mm2(cores, llc_bytes, *, macs_per_core, precision: str = "fp32",
                 private_cache_bytes=0.0, process_nm=10.0):
    """Die of a CPU: `cores` cores of `macs_per_core` MAC lanes and private caches, plus the LLC."""
    core = _core_mm2(macs_per_core, private_cache_bytes, precision, process_nm)
    return (np.asarray(cores, dtype=np.float64) * core
            + c.sram_area_mm2(llc_bytes, process_nm=process_nm)) / CORE_SHARE


def sram_bytes(device) -> float:
    """All on-chip SRAM of a systolic chip: each core's three buffers plus the shared one (counted
    once where it is the ifmap buffer itself, as TPU v1's Unified Buffer)."""
    per_core = device.sram.ifmap + device.sram.filter + device.sram.ofmap
    shared = 0.0 if device.shared_sram_is_ifmap else (device.shared_sram or 0.0)
    return device.cores * per_core + shared


def _macs_per_cycle(device, rates: dict) -> dict:
    """{precision: MACs per cycle} from {precision: FLOP/s or ops/s} at the device's clock."""
    return {precision: rate / 2 / device.clock for precision, rate in rates.items()}


def device_area_mm2(device) -> float:
    """Modelled die area of a device of any kind (mm^2)."""
    nm = device.process_nm
    if device.kind == "systolic":
        area = systolic_area_mm2(device.pes, sram_bytes(device),
                                 precision=widest_precision(device.precisions), process_nm=nm)
    elif device.kind == "npu":
        macs, precision = largest_units(device.macs_per_cycle)
        area = npu_area_mm2(macs, device.sram, precision=precision, process_nm=nm)
    elif device.kind == "gpu":
        tensor = {p: device.peak_flops(p) for p in device.peak if p not in ("fp32", "fp64")}
        macs, precision = largest_units(_macs_per_cycle(device, tensor) or {"fp16": 0.0})
        lanes = device.peak_flops("fp32") / 2 / device.clock if "fp32" in device.peak else 0.0
        area = gpu_area_mm2(device.sms, device.l2.size if device.l2 else 0.0,
                            tensor_macs_per_sm=macs / device.sms, tensor_precision=precision,
                            fp32_lanes_per_sm=lanes / device.sms,
                            register_file_bytes=device.register_file, process_nm=nm)
    elif device.kind == "fpga":
        macs = device.dpu.cores * device.dpu.ops_per_cycle / 2
        area = fpga_area_mm2(macs, device.dpu.cores * device.bram,
                             precision=widest_precision(device.precisions), process_nm=nm)
    else:
        rates = {p: (device.simd.get(p, 0) + device.matrix.get(p, 0)) / 2 for p in
                 {*device.simd, *device.matrix}}
        macs, precision = largest_units(rates)
        area = cpu_area_mm2(device.cores, device.cache.llc, macs_per_core=macs, precision=precision,
                            private_cache_bytes=device.cache.l1 + device.cache.l2, process_nm=nm)
    return float(area)


# TPU v1's measured idle power per die (Jouppi et al. ISCA 2017, Table 2: 28 W) over its die
# (<= 331 mm^2): static power (leakage and clock tree) per mm^2, taken for every node.
STATIC_W_PER_MM2 = 28.0 / c.TABLE["tpu_v1_die_mm2"][TPU_V1_NM]


def leakage_w(area_mm2):
    """Modelled static power of a die of `area_mm2` (numbers or arrays)."""
    return np.asarray(area_mm2, dtype=np.float64) * STATIC_W_PER_MM2


def has_power_block(device) -> bool:
    """Whether the device's YAML gives its power (`power:`), which then overrides the model."""
    return "power" in device.model_fields_set


def with_modelled_power(device):
    """The device with power.idle set to its modelled leakage where its YAML gives no `power:`."""
    if has_power_block(device):
        return device
    return device.model_copy(update={"power": device.power.model_copy(
        update={"idle": float(leakage_w(device_area_mm2(device)))})})
