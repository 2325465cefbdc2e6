"""How sure a back-test's CRPS margins are: the CRPS part of issue 3's bar, with intervals.

    python scripts/margin_interval.py docs/backtests/dev/seventeenth/internet_panel_new_r17 \
        [FOLDER ...] [--reps 4000] [--seed 12] [--bar 0.2]

The bar asks that ``transition_local``'s CRPS be at least 20% below CAGR's and ETS-damped's
at every horizon 1-5: a margin ``1 - CRPS(transition_local) / CRPS(baseline)``, each summed
over the forecasts both models made. On a panel of a dozen geos, or one geo at six cut-offs,
that margin depends on which geos or years the panel happened to hold, and a miss (or a pass)
by a few points may say little.

For each folder and baseline this prints the margin per horizon and, from ``--reps``
resamples, its 90% interval and the share of resamples that reach ``--bar``. A resample
draws the panel's geos with replacement, all of a geo's forecasts (every cut-off and
horizon) together, since they share the geo's history; a folder with one geo resamples its
cut-offs instead. The same resamples serve every horizon and baseline, so the last line, the
share of resamples in which every horizon reaches the bar against every baseline, is the
chance of the whole CRPS check.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from tnmodel.backtest import exit_on_unreadable_output, markdown_table, read_backtest_output
from tnmodel.bar import KEY, crps_margins
from tnmodel.bar import margin_intervals as resampled_margins

MODEL = "transition_local"
BASELINES = ("cagr", "ets_damped")


def read_crps(folder: Path) -> pd.DataFrame:
    """``folder``'s CRPS per forecast (model, cut-off, geo, year, horizon, crps)."""
    with exit_on_unreadable_output():
        return read_backtest_output(folder, "scores.csv", columns=[*KEY, "crps"],
                                    model=MODEL)[["model", *KEY, "crps"]]


def margin_intervals(scores: pd.DataFrame, reps: int = 4000, seed: int = 12,
                     bar: float = 0.2) -> dict:
    """The CRPS margins of ``transition_local`` against each baseline in ``scores``, per
    horizon, with resampled 90% intervals (:func:`tnmodel.bar.margin_intervals`).

    Returns
    -------
    dict
        ``table``: one row per horizon (``n`` forecasts both made with the first baseline,
        and per baseline the margin, its 90% interval and the share of resamples reaching
        ``bar``); ``unit``: what was resampled, and how many; ``every``: the share of
        resamples in which every horizon reaches ``bar`` against every baseline present.
    """
    baselines = [b for b in BASELINES if b in set(scores["model"])]
    horizons = tuple(sorted(int(h) for h in scores["horizon"].unique()))
    margins = crps_margins(scores, MODEL, baselines, bar, horizons)
    intervals = resampled_margins(scores, MODEL, baselines, bar, horizons, reps, seed)
    table = pd.DataFrame({"n": margins[f"n_{baselines[0]}"]} if baselines else {},
                         index=margins.index)
    for baseline in baselines:
        table[f"vs {baseline}"] = margins[f"margin_{baseline}"].round(3)
        table[f"{baseline} 90%"] = [
            f"{lo:+.2f} to {hi:+.2f}" for lo, hi in
            zip(intervals.table[f"lo_{baseline}"], intervals.table[f"hi_{baseline}"],
                strict=True)]
        table[f"{baseline} P(>={bar:g})"] = intervals.table[f"p_{baseline}"].round(3)
    return {"table": table, "unit": intervals.unit,
            "every": intervals.every if baselines else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--reps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--bar", type=float, default=0.2)
    args = parser.parse_args()
    for folder in args.folders:
        result = margin_intervals(read_crps(folder), args.reps, args.seed, args.bar)
        print(markdown_table(f"{folder}: CRPS margins of {MODEL} (resampling "
                             f"{result['unit']}, {args.reps} times)", result["table"],
                             "horizon"))
        print(f"every horizon at least {args.bar:g} against every baseline in "
              f"{result['every']:.1%} of resamples\n")


if __name__ == "__main__":
    main()
