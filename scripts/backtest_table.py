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

#: The models the bar is about (each compared with the baselines).
TRANSITION_MODELS = ("transition", "transition_local", "transition_state")


def relative_crps(scores: pd.DataFrame, model: str) -> list[str]:
    """Lines of a table: 1 - CRPS(model) / CRPS(baseline) per horizon, on common forecasts."""
    lines = ["", f"CRPS of {model} relative to the baselines, on the forecasts both made "
             "(1 - ratio; the bar is >= 0.20):", "",
             "| h | n | vs cagr | vs ets_damped |", "| --- | --- | --- | --- |"]
    key = ["cutoff", "geo", "year"]
    ours = scores[scores["model"] == model].set_index(key)
    gains: dict = {}
    for baseline in ("cagr", "ets_damped"):
        theirs = scores[scores["model"] == baseline].set_index(key)
        gains[baseline] = ours.join(theirs["crps"].rename("crps_b"), how="inner")
    for h in sorted(set(ours["horizon"])):
        cells, n = [], 0
        for baseline in ("cagr", "ets_damped"):
            part = gains[baseline][gains[baseline]["horizon"] == h]
            n = len(part)
            cells.append(f"{1 - part['crps'].mean() / part['crps_b'].mean():.2f}" if n else "-")
        lines.append(f"| {h} | {n} | {' | '.join(cells)} |")
    cells = [f"{1 - g['crps'].mean() / g['crps_b'].mean():.2f}" for g in gains.values()]
    lines.append(f"| all | {len(gains['cagr'])} | {' | '.join(cells)} |")
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
