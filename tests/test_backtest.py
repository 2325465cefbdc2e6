"""Back-tests and baseline forecasters: scores, bands, input errors, the CLI.

All series here are SIMULATED (geo ids ``sim_*``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from tnmodel.backtest import (
    binomial_band,
    crps_from_draws,
    pit_value,
    read_backtest_csv,
    run_backtest,
)
from tnmodel.baselines import baseline_draws
from tnmodel.cli import app
from tnmodel.models import SamplerSettings
from tnmodel.problems import InputError


def _normal_crps(mu: float, sd: float, y: float) -> float:
    z = (y - mu) / sd
    return sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))


@pytest.mark.parametrize("y", [-1.5, 0.0, 0.7, 3.0])
def test_sample_crps_matches_the_closed_form_for_a_normal(y):
    draws = np.random.default_rng(1).normal(0.0, 1.0, 200_000)
    assert crps_from_draws(draws, y) == pytest.approx(_normal_crps(0.0, 1.0, y), abs=0.01)


def test_pit_of_calibrated_forecasts_is_uniform_and_band_contains_nominal():
    rng = np.random.default_rng(2)
    pits = [pit_value(rng.normal(0, 1, 500), rng.normal(0, 1), rng) for _ in range(400)]
    assert stats.kstest(pits, "uniform").pvalue > 0.01
    lo, hi = binomial_band(60, 0.8)
    assert lo < 0.8 < hi and hi - lo < 0.25
    # A calibrated 80% interval lands inside its band ~95% of the time.
    inside = [lo <= rng.binomial(60, 0.8) / 60 <= hi for _ in range(2000)]
    assert 0.93 <= np.mean(inside) <= 0.99


def _coverage(name: str, simulate, n_series: int = 200, h: int = 3, years: int = 15) -> float:
    rng = np.random.default_rng(7)
    hits = []
    span = years
    for _ in range(n_series):
        years = np.arange(2000, 2000 + span)
        values = simulate(years, rng)
        train, test = values[:-h], values[-h:]
        draws = baseline_draws(name, years[:-h], train, years[-h:], n_draws=1000, rng=rng,
                               lower=None)
        q = np.quantile(draws, [0.1, 0.9], axis=0)
        hits.extend((q[0] <= test) & (test <= q[1]))
    return float(np.mean(hits))


def test_cagr_baseline_is_calibrated_on_a_simulated_random_walk_with_drift_in_logs():
    def walk(years, rng):
        return 20 * np.exp(np.cumsum(rng.normal(0.05, 0.04, years.size)))

    assert 0.72 <= _coverage("cagr", walk) <= 0.88


def test_ols_baseline_is_calibrated_on_a_simulated_line_with_noise():
    def line(years, rng):
        return 10 + 2 * (years - 2000) + rng.normal(0, 1.5, years.size)

    assert 0.74 <= _coverage("ols", line) <= 0.86


@pytest.mark.slow  # 40 ETS fits: slow on a busy machine
def test_ets_damped_baseline_is_calibrated_on_its_own_simulated_process():
    def damped(years, rng):  # additive errors, additive damped trend (ETS A,Ad,N)
        level, slope, out = 30.0, 1.0, []
        for _ in years:
            e = rng.normal(0, 1.0)
            out.append(level + 0.9 * slope + e)
            level, slope = level + 0.9 * slope + 0.5 * e, 0.9 * slope + 0.1 * e
        return np.array(out)

    def long_years(years, rng):
        return damped(np.arange(40), rng)[-years.size:]

    assert 0.66 <= _coverage("ets_damped", long_years, n_series=40, years=40) <= 0.92


def test_baselines_respect_bounds():
    years = np.arange(2010, 2020)
    values = 60 + 4.5 * (years - 2010)
    draws = baseline_draws("cagr", years, values, np.arange(2020, 2026), n_draws=500,
                           rng=np.random.default_rng(0), upper=100)
    assert draws.max() <= 100 and draws.min() >= 0


# ------------------------------------------------------------------ input errors


def test_bad_csv_rows_are_reported_with_file_line_and_column(tmp_path):
    path = tmp_path / "sim.csv"
    path.write_text("geo,year,value\nsim_a,2010,12\nsim_a,20x1,13\nsim_b,2012,abc\n"
                    "sim_b,2013,140\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_backtest_csv(path, upper=100)
    found = {(p.line, p.field) for p in caught.value.problems}
    assert found == {(3, "year"), (4, "value"), (5, "value")}
    assert "outside 0-100" in str(caught.value)


def test_missing_column_says_did_you_mean(tmp_path):
    path = tmp_path / "sim.csv"
    path.write_text("geo,yaer,value\nsim_a,2010,12\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing column 'year' \\(did you mean 'yaer'"):
        read_backtest_csv(path)


def test_several_indicators_need_a_choice(tmp_path):
    path = tmp_path / "sim.csv"
    path.write_text("geo,indicator,year,value\nsim_a,sim_x,2010,1\nsim_a,sim_y,2010,2\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match="choose one with --indicator"):
        read_backtest_csv(path)
    with pytest.raises(InputError, match="did you mean 'sim_x'"):
        read_backtest_csv(path, indicator="sim_xx")
    assert len(read_backtest_csv(path, indicator="sim_y")) == 1


def _sim_panel(path, n_geos=6, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_geos):
        level, pace = rng.normal(-2, 0.5), rng.normal(0.25, 0.05)
        for year in range(2000, 2016):
            eta = level + pace * (year - 2000) + rng.normal(0, 0.05)
            rows.append({"geo": f"sim_{g}", "year": year, "value": 100 / (1 + np.exp(-eta))})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_backtest_of_baselines_scores_every_held_out_value(tmp_path):
    frame = read_backtest_csv(_sim_panel(tmp_path / "sim.csv"), upper=100)
    result = run_backtest(frame, [2008, 2010], models=["cagr", "ols", "ets_damped"],
                          upper=100, horizon=5)
    metrics = result.metrics
    assert set(metrics["model"]) == {"cagr", "ols", "ets_damped"}
    assert list(metrics[metrics["model"] == "ols"]["n"]) == [12] * 5  # 6 geos x 2 cut-offs
    for column in ("coverage80", "coverage95", "below80", "above80", "crps", "mae",
                   "band_lo", "band_hi"):
        assert metrics[column].notna().all()
    np.testing.assert_allclose(metrics["below80"] + metrics["above80"] + metrics["coverage80"],
                               1.0)
    assert set(result.brier["threshold"]) == {50.0, 75.0, 90.0}
    assert result.pit["pit"].between(0, 1).all()


def test_backtest_command_writes_the_files_and_refuses_bad_models(tmp_path):
    data = _sim_panel(tmp_path / "sim.csv")
    runner = CliRunner()
    out = tmp_path / "bt"
    result = runner.invoke(app, ["backtest", "--data", str(data), "--cutoff", "2009",
                                 "--model", "cagr", "--model", "ets_damped", "--upper", "100",
                                 "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    for name in ("metrics.csv", "pit.csv", "brier.csv", "scores.csv", "fits.csv",
                 "manifest.json"):
        assert (out / name).is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data_sha256"] and manifest["cutoffs"] == [2009]
    bad = runner.invoke(app, ["backtest", "--data", str(data), "--cutoff", "2009",
                              "--model", "cagrr", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "did you mean 'cagr'" in bad.output
    unbounded = runner.invoke(app, ["backtest", "--data", str(data), "--cutoff", "2009",
                                    "--model", "transition", "--out", str(tmp_path / "y")])
    assert unbounded.exit_code == 2 and "--upper" in unbounded.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_prior_settings_reach_only_the_families_that_have_them_and_typos_are_refused(tmp_path):
    from tnmodel.backtest import family_priors

    priors = family_priors(["innovation_scaling=binomial", "pace_sd=0.5"],
                           ["transition", "transition_local", "cagr"], 100)
    assert priors == {"transition_local": {"innovation_scaling": "binomial", "pace_sd": 0.5},
                      "transition": {"pace_sd": 0.5}}
    with pytest.raises(ValueError, match="did you mean 'innovation_scaling'"):
        family_priors(["innovation_scalin=binomial"], ["transition_local"], 100)
    with pytest.raises(ValueError, match="innovation_scaling"):
        family_priors(["innovation_scaling=quadratic"], ["transition_local"], 100)
    with pytest.raises(ValueError, match="NAME=VALUE"):
        family_priors(["binomial"], ["transition_local"], 100)
    runner = CliRunner()
    bad = runner.invoke(app, ["backtest", "--data", str(_sim_panel(tmp_path / "sim.csv")),
                              "--cutoff", "2009", "--model", "transition_local", "--upper",
                              "100", "--prior", "phi_mean=0.3", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--prior:" in bad.output and "did you mean" in bad.output
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_backtest_of_the_transition_model_on_a_simulated_panel_is_calibrated(tmp_path):
    frame = read_backtest_csv(_sim_panel(tmp_path / "sim.csv", n_geos=8), upper=100)
    # Four chains and longer tuning: the transition model's floor mixes slowly on short
    # panels (with 2 x 500 draws one cut-off can miss the R-hat / ESS gates).
    result = run_backtest(frame, [2008, 2010], models=["transition"], upper=100, horizon=3,
                          sampler=SamplerSettings(chains=4, draws=500, tune=1000))
    assert (result.fits["status"] == "ok").all(), list(result.fits["status"])
    metrics = result.metrics
    # 16 forecasts per horizon: a calibrated 80% interval covers 10-16 of them (binomial).
    assert (metrics["coverage80"] >= metrics["band_lo"] - 1e-9).all()
    assert (metrics["coverage95"] >= metrics["band95_lo"] - 1e-9).all()
