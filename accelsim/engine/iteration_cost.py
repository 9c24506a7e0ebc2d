"""What one serving iteration costs on a replica, from the device model on a lazily costed grid.

An iteration runs the batch's new tokens (whole prompts, prefill chunks, one token per decoding
request) through the network. Its ops split in two (workload.serving.is_attention):

- dense ops (projections, MLP, norms, embedding, LM head) cost as one sequence of T tokens, T the
  iteration's new tokens, plus (tensor parallel) the all-reduces of the row-parallel outputs;
- attention ops cost per prefill chunk as a sequence of `new` tokens over `new + past` keys, and
  for all decoding requests together as one query over the sum of their contexts (the same FLOPs
  and cache bytes as per request, in one kernel launch: paged attention batches them).

With expert parallelism (ep > 1; DP attention + EP as vLLM, SGLang and DeepSeek serve MoE
models) a replica is `ep` attention ranks of `tp` devices each, stepping together: every rank runs
its own requests' attention and dense ops, then every MoE layer dispatches its tokens' hidden
vectors to the ranks of their top-k experts and combines the outputs back (two all-to-alls over
the ep ranks, on each of the tp lanes), and each rank runs its E / ep experts on the pairs routed
to it. Routing is taken as uniform (its expected value): a rank's experts get 1 / ep of the
group's T x top_k pairs and read the weights of the experts the T tokens touch, E (1 - (1 -
k/E)^T) of E (ir.expected_experts). An iteration lasts as long as its slowest rank's own work,
plus the experts and the all-to-alls; an all-to-all's send buffer is the busiest rank's tokens x
top_k x hidden x activation bytes ((ep-1)/ep of it crosses the links).

The zoo's decoder layers are identical, so the first layer's ops are costed and counted once per
layer (workload.serving.layer_index).

Each part is costed by the device model (analytic schedule: ops back to back) at grid points,
geometric with GRID_STEPS per doubling above GRID_DENSE, and linearly interpolated between them:
whole prompts (no cached tokens) on a grid of prompt lengths, chunks after cached tokens bilinearly
on a coarser (new tokens, keys) grid of CHUNK_STEPS per doubling. A grid point is costed the first
time an iteration needs it, and kept; one beyond the model's context is costed as several
sequences of equal length.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from accelsim.devices import cost_all
from accelsim.engine import single
from accelsim.engine.expert_parallel import (check_expert_parallel, dispatch_bytes, expert_bytes,
                                             moe_ops, serving_expert_share)
from accelsim.engine.tensor_parallel import shard_graph, tensor_parallel_all_reduces
from accelsim.result import DYNAMIC_ENERGY
from accelsim.workload.ir import OpKind
from accelsim.workload.serving import is_attention, kv_cache_bytes, layer_index, prefill_trace
from accelsim.workload.stack import apply_stack

GRID_DENSE = 16          # every token count up to this is a grid point
GRID_STEPS = 8           # grid points per doubling above it (dense ops, decode attention)
CHUNK_STEPS = 2          # per doubling for chunks after cached tokens: their attention is
                         # bilinear in (new tokens, keys) away from roofline corners, as is the
                         # interpolation
MAX_GRID = 2**31


def _grid(limit: int, steps: int = GRID_STEPS) -> list[int]:
    """Grid points 1..limit (limit included), `steps` per doubling above GRID_DENSE."""
    top = math.log2(max(limit, 2))
    points = set(range(1, GRID_DENSE + 1))
    points.update(round(2 ** (k / steps)) for k in range(int(top * steps) + 1))
    return sorted(p for p in points if p < limit) + [limit]


def _bracket(grid: list[int], x: float) -> tuple[int, int, float]:
    """(lower, upper, weight of upper) grid points around x (clamped to the grid)."""
    x = min(max(x, grid[0]), grid[-1])
    i = bisect.bisect_left(grid, x)
    if grid[i] == x:
        return grid[i], grid[i], 0.0
    lo, hi = grid[i - 1], grid[i]
    return lo, hi, (x - lo) / (hi - lo)


@dataclass
class IterationCost:
    """Seconds and dynamic joules of serving iterations of one model on one replica."""

    workload: str
    device: object
    precision: str
    tp: int = 1
    cluster: object = None
    params: dict = field(default_factory=dict)
    stack: str = "compiled"          # accelsim.workload.stack
    ep: int = 1                      # expert-parallel attention ranks (of tp devices each)
    _cache: dict = field(default_factory=dict, repr=False)
    _last_graph: tuple = field(default=(), repr=False)

    def __post_init__(self):
        base = self.network(1, 1)
        shard_graph(base, self.tp)           # refuses a tp that does not divide the heads
        check_expert_parallel(base, self.ep, key="ep")
        self.context = int(base.info("max_positions") or MAX_GRID)
        self.layers = int(base.info("layers"))
        experts = expert_bytes(base.ops)
        self.weight_bytes = (base.param_bytes - experts + experts / self.ep) / self.tp
        self.kv_bytes_per_token = kv_cache_bytes(base, 1) / self.tp
        self.idle_power_w = self.device.power.idle * self.tp * self.ep
        self.active_power_w = self.device.power.active * self.tp * self.ep   # while iterating
        self._dispatch_per_token = [dispatch_bytes(op) for op in moe_ops(base)]
        self._tokens = _grid(MAX_GRID)
        self._keys = _grid(self.context, CHUNK_STEPS)
        self._prompts = _grid(self.context)

    @property
    def points_costed(self) -> int:
        """Grid points costed so far."""
        return sum(1 for key in self._cache if key[0] != "graph")

    def network(self, batch: int, seq_len: int, past: int = 0):
        """The whole model (unsharded, as built) for `batch` sequences of `seq_len` new tokens
        over `past` cached ones; the last one built is kept, as grid points reuse it."""
        key = ("graph", batch, seq_len, past)
        if key not in self._cache:
            extra = {"past": past} if past else {}
            self._cache.pop(self._last_graph, None)
            self._cache[key] = single.load_workload(self.workload, batch=batch,
                                                    precision=self.precision, seq_len=seq_len,
                                                    **extra, **self.params)
            self._last_graph = key
        return self._cache[key]

    def graph(self, batch: int, seq_len: int, past: int = 0):
        """What one device runs: the model sharded over tp, under the stack; the stack fuses
        after sharding, as tensor parallelism splits the unfused ops."""
        net = self.network(batch, seq_len, past)
        return apply_stack(shard_graph(net, self.tp), self.stack, self.device.kind)

    def activation_bytes(self, tokens: int) -> float:
        """Peak live activations of an iteration of `tokens` new tokens (per device)."""
        batch, seq = self._shape(tokens)
        return prefill_trace(self.graph(batch, seq)).memory.activations

    def _shape(self, tokens: int) -> tuple[int, int]:
        """(sequences, tokens each) of about `tokens` tokens, each within the context."""
        batch = math.ceil(tokens / self.context)
        return batch, math.ceil(tokens / batch)

    def _cost(self, ops) -> tuple[float, float]:
        """(seconds back to back, dynamic joules on all tp devices) of ops; the ops of the first
        decoder layer stand for every layer's, which are the same."""
        layers = {layer_index(op) for op in ops} - {None}
        weight = len(layers) if layers == set(range(len(layers))) else 1
        ops = [op for op in ops if weight == 1 or layer_index(op) in (None, 0)]
        costs = cost_all(ops, self.device)
        weights = [weight if layer_index(op) == 0 else 1 for op in ops]
        return (sum(w * c.latency_s for w, c in zip(weights, costs)),
                sum(w * getattr(c.energy, part) for w, c in zip(weights, costs)
                    for part in DYNAMIC_ENERGY) * self.tp)

    def _point(self, key: tuple, build) -> tuple[float, float]:
        """A grid point's cost, costed once."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _dense_point(self, tokens: int) -> tuple[float, float]:
        """Dense ops (and tensor-parallel all-reduces) of one iteration of `tokens` new tokens."""
        def build():
            batch, seq = self._shape(tokens)
            net = self.network(batch, seq)
            seconds, joules = self._cost([op for op in self.graph(batch, seq).ops
                                          if not is_attention(op) and not self._expert(op)])
            if self.tp > 1:
                seconds += sum(self.cluster.time("all_reduce", forward, self.tp)
                               for forward, _ in tensor_parallel_all_reduces(net).values()
                               if forward)
            scale = tokens / (batch * seq)
            return seconds * scale, joules * scale
        return self._point(("dense", tokens), build)

    def _expert(self, op) -> bool:
        """Whether an op runs on the experts the ep ranks share (costed apart, see experts)."""
        return self.ep > 1 and op.kind is OpKind.MOE

    def _experts_point(self, tokens: int) -> tuple[float, float]:
        """A rank's MoE ops when the group runs `tokens` new tokens (dynamic joules: all ranks)."""
        def build():
            batch, seq = self._shape(tokens)
            seconds, joules = self._cost(serving_expert_share(self.graph(batch, seq), self.ep).ops)
            scale = tokens / (batch * seq)
            return seconds * scale, joules * scale * self.ep
        return self._point(("experts", tokens), build)

    def all_to_all(self, tokens: int) -> float:
        """Seconds of the dispatch and combine all-to-alls of every MoE layer when the busiest
        rank sends `tokens` tokens (each to its top_k experts), on each tp lane at once."""
        if self.ep == 1 or not tokens:
            return 0.0
        return self._point(("all_to_all", tokens), lambda: 2 * sum(
            self.cluster.time("all_to_all", per_token * tokens, self.ep, self.tp)
            for per_token in self._dispatch_per_token))

    def _attention_point(self, new: int, keys: int) -> tuple[float, float]:
        """Attention ops of `new` tokens of one sequence over `keys` keys (cached + new)."""
        new = min(new, keys)
        return self._point(("attn", new, keys),
                           lambda: self._cost([op for op in self.graph(1, new, keys - new).ops
                                               if is_attention(op)]))

    def _decode_point(self, keys: int) -> tuple[float, float]:
        """Attention ops of decoding requests whose contexts sum to `keys` tokens."""
        def build():
            batch, per = self._shape(keys)
            seconds, joules = self._cost([op for op in self.graph(batch, 1, per - 1).ops
                                          if is_attention(op)])
            scale = keys / (batch * per)
            return seconds * scale, joules * scale
        return self._point(("decode", keys), build)

    @staticmethod
    def _interpolate(grid: list[int], x: float, point) -> tuple[float, float]:
        """(seconds, joules) at x, linear between the costs `point` gives at its grid brackets."""
        lo, hi, w = _bracket(grid, x)
        a, b = point(lo), point(hi) if w else (0.0, 0.0)
        return a[0] + w * (b[0] - a[0]), a[1] + w * (b[1] - a[1])

    def dense(self, tokens: float) -> tuple[float, float]:
        """Interpolated dense cost of `tokens` new tokens."""
        return self._interpolate(self._tokens, tokens, self._dense_point)

    def decode_attention(self, keys: float) -> tuple[float, float]:
        """Interpolated attention cost of decoding requests with `keys` context tokens in all."""
        return self._interpolate(self._tokens, keys, self._decode_point)

    def chunk_attention(self, new: int, past: int) -> tuple[float, float]:
        """Interpolated attention cost of a prefill chunk of `new` tokens after `past` cached."""
        if not past:
            return self._interpolate(self._prompts, new, lambda n: self._attention_point(n, n))
        n0, n1, wn = _bracket(self._keys, new)
        k0, k1, wk = _bracket(self._keys, new + past)
        seconds = joules = 0.0
        for n, fn in ((n0, 1 - wn), (n1, wn)):
            for k, fk in ((k0, 1 - wk), (k1, wk)):
                if fn * fk:
                    s, j = self._attention_point(n, k)
                    seconds += fn * fk * s
                    joules += fn * fk * j
        return seconds, joules

    def _rank(self, chunks, decodes: int, decode_keys: int) -> tuple[float, float, int]:
        """(seconds, dynamic joules, new tokens) of one rank's own work in an iteration: prefill
        `chunks` ((new, past) pairs) and `decodes` decoding requests whose contexts (cached tokens
        + 1) sum to `decode_keys`; with ep > 1, all but the shared experts."""
        tokens = decodes + sum(new for new, _ in chunks)
        if not tokens:
            return 0.0, 0.0, 0
        seconds, joules = self.dense(tokens)
        for new, past in chunks:
            s, j = self.chunk_attention(new, past)
            seconds, joules = seconds + s, joules + j
        if decodes:
            s, j = self.decode_attention(decode_keys)
            seconds, joules = seconds + s, joules + j
        return seconds, joules, tokens

    def group_iteration(self, work) -> tuple[float, float, float]:
        """(seconds, dynamic joules, all-to-all seconds) of an iteration of a replica whose ep
        ranks each run one (chunks, decodes, decode_keys) of `work` (see _rank), in step."""
        ranks = [self._rank(*part) for part in work]
        seconds = max(s for s, _, _ in ranks)
        joules = sum(j for _, j, _ in ranks)
        if self.ep == 1:
            return seconds, joules, 0.0
        tokens = [t for _, _, t in ranks]
        s, j = self._interpolate(self._tokens, sum(tokens), self._experts_point)
        exchange = self.all_to_all(max(tokens))
        return seconds + s + exchange, joules + j, exchange
