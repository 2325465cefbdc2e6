"""How often a calibrated forecast would pass the coverage part of issue 3's bar on a panel.

    python scripts/bar_chance.py docs/backtests/internet_heldout8 [FOLDER ...]

The bar asks that the 80% and 95% coverage be inside their binomial bands at each of the five
horizons: ten checks per panel. Each band holds 95% of what a calibrated forecast shows, so
even a calibrated forecast fails some checks, and more often than five independent coin flips
suggest: a geo's forecasts at horizons 1-5 from one cut-off follow one path, so their PITs
move together.

For each folder this simulates a calibrated forecast with the folder's own layout (the same
(cut-off, geo) paths, each with the horizons it was scored at) and PITs uniform at every
horizon, drawn from a Gaussian copula whose correlation across horizons is the one measured
in the folders' ``transition_local`` PITs (pooled over the folders given), and reports the
share of simulated panels in which all ten checks pass: once with independent PITs and once
with the measured correlation. Forecasts of different geos are drawn independently, so
shocks shared by every geo (a pandemic year) are left out, and the chance printed is if
anything too high.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from tnmodel.backtest import exit_on_unreadable_output, in_band, read_backtest_output

MODEL = "transition_local"
HORIZONS = (1, 2, 3, 4, 5)
PATH = ["cutoff", "geo"]


def read_scores(folder: Path) -> pd.DataFrame:
    """``folder``'s ``transition_local`` scores (cut-off, geo, horizon, PIT)."""
    with exit_on_unreadable_output():
        scores = read_backtest_output(folder, "scores.csv", columns=[*PATH, "horizon", "pit"],
                                      model=MODEL)
    return scores[scores["model"] == MODEL][[*PATH, "horizon", "pit"]]


def pit_correlation(scores: pd.DataFrame) -> np.ndarray:
    """Correlation across horizons of the normal scores of the PITs of one path (cut-off,
    geo), from the paths scored at every horizon (a 5 x 5 matrix)."""
    wide = scores.pivot_table(index=PATH + ["panel"], columns="horizon", values="pit").dropna()
    z = norm.ppf(wide[list(HORIZONS)].clip(0.001, 0.999).to_numpy())
    return np.corrcoef(z, rowvar=False)


def pass_chance(layout: pd.DataFrame, correlation: np.ndarray, reps: int = 4000,
                seed: int = 12) -> dict:
    """Share of ``reps`` simulated calibrated panels with ``layout``'s paths (rows: cut-off,
    geo, horizon) whose 80% and 95% coverage is in band at every horizon, and each check's
    own share.

    Returns
    -------
    dict
        ``all`` (every check passed) and ``check`` (a frame per horizon: the shares passing
        the 80% and the 95% check).
    """
    rng = np.random.default_rng(seed)
    paths = layout[PATH].drop_duplicates().reset_index(drop=True)
    cell = layout.merge(paths.reset_index(), on=PATH)  # each forecast's path number
    chol = np.linalg.cholesky(correlation)
    z = rng.standard_normal((reps, len(paths), len(HORIZONS))) @ chol.T
    pit = norm.cdf(z[:, cell["index"].to_numpy(), cell["horizon"].to_numpy() - 1])
    in80, in95 = (pit > 0.1) & (pit < 0.9), (pit > 0.025) & (pit < 0.975)
    rows, every = [], np.ones(reps, dtype=bool)
    for h in HORIZONS:
        at = (cell["horizon"] == h).to_numpy()
        n = int(at.sum())
        ok80 = in_band(in80[:, at].mean(axis=1), n, 0.8)
        ok95 = in_band(in95[:, at].mean(axis=1), n, 0.95)
        every &= ok80 & ok95
        rows.append({"horizon": h, "n": n, "pass80": ok80.mean(), "pass95": ok95.mean()})
    return {"all": float(every.mean()), "check": pd.DataFrame(rows)}


def main() -> None:
    folders = [Path(arg) for arg in sys.argv[1:]]
    if not folders:
        raise SystemExit("usage: bar_chance.py FOLDER [FOLDER ...]")
    scores = pd.concat([read_scores(f).assign(panel=f.name) for f in folders])
    correlation = pit_correlation(scores)
    print("Correlation of a path's PIT normal scores across horizons 1-5 (measured):")
    print(pd.DataFrame(correlation, index=HORIZONS, columns=HORIZONS).round(2).to_string())
    print("\n| folder | paths | independent PITs | measured correlation |")
    print("| --- | --- | --- | --- |")
    for folder in folders:
        layout = scores[scores["panel"] == folder.name]
        alone = pass_chance(layout, np.eye(len(HORIZONS)))["all"]
        together = pass_chance(layout, correlation)["all"]
        print(f"| {folder.name} | {len(layout[PATH].drop_duplicates())} | {alone:.2f} | "
              f"{together:.2f} |")


if __name__ == "__main__":
    main()
