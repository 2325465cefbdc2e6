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
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from tnmodel.backtest import (
    BacktestOutputError,
    levels_at_cutoff,
    markdown_table,
    read_backtest_output,
)

LEVELS = [0, 10, 30, 50, 70, 90, 100.0001]


def by_level(scores: pd.DataFrame) -> pd.DataFrame:
    """The table of the module docstring from ``scores`` (``scores.csv`` rows of one model
    with each forecast's ``level`` at the cut-off, :func:`tnmodel.backtest.levels_at_cutoff`)."""
    joined = scores.copy()
    joined["band"] = pd.cut(joined["level"], LEVELS, right=False,
                            labels=["0-10", "10-30", "30-50", "50-70", "70-90", "90-100"])
    joined["error"] = joined["observed"] - joined["median"]
    return joined.groupby("band", observed=True).agg(
        n=("pit", "size"), above80=("above80", "mean"), below80=("below80", "mean"),
        coverage95=("in95", "mean"), mean_pit=("pit", "mean"),
        median_error=("error", "median")).round(3)


def normal_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """Per horizon, the moments of the normal scores of ``scores``' PITs (module docstring)."""
    z = stats.norm.ppf(scores["pit"].clip(1e-4, 1 - 1e-4))
    frame = pd.DataFrame({"horizon": scores["horizon"].to_numpy(), "z": z})
    return frame.groupby("horizon")["z"].agg(
        n="size", mean="mean", sd="std",
        robust_sd=lambda x: 1.4826 * np.median(np.abs(x - np.median(x))),
        beyond_1_96=lambda x: np.mean(np.abs(x) > 1.96)).round(3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", default="transition_local")
    parser.add_argument("--from", dest="first", type=int, default=3,
                        help="the first horizon counted (default 3)")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="where the manifests' data files are found (default: here)")
    args = parser.parse_args()
    frames = []
    for folder in args.folders:
        try:
            scores = read_backtest_output(folder, "scores.csv", model=args.model, columns=[
                "cutoff", "geo", "horizon", "pit", "above80", "below80", "in95"])
            levels = levels_at_cutoff(folder, args.root)
        except BacktestOutputError as exc:
            raise SystemExit(str(exc)) from None
        scores = scores[(scores["model"] == args.model) & (scores["horizon"] >= args.first)]
        if scores.empty:
            raise SystemExit(f"{folder}/scores.csv: no {args.model} rows at horizons "
                             f"{args.first}-5")
        frames.append(scores.merge(levels, on=["cutoff", "geo"], how="left"))
    pooled = pd.concat(frames, ignore_index=True)
    print(markdown_table(f"{args.model}, horizons {args.first}-5, by the level at the cut-off:",
                   by_level(pooled), "level (%)"))
    print()
    print(markdown_table("Normal scores of the PITs, by horizon:", normal_scores(pooled),
                         "horizon"))


if __name__ == "__main__":
    main()
