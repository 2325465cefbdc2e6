"""Linear trend with partial pooling, for unbounded indices (scores, counts per 100, revenue).

Values are standardised by the series' own mean and sd of exact observations (``loc``,
``scale``; data, not structure), and geo ``g``'s standardised value in year ``t`` is
``alpha[g] + beta[g] * (t - c[g])`` plus ``Normal`` observation error (extra for part-year
snapshots); levels and paces are pooled across geos; bounds are censored terms. Nothing keeps
a forecast inside 0-100: use a share family for shares.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tnmodel.models.common import (
    add_likelihood,
    present_kinds,
    simulate_straight_lines,
    split_by_kind,
)
from tnmodel.models.family import Family, stack_draws
from tnmodel.models.lazy import lazy
from tnmodel.models.logit_trend import prefers_centred_pace
from tnmodel.models.series import SeriesData

pm = lazy("pymc")
pt = lazy("pytensor.tensor")


class LinearPriors(BaseModel):
    """Priors on the standardised scale (1 = the series' sd; pace per year)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level_mean: float = Field(0.0, description=(
        "Mean of the Normal prior of mu_alpha, the typical geo's level at its mean year of "
        "data (standardised: 0 is loc, by default the mean of the series' exact values)."))
    level_sd: float = Field(1.5, gt=0, description=(
        "Sd of the Normal prior of mu_alpha (standardised: 1 is the series' sd)."))
    level_spread_mean: float = Field(0.5, gt=0, description=(
        "Mean of the Gamma prior (shape 2) of tau_alpha, the sd of the geos' levels alpha "
        "around mu_alpha (series sds)."))
    pace_mean: float = Field(0.0, description=(
        "Mean of the Normal prior of mu_beta, the typical geo's pace (series sds a year)."))
    pace_sd: float = Field(0.5, gt=0, description=(
        "Sd of the Normal prior of mu_beta (series sds a year)."))
    pace_spread_mean: float = Field(0.1, gt=0, description=(
        "Mean of the Gamma prior (shape 2) of tau_beta, the sd of the geos' paces beta around "
        "mu_beta (series sds a year)."))
    obs_sd_median: float = Field(0.2, gt=0, description=(
        "Median of the log-normal prior of sigma_obs, the sd of an annual value around its "
        "geo's line, also added to forecasts (series sds)."))
    obs_sd_log_sd: float = Field(0.7, gt=0, description=(
        "Sd of log sigma_obs in its log-normal prior (0.7: 95% of sigma_obs within a factor "
        "of about 4 of the median)."))
    part_year_sd: float = Field(0.5, gt=0, description=(
        "Scale of the half-normal prior of sigma_part, the extra error of part-year snapshots "
        "and circa-dated values (series sds): their sd is sqrt(sigma_obs**2 + sigma_part**2)."))
    loc: float | None = Field(None, description=(
        "Value the priors are centred on, 0 on the standardised scale (None: the mean of the "
        "series' exact values; used only if scale is set too)."))
    scale: float | None = Field(None, gt=0, description=(
        "Unit of the priors, 1 on the standardised scale (None: the sd of the series' exact "
        "values; used only if loc is set too)."))

    @model_validator(mode="after")
    def _loc_and_scale_together(self) -> LinearPriors:
        if (self.loc is None) != (self.scale is None):
            given, missing = ("loc", "scale") if self.scale is None else ("scale", "loc")
            raise ValueError(f"{given} is set without {missing}: the priors' scale is taken "
                             f"from them only together (set both, or neither to use the "
                             "series' mean and sd)")
        return self


def scale_of(series: SeriesData, priors: LinearPriors | None = None) -> tuple[float, float]:
    """Location and scale used to standardise the series' values (the priors' if set)."""
    if priors is not None and priors.loc is not None and priors.scale is not None:
        return priors.loc, priors.scale
    values = series.rows["value"].to_numpy(dtype=float)
    exact = values[series.kind == "exact"]
    exact = exact if exact.size else values
    loc = float(exact.mean()) if exact.size else 0.0
    scale = float(exact.std()) if exact.size > 1 else 0.0
    return loc, (scale if scale > 0 else max(abs(loc), 1.0))


def _arrays(series: SeriesData, priors: LinearPriors) -> dict[str, np.ndarray]:
    values = series.rows["value"].to_numpy(dtype=float)
    t = series.year - series.centre_years()[series.geo_index]
    arrays = split_by_kind({"y": values, "geo": series.geo_index.astype(np.int64),
                            "t": t.astype(float), "part": series.part_year.astype(float)}, series)
    arrays["loc_scale"] = np.array(scale_of(series, priors))
    return arrays


class Linear(Family):
    """The linear-trend family (see module docstring)."""

    name = "linear"
    priors_class = LinearPriors
    pace_var = "beta"
    gate_vars = ("mu_alpha", "tau_alpha", "mu_beta", "tau_beta", "sigma_obs", "sigma_part",
                 "alpha", "beta")

    def data_arrays(self, series: SeriesData, priors) -> dict[str, np.ndarray]:
        return _arrays(series, priors)

    def structure_key(self, series: SeriesData, priors) -> tuple:
        return (self.name, len(series.geos), prefers_centred_pace(series), present_kinds(series),
                priors.model_dump_json())

    def build_model(self, series: SeriesData, priors: LinearPriors) -> pm.Model:
        with pm.Model(coords={"geo": list(series.geos)}) as model:
            data = {name: pm.Data(name, values) for name, values in _arrays(series, priors).items()}
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
            sigma_obs = pm.LogNormal("sigma_obs", np.log(priors.obs_sd_median),
                                     priors.obs_sd_log_sd)
            sigma_part = pm.HalfNormal("sigma_part", priors.part_year_sd)

            loc, scale = data["loc_scale"][0], data["loc_scale"][1]

            def eta_sd(kind: str):
                # The standardised model, written on the values' own scale.
                g, t, part = data[f"geo_{kind}"], data[f"t_{kind}"], data[f"part_{kind}"]
                return (loc + scale * (alpha[g] + beta[g] * t),
                        scale * pt.sqrt(sigma_obs**2 + part * sigma_part**2))

            add_likelihood(data, eta_sd)
        return model

    def extract_draws(self, posterior: xr.DataTree, series: SeriesData) -> dict[str, np.ndarray]:
        post = posterior.posterior
        draws = {n: stack_draws(post[n]) for n in ("alpha", "beta", "sigma_obs")}
        draws["centre"] = series.centre_years()
        loc_scale = np.asarray(posterior["constant_data"]["loc_scale"].values)
        draws["loc"], draws["scale"] = np.array(loc_scale[0]), np.array(loc_scale[1])
        return draws

    def forecast(self, draws: dict[str, np.ndarray], series: SeriesData, years: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        since_centre = np.asarray(years)[None, :] - draws["centre"][:, None]
        z = draws["alpha"][:, :, None] + draws["beta"][:, :, None] * since_centre[None]
        noise = draws["sigma_obs"][:, None, None] * rng.standard_normal(z.shape)
        scale = float(draws["scale"])
        return float(draws["loc"]) + scale * (z + noise), scale * noise


    def simulate(self, series: SeriesData, priors: LinearPriors,
                 rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Prior draw and standardised observations (loc 0, scale 1 is the caller's job)."""
        return simulate_straight_lines(series, priors, rng)


LINEAR = Linear()
