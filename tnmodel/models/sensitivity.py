"""How much a result is carried by the prior: power-scaling (Kallioinen et al. 2024).

Raising a fit's prior to a power ``alpha`` gives the posterior ``p(theta)**alpha * p(y |
theta)``: ``alpha = 0.5`` is a prior half as strong (its log density halved: a normal prior's
sd times 1.41), ``alpha = 2`` one twice as strong (sd over 1.41). That posterior is reached
without a refit by weighting the posterior draws by ``p(theta)**(alpha - 1)``,
Pareto-smoothed (PSIS, as ``priorsense`` and ArviZ's ``psense`` do). A target's probability
under either prior is the weighted share of draws that meet it; if it moves, the result rests
on the prior. The weights' Pareto ``k`` says whether the reweighting can be trusted (``k``
<= 0.7).

"The prior" is the fit's hyper-parameters: the free random variables whose distributions
have constant parameters and no per-geo or per-year dimension (the pooled pace and level,
their spreads, asymptote, floor, error scales, a break's offset, an option's scales; in the
rank model, every free variable: persistence, innovation sd, the province means' spreads and
each rank series' measurement error, the standings being integrated out). Each
geo's level and pace given the pooled ones, and standardised innovations, are the model's
structure, not a choice of prior, and are not scaled (as ``brms`` leaves its group-level
effects out of the prior that ``priorsense`` scales).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tnmodel.memo import DrawsMemo
from tnmodel.models.family import stack_draws
from tnmodel.models.lazy import lazy

pm = lazy("pymc")

#: Prior powers reported: half as strong, twice as strong.
WEAKER, STRONGER = 0.5, 2.0
POWERS = (WEAKER, STRONGER)
#: Above this Pareto k the reweighted probability is not reported (Vehtari et al. 2024).
MAX_PARETO_K = 0.7
#: Dimensions a hyper-parameter may have (one value per source type, per break; in the rank
#: model, one measurement error per rank series).
HYPER_DIMS = frozenset({"source_type", "break", "series"})


@dataclass(frozen=True)
class PriorPower:
    """Posterior draws' weights under the fit's prior raised to each power in ``POWERS``.

    Attributes
    ----------
    parameters : tuple of str
        The hyper-parameters whose prior is scaled.
    weights : dict
        Power -> normalised PSIS weights, one per posterior draw (chains stacked, as in the
        fit's draws and forecast paths).
    pareto_k : dict
        Power -> the weights' Pareto k.
    """

    parameters: tuple[str, ...]
    weights: dict[float, np.ndarray]
    pareto_k: dict[float, float]

    def reliable(self, power: float) -> bool:
        return bool(self.pareto_k[power] <= MAX_PARETO_K)

    def probability(self, met: np.ndarray, power: float) -> tuple[float, float]:
        """P(event) under the prior raised to ``power`` and its Monte-Carlo standard error;
        NaN (both) if the weights are unreliable.

        ``met`` is the event's 0/1 indicator per posterior draw. The error is the
        self-normalised importance sampler's, ``sqrt(sum(w**2 * (met - P)**2))``: a few heavy
        weights on draws near the threshold make it large. It takes the draws as independent,
        so for autocorrelated chains it is a little optimistic.
        """
        met = np.asarray(met, dtype=float)
        weights = self.weights[power]
        if met.shape != weights.shape:
            raise ValueError(f"{met.shape[0] if met.ndim else 0} values for "
                             f"{weights.size} posterior draws")
        if not self.reliable(power):
            return float("nan"), float("nan")
        p = float(weights @ met)
        return p, float(np.sqrt(np.sum(weights**2 * (met - p) ** 2)))


def hyper_parameters(model) -> list:
    """The model's free random variables that make up "the prior" (see module docstring)."""
    from pytensor.graph.traversal import ancestors

    rvs = set(model.basic_RVs)
    chosen = []
    for rv in model.free_RVs:
        dims = set(model.named_vars_to_dims.get(rv.name, ()) or ())
        parameters = rv.owner.inputs[2:]  # after the random generator and the size
        constant = not (set(ancestors(parameters)) & rvs)
        if constant and dims <= HYPER_DIMS:
            chosen.append(rv)
    return chosen


def rebuilt_model(fit):
    """The PyMC model of a fit: a series family's (:class:`~tnmodel.models.Fit`) or the rank
    model's (:class:`~tnmodel.models.rank.RankFit`, which has a panel, not a series)."""
    from tnmodel.models import FAMILIES

    if hasattr(fit, "panel"):
        from tnmodel.models.rank import build_rank_model

        return build_rank_model(fit.panel, fit.priors)
    return FAMILIES[fit.spec.family].build_model(fit.series, fit.spec.priors)


def log_prior(fit) -> tuple[np.ndarray, tuple[str, ...]]:
    """The log density of the fit's hyper-parameters at each posterior draw, and their names.

    The model is rebuilt from the fit's family, series and priors, or for a rank model's fit
    from its panel and priors (nothing is sampled); the densities are those of the
    constrained parameters (no Jacobian: the power scales the prior as the user wrote it).
    """
    import pytensor

    model = rebuilt_model(fit)
    posterior = fit.posterior.posterior
    chosen = [rv for rv in hyper_parameters(model) if rv.name in posterior]
    if not chosen:
        return np.zeros(0), ()
    terms = []
    for rv in chosen:
        values = stack_draws(posterior[rv.name]).astype(rv.dtype)
        density = pm.logp(rv, values)
        terms.append(density.sum(axis=tuple(range(1, values.ndim))) if values.ndim > 1
                     else density)
    total = pytensor.function([], sum(terms[1:], terms[0]), mode="FAST_COMPILE")()
    return np.asarray(total, dtype=float), tuple(rv.name for rv in chosen)


def power_weights(log_density: np.ndarray, power: float) -> tuple[np.ndarray, float]:
    """Normalised PSIS weights of posterior draws for the prior raised to ``power``, and their
    Pareto k. ``log_density`` is the prior's log density at each draw. The draws are taken
    as independent (relative efficiency 1), which makes the smoothed tail a little shorter than
    ArviZ's ``psense`` makes it for autocorrelated chains."""
    from arviz_stats.base import array_stats

    raw = (power - 1.0) * np.asarray(log_density, dtype=float)
    if np.ptp(raw) == 0.0:  # the prior is flat over the draws: nothing to reweight
        return np.full(raw.size, 1.0 / raw.size), 0.0
    try:  # ArviZ's psislw takes a log-likelihood, as for LOO: it smooths minus its input
        smoothed, k = array_stats.psislw(-(raw - raw.max()))
    except ValueError:  # a tail of ties (e.g. draws repeated): no Pareto fit, not reliable
        smoothed, k = raw - raw.max(), float("nan")
    weights = np.exp(smoothed - smoothed.max())
    return weights / weights.sum(), float(k)


def prior_power(fit) -> PriorPower | None:
    """:class:`PriorPower` of a fit (``None`` if its model has no hyper-parameters)."""
    density, names = log_prior(fit)
    if not names:
        return None
    weights, pareto_k = {}, {}
    for power in POWERS:
        weights[power], pareto_k[power] = power_weights(density, power)
    return PriorPower(names, weights, pareto_k)


#: Prior powers computed in this process, by fit cache key.
_REMEMBERED: DrawsMemo[PriorPower | None] = DrawsMemo(64)


def remembered_prior_power(fit, key: str | None) -> PriorPower | None:
    """:func:`prior_power`, remembered in this process by the fit's cache ``key`` (scenarios
    that share a fit reweight it once), for the very draws it was computed from."""
    if key is None:
        return prior_power(fit)
    return _REMEMBERED.get(key, fit.draws, lambda: prior_power(fit))


def prior_power_summary(power: PriorPower | None) -> dict | None:
    """What a run's manifest records of a fit's :class:`PriorPower`."""
    if power is None:
        return None
    return {"parameters": list(power.parameters),
            "pareto_k": {str(p): round(k, 3) for p, k in power.pareto_k.items()},
            "reliable": {str(p): power.reliable(p) for p in POWERS}}
