"""Print the back-test results of one or more ``tnmodel backtest`` folders as Markdown.

    python scripts/backtest_table.py docs/backtests/internet_panel docs/backtests/vietnam

For each folder: coverage of the 80% / 95% intervals with their binomial bands, misses
below / above, CRPS and MAE per model and horizon, and the CRPS of the transition model
relative to the CAGR and ETS-damped baselines (the bar of issue 3: at least 20% lower).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def table(folder: Path) -> str:
    metrics = pd.read_csv(folder / "metrics.csv")
    lines = [f"### {folder.name}", "",
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
    crps = metrics.pivot(index="horizon", columns="model", values="crps")
    if "transition" in crps:
        lines += ["", "CRPS of the transition model relative to the baselines "
                  "(1 - ratio; the bar is >= 0.20):", "",
                  "| h | vs cagr | vs ets_damped |", "| --- | --- | --- |"]
        for h, row in crps.iterrows():
            gains = [f"{1 - row['transition'] / row[b]:.2f}" if b in row else "-"
                     for b in ("cagr", "ets_damped")]
            lines.append(f"| {h} | {' | '.join(gains)} |")
        total = crps.mean()
        gains = [f"{1 - total['transition'] / total[b]:.2f}" if b in total else "-"
                 for b in ("cagr", "ets_damped")]
        lines.append(f"| all | {' | '.join(gains)} |")
    fits = pd.read_csv(folder / "fits.csv")
    failed = fits[fits["status"] != "ok"]
    if len(failed):
        lines += ["", f"{len(failed)} fit(s) failed their gates and are left out: "
                  + ", ".join(f"{r.model} at {r.cutoff}" for r in failed.itertuples())]
    return "\n".join(lines) + "\n"


def main() -> None:
    for folder in sys.argv[1:]:
        print(table(Path(folder)))


if __name__ == "__main__":
    main()
