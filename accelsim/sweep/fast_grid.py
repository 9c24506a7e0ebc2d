"""What every kind's fast path shares: the run prepared once, design arrays, ops grouped by their
cost-relevant numbers, the per-op finish (overhead, power limit) and whole-run totals on an
(ops x designs) grid, equal to accelsim.simulate's analytic engine point by point."""

from __future__ import annotations

import os

from typing import NamedTuple

import numpy as np

from accelsim.errors import UsageError

METRICS = ("latency_s", "energy_j", "dram_bytes", "throughput", "average_power_w",
           "fits_in_memory", "area_mm2")


class FastTotals(NamedTuple):
    """Whole-run totals of each design point (arrays of one length)."""

    design: dict                  # swept argument -> array of its values, in SI units
    latency_s: np.ndarray
    energy_j: np.ndarray
    dram_bytes: np.ndarray
    throughput: np.ndarray        # samples per second
    average_power_w: np.ndarray
    fits_in_memory: np.ndarray    # bool
    area_mm2: np.ndarray


def prepare_run(workload, device, *, overrides=(), precision=None, mode="inference", batch=1,
                stack=None, kind: str, **workload_params):
    """(device, graph, trace) as accelsim.simulate prepares them; the device must be of `kind`."""
    from accelsim.engine.single import prepare

    device, graph, _precision, trace = prepare(workload, device, mode=mode, batch=batch,
                                               precision=precision, overrides=overrides,
                                               stack=stack, **workload_params)
    if device.kind != kind:
        raise UsageError(f"this fast path needs a {kind} device, {device.name} is {device.kind}",
                         key="device")
    return device, graph, trace


def broadcast_designs(values: dict, defaults: dict, *, positive=(), integers=()) -> dict:
    """The design arguments broadcast to one length, None replaced by the device's value; every
    value must be >= 0 (`positive`: > 0; `integers`: whole numbers)."""
    filled = {key: defaults[key] if value is None else value for key, value in values.items()}
    arrays = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64))
                                   for v in filled.values()))
    out = {}
    for key, array in zip(filled, arrays):
        if not (array > 0 if key in positive else array >= 0).all():
            raise UsageError(f"{key} must be {'>' if key in positive else '>='} 0", key=key)
        if key in integers:
            if (array != np.round(array)).any():
                raise UsageError(f"{key} must be a whole number", key=key)
            array = array.astype(np.int64)
        out[key] = np.ascontiguousarray(array)
    return out


def group_ops(features: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first op of each distinct feature row, each op's row, ops per row): ops whose
    cost-relevant numbers agree cost the same on every design."""
    _, first, inverse, counts = np.unique(features, axis=0, return_index=True, return_inverse=True,
                                          return_counts=True)
    return first, inverse.reshape(-1), counts


class OpGrid(NamedTuple):
    """Per-op latency and dynamic energy (after the power limit) on (ops x designs)."""

    latency_s: np.ndarray
    dynamic_j: np.ndarray
    dram_bytes: np.ndarray


def finish_grid(compute_s, memory_s, overhead_s, compute_j, onchip_j, offchip_j, dram_bytes, *,
                idle_w: float, tdp_w: float | None, work_s=None) -> OpGrid:
    """devices.base.finish on a grid: latency = overhead + max(compute, memory) (or + work), the
    dynamic energy scaled down where the op would draw more than the TDP (within_power_limit)."""
    latency = overhead_s + (np.maximum(compute_s, memory_s) if work_s is None else work_s)
    dynamic = compute_j + onchip_j + offchip_j
    if tdp_w is not None:
        static = idle_w * latency
        budget = tdp_w * latency
        over = (dynamic + static > budget) & (dynamic > 0)
        scale = np.maximum(budget - static, 0.0) / np.where(dynamic > 0, dynamic, 1.0)
        dynamic = np.where(over, compute_j * scale + onchip_j * scale + offchip_j * scale,
                           dynamic)
    return OpGrid(latency, dynamic, np.broadcast_to(dram_bytes, latency.shape))


def active_parts(parts: list, tdp_w: float | None, idle_w, busy_s) -> list:
    """energy.active_power on a grid: with a TDP, the (compute, on-chip, off-chip) dynamic energy
    rescaled to (tdp - busy power) x busy time, split in proportion; without one, as given."""
    if tdp_w is None:
        return parts
    dynamic = parts[0] + parts[1] + parts[2]
    scale = np.maximum(tdp_w - idle_w, 0.0) * busy_s / np.where(dynamic == 0, 1.0, dynamic)
    return [np.where(dynamic == 0, part, part * scale) for part in parts]


def run_totals(grid: OpGrid, counts: np.ndarray, design: dict, device, trace,
               area_mm2, idle_w, wait_s=0.0) -> FastTotals:
    """Whole-run totals from per-distinct-op costs, each op counted `counts` times: latency is
    their sum plus `wait_s` on the host (the analytic engine), static energy busy power x latency
    (as engine.single's)."""
    weights = np.asarray(counts, dtype=np.float64)
    latency = weights @ grid.latency_s + wait_s
    energy = weights @ grid.dynamic_j + idle_w * latency
    return FastTotals(design, latency, energy, weights @ grid.dram_bytes,
                      *summary(latency, energy, trace, design.get("capacity",
                                                                  device.memory.capacity)),
                      area_mm2)


def summary(latency, energy, trace, capacity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(throughput, average power, fits in memory) per point, as engine.single.summary_totals."""
    safe = np.where(latency > 0, latency, 1.0)
    fits = np.ones(latency.shape, bool) if capacity is None else \
        np.broadcast_to(trace.memory.total <= np.asarray(capacity), latency.shape)
    return (np.where(latency > 0, trace.samples_per_step / safe, 0.0),
            np.where(latency > 0, energy / safe, 0.0), fits)


def distinct_op_totals(device, spec, overrides, trace, design: dict, keys: dict, features,
                       names: tuple[str, ...], op_grid, stack: str = "") -> FastTotals:
    """Whole-run totals costing each distinct op once: `features(op, device)` gives its numbers
    (`names`), `op_grid(device, columns, design, idle_w)` their OpGrid on every design point;
    under a `stack` whose host dispatches op by op (devices.host), the waits on the host in trace
    order. op_grid also gets how many ops each distinct row stands for, for whole-run rules."""
    from accelsim.devices.host import dispatch_s, host_calls, host_waits

    table = np.array([features(op, device) for op in trace.ops], dtype=np.float64)
    first, inverse, counts = group_ops(table)
    area, idle = design_power(device, spec, overrides, design, keys)
    grid = op_grid(device, dict(zip(names, table[first].T)), design, idle, counts)
    dispatch = dispatch_s(device, stack)
    waits = 0.0
    if dispatch > 0:
        waits = host_waits(grid.latency_s[inverse], dispatch, host_calls(trace.ops)).sum(axis=0)
    return run_totals(grid, counts, design, device, trace, area, idle, waits)


def design_power(device, spec, overrides, design: dict, keys: dict) -> tuple[np.ndarray, np.ndarray]:
    """(die area, busy power) of each design point: the area model of the device with the point's
    swept values (`keys`: the path's FAST_KEYS), evaluated once per distinct combination (memory
    sizes and bandwidths do not change a die); busy power is the YAML's idle + active, or for a
    device named without a `power:` block (`spec`, with `overrides`) the modelled leakage of each
    point's die, as accelsim.api.load_device gives it."""
    from accelsim.config.loader import load_device
    from accelsim.devices.area import device_area_mm2, has_power_block, leakage_w

    points = len(next(iter(design.values())))
    paths = {name: key for key, (name, _family) in keys.items()
             if name in design and not key.startswith("memory.")}
    if paths:
        rows, which = np.unique(np.stack([design[name] for name in paths], axis=1), axis=0,
                                return_inverse=True)
        areas = np.array([device_area_mm2(with_values(device, dict(zip(paths.values(), row))))
                          for row in rows])[which.reshape(-1)]
    else:
        areas = np.full(points, device_area_mm2(device))
    modelled = isinstance(spec, (str, os.PathLike)) and \
        not has_power_block(load_device(spec, overrides))
    return areas, leakage_w(areas) if modelled else np.full(points, device.power.busy)


def with_values(config, values: dict):
    """A copy of a config with dotted keys ("l2.size") set, unvalidated (only read by a model)."""
    nested: dict = {}
    for path, value in values.items():
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            nested[head] = value.item() if hasattr(value, "item") else value
    return config.model_copy(update={
        key: with_values(getattr(config, key), value) if isinstance(value, dict) else value
        for key, value in nested.items()})
