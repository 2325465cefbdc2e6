"""Where a model's misses sit: coverage and PIT by the level a geo had reached at the cut-off.

    python scripts/by_level.py docs/backtests/internet_heldout docs/backtests/internet_heldout2 ...

For every forecast of ``transition_local`` (or ``--model NAME``) at horizons ``--from`` (3)
to 5, the geo's last value at or before the cut-off is looked up in the folder's own data
file (named in its ``manifest.json``, read with the manifest's indicator, ``since`` and
``upper``), and the forecasts are grouped by that level (0-10, 10-30, 30-50, 50-70, 70-90,
90-100%, of the upper value): how many, the shares above and below the 80% interval, the 95%
coverage, the mean PIT (0.5 for a calibrated forecast) and the median error (outcome minus
median). A calibrated forecast has about 0.10 above and 0.10 below in every group.

It then prints, per horizon (all levels), the moments of the PITs' normal scores
``Phi^-1(PIT)``: mean (0 when unbiased), sd and robust sd (1.4826 MAD; both 1 when the
spread is right), and the share beyond +-1.96 (0.05). A robust sd under 1 with an sd over 1
is a forecast too wide in its core and too narrow in its tails.

Then, per horizon, how often the outcome fell below the level at the cut-off, against the
least the forecasts gave that (:func:`falls`): a forecast whose 10% quantile is below the
level gives a fall at least a 10% chance.

With ``--spread`` (fourteenth round; bounded back-tests only) it also prints, per level group
and horizon, how wide the forecasts are and how far the outcomes fell, both on the logit
scale: the median of the forecasts' sd read from their 80% interval (``(logit q90 - logit
q10) / 2.563``), and the robust sd (1.4826 MAD) and sd of the errors ``logit outcome - logit
median``. Calibrated normal forecasts have the three about equal in every group.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from tnmodel.backtest import (
    Z80,
    exit_on_unreadable_output,
    levels_at_cutoff,
    markdown_table,
    pit_normal_scores,
    read_backtest_output,
    read_manifest,
    robust_sd,
)

LEVELS = [0, 10, 30, 50, 70, 90, 100.0001]
BANDS = ["0-10", "10-30", "30-50", "50-70", "70-90", "90-100"]


def level_band(level: pd.Series) -> pd.Series:
    """Each level's group (:data:`BANDS`; the upper end of each left out)."""
    return pd.cut(level, LEVELS, right=False, labels=BANDS)


def by_level(scores: pd.DataFrame) -> pd.DataFrame:
    """The table of the module docstring from ``scores`` (``scores.csv`` rows of one model
    with each forecast's ``level`` at the cut-off, :func:`tnmodel.backtest.levels_at_cutoff`)."""
    joined = scores.copy()
    joined["band"] = level_band(joined["level"])
    joined["error"] = joined["observed"] - joined["median"]
    return joined.groupby("band", observed=True).agg(
        n=("pit", "size"), above80=("above80", "mean"), below80=("below80", "mean"),
        coverage95=("in95", "mean"), mean_pit=("pit", "mean"),
        median_error=("error", "median")).round(3)


def normal_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Per horizon, the moments of the normal scores of ``scores``' PITs (module docstring)."""
    z = pit_normal_scores(scores["pit"])
    frame = pd.DataFrame({"horizon": scores["horizon"].to_numpy(), "z": z})
    return frame.groupby("horizon")["z"].agg(
        n="size", mean="mean", sd="std",
        robust_sd=robust_sd,
        beyond_1_96=lambda x: np.mean(np.abs(x) > 1.96)).round(3)


def falls(scores: pd.DataFrame) -> pd.DataFrame:
    """Per horizon, how often outcomes fell below the level at the cut-off, against the least
    the forecasts said they would (fifteenth round).

    ``fell``: the share of outcomes below the level. ``q10_below`` and ``q025_below``: the
    shares of forecasts whose 10% and 2.5% quantiles are below it; such a forecast gives a
    fall at least 0.10 (0.025) of chance, so calibrated forecasts have ``fell`` at least
    ``implied_at_least`` = 0.10 * ``q10_below`` + 0.025 * (``q025_below`` - ``q10_below``),
    up to sampling noise. Needs each forecast's ``level``."""
    frame = scores.dropna(subset=["level"])
    level = frame["level"].to_numpy()
    below = pd.DataFrame({"horizon": frame["horizon"].to_numpy()} | {
        name: frame[column].to_numpy() < level for name, column in
        (("fell", "observed"), ("q10_below", "q10"), ("q025_below", "q025"))})
    table = below.groupby("horizon").agg(n=("fell", "size"), fell=("fell", "mean"),
                                         q10_below=("q10_below", "mean"),
                                         q025_below=("q025_below", "mean"))
    table["implied_at_least"] = (0.10 * table["q10_below"]
                                 + 0.025 * (table["q025_below"] - table["q10_below"]))
    return table.round(3)


def logit_of_share(values: pd.Series, upper: pd.Series) -> np.ndarray:
    """The logit of ``values / upper``, the share clipped to [1e-4, 1 - 1e-4]."""
    share = np.clip(values.to_numpy(dtype=float) / upper.to_numpy(dtype=float), 1e-4, 1 - 1e-4)
    return np.log(share / (1 - share))


def spread_by_level(scores: pd.DataFrame) -> pd.DataFrame:
    """The ``--spread`` table of the module docstring from ``scores`` (``scores.csv`` rows with
    each forecast's ``level`` at the cut-off and the back-test's ``upper``), indexed by
    ``level band/horizon``."""
    frame = scores.assign(
        band=level_band(scores["level"]),
        forecast_sd=(logit_of_share(scores["q90"], scores["upper"])
                     - logit_of_share(scores["q10"], scores["upper"])) / (2 * Z80),
        error=(logit_of_share(scores["observed"], scores["upper"])
               - logit_of_share(scores["median"], scores["upper"])))
    table = frame.groupby(["band", "horizon"], observed=True).agg(
        n=("error", "size"), forecast_sd=("forecast_sd", "median"),
        error_robust_sd=("error", robust_sd),
        error_sd=("error", "std")).round(3)
    table.index = [f"{band}/h{horizon}" for band, horizon in table.index]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", default="transition_local")
    parser.add_argument("--from", dest="first", type=int, default=3,
                        help="the first horizon counted (default 3)")
    parser.add_argument("--spread", action="store_true",
                        help="also print the forecasts' width and the errors' spread by level")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="where the manifests' data files are found (default: here)")
    args = parser.parse_args()
    frames = []
    for folder in args.folders:
        with exit_on_unreadable_output():
            scores = read_backtest_output(folder, "scores.csv", model=args.model, columns=[
                "cutoff", "geo", "horizon", "pit", "above80", "below80", "in95", "observed",
                "median", "q025", "q10", "q90"])
            manifest = read_manifest(folder)
            levels = levels_at_cutoff(folder, args.root, manifest)
            upper = manifest.get("upper")
        if args.spread and not upper:
            raise SystemExit(f"{folder}: --spread needs a bounded back-test (run with --upper)")
        scores = scores[(scores["model"] == args.model) & (scores["horizon"] >= args.first)]
        if scores.empty:
            raise SystemExit(f"{folder}/scores.csv: no {args.model} rows at horizons "
                             f"{args.first}-5")
        frames.append(scores.merge(levels, on=["cutoff", "geo"], how="left").assign(
            upper=upper or np.nan))
    pooled = pd.concat(frames, ignore_index=True)
    print(markdown_table(f"{args.model}, horizons {args.first}-5, by the level at the cut-off:",
                   by_level(pooled), "level (%)"))
    print()
    print(markdown_table("Normal scores of the PITs, by horizon:", normal_scores(pooled),
                         "horizon"))
    print()
    print(markdown_table("Outcomes below the level at the cut-off, against the least the "
                         "forecasts gave them:", falls(pooled), "horizon"))
    if args.spread:
        print()
        print(markdown_table("Forecast width and error spread (logit scale), by level at the "
                             "cut-off:", spread_by_level(pooled), "level (%)/horizon"))


if __name__ == "__main__":
    main()
