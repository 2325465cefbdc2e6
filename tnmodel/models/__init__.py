"""Model fitting: the only part of tnmodel that talks to PyMC and ArviZ.

:func:`fit_series` fits one indicator's pooled series with nutpie and returns a
:class:`Fit`: the posterior as an ``xarray.DataTree``, plain numpy draws for the stages
downstream, and convergence diagnostics that have passed the gates (or a
:class:`ConvergenceError` naming the series and what to try).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from tnmodel.models.family import Family
from tnmodel.models.lazy import lazy
from tnmodel.models.linear import LINEAR, LinearPriors
from tnmodel.models.logistic import LOGISTIC, LogisticPriors
from tnmodel.models.logit_trend import LOGIT_TREND, LogitTrendPriors
from tnmodel.models.mcse import mcse_mean
from tnmodel.models.sampling import compile_stats, sample_family
from tnmodel.models.series import (
    SeriesData,
    inv_logit_percent,
    select_series,
    series_from_arrays,
)
from tnmodel.models.transition import TRANSITION, TransitionPriors
from tnmodel.models.transition_local import TRANSITION_LOCAL, TransitionLocalPriors
from tnmodel.models.transition_state import TRANSITION_STATE, TransitionStatePriors

az = lazy("arviz")

__all__ = [
    "FAMILIES",
    "ConvergenceError",
    "Diagnostics",
    "Family",
    "Fit",
    "GateThresholds",
    "LinearPriors",
    "LogisticPriors",
    "LogitTrendPriors",
    "ModelSpec",
    "TransitionLocalPriors",
    "TransitionPriors",
    "TransitionStatePriors",
    "SamplerSettings",
    "SeriesData",
    "check_gates",
    "compile_stats",
    "fit_series",
    "inv_logit_percent",
    "mcse_of_mean",
    "retry_sampler",
    "select_series",
    "series_from_arrays",
]


#: Model families by the name scenario files use.
FAMILIES: dict[str, Family] = {
    family.name: family for family in (LOGIT_TREND, TRANSITION, TRANSITION_LOCAL,
                                        TRANSITION_STATE, LOGISTIC, LINEAR)
}
FamilyName = Literal["logit_trend", "transition", "transition_local", "transition_state",
                     "logistic", "linear"]
AnyPriors = (LogitTrendPriors | TransitionPriors | TransitionLocalPriors | TransitionStatePriors
             | LogisticPriors | LinearPriors)


class SamplerSettings(BaseModel):
    """MCMC settings (nutpie NUTS)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chains: int = Field(4, ge=1, le=16)
    draws: int = Field(1000, ge=50)
    tune: int = Field(1000, ge=50)
    # 0.995: the sparse hierarchical fits (1-2 points per geo, a weakly identified part-year
    # error) show a divergence or two at 0.99 and none at 0.995 on the shipped data; the
    # smaller steps cost little here (benchmarks/run.py).
    target_accept: float = Field(0.995, gt=0.5, lt=1.0)
    # The rank model samples nine hyper-parameters of a smooth marginal likelihood (the
    # standings are integrated out, so there is no funnel): on the shipped data it shows no
    # divergences at 0.9 (R-hat 1.003, bulk ESS ~2500 from 4 x 1000 draws), and 0.995 would
    # double its leapfrog steps for nothing (benchmarks/RESULTS.md).
    rank_target_accept: float = Field(0.9, gt=0.5, lt=1.0,
                                      description="target_accept of the rank model")

    def for_ranks(self) -> SamplerSettings:
        """The settings the rank model samples with (``rank_target_accept``)."""
        return self.model_copy(update={"target_accept": self.rank_target_accept})


class GateThresholds(BaseModel):
    """Convergence gates every fit must pass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rhat: float = Field(1.01, ge=1.0)
    min_ess_bulk: float = Field(400, ge=0)
    max_divergences: int = Field(0, ge=0)


class ModelSpec(BaseModel):
    """How one indicator is modelled.

    ``priors`` is validated against the priors of ``family`` (default ``logit_trend``):
    unknown prior names are errors with a "did you mean". ``priors: {from: NAME, ...}``
    starts from a reference prior file (:mod:`tnmodel.models.reference`, e.g.
    ``reference_internet``) and overrides the names given next to ``from``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: FamilyName = Field("logit_trend", description="model family")
    since: int | None = Field(None, description="first year of data used")
    until: int | None = Field(None, description="last year of data used")
    exclude_geos: tuple[str, ...] = ()
    priors: AnyPriors = Field(None, validate_default=True,  # type: ignore[assignment]
                              description="the family's priors, or {from: reference, ...}")
    priors_from: str | None = Field(None, description="reference the priors started from")

    @field_validator("priors", mode="before")
    @classmethod
    def _priors_of_family(cls, value: Any, info: ValidationInfo) -> Any:
        family = info.data.get("family")
        if family is None:  # the family itself is wrong: that is the error to report
            return LogitTrendPriors()
        return priors_for(family, value)

    @model_validator(mode="before")
    @classmethod
    def _remember_reference(cls, data: Any) -> Any:
        priors = data.get("priors") if isinstance(data, dict) else None
        if isinstance(priors, dict) and "from" in priors and data.get("priors_from") is None:
            data = {**data, "priors_from": str(priors["from"])}
        return data


def priors_for(family: str, value: Any = None) -> BaseModel:
    """The priors of ``family`` from a mapping (``None``: the defaults).

    Raises ``ValueError`` naming unknown priors (with a "did you mean") or bad values.
    """
    from pydantic import ValidationError

    from tnmodel.problems import did_you_mean

    priors_class = FAMILIES[family].priors_class
    if value is None:
        return priors_class()
    if isinstance(value, BaseModel):
        if type(value) is not priors_class:
            raise ValueError(f"{type(value).__name__} are not priors of family '{family}' "
                             f"(expected {priors_class.__name__})")
        return value
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping of prior settings of family '{family}'")
    value = dict(value)
    if "from" in value:
        from tnmodel.models.reference import load_reference

        reference = load_reference(str(value.pop("from")))
        if reference.family != family:
            raise ValueError(f"reference priors '{reference.name}' are for family "
                             f"'{reference.family}', not '{family}'")
        value = {**reference.priors, **value}
    allowed = list(priors_class.model_fields)
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise ValueError("; ".join(
            f"unknown prior '{k}' for family '{family}'{did_you_mean(str(k), allowed)}"
            for k in unknown) + f"; allowed: {', '.join(allowed)}")
    try:
        return priors_class.model_validate(value)
    except ValidationError as exc:
        raise ValueError("; ".join(
            f"prior '{'.'.join(map(str, e['loc']))}': {e['msg']} (got {e.get('input')!r})"
            for e in exc.errors())) from None


class ConvergenceError(RuntimeError):
    """A fit failed its convergence gates."""


@dataclass(frozen=True)
class Diagnostics:
    """Worst-case convergence figures of one fit."""

    max_rhat: float
    min_ess_bulk: float
    divergences: int
    worst_rhat: str
    worst_ess: str
    sampling_seconds: float
    retried_with_tune: int | None = None
    retried_with_target_accept: float | None = None
    retried_with_chains: int | None = None
    #: Messages about what the data cannot identify (e.g. a geo whose pace is the pool's).
    notes: tuple[str, ...] = ()
    #: Prior vs posterior of each geo's pace (:func:`tnmodel.models.influence.prior_influence`).
    prior_pace: dict | None = None

    def as_dict(self) -> dict:
        return {
            "max_rhat": round(self.max_rhat, 4),
            "min_ess_bulk": round(self.min_ess_bulk, 1),
            "divergences": self.divergences,
            "worst_rhat": self.worst_rhat,
            "worst_ess": self.worst_ess,
            "sampling_seconds": round(self.sampling_seconds, 2),
            "retried_with_tune": self.retried_with_tune,
            "retried_with_target_accept": self.retried_with_target_accept,
            "retried_with_chains": self.retried_with_chains,
            "notes": list(self.notes),
            "prior_pace": self.prior_pace,
        }


@dataclass(frozen=True)
class StoredPosterior:
    """A posterior in the fit cache, read from its netCDF file when first used.

    A run that finds a fit in the cache needs only its draws (kept beside the posterior as
    plain arrays) to forecast; reading and decoding the netCDF file is left until something
    asks for the posterior itself (a notebook plot, prior-vs-posterior checks).
    """

    path: Path
    chains: int

    def load(self) -> xr.DataTree:
        with xr.open_datatree(self.path, engine="h5netcdf") as tree:
            return tree.load()


def lazy_posterior[C](cls: C) -> C:
    """Class decorator for frozen dataclasses with a ``posterior`` field: the field may be given
    as a :class:`StoredPosterior`, which is replaced by the loaded tree on first access."""

    def get(self) -> xr.DataTree:
        value = self.__dict__["posterior"]
        if isinstance(value, StoredPosterior):
            value = value.load()
            self.__dict__["posterior"] = value
        return value

    def set_(self, value) -> None:  # called by the dataclass __init__ only (frozen)
        self.__dict__["posterior"] = value

    cls.posterior = property(get, set_, doc="The posterior (read from the cache on first use).")
    return cls


def chains_of(posterior: xr.DataTree | StoredPosterior) -> int:
    """Number of chains of a posterior, without reading a stored one."""
    if isinstance(posterior, StoredPosterior):
        return posterior.chains
    return int(posterior.posterior.sizes["chain"])


def with_changes[T](fit: T, **changes) -> T:
    """A copy of a (frozen) fit with some fields changed; unlike ``dataclasses.replace`` it
    does not read a posterior that is still in the cache."""
    copied = copy.copy(fit)
    for name, value in changes.items():
        object.__setattr__(copied, name, value)
    return copied


@lazy_posterior
@dataclass(frozen=True)
class Fit:
    """A fitted model of one indicator.

    Attributes
    ----------
    series : SeriesData
        The observations the fit saw.
    spec : ModelSpec
    posterior : xarray.DataTree
        The full ArviZ result (posterior, sample_stats, observed data); for a fit from the
        cache, read from its file on first access (:class:`StoredPosterior`).
    draws : dict of ndarray
        ``alpha`` and ``beta`` with shape (sample, geo), ``sigma_obs`` with shape (sample,);
        chains are stacked; ``centre`` (geo,) is the year each geo's ``alpha`` refers to.
        This is what :mod:`tnmodel.forecast` uses.
    diagnostics : Diagnostics
    stored_at : Path, optional
        The netCDF file holding ``posterior`` when the fit came from (or went to) the fit
        cache, so results can copy it instead of writing it again.
    """

    series: SeriesData
    spec: ModelSpec
    posterior: xr.DataTree
    draws: dict[str, np.ndarray] = field(repr=False)
    diagnostics: Diagnostics
    stored_at: Path | None = None

    @property
    def indicator(self) -> str:
        return self.series.indicator

    @property
    def chains(self) -> int:
        """Number of chains (draws are stacked chain after chain)."""
        return chains_of(self.__dict__["posterior"])

    @property
    def geos(self) -> tuple[str, ...]:
        return self.series.geos


def _diagnose(posterior: xr.DataTree, seconds: float, gate_vars: tuple[str, ...]) -> Diagnostics:
    names = [n for n in gate_vars if n in posterior.posterior]
    rhat = az.rhat(posterior, var_names=names)
    ess = az.ess(posterior, var_names=names, method="bulk")

    max_rhat, worst_rhat = _extreme(rhat, largest=True)
    min_ess, worst_ess = _extreme(ess, largest=False)
    divergences = int(posterior.sample_stats["diverging"].sum())
    return Diagnostics(max_rhat, min_ess, divergences, worst_rhat, worst_ess, seconds)


def _extreme(tree: xr.DataTree, largest: bool) -> tuple[float, str]:
    """The largest (or smallest) value over all variables, labelled like ``beta[da_nang]``."""
    dataset = tree.to_dataset()
    if not dataset.data_vars and "posterior" in tree.children:
        dataset = tree["posterior"].to_dataset()
    candidates = []
    for name, values in dataset.data_vars.items():
        flat = np.asarray(values.values, dtype=float).ravel()
        if not flat.size or np.all(np.isnan(flat)):
            continue
        i = int(np.nanargmax(flat) if largest else np.nanargmin(flat))
        label = str(name)
        if values.dims:
            index = np.unravel_index(i, values.shape)
            pairs = zip(values.dims, index, strict=True)
            where = ",".join(str(values[d].values[k]) for d, k in pairs)
            label = f"{name}[{where}]"
        candidates.append((float(flat[i]), label))
    return max(candidates) if largest else min(candidates)


#: Chains of the retry after an R-hat or ESS failure: a slowly mixing parameter is judged
#: better from 4 chains (and 4 chains give it twice the draws).
RETRY_CHAINS = 4


def mixing_failed(diagnostics: Diagnostics, gates: GateThresholds) -> bool:
    """Whether the R-hat or the bulk-ESS gate failed (as opposed to divergences only)."""
    return not (diagnostics.max_rhat <= gates.max_rhat
                and diagnostics.min_ess_bulk >= gates.min_ess_bulk)


def retry_sampler(sampler: SamplerSettings, diagnostics: Diagnostics,
                  gates: GateThresholds) -> SamplerSettings:
    """Settings of the one retry after a failed gate: twice the tuning and a
    ``target_accept`` halfway to 1 (longer adaptation, smaller steps), and at least
    :data:`RETRY_CHAINS` chains if R-hat or ESS failed."""
    update: dict[str, Any] = {
        "tune": 2 * sampler.tune,
        "target_accept": round(1.0 - (1.0 - sampler.target_accept) / 2, 6)}
    if mixing_failed(diagnostics, gates):
        update["chains"] = max(sampler.chains, RETRY_CHAINS)
    return sampler.model_copy(update=update)


def retried(diagnostics: Diagnostics, first: SamplerSettings,
            retry: SamplerSettings) -> Diagnostics:
    """``diagnostics`` of a retry, saying what it changed."""
    return dataclasses.replace(
        diagnostics, retried_with_tune=retry.tune,
        retried_with_target_accept=retry.target_accept,
        retried_with_chains=retry.chains if retry.chains != first.chains else None)


def check_gates(fit_label: str, diagnostics: Diagnostics, gates: GateThresholds,
                sampler: SamplerSettings | None = None) -> None:
    """Raise :class:`ConvergenceError` if any gate fails, saying which and what to try."""
    failures = []
    if not diagnostics.max_rhat <= gates.max_rhat:
        failures.append(f"R-hat {diagnostics.max_rhat:.3f} > {gates.max_rhat} "
                        f"(worst: {diagnostics.worst_rhat})")
    if not diagnostics.min_ess_bulk >= gates.min_ess_bulk:
        failures.append(f"bulk ESS {diagnostics.min_ess_bulk:.0f} < {gates.min_ess_bulk:.0f} "
                        f"(worst: {diagnostics.worst_ess})")
    if diagnostics.divergences > gates.max_divergences:
        failures.append(f"{diagnostics.divergences} divergent transitions")
    if failures:
        sampler = sampler or SamplerSettings()
        chains = (f"more chains (sampler.chains, now {sampler.chains}: R-hat and ESS of a "
                  f"slowly mixing parameter are judged better from {RETRY_CHAINS}), "
                  if mixing_failed(diagnostics, gates) and sampler.chains < RETRY_CHAINS
                  else "")
        raise ConvergenceError(
            f"the fit of {fit_label} did not converge: " + "; ".join(failures) + ". "
            f"Try: {chains}more tuning and draws (sampler.tune / sampler.draws, now "
            f"{sampler.tune} / {sampler.draws}), a higher sampler.target_accept (now "
            f"{sampler.target_accept}), "
            "a shorter data window (models.<indicator>.since), or leaving out a geo whose "
            "series conflicts with the rest (models.<indicator>.exclude_geos)."
        )


def fit_series(
    series: SeriesData,
    spec: ModelSpec,
    sampler: SamplerSettings,
    seed: int,
    gates: GateThresholds | None = None,
    progressbar: bool = False,
) -> Fit:
    """Fit ``spec.family`` to ``series`` with nutpie and check the convergence gates.

    Parameters
    ----------
    series : SeriesData
        From :func:`select_series`.
    spec : ModelSpec
    sampler : SamplerSettings
    seed : int
        The same seed gives the same draws.
    gates : GateThresholds, optional
        Defaults to R-hat <= 1.01, bulk ESS >= 400, no divergences.
    progressbar : bool
        Show nutpie's progress.

    Raises
    ------
    ConvergenceError
        If a gate fails twice (the second try doubles the tuning, and runs at least 4 chains
        if R-hat or ESS failed: :func:`retry_sampler`); the message names the series and
        what to try.
    """
    gates = gates or GateThresholds()
    family = FAMILIES[spec.family]
    label = f"'{series.indicator}' (series: {', '.join(series.geos)})"
    posterior, diagnostics = _sample(family, series, spec, sampler, seed, progressbar)
    try:
        check_gates(label, diagnostics, gates, sampler)
    except ConvergenceError:
        # The first things to try are longer adaptation and smaller steps, and more chains
        # for slow mixing: do it once, deterministically, and say so in the diagnostics. A
        # second failure is reported. The compiled model is reused.
        retry = retry_sampler(sampler, diagnostics, gates)
        posterior, diagnostics = _sample(family, series, spec, retry, seed, progressbar)
        diagnostics = retried(diagnostics, sampler, retry)
        check_gates(label, diagnostics, gates, retry)
    fit = Fit(series, spec, posterior, family.extract_draws(posterior, series), diagnostics)
    from tnmodel.models.influence import prior_influence_summary

    diagnostics = dataclasses.replace(diagnostics, notes=tuple(identifiability_notes(series)),
                                      prior_pace=prior_influence_summary(fit))
    return dataclasses.replace(fit, diagnostics=diagnostics)


def identifiability_notes(series: SeriesData) -> list[str]:
    """What the data cannot tell, in words: geos whose pace is the pool's (pooled fallback).

    A geo observed in one year only has no trend of its own: its pace is drawn from the pool
    of the other geos (or, alone, from the prior). Said here so that the output never
    presents such a pace as measured. A geo whose values never change is flagged too.
    """
    from tnmodel.models.common import flat_geos, geos_with_few_years

    notes = []
    few, flat = geos_with_few_years(series), flat_geos(series)
    alone = len(series.geos) == 1
    source = "the prior (no other geo to pool with; consider priors: {from: ...})" if alone \
        else "the pool of the other geos"
    for geo in few:
        notes.append(f"{series.indicator}/{geo}: observed in one year only; its pace is not "
                     f"identified by its own data and comes from {source}")
    for geo in flat:
        notes.append(f"{series.indicator}/{geo}: its values do not change across years; "
                     "its pace is estimated near 0 from them (check they are not one figure "
                     "republished)")
    if len(few) == len(series.geos) and not alone:
        notes.append(f"{series.indicator}: no geo has two observed years; every pace is the "
                     "prior's")
    return notes


def _sample(family: Family, series: SeriesData, spec: ModelSpec, sampler: SamplerSettings,
            seed: int, progressbar: bool) -> tuple[xr.DataTree, Diagnostics]:
    posterior, seconds = sample_family(
        family, series, spec.priors, draws=sampler.draws, tune=sampler.tune,
        chains=sampler.chains, target_accept=sampler.target_accept, seed=seed,
        progressbar=progressbar)
    return posterior, _diagnose(posterior, seconds, family.gate_vars)


def mcse_of_mean(per_draw: np.ndarray, chains: int) -> float:
    """Monte-Carlo standard error of the mean of a per-draw quantity.

    ``per_draw`` has the fit's samples stacked chain after chain (as in :class:`Fit` draws);
    the error accounts for autocorrelation within chains (ArviZ's MCSE of the mean, computed
    by :func:`tnmodel.models.mcse.mcse_mean`). For a probability, pass the 0/1 indicator of
    the event.
    """
    values = np.asarray(per_draw, dtype=float).reshape(chains, -1)
    if np.all(values == values.flat[0]):
        return 0.0
    return mcse_mean(values)
