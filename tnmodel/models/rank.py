"""Latent-standing model for rank indicators ("digital government in the top 20").

A rank is relative: province A moves up only if others move down. So the model does not
forecast ranks directly; it forecasts a latent *standing* of every province and ranks the
standings afterwards (:mod:`tnmodel.ranks`).

Measurement
    An observed rank ``r`` of ``N`` becomes the normal score
    ``z = Phi^{-1}((N + 0.5 - r) / N)`` (Hazen plotting position: the middle of the ``r``-th of
    ``N`` equal slices of the normal distribution; rank 1 of 63 -> +2.41, rank 63 -> -2.41,
    the median rank -> 0). Higher ``z`` is better. ``z`` is a noisy measurement of the standing:
    ``z ~ Normal(standing, sigma_obs[series])``. The noise absorbs method changes of the index
    (DTI 2021, 2024) and the arbitrariness of close calls; it is estimated per series.

Standing
    One standing per series (e.g. DTI overall, DTI digital-government pillar), province and
    year, following an AR(1) toward a province mean::

        standing[k, g, t] - mean[k, g] = phi * (standing[k, g, t-1] - mean[k, g]) + innovation
        innovation ~ Normal(0, sigma_innov),   first year from the stationary distribution
        mean[k, g] = tau_geo * e_geo[g] + tau_series * e_series[k, g]

    ``phi`` (persistence; ``1 - phi`` is the yearly mean reversion) and ``sigma_innov`` are
    shared by all series; the province means share a common component (``e_geo``), so a
    province observed in the overall ranking but rarely in a pillar ranking borrows its pillar
    standing from its overall one. All provinces are fitted jointly. Given the
    hyper-parameters everything is Gaussian, so the standings are integrated out of the
    likelihood (:func:`build_rank_model`) and drawn afterwards by exact conditioning
    (:func:`tnmodel.ranks.draw_standings`).

Bases and mergers
    The latent standings belong to the pre-merger provinces (the *base* geos: province-level
    geos no other geo merged into; 63 for Vietnam). A rank published on another basis (34
    provinces from 2025) measures a post-merger unit, whose standing is the mean of its
    parts' standings: population-weighted when every part has a population in geos.yaml,
    otherwise a plain mean. A change of basis is a mapping of geos, not a break in the
    standing. The averaged standing of a merged unit is slightly less dispersed than a single
    province's; the measurement treats it on the same scale (an approximation, said in notes).

Known simplifications (said in the output notes)
    Published partial lists (e.g. a top 15) enter as the ranks they give; provinces missing from
    a partial list are unobserved that year, not "below the list".
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from tnmodel.data import Dataset, Geo
from tnmodel.models import (
    ConvergenceError,
    Diagnostics,
    GateThresholds,
    SamplerSettings,
    _extreme,
    check_gates,
    lazy_posterior,
    retried,
    retry_sampler,
)
from tnmodel.models.family import stack_draws
from tnmodel.models.lazy import lazy
from tnmodel.models.sampling import sampler_cores

pm = lazy("pymc")
pt = lazy("pytensor.tensor")
az = lazy("arviz")

__all__ = [
    "DEFAULT_PANEL",
    "RankBasis",
    "RankBasisError",
    "RankFit",
    "RankPanel",
    "RankPriors",
    "base_geos",
    "blocks_by_size",
    "build_rank_model",
    "standing_covariance",
    "fit_ranks",
    "independent_blocks",
    "normal_score",
    "rank_basis",
    "rank_panel",
    "unit_weights",
]

#: Series fitted jointly by default (with the readings of the rank targets): the DTI overall
#: rank and its three pillars, which share one persistence and innovation scale.
DEFAULT_PANEL = ("dti_rank", "dti_gov_rank", "dti_econ_rank", "dti_soc_rank")


class RankBasisError(ValueError):
    """A rank basis (``among``) cannot be formed from the geos' lineage."""


def normal_score(rank, among) -> np.ndarray:
    """``Phi^{-1}((N + 0.5 - r) / N)``: rank 1 is best (highest score); see module docstring."""
    rank = np.asarray(rank, dtype=float)
    among = np.broadcast_to(np.asarray(among, dtype=float), rank.shape)
    if np.any(rank < 1) or np.any(rank > among):
        raise ValueError("ranks must lie in 1..N")
    inv = NormalDist().inv_cdf
    return np.array([inv((n + 0.5 - r) / n) for r, n in zip(rank.ravel(), among.ravel(),
                                                             strict=True)]).reshape(rank.shape)


# --------------------------------------------------------------------------------------------
# Geos and bases


def _successor(geos: dict[str, Geo], geo: str) -> str:
    seen = {geo}
    while (nxt := geos[geo].merged_into) is not None and nxt in geos and nxt not in seen:
        seen.add(nxt)
        geo = nxt
    return geo


def base_geos(geos: dict[str, Geo]) -> tuple[str, ...]:
    """Pre-merger provinces: province-level geos that no other geo merged into, sorted."""
    targets = {g.merged_into for g in geos.values() if g.merged_into}
    return tuple(sorted(g.id for g in geos.values()
                        if g.level == "province" and g.id not in targets))


def unit_weights(geos: dict[str, Geo], unit: str, base: tuple[str, ...]) -> tuple[np.ndarray, str]:
    """Weights of the base geos that make up ``unit`` (a base geo or a post-merger unit).

    Returns the weight vector over ``base`` and how it was formed (``'itself'``,
    ``'population-weighted mean'`` or ``'plain mean'``).

    Raises
    ------
    RankBasisError
        If ``unit`` is neither a base geo nor the successor of any.
    """
    weights = np.zeros(len(base))
    if unit in base and _successor(geos, unit) == unit:
        weights[base.index(unit)] = 1.0
        return weights, "itself"
    unit = _successor(geos, unit) if unit in geos else unit
    parts = [g for g in base if _successor(geos, g) == unit]
    if not parts:
        raise RankBasisError(f"'{unit}' is not a province of the panel and no province merged "
                             "into it (check level and merged_into in geos.yaml)")
    if len(parts) == 1:
        weights[base.index(parts[0])] = 1.0
        return weights, "itself"
    population = [geos[p].population for p in parts]
    if all(p is not None and p > 0 for p in population):
        total = float(sum(population))
        for p, pop in zip(parts, population, strict=True):
            weights[base.index(p)] = pop / total
        return weights, "population-weighted mean"
    for p in parts:
        weights[base.index(p)] = 1.0 / len(parts)
    return weights, "plain mean"


@dataclass(frozen=True)
class RankBasis:
    """The units a rank is taken among, as weights over the base geos.

    Attributes
    ----------
    among : int
    units : tuple of str
    weights : ndarray
        (unit, base geo); each row sums to 1.
    how : dict
        Unit -> how its standing is formed (``'itself'``, ``'plain mean'``, ...).
    base : tuple of str
        The base geos the weights refer to (columns of ``weights``).
    """

    among: int
    units: tuple[str, ...]
    weights: np.ndarray = field(repr=False)
    how: dict[str, str] = field(repr=False)
    base: tuple[str, ...] = field(repr=False, default=())

    @property
    def is_base(self) -> bool:
        """True when the units are the base (pre-merger) geos themselves."""
        return self.units == self.base

    def parts(self, unit: str) -> tuple[str, ...]:
        """The base geos that make up ``unit``."""
        row = self.weights[self.units.index(unit)]
        return tuple(g for g, w in zip(self.base, row, strict=True) if w > 0)

    @property
    def merged_units(self) -> dict[str, str]:
        return {u: h for u, h in self.how.items() if h != "itself"}


def rank_basis(geos: dict[str, Geo], among: int) -> RankBasis:
    """The basis of ``among`` units: the base geos, or their post-merger successors.

    Raises
    ------
    RankBasisError
        If neither the pre-merger provinces nor their successors number ``among`` (e.g. the
        lineage in geos.yaml does not cover every merged province); the message says what the
        lineage gives.
    """
    base = base_geos(geos)
    if among == len(base):
        return RankBasis(among, base, np.eye(len(base)), dict.fromkeys(base, "itself"), base)
    units = tuple(sorted({_successor(geos, g) for g in base}))
    if among == len(units):
        pairs = [unit_weights(geos, u, base) for u in units]
        return RankBasis(among, units, np.array([w for w, _ in pairs]),
                         {u: h for u, (_, h) in zip(units, pairs, strict=True)}, base)
    merged = sorted(g for g in base if _successor(geos, g) != g)
    receivers = sorted({_successor(geos, g) for g in merged})
    raise RankBasisError(
        f"no basis of {among} can be formed from geos.yaml: it has {len(base)} pre-merger "
        f"provinces, and its merger lineage (merged_into) maps {len(merged)} of them into "
        f"{len(receivers)} new provinces, which gives {len(units)} post-merger units, not "
        f"{among}. A basis of {among} needs merged_into/merged_on for every province that "
        "merged (only these are recorded: "
        + ", ".join(f"{g}->{_successor(geos, g)}" for g in merged) + ")")


# --------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class RankPanel:
    """Rank observations of several series over the base geos, ready for the model.

    Attributes
    ----------
    series : tuple of str
        Indicator ids, in model order.
    geos : tuple of str
        Base (pre-merger) geos, in model order.
    years : ndarray of int
        Consecutive years from the first to the last observation.
    obs_series, obs_year : ndarray of int
        Per observation: index into ``series`` and ``years``.
    obs_weights : ndarray
        (observation, geo): the unit the observation ranks, as weights over ``geos``.
    rank, among : ndarray
        The observed rank and its basis.
    z : ndarray
        Normal score of each observation (:func:`normal_score`).
    rows : pandas.DataFrame
        The observations used (provenance), with ``unit`` and ``weighting`` columns.
    skipped : tuple of str
        Observations left out and why.
    """

    series: tuple[str, ...]
    geos: tuple[str, ...]
    years: np.ndarray
    obs_series: np.ndarray
    obs_year: np.ndarray
    obs_weights: np.ndarray = field(repr=False)
    rank: np.ndarray
    among: np.ndarray
    z: np.ndarray
    rows: pd.DataFrame = field(repr=False)
    skipped: tuple[str, ...] = ()

    @property
    def n_obs(self) -> int:
        return len(self.z)

    def rows_of(self, series: str, unit: str) -> pd.DataFrame:
        """Observations of one series that measure ``unit`` (base geo or merged unit)."""
        return self._rows_by_series_and_unit.get((series, unit), self.rows.iloc[:0])

    @functools.cached_property
    def _rows_by_series_and_unit(self) -> dict[tuple[str, str], pd.DataFrame]:
        return {key: rows for key, rows in self.rows.groupby(["indicator", "unit"], sort=False)}


def rank_panel(
    dataset: Dataset,
    series: tuple[str, ...] | list[str] = DEFAULT_PANEL,
    since: int | None = None,
    until: int | None = None,
) -> RankPanel:
    """Collect the rank observations of ``series`` on the dataset's province panel.

    Each observation ranks either a base geo (``among`` = number of base geos) or, on any other
    basis, the post-merger unit its geo belongs to. Exact repeats (same geo, year, basis and
    rank from several sources) count once. Rows without a usable value, bounds, and geos outside
    the province panel (e.g. countries) are skipped and listed in ``skipped``.

    Raises
    ------
    ValueError
        If an indicator is unknown or not a rank, or no observation is left.

    The panel is built once per dataset and arguments (treat it as read-only).
    """
    series = tuple(series)
    return dataset.derived(("rank_panel", series, since, until),
                           lambda: _rank_panel(dataset, series, since, until))


def _rank_panel(dataset: Dataset, series: tuple[str, ...], since: int | None,
                until: int | None) -> RankPanel:
    base = base_geos(dataset.geos)
    used_series, parts, skipped = [], [], []
    for ind in dict.fromkeys(series):
        if ind not in dataset.indicators:
            raise ValueError(f"unknown indicator '{ind}'")
        if dataset.indicators[ind].kind != "rank":
            raise ValueError(f"'{ind}' is a {dataset.indicators[ind].kind}, not a rank")
        obs = dataset.series(ind)
        if since is not None:
            obs = obs[obs["year"] >= since]
        if until is not None:
            obs = obs[obs["year"] <= until]
        if obs.empty:
            skipped.append(f"{ind}: no observations in the window")
            continue
        used_series.append(ind)
        parts.append(obs)
    if not used_series:
        raise ValueError("no rank observations of " + ", ".join(series))
    obs = pd.concat(parts, ignore_index=True)
    obs = obs.drop_duplicates(["indicator", "geo", "year", "among", "value"]).reset_index(drop=True)

    keep, weights, units, how = [], [], [], []
    for i, row in obs.iterrows():
        where = f"observations.csv:{row.get('line', '?')}"
        if row["bound"] or pd.isna(row["value"]) or pd.isna(row["among"]):
            skipped.append(f"{where}: no exact rank (bound or missing basis)")
            continue
        if row["geo"] not in dataset.geos:
            skipped.append(f"{where}: unknown geo '{row['geo']}'")
            continue
        if int(row["among"]) == len(base):
            if row["geo"] not in base:
                skipped.append(f"{where}: '{row['geo']}' is not a pre-merger province but is "
                               f"ranked among {len(base)}")
                continue
            w, h, unit = np.eye(len(base))[base.index(row["geo"])], "itself", row["geo"]
        else:
            try:
                w, h = unit_weights(dataset.geos, row["geo"], base)
            except RankBasisError as exc:
                skipped.append(f"{where}: {exc}")
                continue
            unit = _successor(dataset.geos, row["geo"])
        if not 1 <= row["value"] <= row["among"]:
            skipped.append(f"{where}: rank {row['value']:g} outside 1..{row['among']}")
            continue
        keep.append(i)
        weights.append(w)
        units.append(unit)
        how.append(h)
    rows = obs.loc[keep].reset_index(drop=True)
    if rows.empty:
        raise ValueError("no usable rank observations of " + ", ".join(series))
    rows["unit"] = units
    rows["weighting"] = how
    used_series = [s for s in used_series if (rows["indicator"] == s).any()]
    years = np.arange(int(rows["year"].min()), int(rows["year"].max()) + 1)
    rank = rows["value"].to_numpy(dtype=float)
    among = rows["among"].to_numpy(dtype=float)
    return RankPanel(
        series=tuple(used_series),
        geos=base,
        years=years,
        obs_series=np.array([used_series.index(s) for s in rows["indicator"]], dtype=int),
        obs_year=(rows["year"].to_numpy(dtype=int) - years[0]),
        obs_weights=np.array(weights),
        rank=rank,
        among=among,
        z=normal_score(rank, among),
        rows=rows,
        skipped=tuple(skipped),
    )


# --------------------------------------------------------------------------------------------
# Model


class RankPriors(BaseModel):
    """Weakly informative priors of the latent-standing model (normal-score units).

    Spreads are zero-avoiding Gamma(2, 2 / mean) and the measurement noise is LogNormal: with
    one observation per province and year, a half-normal lets the noise or a spread collapse to
    zero and the sampler meets a funnel.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    phi_alpha: float = Field(4.0, gt=0, description="Beta prior of the persistence phi")
    phi_beta: float = Field(2.0, gt=0)
    sigma_innov_mean: float = Field(0.3, gt=0, description="prior mean, yearly innovation sd")
    tau_geo_mean: float = Field(0.8, gt=0, description="prior mean, spread of province means")
    tau_series_mean: float = Field(0.3, gt=0, description="prior mean, series-specific means")
    obs_sd_median: float = Field(0.25, gt=0, description="prior median, measurement noise sd")
    obs_sd_log_sd: float = Field(0.5, gt=0)


def standing_covariance(phi, sigma_innov, tau_geo, tau_series, same_series, lag):
    """Prior covariance of two standings of the same province.

    ``tau_geo**2 + same_series * (tau_series**2 + sigma_innov**2 / (1 - phi**2) * phi**lag)``:
    the shared province mean, the series-specific mean, and the stationary AR(1) deviation
    ``lag`` years apart. Standings of different provinces are independent. Written with
    arithmetic operators only, so it works on numpy arrays and PyTensor tensors alike.
    """
    ar = sigma_innov**2 / (1.0 - phi**2) * phi**lag
    return tau_geo**2 + same_series * (tau_series**2 + ar)


def _pair_structure(series_a, year_a, series_b, year_b):
    """(same_series, lag) matrices between two sets of (series index, year)."""
    same = (np.asarray(series_a)[:, None] == np.asarray(series_b)[None, :]).astype(float)
    lag = np.abs(np.asarray(year_a)[:, None] - np.asarray(year_b)[None, :]).astype(float)
    return same, lag


def independent_blocks(panel: RankPanel) -> np.ndarray:
    """Observations grouped into blocks that are independent given the hyper-parameters.

    Standings of different provinces are independent, so observations only correlate within a
    province, or across the parts of a merged unit a basis-34 rank measures. Returns a
    (block, size) matrix of observation indices padded with -1.
    """
    parent = list(range(len(panel.geos)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    members = [np.flatnonzero(w) for w in panel.obs_weights]
    for geos in members:
        for g in geos[1:]:
            parent[find(int(g))] = find(int(geos[0]))
    component = np.array([find(int(geos[0])) for geos in members])
    groups = [np.flatnonzero(component == c) for c in np.unique(component)]
    size = max(len(g) for g in groups)
    blocks = np.full((len(groups), size), -1, dtype=int)
    for i, g in enumerate(groups):
        blocks[i, :len(g)] = g
    return blocks


#: Block sizes the likelihood pads to: lone ranks, blocks of up to 8, and the rest (padded to
#: the largest block). Each size class is one batched Gaussian term, and each term is compiled
#: separately: one term per distinct size (11 on the shipped panel) took 19 s to compile,
#: these three take 9 s, for a gradient 1.3x as costly (0.165 against 0.13 ms); one term for
#: everything (every block padded to 19) compiles fastest but makes a gradient 3x as costly.
SIZE_CLASSES = (1, 8)


def blocks_by_size(panel: RankPanel) -> dict[int, np.ndarray]:
    """The blocks of :func:`independent_blocks`, grouped into :data:`SIZE_CLASSES`.

    Returns ``{size: (n_blocks, size) matrix of observation indices}``, padded with -1 to
    the class size (the largest class: to the largest block). Most provinces have one or two
    DTI ranks and a few have twenty; padding every block to the largest would make each
    log-density evaluation about three times as costly.
    """
    blocks = [block[block >= 0] for block in independent_blocks(panel)]
    largest = max(len(obs) for obs in blocks)
    by_class: dict[int, list[np.ndarray]] = {}
    for obs in blocks:
        size = min(next((c for c in SIZE_CLASSES if len(obs) <= c), largest), largest)
        by_class.setdefault(size, []).append(
            np.pad(obs, (0, size - len(obs)), constant_values=-1))
    return {size: np.stack(group) for size, group in sorted(by_class.items())}


def build_rank_model(panel: RankPanel, priors: RankPriors | None = None) -> pm.Model:
    """The PyMC model of the module docstring for ``panel``, with the standings marginalised.

    Given the hyper-parameters, standings and observations are jointly Gaussian, so the
    observed normal scores are ``MvNormal(0, K)`` with
    ``K[i, j] = (w_i . w_j) * standing_covariance(...) + [i == j] * sigma_obs[k_i]**2``
    (``w_i``: the weights of the unit observation ``i`` ranks). ``K`` is block-diagonal
    (:func:`independent_blocks`); blocks are batched into a few size classes
    (:func:`blocks_by_size`; single observations as a plain Normal), padded with
    unit-variance dummies observed at 0, which add a constant to the log density. Only the
    hyper-parameters are sampled; the standings are drawn afterwards by exact Gaussian
    conditioning (:func:`tnmodel.ranks.draw_standings`). This removes the funnel between
    measurement noise and innovations that a sampled state-space version meets with one rank
    per province-year.
    """
    priors = priors or RankPriors()
    coords = {"series": list(panel.series)}
    with pm.Model(coords=coords) as model:
        phi = pm.Beta("phi", priors.phi_alpha, priors.phi_beta)
        sigma_innov = pm.Gamma("sigma_innov", alpha=2.0, beta=2.0 / priors.sigma_innov_mean)
        tau_geo = pm.Gamma("tau_geo", alpha=2.0, beta=2.0 / priors.tau_geo_mean)
        tau_series = pm.Gamma("tau_series", alpha=2.0, beta=2.0 / priors.tau_series_mean)
        sigma_obs = pm.LogNormal("sigma_obs", np.log(priors.obs_sd_median), priors.obs_sd_log_sd,
                                 dims="series")
        pm.Deterministic("stationary_sd", sigma_innov / pt.sqrt(1.0 - phi**2))
        for size, blocks in blocks_by_size(panel).items():
            real = blocks >= 0
            idx = np.where(real, blocks, 0)
            series = panel.obs_series[idx]
            if size == 1:  # a lone observation: prior variance of one standing plus noise
                var = (panel.obs_weights[idx[:, 0]] ** 2).sum(axis=1) * standing_covariance(
                    phi, sigma_innov, tau_geo, tau_series, 1.0, 0.0)
                pm.Normal("z_1", 0.0, pt.sqrt(var + sigma_obs[series[:, 0]] ** 2),
                          observed=panel.z[idx[:, 0]])
                continue
            year = panel.obs_year[idx]
            same = (series[:, :, None] == series[:, None, :]).astype(float)
            lag = np.abs(year[:, :, None] - year[:, None, :]).astype(float)
            weights = panel.obs_weights[idx] * real[:, :, None]  # padding: no standing
            overlap = np.einsum("big,bjg->bij", weights, weights)
            cov = overlap * standing_covariance(phi, sigma_innov, tau_geo, tau_series, same, lag)
            noise = pt.where(real, sigma_obs[series] ** 2, 1.0)  # padding: unit variance
            cov = cov + np.eye(size)[None, :, :] * noise[:, :, None]
            pm.MvNormal(f"z_{size}", mu=np.zeros(size), cov=cov,
                        observed=np.where(real, panel.z[idx], 0.0))
    return model


@lazy_posterior
@dataclass(frozen=True)
class RankFit:
    """A fitted latent-standing model.

    Attributes
    ----------
    panel : RankPanel
    priors : RankPriors
    posterior : xarray.DataTree
        For a fit from the cache, read from its file on first access.
    draws : dict of ndarray
        Chains stacked: ``phi``, ``sigma_innov``, ``tau_geo``, ``tau_series`` (sample,);
        ``sigma_obs`` (sample, series). Standings are drawn from these by
        :func:`tnmodel.ranks.draw_standings`.
    diagnostics : Diagnostics
    chains : int
    stored_at : Path, optional
        The fit cache's ``posterior.nc`` of this fit (results copy it instead of writing it).
    """

    panel: RankPanel
    priors: RankPriors
    posterior: xr.DataTree
    draws: dict[str, np.ndarray] = field(repr=False)
    diagnostics: Diagnostics
    chains: int
    stored_at: Path | None = None


HYPER = ("phi", "sigma_innov", "tau_geo", "tau_series", "sigma_obs")


def _diagnose_ranks(posterior: xr.DataTree, seconds: float) -> Diagnostics:
    rhat = az.rhat(posterior, var_names=list(HYPER))
    ess = az.ess(posterior, var_names=list(HYPER), method="bulk")
    max_rhat, worst_rhat = _extreme(rhat, largest=True)
    min_ess, worst_ess = _extreme(ess, largest=False)
    divergences = int(posterior.sample_stats["diverging"].sum())
    return Diagnostics(max_rhat, min_ess, divergences, worst_rhat, worst_ess, seconds)


def fit_ranks(
    panel: RankPanel,
    sampler: SamplerSettings,
    seed: int,
    gates: GateThresholds | None = None,
    priors: RankPriors | None = None,
    progressbar: bool = False,
) -> RankFit:
    """Fit the latent-standing model to ``panel`` with nutpie and check the convergence gates.

    Parameters
    ----------
    panel : RankPanel
        From :func:`rank_panel`.
    sampler : SamplerSettings
    seed : int
        The same seed gives the same draws.
    gates : GateThresholds, optional
        Defaults to R-hat <= 1.01, bulk ESS >= 400, no divergences (over the sampled
        hyper-parameters; standings are exact conditional draws given them).
    priors : RankPriors, optional
    progressbar : bool

    Raises
    ------
    ConvergenceError
        If a gate fails twice (the second try doubles the tuning and halves
        ``1 - target_accept``).
    """
    gates = gates or GateThresholds()
    priors = priors or RankPriors()
    logging.getLogger("pymc").setLevel(logging.ERROR)
    label = f"the rank model (series: {', '.join(panel.series)}; {len(panel.geos)} provinces)"
    model = build_rank_model(panel, priors)

    def attempt(settings: SamplerSettings) -> tuple[xr.DataTree, Diagnostics]:
        started = time.perf_counter()
        with model:
            posterior = pm.sample(
                draws=settings.draws, tune=settings.tune, chains=settings.chains,
                cores=sampler_cores(settings.chains), nuts_sampler="nutpie",
                nuts={"target_accept": settings.target_accept},
                random_seed=seed, progressbar=progressbar, compute_convergence_checks=False,
            )
        return posterior, _diagnose_ranks(posterior, time.perf_counter() - started)

    posterior, diagnostics = attempt(sampler)
    try:
        check_gates(label, diagnostics, gates, sampler)
    except ConvergenceError:
        retry = retry_sampler(sampler, diagnostics, gates)
        posterior, diagnostics = attempt(retry)
        diagnostics = retried(diagnostics, sampler, retry)
        check_gates(label, diagnostics, gates, retry)
    post = posterior.posterior
    draws = {name: stack_draws(post[name]) for name in HYPER}
    return RankFit(panel, priors, posterior, draws, diagnostics, int(post.sizes["chain"]))
