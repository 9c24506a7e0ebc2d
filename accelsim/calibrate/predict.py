"""What accelsim predicts for one measurement row, on any variant of the row's device: the run is
built once (workload, trace) and re-costed per variant."""

from __future__ import annotations

import math
from contextlib import contextmanager

from accelsim.calibrate.measurements import Measurement, predicted, totals_key
from accelsim.calibrate.runs import run_of
from accelsim.errors import AccelsimError, UsageError

TIME_SENSE = {"latency": 1, "ttft": 1, "tpot": 1, "throughput": -1}   # +1: a time, -1: a rate


class RowModel:
    """One measurement's run on a device, built once, predicted on device variants."""

    def __init__(self, row: Measurement, device):
        self.row = row
        with row_errors(row):
            if row.mode == "serve":
                self.prepared = None
            else:
                self.prepared = self._prepare(device)
            self.predict(device)

    def _prepare(self, device):
        """(graph, precision, trace) of an inference or training row."""
        from accelsim.engine.single import prepare

        run = run_of(self.row)
        _device, graph, precision, trace = prepare(run.workload, device, mode=run.mode,
                                                   batch=run.batch, precision=run.precision,
                                                   stack=run.stack, **dict(run.params))
        return graph, precision, trace

    def predict(self, device) -> float:
        """The row's metric as accelsim predicts it on `device`, in SI units."""
        row = self.row
        with row_errors(row):
            if self.prepared is None:
                from accelsim.api import simulate

                totals = simulate(row.workload, device, mode="serve", batch=row.batch,
                                  precision=row.precision, **row.params).totals
            else:
                from accelsim.engine.single import simulate_prepared

                totals = simulate_prepared(*self.prepared, device, mode=row.mode).totals
            value = predicted(totals, totals_key(row.metric, row.unit))
        if not 0 < value < math.inf:
            raise UsageError(f"the model predicts {value:g} for this row's {row.metric}",
                             file=row.file, line=row.line, key="workload")
        return value


def time_error(row: Measurement, predicted: float) -> float | None:
    """log(measured / predicted) as a ratio of times (a rate's inverted); None for power, energy."""
    sense = TIME_SENSE.get(row.metric)
    return None if sense is None else sense * math.log(row.si / predicted)


@contextmanager
def row_errors(row: Measurement):
    """Within: an accelsim error while modelling a row becomes one naming the row's file and line."""
    try:
        yield
    except AccelsimError as error:
        if error.file == row.file:
            raise
        key = "params" if error.key == "stack" else error.key if error.key in (
            "mode", "precision", "batch", "unit", "params") else "workload"
        raise UsageError(error.render(), file=row.file, line=row.line, key=key) from None
