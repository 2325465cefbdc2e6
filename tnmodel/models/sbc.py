"""Simulation-based calibration (Talts et al. 2018) of the model families.

Each replication draws parameters from a family's prior, simulates observations at a
fixed design of geos and years (``sparse``: 4 years; ``dense``: 10 consecutive years;
``mixed``: the dense years with source types, part-year values and a break; ``bounds``: the
dense years with part-year values and values known only as bounds), fits
the family with the compile-once sampler (one compiled model per family and design; every
replication swaps the data), and records the rank of the true value among the posterior
draws. If the sampler and the model agree with the simulator, the ranks are uniform.
Simulated data only.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

#: Designs: years observed by every simulated geo.
DESIGNS = {"sparse": (2016, 2018, 2021, 2024), "dense": tuple(range(2013, 2023))}
#: The observation layer's design (for families whose ``simulate`` draws it): the dense
#: years, the second geo's values from web pages, every geo's last value part-year and a
#: definitional break in 2017 (values up to 2016 on the older definition).
MIXED = "mixed"
MIXED_FAMILIES = ("transition", "transition_local")
MIXED_BREAK_YEAR = 2017
#: The observation layer of the families that take bounds: the dense years, every geo's last
#: value part-year, and the censored geo's values in alternate years (from the second) known
#: only as a bound, the way a press figure says "more than 84%": the threshold is that geo's
#: value a year before, and the bound is ``lower`` when the simulated value is at least the
#: threshold, ``upper`` otherwise. The threshold is an exactly observed value. The
#: straight-line families' values are independent given the parameters, so the censored
#: likelihood (``P(value >= threshold)`` or ``P(value <= threshold)``) is the right one; the
#: transition family's values are an AR(1) chain, and its bounds are latent values in it.
BOUNDS = "bounds"
BOUNDS_FAMILIES = ("linear", "logistic", "logit_trend", "transition")
BOUNDS_GEO = 2
#: Observation-layer designs and the families whose ``simulate`` draws their layer.
LAYER_FAMILIES = {MIXED: MIXED_FAMILIES, BOUNDS: BOUNDS_FAMILIES}
#: Parameters checked per family: (name in the posterior, index into it or None, truth key).
PARAMETERS = {
    "logit_trend": (("beta", 0, "beta"), ("mu_beta", None, "mu_beta"),
                    ("alpha", 0, "alpha"), ("sigma_obs", None, "sigma_obs")),
    "logistic": (("beta", 0, "beta"), ("mu_beta", None, "mu_beta"), ("alpha", 0, "alpha"),
                 ("ceiling", None, "ceiling"), ("sigma_obs", None, "sigma_obs")),
    "linear": (("beta", 0, "beta"), ("mu_beta", None, "mu_beta"), ("alpha", 0, "alpha"),
               ("sigma_obs", None, "sigma_obs")),
    "transition": (("omega", 0, "omega"), ("mu_omega", None, "mu_omega"),
                   ("alpha", 0, "alpha"), ("rho", None, "rho"), ("sigma_ar", None, "sigma_ar"),
                   ("asymptote", None, "asymptote")),
    "transition_local": (("omega", 0, "omega"), ("mu_omega", None, "mu_omega"),
                         ("phi", None, "phi"), ("sigma_u", None, "sigma_u"),
                         ("asymptote", None, "asymptote")),
    "transition_state": (("omega", 0, "omega"), ("mu_omega", None, "mu_omega"),
                         ("phi", None, "phi"), ("sigma_u", None, "sigma_u"),
                         ("sigma_src", 0, "sigma_src"), ("asymptote", None, "asymptote")),
}
#: Parameters of an option, checked when the simulation drew them (its truth has the key).
OPTION_PARAMETERS = {"transition_local": (("sigma_u_trend", None, "sigma_u_trend"),
                                          ("tau_sd_walk", None, "tau_sd_walk"),
                                          ("tau_drift", None, "tau_drift"),
                                          ("sigma_sat", None, "sigma_sat"),
                                          ("tau_vol", None, "tau_vol"),
                                          ("rho_sd", None, "rho_sd"),
                                          ("tau_sd_path", None, "tau_sd_path"),
                                          ("scaling_power", None, "scaling_power"))}
#: The mixed design's observation layer, checked when the simulation drew it.
MIXED_PARAMETERS = (("sigma_part", None, "sigma_part"), ("delta", 0, "delta"),
                    ("sigma_src", 2, "sigma_src_mixed"))
#: The bounds design's: the part-year error and the censored geo's level and pace.
BOUNDS_PARAMETERS = (("sigma_part", None, "sigma_part"), ("alpha", BOUNDS_GEO, "alpha"),
                     ("beta", BOUNDS_GEO, "beta"), ("omega", BOUNDS_GEO, "omega"))
LAYER_PARAMETERS = {MIXED: MIXED_PARAMETERS, BOUNDS: BOUNDS_PARAMETERS}


def design_series(design: str, n_geos: int = 3):
    """The simulated series skeleton (values are placeholders until simulated)."""
    from tnmodel.models.series import SOURCE_TYPES, series_from_arrays

    years = np.asarray(DESIGNS["dense" if design in LAYER_FAMILIES else design])
    geos = tuple(f"sim_{i}" for i in range(n_geos))
    geo_index = np.repeat(np.arange(n_geos), years.size)
    year = np.tile(years, n_geos)
    if design not in LAYER_FAMILIES:
        return series_from_arrays(f"sim_{design}", geos, geo_index, year,
                                  np.full(geo_index.size, 50.0))
    skeleton = series_from_arrays(f"sim_{design}", geos, geo_index, year,
                                  np.full(geo_index.size, 50.0),
                                  part_year=year == years.max())
    if design == BOUNDS:
        return skeleton
    page = np.where(geo_index == 1, SOURCE_TYPES.index("page"), 0)
    return dataclasses.replace(skeleton, source_type=page, breaks=((MIXED_BREAK_YEAR, None),))


def censor(series, y: np.ndarray):
    """The bounds design's observations: ``series`` with simulated values ``y``, the censored
    geo's values in alternate years replaced by bounds (see :data:`BOUNDS`)."""
    order = np.flatnonzero(series.geo_index == BOUNDS_GEO)
    order = order[np.argsort(series.year[order])]
    censored, threshold = order[1::2], order[0::2][:order[1::2].size]
    value, kind = np.asarray(y, dtype=float).copy(), series.kind.copy()
    kind[censored] = np.where(value[censored] >= value[threshold], "lower", "upper")
    value[censored] = value[threshold]
    rows = series.rows.assign(value=value, bound=np.where(kind == "exact", "", kind))
    return dataclasses.replace(series, y=value, kind=kind, rows=rows)


def sbc_priors(family: str, settings: dict | None = None):
    """The family's default priors (the linear family on a fixed unit scale), with
    ``settings`` (prior name: value) changed."""
    from tnmodel.models import FAMILIES

    priors_class = FAMILIES[family].priors_class
    base = {"loc": 0.0, "scale": 1.0} if family == "linear" else {}
    return priors_class(**base, **(settings or {}))


def every_geo(parameters: tuple, n_geos: int) -> tuple:
    """``parameters`` with each per-geo entry (index 0) repeated for every geo."""
    return tuple(dict.fromkeys(
        entry for name, index, key in parameters
        for entry in ([(name, g, key) for g in range(n_geos)] if index == 0
                      else [(name, index, key)])))


def sbc_ranks(family: str, design: str, *, reps: int, draws: int = 200, tune: int = 300,
              thin: int = 2, seed: int = 0, n_geos: int = 3,
              target_accept: float = 0.95, settings: dict | None = None,
              all_geos: bool = False) -> pd.DataFrame:
    """Ranks of the truth among ``draws // thin`` posterior draws, per replication/parameter.

    One chain per replication; divergent replications are kept (and counted), so the test is
    of the sampler at these settings, not only of the model.

    ``settings`` changes prior settings of the family (e.g. an option's value);
    ``all_geos`` ranks every geo's per-geo parameters, not only the first geo's.
    Columns: family, design, rep, parameter, rank, n_draws, divergences.
    """
    from tnmodel.models import FAMILIES
    from tnmodel.models.sampling import sample_family

    if family not in LAYER_FAMILIES.get(design, (family,)):
        raise ValueError(f"family '{family}' does not simulate the '{design}' design's "
                         f"observation layer; it is for {', '.join(LAYER_FAMILIES[design])}")
    fam = FAMILIES[family]
    priors = sbc_priors(family, settings)
    skeleton = design_series(design, n_geos)
    rows = []
    for rep in range(reps):
        rng = np.random.default_rng([seed, rep])
        truth, y = fam.simulate(skeleton, priors, rng)
        series = dataclasses.replace(skeleton, y=np.asarray(y, dtype=float),
                                     rows=skeleton.rows.assign(value=y))
        if design == BOUNDS:
            series = censor(series, y)
        posterior, _ = sample_family(fam, series, priors, draws=draws, tune=tune, chains=1,
                                     target_accept=target_accept, seed=seed * 100_003 + rep)
        post = posterior.posterior
        divergences = int(post.sizes["draw"] and posterior.sample_stats["diverging"].sum())
        options = [p for p in (*OPTION_PARAMETERS.get(family, ()),
                               *LAYER_PARAMETERS.get(design, ())) if p[2] in truth]
        checked = (*PARAMETERS[family], *options)
        for name, index, key in every_geo(checked, n_geos) if all_geos else checked:
            values = np.asarray(post[name].values).reshape(-1, *post[name].shape[2:])
            values = values[:, index] if index is not None else values
            value = np.asarray(truth[key])
            value = value[index] if index is not None else value
            kept = values[::thin]
            label = f"{name}[{index}]" if index is not None else name
            rows.append({"family": family, "design": design, "rep": rep, "parameter": label,
                         "rank": int(np.sum(kept < float(value))), "n_draws": kept.size,
                         "divergences": divergences})
    return pd.DataFrame(rows)


def uniformity(ranks: pd.DataFrame, bins: int | None = None) -> pd.DataFrame:
    """Chi-square test of uniform ranks per family, design and parameter.

    Columns: family, design, parameter, reps, bins, chi2, p_value, mean_rank (0-1 scale;
    0.5 when unbiased).
    """
    from scipy.stats import chi2

    rows = []
    for (family, design, parameter), part in ranks.groupby(["family", "design", "parameter"]):
        n_draws = int(part["n_draws"].iloc[0])
        k = bins or int(np.clip(len(part) // 5, 2, 20))
        scaled = part["rank"].to_numpy() / (n_draws + 1)
        counts, _ = np.histogram(scaled, bins=k, range=(0, 1))
        expected = len(part) / k
        statistic = float(np.sum((counts - expected) ** 2 / expected))
        rows.append({"family": family, "design": design, "parameter": parameter,
                     "reps": len(part), "bins": k, "chi2": statistic,
                     "p_value": float(chi2.sf(statistic, k - 1)),
                     "mean_rank": float(scaled.mean())})
    return pd.DataFrame(rows)
