"""SCALE-Sim v2 topology CSVs (conv or GEMM_mnk format) -> IR Graph, layer for layer as SCALE-Sim sees it.

Conv format: `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
Num Filter, Strides`, then any extra columns (ignored). GEMM format: `Layer, M, N, K`.
Blank rows are skipped and cells may be padded with spaces. As in SCALE-Sim: batch 1, no padding,
output = ceil((in - filter + stride) / stride), every row a dense conv (a depthwise layer written as
C channels x 1 filter stays that), so Gemm(m=Ho*Wo, n=Num Filter, k=Fh*Fw*Channels). A GEMM row is a
MATMUL Gemm(m=M, n=N, k=K) whose N x K operand is the weight, as SCALE-Sim's filter operand.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from accelsim.errors import WorkloadError
from accelsim.text_files import read_text
from accelsim.workload.ir import Gemm, Graph, Op, OpKind, Tensor
from accelsim.workload.limits import MAX_OPS, MAX_SIZE, is_size

CONV_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                "Channels", "Num Filter", "Strides")
GEMM_COLUMNS = ("Layer", "M", "N", "K")
DIGITS = re.compile(r"[0-9]{1,10}")   # ASCII only: str.isdigit() also accepts '²'


def _conv_op(name: str, h: int, w: int, fh: int, fw: int, c: int, n: int, s: int,
             precision: str) -> Op:
    """One conv row: a dense, unpadded convolution."""
    ho, wo = -(-(h - fh + s) // s), -(-(w - fw + s) // s)
    return Op(name=name, kind=OpKind.CONV2D, precision=precision,
              inputs=(Tensor(f"{name}.ifmap", (1, c, h, w), precision),),
              outputs=(Tensor(f"{name}.ofmap", (1, n, ho, wo), precision),),
              weights=(Tensor(f"{name}.filter", (n, c, fh, fw), precision),),
              gemm=Gemm(m=ho * wo, n=n, k=fh * fw * c),
              attrs=(("kernel", (fh, fw)), ("stride", s), ("padding", 0), ("groups", 1),
                     ("in_hw", (h, w)), ("out_hw", (ho, wo))))


def _gemm_op(name: str, m: int, n: int, k: int, precision: str) -> Op:
    """One GEMM row: (M x K) @ (K x N)."""
    return Op(name=name, kind=OpKind.MATMUL, precision=precision,
              inputs=(Tensor(f"{name}.a", (m, k), precision),),
              outputs=(Tensor(f"{name}.out", (m, n), precision),),
              weights=(Tensor(f"{name}.b", (n, k), precision),),
              gemm=Gemm(m=m, n=n, k=k))


def _format(header: list[str], where: dict[str, object]) -> tuple[str, ...]:
    """The column layout the header names: GEMM when columns 2-4 are M, N, K, else conv."""
    names = [cell.upper() for cell in header]
    if names[1:4] == ["M", "N", "K"]:
        return GEMM_COLUMNS
    if len(header) >= len(CONV_COLUMNS):
        return CONV_COLUMNS
    raise WorkloadError(f"header has {len(header)} columns; expected {', '.join(CONV_COLUMNS)} "
                        f"or {', '.join(GEMM_COLUMNS)}", **where)


def _numbers(cells: list[str], columns: tuple[str, ...], where: dict[str, object]) -> list[int]:
    """The numeric cells of a row as positive ints."""
    if len(cells) < len(columns):
        raise WorkloadError(f"row has {len(cells)} columns, needs {len(columns)}",
                            key=columns[len(cells)], **where)
    values = []
    for column, cell in zip(columns[1:], cells[1:]):
        if not DIGITS.fullmatch(cell) or not is_size(int(cell)):
            raise WorkloadError(f"expected a positive integer up to {MAX_SIZE}, got {cell[:30]!r}",
                                key=column, **where)
        values.append(int(cell))
    return values


def _rows(text: str, file: str) -> list[list[str]]:
    """The CSV rows of `text`, one per line."""
    reader = csv.reader(text.splitlines())
    try:
        return list(reader)
    except csv.Error as exc:
        raise WorkloadError(f"invalid CSV: {exc}", file=file, line=reader.line_num) from None


def import_scalesim_csv(path: str | Path, *, precision: str = "fp16") -> Graph:
    """Read a SCALE-Sim topology file into a batch-1 Graph of sequential ops."""
    path = Path(path)
    text = read_text(path, str(path), WorkloadError)
    ops: list[Op] = []
    names: set[str] = set()
    columns: tuple[str, ...] = ()
    for line, row in enumerate(_rows(text, str(path)), start=1):
        cells = [cell.strip() for cell in row]
        while cells and not cells[-1]:
            cells.pop()
        where = dict(file=str(path), line=line)
        if not cells:
            continue
        if not columns:
            columns = _format(cells, where)
            continue
        name, values = cells[0], _numbers(cells, columns, where)
        if not name:
            raise WorkloadError("layer name is empty", key=columns[0], **where)
        if name in names:
            raise WorkloadError(f"duplicate layer name {name!r}", key=columns[0], **where)
        if len(ops) >= MAX_OPS:
            raise WorkloadError(f"more than {MAX_OPS} layers (the limit)", **where)
        names.add(name)
        if columns is GEMM_COLUMNS:
            op = _gemm_op(name, *values, precision)
        else:
            for size, kernel, column in ((values[0], values[2], "Filter Height"),
                                         (values[1], values[3], "Filter Width")):
                if kernel > size:
                    raise WorkloadError(f"filter {kernel} is larger than the ifmap {size}",
                                        key=column, **where)
            op = _conv_op(name, *values, precision)
        ops.append(op.with_(deps=(ops[-1].name,) if ops else ()))
    if not ops:
        raise WorkloadError("topology has no layers", file=str(path))
    layout = "gemm" if columns is GEMM_COLUMNS else "conv"
    return Graph(path.stem, tuple(ops), 1, (("family", "scalesim"), ("format", layout)))
