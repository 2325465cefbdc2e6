"""How much of a result is carried by the prior: prior vs posterior of each geo's pace."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: A posterior sd above this share of the prior sd means the pace is mostly the prior's.
CARRIED_BY_PRIOR = 0.7


def overlap(a: np.ndarray, b: np.ndarray, bins: int = 60) -> float:
    """Overlap coefficient of two samples (area shared by their histograms, 0-1)."""
    lo, hi = np.quantile(np.concatenate([a, b]), [0.001, 0.999])
    if not hi > lo:
        return 1.0
    edges = np.linspace(lo, hi, bins + 1)
    pa, _ = np.histogram(np.clip(a, lo, hi), edges, density=True)
    pb, _ = np.histogram(np.clip(b, lo, hi), edges, density=True)
    return float(np.sum(np.minimum(pa, pb)) * (edges[1] - edges[0]))


def prior_influence(fit, n: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Per series geo: prior and posterior mean / sd of its pace, their ratio and overlap.

    ``sd_ratio`` near 1 (and ``overlap`` near 1) means the data said little about the pace:
    the result is carried by the prior (``carried_by_prior`` when ``sd_ratio`` >
    :data:`CARRIED_BY_PRIOR`). In a pooled fit a geo with little data of its own gets its
    pace from the other geos, which the prior ratio does not show: ``pool_sd_ratio`` is the
    posterior sd of the geo's pace over the sd of the fitted pool (the distribution of a new
    geo's pace, ``mu + tau * z``); near 1, the geo's pace is the pool's (``carried_by_pool``).
    Columns: geo, parameter, n_obs, n_years, prior_mean, prior_sd, post_mean, post_sd,
    sd_ratio, overlap, carried_by_prior, pool_sd_ratio, carried_by_pool.
    """
    from tnmodel.models import FAMILIES

    family = FAMILIES[fit.spec.family]
    rng = np.random.default_rng(seed)
    prior = family.prior_pace(fit.spec.priors, n, rng)
    posterior = fit.draws[family.pace_var]
    post = fit.posterior.posterior
    hyper = f"mu_{family.pace_var}", f"tau_{family.pace_var}"
    pool_sd = float("nan")
    if all(h in post for h in hyper):
        mu, tau = (np.asarray(post[h].values).ravel() for h in hyper)
        pool_sd = float((mu + tau * rng.standard_normal(mu.size)).std())
    rows = []
    for i, geo in enumerate(fit.series.geos):
        post = posterior[:, i]
        mine = fit.series.geo_index == i
        ratio = float(post.std() / prior.std())
        rows.append({
            "geo": geo, "parameter": family.pace_var, "n_obs": int(mine.sum()),
            "n_years": int(np.unique(fit.series.year[mine]).size),
            "prior_mean": float(prior.mean()), "prior_sd": float(prior.std()),
            "post_mean": float(post.mean()), "post_sd": float(post.std()),
            "sd_ratio": ratio, "overlap": overlap(prior, post),
            "carried_by_prior": ratio > CARRIED_BY_PRIOR,
            "pool_sd_ratio": float(post.std() / pool_sd),
            "carried_by_pool": bool(post.std() / pool_sd > CARRIED_BY_PRIOR),
        })
    return pd.DataFrame(rows)


def prior_influence_summary(fit) -> dict[str, dict]:
    """:func:`prior_influence` as a small dict per geo (for manifests and target notes)."""
    table = prior_influence(fit)
    return {row.geo: {"parameter": row.parameter, "sd_ratio": round(row.sd_ratio, 3),
                      "overlap": round(row.overlap, 3),
                      "carried_by_prior": bool(row.carried_by_prior),
                      "pool_sd_ratio": round(row.pool_sd_ratio, 3),
                      "carried_by_pool": bool(row.carried_by_pool)}
            for row in table.itertuples()}
