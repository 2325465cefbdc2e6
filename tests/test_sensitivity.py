"""Power-scaling the prior: the reweighted probabilities against closed forms, and the log
prior against scipy. SIMULATED data only."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tnmodel.models.sensitivity import (
    MAX_PARETO_K,
    POWERS,
    PriorPower,
    power_weights,
    prior_power,
)


def _conjugate(prior_sd: float, power: float, data_sd: float, n: int, ybar: float,
               prior_mean: float = 0.0) -> tuple[float, float]:
    """Posterior mean and sd of a normal mean under the prior N(prior_mean, prior_sd)**power
    (a normal prior raised to a power is N(prior_mean, prior_sd / sqrt(power)))."""
    prior_precision = power / prior_sd**2
    precision = prior_precision + n / data_sd**2
    mean = (prior_precision * prior_mean + n / data_sd**2 * ybar) / precision
    return mean, precision**-0.5


@pytest.mark.parametrize("power", POWERS)
@pytest.mark.parametrize("n", [1, 20])
def test_reweighted_draws_give_the_posterior_of_the_scaled_prior(power, n):
    # SIMULATED: exact draws of a conjugate normal posterior (prior N(0, 1), data sd 2), so
    # the posterior under the prior raised to a power is known in closed form.
    rng = np.random.default_rng(3)
    ybar, prior_sd, data_sd = 1.5, 1.0, 2.0
    mean, sd = _conjugate(prior_sd, 1.0, data_sd, n, ybar)
    theta = rng.normal(mean, sd, 40_000)
    weights, k = power_weights(stats.norm(0.0, prior_sd).logpdf(theta), power)
    assert k <= MAX_PARETO_K
    power_model = PriorPower(("theta",), {power: weights}, {power: k})
    scaled_mean, scaled_sd = _conjugate(prior_sd, power, data_sd, n, ybar)
    for threshold in (0.0, 0.5, 1.0):
        exact = stats.norm(scaled_mean, scaled_sd).sf(threshold)
        assert power_model.probability(theta > threshold, power)[0] == pytest.approx(
            exact, abs=0.012)
    # With one observation the prior carries much of the result and moves P(theta > 0.5)
    # by more than 0.05 (the note's threshold); with twenty it moves it less.
    unscaled = float((theta > 0.5).mean())
    moved = abs(power_model.probability(theta > 0.5, power)[0] - unscaled)
    assert (moved > 0.05) if n == 1 else (moved < 0.05)


def test_the_monte_carlo_error_of_a_reweighted_probability_is_its_spread_over_repeats():
    # SIMULATED: 300 independent sets of 2,000 exact posterior draws (one observation, so
    # the weights are uneven); the sd of the reweighted P(theta > 1) across the sets should
    # be what the error formula says for one set.
    rng = np.random.default_rng(11)
    mean, sd = _conjugate(1.0, 1.0, 2.0, 1, 1.5)
    estimates, errors = [], []
    for _ in range(300):
        theta = rng.normal(mean, sd, 2_000)
        weights, k = power_weights(stats.norm(0.0, 1.0).logpdf(theta), 0.5)
        p, mcse = PriorPower(("theta",), {0.5: weights}, {0.5: k}).probability(theta > 1.0,
                                                                                0.5)
        estimates.append(p)
        errors.append(mcse)
    # A few sets have Pareto k over 0.7 (weakening a prior the posterior is close to gives
    # heavy weights): those report nothing.
    assert np.isnan(estimates).mean() < 0.1
    assert np.nanstd(estimates) == pytest.approx(np.nanmean(errors), rel=0.15)


def test_a_prior_flat_over_the_draws_leaves_them_as_they_are():
    weights, k = power_weights(np.full(500, -3.2), 0.5)
    assert k == 0.0 and np.allclose(weights, 1 / 500)


def test_unreliable_weights_give_no_probability_and_sizes_must_match():
    power = PriorPower(("theta",), {0.5: np.full(4, 0.25)}, {0.5: 0.9})
    assert np.isnan(power.probability(np.array([1, 0, 1, 1]), 0.5)).all()
    with pytest.raises(ValueError, match="3 values for 4 posterior draws"):
        PriorPower(("theta",), {0.5: np.full(4, 0.25)}, {0.5: 0.1}).probability(
            np.ones(3), 0.5)


@pytest.mark.slow
def test_log_prior_of_the_logit_trend_is_the_sum_of_its_hyper_priors():
    # SIMULATED: three geos, one with a single value. "The prior" is the six hyper-parameters
    # (not the geos' levels and paces); its log density at each draw is the sum of their
    # densities, here computed with scipy from the priors' settings.
    from tnmodel.models import GateThresholds, ModelSpec, SamplerSettings, fit_series
    from tnmodel.models.logit_trend import LogitTrendPriors
    from tnmodel.models.sensitivity import log_prior
    from tnmodel.models.series import series_from_arrays

    geo_index = np.r_[np.zeros(8, int), np.ones(8, int), [2]]
    year = np.r_[np.arange(2015, 2023), np.arange(2015, 2023), [2022]]
    rng = np.random.default_rng(1)
    percent = np.clip(30 + 5 * (year - 2015) + rng.normal(0, 1, year.size), 1, 99)
    series = series_from_arrays("sim_share", ("sim_a", "sim_b", "sim_c"), geo_index, year,
                                percent)
    fit = fit_series(series, ModelSpec(family="logit_trend"),
                     SamplerSettings(chains=2, draws=300, tune=300), 3,
                     GateThresholds(max_rhat=1.1, min_ess_bulk=50, max_divergences=50))
    density, names = log_prior(fit)
    assert set(names) == {"mu_alpha", "tau_alpha", "mu_beta", "tau_beta", "sigma_obs",
                          "sigma_part"}
    p = LogitTrendPriors()
    post = fit.posterior.posterior
    draw = {name: np.asarray(post[name].values).ravel() for name in names}
    expected = (stats.norm(p.level_mean, p.level_sd).logpdf(draw["mu_alpha"])
                + stats.gamma(2.0, scale=p.level_spread_mean / 2.0).logpdf(draw["tau_alpha"])
                + stats.norm(p.pace_mean, p.pace_sd).logpdf(draw["mu_beta"])
                + stats.gamma(2.0, scale=p.pace_spread_mean / 2.0).logpdf(draw["tau_beta"])
                + stats.lognorm(p.obs_sd_log_sd, scale=p.obs_sd_median).logpdf(draw["sigma_obs"])
                + stats.halfnorm(scale=p.part_year_sd).logpdf(draw["sigma_part"]))
    assert np.allclose(density, expected, rtol=1e-6)
    power = prior_power(fit)
    assert power.parameters == names and set(power.weights) == set(POWERS)
    for weights in power.weights.values():
        assert weights.shape == (fit.draws["beta"].shape[0],)
        assert np.isclose(weights.sum(), 1.0)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The effect of Potentials:UserWarning")
@pytest.mark.parametrize("family", ["linear", "logistic", "logit_trend", "transition",
                                    "transition_local", "transition_state"])
def test_every_family_s_prior_scales_its_pooled_pace_as_a_normal_should(family):
    # SIMULATED: 4,000 draws from the family's prior stand in for a posterior. Raised to the
    # power 2, the pooled pace's Normal(pace_mean, pace_sd) prior becomes one with sd
    # pace_sd / sqrt(2) (the hyper-priors are independent), so the reweighted draws must
    # have that sd and mean.
    import types

    import pymc as pm

    from tnmodel.models import FAMILIES
    from tnmodel.models.sbc import design_series, sbc_priors
    from tnmodel.models.sensitivity import log_prior

    series, priors = design_series("dense"), sbc_priors(family)
    with FAMILIES[family].build_model(series, priors):
        draws = pm.sample_prior_predictive(draws=4000, random_seed=5, var_names=None)
    fit = types.SimpleNamespace(spec=types.SimpleNamespace(family=family, priors=priors),
                                series=series,
                                posterior=types.SimpleNamespace(posterior=draws.prior))
    density, names = log_prior(fit)
    pace = f"mu_{FAMILIES[family].pace_var}"
    assert pace in names and np.isfinite(density).all()
    assert not {"alpha", "beta", "omega", "z_beta", "z_omega"} & set(names)
    weights, k = power_weights(density, 2.0)
    if family == "logistic":
        # Its ceiling's Beta(9.5, 0.5) prior has a density without bound at 1: squared, the
        # weights' tail is too heavy to tell (k over 0.7), and no number would be reported.
        assert k > MAX_PARETO_K
        return
    assert k <= MAX_PARETO_K
    values = np.asarray(draws.prior[pace].values).ravel()
    mean = weights @ values
    assert mean == pytest.approx(priors.pace_mean, abs=0.05 * priors.pace_sd)
    assert np.sqrt(weights @ (values - mean) ** 2) == pytest.approx(
        priors.pace_sd / np.sqrt(2.0), rel=0.08)
