"""Print the back-test results of one or more ``tnmodel backtest`` folders as Markdown.

    python scripts/backtest_table.py docs/backtests/internet_panel docs/backtests/vietnam \
        docs/backtests/internet_panel_new docs/backtests/vietnam_new
    python scripts/backtest_table.py --pooled docs/backtests/internet_heldout \
        docs/backtests/internet_heldout2 docs/backtests/internet_heldout3

For each folder: coverage of the 80% / 95% intervals with their binomial bands, misses
below / above, CRPS and MAE per model and horizon, and the CRPS of each transition model
relative to the CAGR and ETS-damped baselines (the bar of issue 3: at least 20% lower).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from tnmodel.backtest import exit_on_unreadable_output, read_backtest_output
from tnmodel.bar import crps_margins

#: The models the bar is about (each compared with the baselines).
TRANSITION_MODELS = ("transition", "transition_local", "transition_state")
BASELINES = ("cagr", "ets_damped")


def relative_crps(scores: pd.DataFrame, model: str) -> list[str]:
    """Lines of a table: 1 - CRPS(model) / CRPS(baseline) per horizon and over all horizons,
    on the forecasts both made (:func:`tnmodel.bar.crps_margins`)."""
    lines = ["", f"CRPS of {model} relative to the baselines, on the forecasts both made "
             "(1 - ratio; the bar is >= 0.20):", "",
             "| h | n | vs cagr | vs ets_damped |", "| --- | --- | --- | --- |"]
    horizons = sorted(set(scores.loc[scores["model"] == model, "horizon"]))
    per_horizon = crps_margins(scores, model, BASELINES, horizons=horizons)
    pooled = crps_margins(scores.assign(horizon=0), model, BASELINES, horizons=[0])
    for label, row in [*per_horizon.iterrows(), ("all", pooled.iloc[0])]:
        cells = [f"{row[f'margin_{b}']:.2f}" if row[f"n_{b}"] else "-" for b in BASELINES]
        lines.append(f"| {label} | {row[f'n_{BASELINES[-1]}']} | {' | '.join(cells)} |")
    return lines


def table(folder: Path) -> str:
    return frame_table(folder.name, *(read_backtest_output(folder, name) for name in
                                      ("metrics.csv", "scores.csv", "fits.csv")))


def pooled_table(folders: list[Path]) -> str:
    """One table over several folders' forecasts (e.g. held-out panels of other countries):
    the metrics recomputed from their pooled ``scores.csv``."""
    from tnmodel.backtest import summarise

    scores = pd.concat([read_backtest_output(f, "scores.csv").assign(
        geo=lambda d, f=f: f.name + "/" + d["geo"]) for f in folders], ignore_index=True)
    fits = pd.concat([read_backtest_output(f, "fits.csv") for f in folders],
                     ignore_index=True)
    title = "pooled: " + ", ".join(f.name for f in folders)
    return frame_table(title, summarise(scores), scores, fits)


def frame_table(title: str, metrics: pd.DataFrame, scores: pd.DataFrame,
                fits: pd.DataFrame) -> str:
    lines = [f"### {title}", "",
             "| model | h | n | cov80 [band] | cov95 [band] | below80 / above80 | CRPS | MAE |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in metrics.sort_values(["model", "horizon"]).itertuples():
        ok80 = "" if row.in_band80 else " ✗"
        ok95 = "" if row.in_band95 else " ✗"
        lines.append(
            f"| {row.model} | {row.horizon} | {row.n} | {row.coverage80:.2f} "
            f"[{row.band_lo:.2f}, {row.band_hi:.2f}]{ok80} | {row.coverage95:.2f} "
            f"[{row.band95_lo:.2f}, {row.band95_hi:.2f}]{ok95} | {row.below80:.2f} / "
            f"{row.above80:.2f} | {row.crps:.2f} | {row.mae:.2f} |")
    for model in TRANSITION_MODELS:
        if model in set(scores["model"]):
            lines += relative_crps(scores, model)
    failed = fits[fits["status"] != "ok"]
    if len(failed):
        lines += ["", f"{len(failed)} fit(s) failed their gates and are left out: "
                  + ", ".join(describe_fit(r) for r in failed.to_dict("records"))]
    return "\n".join(lines) + "\n"


def describe_fit(row: dict) -> str:
    """``model at cutoff``, with the geo of a lone fit and "reference fit" for a reference
    panel's fit (older folders' fits.csv has neither column)."""
    where = [str(row["geo"])] if isinstance(row.get("geo"), str) and row["geo"] else []
    if row.get("role") == "reference":
        where.append("reference fit")
    return f"{row['model']} at {row['cutoff']}" + (f" ({', '.join(where)})" if where else "")


def main() -> None:
    args = sys.argv[1:]
    with exit_on_unreadable_output():
        if args and args[0] == "--pooled":
            print(pooled_table([Path(a) for a in args[1:]]))
            return
        for folder in args:
            print(table(Path(folder)))


if __name__ == "__main__":
    main()
