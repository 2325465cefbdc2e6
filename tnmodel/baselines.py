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


# --------------------------------------------------------------------------------------------
# Baseline forecasters: predictive draws for back-tests (same interface as the model families)

#: Baseline forecasters by the name ``tnmodel backtest --model`` uses.
BASELINE_MODELS = ("cagr", "ols", "ets_damped")
#: Years of the most recent data a growth rate is measured over (CAGR / AROC baseline).
CAGR_WINDOW = 5


def baseline_draws(
    name: str,
    years: np.ndarray,
    values: np.ndarray,
    target_years: np.ndarray,
    *,
    n_draws: int,
    rng: np.random.Generator,
    lower: float | None = 0.0,
    upper: float | None = None,
) -> np.ndarray:
    """Predictive draws of a baseline forecaster, shape (n_draws, len(target_years)).

    ``cagr``: the compound (log) growth rate of the last :data:`CAGR_WINDOW` years continued,
    as a random walk with that drift in logs (the drift method: spread from the sd of the
    observed yearly log growth, plus the uncertainty of the drift, Student-t); ``ols``: a
    straight line fitted by least squares to all points, with its Student-t prediction
    interval; ``ets_damped``: exponential smoothing with an additive
    damped trend (statsmodels ``ETSModel``), simulated forward, on the latest run of
    consecutive years (needs 5; shorter runs fall back to ``ols``). Several values in one
    year are averaged. Draws are clipped to ``[lower, upper]``.
    """
    years = np.asarray(years, dtype=int)
    values = np.asarray(values, dtype=float)
    distinct = np.unique(years)
    per_year = np.array([values[years == y].mean() for y in distinct])
    target_years = np.asarray(target_years, dtype=int)
    if distinct.size == 0:
        raise ValueError("a baseline needs at least one observed value")
    if name == "cagr":
        draws = _cagr_draws(distinct, per_year, target_years, n_draws, rng, lower, upper)
    elif name == "ols":
        draws = _ols_draws(distinct, per_year, target_years, n_draws, rng)
    elif name == "ets_damped":
        draws = _ets_draws(distinct, per_year, target_years, n_draws, rng)
    else:
        raise ValueError(f"unknown baseline '{name}'; known: {', '.join(BASELINE_MODELS)}")
    return np.clip(draws, -np.inf if lower is None else lower, np.inf if upper is None else upper)


def _cagr_draws(years, values, target, n, rng, lower, upper) -> np.ndarray:
    floor = 1e-3 * (upper if upper else max(abs(values).max(), 1.0))
    logs = np.log(np.maximum(values, floor))
    keep = years >= years[-1] - CAGR_WINDOW
    y, v = years[keep], logs[keep]
    if y.size < 2:
        return np.tile(values[-1], (n, target.size)).astype(float)
    drift = (v[-1] - v[0]) / (y[-1] - y[0])
    steps = np.diff(v) / np.sqrt(np.diff(y))  # per-year log growth, scaled to one year
    spread = float(np.std(steps - drift, ddof=1)) if steps.size >= 2 else abs(drift) / 2
    spread = max(spread, 1e-3)
    h = np.maximum((target - years[-1]).astype(float), 0.0)
    # The drift method's predictive sd (Hyndman & Athanasopoulos, 5.5): the walk's own
    # spread plus the uncertainty of a drift measured over the window; Student-t tails
    # because the spread is itself estimated from few steps.
    sd = spread * np.sqrt(h + h**2 / (y[-1] - y[0]))
    df = max(steps.size - 1, 2)
    path = logs[-1] + drift * h[None, :] + sd[None, :] * rng.standard_t(df, (n, target.size))
    return np.exp(path)


def _ols_draws(years, values, target, n, rng) -> np.ndarray:
    if years.size < 3:
        drift = (values[-1] - values[0]) / max(years[-1] - years[0], 1)
        base = values[-1] + drift * (target - years[-1])
        spread = max(abs(drift), 1e-6 * max(abs(values).max(), 1.0))
        return base[None, :] + spread * rng.standard_normal((n, target.size))
    import statsmodels.api as sm

    X = sm.add_constant(years.astype(float))
    fitted = sm.OLS(values, X).fit()
    prediction = fitted.get_prediction(sm.add_constant(target.astype(float), has_constant="add"))
    mean = prediction.predicted_mean
    se = np.sqrt(prediction.se_mean**2 + fitted.scale)
    return mean[None, :] + se[None, :] * rng.standard_t(fitted.df_resid, (n, target.size))


def _ets_draws(years, values, target, n, rng) -> np.ndarray:
    run = _latest_consecutive_run(years)
    if run.size < 5:
        return _ols_draws(years, values, target, n, rng)
    import warnings

    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = values[np.isin(years, run)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ETSModel(y, error="add", trend="add", damped_trend=True).fit(disp=False)
        horizon = int(target.max() - run[-1])
        if horizon < 1:
            return np.tile(y[-1], (n, target.size)).astype(float)
        sims = fitted.simulate(horizon, repetitions=n, anchor="end",
                               rng=np.random.default_rng(int(rng.integers(2**31 - 1))))
    sims = np.asarray(sims).reshape(horizon, n).T  # (draw, step)
    steps = np.clip(target - run[-1], 1, horizon) - 1
    return sims[:, steps]


def _latest_consecutive_run(years: np.ndarray) -> np.ndarray:
    start = years.size - 1
    while start > 0 and years[start] - years[start - 1] == 1:
        start -= 1
    return years[start:]
