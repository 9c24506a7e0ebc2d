"""Host dispatch: under the eager stack the CPU issues every op, and the device may wait for it.

PyTorch eager runs each op through Python, the dispatcher and an asynchronous kernel launch: the
host runs ahead while the GPU is busy with long kernels, and the GPU waits when the host falls
behind. With `dispatch` seconds of host work per host call, op i (from 0) is issued once the calls
of ops 0..i are made (one call an op; an optimizer step's few multi-tensor calls are shared by
its per-weight ops, attr "host_calls") and starts at the later of that and the end of op i - 1;
the wait is what it adds to the run. A run of ops shorter than `dispatch` takes ops x dispatch
plus the last op's own time. Compiled
stacks (CUDA graphs, TensorRT, vLLM's captured decode) replay whole graphs: no per-op host cost.
While waiting the device draws its busy power (idle + active): its clocks stay up between kernels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from accelsim.devices.base import OpCost
from accelsim.workload.ir import Op

HOST_DISPATCHED_STACKS = ("eager",)


def dispatch_s(device, stack: str | None) -> float:
    """Host seconds per op under `stack` on `device` (its `eager_dispatch`; 0 for compiled)."""
    if stack not in HOST_DISPATCHED_STACKS:
        return 0.0
    return float(getattr(device, "eager_dispatch", 0.0))


def host_calls(ops: Sequence[Op]) -> np.ndarray:
    """Host calls that issue each op: 1, or its share of a multi-tensor step (attr "host_calls")."""
    return np.array([float(op.attr("host_calls", 1.0)) for op in ops])


def host_waits(device_s, dispatch: float, calls: np.ndarray) -> np.ndarray:
    """Seconds each op waits for the host, ops in trace order along axis 0 (`device_s`: each op's
    own time on the device; further axes are design points; `calls`: host_calls of the ops)."""
    device_s = np.asarray(device_s, dtype=np.float64)
    waits = np.zeros_like(device_s)
    if dispatch <= 0:
        return waits
    issued = np.cumsum(calls) * dispatch
    end = np.zeros(device_s.shape[1:])
    for i, own in enumerate(device_s):
        waits[i] = np.maximum(issued[i] - end, 0.0)
        end = end + waits[i] + own
    return waits


def with_host_waits(costs: Sequence[OpCost], ops: Sequence[Op], device,
                    stack: str | None) -> list[OpCost]:
    """The costs of a run of `ops` under `stack` with each op's wait on the host added to its
    latency, drawn at the device's busy power; an op that waits longer than its work is bound by
    "overhead"."""
    dispatch = dispatch_s(device, stack)
    if dispatch <= 0:
        return list(costs)
    waits = host_waits([c.latency_s for c in costs], dispatch, host_calls(ops))
    return [c if wait == 0 else replace(
        c, latency_s=c.latency_s + wait,
        energy=replace(c.energy, static=c.energy.static + device.power.busy * wait),
        bound="overhead" if wait > max(c.compute_s, c.memory_s) else c.bound)
        for c, wait in zip(costs, (float(w) for w in waits))]
