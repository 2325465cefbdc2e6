"""Turn a Dataset's observations of one indicator into model-ready arrays.

This is the one place that decides which observations a fit sees: the year window, the geos
that pool, the merger lineage (a target geo's pre-merger observations continue as its
successor's series), and how each observation enters the likelihood (exact value, upper or
lower bound, annual or part-year).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tnmodel.data import Dataset

#: Shares of exactly 0% or 100% have no logit; they enter as this close to the edge.
LOGIT_CLIP = 0.005
#: Values of one geo, year and period that agree to this many decimals count once.
DUPLICATE_DECIMALS = 2


@dataclass(frozen=True)
class SeriesData:
    """Observations of one indicator, ready for a model.

    Attributes
    ----------
    indicator : str
    geos : tuple of str
        Series ids (geo ids after lineage), in model order.
    geo_index : ndarray of int
        For each observation, its position in ``geos``.
    year : ndarray of int
    y : ndarray of float
        Observation on the logit scale.
    kind : ndarray of str
        ``'exact'``, ``'upper'`` or ``'lower'`` (a bound: censored likelihood).
    part_year : ndarray of bool
        True for part-year snapshots and circa-dated values (extra observation error).
    rows : pandas.DataFrame
        The observations used, with their provenance (``series_geo`` column added).
    renamed : dict
        Geo -> series id for observations that were moved by merger lineage.
    """

    indicator: str
    geos: tuple[str, ...]
    geo_index: np.ndarray
    year: np.ndarray
    y: np.ndarray
    kind: np.ndarray
    part_year: np.ndarray
    rows: pd.DataFrame
    renamed: dict[str, str]

    @property
    def n_obs(self) -> int:
        return len(self.y)

    def years_observed(self) -> np.ndarray:
        return np.unique(self.year)

    def last_year(self) -> int:
        return int(self.year.max())

    def rows_of(self, geo: str) -> pd.DataFrame:
        """The observations that make up one series geo (after lineage)."""
        return self.rows[self.rows["series_geo"] == geo]

    def centre_years(self) -> np.ndarray:
        """Mean observed year of each series geo (where its level is best determined)."""
        return np.array([self.year[self.geo_index == i].mean() for i in range(len(self.geos))])


def logit_share(percent: np.ndarray) -> np.ndarray:
    """Percent (0-100) to the logit scale, clipping exact 0% / 100% just inside."""
    p = np.clip(np.asarray(percent, dtype=float) / 100.0, LOGIT_CLIP, 1 - LOGIT_CLIP)
    return np.log(p) - np.log1p(-p)


def inv_logit_percent(x: np.ndarray) -> np.ndarray:
    """Logit scale back to percent."""
    return 100.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def select_series(
    dataset: Dataset,
    indicator: str,
    *,
    since: int | None = None,
    until: int | None = None,
    exclude_geos: tuple[str, ...] = (),
    follow_lineage_of: tuple[str, ...] = (),
) -> SeriesData:
    """Observations of ``indicator`` as a :class:`SeriesData`.

    Parameters
    ----------
    dataset : Dataset
    indicator : str
        Must be a ``share`` indicator (the logit scale needs bounds 0-100).
    since, until : int, optional
        Keep observations with ``since <= year <= until``.
    exclude_geos : tuple of str
        Geos left out of the pool.
    follow_lineage_of : tuple of str
        Geos whose observations continue as their successor's series (e.g. the pre-merger
        ``thai_nguyen`` continues as ``thai_nguyen_merged``). Other predecessors of the same
        successor keep their own series: they are different places.
    """
    rows = dataset.series(indicator)
    if since is not None:
        rows = rows[rows["year"] >= since]
    if until is not None:
        rows = rows[rows["year"] <= until]
    rows = rows[~rows["geo"].isin(exclude_geos)].copy()
    renamed = {g: dataset.successor(g) for g in follow_lineage_of if dataset.successor(g) != g}
    rows["series_geo"] = rows["geo"].map(lambda g: renamed.get(g, g))
    rows = rows.sort_values(["series_geo", "year", "source_id", "line"])
    # The same number republished by another source (e.g. ITU data via the World Bank and via
    # Our World in Data) is one measurement, not two: keep one row of each repeated value.
    rows = rows.assign(_rounded=rows["value"].round(DUPLICATE_DECIMALS))
    rows = rows.drop_duplicates(["series_geo", "year", "period", "bound", "_rounded"])
    rows = rows.drop(columns="_rounded").reset_index(drop=True)
    geos = tuple(sorted(rows["series_geo"].unique()))
    position = {g: i for i, g in enumerate(geos)}
    kind = np.where(rows["bound"] == "", "exact", rows["bound"].to_numpy())
    return SeriesData(
        indicator=indicator,
        geos=geos,
        geo_index=rows["series_geo"].map(position).to_numpy(dtype=int),
        year=rows["year"].to_numpy(dtype=int),
        y=logit_share(rows["value"].to_numpy(dtype=float)),
        kind=np.asarray(kind, dtype=str),
        part_year=(rows["period"] != "").to_numpy(),
        rows=rows,
        renamed=renamed,
    )


def series_from_arrays(
    indicator: str,
    geos: tuple[str, ...],
    geo_index: np.ndarray,
    year: np.ndarray,
    percent: np.ndarray,
    part_year: np.ndarray | None = None,
) -> SeriesData:
    """A :class:`SeriesData` from plain arrays (simulation studies, back-tests on user CSVs)."""
    geo_index = np.asarray(geo_index, dtype=int)
    year = np.asarray(year, dtype=int)
    percent = np.asarray(percent, dtype=float)
    part = np.zeros(len(year), bool) if part_year is None else np.asarray(part_year, bool)
    rows = pd.DataFrame({
        "geo": [geos[i] for i in geo_index], "series_geo": [geos[i] for i in geo_index],
        "indicator": indicator, "year": year, "value": percent,
        "period": np.where(part, "part-year", ""), "bound": "", "source_id": "", "line": 0,
    })
    return SeriesData(indicator, tuple(geos), geo_index, year, logit_share(percent),
                      np.full(len(year), "exact"), part, rows, {})
