"""The local transition family (issue 3, third round): likelihood, forecast, limits, recovery.

Every series here is SIMULATED (``sim_*`` geos).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats

from tnmodel.models import (
    FAMILIES,
    GateThresholds,
    ModelSpec,
    SamplerSettings,
    fit_series,
    inv_logit_percent,
    series_from_arrays,
)
from tnmodel.models.transition_local import (
    NO_SURPRISE,
    TRANSITION_LOCAL,
    TransitionLocalPriors,
    UnsupportedSeries,
    ar1_onward,
    ar1_path,
    filtered_blips,
    fitted_conditionals,
    innovation_variance,
    skew_normal_logp,
    surprise_pool,
    surprise_runs,
    upward_jumps,
)


def _pace(x, omega, asymptote, floor, power=1.0):
    return omega * max(floor, 1.0 - ((1.0 / (1.0 + math.exp(-x))) / asymptote) ** power)


def _loglik_by_hand(y, years, omega, asymptote, floor, phi, sigma_u, sigma_obs,
                    scaling="constant", nu=None, blips=None, power=1.0, trend=0.0,
                    drift=None, sd_walk=None, sat=0.0, jumps=None, sd_path=None,
                    scaling_power=1.0):
    """One geo's log-likelihood written as a loop over its observations (years ascending).
    ``blips = (rate, sd)``: each value is a transient blip with probability ``rate``;
    ``trend``: the innovation sd is ``sigma_u * exp(trend * (year - last year))``;
    ``drift``: the pace of the step into year ``y`` is ``omega + drift[y - years[0]]``;
    ``sd_walk``: the innovation sd in year ``y`` is ``sigma_u * exp(sd_walk[y - years[0]] -
    sd_walk[years[-1] - years[0]])``; ``sd_path``: it is ``sigma_u * exp(sd_path[y -
    years[0]])``; ``sat``: each value has an extra error of ``sat / (1 -
    p)`` at its share ``p`` (at most 0.99); ``jumps = (rate, sd)``: each interval has, with
    probability ``1 - (1 - rate)**k``, a jump up of half-normal scale ``sd`` (times the
    innovations' sqrt(V_k)), and the whole is centred."""
    total, excess_prev = 0.0, 0.0
    gap_prev = 0  # the previous value's own gap (0: it is the geo's first)
    for i in range(1, len(y)):
        k = years[i] - years[i - 1]
        level = y[i - 1]
        for step in range(1, k + 1):
            pace = omega if drift is None else omega + drift[years[i - 1] + step - years[0]]
            level += _pace(level, pace, asymptote, floor, power)
        carry = sum(phi**m for m in range(1, k + 1)) * excess_prev
        var = sigma_u**2 * sum(((1 - phi**m) / (1 - phi)) ** 2 for m in range(1, k + 1))
        if scaling in ("binomial", "learned_power"):
            p = min(max(1.0 / (1.0 + math.exp(-y[i - 1])), 0.01), 0.99)
            var *= (0.25 / (p * (1 - p))) ** (scaling_power if scaling != "binomial" else 1.0)
        var *= math.exp(2 * trend * (years[i] - years[-1]))
        if sd_walk is not None:
            var *= math.exp(2 * (sd_walk[years[i] - years[0]] - sd_walk[years[-1] - years[0]]))
        if sd_path is not None:
            var *= math.exp(2 * sd_path[years[i] - years[0]])
        shares = [min(1.0 / (1.0 + math.exp(-v)), 0.99) for v in (y[i - 1], y[i])]
        scale = math.sqrt(var + 2 * sigma_obs**2 + sum((sat / (1 - p)) ** 2 for p in shares))
        if blips is not None:
            # A blip b in y[i] adds b; in y[i - 1] it moves the start by b and the carried
            # excess pace by b / gap_prev per year, i.e. the mean by b (1 + S_k / gap_prev).
            rate, sd = blips
            lever = 1 + (sum(phi**m for m in range(1, k + 1)) / gap_prev if gap_prev else 0)
            cases = [((1 - rate) ** 2, 0.0), (rate * (1 - rate), sd**2),
                     (rate * (1 - rate), (lever * sd) ** 2),
                     (rate**2, sd**2 + (lever * sd) ** 2)]
            total += math.log(sum(w * stats.norm.pdf(y[i], level + carry,
                                                     math.sqrt(scale**2 + v))
                                  for w, v in cases))
        elif jumps is not None:  # a jump (half-normal up, plus the normal) or none
            rate, jump_sd = jumps
            width = jump_sd * math.sqrt(var) / sigma_u
            hit = 1 - (1 - rate) ** k
            centre = level + carry - hit * width * math.sqrt(2 / math.pi)
            # The sum's density, by numerical convolution of the half-normal and the normal.
            grid = np.linspace(0.0, 12 * width, 20001)
            density = np.trapezoid(stats.halfnorm.pdf(grid, scale=width)
                                   * stats.norm.pdf(y[i] - centre - grid, 0, scale), grid)
            total += math.log((1 - hit) * stats.norm.pdf(y[i], centre, scale) + hit * density)
        else:
            total += (stats.norm.logpdf(y[i], level + carry, scale) if nu is None
                      else stats.t.logpdf(y[i], nu, level + carry, scale))
        excess_prev = (y[i] - level) / k
        gap_prev = k
    return total


def _observed_loglik(model, fixed_values: dict) -> float:
    """The observed log-likelihood of ``model`` with its parameters fixed to ``fixed_values``."""
    import pymc as pm

    fixed = pm.do(model, fixed_values)
    point = fixed.initial_point()
    fn = fixed.compile_fn(fixed.observedlogp, inputs=fixed.value_vars, on_unused_input="ignore")
    return fn({v.name: point[v.name] for v in fixed.value_vars})


def _gappy_series():
    """One simulated geo's years and series: logits -2.0 .. 0.6 with gaps of 1-3 years."""
    years = np.array([2010, 2011, 2013, 2014, 2017])
    y = np.array([-2.0, -1.6, -0.9, -0.5, 0.6])
    return years, series_from_arrays("sim", ("sim_a",), np.zeros(5, int), years,
                                     inv_logit_percent(y))


#: The parameters the gappy series' likelihood tests fix, and their values in the loop.
_GAPPY_PARAMETERS = {"omega": np.array([0.4]), "asymptote": 0.8, "floor": 0.2, "phi": 0.6,
                     "sigma_u": 0.15, "sigma_src": np.array([0.05, 0.15, 0.25])}
#: Seven steps of a walk: the gappy series' grid of years is 2010-2017.
_WALK = np.array([-2.0, -1.0, 0.5, 0.0, -1.0, 1.0, 0.5])
#: The standard normal draws of a mean-reverting sd's AR over the same eight years.
_AR_DRAWS = np.array([-1.0, 0.5, 2.0, -0.5, 0.0, 1.0, -1.5, 0.3])


def _ar1_by_hand(rho, tau, draws):
    """The stationary AR(1) of log sigma_u as a recursion: s0 = tau z0, then rho s +
    tau sqrt(1 - rho^2) z."""
    path = [tau * draws[0]]
    for z in draws[1:]:
        path.append(rho * path[-1] + tau * math.sqrt(1 - rho**2) * z)
    return np.array(path)


def _gappy_loglik_by_hand(series, years, **options) -> float:
    """The loop's log-likelihood of the gappy series at :data:`_GAPPY_PARAMETERS`."""
    return (_loglik_by_hand(series.y, years, 0.4, 0.8, 0.2, 0.6, 0.15, 0.05, **options)
            + stats.norm.logpdf(series.y[0], series.y[0], 1.0))  # first value: a constant


@pytest.mark.parametrize("scaling", ["constant", "binomial"])
def test_model_log_likelihood_equals_the_process_written_as_a_loop(scaling):
    years, series = _gappy_series()

    model = TRANSITION_LOCAL.build_model(
        series, TransitionLocalPriors(innovation_scaling=scaling))
    assert "omega" in {rv.name for rv in model.free_RVs}
    loglik = _observed_loglik(model, _GAPPY_PARAMETERS)
    assert loglik == pytest.approx(_gappy_loglik_by_hand(series, years, scaling=scaling),
                                   rel=1e-9)


def test_pace_curve_power_log_likelihood_equals_the_loop_with_that_curve():
    years, series = _gappy_series()

    model = TRANSITION_LOCAL.build_model(series, TransitionLocalPriors(pace_curve_power=3.0))
    loglik = _observed_loglik(model, _GAPPY_PARAMETERS)
    expected = _gappy_loglik_by_hand(series, years, power=3.0)
    assert loglik == pytest.approx(expected, rel=1e-9)
    # The power is data of the compiled graph (so a compiled structure serves every power):
    # the default model with the data set to 3 is the same likelihood.
    import pymc as pm

    default = TRANSITION_LOCAL.build_model(series, TransitionLocalPriors())
    with default:
        pm.set_data({"pace_power": np.array(3.0)})
    assert _observed_loglik(default, _GAPPY_PARAMETERS) == pytest.approx(expected, rel=1e-9)
    # The series climbs to 65% of an 80% asymptote, where the two curves differ.
    assert expected != pytest.approx(_gappy_loglik_by_hand(series, years), rel=1e-3)


@pytest.mark.parametrize(("settings", "fixed", "loop"), [
    ({"innovation_sd_trend": "log_linear"}, {"sigma_u_trend": -0.1}, {"trend": -0.1}),
    ({"innovation_sd_trend": "random_walk"}, {"tau_sd_walk": 0.2, "z_sd_walk": _WALK},
     {"sd_walk": np.r_[0.0, 0.2 * np.cumsum(_WALK)]}),
    ({"pace_drift": "random_walk"}, {"tau_drift": 0.05, "z_drift": _WALK[None, :]},
     {"drift": np.r_[0.0, 0.05 * np.cumsum(_WALK)]}),
    ({"innovation_sd_trend": "mean_reverting"},
     {"rho_sd": 0.7, "tau_sd_path": 0.3, "z_sd_path": _AR_DRAWS},
     {"sd_path": _ar1_by_hand(0.7, 0.3, _AR_DRAWS)}),
], ids=["sd_trend", "sd_walk", "pace_drift", "sd_ar1"])
def test_eleventh_round_options_log_likelihood_equals_the_loop(settings, fixed, loop):
    years, series = _gappy_series()
    model = TRANSITION_LOCAL.build_model(series, TransitionLocalPriors(**settings))
    expected = _gappy_loglik_by_hand(series, years, **loop)
    assert _observed_loglik(model, {**_GAPPY_PARAMETERS, **fixed}) == pytest.approx(
        expected, rel=1e-9)
    # The option moves the likelihood: sigma_u is the sd at the last value (the AR's mean
    # with the mean-reverting sd), so the sd's trend, walk or AR changes the terms; the
    # drift changes the paces.
    assert expected != pytest.approx(_gappy_loglik_by_hand(series, years), rel=1e-3)


def test_near_saturation_error_log_likelihood_equals_the_loop():
    years, series = _gappy_series()
    model = TRANSITION_LOCAL.build_model(
        series, TransitionLocalPriors(observation_error="near_saturation"))
    expected = _gappy_loglik_by_hand(series, years, sat=0.1)
    assert _observed_loglik(model, {**_GAPPY_PARAMETERS, "sigma_sat": 0.1}) == pytest.approx(
        expected, rel=1e-9)
    assert expected != pytest.approx(_gappy_loglik_by_hand(series, years), rel=1e-3)


def test_volatility_regimes_log_likelihood_equals_the_loop_with_each_geos_own_sd():
    years, one = _gappy_series()
    series = series_from_arrays("sim", ("sim_a", "sim_b"), np.repeat([0, 1], 5),
                                np.tile(years, 2), inv_logit_percent(np.r_[one.y, one.y - 0.3]))
    model = TRANSITION_LOCAL.build_model(series, TransitionLocalPriors(volatility="regimes"))
    fixed = {**_GAPPY_PARAMETERS, "mu_omega": 0.4, "tau_omega": 0.1,
             "z_omega": np.array([0.0, 0.0]), "tau_vol": 0.5, "z_vol": np.array([-1.0, 2.0])}
    del fixed["omega"]
    expected = sum(
        _loglik_by_hand(series.y[series.geo_index == g], years, 0.4, 0.8, 0.2, 0.6,
                        0.15 * math.exp(0.5 * z), 0.05)
        + stats.norm.logpdf(0.0, 0.0, 1.0)  # each geo's first value: a constant
        for g, z in enumerate((-1.0, 2.0)))
    assert _observed_loglik(model, fixed) == pytest.approx(expected, rel=1e-9)
    # A lone geo has no spread of spells to learn: the option leaves its model as it was.
    lone = TRANSITION_LOCAL.build_model(one, TransitionLocalPriors(volatility="regimes"))
    assert "tau_vol" not in {rv.name for rv in lone.free_RVs}


def test_volatility_regimes_forecast_has_a_narrow_core_and_heavy_tails_at_every_horizon():
    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [50.0] * 4)
    years = np.arange(2021, 2026)
    draws = _draws(series, excess=0.0, phi=0.3)
    draws["floor"] = np.full(20000, 1.0)  # pace omega = 0 at every level: only the shocks
    plain, _ = TRANSITION_LOCAL.forecast(draws, series, years, np.random.default_rng(5))
    draws["tau_vol"] = np.full(20000, 0.6)
    mixed, _ = TRANSITION_LOCAL.forecast(draws, series, years, np.random.default_rng(5))
    plain, mixed = (np.log(v / (100 - v))[:, 0, :] for v in (plain, mixed))
    # One spell per path: the variance is exp(2 tau^2) times the constant sd's at every
    # horizon, and the excess kurtosis stays (it would fade if each year drew its own sd).
    np.testing.assert_allclose(mixed.var(axis=0) / plain.var(axis=0), math.exp(2 * 0.36),
                               rtol=0.08)
    assert (stats.kurtosis(mixed, axis=0) > 1.5).all()
    assert (np.abs(stats.kurtosis(plain, axis=0)) < 0.2).all()
    robust = stats.median_abs_deviation(mixed, axis=0, scale="normal")
    assert (robust / mixed.std(axis=0) < 0.8).all()


def test_pooled_forecast_pace_runs_each_path_on_a_pace_drawn_from_the_pool():
    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [50.0] * 4)
    years = np.arange(2021, 2026)
    draws = _draws(series, omega=0.05, excess=0.0, sigma_u=1e-6)
    draws["floor"] = np.full(20000, 1.0)  # pace = the path's pace at every level
    own, _ = TRANSITION_LOCAL.forecast(draws, series, years, np.random.default_rng(6))
    draws |= {"mu_omega": np.full(20000, 0.3), "tau_omega": np.full(20000, 0.1),
              "pace_shift": np.full((20000, 1), 0.02)}  # the common drift reached
    pooled, _ = TRANSITION_LOCAL.forecast(draws, series, years, np.random.default_rng(6))
    own, pooled = (np.log(v / (100 - v))[:, 0, :] for v in (own, pooled))
    h = years - 2020
    np.testing.assert_allclose(own.mean(axis=0), 0.05 * h, atol=1e-3)
    np.testing.assert_allclose(pooled.mean(axis=0), 0.32 * h, atol=0.01)
    # One pace per path: the spread grows as h * tau_omega.
    np.testing.assert_allclose(pooled.std(axis=0), 0.1 * h, rtol=0.03)


def test_pooled_forecast_pace_takes_no_per_geo_drift():
    with pytest.raises(ValueError, match="per-geo drift has no pool"):
        TransitionLocalPriors(forecast_pace="pooled", pace_drift="random_walk")


def test_near_saturation_error_widens_the_forecast_near_100_percent_only():
    series = series_from_arrays("sim", ("sim_low", "sim_high"), [0] * 3 + [1] * 3,
                                list(range(2018, 2021)) * 2, [5.0] * 3 + [97.0] * 3)
    draws = _draws(series, excess=0.0, sigma_u=1e-6)
    plain, _ = TRANSITION_LOCAL.forecast(draws, series, np.array([2021]),
                                         np.random.default_rng(4))
    draws["sigma_sat"] = np.full(20000, 0.005)  # half a point of the share not reached
    values, noise = TRANSITION_LOCAL.forecast(draws, series, np.array([2021]),
                                              np.random.default_rng(4))
    # Half a point in the logit: about 0.005 / 0.95 at 5%, 0.005 / 0.03 at 97%.
    sd = np.log(values / (100 - values))[:, :, 0].std(axis=0)
    np.testing.assert_allclose(sd, 0.005 / (1 - np.array([0.05, 0.97])), rtol=0.05)
    assert np.log(plain / (100 - plain))[:, :, 0].std(axis=0).max() < 1e-3
    np.testing.assert_allclose(noise[:, :, 0].std(axis=0), sd, rtol=0.05)


def test_drifting_pace_forecast_starts_from_the_pace_reached_and_spreads_with_the_walk():
    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [50.0] * 4)
    years = np.arange(2021, 2026)
    draws = _draws(series, omega=0.2, excess=0.0)
    draws["floor"] = np.full(20000, 1.0)  # floor 1: the pace is omega at every level
    draws["tau_drift"] = np.full(20000, 0.05)
    values, _ = TRANSITION_LOCAL.forecast(draws, series, years, np.random.default_rng(9))
    logits = np.log(values / (100 - values))[:, 0, :]
    h = years - 2020
    np.testing.assert_allclose(logits.mean(axis=0), 0.2 * h, atol=0.01)
    # The level sums the paces: the walk adds tau^2 (1 + 4 + ... + h^2) to the variance.
    walk = 0.05**2 * h * (h + 1) * (2 * h + 1) / 6
    innovations = 0.1**2 * np.array([innovation_variance(0.6, float(k), 8, np.where) for k in h])
    np.testing.assert_allclose(logits.var(axis=0), innovations + walk, rtol=0.05)


def test_student_t_tails_log_likelihood_equals_the_loop_with_t_terms():
    years, series = _gappy_series()

    model = TRANSITION_LOCAL.build_model(
        series, TransitionLocalPriors(innovation_tails="student_t"))
    loglik = _observed_loglik(model, {
        "omega": np.array([0.4]), "asymptote": 0.8, "floor": 0.2, "phi": 0.6, "sigma_u": 0.15,
        "nu_excess": 3.0, "sigma_src": np.array([0.05, 0.15, 0.25])})
    expected = _loglik_by_hand(series.y, years, 0.4, 0.8, 0.2, 0.6, 0.15, 0.05, nu=5.0)
    expected += stats.t.logpdf(series.y[0], 5.0, series.y[0], 1.0)  # first value: a constant
    assert loglik == pytest.approx(expected, rel=1e-9)


def test_upward_jumps_log_likelihood_equals_the_loop_with_a_jump_or_none():
    years, series = _gappy_series()
    model = TRANSITION_LOCAL.build_model(
        series, TransitionLocalPriors(innovation_tails="upward_jumps"))
    loglik = _observed_loglik(model, _GAPPY_PARAMETERS | {"jump_rate": 0.2, "jump_sd": 0.4})
    expected = _gappy_loglik_by_hand(series, years, jumps=(0.2, 0.4))
    assert loglik == pytest.approx(expected, abs=1e-6)
    # And it is not the normal model's.
    assert abs(loglik - _gappy_loglik_by_hand(series, years)) > 0.05


def test_upward_jumps_are_centred_half_normals_at_their_rate():
    rate, jump_sd = np.array([0.0, 0.1, 0.5]), np.array([0.3, 0.3, 0.2])
    jumps = upward_jumps(np.random.default_rng(5), rate, jump_sd, (3, 200_000))
    np.testing.assert_allclose(jumps.mean(axis=1), 0.0, atol=0.002)
    centre = rate * jump_sd * math.sqrt(2 / math.pi)
    np.testing.assert_allclose((jumps > -centre[:, None] + 1e-12).mean(axis=1), rate,
                               atol=0.005)
    # A jump's size is half-normal: its median is 0.674 of its scale.
    jumped = jumps[2][jumps[2] > -centre[2] + 1e-12] + centre[2]
    assert np.median(jumped) == pytest.approx(0.6745 * 0.2, rel=0.02)


def test_skew_normal_logp_stays_finite_far_in_the_short_tail():
    import pymc as pm
    import pytensor.tensor as pt

    values = np.array([-3.0, -1.0, 0.0, 0.5, 2.0])
    ours = skew_normal_logp(pt.as_tensor(values), 0.1, 0.2, 6.0).eval()
    np.testing.assert_allclose(ours, stats.skewnorm.logpdf(values, 6.0, 0.1, 0.2), rtol=1e-6)
    assert np.isfinite(ours).all()
    # PyMC's own density is far off there (it takes log(1 + erf)), so it is not used.
    theirs = pm.logp(pm.SkewNormal.dist(0.1, 0.2, 6.0), -3.0).eval()
    assert abs(theirs - stats.skewnorm.logpdf(-3.0, 6.0, 0.1, 0.2)) > 100


def test_upward_jumps_forecast_is_the_mixture_one_year_ahead_and_falls_less_often():
    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [50.0] * 4)
    draws = _draws(series, n=40000, excess=0.0)
    draws["jump_rate"], draws["jump_sd"] = np.full(40000, 0.2), np.full(40000, 0.3)
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.array([2021]),
                                          np.random.default_rng(6))
    logits = np.log(values / (100 - values))[:, 0, 0]
    # One year ahead from 50% (pace 0): Normal(0, 0.1) plus a jump 0.3 |Z| one time in
    # five, less the jumps' mean; its cdf is the mixture of a normal and a skew-normal.
    centre = -0.2 * 0.3 * math.sqrt(2 / math.pi)
    jumped = stats.skewnorm(0.3 / 0.1, centre, math.sqrt(0.1**2 + 0.3**2))
    for q in (-0.15, -0.05, 0.0, 0.1, 0.3):
        expected = 0.8 * stats.norm.cdf(q, centre, 0.1) + 0.2 * jumped.cdf(q)
        assert np.mean(logits < q) == pytest.approx(expected, abs=0.006)
    assert logits.mean() == pytest.approx(0.0, abs=0.002)
    # Against a normal with the same sd: a shorter tail down, a longer one up.
    normal = stats.norm(0.0, logits.std())
    assert np.quantile(logits, 0.01) > normal.ppf(0.01) + 0.05
    assert np.quantile(logits, 0.99) > normal.ppf(0.99) + 0.05


def test_upward_jumps_are_not_combined_with_transient_blips():
    with pytest.raises(ValueError, match="innovation_tails: normal"):
        TransitionLocalPriors(observation_outliers="transient", innovation_tails="upward_jumps")


def test_pooled_paces_are_sampled_non_centred_even_for_dense_series():
    # Dense series (10 years each) would get the centred form under the rule other families
    # use; here the centred form mixed tau_omega too slowly (docs/backtests.md, round eight).
    years = np.tile(np.arange(2010, 2020), 3)
    geo = np.repeat([0, 1, 2], 10)
    series = series_from_arrays("sim", ("sim_a", "sim_b", "sim_c"), geo, years,
                                np.linspace(10.0, 80.0, 30))
    model = TRANSITION_LOCAL.build_model(series, TransitionLocalPriors())
    free = {rv.name for rv in model.free_RVs}
    assert "z_omega" in free and "omega" not in free
    assert "omega" in {v.name for v in model.deterministics}


def test_transient_outliers_log_likelihood_equals_the_loop_with_four_cases():
    years, series = _gappy_series()

    model = TRANSITION_LOCAL.build_model(
        series, TransitionLocalPriors(observation_outliers="transient"))
    loglik = _observed_loglik(model, {
        "omega": np.array([0.4]), "asymptote": 0.8, "floor": 0.2, "phi": 0.6, "sigma_u": 0.15,
        "outlier_rate": 0.2, "outlier_sd": 0.5, "sigma_src": np.array([0.05, 0.15, 0.25])})
    expected = _loglik_by_hand(series.y, years, 0.4, 0.8, 0.2, 0.6, 0.15, 0.05,
                               blips=(0.2, 0.5))
    expected += stats.norm.logpdf(series.y[0], series.y[0], 1.0)  # first value: a constant
    assert loglik == pytest.approx(expected, rel=1e-9)
    # Without blips (rate 0) it is the plain model's likelihood.
    assert _loglik_by_hand(series.y, years, 0.4, 0.8, 0.2, 0.6, 0.15, 0.05,
                           blips=(0.0, 0.5)) == pytest.approx(
        _loglik_by_hand(series.y, years, 0.4, 0.8, 0.2, 0.6, 0.15, 0.05), rel=1e-12)


def test_transient_outliers_forecast_is_the_four_case_mixture_one_year_ahead():
    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [50.0] * 4)
    n, phi, rate, sd = 200_000, 0.6, 0.2, 0.5
    draws = _draws(series, n=n, excess=0.0, phi=phi)
    draws |= {"outlier_rate": np.full(n, rate), "outlier_sd": np.full(n, sd),
              "last_excess_lever": np.array([1.0])}
    values, noise = TRANSITION_LOCAL.forecast(draws, series, np.array([2021, 2023]),
                                              np.random.default_rng(8))
    logits = np.log(values / (100 - values))[:, 0, :]
    # One year ahead from 50% (pace 0): innovation 0.1, a blip in the new value (sd 0.5)
    # and one under the last value, which also moved the excess pace (lever 1 + phi).
    weights, variances = [(1 - rate) ** 2, rate * (1 - rate), rate * (1 - rate), rate**2], [
        0.01, 0.01 + sd**2, 0.01 + (1.6 * sd) ** 2, 0.01 + sd**2 + (1.6 * sd) ** 2]
    for q in (0.6, 0.75, 0.9, 0.97):
        cdf = sum(w * stats.norm.cdf(np.quantile(logits[:, 0], q), 0, math.sqrt(v))
                  for w, v in zip(weights, variances, strict=True))
        assert cdf == pytest.approx(q, abs=0.005)
    # The new value's blip is observation noise: not carried to later years.
    assert np.mean(noise[:, 0, 0] != noise[:, 0, 1]) > 0.99
    assert np.var(noise[:, 0, 0]) == pytest.approx(rate * sd**2, rel=0.03)


def test_transient_outliers_are_not_combined_with_student_t_innovations():
    with pytest.raises(ValueError, match="not combined"):
        TransitionLocalPriors(observation_outliers="transient", innovation_tails="student_t")


@pytest.mark.parametrize("surprises", [(0.0, 0.05), (0.0, 0.8), (-0.5, 0.8), (0.3, -0.3)])
def test_filtered_blips_are_the_posterior_given_the_last_two_surprises(surprises):
    # Rejection sampling from the prior: blips in the last three values (each with
    # probability 0.15, sd 0.4), the rest of each surprise normal (variances 0.01, 0.02), a
    # blip moving the next value's mean by its lever (1.3, then 1.5). Kept where both
    # surprises are within 0.02 of the given ones.
    rate, sd, variance, lever = 0.15, 0.4, np.array([0.01, 0.02]), np.array([1.3, 1.5])
    rng = np.random.default_rng(31)
    kept_new, kept_old = [], []
    for _ in range(8):
        n = 2_000_000
        b = np.where(rng.random((3, n)) < rate, sd * rng.standard_normal((3, n)), 0.0)
        r1 = b[1] - lever[0] * b[0] + math.sqrt(variance[0]) * rng.standard_normal(n)
        r2 = b[2] - lever[1] * b[1] + math.sqrt(variance[1]) * rng.standard_normal(n)
        kept = (np.abs(r1 - surprises[0]) < 0.02) & (np.abs(r2 - surprises[1]) < 0.02)
        kept_new.append(b[2][kept])
        kept_old.append(b[1][kept])
    accepted_new, accepted_old = np.concatenate(kept_new), np.concatenate(kept_old)
    assert accepted_new.size > 1500
    m = 200_000
    new, old = filtered_blips(np.random.default_rng(5), np.full(m, rate), np.full(m, sd),
                              np.tile(surprises, (m, 1, 1)), np.tile(variance, (m, 1, 1)),
                              np.tile(lever, (m, 1, 1)))
    for drawn, accepted in ((new[:, 0], accepted_new), (old[:, 0], accepted_old)):
        error = 3 * accepted.std() / math.sqrt(accepted.size) + 0.01
        assert drawn.mean() == pytest.approx(accepted.mean(), abs=error)
        assert np.mean(drawn != 0) == pytest.approx(np.mean(accepted != 0), abs=0.04)
        for q in (0.1, 0.5, 0.9):
            assert np.quantile(drawn, q) == pytest.approx(np.quantile(accepted, q), abs=0.04)


def test_filtered_blips_of_a_lone_value_are_the_prior_blips():
    m, rate, sd = 200_000, 0.2, 0.5
    new, old = filtered_blips(np.random.default_rng(6), np.full(m, rate), np.full(m, sd),
                              np.zeros((m, 1, 2)), np.full((m, 1, 2), NO_SURPRISE),
                              np.ones((m, 1, 2)))
    for blip in (new, old):
        assert np.mean(blip != 0) == pytest.approx(rate, abs=0.005)
        assert blip.std() == pytest.approx(math.sqrt(rate) * sd, rel=0.02)


def test_posterior_last_blip_starts_the_forecast_under_a_value_off_course():
    # SIMULATED: two geos on a steady course of +0.3 logits a year; sim_jump's last value is
    # 0.8 logits above it (a blip), sim_steady's on it. With the posterior start the forecast
    # one year ahead goes back to the course for sim_jump and stays on it for sim_steady; the
    # prior start (seventh round) keeps sim_jump near its blip.
    years = np.arange(2010, 2019)
    course = -2.0 + 0.3 * np.arange(years.size)
    jump = course.copy()
    jump[-1] += 0.8
    series = series_from_arrays("sim", ("sim_jump", "sim_steady"), np.repeat([0, 1], 9),
                                np.tile(years, 2), inv_logit_percent(np.r_[jump, course]))
    truth = {"omega": np.full(2, 0.3), "asymptote": 0.95, "floor": 1.0, "phi": 0.5,
             "sigma_u": 0.05, "sigma_src": np.full(3, 1e-4), "sigma_part": 0.1,
             "outlier_rate": 0.1, "outlier_sd": 0.5}
    medians = {}
    for start in ("prior", "posterior"):
        priors = TransitionLocalPriors(observation_outliers="transient", last_value_blip=start)
        draws = TRANSITION_LOCAL.extract_draws(_posterior_at(series, priors, truth, n=4000),
                                               series)
        assert ("last_surprise" in draws) == (start == "posterior")
        values, _ = TRANSITION_LOCAL.forecast(draws, series, np.array([2019]),
                                              np.random.default_rng(9))
        medians[start] = np.median(np.log(values / (100 - values))[:, :, 0], axis=0)
    on_course = course[-1] + 0.3
    assert medians["posterior"] == pytest.approx([on_course, on_course], abs=0.05)
    assert medians["prior"][0] > on_course + 0.6  # about the blip plus its excess pace
    assert medians["prior"][1] == pytest.approx(on_course, abs=0.05)


def test_posterior_last_blip_needs_transient_outliers():
    with pytest.raises(ValueError, match="observation_outliers: transient"):
        TransitionLocalPriors(last_value_blip="posterior")


def test_student_t_forecast_has_the_t_quantiles_of_its_innovations():
    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [50.0] * 4)
    draws = _draws(series, n=40000, excess=0.0)
    draws["nu"] = np.full(40000, 3.0)
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.array([2021]),
                                          np.random.default_rng(6))
    logits = np.log(values / (100 - values))[:, 0, 0]
    # One year ahead from 50% (pace 0): 0.1 * t(3); its 95% quantile is 0.1 * 2.353, a
    # normal with the same sd (0.1 * sqrt(3)) would give 0.285.
    assert np.quantile(logits, 0.95) == pytest.approx(0.1 * stats.t.ppf(0.95, 3), rel=0.04)
    assert np.quantile(logits, 0.75) == pytest.approx(0.1 * stats.t.ppf(0.75, 3), rel=0.04)


def _draws(series, n=20000, omega=0.0, phi=0.6, sigma_u=0.1, excess=0.2, error=1e-6):
    G = len(series.geos)
    last = np.array([series.y[series.geo_index == g][-1] for g in range(G)])
    return {"omega": np.full((n, G), omega), "asymptote": np.full(n, 0.9),
            "floor": np.full(n, 0.2), "phi": np.full(n, phi), "sigma_u": np.full(n, sigma_u),
            "sigma_src": np.full((n, 3), error), "sigma_part": np.full(n, 0.1),
            "last_eta": np.tile(last, (n, 1)), "last_excess": np.full((n, G), excess),
            "last_error_sd": np.full((n, G), error),
            "last_year": np.array([series.year[series.geo_index == g].max()
                                   for g in range(G)], dtype=float),
            "main_type": np.zeros(G, int)}


def test_forecast_carries_the_excess_pace_and_spreads_as_the_likelihood_says():
    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [50.0] * 4)
    years = np.arange(2021, 2026)
    values, noise = TRANSITION_LOCAL.forecast(_draws(series), series, years,
                                              np.random.default_rng(2))
    assert values.shape == noise.shape == (20000, 1, 5)
    logits = np.log(values / (100 - values))[:, 0, :]
    h = years - 2020
    carried = 0.2 * np.array([sum(0.6**m for m in range(1, k + 1)) for k in h])
    np.testing.assert_allclose(logits.mean(axis=0), carried, atol=0.01)
    sd = 0.1 * np.sqrt([innovation_variance(0.6, float(k), 8, np.where) for k in h])
    np.testing.assert_allclose(logits.std(axis=0), sd, rtol=0.04)


def test_binomial_scaling_widens_the_innovations_away_from_50_percent():
    series = series_from_arrays("sim", ("sim_mid", "sim_high"), [0] * 3 + [1] * 3,
                                list(range(2018, 2021)) * 2, [50.0] * 3 + [90.0] * 3)
    draws = _draws(series, excess=0.0)
    draws["binomial_scaling"] = np.array(True)
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.array([2021]),
                                          np.random.default_rng(4))
    sd = np.log(values / (100 - values))[:, :, 0].std(axis=0)
    np.testing.assert_allclose(sd, 0.1 * np.sqrt(0.25 / np.array([0.25, 0.09])), rtol=0.03)


def test_a_lone_geo_gets_the_pooled_prior_marginal_for_its_pace():
    from tnmodel.models.transition_local import one_geo_pace_sd

    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [20.0] * 4)
    priors = TransitionLocalPriors()
    model = TRANSITION_LOCAL.build_model(series, priors)
    names = {rv.name for rv in model.free_RVs}
    assert "omega" in names and not {"mu_omega", "tau_omega"} & names
    pooled = TRANSITION_LOCAL.prior_pace(priors, 400_000, np.random.default_rng(0))
    assert one_geo_pace_sd(priors) == pytest.approx(pooled.std(), rel=0.01)
    assert pooled.mean() == pytest.approx(priors.pace_mean, abs=0.003)


def test_forecast_applies_the_pace_at_the_level_reached():
    series = series_from_arrays("sim", ("sim_low", "sim_high"), [0] * 3 + [1] * 3,
                                list(range(2018, 2021)) * 2, [10.0] * 3 + [85.0] * 3)
    draws = _draws(series, n=200, omega=0.5, sigma_u=1e-6, excess=0.0)
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.array([2021]),
                                          np.random.default_rng(0))
    step = np.log(values / (100 - values))[:, :, 0].mean(axis=0) - series.y[[2, 5]]
    # Far below the asymptote the whole pace; at 85% of a 90% asymptote only the floor.
    assert step[0] == pytest.approx(0.5 * (1 - 0.1 / 0.9), abs=1e-4)
    assert step[1] == pytest.approx(0.5 * 0.2, abs=1e-4)


def test_forecast_with_a_pace_curve_power_keeps_the_pace_higher_below_the_asymptote():
    series = series_from_arrays("sim", ("sim_mid",), [0] * 3, list(range(2018, 2021)),
                                [60.0] * 3)
    draws = _draws(series, n=200, omega=0.5, sigma_u=1e-6, excess=0.0)
    step = {}
    for power in (1.0, 3.0):
        values, _ = TRANSITION_LOCAL.forecast(draws | {"pace_power": np.array(power)}, series,
                                              np.array([2021]), np.random.default_rng(0))
        step[power] = np.log(values / (100 - values))[:, 0, 0].mean() - series.y[2]
    assert step[1.0] == pytest.approx(0.5 * (1 - 0.6 / 0.9), abs=1e-4)
    assert step[3.0] == pytest.approx(0.5 * (1 - (0.6 / 0.9) ** 3), abs=1e-4)


def test_bounds_and_geos_without_values_get_a_clear_error():
    series = series_from_arrays("sim", ("sim_a", "sim_b"), [0, 0, 1], [2019, 2020, 2020],
                                [20.0, 25.0, 30.0])
    bounded = dataclasses.replace(series, kind=np.array(["exact", "exact", "upper"]))
    with pytest.raises(UnsupportedSeries, match="does not take bounds.*use family 'transition'"):
        TRANSITION_LOCAL.data_arrays(bounded, TransitionLocalPriors())
    assert "transition_local" in FAMILIES


def _dense_skeleton(n_geos: int):
    """``n_geos`` SIMULATED geos with a value every year 2005-2020 (all 50%: to be simulated)."""
    years = np.arange(2005, 2021)
    index = np.repeat(np.arange(n_geos), years.size)
    return series_from_arrays("sim_dense", tuple(f"sim_{i}" for i in range(n_geos)), index,
                              np.tile(years, n_geos), np.full(index.size, 50.0))


@pytest.mark.slow
def test_fit_on_a_simulated_panel_recovers_the_process_parameters():
    skeleton = _dense_skeleton(6)
    truth, y = TRANSITION_LOCAL.simulate(skeleton, TransitionLocalPriors(),
                                         np.random.default_rng(3))
    fit = fit_series(dataclasses.replace(skeleton, y=y), ModelSpec(family="transition_local"),
                     SamplerSettings(chains=2, draws=500, tune=500, target_accept=0.95), 1,
                     GateThresholds(max_rhat=1.05, min_ess_bulk=100, max_divergences=5))
    post = fit.posterior.posterior
    for name in ("mu_omega", "phi", "sigma_u", "floor"):
        lo, hi = np.quantile(post[name].values, [0.025, 0.975])
        assert lo < float(truth[name]) < hi, (name, lo, hi, truth[name])
    omega = post["omega"].mean(("chain", "draw")).values
    assert np.corrcoef(omega, truth["omega"])[0, 1] > 0.8


@pytest.mark.slow
def test_fit_recovers_how_much_the_geos_volatility_differs():
    skeleton = _dense_skeleton(12)
    priors = TransitionLocalPriors(volatility="regimes", volatility_spread_sd=1.0)
    truth, y = TRANSITION_LOCAL.simulate(skeleton, priors, np.random.default_rng(7))
    assert float(truth["tau_vol"]) > 0.5  # this seed's spells differ clearly (0.81)
    fit = fit_series(dataclasses.replace(skeleton, y=y),
                     ModelSpec(family="transition_local", priors=priors.model_dump()),
                     SamplerSettings(chains=2, draws=500, tune=500, target_accept=0.95), 1,
                     GateThresholds(max_rhat=1.05, min_ess_bulk=100, max_divergences=5))
    post = fit.posterior.posterior
    for name in ("tau_vol", "sigma_u", "mu_omega"):
        lo, hi = np.quantile(post[name].values, [0.025, 0.975])
        assert lo < float(truth[name]) < hi, (name, lo, hi, truth[name])
    assert np.quantile(post["tau_vol"].values, 0.05) > 0.1  # the spread is found, not 0


#: The settings the short fits of three simulated geos share (regimes, pool, common drift).
_REGPOOL = {"volatility": "regimes", "forecast_pace": "pooled", "pace_drift": "common"}


def _short_fit_of_three_geos(years, settings: dict, seed: int, nudge_last: float = 0.0):
    """A short fit with ``settings`` of three SIMULATED geos (``_REGPOOL``'s process; the
    first geo's last value moved by ``nudge_last`` logits): the series and the fit."""
    geos = ("sim_a", "sim_b", "sim_c")
    index = np.repeat(np.arange(3), years.size)
    skeleton = series_from_arrays("sim_dense", geos, index, np.tile(years, 3),
                                  np.full(index.size, 50.0))
    _, y = TRANSITION_LOCAL.simulate(skeleton, TransitionLocalPriors(**_REGPOOL),
                                     np.random.default_rng(seed))
    y = y.copy()
    y[years.size - 1] += nudge_last
    series = dataclasses.replace(skeleton, y=y)
    fit = fit_series(series, ModelSpec(family="transition_local", priors=settings),
                     SamplerSettings(chains=2, draws=100, tune=200), 3,
                     GateThresholds(max_rhat=1.5, min_ess_bulk=10, max_divergences=50))
    return series, fit


@pytest.mark.slow
def test_a_fit_with_regimes_and_a_pooled_pace_hands_the_forecast_the_pool_and_the_drift():
    series, fit = _short_fit_of_three_geos(np.arange(2010, 2019), _REGPOOL, seed=2)
    post = fit.posterior.posterior
    draws = fit.draws
    own = post["omega"].stack(sample=("chain", "draw")).values.T  # (sample, geo)
    # omega carries the drift reached (for the history); the pool gets the same drift.
    np.testing.assert_allclose(draws["omega"] - own, draws["pace_shift"], atol=1e-12)
    assert draws["mu_omega"].shape == draws["tau_vol"].shape == (200,)
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.arange(2019, 2024),
                                          np.random.default_rng(1))
    assert values.shape == (200, 3, 5) and np.isfinite(values).all()


@pytest.mark.slow
def test_a_fit_with_transient_blips_hands_the_forecast_the_last_surprises():
    # SIMULATED: three geos with regimes and a pooled pace; sim_a's last value is pushed a
    # whole logit off its course. The fitted forecast reads it as a blip and starts under it.
    settings = _REGPOOL | {"observation_outliers": "transient", "last_value_blip": "posterior"}
    series, fit = _short_fit_of_three_geos(np.arange(2008, 2019), settings, seed=4,
                                           nudge_last=1.0)
    draws = fit.draws
    assert draws["last_surprise"].shape == draws["last_variance"].shape == (200, 3, 2)
    assert np.median(draws["last_surprise"][:, 0, 1]) > 0.8
    last, _ = filtered_blips(np.random.default_rng(3), draws["outlier_rate"],
                             draws["outlier_sd"], draws["last_surprise"],
                             draws["last_variance"], draws["last_blip_lever"])
    assert np.median(last[:, 0]) > 0.5
    assert np.median(np.abs(last[:, 1:])) < 0.05
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.arange(2019, 2024),
                                          np.random.default_rng(1))
    assert values.shape == (200, 3, 5) and np.isfinite(values).all()


@pytest.mark.slow
def test_fit_recovers_the_upward_jumps_and_hands_them_to_the_forecast():
    # SIMULATED: twelve geos with jumps a third of the years, each large against the
    # normal innovations and the observation errors, with the back-tests' regimes and
    # pooled pace.
    skeleton = _dense_skeleton(12)
    settings = _REGPOOL | {"innovation_tails": "upward_jumps", "innovation_sd_median": 0.05,
                           "obs_sd_dataset": 0.02, "jump_rate_mean": 0.3,
                           "jump_rate_concentration": 40.0, "jump_sd_median": 0.4,
                           "jump_sd_log_sd": 0.1}
    truth, y = TRANSITION_LOCAL.simulate(skeleton, TransitionLocalPriors(**settings),
                                         np.random.default_rng(8))
    wide = {"innovation_tails": "upward_jumps"} | _REGPOOL  # the default, wide priors
    fit = fit_series(dataclasses.replace(skeleton, y=y),
                     ModelSpec(family="transition_local", priors=wide),
                     SamplerSettings(chains=2, draws=300, tune=400), 2,
                     GateThresholds(max_rhat=1.1, min_ess_bulk=50, max_divergences=10))
    for name in ("jump_rate", "jump_sd"):
        lo, hi = np.quantile(fit.draws[name], [0.025, 0.975])
        assert lo < float(truth[name]) < hi, (name, lo, hi, truth[name])
    values, _ = TRANSITION_LOCAL.forecast(fit.draws, fit.series, np.arange(2021, 2024),
                                          np.random.default_rng(1))
    # One forecast per posterior draw (600 from 2 x 300, more if the gates retried the fit).
    assert values.shape == (fit.draws["jump_rate"].size, 12, 3) and np.isfinite(values).all()


def test_scenario_choosing_it_for_a_bounded_series_is_stopped_at_the_family_line(tmp_path,
                                                                                 sim_data):
    from conftest import write_sim_scenario

    from tnmodel.data import load_dataset
    from tnmodel.runner import preflight
    from tnmodel.scenario import load_scenario

    observations = sim_data / "observations.csv"
    with observations.open("a", encoding="utf-8") as out:  # a lower bound (SIMULATED)
        out.write("sim_north,sim_share,2023,50,src_sim,,lower,,,,\n")
    extra = "models:\n  sim_share:\n    family: transition_local\n"
    path = write_sim_scenario(tmp_path, sim_data, extra=extra)
    problems = [str(p) for p in preflight(load_scenario(path), load_dataset(sim_data))]
    assert any(f"{path.name}:10: models.sim_share.family:" in p and "does not take bounds" in p
               for p in problems), problems
    # Chosen as the scenario's default model: the problem points at that line.
    path = write_sim_scenario(tmp_path, sim_data,
                              extra="default_model:\n  family: transition_local\n")
    problems = [str(p) for p in preflight(load_scenario(path), load_dataset(sim_data))]
    assert any(f"{path.name}:9: default_model.family:" in p and "does not take bounds" in p
               for p in problems), problems
    path = write_sim_scenario(tmp_path, sim_data, extra=extra)
    # The same family on a series of exact values only is fine.
    observations.write_text("\n".join(observations.read_text("utf-8").splitlines()[:-1]) + "\n",
                            encoding="utf-8")
    assert not [p for p in preflight(load_scenario(path), load_dataset(sim_data))
                if "family" in str(p)]


@pytest.mark.slow
@pytest.mark.parametrize("design", ["sparse", "dense"])
@pytest.mark.parametrize(("settings", "seed"), [({"innovation_scaling": "binomial"}, 11),
                                                ({"innovation_tails": "student_t"}, 12),
                                                ({"observation_outliers": "transient"}, 13),
                                                ({"pace_curve_power": 3.0}, 14),
                                                ({"innovation_sd_trend": "log_linear"}, 16),
                                                ({"pace_drift": "random_walk"}, 17),
                                                ({"pace_drift": "common"}, 18),
                                                ({"innovation_sd_trend": "random_walk"}, 19),
                                                # The internet back-tests' settings since the
                                                # twelfth round (with --since 2005).
                                                ({"pace_drift": "common", "floor_mean": 0.5,
                                                  "floor_concentration": 10.0}, 20),
                                                ({"observation_error": "near_saturation"},
                                                 21),
                                                ({"volatility": "regimes"}, 22),
                                                ({"innovation_tails": "upward_jumps"}, 23),
                                                ({"innovation_sd_trend": "mean_reverting"},
                                                 24),
                                                ({"innovation_scaling": "learned_power"},
                                                 25)])
def test_sbc_ranks_are_uniform_with_each_option(design, settings, seed):
    from tnmodel.models.sbc import sbc_ranks, uniformity

    ranks = sbc_ranks("transition_local", design, reps=12, draws=200, tune=300, thin=2,
                      seed=seed, settings=settings)
    table = uniformity(ranks, bins=3)
    assert table["p_value"].min() > 1e-4, table.to_string()


def _standardised(values: np.ndarray) -> np.ndarray:
    values = values - values.mean()
    return values / values.std()


def test_resampled_forecast_has_the_pool_shape_one_year_ahead_and_the_normal_variance_later():
    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [50.0] * 4)
    years = np.arange(2021, 2026)
    draws = _draws(series, excess=0.0)
    # A skewed pool (mostly small surprises, a few large ones up): a shape no normal has.
    pool = _standardised(np.r_[np.full(90, -0.3), np.linspace(0.0, 6.0, 10)])
    draws["surprise_pool"] = np.tile(pool, (20000, 1))
    values, _ = TRANSITION_LOCAL.forecast(draws, series, years, np.random.default_rng(8))
    logits = np.log(values / (100 - values))[:, 0, :]
    # One year ahead from 50% (pace 0, no excess): 0.1 times a draw from the pool.
    assert np.median(logits[:, 0]) == pytest.approx(0.1 * np.median(pool), abs=1e-5)
    assert np.mean(logits[:, 0] > 0.1) == pytest.approx(np.mean(pool > 1.0), abs=0.01)
    # Later the sums keep the normal model's variance.
    sd = 0.1 * np.sqrt([innovation_variance(0.6, float(k), 8, np.where) for k in years - 2020])
    np.testing.assert_allclose(logits.std(axis=0), sd, rtol=0.04)


def test_surprise_runs_order_each_geos_surprises_by_year_and_wrap_within_the_geo():
    # Rows out of order; geo b's first value (2016) and the same-year value are no surprise.
    geo = np.array([1, 0, 1, 0, 0, 1, 0, 1])
    year = np.array([2018, 2012, 2016, 2010, 2011, 2017, 2013, 2017])
    series = series_from_arrays("sim", ("sim_a", "sim_b"), geo, year, np.full(8, 50.0))
    from tnmodel.models.transition import chain_of

    _, gap, first = chain_of(series.geo_index, series.year)
    order, start, length, position = surprise_runs(series, gap, first)
    keep = np.flatnonzero((first < 1) & (gap >= 1))
    assert [(int(series.geo_index[keep][i]), int(series.year[keep][i])) for i in order] == [
        (0, 2011), (0, 2012), (0, 2013), (1, 2017), (1, 2018)]
    assert start.tolist() == [0, 0, 0, 3, 3] and length.tolist() == [3, 3, 3, 2, 2]
    assert position.tolist() == [0, 1, 2, 0, 1]


def test_resampled_runs_forecast_sums_consecutive_surprises_of_one_geo():
    series = series_from_arrays("sim", ("sim_a",), [0] * 4, range(2017, 2021), [50.0] * 4)
    draws = _draws(series, phi=0.0, excess=0.0)
    pool = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])  # a spell up, then a spell down
    draws["surprise_pool"] = np.tile(pool, (20000, 1))
    draws |= {"run_start": np.zeros(6, int), "run_length": np.full(6, 6),
              "run_position": np.arange(6)}
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.arange(2021, 2024),
                                          np.random.default_rng(5))
    three_years = np.log(values / (100 - values))[:, 0, 2] / 0.1
    # Three consecutive years from one of six starts (wrapping): 3, 1, -1, -3, -1, 1.
    counts = {v: np.mean(np.isclose(three_years, v, atol=1e-3)) for v in (3, 1, -1, -3)}
    assert counts == pytest.approx({3: 1 / 6, 1: 2 / 6, -1: 2 / 6, -3: 1 / 6}, abs=0.01)
    # Independent draws from the same pool would give a variance of 3, the runs 22 / 6.
    assert three_years.var() == pytest.approx(22 / 6, rel=0.03)


def test_surprise_pool_is_each_draws_standardised_one_year_surprises():
    eta = np.array([[0.0, 0.0], [0.5, 0.5], [1.5, 1.5], [1.0, 1.0], [3.0, 3.0]])
    mean = np.array([[0.0, 0.0], [0.2, 0.4], [0.5, 0.5], [1.0, 1.0], [2.0, 2.5]])
    variance = np.full((5, 2), 0.25)
    gap, first = np.array([0.0, 1.0, 1.0, 0.0, 2.0]), np.array([1, 0, 0, 0, 0])
    pool = surprise_pool(eta, mean, variance, gap, first)
    # The first value starts the chain and the same-year value (gap 0) is not a surprise.
    np.testing.assert_allclose(pool[0], _standardised(np.array([0.3, 1.0, 1.0])))
    np.testing.assert_allclose(pool[1], _standardised(np.array([0.1, 1.0, 0.5])))


def _posterior_at(series, priors, truth: dict, n: int = 50):
    """A posterior whose every draw is ``truth``, with the fit's constant data."""
    import xarray as xr

    dims = {"omega": ("geo",), "sigma_src": ("source_type",), "drift": ("geo", "grid_year")}
    post = {name: (("chain", "draw", *dims.get(name, ())),
                   np.broadcast_to(np.asarray(value, float), (1, n, *np.shape(value))).copy())
            for name, value in truth.items()}
    constant = {name: ([f"{name}_dim_0"] if np.ndim(value) else [], value)
                for name, value in TRANSITION_LOCAL.data_arrays(series, priors).items()}
    return xr.DataTree.from_dict({"posterior": xr.Dataset(post),
                                  "constant_data": xr.Dataset(constant)})


def _coverage_one_year_ahead(tails: str, n_geos: int = 600) -> float:
    """80% coverage one year ahead, at the true parameters, on a SIMULATED panel whose
    innovations are a scale mixture (90% sd 1, 10% sd 4: calm years, a few large surprises)."""
    rng = np.random.default_rng(21)
    years = np.arange(2005, 2021)
    omega, phi, sigma_u = 0.2, 0.5, 0.1
    shocks = np.where(rng.random((n_geos, years.size)) < 0.1, 4.0, 1.0) * rng.standard_normal(
        (n_geos, years.size)) / math.sqrt(2.5)
    eta, excess = np.zeros((n_geos, years.size)), np.zeros(n_geos)
    eta[:, 0] = rng.normal(-2.0, 0.5, n_geos)
    for t in range(1, years.size):  # floor 1: a constant pace omega
        excess = phi * excess + sigma_u * shocks[:, t]
        eta[:, t] = eta[:, t - 1] + omega + excess
    geos = tuple(f"sim_{g}" for g in range(n_geos))
    index = np.repeat(np.arange(n_geos), years.size - 1)
    series = series_from_arrays("sim_mixture", geos, index, np.tile(years[:-1], n_geos),
                                inv_logit_percent(eta[:, :-1].ravel()))
    priors = TransitionLocalPriors(innovation_tails=tails)
    truth = {"omega": np.full(n_geos, omega), "asymptote": 0.95, "floor": 1.0, "phi": phi,
             "sigma_u": sigma_u, "sigma_src": np.full(3, 1e-4), "sigma_part": 0.1}
    draws = TRANSITION_LOCAL.extract_draws(_posterior_at(series, priors, truth), series)
    assert ("surprise_pool" in draws) == (tails == "resampled")
    values, _ = TRANSITION_LOCAL.forecast(draws, series, years[-1:], np.random.default_rng(4))
    low, high = np.quantile(values[:, :, 0], [0.1, 0.9], axis=0)
    outcome = inv_logit_percent(eta[:, -1])
    return float(np.mean((low <= outcome) & (outcome <= high)))


def test_resampled_innovations_calibrate_the_one_year_interval_of_heavy_tailed_surprises():
    # A normal with the surprises' variance covers about 90%; their own shape, 80%.
    assert _coverage_one_year_ahead("normal") > 0.86
    assert 0.75 < _coverage_one_year_ahead("resampled") < 0.85


def test_resampled_innovations_need_enough_surprises():
    series = series_from_arrays("sim", ("sim_a", "sim_b"), [0, 0, 0, 1, 1, 1],
                                [2018, 2019, 2020] * 2, [20.0, 25.0, 30.0, 40.0, 45.0, 50.0])
    with pytest.raises(UnsupportedSeries, match="at least 8 values.*has 4.*normal"):
        TRANSITION_LOCAL.data_arrays(series, TransitionLocalPriors(innovation_tails="resampled"))


@pytest.mark.slow
@pytest.mark.parametrize(("tails", "flag"), [("resampled", 1.0), ("resampled_runs", 2.0)])
def test_resampled_fits_reuse_a_compiled_structure_and_keep_the_setting(tails, flag):
    # The setting is data the likelihood does not use: the compiled graph drops it, and a
    # second fit of the same structure must still be able to reuse that graph.
    from tnmodel.models.sampling import compile_stats, sample_family

    priors = TransitionLocalPriors(innovation_tails=tails)
    years = np.arange(2008, 2018)
    for seed, start in ((1, 10.0), (2, 30.0)):
        percent = np.r_[start + 4.0 * np.arange(10), start + 2.0 + 5.0 * np.arange(10)]
        series = series_from_arrays("sim_reuse", ("sim_a", "sim_b"), np.repeat([0, 1], 10),
                                    np.tile(years, 2), percent)
        reused = compile_stats()["reused"]
        posterior, _ = sample_family(TRANSITION_LOCAL, series, priors, draws=20, tune=20,
                                     chains=1, target_accept=0.9, seed=seed)
        assert float(posterior["constant_data"]["resampled_innovations"]) == flag
        draws = TRANSITION_LOCAL.extract_draws(posterior, series)
        assert "surprise_pool" in draws and ("run_start" in draws) == (flag == 2.0)
    assert compile_stats()["reused"] == reused + 1


def test_drifting_pace_draws_carry_the_pace_reached_at_each_geos_last_value():
    # Two geos, the second ending two years earlier: each forecast starts from the drift of
    # its own last year, and the excess pace is measured against the drifted pace.
    series = series_from_arrays("sim", ("sim_a", "sim_b"), [0, 0, 0, 0, 1, 1],
                                [2010, 2011, 2012, 2013, 2010, 2011],
                                inv_logit_percent(np.array([-2.0, -1.5, -1.1, -0.4, 0.0, 0.3])))
    priors = TransitionLocalPriors(pace_drift="random_walk")
    drift = np.array([[0.0, 0.1, 0.3, 0.2], [0.0, -0.1, 0.0, 0.1]])  # (geo, grid year)
    truth = {"omega": np.array([0.3, 0.2]), "asymptote": 0.9, "floor": 1.0, "phi": 0.5,
             "sigma_u": 0.1, "sigma_src": np.full(3, 1e-4), "sigma_part": 0.1,
             "tau_drift": 0.05, "drift": drift}
    draws = TRANSITION_LOCAL.extract_draws(_posterior_at(series, priors, truth, n=3), series)
    np.testing.assert_allclose(draws["omega"][0], [0.3 + 0.2, 0.2 - 0.1])
    # sim_a's last step (2012 -> 2013) had the pace 0.3 + 0.2: excess -0.4 + 1.1 - 0.5.
    np.testing.assert_allclose(draws["last_excess"][0], [0.2, 0.3 - 0.2 + 0.1], atol=1e-6)


def test_common_drift_is_one_walk_for_every_geo_in_fit_and_forecast():
    years = np.array([2010, 2011, 2013, 2014, 2017])
    y_a, y_b = np.array([-2.0, -1.6, -0.9, -0.5, 0.6]), np.array([-1.0, -0.7, 0.0, 0.1, 0.9])
    series = series_from_arrays("sim", ("sim_a", "sim_b"), np.repeat([0, 1], 5),
                                np.tile(years, 2), inv_logit_percent(np.r_[y_a, y_b]))
    model = TRANSITION_LOCAL.build_model(series, TransitionLocalPriors(pace_drift="common"))
    steps = np.array([1.0, -0.5, 2.0, 0.0, 1.0, -1.0, 0.5])
    loglik = _observed_loglik(model, {
        "omega": np.array([0.4, 0.3]), "asymptote": 0.8, "floor": 0.2, "phi": 0.6,
        "sigma_u": 0.15, "sigma_src": np.array([0.05, 0.15, 0.25]), "tau_drift": 0.05,
        "z_drift": steps})
    drift = np.r_[0.0, 0.05 * np.cumsum(steps)]
    expected = sum(_loglik_by_hand(y, years, omega, 0.8, 0.2, 0.6, 0.15, 0.05, drift=drift)
                   + stats.norm.logpdf(y[0], y[0], 1.0)
                   for y, omega in ((y_a, 0.4), (y_b, 0.3)))
    assert loglik == pytest.approx(expected, rel=1e-9)

    draws = _draws(series, n=4000, omega=0.2, excess=0.0, sigma_u=1e-6)
    draws["floor"] = np.full(4000, 1.0)
    draws["tau_drift"], draws["drift_common"] = np.full(4000, 0.05), np.array(True)
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.array([2020]),
                                          np.random.default_rng(10))
    logits = np.log(values / (100 - values))[:, :, 0]
    moved = logits - logits.mean(axis=0)
    assert moved.std() > 0.05  # three years of a walk with steps of 0.05: sd 0.19
    np.testing.assert_allclose(moved[:, 0], moved[:, 1], atol=1e-3)


def test_sd_walk_forecast_walks_on_from_the_last_sd_in_every_geo_at_once():
    series = series_from_arrays("sim", ("sim_a", "sim_b"), [0] * 4 + [1] * 4,
                                list(range(2017, 2021)) * 2, [50.0] * 8)
    draws = _draws(series, n=40000, excess=0.0, phi=1e-6)
    draws["tau_sd_walk"] = np.full(40000, 0.5)
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.arange(2021, 2023),
                                          np.random.default_rng(11))
    logits = np.log(values / (100 - values))
    # One year ahead the sd is sigma_u * exp(a step of the walk): variance 0.1^2 e^{2 * 0.25}.
    assert logits[:, 0, 0].var() == pytest.approx(0.01 * math.exp(0.5), rel=0.05)
    # The walk is shared: the two geos' squared shocks move together.
    assert np.corrcoef(logits[:, 0, 0] ** 2, logits[:, 1, 0] ** 2)[0, 1] > 0.1


def test_ar1_path_is_stationary_with_its_persistence_and_marginal_sd():
    rng = np.random.default_rng(12)
    paths = np.stack([ar1_path(0.6, 0.4, z, 12, np) for z in rng.standard_normal((40000, 12))])
    # The same sd in every year (stationary from the first) and lag-k correlation rho^k.
    np.testing.assert_allclose(paths.std(axis=0), 0.4, rtol=0.03)
    for k in (1, 3):
        assert np.corrcoef(paths[:, 5], paths[:, 5 + k])[0, 1] == pytest.approx(0.6**k,
                                                                                abs=0.02)
    # Run on past its years, it keeps both.
    onward = ar1_onward(rng, paths, np.full(40000, 0.6), np.full(40000, 0.4), 4)
    assert onward.shape == (40000, 16)
    np.testing.assert_array_equal(onward[:, :12], paths)
    np.testing.assert_allclose(onward[:, 12:].std(axis=0), 0.4, rtol=0.03)
    assert np.corrcoef(paths[:, -1], onward[:, 13])[0, 1] == pytest.approx(0.36, abs=0.02)


def test_mean_reverting_sd_forecast_starts_from_the_fitted_era_and_reverts_to_the_typical():
    # Two geos, the second's last value a year earlier; the fitted AR's grid is 2017-2020.
    series = series_from_arrays("sim", ("sim_a", "sim_b"), [0] * 4 + [1] * 3,
                                list(range(2017, 2021)) + list(range(2017, 2020)), [50.0] * 7)
    n = 40000
    draws = _draws(series, n=n, excess=0.0, phi=1e-6)
    draws["floor"] = np.full(n, 1.0)  # pace omega = 0 at every level: only the shocks
    rho, tau = 0.5, 0.4
    # A calm era: log sd -1 in 2019 and 2020 (sd 0.37 of the typical).
    draws |= {"sd_path": np.tile([0.0, 0.0, -1.0, -1.0], (n, 1)), "rho_sd": np.full(n, rho),
              "tau_sd_path": np.full(n, tau), "sd_path_first_year": np.array(2017.0)}
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.arange(2020, 2028),
                                          np.random.default_rng(13))
    logits = np.log(values / (100 - values))
    shocks = np.diff(logits, axis=2)  # each year's innovation (the errors are ~0)
    # The second geo's step into 2020 (from 0, its last logit) is on the fitted path: sd
    # 0.1 e^-1 exactly.
    assert logits[:, 1, 0].std() == pytest.approx(0.1 * math.exp(-1), rel=0.03)
    # Into 2021 both geos take the AR's next year: log sd ~ Normal(-rho, tau^2 (1 - rho^2)),
    # one draw for both, so E[shock^2] = 0.01 exp(-2 rho + 2 tau^2 (1 - rho^2)).
    for geo in (0, 1):
        assert (shocks[:, geo, 0] ** 2).mean() == pytest.approx(
            0.01 * math.exp(-2 * rho + 2 * tau**2 * (1 - rho**2)), rel=0.05)
    assert np.corrcoef(shocks[:, 0, 0] ** 2, shocks[:, 1, 0] ** 2)[0, 1] > 0.1
    # Seven years on the era has faded: the typical sd's variance, exp(2 tau^2) times 0.01.
    assert (shocks[:, 0, -1] ** 2).mean() == pytest.approx(0.01 * math.exp(2 * tau**2),
                                                           rel=0.06)
    # Without the AR every year's sd is the typical, 0.1.
    del draws["sd_path"]
    plain, _ = TRANSITION_LOCAL.forecast(draws, series, np.arange(2020, 2028),
                                         np.random.default_rng(13))
    assert np.diff(np.log(plain / (100 - plain)), axis=2)[:, 0, 0].std() == pytest.approx(
        0.1, rel=0.03)


def test_learned_scaling_power_log_likelihood_equals_the_loop():
    years, series = _gappy_series()  # logits -2.0 .. 0.6: shares 12% to 65%
    model = TRANSITION_LOCAL.build_model(
        series, TransitionLocalPriors(innovation_scaling="learned_power"))
    expected = _gappy_loglik_by_hand(series, years, scaling="learned_power",
                                     scaling_power=0.4)
    assert _observed_loglik(model, {**_GAPPY_PARAMETERS, "scaling_power": 0.4}) == (
        pytest.approx(expected, rel=1e-9))
    # Between the constant sd (power 0) and the binomial scaling (power 1).
    constant, binomial = (_gappy_loglik_by_hand(series, years, scaling=scaling)
                          for scaling in ("constant", "binomial"))
    assert min(constant, binomial) < expected < max(constant, binomial)


@pytest.mark.parametrize("power", [0.0, 0.5, 1.0])
def test_learned_scaling_power_forecast_widens_away_from_half_by_the_power(power):
    series = series_from_arrays("sim", ("sim_a", "sim_b"), [0] * 4 + [1] * 4,
                                list(range(2017, 2021)) * 2, [50.0] * 4 + [90.0] * 4)
    draws = _draws(series, n=40000, excess=0.0, phi=1e-6)
    draws["floor"] = np.full(40000, 1.0)  # pace omega = 0: only the shocks
    draws["scaling_power"] = np.full(40000, power)
    values, _ = TRANSITION_LOCAL.forecast(draws, series, np.array([2021]),
                                          np.random.default_rng(14))
    step = np.log(values / (100 - values))[:, :, 0] - np.log([1.0, 9.0])
    # One year ahead the sd is sigma_u (0.1) at 50% and 0.1 (0.25 / 0.09)^(power / 2) at 90%.
    np.testing.assert_allclose(step.std(axis=0), [0.1, 0.1 * (0.25 / 0.09) ** (power / 2)],
                               rtol=0.03)


def _standardised_surprises_by_level(power: float, keep_power: bool) -> tuple[float, float]:
    """Variance of the fit's standardised one-year surprises (outcome minus conditional mean,
    over the conditional sd of :func:`fitted_conditionals`) on a SIMULATED panel whose
    innovation sd is ``0.1 (0.25 / (p (1 - p)))^(power / 2)``, at the true parameters: for
    geos in the middle (30-70% before the step) and at the ends (under 10% or over 90%).
    ``keep_power=False`` drops the learned power from the posterior (the constant sd)."""
    rng = np.random.default_rng(31)
    n_geos, years = 400, np.arange(2010, 2018)
    eta = np.empty((n_geos, years.size))
    eta[:, 0] = rng.uniform(-3.5, 3.5, n_geos)  # shares from 3% to 97%
    for t in range(1, years.size):  # floor 1 and omega 0: no pace, only the shocks
        p = np.clip(1.0 / (1.0 + np.exp(-eta[:, t - 1])), 0.01, 0.99)
        sd = 0.1 * (0.25 / (p * (1.0 - p))) ** (power / 2)
        eta[:, t] = eta[:, t - 1] + sd * rng.standard_normal(n_geos)
    geos = tuple(f"sim_{g}" for g in range(n_geos))
    series = series_from_arrays("sim_level_scaled", geos, np.repeat(np.arange(n_geos),
                                years.size), np.tile(years, n_geos),
                                inv_logit_percent(eta.ravel()))
    priors = TransitionLocalPriors(innovation_scaling="learned_power")
    truth = {"omega": np.zeros(n_geos), "asymptote": 0.99, "floor": 1.0, "phi": 1e-6,
             "sigma_u": 0.1, "sigma_src": np.full(3, 1e-4), "sigma_part": 0.1}
    if keep_power:
        truth["scaling_power"] = power
    posterior = _posterior_at(series, priors, truth, n=4)
    fitted = fitted_conditionals(posterior, series)
    variance = fitted.variance(posterior, series)[:, 0]
    later = fitted.arrays["first"] < 0.5  # every value but a geo's first
    z = ((fitted.eta - fitted.mean)[:, 0] / np.sqrt(variance))[later]
    previous = inv_logit_percent(fitted.eta[fitted.arrays["prev"], 0])[
        later]
    middle, ends = (previous > 30) & (previous < 70), (previous < 10) | (previous > 90)
    return float(np.var(z[middle])), float(np.var(z[ends]))


@pytest.mark.parametrize("power", [0.4, 1.0])
def test_fitted_variance_with_a_learned_power_standardises_the_surprises_at_every_level(power):
    # The conditional variance a fit hands on (resampled tails, surprise_shape.py) must carry
    # the learned power: the standardised surprises then have variance 1 in the middle and
    # at the ends alike (about 700 and 900 of them: +-0.1 is over two standard errors).
    middle, ends = _standardised_surprises_by_level(power, keep_power=True)
    assert middle == pytest.approx(1.0, abs=0.12)
    assert ends == pytest.approx(1.0, abs=0.12)
    # With the power dropped (a constant sd), the ends' surprises are too large for it.
    middle, ends = _standardised_surprises_by_level(power, keep_power=False)
    assert ends > 1.0 + power
