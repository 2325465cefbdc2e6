"""Do the large year-to-year surprises of a panel persist or revert?

    python scripts/reversion.py data/heldout/internet_users_heldout.csv \
        data/heldout/internet_users_heldout2.csv data/heldout/internet_users_heldout3.csv \
        data/heldout/internet_users_heldout4.csv

On the logit scale (annual values from ``--since``, shares clipped to 0.5-99.5% as the
models do), the change of the yearly change, ``d2[t] = eta[t] - 2 eta[t-1] + eta[t-2]``
(consecutive years only), is a year's surprise to a trend that keeps its pace. If surprises
are lasting changes of pace, consecutive ``d2`` are uncorrelated; a one-off step in the
level gives a correlation of -0.5; a value off by a blip that the next values do not follow
(observation noise) gives -0.67. Printed: the correlation over all ``d2`` and over the large
ones (``|d2| > --large``), how often a large one is followed by one of the other sign, and
the sd of ``d2`` with its robust counterpart (1.4826 x median absolute value; equal for
normal surprises).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def second_differences(frame: pd.DataFrame) -> pd.DataFrame:
    """``d2`` and the next year's ``d2`` per geo and year (consecutive years only)."""
    from tnmodel.models.series import logit_share

    rows = []
    for geo, part in frame.groupby("geo"):
        percent = part.groupby("year")["value"].mean()
        eta = pd.Series(logit_share(percent.to_numpy()), index=percent.index)
        eta = eta.reindex(range(int(eta.index.min()), int(eta.index.max()) + 1))
        d2 = eta.diff().diff()
        rows.append(pd.DataFrame({"geo": geo, "year": d2.index, "d2": d2.to_numpy(),
                                  "next": d2.shift(-1).to_numpy()}))
    return pd.concat(rows, ignore_index=True).dropna(subset=["d2"])


def reversion_summary(d2: pd.DataFrame, large: float) -> dict[str, float]:
    """The statistics printed by :func:`main` (see module docstring)."""
    pairs = d2.dropna(subset=["next"])
    big = pairs[pairs["d2"].abs() > large]

    def corr(part: pd.DataFrame) -> float:
        return float(np.corrcoef(part["d2"], part["next"])[0, 1]) if len(part) > 2 else np.nan

    return {"n": len(d2), "n_pairs": len(pairs), "n_large": len(big),
            "corr_all": corr(pairs), "corr_large": corr(big),
            "large_reverts": (float(np.mean(np.sign(big["d2"]) != np.sign(big["next"])))
                              if len(big) else np.nan),
            "sd": float(d2["d2"].std()),
            "robust_sd": float(1.4826 * d2["d2"].abs().median())}


def main() -> None:
    from tnmodel.backtest import read_backtest_files

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--indicator", default="internet_users_share")
    parser.add_argument("--since", type=int, default=2000)
    parser.add_argument("--large", type=float, default=0.3, help="logits")
    args = parser.parse_args()
    frame = read_backtest_files(args.files, indicator=args.indicator)
    frame = frame[frame["year"] >= args.since]
    summary = reversion_summary(second_differences(frame), args.large)
    for name, value in summary.items():
        print(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")


if __name__ == "__main__":
    main()
