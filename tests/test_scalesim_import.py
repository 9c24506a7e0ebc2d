"""SCALE-Sim topology import, checked against the raw CSVs and SCALE-Sim's golden cycle counts."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from accelsim.errors import WorkloadError
from accelsim.workload.importers.scalesim_csv import import_scalesim_csv
from accelsim.workload.ir import OpKind
from accelsim.workload.loader import load_workload

SCALESIM = Path(__file__).resolve().parents[2] / "shared" / "reference" / "scalesim"
BUNDLED = Path(__file__).resolve().parents[1] / "accelsim" / "workloads" / "scalesim"
TOPOLOGIES = sorted(p.name for p in SCALESIM.glob("*.csv") if p.name != "golden.csv")


def raw_rows(path: Path) -> list[list[str]]:
    """Data rows (header and blank rows dropped), cells stripped."""
    with open(path, newline="") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f)]
    return [row for row in rows[1:] if any(row)]


@pytest.mark.parametrize("name", TOPOLOGIES)
def test_every_reference_topology_imports_and_is_bundled(name):
    graph = load_workload(SCALESIM / name)
    assert len(graph.ops) == len(raw_rows(SCALESIM / name))
    assert (BUNDLED / name).read_bytes() == (SCALESIM / name).read_bytes()


def test_resnet50_layers_and_macs_from_raw_csv():
    rows = raw_rows(SCALESIM / "Resnet50.csv")
    expected = 0
    for h, w, fh, fw, c, n, s in (map(int, row[1:8]) for row in rows):
        ho, wo = math.ceil((h - fh + s) / s), math.ceil((w - fw + s) / s)
        expected += ho * wo * fh * fw * c * n
    graph = import_scalesim_csv(SCALESIM / "Resnet50.csv")
    assert len(graph.ops) == len(rows) == 54
    assert graph.macs == expected
    assert [op.name for op in graph.ops] == [row[0] for row in rows]
    assert all(op.kind is OpKind.CONV2D and op.gemm.count == 1 for op in graph.ops)


def test_golden_compute_cycles_from_imported_gemms():
    # README closed form for ws on R x C: ceil(K/R) * ceil(N/C) * (2R + C + P - 2) - 1.
    with open(SCALESIM / "golden.csv", newline="") as f:
        golden = list(csv.DictReader(f))
    graph = import_scalesim_csv(SCALESIM / "Resnet50.csv")
    gemms = {op.name: op.gemm for op in graph.ops}
    for row in golden:
        r, c = int(row["array_rows"]), int(row["array_cols"])
        assert row["topology"] == "Resnet50.csv" and row["dataflow"] == "ws"
        layers = gemms.values() if row["layer"] == "TOTAL" else [gemms[row["layer"]]]
        cycles = sum(math.ceil(g.k / r) * math.ceil(g.n / c) * (2 * r + c + g.m - 2) - 1 for g in layers)
        assert cycles == int(row["compute_cycles"]), row["layer"]


def test_gemm_rows_and_depthwise_rows():
    gpt2 = import_scalesim_csv(SCALESIM / "gpt2.csv")
    for op, row in zip(gpt2.ops, raw_rows(SCALESIM / "gpt2.csv")):
        assert op.kind is OpKind.MATMUL and (op.gemm.m, op.gemm.n, op.gemm.k) == tuple(map(int, row[1:4]))
    assert gpt2.info("format") == "gemm"
    conv2 = import_scalesim_csv(SCALESIM / "mobilenet.csv").ops[1]      # 3x3 "depthwise", 1 filter
    assert (conv2.gemm.m, conv2.gemm.n, conv2.gemm.k) == (110 * 110, 1, 3 * 3 * 32)   # no padding


@pytest.mark.parametrize(("text", "match"), [
    ("Layer name,H,W,FH,FW,C,N,S,\nconv,224,x,3,3,3,8,1,\n", r":2: IFMAP Width: .*'x'"),
    ("Layer name,H,W,FH,FW,C,N,S,\nconv,224,224,3,3,3,\n", r":2: Num Filter: row has 6 columns"),
    ("Layer name,H,W,FH,FW,C,N,S,\n\nconv,4,4,5,3,3,8,1,\n", r":3: Filter Height: filter 5"),
    ("Layer name,H,W,FH,FW,C,N,S,\na,8,8,3,3,3,8,1,\na,8,8,3,3,3,8,1,\n", r":3: Layer name: duplicate"),
    ("Layer,M,N,K\nqk,64,0,64\n", r":2: N: expected a positive integer"),
    ("Layer,H,W\n", r":1: header has 3 columns"),
    (",,,\n", r"no layers"),
])
def test_bad_csv_names_file_line_column(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(WorkloadError, match=match) as info:
        import_scalesim_csv(path)
    assert str(path) in str(info.value)


def test_loader_rejects_batch_and_missing_file(tmp_path):
    with pytest.raises(WorkloadError, match="batch 1"):
        load_workload(SCALESIM / "alexnet.csv", batch=2)
    with pytest.raises(WorkloadError, match="cannot read"):
        load_workload(tmp_path / "missing.csv")
