"""Forecast paths from a fit: one value per posterior draw, series geo and year.

Pure numpy on the fit's draws (no PyMC here), so scenarios can later be applied as cheap
array operations on the same paths without refitting.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tnmodel.models import FAMILIES, Fit

QUANTILES = (0.025, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.975)


@dataclass(frozen=True)
class Paths:
    """Forecast values in percent, shape (sample, geo, year).

    ``noise`` (optional, same shape) is the year-to-year observation noise contained in each
    value, on the scale the model works on (logits for shares). Interventions transform the
    trend (``values`` without ``noise``) and add the same noise back, so that halting or
    accelerating a path does not freeze or amplify one year's noise draw. ``None`` means the
    values are all trend (e.g. hand-built paths).
    """

    indicator: str
    geos: tuple[str, ...]
    years: np.ndarray
    values: np.ndarray
    chains: int
    noise: np.ndarray | None = None

    def at(self, geo: str, year: int) -> np.ndarray:
        """All draws of one geo in one year."""
        return self.values[:, self.geos.index(geo), int(np.flatnonzero(self.years == year)[0])]


def stream_seed(seed: int, label: str) -> np.random.Generator:
    """A generator for one named stream: the same (seed, label) always gives the same draws."""
    return np.random.default_rng([seed, zlib.crc32(label.encode())])


def forecast_paths(fit: Fit, years: np.ndarray, seed: int) -> Paths:
    """Posterior predictive of the annual value of every series geo in every year.

    The fit's family does the arithmetic (e.g. ``invlogit(alpha + beta * (year - centre) +
    sigma_obs * e)`` for the logit trend): the value an annual report would print.
    """
    years = np.asarray(years, dtype=int)
    rng = stream_seed(seed, f"forecast:{fit.indicator}")
    values, noise = FAMILIES[fit.spec.family].forecast(fit.draws, fit.series, years, rng)
    chains = fit.posterior.posterior.sizes["chain"]
    return Paths(fit.indicator, fit.geos, years, values, chains, noise)


def quantile_column(p: float) -> str:
    """Column name of a quantile: 0.05 -> ``q05``, 0.025 -> ``q025``, 0.975 -> ``q975``."""
    percent = round(p * 1000) / 10
    return f"q{int(percent):02d}" if percent == int(percent) else f"q{round(p * 1000):03d}"


def quantile_columns() -> list[str]:
    """The columns of :func:`quantile_table` (and ``quantiles.csv``), also when it is empty."""
    return ["indicator", "geo", "year", "mean", *(quantile_column(p) for p in QUANTILES)]


def quantile_table(paths: Paths) -> pd.DataFrame:
    """Yearly forecast quantiles (and mean) per geo, tidy."""
    q = np.quantile(paths.values, QUANTILES, axis=0)  # (quantile, geo, year)
    rows = []
    for gi, geo in enumerate(paths.geos):
        for yi, year in enumerate(paths.years):
            row = {"indicator": paths.indicator, "geo": geo, "year": int(year),
                   "mean": float(paths.values[:, gi, yi].mean())}
            row |= {quantile_column(p): float(q[k, gi, yi]) for k, p in enumerate(QUANTILES)}
            rows.append(row)
    return pd.DataFrame(rows)
