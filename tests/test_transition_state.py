"""The state-space transition family (issue 3, tenth round): filter, forecast, limits.

Every series here is SIMULATED (``sim_*`` geos).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tnmodel.models import (
    FAMILIES,
    inv_logit_percent,
    series_from_arrays,
)
from tnmodel.models.transition_local import UnsupportedSeries
from tnmodel.models.transition_state import (
    TRANSITION_STATE,
    TransitionStatePriors,
    _arrays,
    _invlogit_np,
    _softplus_np,
    draw_states,
    grid_shape,
    kalman_filter,
    pace_np,
)

SIGMA_SRC = np.array([0.05, 0.15, 0.25])


def _potential(model, fixed_values: dict) -> float:
    """The model's likelihood (its potential) with the parameters fixed to ``fixed_values``."""
    import pymc as pm

    fixed = pm.do(model, fixed_values)
    point = fixed.initial_point()
    fn = fixed.compile_fn(fixed.potentiallogp, inputs=fixed.value_vars,
                          on_unused_input="ignore")
    return float(fn({v.name: point[v.name] for v in fixed.value_vars}))


def _sim_two_geos():
    """Two simulated geos: gaps of 1-3 years, and a year with an annual and a part-year value."""
    geo = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
    years = np.array([2010, 2011, 2013, 2013, 2016, 2012, 2013, 2014, 2017])
    logits = np.array([-2.0, -1.6, -0.9, -1.1, 0.6, -1.0, -0.7, -0.6, 0.4])
    part = np.array([0, 0, 0, 1, 0, 0, 0, 0, 0], bool)
    series = series_from_arrays("sim", ("sim_a", "sim_b"), geo, years,
                                inv_logit_percent(logits), part_year=part)
    return series


def _dense_loglik(series, omega, phi, sigma_u, sigma_obs, sigma_part, level_mean, level_sd):
    """The linear-Gaussian case (constant pace ``omega[g]``) written as one multivariate
    normal per geo over its values, minus its first value's marginal term."""
    total = 0.0
    for g in range(len(series.geos)):
        mine = np.flatnonzero(series.geo_index == g)
        t = series.year[mine] - series.year[mine].min()
        n = int(t.max()) + 1
        lag = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
        cov_x = sigma_u**2 / (1 - phi**2) * phi**lag  # stationary AR(1) excess pace
        sums = np.tril(np.ones((n, n)))
        sums[:, 0] = 0.0  # level[t] = level[0] + pace t + x[1] + ... + x[t]
        cov_level = level_sd**2 + sums @ cov_x @ sums.T
        error = sigma_obs**2 + series.part_year[mine] * sigma_part**2
        cov = cov_level[np.ix_(t, t)] + np.diag(error)
        mean = level_mean + omega[g] * t
        y = series.y[mine]
        total += stats.multivariate_normal(mean, cov).logpdf(y)
        total -= stats.norm(mean[0], np.sqrt(cov[0, 0])).logpdf(y[0])
    return total


def test_filter_likelihood_equals_the_dense_gaussian_when_the_pace_is_constant():
    # With floor = 1 the pace is omega at every level (and far from the rounded corner when
    # the asymptote is small): a linear-Gaussian state space, whose likelihood the Kalman
    # filter gives exactly.
    series = _sim_two_geos()
    model = TRANSITION_STATE.build_model(series, TransitionStatePriors())
    floor = 1.0 - 1e-12
    loglik = _potential(model, {
        "z_omega": np.array([0.5, -1.0]), "mu_omega": 0.3, "tau_omega": 0.2,
        "asymptote": 0.05, "floor": floor, "phi": 0.6, "sigma_u": 0.15,
        "sigma_src": SIGMA_SRC, "sigma_part": 0.3})
    omega = (0.3 + 0.2 * np.array([0.5, -1.0])) * floor
    expected = _dense_loglik(series, omega, 0.6, 0.15, 0.05, 0.3, 0.0, 2.0)
    assert loglik == pytest.approx(expected, rel=1e-9)


def test_numpy_filter_of_the_forecast_equals_the_model_likelihood():
    # extract_draws runs the filter in numpy; it must be the model's own filter.
    series = _sim_two_geos()
    priors = TransitionStatePriors()
    model = TRANSITION_STATE.build_model(series, priors)
    loglik = _potential(model, {
        "z_omega": np.array([0.5, -1.0]), "mu_omega": 0.4, "tau_omega": 0.2,
        "asymptote": 0.8, "floor": 0.2, "phi": 0.6, "sigma_u": 0.15,
        "sigma_src": SIGMA_SRC, "sigma_part": 0.3})
    arrays = _arrays(series, priors)
    error = SIGMA_SRC[arrays["src"]] ** 2 + arrays["part"] * 0.3**2
    omega = 0.4 + 0.2 * np.array([0.5, -1.0])
    numpy_loglik, _ = kalman_filter(
        arrays["y"], arrays["has"], arrays["scored"], error, omega, 0.8, 0.2, 0.6, 0.15,
        0.0, 2.0, grid_shape(series), _invlogit_np, _softplus_np, np.log)
    assert float(numpy_loglik) == pytest.approx(loglik, rel=1e-9)


def test_extended_filter_is_close_to_the_exact_likelihood_of_a_nonlinear_pace():
    # The extended filter linearises the pace. With precise values (as the panels have) the
    # filtered level is known to a few hundredths of a logit, so the approximation is small:
    # compare with the exact likelihood by importance sampling over the latent path.
    rng = np.random.default_rng(3)
    years = np.arange(2010, 2016)
    y = np.array([-1.5, -1.1, -0.8, -0.3, 0.0, 0.45])
    series = series_from_arrays("sim", ("sim_a",), np.zeros(6, int), years,
                                inv_logit_percent(y))
    omega, A, f, phi, s, e = 0.5, 0.8, 0.2, 0.5, 0.12, 0.05
    arrays = _arrays(series, TransitionStatePriors())
    ekf, _ = kalman_filter(arrays["y"], arrays["has"], arrays["scored"],
                           np.full(arrays["y"].shape, e**2), np.array([omega]), A, f, phi, s,
                           0.0, 2.0, grid_shape(series), _invlogit_np, _softplus_np, np.log)
    # Exact: p(y[1:] | y[0]) by sampling paths from the prior given the first value (level
    # = y[0] + its error; excess stationary) and averaging the likelihood of the rest.
    n = 400_000
    shrink = 4.0 / (4.0 + e**2)  # level | y[0] under its Normal(0, 2) prior
    level = shrink * y[0] + np.sqrt(shrink) * e * rng.standard_normal(n)
    excess = s / np.sqrt(1 - phi**2) * rng.standard_normal(n)
    log_terms = np.zeros(n)
    for t in range(1, len(y)):
        excess = phi * excess + s * rng.standard_normal(n)
        level = level + pace_np(level, omega, A, f) + excess
        log_terms += stats.norm.logpdf(y[t], level, e)
    exact = np.log(np.mean(np.exp(log_terms - log_terms.max()))) + log_terms.max()
    assert float(ekf) == pytest.approx(exact, abs=0.01), (float(ekf), exact)


def test_pace_is_the_transition_pace_with_a_rounded_corner_and_its_exact_slope():
    from tnmodel.models.transition import rate_np
    from tnmodel.models.transition_state import FLOOR_SMOOTHING, pace_and_slope

    level = np.linspace(-4.0, 4.0, 2001)
    pace, slope = pace_and_slope(level, 0.5, 0.8, 0.2, _invlogit_np, _softplus_np)
    sharp = rate_np(level, 0.5, 0.8, 0.2)
    assert np.all(pace >= sharp - 1e-12)
    assert np.max(pace - sharp) <= np.log(2) * FLOOR_SMOOTHING * 0.5
    assert np.max(pace - sharp) > 0.5 * np.log(2) * FLOOR_SMOOTHING * 0.5  # rounded at all
    numeric = np.gradient(pace, level)
    assert np.max(np.abs(numeric - slope)[1:-1]) < 1e-3
    assert np.max(np.abs(np.diff(slope))) < 0.01  # no jump where the floor takes over


def test_forecast_one_year_ahead_has_the_filter_predictive_moments():
    series = _sim_two_geos()
    n = 200_000
    state = np.array([-0.2, 0.05, 0.01, 0.002, 0.004])  # m_level, m_excess, p11, p12, p22
    draws = {
        "omega": np.full((n, 2), 0.4), "asymptote": np.full(n, 0.9), "floor": np.full(n, 1.0),
        "phi": np.full(n, 0.6), "sigma_u": np.full(n, 0.1),
        "sigma_src": np.tile(SIGMA_SRC, (n, 1)), "sigma_part": np.full(n, 0.3),
        "state": np.broadcast_to(state, (n, 2, 5)).copy(),
        "last_year": np.array([2016.0, 2017.0]), "main_type": np.array([0, 0])}
    values, noise = TRANSITION_STATE.forecast(draws, series, np.array([2017, 2018]),
                                              np.random.default_rng(0))
    logit = np.log(values / (100 - values))
    one_ahead = np.stack([logit[:, 0, 0], logit[:, 1, 1]])  # each geo one year on
    m1, m2, p11, p12, p22 = state
    mean = m1 + 0.4 + 0.6 * m2
    var = p11 + 2 * 0.6 * p12 + 0.36 * p22 + 0.1**2 + 0.05**2
    assert one_ahead.mean(axis=1) == pytest.approx([mean, mean], abs=0.002)
    assert one_ahead.var(axis=1) == pytest.approx([var, var], rel=0.02)
    assert noise.std() == pytest.approx(0.05, rel=0.02)


def test_drawn_states_have_the_filter_covariance():
    state = np.broadcast_to(np.array([1.0, -0.1, 0.04, 0.006, 0.003]), (300_000, 1, 5))
    level, excess = draw_states(state, np.random.default_rng(1))
    cov = np.cov(np.stack([level[:, 0], excess[:, 0]]))
    assert cov == pytest.approx(np.array([[0.04, 0.006], [0.006, 0.003]]), abs=3e-4)
    assert level.mean() == pytest.approx(1.0, abs=0.002)


def test_bounds_and_geos_without_values_are_refused_naming_this_family():
    series = _sim_two_geos()
    bounded = series.__class__(**{**series.__dict__,
                                  "kind": np.where(np.arange(series.n_obs) == 2, "lower",
                                                   "exact")})
    with pytest.raises(UnsupportedSeries, match="transition_state.*use family 'transition'"):
        TRANSITION_STATE.data_arrays(bounded, TransitionStatePriors())
    assert "transition_state" in FAMILIES
    assert TRANSITION_STATE.unsupported(bounded) is not None


@pytest.mark.slow
def test_fit_and_forecast_cover_simulated_held_out_years():
    # SIMULATED panel from the family's own process; fit on 12 years, forecast 3 more. (With
    # the sharp corner at the floor this fit did not mix: R-hat 1.35 on tau_omega.)
    from tnmodel.models import GateThresholds, ModelSpec, SamplerSettings, fit_series

    priors = TransitionStatePriors()
    geos = tuple(f"sim_{i}" for i in range(8))
    years = np.arange(2005, 2020)
    skeleton = series_from_arrays("sim", geos, np.repeat(np.arange(8), years.size),
                                  np.tile(years, 8), np.full(8 * years.size, 50.0))
    truth, y = TRANSITION_STATE.simulate(skeleton, priors, np.random.default_rng(7))
    seen = skeleton.year <= 2016
    series = series_from_arrays("sim", geos, skeleton.geo_index[seen], skeleton.year[seen],
                                inv_logit_percent(y[seen]))
    fit = fit_series(series, ModelSpec(family="transition_state"),
                     SamplerSettings(chains=2, draws=300, tune=300), seed=1,
                     gates=GateThresholds(max_rhat=1.1, min_ess_bulk=50, max_divergences=5))
    values, _ = TRANSITION_STATE.forecast(fit.draws, series, np.array([2017, 2018, 2019]),
                                          np.random.default_rng(2))
    actual = inv_logit_percent(y[~seen]).reshape(8, 3)
    lo, hi = np.percentile(values, [2.5, 97.5], axis=0)
    inside = (actual >= lo) & (actual <= hi)
    assert inside.mean() >= 0.75, (inside, truth)
