"""What fixing one group of forecasts could give the coverage bar, and whether misses share years.

    python scripts/miss_ceiling.py docs/backtests/internet_heldout_r12 \
        docs/backtests/internet_heldout2_r12 ... [--low 2] [--high 90]

For the pooled forecasts of ``transition_local`` (or ``--model NAME``) at horizons 1-5 in the
folders given, with each geo's level at the cut-off looked up in the folder's own data file
(:func:`tnmodel.backtest.levels_at_cutoff`), this prints three tables (fourteenth round):

1. **By cut-off and horizon**: how many forecasts, the 80% and 95% coverage, the share above
   the 80% interval and the mean normal score of the PITs (0 when unbiased). Misses that
   come from one era (a pandemic, a technology reaching every country) sit in one cut-off.
2. **Ceilings**: the pooled 80% and 95% coverage per horizon, each marked ``in`` or ``out``
   of its binomial band, as the forecasts are, and as they would be if the forecasts of
   geos under ``--low`` percent at the cut-off, over ``--high`` percent, or both, were
   calibrated (their coverage set to 0.80 and 0.95; everything else unchanged). No change
   aimed at one group alone can do better than its ceiling.
3. **Shared years**: the intra-class correlation of the PITs' normal scores among the
   forecasts of one cut-off and horizon (every geo of every folder: they share the outcome
   year), the design effect ``1 + (m - 1) ICC`` for the mean cluster size ``m``, and the 95%
   coverage band for the pooled ``n`` of one horizon with and without it. The bar's binomial
   band takes the forecasts as independent; a large design effect would say that shocks
   common to a year make it too narrow.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from tnmodel.backtest import (
    binomial_band,
    exit_on_unreadable_output,
    in_band,
    levels_at_cutoff,
    markdown_table,
    pit_normal_scores,
    read_backtest_output,
)

COLUMNS = ["cutoff", "geo", "horizon", "pit", "in80", "in95", "above80"]
CLUSTER = ["cutoff", "horizon"]


def by_cutoff(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 1 of the module docstring, indexed by ``cutoff/horizon``."""
    table = scores.assign(z=pit_normal_scores(scores["pit"])).groupby(CLUSTER).agg(
        n=("pit", "size"), coverage80=("in80", "mean"), coverage95=("in95", "mean"),
        above80=("above80", "mean"), mean_z=("z", "mean")).round(3)
    table.index = [f"{cutoff}/h{horizon}" for cutoff, horizon in table.index]
    return table


def ceilings(scores: pd.DataFrame, groups: dict[str, np.ndarray]) -> pd.DataFrame:
    """Table 2 of the module docstring: per group (``"as is"`` first) and horizon, the
    pooled coverage with the group's forecasts set to nominal coverage.

    Parameters
    ----------
    scores
        Rows with ``horizon``, ``in80`` and ``in95``.
    groups
        Name -> boolean mask over ``scores``' rows (the forecasts taken as calibrated).
    """
    rows = []
    for name, mask in {"as is": np.zeros(len(scores), dtype=bool), **groups}.items():
        covered = pd.DataFrame({
            "horizon": scores["horizon"].to_numpy(),
            "in80": np.where(mask, 0.80, scores["in80"].to_numpy(dtype=float)),
            "in95": np.where(mask, 0.95, scores["in95"].to_numpy(dtype=float))})
        for horizon, frame in covered.groupby("horizon"):
            n = len(frame)
            c80, c95 = frame["in80"].mean(), frame["in95"].mean()
            rows.append({"group": name, "horizon": horizon, "n": n, "calibrated": int(
                mask[scores["horizon"].to_numpy() == horizon].sum()),
                "coverage80": round(c80, 3),
                "band80": "in" if in_band(c80, n, 0.80) else "out",
                "coverage95": round(c95, 3),
                "band95": "in" if in_band(c95, n, 0.95) else "out"})
    return pd.DataFrame(rows)


def intraclass_correlation(values: np.ndarray, clusters: pd.DataFrame) -> tuple[float, float]:
    """The one-way ANOVA estimate of the intra-class correlation of ``values`` within the
    groups of ``clusters``' rows, and the mean cluster size ``m0`` it uses (clusters of
    unequal size: ``(N - sum(n_i^2) / N) / (k - 1)``)."""
    frame = clusters.assign(value=np.asarray(values, dtype=float))
    grouped = frame.groupby(list(clusters.columns))["value"]
    sizes, means = grouped.size().to_numpy(), grouped.mean().to_numpy()
    k, total = len(sizes), len(frame)
    if k < 2 or total <= k:
        raise ValueError("need at least two clusters and more values than clusters")
    between = np.sum(sizes * (means - frame["value"].mean()) ** 2) / (k - 1)
    within = np.sum(grouped.var(ddof=1).fillna(0.0).to_numpy() * (sizes - 1)) / (total - k)
    m0 = (total - np.sum(sizes**2) / total) / (k - 1)
    return float((between - within) / (between + (m0 - 1) * within)), float(m0)


def shared_years(scores: pd.DataFrame) -> pd.DataFrame:
    """Table 3 of the module docstring, per horizon: the pooled ``n``, the 95% band for
    ``n`` and for ``n / design effect`` (the ICC is estimated once, over every horizon)."""
    icc, m0 = intraclass_correlation(pit_normal_scores(scores["pit"]), scores[CLUSTER])
    effect = max(1.0, 1.0 + (m0 - 1.0) * icc)
    rows = []
    for horizon, frame in scores.groupby("horizon"):
        n = len(frame)
        low, high = binomial_band(n, 0.95)
        n_eff = max(1, int(round(n / effect)))
        low_eff, high_eff = binomial_band(n_eff, 0.95)
        rows.append({"horizon": horizon, "n": n, "icc": round(icc, 4),
                     "mean_cluster": round(m0, 1), "design_effect": round(effect, 2),
                     "coverage95": round(frame["in95"].mean(), 3),
                     "band95_low": round(low, 3), "band95_high": round(high, 3),
                     "widened_low": round(low_eff, 3), "widened_high": round(high_eff, 3)})
    return pd.DataFrame(rows).set_index("horizon")


def read_folder(folder: Path, model: str, root: Path) -> pd.DataFrame:
    """``folder``'s scores of ``model`` with each forecast's level at its cut-off."""
    with exit_on_unreadable_output():
        scores = read_backtest_output(folder, "scores.csv", model=model, columns=COLUMNS)
        levels = levels_at_cutoff(folder, root)
    scores = scores[scores["model"] == model]
    return scores.merge(levels, on=["cutoff", "geo"], how="left").assign(folder=folder.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--model", default="transition_local")
    parser.add_argument("--low", type=float, default=2.0,
                        help="geos under this level (%%) at the cut-off form the low group")
    parser.add_argument("--high", type=float, default=90.0,
                        help="geos over this level (%%) at the cut-off form the high group")
    parser.add_argument("--root", type=Path, default=Path("."),
                        help="where the manifests' data files are found (default: here)")
    args = parser.parse_args()
    scores = pd.concat([read_folder(folder, args.model, args.root) for folder in args.folders],
                       ignore_index=True)
    level = scores["level"].to_numpy()
    low, high = level < args.low, level > args.high
    print(markdown_table(f"{args.model}, by cut-off and horizon:", by_cutoff(scores),
                         "cut-off/horizon"))
    print()
    table = ceilings(scores, {f"under {args.low:g}% calibrated": low,
                              f"over {args.high:g}% calibrated": high,
                              "both calibrated": low | high})
    table.index = [f"{g}, h{h}" for g, h in zip(table.pop("group"), table.pop("horizon"),
                                                 strict=True)]
    print(markdown_table("Ceilings (pooled coverage if a group's forecasts were calibrated):",
                         table, "group, horizon"))
    print()
    print(markdown_table("Shared years (normal scores within one cut-off and horizon):",
                         shared_years(scores), "horizon"))


if __name__ == "__main__":
    main()
