"""Compare ``transition_local`` variants by the decision rule of the pre-registered rounds.

    python scripts/compare_variants.py docs/backtests/internet_heldout8 \
        docs/backtests/internet_heldout8_sdwalk

The first folder is the baseline (its ``transition_local`` is the current default); each
further folder is a variant run on the same data and cut-offs. Folders joined by commas
(``docs/backtests/internet_heldout9,docs/backtests/internet_heldout10``) are pooled into one
run: their forecasts and fits are put together and the coverage per horizon (with its
binomial band) is recomputed on the pooled forecasts (the twelfth round's rule judges two
panels together). For each: fits that passed
their gates, CRPS per horizon and summed over horizons 1-5 on the forecasts both made, how
many horizons have their 80% and 95% coverage inside the binomial band, and the CRPS margin
against ETS-damped per horizon (the bar: at least 0.20). Then the rule of rounds six, seven
and eleven: a variant is adopted if its fits pass at least as often, its summed CRPS is
lower and its 80% and 95% coverage are each in band at no fewer horizons.

Reported beside the rule, not part of it (twelfth round): how sure the summed CRPS
difference is. The geos are resampled with replacement (all of a geo's forecasts, at every
cut-off and horizon, go together, since they share the geo's history) and the difference is
recomputed: its 90% interval and the share of resamples in which the variant is lower. An
interval across 0 says the rule's CRPS check was decided by which geos the panel happened to
hold (with one geo there is nothing to resample, and the interval is the difference itself).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tnmodel.backtest import exit_on_unreadable_output, read_backtest_output

MODEL = "transition_local"
KEY = ["cutoff", "geo", "year"]
#: Files a back-test folder must hold, and the columns read from each.
NEEDED = {"scores.csv": {"model", "cutoff", "geo", "year", "horizon", "crps"},
          "metrics.csv": {"model", "horizon", "in_band80", "in_band95"},
          "fits.csv": {"model", "role", "status"}}


def read_folder(folder: Path) -> dict[str, pd.DataFrame]:
    """``folder``'s scores, metrics and fits (by file name), or SystemExit naming what is
    missing if it is not a back-test folder this script can read (written by ``tnmodel
    backtest`` since the fifth round)."""
    with exit_on_unreadable_output():
        return {name: read_backtest_output(folder, name, columns=columns,
                                           model=None if name == "fits.csv" else MODEL)
                for name, columns in NEEDED.items()}


@dataclass(frozen=True)
class Run:
    """One back-test, or several pooled: its name, its scores (every model's) and
    ``transition_local``'s metrics and forecast fits."""

    name: str
    scores: pd.DataFrame
    metrics: pd.DataFrame
    fits: pd.DataFrame


def read_run(spec: str) -> Run:
    """The run of a folder, or of comma-joined folders pooled (metrics recomputed with
    :func:`tnmodel.backtest.summarise` on the pooled forecasts)."""
    folders = [Path(part) for part in spec.split(",") if part]
    frames = [read_folder(folder) for folder in folders]
    scores = pd.concat([f["scores.csv"] for f in frames], ignore_index=True)
    fits = pd.concat([f["fits.csv"] for f in frames], ignore_index=True)
    if len(folders) == 1:
        metrics = frames[0]["metrics.csv"]
    else:
        from tnmodel.backtest import summarise

        doubled = scores.duplicated(["model", *KEY])
        if doubled.any():
            raise SystemExit(f"{spec}: the folders share forecasts (the same model, cut-off, "
                             "geo and year); pool folders of different geos only")
        metrics = summarise(scores)
    return Run("+".join(f.name for f in folders), scores,
               metrics[metrics["model"] == MODEL].sort_values("horizon"),
               fits[(fits["model"] == MODEL) & (fits["role"] == "forecast")])


def summary(run: Run, common: pd.Index) -> dict:
    """The rule's quantities for ``run``'s transition_local (CRPS on ``common`` forecasts)."""
    scores, metrics, fits = run.scores, run.metrics, run.fits
    ours = scores[scores["model"] == MODEL].set_index(KEY)
    shared = ours.loc[ours.index.intersection(common)]
    crps = shared.groupby("horizon")["crps"].mean()
    ets = scores[scores["model"] == "ets_damped"].set_index(KEY)["crps"].rename("ets")
    paired = ours.join(ets, how="inner").groupby("horizon")[["crps", "ets"]].mean()

    return {"folder": run.name, "fits": f"{int((fits['status'] == 'ok').sum())} of {len(fits)}",
            "passed": int((fits["status"] == "ok").sum()),
            "crps": crps.round(2).tolist(), "summed": round(float(crps.sum()), 2),
            "in80": int(metrics["in_band80"].sum()), "in95": int(metrics["in_band95"].sum()),
            "vs_ets": (1 - paired["crps"] / paired["ets"]).round(2).tolist()}


def crps_difference(base: Run, variant: Run, common: pd.Index, reps: int = 2000,
                    seed: int = 12) -> dict:
    """The summed CRPS difference (variant minus base, on the ``common`` forecasts) and how
    sure it is, by resampling geos (all of a geo's forecasts together).

    Returns
    -------
    dict
        ``difference`` (summed over horizons of the per-horizon mean difference), ``low`` and
        ``high`` (5% and 95% quantiles over ``reps`` resamples) and ``share_lower`` (the share
        of resamples in which the variant's summed CRPS is lower).
    """
    ours = [run.scores.query("model == @MODEL").set_index(KEY) for run in (base, variant)]
    paired = ours[0].loc[common, ["horizon"]].reset_index()
    paired["diff"] = (ours[1].loc[common, "crps"] - ours[0].loc[common, "crps"]).to_numpy()
    # Per geo and horizon: the sum of differences and the count, so a resample's per-horizon
    # mean is a ratio of sums over the geos drawn.
    cells = paired.pivot_table(index="geo", columns="horizon", values="diff",
                               aggfunc=["sum", "count"], fill_value=0.0)
    sums, counts = cells["sum"].to_numpy(), cells["count"].to_numpy()

    def summed(weights: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            per_horizon = (weights @ sums) / (weights @ counts)
        return np.nansum(per_horizon, axis=-1)

    rng = np.random.default_rng(seed)
    n = sums.shape[0]
    weights = np.stack([np.bincount(rng.integers(n, size=n), minlength=n)
                        for _ in range(reps)]).astype(float)
    resampled = summed(weights)
    return {"difference": float(summed(np.ones(n))), "low": float(np.quantile(resampled, 0.05)),
            "high": float(np.quantile(resampled, 0.95)),
            "share_lower": float((resampled < 0).mean())}


def rule_checks(base: dict, row: dict) -> dict[str, bool]:
    """The pre-registered rule's four checks of a variant (``row``) against ``base``."""
    return {"fits pass at least as often": row["passed"] >= base["passed"],
            "summed CRPS lower": row["summed"] < base["summed"],
            "80% in band at no fewer horizons": row["in80"] >= base["in80"],
            "95% in band at no fewer horizons": row["in95"] >= base["in95"]}


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: compare_variants.py BASELINE VARIANT [VARIANT ...] (a run is "
                         "a folder, or folders joined by commas to pool them)")
    runs = [read_run(arg) for arg in sys.argv[1:]]
    indices = [run.scores.query("model == @MODEL").set_index(KEY).index for run in runs]
    common = indices[0]
    for index in indices[1:]:
        common = common.intersection(index)
    rows = [summary(run, common) for run in runs]
    print("| folder | fits | CRPS h1-h5 (common forecasts) | summed | 80% in band | "
          "95% in band | vs ETS-damped h1-h5 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['folder']} | {row['fits']} | {', '.join(map(str, row['crps']))} | "
              f"{row['summed']} | {row['in80']} of 5 | {row['in95']} of 5 | "
              f"{', '.join(map(str, row['vs_ets']))} |")
    base = rows[0]
    for run, row in zip(runs[1:], rows[1:], strict=True):
        checks = rule_checks(base, row)
        verdict = "adopted" if all(checks.values()) else "not adopted"
        print(f"\n{row['folder']} against {base['folder']}: {verdict} ("
              + "; ".join(f"{name}: {'yes' if ok else 'no'}" for name, ok in checks.items())
              + ")")
        sure = crps_difference(runs[0], run, common)
        print(f"  summed CRPS difference {sure['difference']:+.2f} (90% interval over geo "
              f"resamples {sure['low']:+.2f} to {sure['high']:+.2f}; the variant lower in "
              f"{sure['share_lower']:.0%} of resamples)")


if __name__ == "__main__":
    main()
