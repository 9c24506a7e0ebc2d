"""An NPU's weight-cache choice on many designs: the candidate cache with the fastest run.

A candidate c caches the weights of the ops where cached[c, op] and takes used[c] bytes of SRAM; an
op's activations stay on chip when working[op] <= sram - used[c]. latency[op, w, a, d] is the op's
latency on design d with its weights cached (w) or not and its activations on chip (a) or not. The
best candidate fits the design's SRAM and has the least total latency; ties go to the fullest cache,
then to the first candidate (devices.npu.costs). An op's latency with its activations on chip is
never above its latency with them off chip (less off-chip traffic).
"""

from __future__ import annotations

import numpy as np

from accelsim.kernels._jit import njit


@njit
def _best_caches(cached, used, working, sram, latency, order, group, sorted_working):
    """Index of the best candidate on each design (latency here (designs, ops, 2, 2)).

    Candidates come in `order`: by cached row (`group`), then by bytes used, ascending. Within a
    group more bytes used leave room for fewer ops' activations, so the total latency never falls:
    the group's best is the fullest candidate whose total equals the group's first (least used)
    one's. Candidates that leave room for the same ops have the same latencies and are not summed.
    """
    best = np.zeros(sram.shape[0], dtype=np.int64)
    count = order.shape[0]
    for d in range(sram.shape[0]):
        best_total = np.inf
        best_used = -1.0
        i = 0
        while i < count:
            g = group[order[i]]
            group_total = np.inf
            group_best = -1
            last_fit = -1
            while i < count and group[order[i]] == g:
                c = order[i]
                i += 1
                if used[c] > sram[d]:         # so are the rest of the group
                    while i < count and group[order[i]] == g:
                        i += 1
                    break
                room = sram[d] - used[c]
                fit = np.searchsorted(sorted_working, room, side="right")
                if fit != last_fit:
                    total = 0.0
                    for op in range(working.shape[0]):
                        total += latency[d, op, cached[c, op], 1 if working[op] <= room else 0]
                    if total > group_total:
                        while i < count and group[order[i]] == g:
                            i += 1
                        break
                    group_total = total
                    last_fit = fit
                    group_best = c
                elif used[c] > used[group_best]:
                    group_best = c
            if group_best < 0:
                continue
            c = group_best
            if group_total < best_total or (group_total == best_total and (
                    used[c] > best_used or (used[c] == best_used and c < best[d]))):
                best[d] = c
                best_total = group_total
                best_used = used[c]
    return best


def best_caches(cached, used, working, sram, latency) -> np.ndarray:
    """Best candidate per design: cached (candidates, ops) bool, used (candidates,) bytes, working
    (ops,) bytes, sram (designs,) bytes, latency (ops, 2, 2, designs) seconds."""
    cached = np.asarray(cached, dtype=np.uint8).reshape(len(used), -1)
    used = np.asarray(used, dtype=np.float64)
    working = np.asarray(working, dtype=np.float64)
    latency = np.asarray(latency, dtype=np.float64)
    if latency.shape[:3] != (cached.shape[1], 2, 2) or latency.shape[3] != len(sram):
        raise ValueError("latency must be (ops, 2, 2, designs)")
    _, group = np.unique(cached, axis=0, return_inverse=True)
    group = group.reshape(-1).astype(np.int64)
    order = np.lexsort((np.arange(len(used)), used, group)).astype(np.int64)
    return _best_caches(cached, used, working, np.asarray(sram, dtype=np.float64),
                        np.ascontiguousarray(latency.transpose(3, 0, 1, 2)), order, group,
                        np.sort(working))


def best_caches_reference(cached, used, working, sram, latency) -> np.ndarray:
    """Plain-Python reference: every feasible candidate's total, sorted by (total, -used, index)."""
    best = []
    for d, size in enumerate(sram):
        ranked = []
        for c, row in enumerate(cached):
            if used[c] <= size:
                total = sum(latency[op][int(row[op])][int(working[op] <= size - used[c])][d]
                            for op in range(len(working)))
                ranked.append((total, -used[c], c))
        best.append(min(ranked)[2])
    return np.array(best, dtype=np.int64)
