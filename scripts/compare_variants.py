"""Compare ``transition_local`` variants by the decision rule of the pre-registered rounds.

    python scripts/compare_variants.py docs/backtests/internet_heldout8 \
        docs/backtests/internet_heldout8_sdwalk

The first folder is the baseline (its ``transition_local`` is the current default); each
further folder is a variant run on the same data and cut-offs. For each: fits that passed
their gates, CRPS per horizon and summed over horizons 1-5 on the forecasts both made, how
many horizons have their 80% and 95% coverage inside the binomial band, and the CRPS margin
against ETS-damped per horizon (the bar: at least 0.20). Then the rule of rounds six, seven
and eleven: a variant is adopted if its fits pass at least as often, its summed CRPS is
lower and its 80% and 95% coverage are each in band at no fewer horizons.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

MODEL = "transition_local"
KEY = ["cutoff", "geo", "year"]


def summary(folder: Path, common: pd.Index) -> dict:
    """The rule's quantities for ``folder``'s transition_local (CRPS on ``common`` forecasts)."""
    metrics = pd.read_csv(folder / "metrics.csv")
    metrics = metrics[metrics["model"] == MODEL].sort_values("horizon")
    scores = pd.read_csv(folder / "scores.csv")
    fits = pd.read_csv(folder / "fits.csv")
    fits = fits[(fits["model"] == MODEL) & (fits["role"] == "forecast")]
    ours = scores[scores["model"] == MODEL].set_index(KEY)
    shared = ours.loc[ours.index.intersection(common)]
    crps = shared.groupby("horizon")["crps"].mean()
    ets = scores[scores["model"] == "ets_damped"].set_index(KEY)["crps"].rename("ets")
    paired = ours.join(ets, how="inner").groupby("horizon")[["crps", "ets"]].mean()

    return {"folder": folder.name, "fits": f"{int((fits['status'] == 'ok').sum())} of {len(fits)}",
            "passed": int((fits["status"] == "ok").sum()),
            "crps": crps.round(2).tolist(), "summed": round(float(crps.sum()), 2),
            "in80": int(metrics["in_band80"].sum()), "in95": int(metrics["in_band95"].sum()),
            "vs_ets": (1 - paired["crps"] / paired["ets"]).round(2).tolist()}


def rule_checks(base: dict, row: dict) -> dict[str, bool]:
    """The pre-registered rule's four checks of a variant (``row``) against ``base``."""
    return {"fits pass at least as often": row["passed"] >= base["passed"],
            "summed CRPS lower": row["summed"] < base["summed"],
            "80% in band at no fewer horizons": row["in80"] >= base["in80"],
            "95% in band at no fewer horizons": row["in95"] >= base["in95"]}


def main() -> None:
    folders = [Path(arg) for arg in sys.argv[1:]]
    if len(folders) < 2:
        raise SystemExit("usage: compare_variants.py BASELINE VARIANT [VARIANT ...]")
    indices = [pd.read_csv(f / "scores.csv").query("model == @MODEL").set_index(KEY).index
               for f in folders]
    common = indices[0]
    for index in indices[1:]:
        common = common.intersection(index)
    rows = [summary(f, common) for f in folders]
    print("| folder | fits | CRPS h1-h5 (common forecasts) | summed | 80% in band | "
          "95% in band | vs ETS-damped h1-h5 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['folder']} | {row['fits']} | {', '.join(map(str, row['crps']))} | "
              f"{row['summed']} | {row['in80']} of 5 | {row['in95']} of 5 | "
              f"{', '.join(map(str, row['vs_ets']))} |")
    base = rows[0]
    for row in rows[1:]:
        checks = rule_checks(base, row)
        verdict = "adopted" if all(checks.values()) else "not adopted"
        print(f"\n{row['folder']} against {base['folder']}: {verdict} ("
              + "; ".join(f"{name}: {'yes' if ok else 'no'}" for name, ok in checks.items())
              + ")")


if __name__ == "__main__":
    main()
