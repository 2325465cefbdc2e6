"""Turn a Dataset's observations of one indicator into model-ready arrays.

This is the one place that decides which observations a fit sees: the year window, the geos
that pool, the merger lineage (a target geo's pre-merger observations continue as its
successor's series), and how each observation enters the likelihood (exact value, upper or
lower bound, annual or part-year).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tnmodel.data import Dataset

#: Shares of exactly 0% or 100% have no logit; they enter as this close to the edge.
LOGIT_CLIP = 0.005
#: Values of one geo, year and period that agree to this many decimals count once.
DUPLICATE_DECIMALS = 2
#: Source types with their own observation error (``sources.csv`` column ``kind``):
#: statistical datasets (ITU / World Bank, GSO tables), repository files (curated research
#: tables) and web pages (news and government articles quoting a figure).
SOURCE_TYPES = ("dataset", "repo_file", "page")


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
    source_type : ndarray of int, optional
        For each observation, its position in :data:`SOURCE_TYPES` (``None``: all datasets).
    breaks : tuple of (year, geo or None)
        Definitional breaks of the indicator (``indicators.yaml``): observations before
        ``year`` (of ``geo``, or of every geo) were measured on an older definition.
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
    source_type: np.ndarray | None = None
    breaks: tuple[tuple[int, str | None], ...] = ()

    def source_types(self) -> np.ndarray:
        """Position of each observation's source type in :data:`SOURCE_TYPES`."""
        if self.source_type is None:
            return np.zeros(self.n_obs, dtype=int)
        return np.asarray(self.source_type, dtype=int)

    def break_matrix(self) -> np.ndarray:
        """(observation, break) 1.0 where an observation predates a break that applies to it.

        Only breaks with observations on both sides (in the geos they apply to) are kept:
        an offset with data on one side only is not estimable and changes nothing.
        """
        columns = []
        original = self.rows["geo"].to_numpy() if "geo" in self.rows else None
        for year, geo in self.breaks:
            if geo is None:
                applies = np.ones(self.n_obs, bool)
            else:
                series_geo = np.array([self.geos[i] for i in self.geo_index])
                applies = series_geo == geo
                if original is not None:
                    applies |= original == geo
            before, after = applies & (self.year < year), applies & (self.year >= year)
            if before.any() and after.any():
                columns.append(before.astype(float))
        if not columns:
            return np.zeros((self.n_obs, 0))
        return np.column_stack(columns)

    @property
    def n_obs(self) -> int:
        return len(self.y)

    def years_observed(self) -> np.ndarray:
        return np.unique(self.year)

    def last_year(self) -> int:
        return int(self.year.max())

    def rows_of(self, geo: str) -> pd.DataFrame:
        """The observations that make up one series geo (after lineage)."""
        return self._rows_by_geo.get(geo, self.rows.iloc[:0])

    @functools.cached_property
    def _rows_by_geo(self) -> dict[str, pd.DataFrame]:
        return {geo: rows for geo, rows in self.rows.groupby("series_geo", sort=False)}

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

    The selection is made once per dataset and arguments (the same object is returned again;
    treat it as read-only).
    """
    return dataset.derived(
        ("select_series", indicator, since, until, tuple(exclude_geos), tuple(follow_lineage_of)),
        lambda: _select_series(dataset, indicator, since, until, tuple(exclude_geos),
                               tuple(follow_lineage_of)))


def _select_series(dataset: Dataset, indicator: str, since: int | None, until: int | None,
                   exclude_geos: tuple[str, ...], follow_lineage_of: tuple[str, ...],
                   ) -> SeriesData:
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
    kinds = dataset.sources["kind"] if "kind" in dataset.sources else pd.Series(dtype=str)
    source_kind = rows["source_id"].map(kinds).fillna("page")
    type_index = {t: i for i, t in enumerate(SOURCE_TYPES)}
    found = dataset.indicators.get(indicator)
    breaks = tuple((b.year, b.geo) for b in found.breaks) if found is not None else ()
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
        source_type=source_kind.map(lambda k: type_index.get(k, len(SOURCE_TYPES) - 1))
        .to_numpy(dtype=int),
        breaks=breaks,
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
