"""Transition model for bounded shares (after FPEM / FPET, Alkema et al. 2013, Cahill et al. 2018).

On the logit scale, geo ``g``'s share in year ``t`` is a systematic path plus an AR(1)
deviation, ``eta[g, t] = mu[g, t] + d[g, t]``. The systematic path moves each year by a pace
that depends on the current level relative to an asymptote ``A``, with a floor::

    mu[g, t + 1] = mu[g, t] + omega[g] * max(f, 1 - p[g, t] / A[g]),    p = invlogit(mu)

so the logit pace is ``omega[g]`` while the share is far below ``A[g]``, slows in proportion
to the distance left to ``A[g]``, and never falls below the floor ``f * omega[g]`` (adoption slows
near saturation but rarely stops; on the logit scale a constant pace is a logistic curve, so
the floor is "at least a slow logistic"). ``mu[g, c[g]] = alpha[g]`` at the geo's anchor year
``c[g]`` (its mean observed year, rounded); the path runs forward and backward from there.
Levels and paces are pooled across geos (``alpha ~ Normal(mu_alpha, tau_alpha)``, ``omega ~
Normal(mu_omega, tau_omega)``), so a geo with 2-4 points borrows its pace from the others.
By default ``A[g] = A`` is common to the indicator. With ``asymptote_per_geo: true`` the
asymptotes are pooled on the logit scale (``logit(A[g]) = mu_A + tau_A * z_A[g]``, ``z_A ~
Normal(0, 1)``, non-centred), so geos can level off at different heights; this option did not
pass its convergence gates on the internet panel (``docs/backtests.md``, issue 3 second
round), hence off by default. The floor ``f`` is common to the indicator. The deviations ``d``
follow a stationary AR(1) per geo (``rho``, innovation sd ``sigma_ar``): a year above trend
tends to be followed by another, and the forecast of the next years starts from where the last
data are, not from the trend line. The AR(1) is marginalised: geo ``g``'s observations
(for a bound, its latent value: below), in year order, have residuals ``r = y - mu - delta'
b`` with ``r[i] | r[i-1] ~ Normal(rho**gap * r[i-1], sqrt(v_ar(gap) + e[i]**2))``, ``v_ar(gap)
= sigma_ar**2 (1 - rho**(2 gap)) / (1 - rho**2)`` (the stationary variance for a geo's first
observation), so no latent path is sampled.

The observation error ``e[i]**2 = sigma_src[type]**2 + part * sigma_part**2`` has one scale
per source type (statistical dataset, repository table, web page;
:data:`~tnmodel.models.series.SOURCE_TYPES`) and extra error for part-year snapshots and
circa-dated values. ``b`` flags observations that predate a definitional break of the indicator
(``indicators.yaml`` ``breaks``) and ``delta`` (one per break) is the estimated offset of
the old definition from the current one, so the latent series is on today's definition.
Bounds (proxies) are censored values: a bound's value is a parameter in the chain, the bound
minus (upper) or plus (lower) a distance with a flat prior on the positive numbers
(``beyond_upper``, ``beyond_lower``). Integrating the distance out gives the censored
likelihood exactly, with the bound conditioned on the years around it (data augmentation;
the ``bounds`` design of :mod:`tnmodel.models.sbc` checks it).

The forecast simulates each draw forward with numpy: the same level-dependent pace, the
AR(1) continued from the residual of the geo's last observation (a bound's latent value in
that draw), and the observation error of the geo's main source type.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from tnmodel.models.common import (
    add_break_offsets,
    beta_params,
    draw_observation_errors,
    present_kinds,
    split_by_kind,
)
from tnmodel.models.family import Family, stack_draws
from tnmodel.models.lazy import lazy
from tnmodel.models.logit_trend import prefers_centred_pace
from tnmodel.models.series import SOURCE_TYPES, SeriesData, inv_logit_percent

pm = lazy("pymc")
pt = lazy("pytensor.tensor")

#: The latent grid is padded to a multiple of this many years on each side of the anchors,
#: so back-tests at neighbouring cut-offs share one compiled structure.
GRID_STEP = 4


class PacePriors(BaseModel):
    """Priors the transition families share (logit scale; paces per year).

    Defaults are weakly informative: the low-level pace Normal(0.35, 0.3) spans no change to
    the fastest adoption curves of the internet panel (about 0.8 logits a year); the
    asymptote Beta with mean 0.9 and concentration 8 spans 0.6-1.0; the floor keeps at least
    15% of the pace on average. Observation errors by source type: statistical datasets 0.05
    logits (about +-1 point near 50%), repository tables 0.15, web pages 0.25.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    level_mean: float = Field(0.0, description=(
        "Mean of the Normal prior of the typical logit level: of mu_alpha, the mean of the "
        "geos' levels at their mean observed year (transition); of each geo's level in its "
        "first year (transition_state); in transition_local, which fits no level, only of a "
        "simulated geo's first value."))
    level_sd: float = Field(2.0, gt=0, description=(
        "The sd of that Normal prior (logits)."))
    pace_mean: float = Field(0.35, description=(
        "Mean of the Normal prior of mu_omega, the typical pace at low levels (logits a year)."))
    pace_sd: float = Field(0.3, gt=0, description=(
        "The sd of that Normal prior (logits a year)."))
    pace_spread_mean: float = Field(0.15, gt=0, description=(
        "Prior mean of tau_omega, the sd of the geos' paces around mu_omega (Gamma with shape "
        "2; logits a year)."))
    asymptote_mean: float = Field(0.9, gt=0, lt=1, description=(
        "Mean of the Beta prior of the asymptote (with asymptote_per_geo: of the typical "
        "asymptote; its logit mean and sd are the Normal prior of mu_A)."))
    asymptote_concentration: float = Field(8.0, gt=0, description=(
        "Concentration of that Beta (larger: the asymptote is known better)."))
    floor_mean: float = Field(0.15, gt=0, lt=1, description=(
        "Mean of the Beta prior of the floor f: the share of the low-level pace omega kept "
        "however near the asymptote the level is (the pace is omega * max(f, 1 - p / A))."))
    floor_concentration: float = Field(6.0, gt=0, description=(
        "Concentration of that Beta (larger: the floor is known better; 2 with mean 0.5 is "
        "uniform)."))
    obs_sd_dataset: float = Field(0.05, gt=0, description=(
        "Median of the log-normal prior of the observation error (logits) of values from "
        "statistical datasets (sources.csv kind 'dataset')."))
    obs_sd_repo_file: float = Field(0.15, gt=0, description=(
        "Median of the log-normal prior of the observation error (logits) of values from "
        "repository tables (sources.csv kind 'repo_file')."))
    obs_sd_page: float = Field(0.25, gt=0, description=(
        "Median of the log-normal prior of the observation error (logits) of values from web "
        "pages (sources.csv kind 'page')."))
    obs_sd_log_sd: float = Field(0.5, gt=0, description=(
        "Log-scale sd of those three log-normal priors."))
    part_year_sd: float = Field(0.5, gt=0, description=(
        "Scale of the half-normal prior of sigma_part, the extra observation error (logits) of "
        "part-year and circa-dated values, added in variance to their source type's."))
    break_sd: float = Field(0.5, gt=0, description=(
        "The sd of the Normal(0, break_sd) prior of delta, the offset (logits) of values on the "
        "older definition at each definitional break of indicators.yaml."))

    def obs_sd_medians(self) -> np.ndarray:
        """Median observation error per source type, in :data:`SOURCE_TYPES` order."""
        by_type = {"dataset": self.obs_sd_dataset, "repo_file": self.obs_sd_repo_file,
                   "page": self.obs_sd_page}
        return np.array([by_type[t] for t in SOURCE_TYPES])


class TransitionPriors(PacePriors):
    """Priors of the transition model (logit scale; paces per year).

    Those of :class:`PacePriors` (weakly informative: a low-level pace Normal(0.35, 0.3), an
    asymptote Beta(mean 0.9, concentration 8), a floor keeping about 15% of the pace,
    observation errors of 0.05 / 0.15 / 0.25 logits for datasets / repository tables / web
    pages), plus the spread of the levels, the per-geo asymptote option (the typical
    asymptote ``invlogit(mu_A)`` then has the Beta's logit mean and sd, and geos spread
    around it by ``tau_A``, mean 0.5 logits) and the AR(1) deviations (rho, innovation sd).
    """

    level_spread_mean: float = Field(1.0, gt=0, description=(
        "Prior mean of tau_alpha, the sd of the geos' levels around mu_alpha (Gamma with shape "
        "2; logits)."))
    asymptote_per_geo: bool = Field(False, description=(
        "One asymptote per geo, pooled on the logit scale, instead of one for the "
        "indicator (off by default: it failed its convergence gates on the internet panel)."))
    asymptote_spread_mean: float = Field(0.5, gt=0, description=(
        "With asymptote_per_geo: prior mean of tau_A, the sd of the geos' asymptotes around "
        "the typical one on the logit scale (Gamma with shape 2)."))
    ar_rho_mean: float = Field(0.6, gt=0, lt=1, description=(
        "Mean of the Beta prior of rho, the yearly persistence of each geo's AR(1) deviation "
        "from its systematic path."))
    ar_rho_concentration: float = Field(6.0, gt=0, description=(
        "Concentration of that Beta."))
    ar_sd_median: float = Field(0.08, gt=0, description=(
        "Median of the log-normal prior of sigma_ar, the sd of a year's AR(1) innovation "
        "(logits)."))
    ar_sd_log_sd: float = Field(0.5, gt=0, description=(
        "Log-scale sd of that log-normal prior."))

    def asymptote_logit_moments(self) -> tuple[float, float]:
        """Mean and sd of ``logit(X)``, ``X ~ Beta(asymptote_mean, asymptote_concentration)``.

        Returns
        -------
        mean, sd : float
            The Normal prior of ``mu_A`` (digamma / trigamma of the Beta's shape parameters).
        """
        from scipy.special import digamma, polygamma

        a, b = beta_params(self.asymptote_mean, self.asymptote_concentration)
        return (float(digamma(a) - digamma(b)),
                float(np.sqrt(polygamma(1, a) + polygamma(1, b))))


def anchors(series: SeriesData) -> np.ndarray:
    """Anchor year of each geo: its mean observed year, rounded."""
    return np.round(series.centre_years()).astype(int)


def grid(series: SeriesData) -> tuple[int, int]:
    """Offsets (first, last) from the anchors covered by the latent grid, padded."""
    offsets = series.year - anchors(series)[series.geo_index]
    lo = -GRID_STEP * math.ceil(max(0, -int(offsets.min())) / GRID_STEP)
    hi = GRID_STEP * math.ceil(max(0, int(offsets.max())) / GRID_STEP)
    return lo, hi


def rate_np(mu: np.ndarray, omega: np.ndarray, asymptote, floor) -> np.ndarray:
    """Yearly logit change at level ``mu`` (numpy; broadcasts)."""
    p = 1.0 / (1.0 + np.exp(-mu))
    return omega * np.maximum(floor, 1.0 - p / asymptote)


def rate_pt(mu, omega, asymptote, floor):
    """Yearly logit change at level ``mu`` (PyTensor)."""
    p = pm.math.invlogit(mu)
    return omega * pt.maximum(floor, 1.0 - p / asymptote)


def systematic_np(alpha, omega, asymptote, floor, lo: int, hi: int) -> np.ndarray:
    """The systematic path on the grid ``lo..hi`` (last axis), anchored at offset 0."""
    forward = [alpha]
    for _ in range(hi):
        forward.append(forward[-1] + rate_np(forward[-1], omega, asymptote, floor))
    backward = []
    current = alpha
    for _ in range(-lo):
        current = current - rate_np(current, omega, asymptote, floor)
        backward.append(current)
    return np.stack(backward[::-1] + forward, axis=-1)


#: The kinds of a bound (a value known only to be at most / at least its threshold).
BOUND_KINDS = ("upper", "lower")


def latent_beyond_bound(kind: str, bound):
    """A bound's latent value, inside a model context: the bound minus (``upper``) or plus
    (``lower``) a distance with a flat prior on the positive numbers (``beyond_<kind>``).

    Data augmentation: the distance's posterior is the chain's distribution of the value
    given everything else, truncated at the bound, so integrating it out gives the censored
    likelihood exactly, with the bound conditioned on the years around it.
    """
    distance = pm.HalfFlat(f"beyond_{kind}", dims=f"{kind}_bound")
    return bound - distance if kind == "upper" else bound + distance


def latent_value(posterior: xr.Dataset, series: SeriesData, row: int) -> np.ndarray | float:
    """Observation ``row``'s value: its logit value if exact, a bound's latent value in each
    posterior draw (the bound minus or plus ``beyond_<kind>``) otherwise."""
    kind = series.kind[row]
    if kind == "exact":
        return float(series.y[row])
    position = int(np.sum(series.kind[:row] == kind))  # its place among the kind's rows
    distance = stack_draws(posterior[f"beyond_{kind}"])[:, position]
    return series.y[row] - distance if kind == "upper" else series.y[row] + distance


def kind_counts(series: SeriesData) -> dict[str, int]:
    """How many observations of each present kind (in the likelihood's order)."""
    return {kind: int(np.sum(series.kind == kind)) for kind in present_kinds(series)}


def chain_rows(series: SeriesData) -> np.ndarray:
    """The series' rows in the likelihood's order: exact values, then upper bounds, then lower
    bounds (each in series order). The AR(1) chain indexes observations in this order."""
    return np.concatenate([np.flatnonzero(series.kind == kind) for kind in present_kinds(series)])


def _arrays(series: SeriesData) -> dict[str, np.ndarray]:
    lo, _ = grid(series)
    index = series.year - anchors(series)[series.geo_index] - lo
    columns = {
        "y": series.y.astype(float),
        "geo": series.geo_index.astype(np.int64),
        "k": index.astype(np.int64),
        "part": series.part_year.astype(float),
        "src": series.source_types().astype(np.int64),
    }
    breaks = series.break_matrix()
    for b in range(breaks.shape[1]):  # one 1-D array per break
        columns[f"brk{b}"] = breaks[:, b]
    arrays = split_by_kind(columns, series)
    # prev_<kind>: the previous observation of the row's geo, as an index into the chain's
    # order (chain_rows); with exact values only, an index into the exact values.
    rows = chain_rows(series)
    prev, gap, first = chain_of(series.geo_index[rows], series.year[rows])
    start = 0
    for kind, count in kind_counts(series).items():
        end = start + count
        arrays[f"prev_{kind}"] = prev[start:end]
        arrays[f"gap_{kind}"] = gap[start:end]
        arrays[f"first_{kind}"] = first[start:end]
        start = end
    return arrays


def chain_of(geo: np.ndarray, year: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each observation, the previous one of its geo in year order (itself if none),
    the gap in years, and 1.0 for the first of its geo."""
    order = np.lexsort((year, geo))
    prev = np.arange(len(geo))
    first = np.ones(len(geo))
    for a, b in zip(order[:-1], order[1:], strict=True):
        if geo[a] == geo[b]:
            prev[b], first[b] = a, 0.0
    gap = np.where(first == 1.0, 0.0, year - year[prev]).astype(float)
    return prev.astype(np.int64), gap, first


class Transition(Family):
    """The FPEM-style transition family (see module docstring)."""

    name = "transition"
    priors_class = TransitionPriors
    pace_var = "omega"
    gate_vars = ("mu_alpha", "tau_alpha", "mu_omega", "tau_omega", "mu_asymptote",
                 "tau_asymptote", "asymptote", "floor", "rho", "sigma_ar", "sigma_src",
                 "sigma_part", "delta", "alpha", "omega", "beyond_upper", "beyond_lower")

    def data_arrays(self, series: SeriesData, priors: BaseModel) -> dict[str, np.ndarray]:
        return _arrays(series)

    def structure_key(self, series: SeriesData, priors: BaseModel) -> tuple:
        key = (self.name, len(series.geos), grid(series), present_kinds(series),
               series.break_matrix().shape[1], prefers_centred_pace(series),
               priors.model_dump_json())
        counts = tuple(kind_counts(series).get(kind, 0) for kind in BOUND_KINDS)
        # A bound is a parameter; series without bounds keep the keys they had.
        return key + (counts,) if any(counts) else key

    def build_model(self, series: SeriesData, priors: TransitionPriors) -> pm.Model:
        lo, hi = grid(series)
        n_breaks = series.break_matrix().shape[1]
        centred = prefers_centred_pace(series)
        coords = {"geo": list(series.geos), "grid": list(range(lo, hi + 1)),
                  "source_type": list(SOURCE_TYPES), "break": list(range(n_breaks)),
                  **{f"{kind}_bound": list(range(count))
                     for kind, count in kind_counts(series).items() if kind in BOUND_KINDS}}
        with pm.Model(coords=coords) as model:
            data = {name: pm.Data(name, values) for name, values in _arrays(series).items()}
            mu_alpha = pm.Normal("mu_alpha", priors.level_mean, priors.level_sd)
            tau_alpha = pm.Gamma("tau_alpha", 2.0, 2.0 / priors.level_spread_mean)
            alpha = pm.Normal("alpha", mu_alpha, tau_alpha, dims="geo")
            mu_omega = pm.Normal("mu_omega", priors.pace_mean, priors.pace_sd)
            tau_omega = pm.Gamma("tau_omega", 2.0, 2.0 / priors.pace_spread_mean)
            if centred:
                omega = pm.Normal("omega", mu_omega, tau_omega, dims="geo")
            else:
                z_omega = pm.Normal("z_omega", 0.0, 1.0, dims="geo")
                omega = pm.Deterministic("omega", mu_omega + tau_omega * z_omega, dims="geo")
            if priors.asymptote_per_geo:
                mean_a, sd_a = priors.asymptote_logit_moments()
                mu_asymptote = pm.Normal("mu_asymptote", mean_a, sd_a)
                tau_asymptote = pm.Gamma("tau_asymptote", 2.0,
                                         2.0 / priors.asymptote_spread_mean)
                z_asymptote = pm.Normal("z_asymptote", 0.0, 1.0, dims="geo")
                asymptote = pm.Deterministic(
                    "asymptote", pm.math.invlogit(mu_asymptote + tau_asymptote * z_asymptote),
                    dims="geo")
            else:
                asymptote = pm.Beta("asymptote", *beta_params(priors.asymptote_mean,
                                                              priors.asymptote_concentration))
            floor = pm.Beta("floor", *beta_params(priors.floor_mean, priors.floor_concentration))

            forward = [alpha]
            for _ in range(hi):
                forward.append(forward[-1] + rate_pt(forward[-1], omega, asymptote, floor))
            backward, current = [], alpha
            for _ in range(-lo):
                current = current - rate_pt(current, omega, asymptote, floor)
                backward.append(current)
            mu = pt.stack(backward[::-1] + forward, axis=1)  # (geo, grid)

            rho = pm.Beta("rho", *beta_params(priors.ar_rho_mean, priors.ar_rho_concentration))
            sigma_ar = pm.LogNormal("sigma_ar", np.log(priors.ar_sd_median), priors.ar_sd_log_sd)
            sigma_src = pm.LogNormal("sigma_src", np.log(priors.obs_sd_medians()),
                                     priors.obs_sd_log_sd, dims="source_type")
            sigma_part = pm.HalfNormal("sigma_part", priors.part_year_sd)
            delta = (pm.Normal("delta", 0.0, priors.break_sd, dims="break")
                     if n_breaks else None)
            stationary = sigma_ar**2 / (1.0 - rho**2)

            kinds = present_kinds(series)
            values, means, errors = [], [], []
            for kind in kinds:
                g, t = data[f"geo_{kind}"], data[f"k_{kind}"]
                mean = mu[g, t]
                for b in range(n_breaks):
                    mean = mean + data[f"brk{b}_{kind}"] * delta[b]
                means.append(mean)
                errors.append(sigma_src[data[f"src_{kind}"]] ** 2
                              + data[f"part_{kind}"] * sigma_part**2)
                values.append(data[f"y_{kind}"] if kind == "exact"
                              else latent_beyond_bound(kind, data[f"y_{kind}"]))
            # One AR(1) chain per geo through every observation, bounds included (their
            # latent values), so a bound is conditioned on the years around it.
            residual = pt.concatenate(values) - pt.concatenate(means)
            chain = {name: pt.concatenate([data[f"{name}_{kind}"] for kind in kinds])
                     for name in ("prev", "gap", "first")}
            carried = pt.switch(chain["first"], 0.0,
                                rho ** chain["gap"] * residual[chain["prev"]])
            persist = pt.switch(chain["first"], stationary,
                                stationary * (1.0 - rho ** (2.0 * chain["gap"])))
            eta = pt.concatenate(means) + carried
            sd = pt.sqrt(persist + pt.concatenate(errors))
            start = 0
            for (kind, count), value in zip(kind_counts(series).items(), values, strict=True):
                end = start + count
                if kind == "exact":
                    pm.Normal("y", eta[start:end], sd[start:end], observed=data["y_exact"])
                else:
                    pm.Potential(f"{kind}_bounds", pm.logp(
                        pm.Normal.dist(eta[start:end], sd[start:end]), value).sum())
                start = end
        return model

    def extract_draws(self, posterior: xr.DataTree, series: SeriesData) -> dict[str, np.ndarray]:
        post = posterior.posterior
        draws = {name: stack_draws(post[name]) for name in
                 ("alpha", "omega", "asymptote", "floor", "rho", "sigma_ar", "sigma_src")}
        lo, hi = grid(series)
        draws["anchor"] = anchors(series)
        draws["main_type"] = main_source_type(series)
        # Residual of each geo's last observation (the AR(1) continues from it); a bound's
        # value is its latent value in each draw.
        mu = systematic_np(draws["alpha"], draws["omega"], per_geo(draws["asymptote"]),
                           draws["floor"][:, None], lo, hi)  # (sample, geo, grid)
        offset = np.zeros(series.n_obs)
        if "delta" in post:
            offset = stack_draws(post["delta"]) @ series.break_matrix().T  # (sample, obs)
        last_resid = np.zeros_like(draws["alpha"])
        last_year = np.full(len(series.geos), np.nan)
        rows = chain_rows(series)
        order = rows[np.lexsort((series.year[rows], series.geo_index[rows]))]
        for g in range(len(series.geos)):
            mine = order[series.geo_index[order] == g]
            if not mine.size:
                continue
            i = mine[-1]
            k = series.year[i] - draws["anchor"][g] - lo
            base = mu[:, g, k] + (offset[:, i] if np.ndim(offset) == 2 else 0.0)
            last_resid[:, g] = latent_value(post, series, i) - base
            last_year[g] = series.year[i]
        draws["last_resid"], draws["last_year"] = last_resid, last_year
        return draws

    def forecast(self, draws: dict[str, np.ndarray], series: SeriesData, years: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Systematic path plus the AR(1) continued from each geo's last residual plus
        the observation error of the geo's main source type (see module docstring)."""
        years = np.asarray(years, dtype=int)
        A, f = per_geo(draws["asymptote"]), draws["floor"][:, None]
        offsets = years[None, :] - draws["anchor"][:, None]  # (geo, year)
        lo, hi = min(0, int(offsets.min())), max(0, int(offsets.max()))
        mu = systematic_np(draws["alpha"], draws["omega"], A, f, lo, hi)
        geo = np.arange(mu.shape[1])[:, None]
        mu = mu[:, geo, offsets - lo]  # (sample, geo, year)
        rho, s = draws["rho"][:, None], draws["sigma_ar"][:, None]
        stationary_sd = s / np.sqrt(1.0 - rho**2)
        last_year = draws["last_year"]
        known = ~np.isnan(last_year)
        r = np.where(known[None, :], draws["last_resid"], 0.0)
        h = years[None, :] - np.where(known, last_year, years.min()).astype(int)[:, None]
        # Years after the last observation: the AR(1) path run forward from its residual.
        path, state = [r], r
        for _ in range(max(0, int(h.max()))):
            state = rho * state + s * rng.standard_normal(r.shape)
            path.append(state)
        path = np.stack(path, axis=2)  # (sample, geo, 1 + steps ahead)
        ahead = path[:, geo, np.maximum(h, 0)]
        # Years up to the last observation: conditional on that residual alone.
        back = np.abs(np.minimum(h, 0))[None]
        behind = (rho[:, :, None] ** back * r[:, :, None] + stationary_sd[:, :, None]
                  * np.sqrt(1 - rho[:, :, None] ** (2 * back)) * rng.standard_normal(mu.shape))
        dev = np.where((h >= 0)[None], ahead, behind)
        dev = np.where(known[None, :, None], dev,
                       stationary_sd[:, :, None] * rng.standard_normal(dev.shape))
        sd = draws["sigma_src"][:, draws["main_type"]]  # (sample, geo)
        noise = sd[:, :, None] * rng.standard_normal(mu.shape)
        return inv_logit_percent(mu + dev + noise), noise


    def simulate(self, series: SeriesData, priors: TransitionPriors,
                 rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Parameters drawn from the prior and logit observations at ``series``' geos/years.

        Every observation is treated as exact; its observation error is its source type's
        (plus the part-year error for part-year values), and values before a definitional
        break of the series are on the older definition. ``sigma_part`` and ``delta`` are
        drawn, and in the truth, only when the series has such values; ``sigma_src_mixed``
        only when it has more than one source type. For calibration studies on simulated
        data.
        """
        G = len(series.geos)
        lo, hi = grid(series)
        alpha = rng.normal(rng.normal(priors.level_mean, priors.level_sd),
                           rng.gamma(2.0, priors.level_spread_mean / 2.0), G)
        mu_omega = rng.normal(priors.pace_mean, priors.pace_sd)
        omega = rng.normal(mu_omega, rng.gamma(2.0, priors.pace_spread_mean / 2.0), G)
        extra = {}
        if priors.asymptote_per_geo:
            mean_a, sd_a = priors.asymptote_logit_moments()
            mu_a = rng.normal(mean_a, sd_a)
            tau_a = rng.gamma(2.0, priors.asymptote_spread_mean / 2.0)
            A = 1.0 / (1.0 + np.exp(-(mu_a + tau_a * rng.standard_normal(G))))
            extra["mu_asymptote"] = np.array(mu_a)
        else:
            A = np.array(rng.beta(*beta_params(priors.asymptote_mean,
                                               priors.asymptote_concentration)))
        f = rng.beta(*beta_params(priors.floor_mean, priors.floor_concentration))
        rho = rng.beta(*beta_params(priors.ar_rho_mean, priors.ar_rho_concentration))
        s = float(np.exp(rng.normal(np.log(priors.ar_sd_median), priors.ar_sd_log_sd)))
        sigma = np.exp(rng.normal(np.log(priors.obs_sd_medians()), priors.obs_sd_log_sd))
        mu = systematic_np(alpha, omega, A, f, lo, hi)
        k = series.year - anchors(series)[series.geo_index] - lo
        mean = mu[series.geo_index, k]
        prev, gap, first = chain_of(series.geo_index, series.year)
        stationary = s**2 / (1.0 - rho**2)
        error, drawn = draw_observation_errors(series, sigma, priors.part_year_sd, rng)
        r = np.zeros(series.n_obs)
        for i in np.lexsort((series.year, series.geo_index)):
            if first[i]:
                r[i] = rng.normal(0.0, np.sqrt(stationary + error[i]))
            else:
                sd = np.sqrt(stationary * (1.0 - rho ** (2.0 * gap[i])) + error[i])
                r[i] = rng.normal(rho ** gap[i] * r[prev[i]], sd)
        y, offsets = add_break_offsets(series, mean + r, priors.break_sd, rng)
        truth = {"omega": omega, "alpha": alpha, "mu_omega": np.array(mu_omega),
                 "asymptote": A, "rho": np.array(rho), "sigma_ar": np.array(s),
                 "sigma_src": sigma, **extra, **drawn, **offsets}
        return truth, y


def per_geo(asymptote: np.ndarray) -> np.ndarray:
    """Asymptote draws as (sample, geo): per-geo draws as they are, one common draw per
    sample (fits made before the asymptote was per geo) as (sample, 1)."""
    asymptote = np.asarray(asymptote)
    return asymptote[:, None] if asymptote.ndim == 1 else asymptote


def main_source_type(series: SeriesData) -> np.ndarray:
    """Each geo's most frequent source type (its forecast carries that type's error)."""
    types = series.source_types()
    out = np.zeros(len(series.geos), dtype=int)
    for i in range(len(series.geos)):
        mine = types[series.geo_index == i]
        if mine.size:
            out[i] = int(np.bincount(mine, minlength=len(SOURCE_TYPES)).argmax())
    return out


TRANSITION = Transition()
