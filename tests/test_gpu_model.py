"""GPU cost model: closed forms for compute-, memory- and overhead-bound ops, waves, traffic."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim import devices
from accelsim.config.gpu import GpuConfig
from accelsim.devices.gpu import cost
from accelsim.kernels import gpu as tiling
from accelsim.workload.ir import Gemm, Op, OpKind, Tensor

SMS = 10
TILE = 128
FP16 = 100e12
EFFICIENCY = 0.8
BANDWIDTH = 1e12
MEMORY_EFFICIENCY = 0.9
OVERHEAD = 5e-6


def gpu(**changes) -> GpuConfig:
    """A small GPU with round numbers: one 128x128 tile shape, one threadblock per SM."""
    spec = {"kind": "gpu", "name": "toy", "clock": 1e9, "sms": SMS,
            "peak": {"fp32": 10e12, "fp16": FP16, "int8": 2 * FP16},
            "memory": {"bandwidth": BANDWIDTH, "efficiency": MEMORY_EFFICIENCY},
            "l2": {"size": 2.0**40}, "launch_overhead": OVERHEAD, "tiles": [[TILE, TILE]],
            "efficiency": {"compute": EFFICIENCY}}
    spec.update(changes)
    return GpuConfig(**spec)


def matmul(m: int, n: int, k: int, precision: str = "fp16", **attrs) -> Op:
    """A linear layer: activations (m x k) times weights (k x n)."""
    return Op("mm", OpKind.MATMUL, inputs=(Tensor("x", (m, k), precision),),
              outputs=(Tensor("y", (m, n), precision),), weights=(Tensor("w", (k, n), precision),),
              gemm=Gemm(m, n, k), precision=precision, attrs=tuple(attrs.items()))


def elementwise(elements: int, flops_per_element: int = 1) -> Op:
    """A unary fp16 elementwise op."""
    return Op("act", OpKind.ELEMENTWISE, inputs=(Tensor("x", (elements,)),),
              outputs=(Tensor("y", (elements,)),), vector_flops=flops_per_element * elements)


def tile_seconds(k: int, rate: float = FP16 * EFFICIENCY) -> float:
    """Time of one 128x128 output tile on one SM."""
    return 2 * TILE * TILE * k / (rate / SMS)


def test_huge_gemm_runs_at_peak_times_efficiency():
    op = matmul(TILE * SMS * 4, TILE * 10, 8192)          # 400 tiles = 40 full waves
    c = cost(op, gpu())
    assert c.bound == "compute" and c.unit == "tensor"
    assert c.latency_s == pytest.approx(OVERHEAD + op.flops / (FP16 * EFFICIENCY), rel=1e-12)


def test_tiny_elementwise_costs_the_launch_overhead():
    op = elementwise(16)
    c = cost(op, gpu())
    assert c.bound == "overhead"
    moved = op.input_bytes + op.output_bytes
    assert c.latency_s == pytest.approx(OVERHEAD + moved / (BANDWIDTH * MEMORY_EFFICIENCY))
    assert c.latency_s < 1.001 * OVERHEAD


@pytest.mark.parametrize("waves", [1, 3, 7])
def test_one_extra_tile_costs_a_whole_wave(waves):
    k = 2 * tiling.MIN_SLICE - 1                          # too short to split K
    full = cost(matmul(TILE * SMS * waves, TILE, k), gpu())
    spill = cost(matmul(TILE * (SMS * waves + 1), TILE, k), gpu())
    assert full.compute_s == pytest.approx(waves * tile_seconds(k))
    assert spill.compute_s == pytest.approx((waves + 1) * tile_seconds(k))


def test_split_k_spreads_a_lone_tile_over_idle_sms():
    k = SMS * tiling.MIN_SLICE                            # ten slices of the shortest K slice
    free_memory = {"bandwidth": 1e30, "efficiency": 1.0}
    c = cost(matmul(TILE, TILE, k), gpu(memory=free_memory))
    assert c.compute_s == pytest.approx(tile_seconds(k) / SMS)


def test_each_wave_pays_the_tile_overhead_in_k_steps():
    k, extra = 2 * tiling.MIN_SLICE - 1, 64
    device = gpu(efficiency={"compute": EFFICIENCY, "tile_overhead_k": extra})
    c = cost(matmul(TILE * SMS * 3, TILE, k), device)
    assert c.compute_s == pytest.approx(3 * tile_seconds(k + extra))


def test_tiles_below_the_feed_intensity_run_proportionally_slower():
    k, side = 2 * tiling.MIN_SLICE - 1, 64               # 64x64: 64*64/128 = 32 MACs per element
    device = gpu(tiles=[[side, side]], efficiency={"compute": EFFICIENCY, "tile_intensity": 64})
    c = cost(matmul(side * SMS, side, k), device)
    assert c.compute_s == pytest.approx(2 * side * side * k / (FP16 * EFFICIENCY / SMS * 0.5))


def test_an_fp32_matrix_vector_product_streams_its_weights_once():
    op = matmul(1, 4096, 4096, "fp32")
    c = cost(op, gpu())
    assert c.unit == "cuda" and c.bound == "memory"
    moved = op.input_bytes + op.weight_bytes + op.output_bytes
    assert c.latency_s == pytest.approx(OVERHEAD + moved / (BANDWIDTH * MEMORY_EFFICIENCY))


def test_int8_beats_fp16_by_the_peak_ratio_on_a_big_gemm():
    device = gpu()
    fp16 = cost(matmul(4096, 4096, 4096, "fp16"), device)
    int8 = cost(matmul(4096, 4096, 4096, "int8"), device)
    assert fp16.bound == int8.bound == "compute"
    ratio = device.peak_flops("int8") / device.peak_flops("fp16")
    assert (fp16.latency_s - OVERHEAD) / (int8.latency_s - OVERHEAD) == pytest.approx(ratio)


def test_memory_bound_vector_op_streams_at_achievable_bandwidth():
    op = elementwise(10**8)
    c = cost(op, gpu())
    moved = op.input_bytes + op.output_bytes
    assert c.bound == "memory" and c.dram_bytes == moved
    assert c.latency_s - OVERHEAD == pytest.approx(moved / (BANDWIDTH * MEMORY_EFFICIENCY))


def test_vector_math_runs_at_cuda_core_fp32_rate():
    op = elementwise(10**6, flops_per_element=10**4)
    c = cost(op, gpu(efficiency={"compute": EFFICIENCY, "vector": 0.5}))
    assert c.bound == "compute"
    assert c.compute_s == pytest.approx(op.flops / (10e12 * 0.5))


def test_2_4_sparsity_doubles_tensor_math_only_where_declared():
    dense = cost(matmul(4096, 4096, 4096), gpu(sparsity_2_4=True))
    sparse = cost(matmul(4096, 4096, 4096, sparsity="2:4"), gpu(sparsity_2_4=True))
    unsupported = cost(matmul(4096, 4096, 4096, sparsity="2:4"), gpu())
    assert dense.compute_s == pytest.approx(2 * sparse.compute_s)
    assert unsupported.compute_s == dense.compute_s


def test_dram_traffic_without_l2_reuse_is_the_tiled_formula():
    m, n, k = 1000, 3000, 512
    op = matmul(m, n, k)
    c = cost(op, gpu(l2=None))
    a, b = op.input_bytes, op.weight_bytes
    assert c.dram_read_bytes == a * math.ceil(n / TILE) + b * math.ceil(m / TILE)
    assert c.dram_write_bytes == op.output_bytes


def test_operands_that_fit_in_l2_are_read_once():
    op = matmul(1000, 3000, 512)
    c = cost(op, gpu(l2={"size": "64 MiB"}))
    assert c.dram_read_bytes == op.input_bytes + op.weight_bytes


def test_l2_bandwidth_can_bound_a_small_tile_gemm():
    op = matmul(4096, 4096, 4096)
    l2_bw = 1e12
    c = cost(op, gpu(l2={"size": 2.0**40, "bandwidth": l2_bw}, tiles=[[16, 16]]))
    panel_reads = 2 * 4096 * 4096 * (4096 // 16) * 2
    assert c.bound == "memory"
    assert c.memory_s == pytest.approx((panel_reads + op.output_bytes) / l2_bw)


def test_matrix_vector_product_streams_on_cuda_cores():
    op = matmul(1, 8192, 8192)
    c = cost(op, gpu())
    assert c.unit == "cuda" and c.bound == "memory"
    assert c.dram_bytes == op.input_bytes + op.weight_bytes + op.output_bytes


def test_cost_is_complete_and_dispatched_by_kind():
    device = gpu()
    op = matmul(2048, 2048, 2048)
    c = devices.cost(op, device)
    assert c == cost(op, device)
    assert c.flops == 2 * 2048**3 and c.macs == 2048**3
    assert c.cycles == round(c.latency_s * device.clock)
    assert c.energy.compute > 0 and c.energy.offchip > 0 and c.energy.onchip > 0
    assert c.onchip_bytes > 0


def test_embedding_reads_gathered_rows_not_the_table():
    table = Tensor("table", (50000, 1024))
    op = Op("emb", OpKind.EMBEDDING, inputs=(Tensor("ids", (8, 128), "int32"),),
            outputs=(Tensor("h", (8, 128, 1024)),), weights=(table,))
    c = cost(op, gpu())
    assert c.dram_read_bytes == op.input_bytes + op.output_bytes < table.bytes


TILE_SIDES = st.sampled_from([16, 32, 64, 128])
TILE_SETS = st.lists(st.tuples(TILE_SIDES, TILE_SIDES), min_size=1, max_size=3)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 300), n=st.integers(1, 300), k=st.integers(1, 1500), count=st.integers(1, 3),
       tiles=TILE_SETS, slots=st.integers(1, 16), l2_size=st.sampled_from([0.0, 5e4, 1e6]),
       l2_bw=st.sampled_from([0.0, 1e11]), k_overhead=st.sampled_from([0.0, 160.0]),
       tile_intensity=st.sampled_from([0.0, 20.0, 56.0]))
def test_tile_kernel_matches_enumerating_reference(m, n, k, count, tiles, slots, l2_size, l2_bw,
                                                   k_overhead, tile_intensity):
    kwargs = dict(slots=slots, slot_flops=1e9, elem_bytes=2.0, a_bytes=2.0 * m * k * count,
                  b_bytes=2.0 * k * n * count, c_bytes=2.0 * m * n * count, l2_size=l2_size,
                  l2_bw=l2_bw, dram_bw=1e10, k_overhead=k_overhead, tile_intensity=tile_intensity)
    fast = tiling.best_tile(m, n, k, count, tiles, **kwargs)
    slow = tiling.tile_plan_reference(m, n, k, count, tiles, **kwargs)
    np.testing.assert_allclose(fast, slow, rtol=1e-9)


def test_tile_kernel_rejects_empty_problems():
    with pytest.raises(ValueError):
        tiling.best_tile(0, 1, 1, 1, [[128, 128]], slots=1, slot_flops=1.0, elem_bytes=2.0,
                         a_bytes=0.0, b_bytes=0.0, c_bytes=0.0, l2_size=0.0, l2_bw=0.0, dram_bw=1.0)


def test_register_file_energy_follows_the_mma_fragment_closed_form():
    from accelsim.api import load_device
    from accelsim.devices.energy import sram_pj_per_byte
    from accelsim.devices.gpu import register_file_energy
    from accelsim.calibrate.validate import gemm_op

    device = load_device("a100")
    op = gemm_op(1024, 1024, 1024, "bf16")
    # mma.m16n8k16 (bf16): A 16x16x2 + B 16x8x2 + C and D 16x8x4 each = 1792 bytes per 2048 MACs.
    expected = 1024**3 * (1792 / 2048) * sram_pj_per_byte(device, 256 * 1024) * 1e-12
    assert register_file_energy(op, device) == pytest.approx(expected)


def test_register_file_energy_follows_the_device_mma():
    from accelsim.api import load_device
    from accelsim.calibrate.validate import gemm_op
    from accelsim.devices.gpu import register_file_energy

    op = gemm_op(1024, 1024, 1024, "fp16")
    ampere = register_file_energy(op, load_device("a100"))
    # mma.m8n8k4 (fp16): A 8x4x2 + B 8x4x2 + C and D 8x8x4 each = 640 bytes per 256 MACs.
    volta = register_file_energy(op, load_device("a100", ["mma.m=8", "mma.k_bytes=8"]))
    assert volta / ampere == pytest.approx((640 / 256) / (1792 / 2048))
