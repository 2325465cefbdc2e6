"""Official-style "on track?" verdicts from the observed growth rate (no model).

This is the Statistics Canada / Open SDG progress measure (itself after Eurostat): compare
the observed compound annual growth rate between a base year and the latest year,

    CAGR_obs = (y_last / y_base) ** (1 / (t_last - t_base)) - 1

with the rate required to reach the target on time,

    CAGR_req = (y_target / y_last) ** (1 / (T - t_last)) - 1,

and classify the ratio ``R = CAGR_obs / CAGR_req``: *on track* (R >= 0.95), *progress made but
acceleration needed* (0.6 <= R < 0.95), *limited progress* (0 <= R < 0.6), *deterioration*
(R < 0); *target achieved* when the latest value already meets it. The AROC variant uses
log growth, ``ln(y_last / y_base) / (t_last - t_base)``. It is what an official dashboard would
print; tnmodel shows it next to the probability, and later uses it as a back-test bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

ON_TRACK = "on track"
ACCELERATION_NEEDED = "progress made but acceleration needed"
LIMITED = "limited progress"
DETERIORATION = "deterioration"
ACHIEVED = "target achieved"
NOT_ACHIEVED = "not achieved by the target year"
INSUFFICIENT = "insufficient data"

#: Thresholds on R, from the Statistics Canada progress methodology.
THRESHOLDS = ((0.95, ON_TRACK), (0.6, ACCELERATION_NEEDED), (0.0, LIMITED))


class BaselineSettings(BaseModel):
    """How the official-style category is computed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["cagr", "aroc"] = "cagr"
    base_year: int | None = None  # None: the first observed year


@dataclass(frozen=True)
class BaselineVerdict:
    """The category and the figures behind it."""

    category: str
    ratio: float | None = None
    observed_rate: float | None = None
    required_rate: float | None = None
    projected_value: float | None = None
    base_year: int | None = None
    last_year: int | None = None
    reason: str = ""


def _rate(start: float, end: float, years: float, method: str) -> float:
    if method == "aroc":
        return math.log(end / start) / years
    return (end / start) ** (1.0 / years) - 1.0


def _grow(value: float, rate: float, years: float, method: str) -> float:
    if method == "aroc":
        return value * math.exp(rate * years)
    return value * (1.0 + rate) ** years


def progress_verdict(
    years: np.ndarray,
    values: np.ndarray,
    *,
    target_year: int,
    threshold: float,
    is_met,
    lower: float | None = None,
    upper: float | None = None,
    settings: BaselineSettings | None = None,
) -> BaselineVerdict:
    """The official-style progress category of one series towards one target.

    Parameters
    ----------
    years, values : ndarray
        Observed (exact, not bound) values; several values in one year are averaged.
    target_year, threshold : the target.
    is_met : callable
        ``is_met(value) -> bool`` (the target's comparator).
    lower, upper : float, optional
        Natural limits; the projection is clipped to them.
    settings : BaselineSettings, optional
    """
    settings = settings or BaselineSettings()
    years = np.asarray(years, dtype=int)
    values = np.asarray(values, dtype=float)
    if settings.base_year is not None:
        keep = years >= settings.base_year
        years, values = years[keep], values[keep]
    distinct = np.unique(years)
    if distinct.size == 0:
        return BaselineVerdict(INSUFFICIENT, reason="no observed value")
    per_year = np.array([values[years == y].mean() for y in distinct])
    t_base, t_last = int(distinct[0]), int(distinct[-1])
    y_base, y_last = float(per_year[0]), float(per_year[-1])
    if is_met(y_last):
        return BaselineVerdict(ACHIEVED, base_year=t_base, last_year=t_last,
                               projected_value=y_last, reason=f"{y_last:g} in {t_last}")
    if t_last >= target_year:
        return BaselineVerdict(NOT_ACHIEVED, base_year=t_base, last_year=t_last,
                               reason=f"{y_last:g} in {t_last}")
    if distinct.size < 2:
        return BaselineVerdict(INSUFFICIENT, base_year=t_base, last_year=t_last,
                               reason=f"one observed year ({t_last}); a growth rate needs two")
    if min(y_base, y_last, threshold) <= 0:
        return BaselineVerdict(INSUFFICIENT, base_year=t_base, last_year=t_last,
                               reason="growth rates need positive values")
    observed = _rate(y_base, y_last, t_last - t_base, settings.method)
    required = _rate(y_last, threshold, target_year - t_last, settings.method)
    projected = _grow(y_last, observed, target_year - t_last, settings.method)
    projected = float(np.clip(projected, lower if lower is not None else -np.inf,
                              upper if upper is not None else np.inf))
    # ``required`` points from the latest value towards the target, so the ratio is positive
    # exactly when the series moves the way it must, whichever direction is "better".
    # (``required`` is 0 only for a strict comparator sitting exactly on the threshold.)
    ratio = observed / required if required else (math.inf if observed > 0 else 0.0)
    category = DETERIORATION
    for cut, name in THRESHOLDS:
        if ratio >= cut:
            category = name
            break
    return BaselineVerdict(category, ratio, observed, required, projected, t_base, t_last)
