"""Pieces several families share: likelihood terms for exact values and bounds, grids."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tnmodel.models.lazy import lazy
from tnmodel.models.series import SeriesData

pm = lazy("pymc")

KINDS = ("exact", "upper", "lower")


def present_kinds(series: SeriesData) -> tuple[str, ...]:
    """Which likelihood terms a series has (exact values, upper bounds, lower bounds)."""
    return tuple(kind for kind in KINDS if np.any(series.kind == kind))


def split_by_kind(columns: dict[str, np.ndarray], series: SeriesData) -> dict[str, np.ndarray]:
    """``columns`` (one value per observation) as ``<name>_<kind>`` arrays, non-empty kinds only."""
    arrays: dict[str, np.ndarray] = {}
    for kind in present_kinds(series):
        rows = np.flatnonzero(series.kind == kind)
        for name, values in columns.items():
            arrays[f"{name}_{kind}"] = np.asarray(values)[rows]
    return arrays


def add_likelihood(data: dict, eta_sd: Callable[[str], tuple]) -> None:
    """Exact values as ``Normal`` terms, bounds as censored terms (inside a model context).

    ``eta_sd(kind)`` returns the mean and sd (tensors) of the observations of that kind; an
    upper bound ``b`` contributes ``P(eta + e <= b)``, a lower bound ``P(eta + e >= b)``.
    """
    if "y_exact" in data:
        eta, sd = eta_sd("exact")
        pm.Normal("y", eta, sd, observed=data["y_exact"])
    if "y_upper" in data:
        eta, sd = eta_sd("upper")
        pm.Potential("upper_bounds", pm.logcdf(pm.Normal.dist(eta, sd), data["y_upper"]).sum())
    if "y_lower" in data:
        eta, sd = eta_sd("lower")
        pm.Potential("lower_bounds", pm.logccdf(pm.Normal.dist(eta, sd), data["y_lower"]).sum())


def beta_params(mean: float, concentration: float) -> tuple[float, float]:
    """Beta(a, b) with the given mean and a + b = concentration."""
    return mean * concentration, (1.0 - mean) * concentration


def geos_with_few_years(series: SeriesData, minimum: int = 2) -> list[str]:
    """Series geos with fewer than ``minimum`` distinct observed years."""
    return [g for i, g in enumerate(series.geos)
            if np.unique(series.year[series.geo_index == i]).size < minimum]


def flat_geos(series: SeriesData) -> list[str]:
    """Series geos observed in 2+ years whose values do not vary (no trend of their own)."""
    flat = []
    for i, g in enumerate(series.geos):
        rows = (series.geo_index == i) & (series.kind == "exact")
        if np.unique(series.year[rows]).size >= 2 and np.ptp(series.y[rows]) < 1e-9:
            flat.append(g)
    return flat


def draw_pooled_levels_and_paces(priors, geos: int, rng: np.random.Generator
                                 ) -> tuple[np.ndarray, float, np.ndarray]:
    """One prior draw of the pooled levels and paces (``alpha``, ``mu_beta``, ``beta``) for
    simulations: levels ~ Normal(Normal(level_mean, level_sd), Gamma(2, .)), paces alike."""
    alpha = rng.normal(rng.normal(priors.level_mean, priors.level_sd),
                       rng.gamma(2.0, priors.level_spread_mean / 2.0), geos)
    mu_beta = rng.normal(priors.pace_mean, priors.pace_sd)
    beta = rng.normal(mu_beta, rng.gamma(2.0, priors.pace_spread_mean / 2.0), geos)
    return alpha, mu_beta, beta


def simulate_straight_lines(series: SeriesData, priors, rng: np.random.Generator
                            ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Prior draw and observations of pooled straight lines at ``series``' geos and years
    (centred at each geo's mean year), with log-normal observation error."""
    alpha, mu_beta, beta = draw_pooled_levels_and_paces(priors, len(series.geos), rng)
    sigma = float(np.exp(rng.normal(np.log(priors.obs_sd_median), priors.obs_sd_log_sd)))
    t = series.year - series.centre_years()[series.geo_index]
    y = (alpha[series.geo_index] + beta[series.geo_index] * t
         + sigma * rng.standard_normal(series.n_obs))
    y, part_year = add_part_year_error(series, y, priors.part_year_sd, rng)
    truth = {"beta": beta, "alpha": alpha, "mu_beta": np.array(mu_beta),
             "sigma_obs": np.array(sigma), **part_year}
    return truth, y


def add_part_year_error(series: SeriesData, y: np.ndarray, part_year_sd: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Simulated values with the part-year error added to the part-year ones: ``sigma_part``
    ~ HalfNormal(``part_year_sd``) times a standard normal, so that such a value's error sd is
    ``sqrt(sigma_obs**2 + sigma_part**2)`` as in the straight-line families' likelihoods.
    Draws nothing (and adds nothing to the truth) for a series without part-year values."""
    part = series.part_year.astype(float)
    if not part.any():
        return y, {}
    sigma_part = abs(rng.normal(0.0, part_year_sd))
    return (y + part * sigma_part * rng.standard_normal(series.n_obs),
            {"sigma_part": np.array(sigma_part)})


def draw_observation_errors(series: SeriesData, sigma_src: np.ndarray, part_year_sd: float,
                            rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Each value's observation error variance in a simulation: its source type's
    ``sigma_src`` squared, plus ``sigma_part`` squared for part-year values. Returns it and
    the truth it drew: ``sigma_part`` (only when the series has part-year values) and
    ``sigma_src_mixed`` (every type's error, only when it has more than one type)."""
    source, part = series.source_types(), series.part_year.astype(float)
    error, truth = sigma_src[source] ** 2, {}
    if part.any():
        truth["sigma_part"] = np.array(abs(rng.normal(0.0, part_year_sd)))
        error = error + part * truth["sigma_part"] ** 2
    if np.unique(source).size > 1:
        truth["sigma_src_mixed"] = sigma_src
    return error, truth


def add_break_offsets(series: SeriesData, y: np.ndarray, break_sd: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Simulated values on today's definition moved to the older one before each break of
    the series (``delta`` ~ Normal(0, ``break_sd``) per break, in the truth only when there
    are breaks)."""
    breaks = series.break_matrix()
    if not breaks.shape[1]:
        return y, {}
    delta = rng.normal(0.0, break_sd, breaks.shape[1])
    return y + breaks @ delta, {"delta": delta}
