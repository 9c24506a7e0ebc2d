"""Row-stationary (RS) dataflow of Eyeriss: mapping search, cycles and accesses per memory level.

Chen et al., "Eyeriss: A Spatial Architecture for Energy-Efficient Dataflow for CNNs", ISCA 2016
(the dataflow) and "Eyeriss: An Energy-Efficient Reconfigurable Accelerator for Deep CNNs", JSSC 2017
(the chip). A layer is G groups of a convolution: N images, M filters and C channels per group, an
E x F output plane, R x S filters, stride U (a matmul is R = S = E = 1, F = output columns).

Mapping (the paper's parameters e, n, m, p, q, r, t, plus our `resident`). Each PE runs a 1-D
convolution: one filter row against one ifmap row, making one row of partial sums (psums). A logical
PE set of R x e PEs (filter rows x output rows) computes e output rows of one 2-D convolution, psums
flowing up its columns.
- The set is e <= E columns wide; wider than the array it is folded into k = ceil(e / cols)
  segments stacked vertically (k * R rows; AlexNet CONV2: 5 x 27 -> 10 x 14, 135 PEs). Only when
  the whole set (e = E) does not fit even folded is E strip-mined into ceil(E / e) strips run one
  after another (CONV1: e <= 14), as the paper maps AlexNet.
  Filters taller than the array are cut into ceil(R / rows) row chunks run one after another.
- Sets are replicated over the spare rows and columns: r sets stacked in a column chain add psums
  of different channels, t chains work on different filters (CONV3-5: four 3 x 13 sets, 156 PEs).
- Each PE keeps p filters x q channels of its filter row in the filter scratchpad (p * q * S
  entries), a q * S sliding window of ifmap in the ifmap scratchpad and p psums in the psum
  scratchpad. A processing pass runs n images x p*t filters x q*r channels x e output rows.
- The global buffer (GLB) holds the psums of n images x m filters (the paper's m: ofmap channels
  kept in the GLB) x e x F outputs while all C channels accumulate, plus the ifmap rows of the
  current channel block. Loop order, outer to inner: image batches, filter blocks of m, strips,
  channel blocks, filter groups of p*t. With `resident` the GLB holds the strip's rows of all C
  channels instead, strips go outside filter blocks and DRAM delivers the ifmap once. Filters bypass
  the GLB, going from DRAM straight to the PE array (JSSC 2017 system architecture; Timeloop's
  Eyeriss example likewise keeps only inputs and outputs in its GLB).
The mapper scores every mapping that fits the scratchpads and the GLB and takes the lowest
energy-delay product (EDP, Timeloop's default mapper metric; `plan`'s objective can ask for energy
or latency instead), then the lowest latency. Under the `chip` policy (what the device runs) it
keeps the chip's rules: a pass takes as many of the batch's images as any mapping fits (JSSC 2017
runs AlexNet at batch 4 and VGG-16 at batch 3 so that each filter row loaded serves every image),
and a strip-mined E is cut into strips at least as wide as the array (where none that wide fits,
any mapping); the `free` policy (mapping search) drops both. Energy counts
the MACs, every access at the device's per-byte price of its level, and static power. With the
folding rule above this fills the array as the chip does (the paper's active PEs for AlexNet);
minimising energy alone would leave CONV3-5 at 117 of 168 PEs.

Time. Work is dealt evenly: t chains share each filter group, r sets each channel block, so a layer
computes for G * N * ceil(M/t) * ceil(C/r) * ceil(E/e) * F * S * chunks cycles (one MAC per PE per
cycle); a set that fills the array runs at MACs / PEs. A pass starts by filling the filter
scratchpads. The filter scratchpad is an SRAM the MAC reads every cycle (JSSC 2017, PE
architecture); taking it to have one port, the fill cannot overlap computing: ramp-up = filter DRAM
bytes / DRAM bytes per cycle (processing time, as the paper counts the ramp-up of each pass). Ifmap
and ofmap traffic streams through the GLB behind the compute, and the GLB serves the array through
a port of GLB bytes per cycle: stall = max(0, their DRAM bytes / DRAM bytes per cycle - compute,
GLB bytes / GLB bytes per cycle - compute). On VGG-16's wide early layers, where few filters' and
channels' rows of three images fit the GLB, psums cross it at nearly every channel and the port,
not the MACs, sets the pace (JSSC 2017 Table VI: about 3 GB/s of GLB accesses in CONV1-1..4-3).

Traffic. DRAM: filters once per image batch and strip; the ifmap once per filter block (once if
resident), times the rows that overlapping strips read twice; outputs written once (psums never
leave the GLB). Accesses are counted in elements and returned in bytes:
- register files: 4 per MAC (ifmap, filter, psum read, psum write; ISCA 2016) plus every value
  written into a scratchpad;
- inter-PE network: every value delivered to a PE (filter rows to the e PEs of a set row, ifmap rows
  to each active chain) and every psum hop up a chain;
- GLB: ifmap rows read by each pass (multicast once), psums written by each pass and read back by
  every pass after a chain's first, ifmap arriving from DRAM and outputs leaving to it.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from accelsim.kernels._jit import njit

BATCH, FILTERS, CHANNELS, OUT_H, OUT_W, KERNEL_H, KERNEL_W, STRIDE, GROUPS = range(9)   # `layers`
IFMAP_BYTES, FILTER_BYTES, OFMAP_BYTES, ELEM_BYTES = range(4)                          # `layer_bytes`
ROWS, COLS, IFMAP_SPAD, FILTER_SPAD, PSUM_SPAD, GLB_BYTES, BYTES_PER_CYCLE, GLB_BYTES_PER_CYCLE = \
    range(8)                                                                      # `designs`
MAC_PJ, RF_PJ, NOC_PJ, GLB_PJ, DRAM_PJ, STATIC_PJ = range(6)                           # `prices`
MAPPING = ("e", "n", "m", "p", "q", "r", "t", "resident")
COMPUTE, RAMP, STALL, DRAM_READ, DRAM_WRITE, GLB, NOC, RF, ACTIVE_PES, ENERGY = range(10)  # costs
COST_FIELDS = 10
MAX_CYCLES = 2.0**62
TOLERANCE = 1e-9          # relative: EDPs or latencies closer than this are ties
EDP, ENERGY_ONLY, LATENCY_ONLY = range(3)  # mapper objectives (`plan`'s objective)
OBJECTIVES = {"edp": EDP, "energy": ENERGY_ONLY, "latency": LATENCY_ONLY}
POLICIES = ("chip", "free")       # the chip's mapping rules, or any mapping the hardware holds


class Plan(NamedTuple):
    """Cost of each layer (row) on each design point (column) under its best mapping."""

    compute_cycles: np.ndarray   # int64, MAC-limited cycles
    ramp_cycles: np.ndarray      # int64, filter scratchpad fills
    stall_cycles: np.ndarray     # int64, waiting for ifmap/ofmap DRAM traffic
    dram_read: np.ndarray        # bytes
    dram_write: np.ndarray       # bytes
    glb_bytes: np.ndarray        # global-buffer bytes read and written
    noc_bytes: np.ndarray        # bytes moved to and between PEs
    rf_bytes: np.ndarray         # PE scratchpad bytes read and written
    active_pes: np.ndarray       # int64, PEs of the replicated sets (h * e * r * t)
    mapping: np.ndarray          # int64 (..., 8): MAPPING


@njit
def _cdiv(a, b):
    """Ceiling division for positive integers."""
    return (a + b - 1) // b


@njit
def _dims(layer):
    """(N, M, C, E, F, R, S, U, G) of a layer row."""
    return (layer[BATCH], layer[FILTERS], layer[CHANNELS], layer[OUT_H], layer[OUT_W],
            layer[KERNEL_H], layer[KERNEL_W], layer[STRIDE], layer[GROUPS])


@njit
def _compute_cycles(layer, rows, e, r, t):
    """MAC-limited cycles: filters dealt to t chains, channels to r sets; strips, chunks in turn."""
    big_n, big_m, big_c, big_e, big_f, big_r, big_s, _, g = _dims(layer)
    return (float(g) * big_n * _cdiv(big_m, t) * _cdiv(big_c, r) * _cdiv(big_e, e) * big_f * big_s
            * _cdiv(big_r, rows))


@njit
def _filter_reads(layer, b_bytes, e, n):
    """DRAM bytes of filters: once per batch of n images and strip of e output rows."""
    return b_bytes * _cdiv(layer[BATCH], n) * _cdiv(layer[OUT_H], e)


@njit
def _latency(cost):
    """Cycles of a cost vector: compute, filter ramp-up and DRAM stalls."""
    return cost[COMPUTE] + cost[RAMP] + cost[STALL]


@njit
def _cost(layer, elem_bytes, a_bytes, b_bytes, o_bytes, rows, bytes_per_cycle, glb_per_cycle, prices,
          e, n, m, p, q, r, t, resident):
    """Cost vector of one mapping (closed forms; see the module docstring)."""
    big_n, big_m, big_c, big_e, big_f, big_r, big_s, u, g = _dims(layer)
    chunks = _cdiv(big_r, rows)
    strips = _cdiv(big_e, e)
    c_blocks = _cdiv(big_c, q * r)
    width = float((big_f - 1) * u + big_s)                        # ifmap row read by a PE
    padded_h = float((big_e - 1) * u + big_r)
    strip_rows = float((big_e - strips) * u + strips * big_r)     # rows read over all strips
    batches = float(_cdiv(big_n, n))
    out = np.zeros(COST_FIELDS)
    out[COMPUTE] = _compute_cycles(layer, rows, e, r, t)
    ifmap_reads = a_bytes * strip_rows / padded_h * (1.0 if resident else float(_cdiv(big_m, m)))
    filter_reads = _filter_reads(layer, b_bytes, e, n)
    out[DRAM_READ] = ifmap_reads + filter_reads
    out[DRAM_WRITE] = o_bytes
    out[RAMP] = filter_reads / bytes_per_cycle
    out[STALL] = max(0.0, (ifmap_reads + o_bytes) / bytes_per_cycle - out[COMPUTE])

    macs = float(g) * big_n * big_m * big_c * big_e * big_f * big_r * big_s
    outputs = float(g) * big_n * big_m * big_e * big_f
    chains = float((big_m // (p * t)) * t + min(t, big_m % (p * t)))    # chains used, all groups
    sets = float((big_c // (q * r)) * r + min(r, big_c % (q * r)))      # sets used, all blocks
    filter_in = float(g) * big_m * big_c * big_r * big_s * big_e * batches
    ifmap_in = float(g) * big_n * big_c * big_r * big_e * width * chains
    hops = outputs * (sets * big_r - float(c_blocks) * chunks)
    glb_ifmap = (float(g) * big_n * big_c * width * _cdiv(big_m, p * t)
                 * (float(chunks) * (big_e - strips) * u + strips * big_r))
    glb_psums = outputs * (2.0 * c_blocks * chunks - 1.0)
    out[RF] = (4.0 * macs + filter_in + ifmap_in) * elem_bytes
    out[NOC] = (filter_in + ifmap_in + hops) * elem_bytes
    out[GLB] = (glb_ifmap + glb_psums) * elem_bytes + ifmap_reads + o_bytes
    out[ACTIVE_PES] = float(_cdiv(big_r, chunks) * e * r * t)
    out[STALL] = max(out[STALL], out[GLB] / glb_per_cycle - out[COMPUTE])
    out[ENERGY] = (macs * prices[MAC_PJ] + out[RF] * prices[RF_PJ] + out[NOC] * prices[NOC_PJ]
                   + out[GLB] * prices[GLB_PJ] + (out[DRAM_READ] + o_bytes) * prices[DRAM_PJ]
                   + _latency(out) * prices[STATIC_PJ])
    return out


@njit
def _score(latency, energy, objective):
    """The value an objective minimises: EDP, energy or latency."""
    if objective == ENERGY_ONLY:
        return energy
    if objective == LATENCY_ONLY:
        return latency
    return latency * energy


@njit
def better(cost, other, objective=EDP):
    """True when `cost` beats `other`: a lower objective (default the energy-delay product), then
    a lower latency (values within a relative TOLERANCE tie)."""
    mine = _score(_latency(cost), cost[ENERGY], objective)
    theirs = _score(_latency(other), other[ENERGY], objective)
    if abs(mine - theirs) > TOLERANCE * max(mine, theirs):
        return mine < theirs
    return _latency(cost) < _latency(other) * (1.0 - TOLERANCE)


@njit
def _edp_floor(layer, layer_bytes, design, prices, compute, e, n, objective):
    """A lower bound of the objective of any mapping with this compute, e and n: no stalls, and
    of the accesses only 4 register-file words per MAC, filters and outputs in DRAM."""
    big_n, big_m, big_c, big_e, big_f, big_r, big_s, _, g = _dims(layer)
    macs = float(g) * big_n * big_m * big_c * big_e * big_f * big_r * big_s
    dram = _filter_reads(layer, layer_bytes[FILTER_BYTES], e, n) + layer_bytes[OFMAP_BYTES]
    latency = compute + (dram - layer_bytes[OFMAP_BYTES]) / design[BYTES_PER_CYCLE]
    energy = (macs * (prices[MAC_PJ] + 4.0 * layer_bytes[ELEM_BYTES] * prices[RF_PJ])
              + dram * prices[DRAM_PJ] + latency * prices[STATIC_PJ])
    return _score(latency, energy, objective)


@njit
def _largest_m(glb, fixed, per_filter, big_m, group):
    """Most filters (all of M, or a multiple of `group`) whose psums fit next to `fixed` bytes; 0 if
    not even one group fits."""
    if per_filter * min(big_m, group) > glb - fixed:
        return 0
    fit = int((glb - fixed) // per_filter)
    return big_m if fit >= big_m else (fit // group) * group


@njit
def _search(layer, layer_bytes, design, prices, objective, chip):
    """(cost vector, mapping) of the best mapping of one layer on one design; cost[0] = -1 if none.
    With `chip`, the chip's rules: the most images per pass that any mapping fits, and strips no
    narrower than the array (any mapping where no strip that wide fits)."""
    if chip:
        big_e, cols = layer[OUT_H], int(design[COLS])
        for n in range(layer[BATCH], 0, -1):
            best, mapping = _search_images(layer, layer_bytes, design, prices, objective, n,
                                           min(big_e, cols))
            if best[COMPUTE] >= 0:
                return best, mapping
    return _search_images(layer, layer_bytes, design, prices, objective, 0, 1)


@njit
def _search_images(layer, layer_bytes, design, prices, objective, images, narrowest):
    """_search over passes of `images` images (0: any) and strips of at least `narrowest` rows."""
    big_n, big_m, big_c, big_e, big_f, big_r, big_s, u, _ = _dims(layer)
    elem = layer_bytes[ELEM_BYTES]
    rows, cols = int(design[ROWS]), int(design[COLS])
    ifmap_spad = int(design[IFMAP_SPAD] // elem)
    filter_spad = int(design[FILTER_SPAD] // elem)
    psum_spad = int(design[PSUM_SPAD] // elem)
    glb = design[GLB_BYTES]
    h = _cdiv(big_r, _cdiv(big_r, rows))
    width = float((big_f - 1) * u + big_s)
    batch_sizes = np.empty(big_n, dtype=np.int64)                 # smallest n of each ceil(N / n)
    count = 0
    for n in range(1, big_n + 1):
        if images and n != images:
            continue
        if images or n == 1 or _cdiv(big_n, n) != _cdiv(big_n, n - 1):
            batch_sizes[count] = n
            count += 1
    best = np.zeros(COST_FIELDS)
    best[COMPUTE] = -1.0
    floor_to_beat = 0.0
    mapping = np.zeros(len(MAPPING), dtype=np.int64)
    whole = _cdiv(big_e, cols) * h <= rows                        # all E rows fit, folded
    for e in range(big_e if whole else narrowest, big_e + 1):
        folds = _cdiv(e, cols)
        if folds * h > rows:
            break
        stack = rows // (folds * h)
        across = cols // e if folds == 1 else 1
        strip_rows = float((e - 1) * u + big_r)
        for r in range(1, min(stack, big_c) + 1):
            for t in range(1, min((stack // r) * across, big_m) + 1):
                compute = _compute_cycles(layer, rows, e, r, t)
                for i in range(count):
                    n = batch_sizes[i]
                    if best[COMPUTE] >= 0 and _edp_floor(layer, layer_bytes, design, prices,
                                                         compute, e, n, objective) > floor_to_beat:
                        continue                                  # cannot beat the best: skip
                    per_filter = n * e * big_f * elem
                    fitted = False
                    for q in range(1, min(ifmap_spad // big_s, _cdiv(big_c, r)) + 1):
                        for p in range(1, min(psum_spad, filter_spad // (q * big_s),
                                              _cdiv(big_m, t)) + 1):
                            for resident in range(2):
                                held = big_c if resident else min(big_c, q * r)
                                m = _largest_m(glb, n * held * strip_rows * width * elem,
                                               per_filter, big_m, p * t)
                                if m == 0:
                                    continue
                                fitted = True
                                cost = _cost(layer, elem, layer_bytes[IFMAP_BYTES],
                                             layer_bytes[FILTER_BYTES], layer_bytes[OFMAP_BYTES],
                                             rows, design[BYTES_PER_CYCLE],
                                             design[GLB_BYTES_PER_CYCLE], prices, e, n, m, p, q, r,
                                             t, resident)
                                if best[COMPUTE] < 0 or better(cost, best, objective):
                                    best = cost
                                    floor_to_beat = (_score(_latency(best), best[ENERGY], objective)
                                                     * (1.0 + 2.0 * TOLERANCE))
                                    mapping[0], mapping[1], mapping[2], mapping[3] = e, n, m, p
                                    mapping[4], mapping[5], mapping[6], mapping[7] = q, r, t, resident
                    if not fitted:
                        break                                     # larger n needs more GLB
    return best, mapping


@njit
def _plan_grid(layers, layer_bytes, designs, prices, costs, mappings, objective, chip):
    """Fill costs[i, j] and mappings[i, j] with the best mapping of layer i on design j."""
    for i in range(layers.shape[0]):
        for j in range(designs.shape[0]):
            cost, mapping = _search(layers[i], layer_bytes[i], designs[j], prices[j], objective,
                                    chip)
            costs[i, j] = cost
            mappings[i, j] = mapping


def _table(values, name: str, columns: int, dtype) -> np.ndarray:
    """A contiguous (rows, columns) array of `dtype`, or ValueError."""
    table = np.ascontiguousarray(values, dtype=dtype)
    if table.ndim == 1:
        table = table.reshape(1, -1)
    if table.ndim != 2 or table.shape[1] != columns:
        raise ValueError(f"{name} must have {columns} columns, got shape {table.shape}")
    return table


def _tables(layers, layer_bytes, designs, prices) -> tuple[np.ndarray, ...]:
    """Validated tables for the kernels (a 7-column design row gets an unlimited GLB port), or
    ValueError."""
    layers = _table(layers, "layers", 9, np.int64)
    layer_bytes = _table(layer_bytes, "layer_bytes", 4, np.float64)
    designs = np.array(designs, dtype=np.float64, ndmin=2)
    if designs.ndim == 2 and designs.shape[1] == GLB_BYTES_PER_CYCLE:
        designs = np.hstack([designs, np.full((len(designs), 1), np.inf)])
    designs = _table(designs, "designs", 8, np.float64)
    prices = _table(prices, "prices", 6, np.float64)
    if layers.size and layers.min() < 1:
        raise ValueError("layer dimensions must be >= 1")
    if layer_bytes.shape[0] != layers.shape[0] or prices.shape[0] != designs.shape[0]:
        raise ValueError("layer_bytes/prices must have one row per layer/design")
    if (layer_bytes < 0).any() or (layer_bytes[:, ELEM_BYTES] <= 0).any():
        raise ValueError("layer bytes must be >= 0 and bytes per element > 0")
    if (designs <= 0).any() or (prices < 0).any():
        raise ValueError("design sizes must be > 0 and prices >= 0")
    return layers, layer_bytes, designs, prices


def plan(layers, layer_bytes, designs, prices, objective: str = "edp", policy: str = "free") -> Plan:
    """Best RS mapping and its cost for each layer (row) on each design (column).

    layers: (L, 9) of [N, M, C, E, F, R, S, U, G] (M and C per group); layer_bytes: (L, 4) of DRAM
    bytes of [ifmap, filters, outputs, one element]; designs: (D, 8) of [rows, cols, ifmap, filter,
    psum scratchpad bytes per PE, GLB bytes, DRAM bytes per cycle, GLB bytes per cycle] (7
    columns: an unlimited GLB port); prices: (D, 6) of pJ per MAC,
    pJ per byte of [register file, inter-PE network, GLB, DRAM] and static pJ per cycle (what the
    mapper's objective weighs); objective: "edp" (the chip's mapper, Timeloop's default), "energy"
    or "latency", the value each layer's mapping minimises; policy: "chip" (the chip's mapping
    rules) or "free" (every mapping the hardware holds). ValueError where a layer has no mapping (its filter row
    outgrows the scratchpads or its psums the GLB); OverflowError past 2**62 cycles.
    """
    layers, layer_bytes, designs, prices = _tables(layers, layer_bytes, designs, prices)
    shape = (layers.shape[0], designs.shape[0])
    costs = np.empty(shape + (COST_FIELDS,))
    mappings = np.empty(shape + (len(MAPPING),), dtype=np.int64)
    _plan_grid(layers, layer_bytes, designs, prices, costs, mappings, OBJECTIVES[objective],
               POLICIES.index(policy) == 0)
    if (costs[..., COMPUTE] < 0).any():
        i, j = np.argwhere(costs[..., COMPUTE] < 0)[0]
        raise ValueError(f"layer {i} has no row-stationary mapping on design {j}: its filter rows do "
                         "not fit the PE scratchpads or its psums the global buffer")
    cycles = costs[..., [COMPUTE, RAMP, STALL]]
    if (cycles.sum(axis=-1) > MAX_CYCLES).any():
        raise OverflowError("cycle count exceeds 2**62")
    compute, ramp, stall = (np.ceil(cycles[..., k]).astype(np.int64) for k in range(3))
    return Plan(compute, ramp, stall, costs[..., DRAM_READ], costs[..., DRAM_WRITE], costs[..., GLB],
                costs[..., NOC], costs[..., RF], costs[..., ACTIVE_PES].astype(np.int64), mappings)


def mapping_cost(layer, layer_bytes, design, prices, mapping) -> np.ndarray:
    """Cost vector (COMPUTE ... ENERGY) of one given mapping, feasible or not."""
    layers, layer_bytes, designs, prices = _tables(layer, layer_bytes, design, prices)
    e, n, m, p, q, r, t, resident = (int(x) for x in mapping)
    return _cost(layers[0], layer_bytes[0, ELEM_BYTES], layer_bytes[0, IFMAP_BYTES],
                 layer_bytes[0, FILTER_BYTES], layer_bytes[0, OFMAP_BYTES], int(designs[0, ROWS]),
                 designs[0, BYTES_PER_CYCLE], designs[0, GLB_BYTES_PER_CYCLE], prices[0], e, n, m, p,
                 q, r, t, resident)


# ---- plain-Python references the kernels are tested against -------------------------------------

def _chunk_rows(big_r: int, rows: int) -> list[int]:
    """Filter rows of each chunk when R is cut into ceil(R / rows) near-equal chunks."""
    h = -(-big_r // -(-big_r // rows))
    return [min(h, big_r - start) for start in range(0, big_r, h)]


def cost_reference(layer, layer_bytes, design, prices, mapping) -> list[float]:
    """Plain Python: walk every processing pass of a mapping and add up its time and accesses."""
    big_n, big_m, big_c, big_e, big_f, big_r, big_s, u, groups = (int(x) for x in layer)
    a_bytes, b_bytes, o_bytes, elem = (float(x) for x in layer_bytes)
    e, n, m, p, q, r, t, resident = (int(x) for x in mapping)
    chunks = _chunk_rows(big_r, int(design[ROWS]))
    width = (big_f - 1) * u + big_s
    padded_h = (big_e - 1) * u + big_r
    blocks = [(m0, min(m0 + m, big_m)) for m0 in range(0, big_m, m)]
    strips = [(s0, min(e, big_e - s0)) for s0 in range(0, big_e, e)]
    if resident:                                          # strips outside blocks: ifmap loaded once
        visits = [(block, strip, strip[0]) for strip in strips for block in blocks]
    else:
        visits = [(block, strip, (block, strip[0])) for block in blocks for strip in strips]
    compute = ifmap = filters = macs = rf = noc = glb = 0.0
    for _ in range(groups):
        for n0 in range(0, big_n, n):
            images = min(n, big_n - n0)
            loaded = set()
            for (m0, m1), (_, out_rows), key in visits:
                if key not in loaded:                     # the strip's ifmap rows, all channels
                    loaded.add(key)
                    rows_read = (out_rows - 1) * u + big_r
                    ifmap += a_bytes / groups * images / big_n * rows_read / padded_h
                accumulations = 0                         # passes so far into each filter group
                for c0 in range(0, big_c, q * r):
                    chans = min(q * r, big_c - c0)
                    for h in chunks:
                        for f0 in range(m0, m1, p * t):
                            count = min(p * t, m1 - f0)
                            values = count * chans * h * big_s
                            filters += b_bytes / groups * values / (big_m * big_c * big_r * big_s)
                            compute += images * -(-count // t) * -(-chans // r) * big_f * big_s
                            psums = images * count * out_rows * big_f
                            filter_in = values * out_rows
                            ifmap_in = images * chans * h * out_rows * width * min(t, count)
                            macs += psums * chans * h * big_s
                            rf += 4 * psums * chans * h * big_s + filter_in + ifmap_in
                            noc += filter_in + ifmap_in + psums * (min(r, chans) * h - 1)
                            glb += images * chans * ((out_rows - 1) * u + h) * width + psums
                            glb += psums if accumulations else 0
                        accumulations += 1
    ramp = filters / design[BYTES_PER_CYCLE]
    levels = [rf * elem, noc * elem, glb * elem + ifmap + o_bytes, ifmap + filters + o_bytes]
    glb_port = design[GLB_BYTES_PER_CYCLE] if len(design) > GLB_BYTES_PER_CYCLE else np.inf
    stall = max(0.0, (ifmap + o_bytes) / design[BYTES_PER_CYCLE] - compute,
                levels[2] / glb_port - compute)
    accesses = sum(count * price for count, price in zip(levels, prices[RF_PJ:STATIC_PJ]))
    energy = macs * prices[MAC_PJ] + accesses + (compute + ramp + stall) * prices[STATIC_PJ]
    return [compute, ramp, stall, ifmap + filters, o_bytes, levels[2], levels[1], levels[0],
            float(chunks[0] * e * r * t), energy]


def plan_reference(layer, layer_bytes, design, prices, objective: str = "edp",
                   policy: str = "free") -> tuple[np.ndarray, tuple]:
    """Plain Python: (cost, mapping) of the best of every mapping the hardware can hold (a superset
    of what the kernel scores: every n, m, and every t that fits), each walked pass by pass; under
    the chip policy only those of the most images per pass and strips no narrower than the array
    (every mapping where none has such strips)."""
    found = [(cost, mapping) for cost, mapping in _held_mappings(layer, layer_bytes, design, prices)
             if policy == "free" or mapping[0] >= min(int(layer[OUT_H]), int(design[COLS]))]
    if policy == "chip" and not found:
        return plan_reference(layer, layer_bytes, design, prices, objective)
    if policy == "chip":
        most = max(mapping[1] for _, mapping in found)
        found = [(cost, mapping) for cost, mapping in found if mapping[1] == most]
    best = best_mapping = None
    for cost, mapping in found:
        if best is None or better(cost, best, OBJECTIVES[objective]):
            best, best_mapping = cost, mapping
    return best, best_mapping


def _held_mappings(layer, layer_bytes, design, prices):
    """Plain Python: (cost, mapping) of every mapping the hardware can hold, walked pass by pass."""
    big_n, big_m, big_c, big_e, big_f, big_r, big_s, u, _ = (int(x) for x in layer)
    elem = float(layer_bytes[ELEM_BYTES])
    rows, cols = int(design[ROWS]), int(design[COLS])
    h = _chunk_rows(big_r, rows)[0]
    width = (big_f - 1) * u + big_s
    for e in range(1, big_e + 1):
        folds = -(-e // cols)
        if folds * h > rows or e < big_e and -(-big_e // cols) * h <= rows:
            continue                                      # too big, or strip-mining needlessly
        stack, across = rows // (folds * h), (cols // e if folds == 1 else 1)
        for r, t, q, p, n, resident in itertools.product(
                range(1, min(stack, big_c) + 1), range(1, big_m + 1),
                range(1, int(design[IFMAP_SPAD] // elem) // big_s + 1),
                range(1, int(design[PSUM_SPAD] // elem) + 1), range(1, big_n + 1), (0, 1)):
            if t > (stack // r) * across or p * q * big_s > design[FILTER_SPAD] // elem:
                continue
            held = big_c if resident else min(big_c, q * r)
            for m in sorted({*range(p * t, big_m + 1, p * t), big_m}):
                if n * (m * e * big_f + held * ((e - 1) * u + big_r) * width) * elem \
                        > design[GLB_BYTES]:
                    continue
                mapping = (e, n, m, p, q, r, t, resident)
                yield np.array(cost_reference(layer, layer_bytes, design, prices, mapping)), mapping
