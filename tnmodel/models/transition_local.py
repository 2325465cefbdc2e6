"""Local transition model: the transition model's pace, applied to where the series is.

The default :mod:`~tnmodel.models.transition` model moves a *systematic path* by a
level-dependent pace and lets the data deviate from that path by a stationary AR(1), pulled
back to it. This family (issue 3, third round; pre-registered in ``docs/backtests.md``)
applies the same pace to the series' own level, as bayesTFR does for fertility, and lets the
year-to-year *excess pace* persist as an AR(1)::

    eta[t + 1] = eta[t] + omega[g] * max(f, 1 - p[t] / A) + u[t + 1],   p = invlogit(eta)
    u[t + 1]  = phi * u[t] + sigma_u * e[t + 1]

so a geo that has slowed down (or sped up) carries its recent pace into the next years,
damped by ``phi``, and the level-dependent slowdown acts on the level it has reached. Paces
are pooled (``omega ~ Normal(mu_omega, tau_omega)``, sampled non-centred; a lone geo, with
nothing to pool with, gets that prior's marginal mean and sd), the asymptote ``A`` and floor
``f`` are common to the indicator, with the transition model's priors. With
``innovation_scaling: binomial`` the innovation sd at level ``p`` is ``sigma_u * sqrt(0.25 /
(p (1 - p)))`` (fourth round; off by default). With ``innovation_tails: student_t`` the
conditional below is a Student-t with ``nu = 2 + Gamma(2, 0.1)`` degrees of freedom instead
of a normal, and the forecast draws t innovations (sixth round; off by default): most years'
surprises small, a few large. With ``observation_outliers: transient`` each value may be off
by a blip that later values do not follow (seventh round; off by default; see
:func:`blip_components`). With ``innovation_tails: resampled`` the fit is the normal one and
the forecast draws its innovations from the fit's own one-year surprises, standardised per
posterior draw (eleventh round; off by default; see :func:`surprise_pool`): the normal
model's variance at every horizon, with the shape of the series' surprises (a narrow core, a
few large ones) instead of a normal's; ``innovation_tails: resampled_runs`` draws them as
runs of consecutive years of one geo (thirteenth round; see :func:`surprise_runs`). With
``innovation_sd_trend: log_linear`` the innovation sd changes log-linearly with the year
(``sigma_u`` is the sd at each geo's last value, which the forecast keeps), so erratic early
years do not widen today's forecast (eleventh round; off by default). With ``pace_drift:
random_walk`` each geo's pace ``omega`` drifts by a random walk over the years, and with
``pace_drift: common`` one walk moves every geo's pace (a wave of adoption reaching all at
once); the forecast starts from the pace reached and keeps drifting (eleventh round; off by
default; see :func:`drifting_pace`). With ``observation_error: near_saturation`` each value
has, besides its source type's logit error, an error of ``sigma_sat`` in the share not yet
reached, ``sigma_sat / (1 - p)`` on the logit scale (thirteenth round; off by default; see
:func:`saturation_lever`): a point's error near 100% moves the logit far, and the forecast's
yearly noise widens there with it. With ``volatility: regimes`` each geo's innovation sd in
the fit is ``sigma_u * exp(tau_vol * z_vol[g])``, ``z_vol ~ Normal(0, 1)``, and each forecast
path draws a fresh ``z_vol`` (fourteenth round; off by default; see :func:`volatility_factor`):
a geo's calm or erratic spell does not last past its fit (the thirteenth round found the
volatility of 2005-2013 uncorrelated with that after), so the forecast takes the spread of
spells across geos: a narrow core and heavy tails at every horizon, where heavy-tailed yearly
innovations average out over the years. With ``forecast_pace: pooled`` each forecast path
draws its pace from the pool, ``mu_omega + tau_omega * z`` (plus the common drift reached),
instead of carrying the geo's own fitted ``omega`` (fourteenth round; off by default): a geo's
pace before a cut-off said almost nothing about its next five years beyond its level
(thirteenth round), and a calm geo's slow past pace, which the data pin down when each geo
has its own volatility, then becomes a forecast that misses its takeoff. With
``observation_outliers: transient`` and ``last_value_blip: posterior`` the forecast starts
from under the blips that the last two values' surprises make likely, under the fit's own
likelihood, instead of blips drawn as any value's (fifteenth round; off by default; see
:func:`filtered_blips`): a last value far off its course is taken mostly as a blip. With
``innovation_tails: upward_jumps`` each year's innovation is a normal of sd ``sigma_u`` plus,
with probability ``jump_rate``, an upward jump, half-normal with scale ``jump_sd``, the sum
centred to mean 0, in the fit and in the forecast (seventeenth round; off by default; see
:func:`jump_components`): the fit's one-year surprises in the internet panels have a narrow
core, a short tail down and a long one up (a few large jumps, rare falls), and a symmetric
innovation gives falls two to three times as often as they came. With
``innovation_sd_trend: mean_reverting`` log ``sigma_u`` moves over the years by one
stationary AR(1) shared by every geo (see :func:`ar1_path`), ``sigma_u`` being the typical
year's sd, and the forecast runs that AR on from the fitted years (eighteenth round; off by
default): a calm era across the panel narrows the next year's forecast and fades back to the
typical sd further ahead, where the eleventh round's walk kept it narrow at every horizon.

No latent path and no level parameter are sampled: the likelihood is conditional on each
geo's previous exact observation ``j`` (gap ``k`` years; ``eta`` is an observation on today's
definition, i.e. minus the estimated offset ``delta`` of a definitional break)::

    eta[i] ~ Normal(D_k(eta[j]) + x[j] * S_k,  sqrt(sigma_u**2 V_k + e[i]**2 + e[j]**2))

where ``D_k`` iterates the pace ``k`` years, ``x[j]`` is the per-year excess pace of the
interval ending at ``j`` (``(eta[j] - D(eta[jj])) / gap``; 0 for a geo's first interval),
``S_k = phi + ... + phi**k`` carries it, ``V_k = sum_{m=1..k} ((1 - phi**m) / (1 - phi))**2``
is the variance of ``k`` years of AR(1) innovations summed, and ``e`` the observation error by
source type (with extra error for part-year values). Each geo's first observation is the
start of its chain and contributes no term. For gaps of one year this is the exact
conditional of the process above; for longer gaps the pace is iterated along the mean.

The forecast starts from each geo's last exact observation, carries its excess pace, runs
the process forward with fresh innovations, and adds the error of that last observation
(once per draw) and of the geo's main source type (each year). Years up to the last
observation are the pace run backwards from it (no smoothing of the history).

Limits: every geo needs an exact observation, and bounds (proxies) are not taken (a clear
error says so): use the ``transition`` family for sparse, bounded series.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, Field, model_validator

from tnmodel.models.common import (
    add_break_offsets,
    beta_params,
    draw_observation_errors,
    present_kinds,
)
from tnmodel.models.family import Family, stack_draws
from tnmodel.models.lazy import lazy
from tnmodel.models.series import SOURCE_TYPES, SeriesData, inv_logit_percent
from tnmodel.models.transition import (
    PacePriors,
    chain_of,
    main_source_type,
    rate_np,
)

pm = lazy("pymc")
pt = lazy("pytensor.tensor")

#: The pace is iterated over gaps up to a multiple of this many years (one compiled structure
#: for neighbouring cut-offs).
GAP_STEP = 4


class LocalPacePriors(PacePriors):
    """Priors of a pace applied to the series' own level, with a persistent excess pace.

    Pace, asymptote, floor, observation errors and breaks are the transition model's
    (:class:`~tnmodel.models.transition.PacePriors`). New: the persistence ``phi`` of the
    excess pace, Beta with mean 0.5 and concentration 4 (anything from no memory to a nearly
    permanent change of pace), and its innovation sd ``sigma_u``, log-normal with median 0.1
    logits a year. ``level_*`` only shape the first value of each simulated geo.
    """

    persistence_mean: float = Field(0.5, gt=0, lt=1, description=(
        "Mean of the Beta prior of phi, the share of a year's excess pace kept the next year."))
    persistence_concentration: float = Field(4.0, gt=0, description=(
        "Concentration of that Beta (4 with mean 0.5: about 0.14-0.86 for 90%)."))
    innovation_sd_median: float = Field(0.1, gt=0, description=(
        "Median of the log-normal prior of sigma_u (logits a year)."))
    innovation_sd_log_sd: float = Field(0.75, gt=0, description=(
        "Log-scale sd of that log-normal prior."))


class TransitionLocalPriors(LocalPacePriors):
    """Priors of the local transition model (logit scale; paces per year): those of
    :class:`LocalPacePriors` and the options of the third to twentieth back-test rounds
    (innovation scaling and tails, transient blips, the pace curve's power, the innovation
    sd's trend, pace drift, volatility regimes, the forecast's pace), each off by default
    (``docs/backtests.md`` says what each round found).
    """

    innovation_scaling: Literal["constant", "binomial", "learned_power"] = Field(
        "constant", description=(
            "How the innovation sd depends on the level p: 'constant' (sigma_u at every "
            "level) or 'binomial' (sigma_u * sqrt(0.25 / (p (1 - p))), p clipped to "
            "0.01-0.99: the logit of a proportion varies more near 0% and 100%, as a "
            "binomial share does; sigma_u is then the sd at 50%), or 'learned_power' "
            "(nineteenth round): sigma_u * (0.25 / (p (1 - p)))**(scaling_power / 2) with "
            "scaling_power ~ Beta between 0 (constant) and 1 (binomial), learned from the "
            "data."))
    scaling_power_mean: float = Field(0.5, gt=0, lt=1, description=(
        "Mean of the Beta prior of scaling_power with innovation_scaling 'learned_power'."))
    scaling_power_concentration: float = Field(4.0, gt=0, description=(
        "Concentration of that Beta (4 with mean 0.5: about 0.14-0.86 for 90%)."))
    innovation_tails: Literal["normal", "student_t", "resampled", "resampled_runs",
                              "upward_jumps"] = Field("normal", description=(
        "Distribution of a year's innovation: 'normal'; 'student_t' with nu - 2 ~ "
        "Gamma(tail_dof_shape, tail_dof_rate) degrees of freedom (sixth round: a narrow core "
        "with rare large surprises, as method changes and revisions give; sigma_u is then "
        "its scale); or 'resampled' (eleventh round): the fit is the normal model's, and "
        "the forecast draws each year's innovation from the fit's own one-year surprises, "
        "standardised to mean 0 and variance 1 per posterior draw, instead of from a normal "
        "(the same variance at every horizon, the data's shape); or 'resampled_runs' "
        "(thirteenth round): the same pool, drawn as runs of consecutive years of one geo "
        "(a random geo and year to start from, then the years after it, wrapping round "
        "to that geo's first), so that a spell of surprises the same way (a takeoff, a "
        "revision that lasts) is drawn as it came instead of averaged away; or "
        "'upward_jumps' (seventeenth round): each year's innovation is Normal(0, sigma_u) "
        "plus, with probability jump_rate, a jump up, half-normal with scale jump_sd, the "
        "sum centred to mean 0, fitted and forecast: a narrow core of surprises, a short "
        "tail down and a long one up (adoption rarely falls back, and jumps when it takes "
        "off, or when a new survey finds more users)."))
    jump_rate_mean: float = Field(0.1, gt=0, lt=1, description=(
        "With upward_jumps: mean of the Beta prior of jump_rate, the share of years with a "
        "jump."))
    jump_rate_concentration: float = Field(10.0, gt=0, description=(
        "Concentration of that Beta."))
    jump_sd_median: float = Field(0.3, gt=0, description=(
        "With upward_jumps: median of the log-normal prior of jump_sd, the scale of a "
        "jump's half-normal (logits; at the geo's volatility)."))
    jump_sd_log_sd: float = Field(0.75, gt=0, description=(
        "Log-scale sd of that log-normal prior."))
    tail_dof_shape: float = Field(2.0, gt=0, description=(
        "With student_t: shape of the Gamma prior of nu - 2 (see tail_dof_rate)."))
    tail_dof_rate: float = Field(0.1, gt=0, description=(
        "With student_t: nu - 2 ~ Gamma(shape, rate); the defaults give nu a prior mean of 22 "
        "(nearly normal) with a long left tail down to 2 (finite variance)."))
    observation_outliers: Literal["none", "transient"] = Field("none", description=(
        "'none', or 'transient': each value is, with probability outlier_rate, off by a "
        "transient blip ~ Normal(0, outlier_sd) that the next values do not follow (seventh "
        "round: revisions and one-year jumps that revert; the yearly innovations stay "
        "normal, so a lasting change of pace is still carried)."))
    outlier_rate_mean: float = Field(0.1, gt=0, lt=1, description=(
        "Mean of the Beta prior of outlier_rate, the share of values that are blips."))
    outlier_rate_concentration: float = Field(10.0, gt=0, description=(
        "Concentration of that Beta."))
    outlier_sd_median: float = Field(0.3, gt=0, description=(
        "Median of the log-normal prior of outlier_sd (logits)."))
    outlier_sd_log_sd: float = Field(0.5, gt=0, description=(
        "Log-scale sd of that log-normal prior."))
    innovation_sd_trend: Literal["none", "log_linear", "random_walk",
                                 "mean_reverting"] = Field("none", description=(
        "'none', or 'log_linear' (eleventh round): the innovation sd changes by a factor "
        "exp(sigma_u_trend) a year, sigma_u_trend ~ Normal(0, innovation_sd_trend_sd), and "
        "sigma_u is the sd at each geo's last value; the forecast keeps that last sd (the "
        "trend is not extrapolated). Erratic early years then widen the forecast less. "
        "'random_walk': log sigma_u follows one random walk over the years, shared by every "
        "geo, with steps of sd tau_sd_walk ~ HalfNormal(innovation_sd_walk_sd); sigma_u is "
        "again the sd at each geo's last value, and the forecast walks on from it. A walk "
        "follows a calm that set in and stayed, where a log-linear trend keeps shrinking "
        "the sd. 'mean_reverting' (eighteenth round): log sigma_u moves over the years by "
        "one stationary AR(1), shared by every geo, with persistence rho_sd and marginal sd "
        "tau_sd_path; sigma_u is the sd at the AR's mean (the typical year's), and the "
        "forecast runs the AR on from the fitted years, so a calm (or erratic) era narrows "
        "(widens) the next years and fades back to the typical sd further ahead."))
    innovation_sd_trend_sd: float = Field(0.05, gt=0, description=(
        "sd of the normal prior of sigma_u_trend, the yearly change of log sigma_u (0.05: a "
        "halving or doubling over 14 years is one prior sd)."))
    innovation_sd_walk_sd: float = Field(0.1, gt=0, description=(
        "Scale of the half-normal prior of tau_sd_walk, the sd of a year's step of log "
        "sigma_u with innovation_sd_trend 'random_walk'."))
    sd_persistence_mean: float = Field(0.6, gt=0, lt=1, description=(
        "Mean of the Beta prior of rho_sd, the year-to-year persistence of log sigma_u with "
        "innovation_sd_trend 'mean_reverting' (0.6: an era's deviation halves in about 1.4 "
        "years)."))
    sd_persistence_concentration: float = Field(5.0, gt=0, description=(
        "Concentration of that Beta."))
    sd_path_sd: float = Field(0.5, gt=0, description=(
        "Scale of the half-normal prior of tau_sd_path, the marginal sd of log sigma_u "
        "across years with innovation_sd_trend 'mean_reverting' (0.5: one year's sd 1.6 "
        "times the typical is unremarkable)."))
    pace_drift: Literal["none", "random_walk", "common"] = Field("none", description=(
        "'none'; 'random_walk' (eleventh round): each geo's pace omega drifts, by a random "
        "walk with yearly steps of sd tau_drift ~ HalfNormal(pace_drift_sd) from the first "
        "year of the series; the forecast starts from the pace reached and keeps drifting. "
        "A lasting change of pace (a second wave of adoption) is then carried, and the "
        "forecast's spread grows faster with the horizon than the AR(1) excess pace gives. "
        "'common': one such walk shared by every geo (waves that reach all at once)."))
    pace_drift_sd: float = Field(0.03, gt=0, description=(
        "Scale of the half-normal prior of tau_drift (logits a year, per year)."))
    pace_curve_power: float = Field(1.0, ge=0.25, le=10.0, description=(
        "k in the pace omega * max(f, 1 - (p / A)**k): 1 is the transition model's curve, "
        "whose logit pace falls in proportion to the share; larger k keeps the pace until "
        "the share nears the asymptote, then slows it faster (tenth-round option); k under "
        "1 slows it most at the first shares (the fastest logit paces at the lowest levels, "
        "as late adopters took off; thirteenth round)."))
    observation_error: Literal["logit", "near_saturation"] = Field("logit", description=(
        "'logit': each value's observation error is sigma_src of its source type (and "
        "sigma_part for part-year values), the same on the logit scale at every level. "
        "'near_saturation' (thirteenth round) adds an error of sigma_sat in the share "
        "not yet reached, entered on the logit scale as sigma_sat / (1 - p) at the value's "
        "share p: near 100% a point's error moves the logit far (values bounce between 96% "
        "and 98%), while near 0% the series' values stay relative estimates."))
    saturation_error_sd: float = Field(0.01, gt=0, description=(
        "Scale of the half-normal prior of sigma_sat with observation_error "
        "'near_saturation' (a share: 0.01 is one percentage point)."))
    volatility: Literal["constant", "regimes"] = Field("constant", description=(
        "'constant': one innovation sd sigma_u for every geo. 'regimes' (fourteenth "
        "round): geo g's innovation sd is sigma_u * exp(tau_vol * z_vol[g]) with z_vol ~ "
        "Normal(0, 1) and tau_vol ~ HalfNormal(volatility_spread_sd), and each forecast "
        "path draws a fresh z_vol: a spell of calm or of large surprises is the geo's only "
        "for its fitted years, and what carries to the forecast is how much spells differ "
        "across geos (a narrow core with heavy tails at every horizon). A lone geo has no "
        "spread to learn and keeps one sd."))
    forecast_pace: Literal["own", "pooled"] = Field("own", description=(
        "'own': the forecast runs each geo on its fitted pace omega (with the drift it has "
        "reached). 'pooled' (fourteenth round): each forecast path draws its pace from the "
        "pool, mu_omega + tau_omega * z with z ~ Normal(0, 1) (with the common drift "
        "reached; a per-geo drift is then not allowed), so that a geo's past pace carries "
        "to its forecast only through the pool. A lone geo has no pool and keeps its own."))
    last_value_blip: Literal["prior", "posterior"] = Field("prior", description=(
        "With observation_outliers 'transient', where the forecast starts: 'prior' (seventh "
        "round) from under a blip in the last value drawn as any value's, whatever the value "
        "was; 'posterior' (fifteenth round) from under the blips that the last two values' "
        "surprises make likely (a value far off its geo's course is most likely a blip, one "
        "on course most likely not)."))
    volatility_spread_sd: float = Field(0.5, gt=0, description=(
        "Scale of the half-normal prior of tau_vol, the sd of log innovation sd across geos "
        "with volatility 'regimes' (0.5: one geo's sd 1.6 times another's is typical)."))

    @model_validator(mode="after")
    def _one_change_of_tails(self) -> TransitionLocalPriors:
        if self.observation_outliers == "transient" and self.innovation_tails != "normal":
            raise ValueError("observation_outliers 'transient' takes normal innovations; "
                             "set innovation_tails: normal (the two are not combined)")
        if self.last_value_blip == "posterior" and self.observation_outliers != "transient":
            raise ValueError("last_value_blip 'posterior' filters the last value's transient "
                             "blips: set observation_outliers: transient")
        if self.forecast_pace == "pooled" and self.pace_drift == "random_walk":
            raise ValueError("forecast_pace 'pooled' draws every geo's pace from the pool; "
                             "a per-geo drift has no pool to draw from: set pace_drift: none "
                             "or common")
        return self


class UnsupportedSeries(ValueError):
    """The series has something this family does not model (bounds, a geo without values)."""


def check_series(series: SeriesData, family: str = "transition_local") -> None:
    """Raise :class:`UnsupportedSeries` (saying what to use instead) if ``family`` (this one
    or another that applies the pace to the series' own level) cannot fit ``series``."""
    bounded = sorted(set(series.kind) - {"exact"})
    if bounded:
        raise UnsupportedSeries(
            f"{series.indicator}: family '{family}' does not take bounds "
            f"({', '.join(bounded)} bounds present); use family 'transition'")
    exact_geos = set(series.geo_index[series.kind == "exact"].tolist())
    missing = [g for i, g in enumerate(series.geos) if i not in exact_geos]
    if missing:
        raise UnsupportedSeries(
            f"{series.indicator}: family '{family}' needs an exact value for every "
            f"geo; none for {', '.join(missing)}; use family 'transition'")


def max_gap(series: SeriesData) -> int:
    """Longest gap between a geo's consecutive observations, padded to :data:`GAP_STEP`."""
    _, gap, _ = chain_of(series.geo_index, series.year)
    return GAP_STEP * max(1, math.ceil(float(gap.max(initial=1.0)) / GAP_STEP))


def _arrays(series: SeriesData, priors: TransitionLocalPriors) -> dict[str, np.ndarray]:
    check_series(series)
    prev, gap, first = chain_of(series.geo_index, series.year)
    arrays = {"y": series.y.astype(float), "geo_of": series.geo_index.astype(np.int64),
              "part": series.part_year.astype(float),
              "src": series.source_types().astype(np.int64),
              "prev": prev, "gap": gap, "first": first}
    breaks = series.break_matrix()
    for b in range(breaks.shape[1]):
        arrays[f"brk{b}"] = breaks[:, b].astype(float)
    # Kept with the fit (the posterior's constant data), read back by extract_draws.
    arrays["binomial_scaling"] = np.array(float(priors.innovation_scaling == "binomial"))
    arrays["resampled_innovations"] = np.array(
        {"resampled": 1.0, "resampled_runs": 2.0}.get(priors.innovation_tails, 0.0))
    # Each value's year on the series' grid, its geo's last value's, and the years between.
    arrays["year_index"] = (series.year - series.year.min()).astype(np.int64)
    arrays["last_year_index"] = arrays["year_index"][last_rows(series)][series.geo_index]
    arrays["years_before_last"] = (arrays["last_year_index"]
                                   - arrays["year_index"]).astype(float)
    if priors.innovation_tails in ("resampled", "resampled_runs"):
        check_surprises(series, first, gap, priors.innovation_tails)
    arrays["pace_power"] = np.array(float(priors.pace_curve_power))
    arrays["pooled_pace"] = np.array(float(priors.forecast_pace == "pooled"))
    arrays["filtered_blip"] = np.array(float(priors.last_value_blip == "posterior"))
    # Each value's lever for the near-saturation error, at its observed share.
    arrays["saturation_lever"] = saturation_lever(arrays["y"], _invlogit_np, np.clip)
    return arrays


def drift_years(series: SeriesData) -> int:
    """Length of the drifting pace's yearly grid: the series' years, padded to a multiple of
    :data:`GAP_STEP` (one compiled structure for neighbouring cut-offs)."""
    span = int(series.year.max() - series.year.min()) + 1
    return GAP_STEP * math.ceil(span / GAP_STEP)


def drifting_pace(omega, drift, geo_of, start, last: int, minimum):
    """The pace multiplier of each step of an interval, as a function of the step: ``omega``
    of the observation's geo plus the geo's drift in the step's year (grid index ``start +
    step``, at most ``last``). Arrays are numpy (obs, sample) / (geo, year, sample) or
    PyTensor (obs,) / (geo, year)."""
    return lambda step: omega + drift[geo_of, minimum(start + step, last)]


def walk_from_zero(tau, steps, lib):
    """A random walk along the last axis of ``steps`` (standard normal steps), scaled by
    ``tau`` and starting at 0: one value more than ``steps`` has. ``lib`` is numpy or
    pytensor.tensor."""
    return lib.concatenate([lib.zeros_like(steps[..., :1]), tau * lib.cumsum(steps, axis=-1)],
                           axis=-1)


def sd_walk_factor(walk, year_index, last_year_index, exp):
    """Each observation's innovation sd per unit ``sigma_u`` under the sd walk: the walk's
    move from the year of the geo's last value to the observation's year, ``exp(walk[year] -
    walk[last year])``."""
    return exp(walk[year_index] - walk[last_year_index])


def ar1_path(rho, tau, z, n: int, lib):
    """A stationary AR(1) of ``n`` years from ``z`` (``n`` standard normal draws), with
    persistence ``rho`` and marginal sd ``tau`` (both scalars): ``s[0] = tau z[0]``, ``s[t] =
    rho s[t - 1] + tau sqrt(1 - rho**2) z[t]``, written as one lower-triangular product so
    that PyMC samples it non-centred. ``lib`` is numpy or pytensor.tensor."""
    lag = np.subtract.outer(np.arange(n), np.arange(n))  # t - j
    weights = lib.where(lag >= 0, rho ** np.maximum(lag, 0), 0.0)
    fresh = lib.concatenate([lib.ones(1), lib.sqrt(1.0 - rho**2) * lib.ones(n - 1)])
    return tau * lib.dot(z * fresh, weights.T)


def ar1_onward(rng: np.random.Generator, path: np.ndarray, rho: np.ndarray, tau: np.ndarray,
               years: int) -> np.ndarray:
    """``path`` (sample, year) of the stationary AR(1) of :func:`ar1_path`, run ``years``
    more years per sample (``rho``, ``tau`` of shape (sample,)) with fresh draws."""
    onward = [path]
    last = path[:, -1]
    for _ in range(years):
        last = rho * last + tau * np.sqrt(1.0 - rho**2) * rng.standard_normal(last.shape)
        onward.append(last[:, None])
    return np.concatenate(onward, axis=1)


def trend_factor(trend, before_last, exp):
    """The innovation variance ``before_last`` years before a geo's last value, per unit
    ``sigma_u**2``: ``exp(-2 * trend * before_last)`` (1 without a trend)."""
    return exp(-2.0 * trend * before_last)


def local_rate(power, backend: str):
    """The yearly logit pace ``omega * max(f, 1 - (p / A)**power)`` as a function of (level,
    omega, asymptote, floor), for ``backend`` "numpy" (``power`` a number; with 1 the
    transition model's :func:`~tnmodel.models.transition.rate_np` itself) or "pytensor"
    (``power`` the fit's ``pace_power`` data, so one compiled graph serves every power;
    ``x**1.0`` is ``x`` exactly, so the default's numbers are the plain curve's)."""
    if backend == "numpy":
        if power == 1.0:
            return rate_np
        return lambda mu, omega, asymptote, floor: omega * np.maximum(
            floor, 1.0 - (_invlogit_np(mu) / asymptote) ** power)
    return lambda mu, omega, asymptote, floor: omega * pt.maximum(
        floor, 1.0 - (pm.math.invlogit(mu) / asymptote) ** power)


def conditional_means(eta, omega, asymptote, floor, phi, prev, gap, first, steps: int,
                      where, maximum, rate):
    """Mean of each observation given its geo's previous one, and its interval's excess pace.

    Backend-agnostic (numpy with observations on the first axis and draws after, or
    PyTensor vectors): ``where``, ``maximum`` and ``rate`` (the pace, from
    :func:`local_rate`) are the backend's functions. ``omega`` is each observation's pace,
    or a function of the step (1 .. ``steps``) giving it (a drifting pace,
    :func:`drifting_pace`).

    Returns
    -------
    mean, excess
        ``D_k(eta[prev]) + excess[prev] * S_k`` (``eta`` itself for a geo's first value), and
        the per-year excess pace of the interval ending at each observation.
    """
    pace_at = omega if callable(omega) else (lambda step: omega)
    base = eta[prev]
    for step in range(1, steps + 1):
        base = where(gap >= step, base + rate(base, pace_at(step), asymptote, floor), base)
    own = where((first > 0) | (gap < 1), 0.0, (eta - base) / maximum(gap, 1.0))
    excess = where((first < 1) & (gap < 1), own[prev], own)  # same-year values share it
    carry = phi * (1.0 - phi**gap) / (1.0 - phi)
    mean = where(first > 0, eta, base + excess[prev] * carry)
    return mean, excess


def innovation_variance(phi, gap, steps: int, where):
    """``V_k``: variance of ``k = gap`` years of AR(1) innovations summed, per unit sd."""
    total = 0.0 * gap
    for m in range(1, steps + 1):
        total = total + where(gap >= m, ((1.0 - phi**m) / (1.0 - phi)) ** 2, 0.0)
    return total


#: Shares are clipped to this distance from 0 and 1 where the binomial scaling is computed.
SCALE_CLIP = 0.01


def volatility_factor(tau_vol, z_vol, exp):
    """``exp(tau_vol * z_vol)``: the factor of the innovation sd of a geo (fit: ``z_vol`` per
    geo) or of a forecast path (a fresh standard normal per path) with ``volatility:
    regimes``; its log is Normal(0, tau_vol), so ``sigma_u`` is the median sd."""
    return exp(tau_vol * z_vol)


def saturation_lever(eta, invlogit, clip):
    """How far an error of 1 in the share not yet reached moves the logit at ``eta``, for
    ``observation_error: near_saturation``: ``1 / (1 - p)``, ``p`` clipped to at most ``1 -
    SCALE_CLIP`` (so at most 100)."""
    return 1.0 / (1.0 - clip(invlogit(eta), 0.0, 1.0 - SCALE_CLIP))


def innovation_scale(eta, scaling: str, invlogit, clip, power=1.0):
    """Innovation sd per unit ``sigma_u`` at logit level ``eta``: 1, or with ``binomial``
    scaling ``sqrt(0.25 / (p (1 - p)))`` (``p`` clipped to ``SCALE_CLIP``..``1 - SCALE_CLIP``),
    or with ``learned_power`` that to the ``power`` (``scaling_power``; broadcast with
    ``eta``)."""
    if scaling == "constant":
        return 1.0
    p = clip(invlogit(eta), SCALE_CLIP, 1.0 - SCALE_CLIP)
    return (0.25 / (p * (1.0 - p))) ** (0.5 * (power if scaling == "learned_power" else 1.0))


def blip_share(gap, first, where, maximum):
    """How much of a blip of 1 in each value enters the per-year excess pace of the interval
    that value ends: ``1 / gap`` (0 for a geo's first value, which ends no interval)."""
    return where((first < 1) & (gap >= 1), 1.0 / maximum(gap, 1.0), 0.0)


def blip_lever(phi, gap, prev, first, where, maximum):
    """How far a blip of 1 in each observation's previous value moves the observation's
    conditional mean: 1 through the level it starts from, plus ``S_k`` times its
    :func:`blip_share` through the carried excess pace."""
    carry = phi * (1.0 - phi**gap) / (1.0 - phi)
    return 1.0 + carry * blip_share(gap, first, where, maximum)[prev]


def blip_components(variance, rate, blip_sd, lever):
    """Weights and variances of an observation's conditional with transient blips: no blip,
    a blip in the new value, in the previous value (moved by ``lever``), in both."""
    new, old = blip_sd**2, (lever * blip_sd) ** 2
    weights = [(1.0 - rate) ** 2, rate * (1.0 - rate), rate * (1.0 - rate), rate**2]
    return weights, [variance, variance + new, variance + old, variance + new + old]


def blips(rng: np.random.Generator, rate: np.ndarray, blip_sd: np.ndarray,
          shape: tuple[int, ...]) -> np.ndarray:
    """Transient blips of shape (sample, ...): each value, with its sample's probability
    ``rate``, off by Normal(0, ``blip_sd``); otherwise 0."""
    extra = (1,) * (len(shape) - 1)
    hit = rng.random(shape) < np.reshape(rate, (-1, *extra))
    return np.where(hit, np.reshape(blip_sd, (-1, *extra)) * rng.standard_normal(shape), 0.0)


def surprise_pool(eta: np.ndarray, mean: np.ndarray, variance: np.ndarray, gap: np.ndarray,
                  first: np.ndarray) -> np.ndarray:
    """The fit's one-year surprises as a pool to resample innovations from (sample, surprise).

    Each value that follows its geo's previous one by at least a year gives
    ``(eta - mean) / sqrt(variance)``, its surprise in units of its conditional sd (``eta``,
    ``mean`` and ``variance`` are (obs, sample)); per posterior draw the pool is then centred
    and scaled to variance 1, so resampling it changes the innovations' shape and nothing
    else: the forecast's mean and variance stay the normal model's.

    A series with fewer than :data:`MIN_SURPRISES` such values is refused before its fit
    (:func:`check_surprises`).
    """
    keep = (first < 1) & (gap >= 1)
    z = ((eta - mean) / np.sqrt(variance))[keep].T  # (sample, surprise)
    z = z - z.mean(axis=1, keepdims=True)
    return z / np.sqrt((z**2).mean(axis=1, keepdims=True))


def surprise_runs(series: SeriesData, gap: np.ndarray, first: np.ndarray) -> tuple:
    """The order of :func:`surprise_pool`'s surprises by geo and year, and each one's run.

    Returns
    -------
    order, start, length, position
        ``order`` sorts the pool's columns by geo, then year; in that order, ``start`` is
        the column of the geo's first surprise, ``length`` how many the geo has and
        ``position`` the surprise's place among them. A run drawn from column ``j`` takes
        ``start[j] + (position[j] + k) % length[j]`` at its ``k``-th year.
    """
    keep = (first < 1) & (gap >= 1)
    geo, year = series.geo_index[keep], series.year[keep]
    order = np.lexsort((year, geo))
    geo = geo[order]
    start = np.searchsorted(geo, geo, side="left")
    length = np.searchsorted(geo, geo, side="right") - start
    return order, start, length, np.arange(geo.size) - start


def run_innovations(pool: np.ndarray, runs: tuple, begin: np.ndarray, step: int) -> np.ndarray:
    """The ``step``-th year (0 first) of the runs that begin at pool columns ``begin``
    (sample, geo), from each sample's row of ``pool`` (in :func:`surprise_runs`' order;
    ``runs`` is its ``start, length, position``)."""
    start, length, position = runs
    column = start[begin] + (position[begin] + step) % length[begin]
    return pool[np.arange(pool.shape[0])[:, None], column]


#: The fewest one-year surprises :func:`surprise_pool` resamples from.
MIN_SURPRISES = 8


def check_surprises(series: SeriesData, first: np.ndarray, gap: np.ndarray,
                    tails: str = "resampled") -> None:
    """Raise :class:`UnsupportedSeries` if ``series`` has too few surprises to resample."""
    count = int(((first < 1) & (gap >= 1)).sum())
    if count < MIN_SURPRISES:
        raise UnsupportedSeries(
            f"{series.indicator}: innovation_tails '{tails}' needs at least "
            f"{MIN_SURPRISES} values that follow their geo's previous value by a year or "
            f"more, to resample the forecast's innovations from; the series has {count}; "
            "use innovation_tails: normal")


def one_geo_pace_sd(priors) -> float:
    """Prior sd of the pace of a lone geo: the pooled prior's marginal sd, ``sqrt(pace_sd**2
    + E[tau**2])`` with ``tau ~ Gamma(2, 2 / pace_spread_mean)`` (``E[tau**2] = 1.5 mean**2``)."""
    return math.sqrt(priors.pace_sd**2 + 1.5 * priors.pace_spread_mean**2)


def innovations(rng: np.random.Generator, shape: tuple[int, ...],
                nu: np.ndarray | None, pool: np.ndarray | None = None) -> np.ndarray:
    """Standard innovations of shape (sample, ...): normal, Student-t with each sample's
    degrees of freedom ``nu`` (sample,), or drawn with replacement from each sample's row of
    ``pool`` (sample, surprise; see :func:`surprise_pool`)."""
    if pool is not None:
        rows = np.arange(shape[0]).reshape(-1, *[1] * (len(shape) - 1))
        return pool[rows, rng.integers(pool.shape[1], size=shape)]
    if nu is None:
        return rng.standard_normal(shape)
    df = np.broadcast_to(np.asarray(nu, float).reshape(-1, *[1] * (len(shape) - 1)), shape)
    return rng.standard_t(df)


#: The mean of a standard half-normal, ``sqrt(2 / pi)``.
HALF_NORMAL_MEAN = math.sqrt(2.0 / math.pi)


def upward_jumps(rng: np.random.Generator, rate: np.ndarray, jump_sd: np.ndarray,
                 shape: tuple[int, ...]) -> np.ndarray:
    """Centred upward jumps of shape (sample, ...) for ``innovation_tails: upward_jumps``:
    with each sample's probability ``rate``, ``jump_sd * |Z|``, else 0, minus their mean
    ``rate * jump_sd * sqrt(2 / pi)``."""
    extra = (1,) * (len(shape) - 1)
    rate, jump_sd = np.reshape(rate, (-1, *extra)), np.reshape(jump_sd, (-1, *extra))
    hit = rng.random(shape) < rate
    return (np.where(hit, jump_sd * np.abs(rng.standard_normal(shape)), 0.0)
            - rate * jump_sd * HALF_NORMAL_MEAN)


def jump_components(rate, width, gap, first, where, maximum):
    """The mixture an observation's conditional becomes with ``innovation_tails:
    upward_jumps``: no jump (the normal of sd ``sd`` the model has without jumps), or a jump
    up of half-normal scale ``width`` (the jump plus that normal is a skew-normal of scale
    ``sqrt(width**2 + sd**2)`` and shape ``width / sd``: :func:`jump_logp`), both shifted by
    the same ``shift`` so that the mixture's mean is the conditional mean.

    Returns ``hit, shift``: the chance of a jump in the interval (``1 - (1 - rate)**gap``;
    exact for a gap of one year, while over longer gaps the jumps of several years are taken
    as one, of scale ``width``) and ``-hit * width * sqrt(2 / pi)``. A geo's first value
    has neither (0, 0).
    """
    later = first < 1
    hit = where(later, 1.0 - (1.0 - rate) ** maximum(gap, 1.0), 0.0)
    return hit, -hit * width * HALF_NORMAL_MEAN


def jump_logp(value, loc, sd, hit, width):
    """Log density of the :func:`jump_components` mixture at ``value`` (PyTensor): a normal
    ``(loc, sd)`` with weight ``1 - hit``, and the skew-normal of a half-normal jump of scale
    ``width`` added to it with weight ``hit``."""
    import pymc as pm

    normal = pm.logp(pm.Normal.dist(loc, sd), value)
    jumped = skew_normal_logp(value, loc, pt.sqrt(sd**2 + width**2), width / sd)
    return pt.logaddexp(pt.log1p(-hit) + normal,
                        pt.log(pt.maximum(hit, 1e-300)) + jumped)


def skew_normal_logp(value, loc, scale, alpha):
    """Log density of a skew-normal (PyTensor), with the normal's log cdf written to stay
    right far in the short tail (PyMC's own ``SkewNormal`` takes ``log(1 + erf)``, which
    is off there by orders of magnitude: a test checks it against SciPy). A half-normal of
    scale ``w`` added to an independent normal of sd ``s`` is this with ``scale = sqrt(w**2
    + s**2)`` and ``alpha = w / s``."""
    from pymc.distributions.dist_math import normal_lcdf

    z = (value - loc) / scale
    return (math.log(2.0) - pt.log(scale) - 0.5 * math.log(2.0 * math.pi) - 0.5 * z**2
            + normal_lcdf(0.0, 1.0, alpha * z))


def _invlogit_np(x):
    return 1.0 / (1.0 + np.exp(-x))


def local_parameters(series: SeriesData, priors: LocalPacePriors, data: dict) -> dict:
    """The parameters the local families share, created inside the current model: pooled
    paces ``omega`` (non-centred; a lone geo gets the pool's marginal prior), asymptote,
    floor, persistence ``phi``, innovation sd ``sigma_u``, observation errors by source type
    and for part-year values, and the break offsets; ``offset`` is each observation's (or
    grid cell's, with ``data``'s ``brk*`` arrays) offset from today's definition."""
    n_breaks = series.break_matrix().shape[1]
    if len(series.geos) == 1:  # nothing to pool with: the pool's marginal prior
        omega = pm.Normal("omega", priors.pace_mean, one_geo_pace_sd(priors), dims="geo")
    else:
        mu_omega = pm.Normal("mu_omega", priors.pace_mean, priors.pace_sd)
        tau_omega = pm.Gamma("tau_omega", 2.0, 2.0 / priors.pace_spread_mean)
        # Non-centred whatever the density of the series: a geo's pace is only weakly
        # pinned by its data (it trades off with the floor and the excess pace), and the
        # centred form mixed tau_omega too slowly (eighth round).
        z_omega = pm.Normal("z_omega", 0.0, 1.0, dims="geo")
        omega = pm.Deterministic("omega", mu_omega + tau_omega * z_omega, dims="geo")
    params = {
        "omega": omega,
        "asymptote": pm.Beta("asymptote", *beta_params(priors.asymptote_mean,
                                                       priors.asymptote_concentration)),
        "floor": pm.Beta("floor", *beta_params(priors.floor_mean, priors.floor_concentration)),
        "phi": pm.Beta("phi", *beta_params(priors.persistence_mean,
                                           priors.persistence_concentration)),
        "sigma_u": pm.LogNormal("sigma_u", np.log(priors.innovation_sd_median),
                                priors.innovation_sd_log_sd),
        "sigma_src": pm.LogNormal("sigma_src", np.log(priors.obs_sd_medians()),
                                  priors.obs_sd_log_sd, dims="source_type"),
        "sigma_part": pm.HalfNormal("sigma_part", priors.part_year_sd),
    }
    offset = 0.0
    if n_breaks:
        delta = pm.Normal("delta", 0.0, priors.break_sd, dims="break")
        for b in range(n_breaks):
            offset = offset + data[f"brk{b}"] * delta[b]
    params["offset"] = offset
    return params


def draw_local_parameters(n_geos: int, priors: LocalPacePriors,
                          rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One prior draw of the parameters :func:`local_parameters` creates (simulations):
    ``omega``, ``mu_omega``, ``asymptote``, ``floor``, ``phi``, ``sigma_u``, ``sigma_src``."""
    if n_geos == 1:
        mu_omega = priors.pace_mean
        omega = rng.normal(mu_omega, one_geo_pace_sd(priors), 1)
    else:
        mu_omega = rng.normal(priors.pace_mean, priors.pace_sd)
        omega = rng.normal(mu_omega, rng.gamma(2.0, priors.pace_spread_mean / 2.0), n_geos)
    A = rng.beta(*beta_params(priors.asymptote_mean, priors.asymptote_concentration))
    f = rng.beta(*beta_params(priors.floor_mean, priors.floor_concentration))
    phi = rng.beta(*beta_params(priors.persistence_mean, priors.persistence_concentration))
    s = float(np.exp(rng.normal(np.log(priors.innovation_sd_median),
                                priors.innovation_sd_log_sd)))
    sigma = np.exp(rng.normal(np.log(priors.obs_sd_medians()), priors.obs_sd_log_sd))
    return {"omega": omega, "mu_omega": np.array(mu_omega), "asymptote": np.array(A),
            "floor": np.array(f), "phi": np.array(phi), "sigma_u": np.array(s),
            "sigma_src": sigma}


def process_draws(draws: dict[str, np.ndarray], years: np.ndarray) -> tuple:
    """What a local family's forecast runs the process with: ``omega`` (sample, geo), the
    asymptote, floor, ``phi`` and ``sigma_u`` as (sample, 1), each geo's last observed year,
    and how many years the furthest of ``years`` lies beyond the earliest of those."""
    last_year = draws["last_year"].astype(int)  # (geo,)
    ahead = max(0, int((years[None, :] - last_year[:, None]).max()))
    return (draws["omega"], draws["asymptote"][:, None], draws["floor"][:, None],
            draws["phi"][:, None], draws["sigma_u"][:, None], last_year, ahead)


def paths_at(years: np.ndarray, last_year: np.ndarray, forward: list[np.ndarray],
             start: np.ndarray, pace, sigma_u: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Logit paths (sample, geo, year) at ``years``: ``forward[k]`` is each geo's level ``k``
    years after its ``last_year``; years before it are ``pace`` run back from ``start``, with
    the innovations' spread (``sigma_u * sqrt(years back)``)."""
    h = years[None, :] - last_year[:, None]  # (geo, year)
    behind = max(0, int((-h).max()))
    level, backward = start, []
    for step in range(1, behind + 1):
        level = level - pace(level)
        backward.append(level + sigma_u * math.sqrt(step) * rng.standard_normal(level.shape))
    geo = np.arange(len(last_year))[:, None]
    paths = np.stack(forward, axis=2)[:, geo, np.maximum(h, 0)]
    if behind:
        back = np.stack(backward, axis=2)[:, geo, np.maximum(-h, 1) - 1]
        paths = np.where((h < 0)[None], back, paths)
    return paths


class LocalFamily(Family):
    """A family that applies the pace to the series' own level (this one and
    :mod:`~tnmodel.models.transition_state`): it needs an exact value for every geo and
    takes no bounds."""

    pace_var = "omega"

    def unsupported(self, series: SeriesData) -> str | None:
        try:
            check_series(series, self.name)
        except UnsupportedSeries as exc:
            return str(exc)
        return None


class TransitionLocal(LocalFamily):
    """The local transition family (see module docstring)."""

    name = "transition_local"
    priors_class = TransitionLocalPriors
    gate_vars = ("mu_omega", "tau_omega", "asymptote", "floor", "phi", "sigma_u",
                 "sigma_src", "sigma_part", "delta", "omega", "nu_excess", "jump_rate",
                 "jump_sd", "outlier_rate", "outlier_sd", "sigma_u_trend", "tau_sd_walk",
                 "tau_drift", "sigma_sat", "tau_vol", "rho_sd", "tau_sd_path",
                 "scaling_power")

    def data_arrays(self, series: SeriesData, priors: BaseModel) -> dict[str, np.ndarray]:
        return _arrays(series, priors)

    def structure_key(self, series: SeriesData, priors: BaseModel) -> tuple:
        check_series(series)
        return (self.name, len(series.geos), max_gap(series), present_kinds(series),
                series.break_matrix().shape[1],
                drift_years(series) if (priors.pace_drift != "none"
                                        or priors.innovation_sd_trend in ("random_walk",
                                                                          "mean_reverting"))
                else 0,
                priors.model_dump_json())

    def build_model(self, series: SeriesData, priors: TransitionLocalPriors) -> pm.Model:
        steps = max_gap(series)
        n_breaks = series.break_matrix().shape[1]
        coords = {"geo": list(series.geos), "source_type": list(SOURCE_TYPES),
                  "break": list(range(n_breaks))}
        with pm.Model(coords=coords) as model:
            data = {name: pm.Data(name, values) for name, values in _arrays(series, priors).items()}
            params = local_parameters(series, priors, data)
            omega, asymptote, floor = params["omega"], params["asymptote"], params["floor"]
            phi, sigma_u, offset = params["phi"], params["sigma_u"], params["offset"]
            sigma_src, sigma_part = params["sigma_src"], params["sigma_part"]
            eta = data["y"] - offset
            prev, gap, first = data["prev"], data["gap"], data["first"]
            pace = omega[data["geo_of"]]
            if priors.pace_drift != "none":
                years = drift_years(series)
                model.add_coord("drift_year", list(range(1, years)))
                tau_drift = pm.HalfNormal("tau_drift", priors.pace_drift_sd)
                common = priors.pace_drift == "common"
                z_drift = pm.Normal("z_drift", 0.0, 1.0,
                                    dims=("drift_year",) if common else ("geo", "drift_year"))
                drift = pm.Deterministic("drift", pt.broadcast_to(
                    walk_from_zero(tau_drift, z_drift[None, :] if common else z_drift, pt),
                    (len(series.geos), years)))
                pace = drifting_pace(pace, drift, data["geo_of"], data["year_index"][prev],
                                     years - 1, pt.minimum)
            mean, _ = conditional_means(eta, pace, asymptote, floor, phi, prev,
                                        gap, first, steps, pt.switch, pt.maximum,
                                        local_rate(data["pace_power"], "pytensor"))
            error = sigma_src[data["src"]] ** 2 + data["part"] * sigma_part**2
            if priors.observation_error == "near_saturation":
                sigma_sat = pm.HalfNormal("sigma_sat", priors.saturation_error_sd)
                error = error + (sigma_sat * data["saturation_lever"]) ** 2
            if priors.innovation_scaling == "learned_power":
                scaling_power = pm.Beta("scaling_power", *beta_params(
                    priors.scaling_power_mean, priors.scaling_power_concentration))
                scale = innovation_scale(eta[prev], "learned_power", pm.math.invlogit,
                                         pt.clip, scaling_power)
            else:  # constant or binomial: data (kept with the fit), in every compiled graph
                scale = pt.switch(data["binomial_scaling"] > 0.5,
                                  innovation_scale(eta[prev], "binomial", pm.math.invlogit,
                                                   pt.clip), 1.0)
            if priors.innovation_sd_trend == "log_linear":
                trend = pm.Normal("sigma_u_trend", 0.0, priors.innovation_sd_trend_sd)
                scale = scale * pt.sqrt(trend_factor(trend, data["years_before_last"], pt.exp))
            elif priors.innovation_sd_trend == "random_walk":
                model.add_coord("sd_year", list(range(1, drift_years(series))))
                tau_walk = pm.HalfNormal("tau_sd_walk", priors.innovation_sd_walk_sd)
                z_walk = pm.Normal("z_sd_walk", 0.0, 1.0, dims="sd_year")
                walk = pm.Deterministic("sd_walk", walk_from_zero(tau_walk, z_walk, pt))
                scale = scale * sd_walk_factor(walk, data["year_index"],
                                               data["last_year_index"], pt.exp)
            elif priors.innovation_sd_trend == "mean_reverting":
                years = drift_years(series)
                model.add_coord("sd_path_year", list(range(years)))
                rho_sd = pm.Beta("rho_sd", *beta_params(priors.sd_persistence_mean,
                                                        priors.sd_persistence_concentration))
                tau_path = pm.HalfNormal("tau_sd_path", priors.sd_path_sd)
                z_path = pm.Normal("z_sd_path", 0.0, 1.0, dims="sd_path_year")
                path = pm.Deterministic("sd_path", ar1_path(rho_sd, tau_path, z_path, years, pt),
                                        dims="sd_path_year")
                scale = scale * pt.exp(path[data["year_index"]])
            if priors.volatility == "regimes" and len(series.geos) > 1:
                tau_vol = pm.HalfNormal("tau_vol", priors.volatility_spread_sd)
                z_vol = pm.Normal("z_vol", 0.0, 1.0, dims="geo")
                scale = scale * volatility_factor(tau_vol, z_vol, pt.exp)[data["geo_of"]]
            moved = sigma_u**2 * scale**2 * innovation_variance(phi, gap, steps, pt.switch)
            variance = moved + error + error[prev]
            sd = pt.switch(first > 0, 1.0, pt.sqrt(variance))  # first values: a constant
            if priors.observation_outliers == "transient":
                outlier_rate, outlier_sd = _rate_and_scale(
                    ("outlier_rate", "outlier_sd"), priors.outlier_rate_mean,
                    priors.outlier_rate_concentration, priors.outlier_sd_median,
                    priors.outlier_sd_log_sd)
                lever = blip_lever(phi, gap, prev, first, pt.switch, pt.maximum)
                weights, variances = blip_components(variance, outlier_rate, outlier_sd, lever)
                pm.Mixture("y_obs", w=pt.stack(weights), comp_dists=[
                    pm.Normal.dist(mean + offset, pt.switch(first > 0, 1.0, pt.sqrt(v)))
                    for v in variances], observed=data["y"])
            elif priors.innovation_tails == "student_t":
                nu_excess = pm.Gamma("nu_excess", priors.tail_dof_shape, priors.tail_dof_rate)
                nu = pm.Deterministic("nu", 2.0 + nu_excess)
                pm.StudentT("y_obs", nu=nu, mu=mean + offset, sigma=sd, observed=data["y"])
            elif priors.innovation_tails == "upward_jumps":
                jump_rate, jump_sd = _rate_and_scale(
                    ("jump_rate", "jump_sd"), priors.jump_rate_mean,
                    priors.jump_rate_concentration, priors.jump_sd_median,
                    priors.jump_sd_log_sd)
                # A jump moves the value as a year's innovation does (at the geo's sd scale).
                width = jump_sd * scale * pt.sqrt(innovation_variance(phi, gap, steps,
                                                                      pt.switch))
                hit, shift = jump_components(jump_rate, width, gap, first, pt.switch,
                                             pt.maximum)
                pm.CustomDist("y_obs", mean + offset + shift, sd, hit,
                              pt.switch(first > 0, 0.0, width), logp=jump_logp,
                              observed=data["y"])
            else:
                pm.Normal("y_obs", mean + offset, sd, observed=data["y"])
        return model

    def extract_draws(self, posterior: xr.DataTree, series: SeriesData) -> dict[str, np.ndarray]:
        post, constant = posterior.posterior, posterior["constant_data"]
        fitted = fitted_conditionals(posterior, series)
        draws, arrays, eta, mean, excess, error = (
            fitted.draws, fitted.arrays, fitted.eta, fitted.mean, fitted.excess, fitted.error)
        scaling, power, drift = fitted.scaling, fitted.power, fitted.drift
        gap, first = arrays["gap"][:, None], arrays["first"][:, None]
        resampled = ("resampled_innovations" in constant
                     and float(constant["resampled_innovations"]) > 0.5)
        filtered = "filtered_blip" in constant and float(constant["filtered_blip"]) > 0.5
        if resampled or filtered:
            variance = fitted.variance(posterior, series)
        if resampled:
            draws["surprise_pool"] = surprise_pool(eta, mean, variance, arrays["gap"],
                                                   arrays["first"])
            if float(constant["resampled_innovations"]) > 1.5:  # drawn as runs
                runs = surprise_runs(series, arrays["gap"], arrays["first"])
                draws["surprise_pool"] = draws["surprise_pool"][:, runs[0]]
                for name, values in zip(("run_start", "run_length", "run_position"),
                                        runs[1:], strict=True):
                    draws[name] = values
        last = last_rows(series)
        draws["last_eta"], draws["last_excess"] = eta[last].T, excess[last].T  # (sample, geo)
        draws["last_error_sd"] = np.sqrt(error[last]).T
        draws["last_year"] = series.year[last].astype(float)
        draws["main_type"] = main_source_type(series)
        draws["binomial_scaling"] = np.array(scaling == "binomial")
        if "scaling_power" in post:
            draws["scaling_power"] = stack_draws(post["scaling_power"])
        draws["pace_power"] = np.array(power)
        if "tau_sd_walk" in post:
            draws["tau_sd_walk"] = stack_draws(post["tau_sd_walk"])
        if "sd_path" in post:  # the common log sd's AR, as fitted, and its grid's first year
            draws["sd_path"] = stack_draws(post["sd_path"])  # (sample, grid year)
            draws["rho_sd"] = stack_draws(post["rho_sd"])
            draws["tau_sd_path"] = stack_draws(post["tau_sd_path"])
            draws["sd_path_first_year"] = np.array(float(series.year.min()))
        reached = np.zeros_like(draws["omega"])  # the drift of each geo's pace at its last value
        if "drift" in post:  # the pace each geo has reached at its last value
            draws["tau_drift"] = stack_draws(post["tau_drift"])
            draws["drift_common"] = np.array(  # one walk for every geo: no geo dim
                "z_drift" in post and "geo" not in post["z_drift"].dims)
            reached = drift[np.arange(len(series.geos)), arrays["year_index"][last]].T
            draws["omega"] = draws["omega"] + reached
        if ("mu_omega" in post and "pooled_pace" in constant
                and float(constant["pooled_pace"]) > 0.5):
            draws["mu_omega"] = stack_draws(post["mu_omega"])
            draws["tau_omega"] = stack_draws(post["tau_omega"])
            draws["pace_shift"] = reached
        if "nu" in post:
            draws["nu"] = stack_draws(post["nu"])
        if "jump_rate" in post:
            draws["jump_rate"] = stack_draws(post["jump_rate"])
            draws["jump_sd"] = stack_draws(post["jump_sd"])
        if "tau_vol" in post:
            draws["tau_vol"] = stack_draws(post["tau_vol"])
        if "outlier_rate" in post:
            draws["outlier_rate"] = stack_draws(post["outlier_rate"])
            draws["outlier_sd"] = stack_draws(post["outlier_sd"])
            draws["last_excess_lever"] = blip_share(
                arrays["gap"], arrays["first"], np.where, np.maximum)[last]  # (geo,)
            if filtered:  # what the last two values' surprises say about their blips
                lever = blip_lever(draws["phi"], gap, arrays["prev"], first,
                                   np.where, np.maximum)  # (obs, sample)
                rows = np.stack([arrays["prev"][last], last], axis=-1)  # (geo, 2)
                none = (arrays["first"][rows] > 0)[..., None]  # a geo's first: no surprise
                for name, values, where_none in (("last_surprise", eta - mean, 0.0),
                                                 ("last_variance", variance, NO_SURPRISE),
                                                 ("last_blip_lever", lever, 1.0)):
                    draws[name] = np.moveaxis(np.where(none, where_none, values[rows]), -1, 0)
        return draws

    def forecast(self, draws: dict[str, np.ndarray], series: SeriesData, years: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The process run forward from each geo's last exact value (see module docstring)."""
        years = np.asarray(years, dtype=int)
        omega, A, f, phi, sigma_u, last_year, ahead = process_draws(draws, years)
        # Forward: (sample, geo, steps ahead 0..ahead).
        level, excess = draws["last_eta"], draws["last_excess"]
        transient = "outlier_rate" in draws
        if transient and "last_surprise" in draws:  # its blips, given its surprise
            blip, before = filtered_blips(rng, draws["outlier_rate"], draws["outlier_sd"],
                                          draws["last_surprise"], draws["last_variance"],
                                          draws["last_blip_lever"])
            level = level - blip
            excess = excess - (blip - before) * draws["last_excess_lever"]
        elif transient:  # the last value may be a blip: the process starts from under it
            blip = blips(rng, draws["outlier_rate"], draws["outlier_sd"], level.shape)
            level, excess = level - blip, excess - blip * draws["last_excess_lever"]
        forward = [level]
        scaling = "binomial" if bool(draws.get("binomial_scaling", False)) else "constant"
        power = 1.0  # with learned_power: each draw's power of the binomial scale
        if "scaling_power" in draws:
            scaling, power = "learned_power", draws["scaling_power"][:, None]
        rate = local_rate(float(draws.get("pace_power", 1.0)), "numpy")
        nu, pool = draws.get("nu"), draws.get("surprise_pool")
        tau_drift, tau_walk = draws.get("tau_drift"), draws.get("tau_sd_walk")
        pace = omega  # with a drifting pace: the pace reached at the last value, drifting on
        if "mu_omega" in draws:  # forecast_pace pooled: a fresh pace from the pool per path
            pace = (draws["mu_omega"][:, None] + draws["pace_shift"]
                    + draws["tau_omega"][:, None] * rng.standard_normal(level.shape))
        log_sd = 0.0  # with an sd walk: log sigma_u's move since the last value, walking on
        runs = None
        path_volatility = 1.0  # with regimes: a fresh spell for each (sample, geo) path
        if "tau_vol" in draws:
            path_volatility = volatility_factor(draws["tau_vol"][:, None],
                                                rng.standard_normal(level.shape), np.exp)
        if "sd_path" in draws:  # the common AR run on past the fitted years
            first_index = last_year - int(draws["sd_path_first_year"])  # (geo,)
            beyond = max(0, int(first_index.max()) + ahead + 1 - draws["sd_path"].shape[1])
            sd_path = ar1_onward(rng, draws["sd_path"], draws["rho_sd"],
                                 draws["tau_sd_path"], beyond)
        if "run_start" in draws:  # each (sample, geo) draws one run of the fit's surprises
            runs = (draws["run_start"], draws["run_length"], draws["run_position"])
            begin = rng.integers(pool.shape[1], size=level.shape)
        for step_ahead in range(ahead):
            if tau_walk is not None:  # one walk for every geo, as in the fit
                log_sd = log_sd + tau_walk[:, None] * rng.standard_normal((level.shape[0], 1))
            if "sd_path" in draws:  # each geo's next year on the common AR
                log_sd = sd_path[:, first_index + step_ahead + 1]
            if tau_drift is not None:  # a common walk takes the same step in every geo
                step = rng.standard_normal(
                    (level.shape[0], 1) if draws.get("drift_common", False) else level.shape)
                pace = pace + tau_drift[:, None] * step
            spread = (np.exp(log_sd) * path_volatility  # the innovation sd per unit sigma_u
                      * innovation_scale(level, scaling, _invlogit_np, np.clip, power))
            drawn = (run_innovations(pool, runs, begin, step_ahead) if runs is not None
                     else innovations(rng, level.shape, nu, pool))
            excess = phi * excess + sigma_u * spread * drawn
            if "jump_rate" in draws:  # at the path's sd scale, as in the fit
                excess = excess + spread * upward_jumps(
                    rng, draws["jump_rate"], draws["jump_sd"], level.shape)
            level = level + rate(level, pace, A, f) + excess
            forward.append(level)
        paths = paths_at(years, last_year, forward, draws["last_eta"],
                         lambda level: rate(level, omega, A, f), sigma_u, rng)
        start_error = draws["last_error_sd"][:, :, None] * rng.standard_normal(paths.shape[:2]
                                                                               )[:, :, None]
        sd = draws["sigma_src"][:, draws["main_type"]][:, :, None]  # (sample, geo, 1)
        if "sigma_sat" in draws:  # at the level each path has reached
            sd = np.sqrt(sd**2 + (draws["sigma_sat"][:, None, None]
                                  * saturation_lever(paths, _invlogit_np, np.clip)) ** 2)
        noise = sd * rng.standard_normal(paths.shape)
        if transient:
            noise = noise + blips(rng, draws["outlier_rate"], draws["outlier_sd"], paths.shape)
        return inv_logit_percent(paths + start_error + noise), noise

    def simulate(self, series: SeriesData, priors: TransitionLocalPriors,
                 rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Parameters from the prior and logit observations drawn from the model's own
        conditionals. Each value's observation error is its source type's (with the extra
        part-year error for part-year values); values before a definitional break of the
        series are on the older definition (the truth's ``delta`` added). ``sigma_part``
        and ``delta`` are drawn, and in the truth, only when the series has such values;
        ``sigma_src_mixed`` (every type's error) only when it has more than one type."""
        check_series(series)
        truth = draw_local_parameters(len(series.geos), priors, rng)
        omega, A, f, phi = truth["omega"], truth["asymptote"], truth["floor"], truth["phi"]
        s, sigma = float(truth["sigma_u"]), truth["sigma_src"]
        nu = (2.0 + rng.gamma(priors.tail_dof_shape, 1.0 / priors.tail_dof_rate)
              if priors.innovation_tails == "student_t" else None)
        jumps = priors.innovation_tails == "upward_jumps"
        if jumps:
            jump_rate, jump_sd = _rate_and_scale(rng, priors.jump_rate_mean,
                                                 priors.jump_rate_concentration,
                                                 priors.jump_sd_median, priors.jump_sd_log_sd)
        scaling_power = 1.0  # with learned_power: its draw
        if priors.innovation_scaling == "learned_power":
            scaling_power = rng.beta(*beta_params(priors.scaling_power_mean,
                                                  priors.scaling_power_concentration))
            truth["scaling_power"] = np.array(scaling_power)
        transient = priors.observation_outliers == "transient"
        if transient:
            outlier_rate, outlier_sd = _rate_and_scale(
                rng, priors.outlier_rate_mean, priors.outlier_rate_concentration,
                priors.outlier_sd_median, priors.outlier_sd_log_sd)
        prev, gap, first = chain_of(series.geo_index, series.year)
        steps = max_gap(series)
        arrays = _arrays(series, priors)
        trend = (rng.normal(0.0, priors.innovation_sd_trend_sd)
                 if priors.innovation_sd_trend == "log_linear" else 0.0)
        sd_factor = np.ones(series.n_obs)  # the sd walk's, per observation
        if priors.innovation_sd_trend == "random_walk":
            tau_walk = abs(rng.normal(0.0, priors.innovation_sd_walk_sd))
            walk = walk_from_zero(tau_walk, rng.standard_normal(drift_years(series) - 1), np)
            sd_factor = sd_walk_factor(walk, arrays["year_index"], arrays["last_year_index"],
                                       np.exp)
            truth["tau_sd_walk"] = np.array(tau_walk)
        elif priors.innovation_sd_trend == "mean_reverting":
            rho_sd = rng.beta(*beta_params(priors.sd_persistence_mean,
                                           priors.sd_persistence_concentration))
            tau_path = abs(rng.normal(0.0, priors.sd_path_sd))
            years = drift_years(series)
            path = ar1_path(rho_sd, tau_path, rng.standard_normal(years), years, np)
            sd_factor = np.exp(path[arrays["year_index"]])
            truth["rho_sd"], truth["tau_sd_path"] = np.array(rho_sd), np.array(tau_path)
        pace = omega[series.geo_index]
        if priors.pace_drift != "none":
            years = drift_years(series)
            tau_drift = abs(rng.normal(0.0, priors.pace_drift_sd))
            walks = 1 if priors.pace_drift == "common" else len(series.geos)
            drift = np.broadcast_to(
                walk_from_zero(tau_drift, rng.standard_normal((walks, years - 1)), np),
                (len(series.geos), years))
            pace = drifting_pace(pace, drift, series.geo_index, arrays["year_index"][prev],
                                 years - 1, np.minimum)
            truth["tau_drift"] = np.array(tau_drift)
        before_last = arrays["years_before_last"]
        vol = np.ones(series.n_obs)  # with regimes: each observation's geo's sd factor
        if priors.volatility == "regimes" and len(series.geos) > 1:
            tau_vol = abs(rng.normal(0.0, priors.volatility_spread_sd))
            vol = volatility_factor(tau_vol, rng.standard_normal(len(series.geos)),
                                    np.exp)[series.geo_index]
            truth["tau_vol"] = np.array(tau_vol)
        sat = 0.0  # the near-saturation error's sd, in shares
        if priors.observation_error == "near_saturation":
            sat = abs(rng.normal(0.0, priors.saturation_error_sd))
            truth["sigma_sat"] = np.array(sat)
        if transient:
            levers = blip_lever(phi, gap, prev, first, np.where, np.maximum)
        error, drawn = draw_observation_errors(series, sigma, priors.part_year_sd, rng)
        truth |= drawn
        y = np.zeros(series.n_obs)  # on today's definition (eta) until the end
        for i in np.lexsort((series.year, series.geo_index)):  # each after its previous
            if first[i]:
                y[i] = rng.normal(priors.level_mean, priors.level_sd)
                continue
            mean, _ = conditional_means(
                y, pace, A, f, phi, prev, gap, first, steps, np.where,
                np.maximum, local_rate(priors.pace_curve_power, "numpy"))
            scale = innovation_scale(y[prev[i]], priors.innovation_scaling, _invlogit_np,
                                     np.clip, scaling_power)
            moved = (s**2 * scale**2 * innovation_variance(phi, gap[i], steps, np.where)
                     * trend_factor(trend, before_last[i], np.exp) * sd_factor[i] ** 2
                     * vol[i] ** 2)
            variance = moved + (error[i] + error[prev[i]])  # as 2 * sigma**2 when alike
            if sat:  # the new value's lever is taken at its mean (the fit takes it at the
                # value drawn: the same to first order)
                levers = saturation_lever(np.array([y[prev[i]], mean[i]]), _invlogit_np, np.clip)
                variance += float(np.sum((sat * levers) ** 2))
            if transient:  # one of the four cases, by its weight
                weights, variances = blip_components(variance, outlier_rate, outlier_sd,
                                                     levers[i])
                variance = variances[rng.choice(4, p=np.asarray(weights) / np.sum(weights))]
            if jumps:  # the likelihood's mixture: a jump in the interval or none
                width = jump_sd * math.sqrt(moved) / s
                hit, shift = jump_components(jump_rate, width, gap[i], first[i], np.where,
                                             np.maximum)
                y[i] = (mean[i] + shift + math.sqrt(variance) * rng.standard_normal()
                        + (rng.random() < hit) * width * abs(rng.standard_normal()))
                continue
            draw = rng.standard_normal() if nu is None else rng.standard_t(nu)
            y[i] = mean[i] + math.sqrt(variance) * draw
        if nu is not None:
            truth["nu_excess"] = np.array(nu - 2.0)
        if jumps:
            truth["jump_rate"] = np.array(jump_rate)
            truth["jump_sd"] = np.array(jump_sd)
        if priors.innovation_sd_trend == "log_linear":
            truth["sigma_u_trend"] = np.array(trend)
        if transient:
            truth["outlier_rate"] = np.array(outlier_rate)
            truth["outlier_sd"] = np.array(outlier_sd)
        y, offsets = add_break_offsets(series, y, priors.break_sd, rng)
        return truth | offsets, y


@dataclasses.dataclass(frozen=True)
class FittedConditionals:
    """Each observation's conditional given its geo's previous one, as a fit of this family
    has it, per posterior draw (arrays (obs, sample)): ``eta`` (on today's definition),
    ``mean``, the interval's ``excess`` pace and the observation-error variance ``error``;
    with the ``draws`` read on the way (the forecast's start), the series' ``arrays``, the
    innovation ``scaling``, the pace curve's ``power`` and the pace ``drift`` (geo, year,
    sample; ``None`` without one)."""

    draws: dict[str, np.ndarray]
    arrays: dict[str, np.ndarray]
    scaling: str
    power: float
    eta: np.ndarray
    mean: np.ndarray
    excess: np.ndarray
    error: np.ndarray
    drift: np.ndarray | None

    def variance(self, posterior: xr.DataTree, series: SeriesData) -> np.ndarray:
        """Each observation's conditional variance (obs, sample): :func:`_fitted_variance`."""
        return _fitted_variance(posterior.posterior, self.draws, self.arrays, self.eta,
                                self.scaling, self.error, max_gap(series))


def fitted_conditionals(posterior: xr.DataTree, series: SeriesData) -> FittedConditionals:
    """The fit's conditionals of ``series`` (see :class:`FittedConditionals`)."""
    post, constant = posterior.posterior, posterior["constant_data"]
    draws = {name: stack_draws(post[name]) for name in
             ("omega", "asymptote", "floor", "phi", "sigma_u", "sigma_src", "sigma_part")}
    scaling = "binomial" if float(constant["binomial_scaling"]) > 0.5 else "constant"
    power = float(constant["pace_power"]) if "pace_power" in constant else 1.0
    arrays = _arrays(series, TransitionLocalPriors(innovation_scaling=scaling,
                                                   pace_curve_power=power))
    rate = local_rate(power, "numpy")
    n = draws["phi"].shape[0]
    offset = np.zeros((series.n_obs, n))
    if "delta" in post:
        offset = series.break_matrix() @ stack_draws(post["delta"]).T  # (obs, sample)
    eta = arrays["y"][:, None] - offset
    gap, first = arrays["gap"][:, None], arrays["first"][:, None]
    pace, drift = draws["omega"].T[arrays["geo_of"]], None
    if "drift" in post:
        drift = np.moveaxis(stack_draws(post["drift"]), 0, -1)  # (geo, year, sample)
        pace = drifting_pace(pace, drift, arrays["geo_of"],
                             arrays["year_index"][arrays["prev"]], drift.shape[1] - 1,
                             np.minimum)
    mean, excess = conditional_means(
        eta, pace, draws["asymptote"], draws["floor"],
        draws["phi"], arrays["prev"], gap, first, max_gap(series), np.where, np.maximum,
        rate)
    error = (draws["sigma_src"].T[arrays["src"]] ** 2
             + arrays["part"][:, None] * draws["sigma_part"] ** 2)  # (obs, sample)
    if "sigma_sat" in post:
        draws["sigma_sat"] = stack_draws(post["sigma_sat"])
        error = error + (draws["sigma_sat"] * arrays["saturation_lever"][:, None]) ** 2
    return FittedConditionals(draws, arrays, scaling, power, eta, mean, excess, error, drift)


def _rate_and_scale(source, rate_mean: float, rate_concentration: float,
                    scale_median: float, scale_log_sd: float) -> tuple:
    """The priors of an occasional event's rate (Beta) and size's scale (log-normal), for
    transient blips and upward jumps: with ``source`` a pair of names, the two PyMC
    variables (inside the current model); with ``source`` a numpy Generator, one draw."""
    alpha, beta = beta_params(rate_mean, rate_concentration)
    if isinstance(source, np.random.Generator):
        rate = source.beta(alpha, beta)
        return rate, np.exp(source.normal(np.log(scale_median), scale_log_sd))
    rate_name, scale_name = source
    return (pm.Beta(rate_name, alpha, beta),
            pm.LogNormal(scale_name, np.log(scale_median), scale_log_sd))


def _fitted_variance(post, draws: dict[str, np.ndarray], arrays: dict[str, np.ndarray],
                     eta: np.ndarray, scaling: str, error: np.ndarray,
                     steps: int) -> np.ndarray:
    """Each observation's conditional variance given its previous one, as the fit had it
    (obs, sample): the innovations' (with every fitted scale of the sd) and both values'
    observation errors."""
    power = 1.0
    if "scaling_power" in post:  # the learned power of the binomial scale
        scaling, power = "learned_power", stack_draws(post["scaling_power"])
    scale = innovation_scale(eta[arrays["prev"]], scaling, _invlogit_np, np.clip, power)
    if "sigma_u_trend" in post:
        scale = scale * np.sqrt(trend_factor(
            stack_draws(post["sigma_u_trend"]), arrays["years_before_last"][:, None], np.exp))
    if "sd_walk" in post:
        walk = stack_draws(post["sd_walk"]).T  # (grid year, sample)
        scale = scale * sd_walk_factor(walk, arrays["year_index"], arrays["last_year_index"],
                                       np.exp)
    if "sd_path" in post:  # the common AR of log sigma_u, as fitted
        scale = scale * np.exp(stack_draws(post["sd_path"]).T[arrays["year_index"]])
    if "tau_vol" in post:  # the geos' own spells, as fitted
        scale = scale * volatility_factor(
            stack_draws(post["tau_vol"]), stack_draws(post["z_vol"]).T[arrays["geo_of"]],
            np.exp)
    return (draws["sigma_u"] ** 2 * scale**2
            * innovation_variance(draws["phi"], arrays["gap"][:, None], steps, np.where)
            + error + error[arrays["prev"]])


#: The variance of a surprise that is not there (a geo's first value): it then says nothing.
NO_SURPRISE = 1e6


def filtered_blips(rng: np.random.Generator, rate: np.ndarray, blip_sd: np.ndarray,
                   surprise: np.ndarray, variance: np.ndarray,
                   lever: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blips in each geo's last value and the one before it, drawn given the last two
    values' surprises (``observation_outliers: transient`` with ``last_value_blip:
    posterior``).

    The last two surprises (each value minus its conditional mean given the value before)
    are, as the fit's likelihood has them, ``r1 = b1 - lever1 * b0 + e1`` and ``r2 = b2 -
    lever2 * b1 + e2``, with ``e ~ Normal(0, variance)`` and each of the last three values'
    blips ``b0, b1, b2``, with probability ``rate``, ``Normal(0, blip_sd)`` (else 0). Which
    values are blips (eight cases) is drawn by its posterior weight, then the blips from their
    normal posterior in that case (Matheron's rule: a prior draw moved by the gain times what
    it leaves of the surprises). So a value off its geo's course is taken as a blip, unless
    the value before it explains the jump better: itself off course the other way.

    Parameters
    ----------
    rate, blip_sd : (sample,)
    surprise, variance, lever : (sample, geo, 2)
        The last two values' surprises, the variances of their parts that are not blips, and
        the levers of the blips before them (:func:`blip_lever`). Where a value has no
        surprise (a geo's first) its variance is :data:`NO_SURPRISE`.

    Returns
    -------
    last, before : (sample, geo)
        The blips in the last value and in the one before it.
    """
    shape = surprise.shape[:-1]
    rate, sd2 = rate[:, None], blip_sd[:, None] ** 2
    (r1, r2), (v1, v2), (l1, l2) = (np.moveaxis(a, -1, 0) for a in (surprise, variance, lever))
    cases = [(c0, c1, c2) for c0 in (0, 1) for c1 in (0, 1) for c2 in (0, 1)]

    def covariance(c0, c1, c2):
        return (sd2 * (l1**2 * c0 + c1) + v1, -sd2 * l2 * c1, sd2 * (l2**2 * c1 + c2) + v2)

    log_post = []
    for c in cases:
        m11, m12, m22 = covariance(*c)
        det = m11 * m22 - m12**2
        quad = (m22 * r1**2 - 2 * m12 * r1 * r2 + m11 * r2**2) / det
        prior = rate ** sum(c) * (1.0 - rate) ** (3 - sum(c))
        log_post.append(np.log(prior) - 0.5 * (np.log(det) + quad))
    log_post = np.stack(log_post)
    post = np.exp(log_post - log_post.max(axis=0))
    cumulative = np.cumsum(post / post.sum(axis=0), axis=0)
    case = np.asarray(cases)[(rng.random(shape)[None] > cumulative).sum(axis=0).clip(max=7)]
    c0, c1, c2 = np.moveaxis(case, -1, 0)
    b0, b1, b2 = (c * np.sqrt(sd2) * rng.standard_normal(shape) for c in (c0, c1, c2))
    d1 = r1 - (b1 - l1 * b0 + np.sqrt(v1) * rng.standard_normal(shape))
    d2 = r2 - (b2 - l2 * b1 + np.sqrt(v2) * rng.standard_normal(shape))
    m11, m12, m22 = covariance(c0, c1, c2)
    det = m11 * m22 - m12**2
    w1, w2 = (m22 * d1 - m12 * d2) / det, (m11 * d2 - m12 * d1) / det  # M^-1 d
    return b2 + c2 * sd2 * w2, b1 + c1 * sd2 * (w1 - l2 * w2)


def last_rows(series: SeriesData) -> np.ndarray:
    """Index of each geo's last exact observation (the latest in chain order)."""
    order = np.lexsort((series.year, series.geo_index))
    last = np.zeros(len(series.geos), dtype=int)
    for i in order:
        if series.kind[i] == "exact":
            last[series.geo_index[i]] = i
    return last


TRANSITION_LOCAL = TransitionLocal()
