"""Mapping search (accelsim.devices.mapper, the rs kernel's objectives, --mapping): never worse
than the fixed mapping, within the buffers, equal to brute force on tiny layers, closed forms."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.devices import mapper
from accelsim.kernels import row_stationary as rs
from tests.hostile.cli import accelsim, assert_clean_error

UNROLLS = st.lists(st.sampled_from(sorted(mapper.UNROLLS)), min_size=1, max_size=3, unique=True)


@st.composite
def problems(draw, largest=4096):
    """A random GEMM-like layer and array with buffers of 16 B .. 64 KiB."""
    dim = st.integers(1, largest)
    layer = mapper.Layer(draw(dim), draw(dim), draw(dim), draw(st.integers(1, 3)),
                         float(draw(st.sampled_from([1, 2, 4]))), draw(st.floats(0.1, 1.0)))
    buffer = st.floats(16, 64 * 1024)
    hardware = mapper.Hardware(draw(st.integers(1, 64)), draw(st.integers(1, 64)), draw(buffer),
                               draw(buffer), draw(buffer), draw(st.floats(0.5, 256)),
                               draw(st.floats(0.1, 5)), draw(st.floats(0.1, 10)),
                               draw(st.floats(1, 500)), draw(st.floats(0, 50)), tuple(draw(UNROLLS)))
    return layer, hardware


def within_buffers(layer, hardware, mapping):
    """The mapping's A, B and C tiles fit their buffers (the fixed mapping's spatial tile may
    stream) and hold the spatial tile of its unrolling."""
    tm, tn, tk = mapping.tile
    assert (mapping.tile >= mapper.spatial_tile(layer, hardware, mapping.unroll)).all()
    if mapping == mapper.fixed(layer, hardware):
        return True
    e = layer.elem
    return (tm * tk * e <= hardware.ifmap_bytes and tk * tn * e <= hardware.filter_bytes
            and tm * tn * e <= hardware.ofmap_bytes)


@settings(max_examples=60, deadline=None)
@given(problems(), st.sampled_from(mapper.OBJECTIVES))
def test_search_is_never_worse_than_fixed_and_fits(problem, objective):
    layer, hardware = problem
    best = mapper.search(layer, hardware, objective)
    assert best.score(objective) <= mapper.fixed(layer, hardware).score(objective) * (1 + 1e-12)
    assert within_buffers(layer, hardware, best)


@settings(max_examples=40, deadline=None)
@given(problems(largest=9), st.sampled_from(mapper.OBJECTIVES))
def test_pruned_search_equals_brute_force_on_tiny_layers(problem, objective):
    layer, hardware = problem
    pruned, brute = mapper.search(layer, hardware, objective), mapper.brute_force(layer, hardware,
                                                                                  objective)
    assert pruned.score(objective) == pytest.approx(brute.score(objective), rel=1e-12)


def test_a_layer_that_fits_reads_each_operand_once():
    # closed form: with every operand on chip, DRAM moves A (M x K), B (K x N) and C (M x N) once
    layer = mapper.Layer(64, 32, 48, 2, 2.0)
    hardware = mapper.Hardware(8, 8, 1 << 20, 1 << 20, 1 << 20, 16.0)
    best = mapper.search(layer, hardware, "energy")
    assert best.dram_read == 2 * 2.0 * (64 * 48 + 48 * 32)
    assert best.dram_write == 2 * 2.0 * 64 * 32


def test_psums_spill_when_k_is_outside_and_outputs_do_not_fit():
    # closed form: order (k, m, n) with 1 x 1 x 1 tiles writes C at each of the K steps and reads
    # it back at all but the first
    layer = mapper.Layer(4, 3, 5)
    hardware = mapper.Hardware(2, 2, 1.0, 1.0, 1.0, 1.0)
    cols = mapper.evaluate(layer, hardware, "ws", mapper.np.array([[1.0, 1.0, 1.0]]), (2, 0, 1))
    assert cols[3][0] == 4 * 3 * 5
    assert cols[2][0] == 4 * 5 + 5 * 3 * 4 + 4 * 3 * 4


def test_candidate_tiles_keep_the_smallest_tile_of_each_trip_count():
    assert list(mapper.candidate_tiles(10)) == [1, 2, 3, 4, 5, 10]


EYERISS = [12, 14, 24, 448, 48, 108 * 1024, 3.6]
LADDER = [1.3, 0.65, 1.3, 3.9, 130.0, 0.0]
ALEXNET_CONV3 = [4, 384, 256, 13, 13, 3, 3, 1, 1]      # N, M, C, E, F, R, S, U, G
CONV3_BYTES = [4 * 256 * 15 * 15 * 2, 384 * 256 * 9 * 2, 4 * 384 * 13 * 13 * 2, 2]


@pytest.mark.parametrize("objective", ["energy", "latency"])
def test_rs_objective_search_beats_the_edp_mapping_on_its_objective(objective):
    fixed = rs.plan(ALEXNET_CONV3, CONV3_BYTES, EYERISS, LADDER)
    searched = rs.plan(ALEXNET_CONV3, CONV3_BYTES, EYERISS, LADDER, objective)
    cost = {k: rs.mapping_cost(ALEXNET_CONV3, CONV3_BYTES, EYERISS, LADDER, p.mapping[0, 0])
            for k, p in (("fixed", fixed), ("searched", searched))}
    field = rs.ENERGY if objective == "energy" else slice(rs.COMPUTE, rs.STALL + 1)
    assert cost["searched"][field].sum() <= cost["fixed"][field].sum()


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=6, max_size=6), st.sampled_from(["energy", "latency"]))
def test_rs_objective_search_equals_the_reference(dims, objective):
    n, m, c, e, r, s = dims
    layer = [n, m, c, e, e + 1, min(r, 3), min(s, 3), 1, 1]
    sizes = [n * c * (e + 2) * (e + 3) * 2.0, m * c * 9 * 2.0, n * m * e * (e + 1) * 2.0, 2.0]
    design = [4, 5, 12, 96, 16, 4096, 2.0]
    kernel = rs.plan(layer, sizes, design, LADDER, objective)
    best, _ = rs.plan_reference(layer, sizes, design, LADDER, objective)
    pick = rs.ENERGY if objective == "energy" else slice(rs.COMPUTE, rs.STALL + 1)
    found = rs.mapping_cost(layer, sizes, design, LADDER, kernel.mapping[0, 0])
    assert found[pick].sum() == pytest.approx(best[pick].sum(), rel=1e-9)


def test_run_mapping_search_reports_each_gemm_mapping():
    out = accelsim("run", "resnet50", "--device", "tpu_v5e", "--mapping", "search", "--objective",
                   "edp", "--json")
    assert out.code == 0, out.err
    layers = [layer for layer in json.loads(out.out)["layers"] if layer["macs"]]
    assert layers and all(layer["mapping"]["objective"] == "edp" for layer in layers)
    assert {layer["mapping"]["source"] for layer in layers} <= {"search", "fixed"}
    assert all(set(layer["mapping"]["tile"]) == {"m", "n", "k"} for layer in layers)


def test_run_mapping_on_a_gpu_is_a_clean_error():
    assert_clean_error(accelsim("run", "resnet50", "--device", "a100", "--mapping", "search"),
                       "--mapping", "gpu device", "systolic")
