"""How yearly logit changes behave by level: spread, persistence, takeoffs (thirteenth round).

    python scripts/changes_by_level.py data/heldout/internet_users_heldout.csv \
        data/heldout/internet_users_heldout2.csv ... [--since 2005] [--cutoff 2009 ...]

Reads long CSV files (``geo, year, value``; percent, as ``tnmodel backtest --upper 100``
reads them), keeps the years from ``--since``, and for each geo's consecutive years computes
the logit change. Values of exactly 0% or 100% are left out (their logit is not defined). By
the level the change starts from, it prints:

- ``median_pace``: the median yearly logit change;
- ``spread_2nd``: the robust sd (1.4826 MAD) of the change of the change (a second difference):
  an observation error of sd ``e`` alone gives ``sqrt(6) e`` to it;
- ``lag1_corr``: the correlation of a geo's change (less its median) with its previous one,
  after winsorising both at 5-95%: a persistent excess pace makes it positive, a white
  observation error negative (``-e**2`` of covariance);
- ``error_bound``: ``sqrt(max(0, -covariance))``, the observation error sd that would explain
  a negative covariance by itself (0 when the covariance is positive).

With ``--cutoff`` it also prints, by the level at each cut-off, the median pace over the four
years before it and over the five after it (a takeoff speeds up after its cut-off), and the
least-squares slope of the pace after on the pace before (1: a geo keeps its own pace; 0: its
own past pace says nothing about its next five years beyond its level).

Last, whether a geo's volatility is its own: the correlation, across geos, of the log root
mean square of the second differences (levels 3-90%) in the years up to ``--split`` (2013)
and after it, for geos with at least four in each half. A geo that is erratic in one half and
calm in the other gives 0.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from tnmodel.backtest import markdown_table, read_backtest_csv, robust_sd

LEVELS = [0, 3, 10, 30, 50, 70, 90, 95, 100.0001]
CUTOFF_LEVELS = [0, 1, 2, 5, 10, 30, 50, 70, 90, 100.0001]


def with_logits(data: pd.DataFrame) -> pd.DataFrame:
    """``data``'s rows strictly between 0% and 100%, with their logit ``eta``."""
    rows = data[(data["value"] > 0) & (data["value"] < 100)]
    return rows.assign(eta=np.log(rows["value"] / (100.0 - rows["value"])))


def yearly_changes(data: pd.DataFrame) -> pd.DataFrame:
    """One row per geo and year that follows the geo's previous value by exactly a year:
    ``level`` (percent, the previous value), ``change`` (logit), ``previous`` (the geo's
    change a year earlier, if it exists) and ``demeaned`` / ``previous_demeaned`` (less the
    geo's median change)."""
    frame = with_logits(data).sort_values(["geo", "year"])[["geo", "year", "eta", "value"]]
    frame = frame.reset_index(drop=True)
    by_geo = frame.groupby("geo")
    one_year = by_geo["year"].diff() == 1
    frame["change"] = by_geo["eta"].diff().where(one_year)
    frame["level"] = by_geo["value"].shift()
    frame["previous"] = frame.groupby("geo")["change"].shift()
    frame = frame.dropna(subset=["change"])
    median = frame.groupby("geo")["change"].transform("median")
    frame["demeaned"] = frame["change"] - median
    frame["previous_demeaned"] = frame["previous"] - median
    return frame.reset_index(drop=True)


def _winsorised(values: pd.Series) -> pd.Series:
    return values.clip(values.quantile(0.05), values.quantile(0.95))


def by_level(changes: pd.DataFrame) -> pd.DataFrame:
    """The table of the module docstring from :func:`yearly_changes`' rows."""
    changes = changes.assign(band=pd.cut(changes["level"], LEVELS, right=False))
    rows = {}
    for band, group in changes.groupby("band", observed=True):
        second = (group["change"] - group["previous"]).dropna()
        pairs = group.dropna(subset=["previous_demeaned"])
        now, before = _winsorised(pairs["demeaned"]), _winsorised(pairs["previous_demeaned"])
        covariance = float(np.cov(now, before)[0, 1]) if len(pairs) > 2 else np.nan
        rows[f"{band.left:g}-{min(band.right, 100):g}"] = {
            "n": len(group), "median_pace": group["change"].median(),
            "spread_2nd": robust_sd(second),
            "lag1_corr": covariance / float(now.var()) if len(pairs) > 2 else np.nan,
            "error_bound": np.sqrt(max(0.0, -covariance)) if len(pairs) > 2 else np.nan}
    return pd.DataFrame.from_dict(rows, orient="index").round(3)


def around_cutoffs(data: pd.DataFrame, cutoffs: list[int]) -> pd.DataFrame:
    """By the level at each cut-off: how many (cut-off, geo)s, and the median yearly logit
    pace over the four years before the cut-off and over the five after it (geos with a
    value in each of those three years)."""
    eta = with_logits(data).pivot_table(index="geo", columns="year", values="eta")
    frames = []
    for cutoff in cutoffs:
        if not {cutoff - 4, cutoff, cutoff + 5} <= set(eta.columns):
            continue
        frames.append(pd.DataFrame({
            "level": 100.0 / (1.0 + np.exp(-eta[cutoff])),
            "before": (eta[cutoff] - eta[cutoff - 4]) / 4,
            "after": (eta[cutoff + 5] - eta[cutoff]) / 5}).dropna())
    if not frames:
        return pd.DataFrame()
    paces = pd.concat(frames, ignore_index=True)
    paces["band"] = pd.cut(paces["level"], CUTOFF_LEVELS, right=False)
    table = paces.groupby("band", observed=True).agg(
        n=("level", "size"), pace_before=("before", "median"), pace_after=("after", "median"))
    table["slope"] = paces.groupby("band", observed=True)[["before", "after"]].apply(
        lambda g: np.polyfit(g["before"], g["after"], 1)[0] if len(g) > 2 else np.nan)
    table.index = [f"{b.left:g}-{min(b.right, 100):g}" for b in table.index]
    return table.round(3)


def volatility_persistence(changes: pd.DataFrame, split: int = 2013) -> tuple[float, int]:
    """The correlation across geos of the log root mean square of second differences (levels
    3-90%) up to ``split`` and after it, and how many geos have four or more in each half."""
    rows = changes[(changes["level"] >= 3) & (changes["level"] < 90)]
    rows = rows.assign(second=rows["change"] - rows["previous"],
                       half=np.where(rows["year"] <= split, "before", "after")).dropna(
        subset=["second"])
    rms = rows.groupby(["geo", "half"])["second"].agg(
        lambda x: np.sqrt(np.mean(x**2)) if len(x) >= 4 else np.nan).unstack()
    rms = rms.reindex(columns=["before", "after"]).dropna()
    rms = rms[(rms > 0).all(axis=1)]
    if len(rms) < 3:
        return np.nan, len(rms)
    return float(np.corrcoef(np.log(rms["before"]), np.log(rms["after"]))[0, 1]), len(rms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--indicator", default=None)
    parser.add_argument("--since", type=int, default=None)
    parser.add_argument("--cutoff", type=int, action="append", default=[])
    parser.add_argument("--split", type=int, default=2013)
    args = parser.parse_args()
    frames = []
    for path in args.files:
        if not path.is_file():
            raise SystemExit(f"{path}: no such file; give long CSV files with geo, year, value")
        frames.append(read_backtest_csv(path, indicator=args.indicator, since=args.since,
                                        upper=100.0).assign(geo=lambda d, p=path: p.stem + "/"
                                                            + d["geo"]))
    data = pd.concat(frames, ignore_index=True)
    changes = yearly_changes(data)
    print(markdown_table("Yearly logit changes by the level they start from:",
                         by_level(changes), "level (%)"))
    if args.cutoff:
        print()
        print(markdown_table("Median logit pace before and after each cut-off, by the level "
                             "at it:", around_cutoffs(data, args.cutoff), "level (%)"))
    corr, geos = volatility_persistence(changes, args.split)
    print(f"\nA geo's volatility up to {args.split} and after it (log RMS of second "
          f"differences, levels 3-90%): correlation {corr:.2f} over {geos} geos")


if __name__ == "__main__":
    main()
