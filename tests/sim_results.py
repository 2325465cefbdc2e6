"""SIMULATED result folders for chart and report tests (no MCMC: numbers are made up here).

The layout is what ``tnmodel run`` writes (targets.csv, quantiles.csv, manifest.json), plus the
optional files later issues add (first_year.csv, ranks.csv, a back-test metrics.csv / pit.csv).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import write_sim_data  # noqa: I001

XSS = "<script>alert('x')</script>"


def sim_quantiles(indicator: str = "sim_share", geo: str = "sim_merged",
                  years=range(2018, 2031), centre: float = 40.0, pace: float = 4.0,
                  with_95: bool = True) -> pd.DataFrame:
    """Made-up yearly quantiles of a logistic-looking series (widening with the horizon)."""
    rows = []
    for k, year in enumerate(years):
        mid = 100 / (1 + np.exp(-(np.log(centre / (100 - centre)) + 0.25 * k)))
        spread = 3 + 1.5 * k
        z = {"q025": -1.96, "q05": -1.645, "q10": -1.2816, "q25": -0.6745, "q50": 0.0,
             "q75": 0.6745, "q90": 1.2816, "q95": 1.645, "q975": 1.96}
        row = {"indicator": indicator, "geo": geo, "year": year, "mean": round(mid, 3)}
        row |= {name: round(float(np.clip(mid + s * spread, 0, 100)), 3) for name, s in z.items()}
        if not with_95:
            row.pop("q025")
            row.pop("q975")
        rows.append(row)
    return pd.DataFrame(rows)


def sim_targets(scenario: str = "sim_baseline", p_shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame([
        {"scenario": scenario, "target_id": "sim_north_share_2030", "geo": "sim_north",
         "evaluated_geo": "sim_merged", "indicator": "sim_share", "reading": "sim_share",
         "year": 2030, "comparator": ">=", "threshold": 80, "among": None,
         "status": "estimated", "p_met": 0.62 + p_shift, "p_met_mcse": 0.012,
         "p_met_upper": None, "p_met_lower": None, "verdict": "likely (P = 0.62)",
         "q05": 60.1, "q50": 82.0, "q95": 95.2, "baseline_category": "on track (CAGR 5%)",
         "baseline_ratio": 1.1, "baseline_projection": 85.0, "n_obs": 3,
         "last_obs_year": 2025, "last_obs_value": 70, "note": f"simulated note {XSS}"},
        {"scenario": scenario, "target_id": "sim_north_skills_2030", "geo": "sim_north",
         "evaluated_geo": "sim_merged", "indicator": "sim_skills", "reading": "sim_skills",
         "year": 2030, "comparator": ">=", "threshold": 85, "among": None,
         "status": "upper bound via proxy", "p_met": None, "p_met_mcse": None,
         "p_met_upper": 0.7 + p_shift, "p_met_lower": None,
         "verdict": "at most 0.70 (proxy bound, not an estimate)", "q05": None, "q50": None,
         "q95": None, "baseline_category": "", "baseline_ratio": None,
         "baseline_projection": None, "n_obs": 0, "last_obs_year": None,
         "last_obs_value": None, "note": ""},
        {"scenario": scenario, "target_id": "sim_north_rank_2030", "geo": "sim_north",
         "evaluated_geo": "sim_merged", "indicator": "sim_rank", "reading": "sim_rank",
         "year": 2030, "comparator": "<=", "threshold": 20, "among": 63,
         "status": "not supported", "p_met": None, "p_met_mcse": None, "p_met_upper": None,
         "p_met_lower": None, "verdict": "no estimate (not supported)", "q05": None,
         "q50": None, "q95": None, "baseline_category": "", "baseline_ratio": None,
         "baseline_projection": None, "n_obs": 0, "last_obs_year": None,
         "last_obs_value": None, "note": "rank model not in tnmodel yet"},
    ])


def sim_first_year() -> pd.DataFrame:
    return pd.DataFrame({"target_id": ["sim_north_share_2030"] * 5,
                         "year": [2027, 2028, 2029, 2030, np.nan],
                         "probability": [0.1, 0.2, 0.2, 0.12, 0.38]})


def sim_ranks() -> pd.DataFrame:
    return pd.DataFrame({"target_id": ["sim_north_rank_2030"] * 5,
                         "rank": [5, 6, 7, 8, 9], "probability": [0.1, 0.3, 0.3, 0.2, 0.1]})


def sim_metrics(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for model in ("sim_logit", "sim_cagr"):
        for horizon in (1, 2, 3):
            n = 40
            rows.append({"model": model, "horizon": horizon, "n": n,
                         "coverage80": rng.binomial(n, 0.8) / n,
                         "coverage95": rng.binomial(n, 0.95) / n,
                         "below80": 0.1, "above80": 0.1, "crps": 2.0, "mae": 3.0,
                         "band_lo": 0.65, "band_hi": 0.925})
    return pd.DataFrame(rows)


def sim_pit(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"model": ["sim_logit"] * 60 + ["sim_cagr"] * 60,
                         "pit": np.concatenate([rng.uniform(size=60), rng.beta(2, 2, 60)])})


def write_sim_results(root: Path, *, optional: bool = False, fast: bool = True,
                      source_title: str = "Simulated source for tests") -> Path:
    """A results folder (``root/results``) over the simulated data folder ``root/sim_data``.

    ``optional=True`` adds first_year.csv, ranks.csv and a back-test folder.
    """
    data = write_sim_data(root / "sim_data")
    indicators = data / "indicators.yaml"
    indicators.write_text(indicators.read_text(encoding="utf-8").replace(
        "  definition: A simulated bounded share for tests.\n",
        "  definition: A simulated bounded share for tests.\n"
        "  breaks:\n  - year: 2022\n    what: simulated definition change\n"), encoding="utf-8")
    sources = data / "sources.csv"
    sources.write_text(sources.read_text(encoding="utf-8").replace(
        "Simulated source for tests", f'"{source_title}"'), encoding="utf-8")
    results = root / "results"
    for name, shift in (("sim_baseline", 0.0), ("sim_push", 0.2)):
        folder = results / name
        folder.mkdir(parents=True)
        sim_targets(name, shift).to_csv(folder / "targets.csv", index=False)
        pd.concat([sim_quantiles(), sim_quantiles("sim_proxy", centre=60.0)]).to_csv(
            folder / "quantiles.csv", index=False)
        manifest = {
            "scenario": name, "title": f"Simulated {name}", "fast": fast,
            "created_at": "2026-01-01T00:00:00+00:00", "data_dir": str(data),
            "settings": {"name": name, "title": f"Simulated {name} {XSS}",
                         "description": "made-up numbers", "horizon": 2030, "seed": 7,
                         "lineage": "follow", "interventions": [{"kind": "sim_accelerate"}]},
            "targets": {
                "sim_north_share_2030": {"status": "estimated", "evaluated_geo": "sim_merged",
                                         "indicators": ["sim_share"]},
                "sim_north_skills_2030": {"status": "upper bound via proxy",
                                          "evaluated_geo": "sim_merged",
                                          "indicators": ["sim_proxy"]},
                "sim_north_rank_2030": {"status": "not supported",
                                        "evaluated_geo": "sim_merged", "indicators": []},
            },
            "fits": {"sim_share": {"series": ["sim_merged", "sim_south"], "years": [2018, 2025]},
                     "sim_proxy": {"series": ["sim_merged", "sim_south"],
                                   "years": [2018, 2024]}},
        }
        (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        if optional:
            sim_first_year().to_csv(folder / "first_year.csv", index=False)
            sim_ranks().to_csv(folder / "ranks.csv", index=False)
    if optional:
        backtest = results / "backtest"
        backtest.mkdir()
        sim_metrics().to_csv(backtest / "metrics.csv", index=False)
        sim_pit().to_csv(backtest / "pit.csv", index=False)
    return results
