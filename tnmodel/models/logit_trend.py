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
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from tnmodel.models.common import simulate_straight_lines
from tnmodel.models.family import Family, stack_draws
from tnmodel.models.lazy import lazy
from tnmodel.models.series import SeriesData, inv_logit_percent

pm = lazy("pymc")


class LogitTrendPriors(BaseModel):
    """Weakly informative priors (logit scale; pace is per year).

    The pace default, Normal(0.2, 0.3), puts 95% of the mass between about -0.4 and +0.8
    logits a year: from slow decline to the fastest adoption curves in the internet panel.
    The observation error of published statistics is LogNormal(log 0.15, 0.5): 95% between
    0.06 and 0.4 logits (about +-1.5 to +-10 points around 50%), and never collapsing to 0.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    level_mean: float = Field(0.0, description=(
        "Mean of the Normal prior of mu_alpha, the typical geo's level: the logit of its share "
        "at its mean year of data (0 is 50%)."))
    level_sd: float = Field(2.0, gt=0, description=(
        "Sd of the Normal prior of mu_alpha (logits; 2.0 puts 95% of it between about 2% "
        "and 98%)."))
    level_spread_mean: float = Field(1.0, gt=0, description=(
        "Mean of the Gamma prior (shape 2) of tau_alpha, the sd of the geos' levels alpha "
        "around mu_alpha (logits)."))
    pace_mean: float = Field(0.2, description=(
        "Mean of the Normal prior of mu_beta, the typical geo's pace (logits a year)."))
    pace_sd: float = Field(0.3, gt=0, description=(
        "Sd of the Normal prior of mu_beta (logits a year; with pace_mean 0.2, 95% between "
        "about -0.4 and +0.8)."))
    pace_spread_mean: float = Field(0.15, gt=0, description=(
        "Mean of the Gamma prior (shape 2) of tau_beta, the sd of the geos' paces beta around "
        "mu_beta (logits a year)."))
    obs_sd_median: float = Field(0.15, gt=0, description=(
        "Median of the log-normal prior of sigma_obs, the sd of an annual value around its "
        "geo's line, also added to forecasts (logits; 0.15 is about 4 points at 50%)."))
    obs_sd_log_sd: float = Field(0.5, gt=0, description=(
        "Sd of log sigma_obs in its log-normal prior (0.5: 95% of sigma_obs between 0.06 and "
        "0.4 logits, within a factor of 2.7 of the median)."))
    part_year_sd: float = Field(0.5, gt=0, description=(
        "Scale of the half-normal prior of sigma_part, the extra error of part-year snapshots "
        "and circa-dated values (logits): their sd is sqrt(sigma_obs**2 + sigma_part**2)."))


def prefers_centred_pace(series: SeriesData) -> bool:
    """Centre the paces when most geos have their own trend (4+ distinct years of data).

    With dense series the data pin each pace and the non-centred form is a funnel; with sparse
    series (most geos with 1-2 points) the pool sets the pace and the centred form is one.
    """
    years_per_geo = [np.unique(series.year[series.geo_index == i]).size
                     for i in range(len(series.geos))]
    return float(np.median(years_per_geo)) >= 4


_KINDS = ("exact", "upper", "lower")


def _arrays(series: SeriesData) -> dict[str, np.ndarray]:
    """Per likelihood term (exact values, upper and lower bounds): value, geo, time, part-year."""
    t = series.year - series.centre_years()[series.geo_index]
    arrays: dict[str, np.ndarray] = {}
    for kind in _KINDS:
        rows = np.flatnonzero(series.kind == kind)
        arrays[f"y_{kind}"] = series.y[rows].astype(float)
        arrays[f"geo_{kind}"] = series.geo_index[rows].astype(np.int64)
        arrays[f"t_{kind}"] = t[rows].astype(float)
        arrays[f"part_{kind}"] = series.part_year[rows].astype(float)
    return arrays


class LogitTrend(Family):
    """The logit-linear trend family (see module docstring)."""

    name = "logit_trend"
    priors_class = LogitTrendPriors
    pace_var = "beta"
    gate_vars = ("mu_alpha", "tau_alpha", "mu_beta", "tau_beta", "z_beta", "sigma_obs",
                 "sigma_part", "alpha", "beta")

    def data_arrays(self, series: SeriesData, priors: BaseModel) -> dict[str, np.ndarray]:
        arrays = _arrays(series)
        return {k: v for k, v in arrays.items()
                if arrays[f"y_{k.split('_', 1)[1]}"].size}

    def structure_key(self, series: SeriesData, priors: BaseModel) -> tuple:
        present = tuple(kind for kind in _KINDS if np.any(series.kind == kind))
        return (self.name, len(series.geos), prefers_centred_pace(series), present,
                priors.model_dump_json())

    def build_model(self, series: SeriesData, priors: LogitTrendPriors,
                    centred_pace: bool | None = None) -> pm.Model:
        return build_model(series, priors, centred_pace)

    def extract_draws(self, posterior: xr.DataTree, series: SeriesData) -> dict[str, np.ndarray]:
        post = posterior.posterior
        return {
            "alpha": stack_draws(post["alpha"]),
            "beta": stack_draws(post["beta"]),
            "sigma_obs": stack_draws(post["sigma_obs"]),
            "centre": series.centre_years(),
        }

    def forecast(self, draws: dict[str, np.ndarray], series: SeriesData, years: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``invlogit(alpha + beta * (year - centre) + sigma_obs * e)``, ``e ~ N(0, 1)``
        independent across years: the value an annual report would print."""
        alpha, beta, sigma = draws["alpha"], draws["beta"], draws["sigma_obs"]
        since_centre = years[None, :] - draws["centre"][:, None]  # (geo, year)
        eta = alpha[:, :, None] + beta[:, :, None] * since_centre[None, :, :]
        noise = sigma[:, None, None] * rng.standard_normal(eta.shape)
        return inv_logit_percent(eta + noise), noise



    def simulate(self, series: SeriesData, priors: LogitTrendPriors,
                 rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Prior draw and logit observations at ``series``' geos and years (simulation)."""
        return simulate_straight_lines(series, priors, rng)


LOGIT_TREND = LogitTrend()


def build_model(series: SeriesData, priors: LogitTrendPriors,
                centred_pace: bool | None = None) -> pm.Model:
    """The PyMC model for ``series`` (see module docstring).

    ``centred_pace`` chooses the parametrisation of the paces (same model, different
    geometry); ``None`` picks it with :func:`prefers_centred_pace`. Every observation-level
    array is a ``pm.Data`` container (see :meth:`LogitTrend.data_arrays`), so a compiled
    model can be refitted to other data of the same structure.
    """
    if centred_pace is None:
        centred_pace = prefers_centred_pace(series)
    arrays = LOGIT_TREND.data_arrays(series, priors)
    coords = {"geo": list(series.geos)}
    with pm.Model(coords=coords) as model:
        data = {name: pm.Data(name, values) for name, values in arrays.items()}
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

        def eta_sd(kind: str):
            g, t, part = data[f"geo_{kind}"], data[f"t_{kind}"], data[f"part_{kind}"]
            return alpha[g] + beta[g] * t, pm.math.sqrt(sigma_obs**2 + part * sigma_part**2)

        if "y_exact" in data:
            eta, sd = eta_sd("exact")
            pm.Normal("y", eta, sd, observed=data["y_exact"])
        if "y_upper" in data:
            eta, sd = eta_sd("upper")
            pm.Potential("upper_bounds",
                         pm.logcdf(pm.Normal.dist(eta, sd), data["y_upper"]).sum())
        if "y_lower" in data:
            eta, sd = eta_sd("lower")
            pm.Potential("lower_bounds",
                         pm.logccdf(pm.Normal.dist(eta, sd), data["y_lower"]).sum())
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
