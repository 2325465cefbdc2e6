"""The back-test analysis scripts: scripts/spread_bound.py (the upper bound on what
re-scaling a forecast's spread can gain) and scripts/reversion.py (do surprises revert?).

Every series and forecast here is SIMULATED (``sim_*`` geos).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tnmodel.backtest import crps_from_draws

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


spread_bound = _script("spread_bound")
reversion = _script("reversion")


def _simulated_scores(forecast_sd: float, n: int = 600, truth_sd: float = 0.2) -> pd.DataFrame:
    """Logit-normal forecasts with sd ``forecast_sd`` of outcomes whose sd is ``truth_sd``,
    and an always-too-wide baseline; in ``scores.csv`` columns."""
    rng = np.random.default_rng(3)
    median = rng.uniform(-1.5, 2.0, n)
    outcome = 100 / (1 + np.exp(-(median + truth_sd * rng.standard_normal(n))))
    rows = []
    for model, sd in (("transition_local", forecast_sd), ("ets_damped", 3 * truth_sd)):
        q = {name: 100 / (1 + np.exp(-(median + z * sd)))
             for name, z in (("q10", -spread_bound.Z80), ("median", 0.0),
                             ("q90", spread_bound.Z80))}
        draws = 100 / (1 + np.exp(-(median[:, None] + sd * rng.standard_normal((n, 4000)))))
        crps = [crps_from_draws(d, o) for d, o in zip(draws, outcome, strict=True)]
        rows.append(pd.DataFrame({"panel": "sim", "model": model, "cutoff": 2015,
                                  "geo": [f"sim_{i}" for i in range(n)], "year": 2016,
                                  "horizon": 1, "observed": outcome, "crps": crps, **q}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize(("forecast_sd", "best"), [(0.2, 1.0), (0.3, 0.7)])
def test_the_best_factor_is_the_one_that_undoes_the_over_dispersion(forecast_sd, best):
    table = spread_bound.bound_table(_simulated_scores(forecast_sd), "transition_local",
                                     "ets_damped")
    top = table.loc[table["skill"].idxmax()]
    assert top["factor"] == pytest.approx(best)
    assert top["coverage80"] == pytest.approx(0.8, abs=0.05)
    # The approximation at k = 1 is the recorded CRPS of the same forecasts.
    one = table[table["factor"] == 1.0].iloc[0]
    assert one["crps"] == pytest.approx(one["recorded_crps"], rel=0.02)
    # Shrinking a calibrated spread costs; shrinking an over-dispersed one pays.
    assert (table.set_index("factor")["crps"][0.5] > one["crps"]) == (forecast_sd == 0.2)


def _simulated_panel(kind: str, geos: int = 60, years: int = 20) -> pd.DataFrame:
    """Logit paths with a steady pace plus either transient blips (observation noise) or
    lasting changes of pace (a random walk in the pace), as percent."""
    rng = np.random.default_rng(5)
    rows = []
    for g in range(geos):
        t = np.arange(years)
        if kind == "blips":
            eta = -2.0 + 0.2 * t + 0.2 * rng.standard_normal(years)
        else:
            eta = -1.5 + np.cumsum(0.1 + np.cumsum(0.03 * rng.standard_normal(years)))
        rows.append(pd.DataFrame({"geo": f"sim_{g}", "year": 2000 + t,
                                  "value": 100 / (1 + np.exp(-eta))}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize(("kind", "corr"), [("blips", -2 / 3), ("pace", 0.0)])
def test_reversion_tells_blips_from_lasting_changes_of_pace(kind, corr):
    summary = reversion.reversion_summary(
        reversion.second_differences(_simulated_panel(kind)), large=0.3)
    assert summary["corr_all"] == pytest.approx(corr, abs=0.07)
    assert summary["n_pairs"] == 60 * 17  # 18 second differences per geo, the last unpaired
