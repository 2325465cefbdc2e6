"""Forecast paths from a fit: one value per posterior draw, series geo and year.

Pure numpy on the fit's draws (no PyMC here), so scenarios can later be applied as cheap
array operations on the same paths without refitting.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tnmodel.memo import DrawsMemo
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
    years = np.array(years, dtype=int)  # a copy: it is made read-only below
    rng = stream_seed(seed, f"forecast:{fit.indicator}")
    values, noise = FAMILIES[fit.spec.family].forecast(fit.draws, fit.series, years, rng)
    chains = fit.chains
    for array in (years, values, noise):  # paths are shared (see remembered_paths): read-only
        if array is not None:
            array.flags.writeable = False
    return Paths(fit.indicator, fit.geos, years, values, chains, noise)


#: Business-as-usual paths made in this process, by (fit key, years, seed), with the draws
#: they were made from.
MAX_REMEMBERED_PATHS = 64
_PATHS: DrawsMemo[Paths] = DrawsMemo(MAX_REMEMBERED_PATHS)


def remembered_paths(fit: Fit, key: str | None, years: np.ndarray, seed: int) -> Paths:
    """:func:`forecast_paths`, remembered in this process by the fit's cache ``key``.

    The paths depend only on the fit, the years and the seed; interventions transform copies.
    So scenarios that share fits (e.g. differ only in interventions) forecast once. A
    remembered forecast is used only for the very draws it was made from (the fit cache hands
    every scenario the same draws), so a fit made anew under the same key is forecast anew.
    Without a key (a fit passed in by hand) the paths are made afresh.
    """
    if key is None:
        return forecast_paths(fit, years, seed)
    return _PATHS.get((key, tuple(int(y) for y in years), int(seed)), fit.draws,
                      lambda: forecast_paths(fit, years, seed))


def quantile_column(p: float) -> str:
    """Column name of a quantile: 0.05 -> ``q05``, 0.025 -> ``q025``, 0.975 -> ``q975``."""
    percent = round(p * 1000) / 10
    return f"q{int(percent):02d}" if percent == int(percent) else f"q{round(p * 1000):03d}"


def quantile_columns() -> list[str]:
    """The columns of :func:`quantile_table` (and ``quantiles.csv``), also when it is empty."""
    return ["indicator", "geo", "year", "mean", *(quantile_column(p) for p in QUANTILES)]


#: Quantile tables of the paths kept in :data:`_PATHS` (by identity; the paths are kept
#: with their table, so an identity is not reused while remembered).
_TABLES: dict[int, tuple[Paths, pd.DataFrame]] = {}


def quantile_table(paths: Paths, like: Paths | None = None) -> pd.DataFrame:
    """Yearly forecast quantiles (and mean) per geo, tidy: one row per geo and year.

    ``like``: the business-as-usual paths these were made from (by interventions). Geos whose
    draws are unchanged take their rows from ``like``'s table (computed once) instead of being
    summarised again; an intervention usually changes one geo of a dozen.
    """
    if like is not None and like is not paths and np.array_equal(like.years, paths.years):
        return _quantiles_reusing(paths, like)
    found = _TABLES.get(id(paths))
    if found is not None and found[0] is paths:
        return found[1].copy()
    table = _quantile_table(paths)
    if any(p is paths for p in _PATHS.results()):  # shared business-as-usual paths
        if len(_TABLES) > MAX_REMEMBERED_PATHS:
            _TABLES.clear()
        _TABLES[id(paths)] = (paths, table)
    return table.copy()


def _quantiles_reusing(paths: Paths, like: Paths) -> pd.DataFrame:
    unchanged = {g for i, g in enumerate(paths.geos) if g in like.geos
                 and np.array_equal(paths.values[:, i], like.values[:, like.geos.index(g)])}
    if not unchanged:
        return _quantile_table(paths)
    base = quantile_table(like)
    changed = [i for i, g in enumerate(paths.geos) if g not in unchanged]
    fresh = _quantile_table(Paths(paths.indicator, tuple(paths.geos[i] for i in changed),
                                  paths.years, paths.values[:, changed], paths.chains))
    parts = {g: rows for g, rows in pd.concat([base[base["geo"].isin(unchanged)], fresh])
             .groupby("geo", sort=False)}
    return pd.concat([parts[g] for g in paths.geos], ignore_index=True)


def _quantile_table(paths: Paths) -> pd.DataFrame:
    q = np.quantile(paths.values, QUANTILES, axis=0)  # (quantile, geo, year)
    n_geos, n_years = len(paths.geos), len(paths.years)
    columns = {"indicator": [paths.indicator] * (n_geos * n_years),
               "geo": np.repeat(np.asarray(paths.geos, dtype=object), n_years),
               "year": np.tile(np.asarray(paths.years, dtype=int), n_geos),
               "mean": paths.values.mean(axis=0).ravel()}
    columns |= {quantile_column(p): q[k].ravel() for k, p in enumerate(QUANTILES)}
    return pd.DataFrame(columns)
