"""tnmodel.models: series selection, gates, and the statistics of the logit-trend model."""

from __future__ import annotations

import numpy as np
import pytest

from tnmodel.data import load_dataset
from tnmodel.models import (
    ConvergenceError,
    Diagnostics,
    GateThresholds,
    LogitTrendPriors,
    ModelSpec,
    SamplerSettings,
    check_gates,
    fit_series,
    inv_logit_percent,
    mcse_of_mean,
    retry_sampler,
    select_series,
    series_from_arrays,
)
from tnmodel.models.logit_trend import simulate
from tnmodel.models.series import logit_share


def test_logit_round_trip_and_clipping():
    values = np.array([0.0, 12.5, 50.0, 99.0, 100.0])
    back = inv_logit_percent(logit_share(values))
    np.testing.assert_allclose(back[1:4], values[1:4])
    assert 0 < back[0] < 1 and 99 < back[-1] < 100  # edges clipped, not infinite


def test_select_series_follows_lineage_of_target_geo_only(sim_data):
    ds = load_dataset(sim_data)
    series = select_series(ds, "sim_share", follow_lineage_of=("sim_north",))
    assert series.geos == ("sim_merged", "sim_south")
    merged = series.rows[series.rows["series_geo"] == "sim_merged"]
    assert sorted(merged["geo"]) == ["sim_merged", "sim_north", "sim_north"]
    assert series.renamed == {"sim_north": "sim_merged"}
    # Without lineage the pre-merger geo is its own series.
    assert "sim_north" in select_series(ds, "sim_share").geos


def test_select_series_window_flags_and_exclusion(sim_data):
    ds = load_dataset(sim_data)
    series = select_series(ds, "sim_share", since=2020, exclude_geos=("sim_merged",))
    assert series.year.min() >= 2020
    assert "sim_merged" not in series.geos
    part = series.rows.loc[series.part_year, "period"]
    assert list(part) == ["2022-01/2022-03"]


def test_republished_identical_values_count_once(sim_data):
    with (sim_data / "observations.csv").open("a", encoding="utf-8") as f:
        f.write("sim_south,sim_share,2018,20.0,src_sim,,,,,republished,\n")
        f.write("sim_south,sim_share,2023,50,src_sim,,,,,source A; disagrees with B,\n")
        f.write("sim_south,sim_share,2023,53,src_sim,,,,,source B; disagrees with A,\n")
    ds = load_dataset(sim_data)
    series = select_series(ds, "sim_share")
    south = series.rows[series.rows["series_geo"] == "sim_south"]
    assert (south["year"] == 2018).sum() == 1   # same value twice: one measurement
    assert (south["year"] == 2023).sum() == 2   # different values: both are evidence


def test_gates_fail_loudly_naming_the_series():
    diag = Diagnostics(max_rhat=1.04, min_ess_bulk=120.0, divergences=3,
                       worst_rhat="beta[da_nang]", worst_ess="tau_beta", sampling_seconds=1.0)
    with pytest.raises(ConvergenceError) as caught:
        check_gates("'online_dossier_share' (series: da_nang)", diag, GateThresholds(),
                    SamplerSettings(chains=2))
    message = str(caught.value)
    for part in ("online_dossier_share", "R-hat 1.040", "beta[da_nang]", "ESS 120", "tau_beta",
                 "3 divergent", "Try:", "more chains (sampler.chains"):
        assert part in message
    check_gates("x", Diagnostics(1.005, 800.0, 0, "a", "b", 1.0), GateThresholds())
    # Divergences alone: more chains would not help, so they are not suggested.
    with pytest.raises(ConvergenceError) as caught:
        check_gates("x", Diagnostics(1.001, 900.0, 2, "a", "b", 1.0), GateThresholds())
    assert "divergent" in str(caught.value) and "more chains" not in str(caught.value)
    # Already 4 chains or more: not suggested again.
    with pytest.raises(ConvergenceError) as caught:
        check_gates("x", diag, GateThresholds(), SamplerSettings(chains=6))
    assert "R-hat" in str(caught.value) and "more chains" not in str(caught.value)


@pytest.mark.parametrize(("first", "chains"), [
    (Diagnostics(1.08, 900.0, 0, "a", "b", 1.0), 4),   # R-hat: retried with 4 chains
    (Diagnostics(1.001, 60.0, 0, "a", "b", 1.0), 4),   # ESS: the same
    (Diagnostics(1.001, 900.0, 3, "a", "b", 1.0), 2),  # divergences only: chains unchanged
])
def test_the_retry_doubles_tuning_and_adds_chains_when_mixing_failed(monkeypatch, first, chains):
    import tnmodel.models as models

    tried = []

    def fake_sample(family, series, spec, sampler, seed, progressbar):
        tried.append(sampler)
        return None, first  # fails every time: the second failure is reported

    monkeypatch.setattr(models, "_sample", fake_sample)
    series = series_from_arrays("sim_share", ("sim_a",), [0, 0, 0], [2018, 2019, 2020],
                                [10.0, 20.0, 30.0])
    sampler = SamplerSettings(chains=2, tune=500, target_accept=0.99)
    with pytest.raises(ConvergenceError):
        fit_series(series, ModelSpec(family="logit_trend"), sampler, 1, GateThresholds())
    assert [t.chains for t in tried] == [2, chains]
    assert (tried[1].tune, tried[1].target_accept) == (1000, 0.995)
    assert tried[1] == retry_sampler(sampler, first, GateThresholds())
    # Six chains asked for: the retry never runs fewer.
    assert retry_sampler(sampler.model_copy(update={"chains": 6}), first,
                         GateThresholds()).chains == 6


def test_mcse_of_mean_matches_iid_formula_for_independent_draws():
    rng = np.random.default_rng(3)
    met = (rng.random(4000) < 0.3).astype(float)
    iid = np.sqrt(met.mean() * (1 - met.mean()) / met.size)
    assert mcse_of_mean(met, chains=4) == pytest.approx(iid, rel=0.15)
    assert mcse_of_mean(np.ones(4000), chains=4) == 0.0


#: Truths are drawn in the range of real adoption series (levels within ~5-95%), so the
#: simulated shares do not hit the 0.5% / 99.5% logit clip; the fit uses the default priors.
SIMULATION_PRIORS = LogitTrendPriors(level_sd=0.5, level_spread_mean=0.8, pace_mean=0.3,
                                     pace_sd=0.1, pace_spread_mean=0.15)


def _simulated_series(seed: int, geos: int, years: np.ndarray):
    rng = np.random.default_rng(seed)
    truth = simulate(geos, years, SIMULATION_PRIORS, rng)
    names = tuple(f"sim_geo_{i}" for i in range(geos))
    gi, yi = np.meshgrid(np.arange(geos), np.arange(len(years)), indexing="ij")
    percent = inv_logit_percent(truth["y"][gi.ravel(), yi.ravel()])
    return truth, series_from_arrays("sim_share", names, gi.ravel(), years[yi.ravel()], percent)


@pytest.mark.slow
def test_parameter_recovery_on_simulated_data():
    """8 simulated panels of 6 geos x 8 years: the posteriors of the 48 true paces are
    calibrated (90% intervals cover about 90%, standardised errors have sd about 1) and
    informative (much narrower than the prior)."""
    years = np.arange(2015, 2023)
    z_scores, covered = [], 0
    for seed in range(11, 19):
        truth, series = _simulated_series(seed, geos=6, years=years)
        fit = fit_series(series, ModelSpec(), SamplerSettings(chains=4, draws=500, tune=500),
                         seed=seed, gates=GateThresholds(min_ess_bulk=200, max_rhat=1.02))
        beta = fit.draws["beta"]
        lo, hi = np.quantile(beta, [0.05, 0.95], axis=0)
        covered += int(((lo <= truth["beta"]) & (truth["beta"] <= hi)).sum())
        z_scores.extend((truth["beta"] - beta.mean(axis=0)) / beta.std(axis=0))
        assert np.mean(hi - lo) < 0.5 * (2 * 1.645 * LogitTrendPriors().pace_sd)
        sigma = fit.draws["sigma_obs"]
        assert np.quantile(sigma, 0.005) < truth["sigma_obs"] < np.quantile(sigma, 0.995)
    # Binomial(48, 0.9): 38..47 covered holds with probability > 0.97 when calibrated.
    assert 38 <= covered <= 47, f"{covered}/48 true paces inside their 90% intervals"
    assert 0.7 < np.std(z_scores) < 1.3, f"sd of standardised errors {np.std(z_scores):.2f}"
    assert abs(np.mean(z_scores)) < 0.4, f"mean standardised error {np.mean(z_scores):.2f}"


@pytest.mark.slow
def test_same_seed_same_draws_different_seed_different_draws():
    _, series = _simulated_series(5, geos=3, years=np.arange(2018, 2024))
    settings = SamplerSettings(chains=2, draws=200, tune=200)
    loose = GateThresholds(min_ess_bulk=50, max_rhat=1.1)
    a = fit_series(series, ModelSpec(), settings, seed=1, gates=loose)
    b = fit_series(series, ModelSpec(), settings, seed=1, gates=loose)
    c = fit_series(series, ModelSpec(), settings, seed=2, gates=loose)
    np.testing.assert_array_equal(a.draws["beta"], b.draws["beta"])
    assert not np.array_equal(a.draws["beta"], c.draws["beta"])


@pytest.mark.slow
def test_a_reused_compiled_structure_labels_the_posterior_with_this_series_geos():
    """Two one-geo series share one compiled model; each posterior (and so each gate
    message) names its own geo, not the geo the model was first compiled for."""
    from tnmodel.models.sampling import compile_stats

    _, panel = _simulated_series(6, geos=2, years=np.arange(2016, 2024))
    settings = SamplerSettings(chains=2, draws=100, tune=100)
    loose = GateThresholds(min_ess_bulk=10, max_rhat=1.5, max_divergences=100)
    fits = []
    for g, name in enumerate(("sim_first", "sim_second")):
        mine = panel.geo_index == g
        series = series_from_arrays("sim_share", (name,), np.zeros(mine.sum(), int),
                                    panel.year[mine], inv_logit_percent(panel.y[mine]))
        compiled = compile_stats()["compiled"]
        fits.append(fit_series(series, ModelSpec(), settings, seed=3, gates=loose))
    assert compile_stats()["compiled"] == compiled  # the second fit reused the first's model
    for fit, name in zip(fits, ("sim_first", "sim_second"), strict=True):
        assert list(fit.posterior.posterior["beta"].coords["geo"].values) == [name]
