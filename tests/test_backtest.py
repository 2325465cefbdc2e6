"""Back-tests and baseline forecasters: scores, bands, input errors, the CLI.

All series here are SIMULATED (geo ids ``sim_*``).
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

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


def test_nothing_to_score_is_a_clear_error_and_writes_no_folder(tmp_path, monkeypatch):
    import tnmodel.models
    from tnmodel.backtest import NothingToScore

    data = _sim_panel(tmp_path / "sim.csv")
    after = CliRunner().invoke(app, ["backtest", "--data", str(data), "--cutoff", "2015",
                                     "--model", "cagr", "--upper", "100",
                                     "--out", str(tmp_path / "late")])
    assert after.exit_code == 1 and "no held-out value to score" in after.output
    assert "Traceback" not in after.output and not (tmp_path / "late").exists()

    def fail(*args, **kwargs):
        raise tnmodel.models.ConvergenceError("R-hat 1.2 > 1.01 (worst: sigma_u)")

    monkeypatch.setattr(tnmodel.models, "fit_series", fail)
    frame = read_backtest_csv(data, upper=100)
    with pytest.raises(NothingToScore, match=r"transition_local at 2008: failed gates: R-hat"):
        run_backtest(frame, [2008], models=["transition_local"], upper=100, horizon=3)


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


# --------------------------------------------------------------------------------------------
# Reference panel (priors learned at each cut-off) and lone fits. The orchestration is tested
# with the fitting replaced by recorders; the statistics in the slow test below.


def _recording_fits(monkeypatch, fail_reference_at=()):
    """Replace the reference fit and the forecast fit by recorders; return their logs."""
    import tnmodel.backtest as backtest
    import tnmodel.models.reference as reference

    learned, fitted = [], []

    def fake_learn(series, family, *, sampler, gates, seed, inflation, priors):
        from tnmodel.models import ConvergenceError

        learned.append({"family": family, "geos": series.geos, "years": set(series.year),
                        "chains": sampler.chains, "priors": priors})
        if int(max(series.year)) in fail_reference_at:
            raise ConvergenceError("sim: R-hat 1.2")
        fit = SimpleNamespace(diagnostics=SimpleNamespace(as_dict=lambda: {"max_rhat": 1.0}))
        return {"pace_mean": 0.5, "pace_sd": 0.1}, fit

    def fake_draws(model, train, geos, years, upper, settings, *args):
        fitted.append({"geos": geos, "settings": settings})
        draws = {g: np.full((200, len(years)), 50.0) for g in geos}
        return draws, {"model": model, "cutoff": args[-3], "role": "forecast", "status": "ok"}

    monkeypatch.setattr(reference, "learn_priors", fake_learn)
    monkeypatch.setattr(backtest, "_bayesian_draws", fake_draws)
    return learned, fitted


def test_reference_priors_are_learned_per_cutoff_from_the_past_of_other_geos(tmp_path,
                                                                             monkeypatch):
    from tnmodel.backtest import ReferencePanel

    learned, fitted = _recording_fits(monkeypatch)
    panel = read_backtest_csv(_sim_panel(tmp_path / "sim.csv", n_geos=6), upper=100)
    local = panel[panel["geo"].isin(["sim_0", "sim_1"])]
    result = run_backtest(local, [2008, 2011], models=["transition_local"], upper=100,
                          reference=ReferencePanel(panel), lone=True,
                          priors={"transition_local": {"pace_sd": 0.3}})
    # One reference fit per cut-off, on years <= the cut-off, without the back-tested geos,
    # with 4 chains (the back-test's 2 raised) and the --prior settings.
    assert [max(call["years"]) for call in learned] == [2008, 2011]
    assert all(call["geos"] == ("sim_2", "sim_3", "sim_4", "sim_5") for call in learned)
    assert all(call["chains"] == 4 and call["priors"] == {"pace_sd": 0.3} for call in learned)
    # Lone: one fit per geo and cut-off; learned priors reach it, --prior wins over them.
    assert [call["geos"] for call in fitted] == [("sim_0",), ("sim_1",)] * 2
    assert all(call["settings"] == {"pace_mean": 0.5, "pace_sd": 0.3} for call in fitted)
    roles = result.fits.groupby("role").size().to_dict()
    assert roles == {"reference": 2, "forecast": 4}
    assert result.manifest["reference"]["learned_priors"]["transition_local"]["2008"] == {
        "pace_mean": 0.5, "pace_sd": 0.3}
    assert result.manifest["lone"] is True
    assert set(result.scores["geo"]) == {"sim_0", "sim_1"}


def test_a_failed_reference_fit_leaves_that_cutoff_out_and_says_so(tmp_path, monkeypatch):
    from tnmodel.backtest import ReferencePanel

    learned, fitted = _recording_fits(monkeypatch, fail_reference_at=(2008,))
    panel = read_backtest_csv(_sim_panel(tmp_path / "sim.csv", n_geos=4), upper=100)
    local = panel[panel["geo"] == "sim_0"]
    result = run_backtest(local, [2008, 2011], models=["transition", "cagr"], upper=100,
                          reference=ReferencePanel(panel))
    assert len(learned) == 2 and len(fitted) == 1  # only 2011 was fitted
    failed = result.fits[result.fits["status"] != "ok"]
    assert list(zip(failed["role"], failed["cutoff"], strict=True)) == [("reference", 2008)]
    assert "R-hat 1.2" in failed["status"].iloc[0]
    scored = result.scores.groupby("model")["cutoff"].unique()
    assert list(scored["transition"]) == [2011]
    assert sorted(scored["cagr"]) == [2008, 2011]  # baselines need no reference


def test_reference_panel_needs_a_family_with_reference_priors_and_known_geos(tmp_path):
    data = _sim_panel(tmp_path / "sim.csv")
    runner = CliRunner()
    no_summary = runner.invoke(app, ["backtest", "--data", str(data), "--cutoff", "2009",
                                     "--model", "linear", "--reference-data", str(data),
                                     "--out", str(tmp_path / "x")])
    assert no_summary.exit_code == 2 and "no reference priors" in no_summary.output
    typo = runner.invoke(app, ["backtest", "--data", str(data), "--cutoff", "2009",
                               "--model", "cagr", "--upper", "100", "--reference-data",
                               str(data), "--reference-exclude", "sim_00",
                               "--out", str(tmp_path / "y")])
    assert typo.exit_code == 1 and "did you mean 'sim_0'" in typo.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def _sim_transition_local_panel(n_geos: int, seed: int) -> pd.DataFrame:
    """A SIMULATED panel from the local transition process with fixed parameters (pace
    about 0.3 logits a year, asymptote 0.9, phi 0.5, innovation sd 0.1, error 0.03)."""
    from tnmodel.models import series_from_arrays
    from tnmodel.models.series import inv_logit_percent
    from tnmodel.models.transition_local import TRANSITION_LOCAL, TransitionLocalPriors

    years = np.arange(2000, 2016)
    geos = tuple(f"sim_{g}" for g in range(n_geos))
    series = series_from_arrays("sim", geos, np.repeat(np.arange(n_geos), len(years)),
                                np.tile(years, n_geos), np.full(n_geos * len(years), 10.0))
    fixed = TransitionLocalPriors(
        level_mean=-2.5, level_sd=0.5, pace_mean=0.3, pace_sd=0.01, pace_spread_mean=0.05,
        asymptote_mean=0.9, asymptote_concentration=500, floor_mean=0.3,
        floor_concentration=500, persistence_mean=0.5, persistence_concentration=500,
        innovation_sd_median=0.1, innovation_sd_log_sd=0.01, obs_sd_dataset=0.03,
        obs_sd_log_sd=0.01)
    _, y = TRANSITION_LOCAL.simulate(series, fixed, np.random.default_rng(seed))
    return pd.DataFrame({"geo": [geos[i] for i in series.geo_index], "year": series.year,
                         "value": inv_logit_percent(y)})


@pytest.mark.slow
@pytest.mark.integration
def test_lone_series_with_priors_learned_from_a_simulated_panel_are_calibrated():
    """The FPEM workflow end to end: learn from a panel at the cut-off, fit each other geo
    alone with those priors; its intervals cover the held-out values of the same process."""
    from tnmodel.backtest import ReferencePanel

    panel = _sim_transition_local_panel(n_geos=16, seed=5)
    local = panel[panel["geo"].isin([f"sim_{g}" for g in range(8)])]
    result = run_backtest(local, [2009], models=["transition_local"], upper=100, horizon=3,
                          reference=ReferencePanel(panel), lone=True,
                          sampler=SamplerSettings(chains=2, draws=500, tune=1000))
    assert (result.fits["status"] == "ok").all(), list(result.fits["status"])
    learned = result.manifest["reference"]["learned_priors"]["transition_local"]["2009"]
    # The learned pace prior must have found the simulated pace (the default prior is
    # 0.35 +- 0.3) and be narrower than the default.
    assert abs(learned["pace_mean"] - 0.3) < 0.1 and learned["pace_sd"] < 0.3
    metrics = result.metrics  # 8 forecasts per horizon
    assert (metrics["coverage80"] >= metrics["band_lo"] - 1e-9).all()
    assert (metrics["coverage95"] >= metrics["band95_lo"] - 1e-9).all()


def test_several_data_files_are_one_panel_but_a_geo_may_be_in_one_only(tmp_path):
    from tnmodel.backtest import read_backtest_files

    panel = pd.read_csv(_sim_panel(tmp_path / "sim.csv", n_geos=4))
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    panel[panel["geo"].isin(["sim_0", "sim_1"])].to_csv(first, index=False)
    panel[panel["geo"].isin(["sim_2", "sim_3"])].to_csv(second, index=False)
    both = read_backtest_files([first, second], upper=100, geos=["sim_1", "sim_2"])
    assert sorted(both["geo"].unique()) == ["sim_1", "sim_2"] and len(both) == 32
    with pytest.raises(InputError, match="did you mean 'sim_3'"):
        read_backtest_files([first, second], geos=["sim_33"])
    panel[panel["geo"] == "sim_1"].to_csv(second, index=False)
    with pytest.raises(InputError, match="geo 'sim_1' is also in"):
        read_backtest_files([first, second])


def test_excluded_geos_must_exist_but_may_have_only_part_year_rows(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("geo,year,value,period\nsim_a,2010,10,\nsim_a,2011,12,\n"
                    "sim_b,2011,30,part-year\n", encoding="utf-8")
    assert list(read_backtest_csv(path, exclude_geos=["sim_b"])["geo"]) == ["sim_a", "sim_a"]
    with pytest.raises(InputError, match="cannot leave out geo 'sim_bb'.*did you mean 'sim_b'"):
        read_backtest_csv(path, exclude_geos=["sim_bb"])
