"""The FPGA fast path: a trace on every DPU design point (clock, cores, BRAM, DDR) at once.

Follows accelsim.devices.fpga op for op on an (ops x designs) numpy grid: the array cycles of a
frame do not depend on the swept keys and are the device model's own; DDR traffic and tiles follow
the BRAM split (mapping.dram_traffic, mapping.tiles), and the frames of an op are spread over the
cores in rounds that share the DDR bandwidth.
"""

from __future__ import annotations

import numpy as np

from accelsim.sweep.fast_grid import (METRICS, FastTotals, broadcast_designs, distinct_op_totals,
                                      finish_grid, prepare_run)

# swept key -> (fast_fpga argument, unit family or None)
FAST_KEYS = {"clock": ("clock", "frequency"), "dpu.cores": ("cores", None),
             "memory.bandwidth": ("bandwidth", "bandwidth"),
             "memory.capacity": ("capacity", "bytes"),
             "bram": ("bram", "bytes"), "dpu.feature_buffer": ("feature_buffer", "bytes"),
             "dpu.port_bandwidth": ("port_bandwidth", "bandwidth")}
FEATURES = ("layer", "frames", "cycles", "weights", "inputs", "outputs", "compute_j", "onchip_j",
            "offchip_pj")


def fast_fpga(graph, *, device="zcu102_dpu", clock=None, cores=None, bandwidth=None, capacity=None,
              bram=None, feature_buffer=None, port_bandwidth=None, precision: str | None = None,
              mode: str = "inference", batch: int = 1, overrides=(), stack: str | None = None,
              **workload_params) -> FastTotals:
    """Cost `graph` (Graph, zoo name or file) on every design point of an FPGA `device`.

    clock (Hz), cores, bandwidth (peak DDR B/s), capacity, bram and feature_buffer (bytes per core;
    None: the device's, or half of bram where it has none) and port_bandwidth (B/s per core) are
    scalars or arrays, broadcast together; None keeps the device's value.
    """
    from accelsim.errors import UsageError

    spec = device
    device, _graph, trace = prepare_run(graph, device, overrides=overrides, precision=precision,
                                        mode=mode, batch=batch, stack=stack, kind="fpga",
                                        **workload_params)
    dpu = device.dpu
    values = {"clock": clock, "cores": cores, "bandwidth": bandwidth, "capacity": capacity,
              "bram": bram, "feature_buffer": feature_buffer, "port_bandwidth": port_bandwidth}
    halves = feature_buffer is None and dpu.feature_buffer is None
    design = broadcast_designs(values, {
        "clock": device.clock, "cores": dpu.cores, "bandwidth": device.memory.bandwidth,
        "capacity": device.memory.capacity or np.inf, "bram": device.bram,
        "feature_buffer": device.feature_buffer, "port_bandwidth": dpu.port_bandwidth or np.inf},
        positive=tuple(values), integers=("cores",))
    if halves:
        design["feature_buffer"] = design["bram"] / 2
    if (design["feature_buffer"] >= design["bram"]).any():
        raise UsageError("dpu.feature_buffer must be smaller than bram", key="feature_buffer")
    return distinct_op_totals(device, spec, overrides, trace, design, FAST_KEYS, _features,
                              FEATURES, lambda dev, col, points, idle, _counts:
                              _op_grid(dev, col, points, idle))


def _features(op, device) -> list[float]:
    """The numbers of `op` that its cost on any design point depends on (FEATURES)."""
    from accelsim.devices.energy import PJ, dram_pj_per_byte, op_energy
    from accelsim.devices.fpga import _frames, _per_frame
    from accelsim.devices.mapping import layer_shape

    frames = _frames(op)
    cycles, _traffic, outputs, bram, _tiles = _per_frame(op, device, frames)
    energy = op_energy(device, op, dram_bytes=0.0, onchip_bytes=frames * bram,
                       sram_size=device.bram_block)
    factor = device.fabric_energy_factor
    return [layer_shape(op) is not None, frames, cycles, op.weight_bytes, op.input_bytes / frames,
            outputs, energy.compute * factor, energy.onchip * factor,
            dram_pj_per_byte(device) * PJ]


def _op_grid(device, ops: dict, design: dict, idle_w):
    """devices.fpga.cost of the distinct ops on every design point."""
    col = {name: values[:, None] for name, values in ops.items()}
    layer = col["layer"] > 0
    weight_buffer = design["bram"] - design["feature_buffer"]
    weight_chunks = np.ceil(col["weights"] / (weight_buffer / 2))
    input_bands = np.ceil(col["inputs"] / (design["feature_buffer"] / 2))
    rereads = np.minimum(col["inputs"] * np.maximum(weight_chunks - 1, 0),
                         col["weights"] * np.maximum(input_bands - 1, 0))
    traffic = np.where(layer, col["weights"] + col["inputs"] + col["outputs"] + rereads,
                       col["inputs"] + col["outputs"])
    tiles = np.where(layer, np.maximum(np.maximum(1, weight_chunks), input_bands), 1.0)
    cores = design["cores"]
    full, rest = np.divmod(col["frames"].astype(np.int64), cores)
    shared = design["bandwidth"] * device.memory.efficiency
    frame_compute = col["cycles"] / design["clock"]

    def pipelined(active):
        """mapping.pipelined of one frame while `active` cores stream at once."""
        core_bandwidth = np.minimum(shared / np.maximum(active, 1), design["port_bandwidth"])
        frame_memory = traffic / core_bandwidth
        return np.maximum(frame_compute, frame_memory) + np.minimum(frame_compute,
                                                                    frame_memory) / tiles

    work = np.where(full > 0, full * pipelined(cores), 0.0) + np.where(rest > 0, pipelined(rest),
                                                                       0.0)
    overhead = np.where(full > 0, full * device.dpu.layer_overhead, 0.0) + np.where(
        rest > 0, device.dpu.layer_overhead, 0.0)
    dram = col["frames"] * traffic
    return finish_grid(None, None, overhead, col["compute_j"], col["onchip_j"],
                       dram * col["offchip_pj"], dram, idle_w=idle_w,
                       tdp_w=device.power.tdp, work_s=work)
