"""Calendar-time logistic with a ceiling, for bounded shares.

Geo ``g``'s share in year ``t`` is ``C * invlogit(alpha[g] + beta[g] * (t - c[g]))``: an
S-curve in calendar time that saturates at the ceiling ``C`` (common to the indicator, with
a Beta prior) instead of 100%. Levels and paces are pooled across geos as in the logit-linear
trend; observations are ``Normal`` on the logit scale of the share with the logit trend's
observation error (extra for part-year snapshots); bounds are censored terms.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from pydantic import Field

from tnmodel.models.common import (
    add_likelihood,
    add_part_year_error,
    beta_params,
    draw_pooled_levels_and_paces,
    present_kinds,
    split_by_kind,
)
from tnmodel.models.family import Family, stack_draws
from tnmodel.models.lazy import lazy
from tnmodel.models.logit_trend import LogitTrendPriors, prefers_centred_pace
from tnmodel.models.series import SeriesData, inv_logit_percent

pm = lazy("pymc")
pt = lazy("pytensor.tensor")


class LogisticPriors(LogitTrendPriors):
    """The logit trend's priors plus the ceiling: Beta with mean 0.95, concentration 10.

    Here the levels alpha and paces beta (and so the level_* and pace_* priors) are those of
    logit(share / C), the logit of the share of the ceiling reached; the observation error
    (obs_sd_*, part_year_sd) is on the logit scale of the share itself.
    """

    ceiling_mean: float = Field(0.95, gt=0, lt=1, description=(
        "Mean of the Beta prior of ceiling, the share C (a fraction: 0.95 is 95%) at which "
        "every geo's S-curve saturates."))
    ceiling_concentration: float = Field(10.0, gt=0, description=(
        "Concentration (a + b) of the Beta prior of ceiling (10 with mean 0.95: Beta(9.5, "
        "0.5), 95% between about 0.76 and 1)."))


def _logit_of_share(x, ceiling):
    """logit(C * invlogit(x)) (tensor), stably: log(C) + log sigmoid(x) - log(1 - C sigmoid(x))."""
    p = ceiling * pm.math.invlogit(x)
    return pt.log(p) - pt.log1p(-p)


def _arrays(series: SeriesData) -> dict[str, np.ndarray]:
    t = series.year - series.centre_years()[series.geo_index]
    return split_by_kind({"y": series.y.astype(float), "geo": series.geo_index.astype(np.int64),
                          "t": t.astype(float), "part": series.part_year.astype(float)}, series)


class Logistic(Family):
    """The calendar-time logistic family (see module docstring)."""

    name = "logistic"
    priors_class = LogisticPriors
    pace_var = "beta"
    gate_vars = ("mu_alpha", "tau_alpha", "mu_beta", "tau_beta", "ceiling", "sigma_obs",
                 "sigma_part", "alpha", "beta")

    def data_arrays(self, series: SeriesData, priors) -> dict[str, np.ndarray]:
        return _arrays(series)

    def structure_key(self, series: SeriesData, priors) -> tuple:
        return (self.name, len(series.geos), prefers_centred_pace(series), present_kinds(series),
                priors.model_dump_json())

    def build_model(self, series: SeriesData, priors: LogisticPriors) -> pm.Model:
        with pm.Model(coords={"geo": list(series.geos)}) as model:
            data = {name: pm.Data(name, values) for name, values in _arrays(series).items()}
            mu_alpha = pm.Normal("mu_alpha", priors.level_mean, priors.level_sd)
            tau_alpha = pm.Gamma("tau_alpha", 2.0, 2.0 / priors.level_spread_mean)
            alpha = pm.Normal("alpha", mu_alpha, tau_alpha, dims="geo")
            mu_beta = pm.Normal("mu_beta", priors.pace_mean, priors.pace_sd)
            tau_beta = pm.Gamma("tau_beta", 2.0, 2.0 / priors.pace_spread_mean)
            if prefers_centred_pace(series):
                beta = pm.Normal("beta", mu_beta, tau_beta, dims="geo")
            else:
                z_beta = pm.Normal("z_beta", 0.0, 1.0, dims="geo")
                beta = pm.Deterministic("beta", mu_beta + tau_beta * z_beta, dims="geo")
            ceiling = pm.Beta("ceiling", *beta_params(priors.ceiling_mean,
                                                      priors.ceiling_concentration))
            sigma_obs = pm.LogNormal("sigma_obs", np.log(priors.obs_sd_median),
                                     priors.obs_sd_log_sd)
            sigma_part = pm.HalfNormal("sigma_part", priors.part_year_sd)

            def eta_sd(kind: str):
                g, t, part = data[f"geo_{kind}"], data[f"t_{kind}"], data[f"part_{kind}"]
                eta = _logit_of_share(alpha[g] + beta[g] * t, ceiling)
                return eta, pt.sqrt(sigma_obs**2 + part * sigma_part**2)

            add_likelihood(data, eta_sd)
        return model

    def extract_draws(self, posterior: xr.DataTree, series: SeriesData) -> dict[str, np.ndarray]:
        post = posterior.posterior
        draws = {n: stack_draws(post[n]) for n in ("alpha", "beta", "ceiling", "sigma_obs")}
        draws["centre"] = series.centre_years()
        return draws

    def forecast(self, draws: dict[str, np.ndarray], series: SeriesData, years: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        since_centre = np.asarray(years)[None, :] - draws["centre"][:, None]
        x = draws["alpha"][:, :, None] + draws["beta"][:, :, None] * since_centre[None]
        p = draws["ceiling"][:, None, None] / (1.0 + np.exp(-x))
        eta = np.log(p) - np.log1p(-p)
        noise = draws["sigma_obs"][:, None, None] * rng.standard_normal(eta.shape)
        return inv_logit_percent(eta + noise), noise


    def simulate(self, series: SeriesData, priors: LogisticPriors,
                 rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Prior draw and logit observations at ``series``' geos and years (simulation)."""
        alpha, mu_beta, beta = draw_pooled_levels_and_paces(priors, len(series.geos), rng)
        C = rng.beta(*beta_params(priors.ceiling_mean, priors.ceiling_concentration))
        sigma = float(np.exp(rng.normal(np.log(priors.obs_sd_median), priors.obs_sd_log_sd)))
        t = series.year - series.centre_years()[series.geo_index]
        p = C / (1.0 + np.exp(-(alpha[series.geo_index] + beta[series.geo_index] * t)))
        y = np.log(p) - np.log1p(-p) + sigma * rng.standard_normal(series.n_obs)
        y, part_year = add_part_year_error(series, y, priors.part_year_sd, rng)
        truth = {"beta": beta, "alpha": alpha, "mu_beta": np.array(mu_beta),
                 "ceiling": np.array(C), "sigma_obs": np.array(sigma), **part_year}
        return truth, y


LOGISTIC = Logistic()
