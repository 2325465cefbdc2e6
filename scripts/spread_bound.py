"""How much could a better spread alone gain? An upper bound from committed back-test scores.

    python scripts/spread_bound.py docs/backtests/internet_heldout \
        docs/backtests/internet_heldout2 docs/backtests/internet_heldout3 \
        docs/backtests/internet_heldout4

Each forecast of ``--model`` (default ``transition_local``) is approximated by a normal on
the logit scale with its median and the sd its 80% interval implies; that spread is then
multiplied by ``k`` (1, 0.9, ..., 0.5) with the median kept, and the CRPS and 80% coverage
recomputed against the outcomes. The best ``k`` is chosen *with* the outcomes, so the gain
it shows is more than any honest spread model could get from the same point forecasts: an
upper bound on what fixing the spread can do, not a result. The line ``k = 1`` shows how
close the approximation is to the recorded CRPS.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from tnmodel.backtest import Z80
from tnmodel.models.series import inv_logit_percent

#: Multipliers of the spread tried.
FACTORS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def _logit(percent: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(percent, float) / 100.0, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def rescaled(forecasts: pd.DataFrame, factor: float, n_draws: int = 2000) -> pd.DataFrame:
    """CRPS and 80% hit of each forecast with its logit-scale spread times ``factor``.

    ``forecasts`` has the ``scores.csv`` columns ``median``, ``q10``, ``q90`` and
    ``observed`` (percent).
    """
    median = _logit(forecasts["median"].to_numpy())
    sd = (_logit(forecasts["q90"].to_numpy()) - _logit(forecasts["q10"].to_numpy())) / (2 * Z80)
    observed = forecasts["observed"].to_numpy(float)
    z = np.sort(np.random.default_rng(0).standard_normal(n_draws))  # same draws for all
    draws = inv_logit_percent(median[:, None] + factor * sd[:, None] * z[None, :])
    n = n_draws
    spread_term = (draws * (2 * np.arange(1, n + 1) - n - 1)).sum(axis=1) / n**2
    crps = np.abs(draws - observed[:, None]).mean(axis=1) - spread_term
    hit = np.abs(_logit(observed) - median) <= Z80 * factor * sd
    return pd.DataFrame({"crps": crps, "in80": hit}, index=forecasts.index)


def bound_table(scores: pd.DataFrame, model: str, baseline: str) -> pd.DataFrame:
    """Per horizon and factor: the recorded and rescaled CRPS of ``model``, its 80% coverage,
    and its skill against ``baseline`` (1 - CRPS ratio) on the forecasts both made."""
    key = ["panel", "cutoff", "geo", "year"]
    ours = scores[scores["model"] == model].set_index(key)
    theirs = scores[scores["model"] == baseline].set_index(key)["crps"].rename("baseline")
    both = ours.join(theirs, how="inner")
    rows = []
    for horizon, part in both.groupby("horizon"):
        for factor in FACTORS:
            scored = rescaled(part, factor)
            rows.append({"horizon": horizon, "n": len(part), "factor": factor,
                         "recorded_crps": part["crps"].mean(), "crps": scored["crps"].mean(),
                         "coverage80": scored["in80"].mean(),
                         "skill": 1 - scored["crps"].mean() / part["baseline"].mean()})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", default="transition_local")
    parser.add_argument("--baseline", default="ets_damped")
    args = parser.parse_args()
    scores = pd.concat([pd.read_csv(f / "scores.csv").assign(panel=f.name)
                        for f in args.folders], ignore_index=True)
    for title, part in [("pooled", scores)] + list(scores.groupby("panel")):
        table = bound_table(part, args.model, args.baseline)
        best = table.loc[table.groupby("horizon")["skill"].idxmax()]
        print(f"\n### {title}: {args.model} against {args.baseline}\n")
        print("| h | n | recorded CRPS | k = 1 (approx.) | skill at k = 1 | best k | "
              "skill at best k | 80% coverage at best k |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for (_, one), (_, top) in zip(table[table["factor"] == 1.0].iterrows(),
                                      best.iterrows(), strict=True):
            print(f"| {one['horizon']:.0f} | {one['n']:.0f} | {one['recorded_crps']:.2f} | "
                  f"{one['crps']:.2f} | {one['skill']:.2f} | {top['factor']:.1f} | "
                  f"{top['skill']:.2f} | {top['coverage80']:.2f} |")


if __name__ == "__main__":
    main()
