"""The `calibration:` block `accelsim calibrate` writes: where a device's fitted parameters came
from and how far its predictions of held-out measurements ran, the source of every run's interval."""

from __future__ import annotations

from pydantic import Field, model_validator

from accelsim.config.derived import CalibrationDerived
from accelsim.config.types import Count, Strict

MAX_LOG_ERROR = 5.0      # |log(measured / predicted)| beyond e**5 (~150x) is not a calibration


class Calibration(CalibrationDerived, Strict):
    """Fitted parameters, their measurements and the quantiles of held-out log errors."""

    measurements: str                      # the measurements file the parameters were fitted to
    date: str                              # UTC date of the fit
    rows: Count                            # measurement rows used
    fitted: tuple[str, ...] = ()           # dotted keys of the fitted parameters
    coverage: float = Field(gt=0, lt=1)    # nominal probability that the interval holds the truth
    residuals: Count                       # held-out time residuals the quantiles come from
    log_error_lo: float = Field(ge=-MAX_LOG_ERROR, le=MAX_LOG_ERROR)   # of log(measured/predicted time)
    log_error_hi: float = Field(ge=-MAX_LOG_ERROR, le=MAX_LOG_ERROR)
    median_abs_error_before: float | None = Field(default=None, ge=0)  # |measured/predicted - 1|
    median_abs_error_after: float | None = Field(default=None, ge=0)   # held out, after the fit
    method: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Calibration:
        """The lower quantile cannot exceed the upper one."""
        if self.log_error_lo > self.log_error_hi:
            raise ValueError(f"log_error_lo {self.log_error_lo:g} is above log_error_hi "
                             f"{self.log_error_hi:g}")
        return self
