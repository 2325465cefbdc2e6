"""Logit-linear trend with partial pooling across geos, for bounded shares (0-100%).

On the logit scale, geo ``g``'s share in year ``t`` is

    eta[g, t] = alpha[g] + beta[g] * (t - c[g])

where ``c[g]`` is the mean year of geo ``g``'s observations, so ``alpha[g]`` is its level
where its data are (and is not tied to its pace along a ridge, as it would be with one
calendar origin for a geo with a single observation). Levels and paces are pooled:
``alpha[g] ~ Normal(mu_alpha, tau_alpha)``, ``beta[g] ~ Normal(mu_beta, tau_beta)`` (levels
centred; paces centred for dense data, non-centred for sparse), so a geo with one or two
points borrows its pace from the others. An
observation is ``Normal(eta, sd)`` with ``sd**2 = sigma_obs**2 + part_year * sigma_part**2``:
part-year snapshots and circa-dated values carry extra error. An observation that is only a
bound (``bound = upper`` / ``lower``) enters as a censored term, ``P(eta + e <= bound)`` or
``P(eta + e >= bound)``.

A forecast of the value an annual report would print in year ``T`` is
``invlogit(eta[g, T] + sigma_obs * e)``, ``e ~ Normal(0, 1)``: the posterior predictive of an
annual observation.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
from pydantic import BaseModel, ConfigDict, Field

from tnmodel.models.series import SeriesData


class LogitTrendPriors(BaseModel):
    """Weakly informative priors (logit scale; pace is per year).

    The pace default, Normal(0.2, 0.3), puts 95% of the mass between about -0.4 and +0.8
    logits a year: from slow decline to the fastest adoption curves in the internet panel.
    The observation error of published statistics is LogNormal(log 0.15, 0.5): 95% between
    0.06 and 0.4 logits (about +-1.5 to +-10 points around 50%), and never collapsing to 0.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    level_mean: float = 0.0
    level_sd: float = Field(2.0, gt=0)
    level_spread_mean: float = Field(1.0, gt=0)
    pace_mean: float = 0.2
    pace_sd: float = Field(0.3, gt=0)
    pace_spread_mean: float = Field(0.15, gt=0)
    obs_sd_median: float = Field(0.15, gt=0)
    obs_sd_log_sd: float = Field(0.5, gt=0)
    part_year_sd: float = Field(0.5, gt=0)


def prefers_centred_pace(series: SeriesData) -> bool:
    """Centre the paces when most geos have their own trend (4+ distinct years of data).

    With dense series the data pin each pace and the non-centred form is a funnel; with sparse
    series (most geos with 1-2 points) the pool sets the pace and the centred form is one.
    """
    years_per_geo = [np.unique(series.year[series.geo_index == i]).size
                     for i in range(len(series.geos))]
    return float(np.median(years_per_geo)) >= 4


def build_model(series: SeriesData, priors: LogitTrendPriors,
                centred_pace: bool | None = None) -> pm.Model:
    """The PyMC model for ``series`` (see module docstring).

    ``centred_pace`` chooses the parametrisation of the paces (same model, different
    geometry); ``None`` picks it with :func:`prefers_centred_pace`.
    """
    if centred_pace is None:
        centred_pace = prefers_centred_pace(series)
    t = series.year - series.centre_years()[series.geo_index]
    part = series.part_year.astype(float)
    g = series.geo_index
    coords = {"geo": list(series.geos)}
    with pm.Model(coords=coords) as model:
        mu_alpha = pm.Normal("mu_alpha", priors.level_mean, priors.level_sd)
        # Zero-avoiding Gamma(2, .) spreads (levels and paces): with few geos a half-normal
        # lets a spread collapse towards 0, the neck of a funnel. Places do differ.
        tau_alpha = pm.Gamma("tau_alpha", alpha=2.0, beta=2.0 / priors.level_spread_mean)
        # Levels are centred (every geo has data on its own level, which a non-centred form
        # would turn into a funnel); paces are centred or not depending on the data density.
        alpha = pm.Normal("alpha", mu_alpha, tau_alpha, dims="geo")

        mu_beta = pm.Normal("mu_beta", priors.pace_mean, priors.pace_sd)
        tau_beta = pm.Gamma("tau_beta", alpha=2.0, beta=2.0 / priors.pace_spread_mean)
        if centred_pace:
            beta = pm.Normal("beta", mu_beta, tau_beta, dims="geo")
        else:
            z_beta = pm.Normal("z_beta", 0.0, 1.0, dims="geo")
            beta = pm.Deterministic("beta", mu_beta + tau_beta * z_beta, dims="geo")

        # A log-normal keeps the observation error away from 0: with two points per geo a line
        # fits exactly, and a half-normal would let the error collapse into a funnel.
        sigma_obs = pm.LogNormal("sigma_obs", np.log(priors.obs_sd_median), priors.obs_sd_log_sd)
        sigma_part = pm.HalfNormal("sigma_part", priors.part_year_sd)
        sd = pm.math.sqrt(sigma_obs**2 + part * sigma_part**2)
        eta = alpha[g] + beta[g] * t

        exact = np.flatnonzero(series.kind == "exact")
        upper = np.flatnonzero(series.kind == "upper")
        lower = np.flatnonzero(series.kind == "lower")
        if exact.size:
            pm.Normal("y", eta[exact], sd[exact], observed=series.y[exact])
        if upper.size:
            dist = pm.Normal.dist(eta[upper], sd[upper])
            pm.Potential("upper_bounds", pm.logcdf(dist, series.y[upper]).sum())
        if lower.size:
            dist = pm.Normal.dist(eta[lower], sd[lower])
            pm.Potential("lower_bounds", pm.logccdf(dist, series.y[lower]).sum())
    return model


def simulate(
    geos: int, years: np.ndarray, priors: LogitTrendPriors, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """One draw of parameters from the prior and annual observations for every geo and year.

    Used by parameter-recovery and calibration tests (simulated data, never shipped data).
    """
    mu_alpha = rng.normal(priors.level_mean, priors.level_sd)
    tau_alpha = rng.gamma(2.0, priors.level_spread_mean / 2.0)
    mu_beta = rng.normal(priors.pace_mean, priors.pace_sd)
    tau_beta = rng.gamma(2.0, priors.pace_spread_mean / 2.0)
    sigma_obs = float(np.exp(rng.normal(np.log(priors.obs_sd_median), priors.obs_sd_log_sd)))
    alpha = mu_alpha + tau_alpha * rng.normal(size=geos)
    beta = mu_beta + tau_beta * rng.normal(size=geos)
    eta = alpha[:, None] + beta[:, None] * (years[None, :] - years.mean())
    y = eta + sigma_obs * rng.normal(size=eta.shape)
    return {"alpha": alpha, "beta": beta, "mu_beta": mu_beta, "sigma_obs": sigma_obs, "y": y}
