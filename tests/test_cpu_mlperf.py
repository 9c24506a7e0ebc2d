"""The Xeon MLPerf rows (X05, X06): sourced AMX rates, activations kept on chip, one instance per
core for a batch with a sample for every core, padding-free BERT, and the README's accuracy table
rows as `accelsim validate` answers them."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from accelsim.api import load_device
from accelsim.calibrate import validate as validation
from accelsim.devices import cpu
from accelsim.workload.ir import Op, OpKind, Tensor

README = Path(__file__).resolve().parents[1] / "README.md"
CORES, CLOCK = 56, 2.0e9                  # Intel ARK, Xeon Platinum 8480+: 56 cores, 2.0 GHz base
AMX_INT8, AMX_BF16 = 2048, 1024           # Intel AMX: operations per cycle per core
ONEDNN_AMX_SHARE = 0.33                   # oneDNN issue #1992: bf16 matmul at 33% of the AMX peak
L2, LLC = 2 * 2.0**20, 105 * 2.0**20      # Intel: 2 MB L2 per core, 105 MB shared L3


@pytest.fixture(scope="module")
def xeon():
    return load_device("xeon_8480")


def test_amx_gemm_rate_is_the_peak_times_the_measured_onednn_share(xeon):
    for precision, per_cycle in (("int8", AMX_INT8), ("bf16", AMX_BF16)):
        rate, unit = cpu.gemm_rate(validation.gemm_op(64, 64, 64, precision), xeon)
        assert unit == "matrix"
        assert rate == pytest.approx(CORES * CLOCK * per_cycle * ONEDNN_AMX_SHARE)
    assert xeon.peak_flops("int8") == pytest.approx(229.376e12)      # 56 x 2.0 GHz x 2048


def relu(name: str, source: Tensor) -> Op:
    """An elementwise op reading `source` and writing a tensor of its shape."""
    return Op(name=name, kind=OpKind.ELEMENTWISE, inputs=(source,),
              outputs=(Tensor(f"{name}.out", source.shape, source.dtype),), precision="int8")


@pytest.mark.parametrize("megabytes, kept", [(64, True), (512, False)])
def test_an_activation_between_ops_stays_on_chip_when_it_fits(xeon, megabytes, kept):
    # on chip: 56 x 2 MiB of L2 + 105 MiB of L3 = 217 MiB; a 64 MiB tensor fits, a 512 MiB one not
    assert cpu.on_chip_bytes(xeon.cores, xeon.cache.l2, xeon.cache.llc) == CORES * L2 + LLC
    x = Tensor("x", (megabytes, 2**20), "int8")
    first = relu("a", x)
    second = relu("b", first.outputs[0])
    one, two = cpu.costs([first, second], xeon)
    size = megabytes * 2.0**20
    assert one.dram_read_bytes == size and two.dram_write_bytes == size   # network input, output
    assert one.dram_write_bytes == two.dram_read_bytes == (0.0 if kept else size)


DRAM = 8 * 4800e6 * 8                     # Intel ARK: DDR5-4800 x 8 channels of 8 bytes


def compute_and_stream_ops(weights_mib: int = 32):
    """A bf16 GEMM that fits the L3 (compute bound) and a 1 GiB elementwise op (memory bound)."""
    gemm = validation.gemm_op(4096, 4096, 4096, "bf16")
    if weights_mib != 32:
        b = gemm.weights[0]
        gemm = gemm.with_(weights=(Tensor(b.name, (weights_mib, 2**19), "bf16"),))
    x = Tensor("x", (512, 2**20), "bf16")
    stream = Op(name="relu", kind=OpKind.ELEMENTWISE, inputs=(x,),
                outputs=(Tensor("y", x.shape, "bf16"),), precision="bf16")
    return [gemm, stream]


def test_a_batch_with_a_sample_per_core_runs_one_instance_per_core(xeon):
    # Intel's MLPerf offline runs pin one instance per core: compute of some instances hides the
    # DRAM waits of others, so the socket takes max(all compute, all DRAM time) plus overheads
    ops = compute_and_stream_ops()
    compute = 2 * 4096**3 / (CORES * CLOCK * AMX_BF16 * ONEDNN_AMX_SHARE)       # 3.6 ms
    memory = (3 * 32 * 2.0**20 + 2 * 2.0**30) / (DRAM * xeon.memory.efficiency)  # 9.1 ms
    vector = 2.0**29 / xeon.vector_flops / xeon.efficiency.vector                 # the relu
    serial = cpu.costs(ops, xeon)
    assert sum(c.latency_s for c in serial) == pytest.approx(
        compute + memory - 3 * 32 * 2.0**20 / (DRAM * xeon.memory.efficiency) + 2 * xeon.op_overhead)
    spread = cpu.batch_parallel(serial, ops, xeon, samples=CORES)
    assert sum(c.latency_s for c in spread) == pytest.approx(
        max(compute + vector, memory) + 2 * xeon.op_overhead)
    assert [c.bound for c in spread] == ["memory", "memory"]
    busy = sum(c.latency_s for c in spread)
    assert sum(c.energy.total for c in spread) <= xeon.power.tdp * busy * (1 + 1e-12)


@pytest.mark.parametrize("samples, weights_mib, phase", [
    (CORES - 1, 32, "forward"),        # a core without a sample: one instance over all cores
    (CORES, 128, "forward"),           # weights beyond the 105 MiB L3: every instance would stream them
    (CORES, 32, "dgrad")])             # training runs one data-parallel instance
def test_other_runs_stay_one_instance_over_all_cores(xeon, samples, weights_mib, phase):
    from accelsim.workload.ir import Phase

    ops = [op.with_(phase=Phase(phase)) for op in compute_and_stream_ops(weights_mib)]
    serial = cpu.costs(ops, xeon)
    assert cpu.batch_parallel(serial, ops, xeon, samples) == serial


def test_x06_runs_padding_free_batches_as_intels_sut_packs_them():
    from accelsim.workload.seqlen import padding_free

    run = validation.CASES["X06"].run
    assert dict(run.params)["seq_len"] == "squad" and padding_free("compiled", "cpu")


def readme_row(row_id: str) -> tuple[float, float]:
    """(predicted, error %) of a row of the README's accuracy table."""
    line = next(line for line in README.read_text().splitlines()
                if line.startswith(f"| {row_id} |"))
    predicted, error = line.split("|")[3:5]
    return float(predicted.replace(",", "")), float(re.sub(r"[%+\s]", "", error))


def test_readme_rows_are_what_validate_answers(tmp_path):
    with validation.EXTRA_CSV.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = [row for row in reader if row["id"] in ("X05", "X06")]
        fields = reader.fieldnames
    path = tmp_path / "cpu_rows.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    for row in validation.validate(path).rows:
        predicted, error = readme_row(row.id)
        assert predicted == pytest.approx(row.predicted_in_unit, abs=0.5)
        assert error == pytest.approx(row.error_pct, abs=0.05)
