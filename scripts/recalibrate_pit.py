"""Would recalibrating a model by its own track record fix its coverage? (twelfth round)

    python scripts/recalibrate_pit.py docs/backtests/internet_heldout \
        docs/backtests/internet_heldout2 ...

Statistical post-processing recalibrates a forecast by the PITs of earlier forecasts: if the
outcomes of the model's past forecasts at horizon h fell at PIT values with distribution R,
the recalibrated forecast's CDF is R(F(y)) and a new outcome's PIT becomes R(PIT). Done
honestly in a back-test, a forecast made at cut-off c may only use past forecasts whose
outcome year is at most c (known at c).

For each folder this recomputes the 80% and 95% coverage of ``transition_local`` with every
PIT replaced by R(PIT), where R is the empirical CDF of the PITs of the *other* folders'
forecasts at the same horizon with outcome year <= the cut-off; with fewer than
``--minimum`` (20) such PITs the forecast is left as it is. It prints the pooled coverage
per horizon before and after, and how many of the folders' ten coverage checks are in band.
(Coverage only: CRPS needs the forecasts' draws, which the folders do not keep.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from tnmodel.backtest import exit_on_unreadable_output, in_band, read_backtest_output

MODEL = "transition_local"


def recalibrated_pit(pit: float, past: np.ndarray) -> float:
    """R(pit) for the empirical CDF R of ``past`` PITs, kept inside (0, 1): ``(number of
    past PITs below pit + 0.5) / (len(past) + 1)``."""
    past = np.sort(np.asarray(past, dtype=float))
    return float((np.searchsorted(past, pit) + 0.5) / (len(past) + 1))


def recalibrate(scores: pd.DataFrame, track: pd.DataFrame, minimum: int = 20) -> pd.Series:
    """Each forecast's PIT recalibrated by the ``track`` PITs at its horizon whose outcome
    year is at most its cut-off (unchanged with fewer than ``minimum`` of them)."""
    out = []
    for row in scores.itertuples():
        past = track.loc[(track["horizon"] == row.horizon) & (track["year"] <= row.cutoff),
                         "pit"].to_numpy()
        out.append(recalibrated_pit(row.pit, past) if len(past) >= minimum else row.pit)
    return pd.Series(out, index=scores.index)


def coverage_checks(scores: pd.DataFrame, pit: str) -> tuple[pd.DataFrame, int]:
    """Coverage per horizon with the PIT column ``pit`` (80%: PIT in (0.1, 0.9); 95%: in
    (0.025, 0.975)), and how many 80%/95% checks sit inside their binomial band."""
    inside = scores.assign(in80=scores[pit].between(0.1, 0.9, inclusive="neither"),
                           in95=scores[pit].between(0.025, 0.975, inclusive="neither"))
    table = inside.groupby("horizon").agg(n=("in80", "size"), coverage80=("in80", "mean"),
                                          coverage95=("in95", "mean"))
    checks = sum(bool(in_band(row["coverage80"], int(row["n"]), 0.8))
                 + bool(in_band(row["coverage95"], int(row["n"]), 0.95))
                 for _, row in table.iterrows())
    return table, int(checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--minimum", type=int, default=20)
    args = parser.parse_args()
    scores = {}
    for folder in args.folders:
        with exit_on_unreadable_output():
            frame = read_backtest_output(folder, "scores.csv", model=MODEL,
                                         columns=["cutoff", "year", "horizon", "pit"])
        scores[folder] = frame[frame["model"] == MODEL].reset_index(drop=True)
    before_total = after_total = 0
    pooled = []
    for folder, frame in scores.items():
        track = pd.concat([f for other, f in scores.items() if other != folder])
        frame = frame.assign(recalibrated=recalibrate(frame, track, args.minimum))
        before_total += coverage_checks(frame, "pit")[1]
        after_total += coverage_checks(frame, "recalibrated")[1]
        pooled.append(frame)
    pooled = pd.concat(pooled, ignore_index=True)
    before, after = coverage_checks(pooled, "pit")[0], coverage_checks(pooled, "recalibrated")[0]
    print("| h | n | 80% before | 80% after | 95% before | 95% after |")
    print("| --- | --- | --- | --- | --- | --- |")
    for h in before.index:
        print(f"| {h} | {int(before.loc[h, 'n'])} | {before.loc[h, 'coverage80']:.3f} | "
              f"{after.loc[h, 'coverage80']:.3f} | {before.loc[h, 'coverage95']:.3f} | "
              f"{after.loc[h, 'coverage95']:.3f} |")
    checks = 10 * len(scores)
    print(f"\nchecks in band, per folder and horizon: {before_total} of {checks} before, "
          f"{after_total} of {checks} after")


if __name__ == "__main__":
    main()
