"""Rank forecasts from a fitted latent-standing model (pure numpy, no PyMC here).

For every posterior draw of the hyper-parameters, :func:`draw_standings` draws the standing of
every base province in the target year jointly, by exact Gaussian conditioning on all observed
ranks (the model is linear-Gaussian given the hyper-parameters; see
:mod:`tnmodel.models.rank`). :func:`forecast_ranks` maps those standings onto the target's
basis (the pre-merger provinces, or the post-merger units as means of their parts), adds the
measurement noise of a published ranking, and ranks the units within each draw. The result
gives P(rank <= k), rank intervals, the rank distribution and the top-k set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tnmodel.forecast import stream_seed
from tnmodel.models.rank import RankBasis, RankFit, independent_blocks, standing_covariance

__all__ = [
    "RankForecast",
    "draw_standings",
    "forecast_ranks",
    "rank_distribution_frame",
    "ranks_within",
]


def draw_standings(fit: RankFit, series: str, year: int, rng: np.random.Generator) -> np.ndarray:
    """Standings of every base geo in ``year``, one row per posterior draw.

    Parameters
    ----------
    fit : RankFit
    series : str
        An indicator of the fitted panel.
    year : int
        Any year from the panel's first; years after the last observation are forecasts
        (the AR(1) runs forward, reverting toward each province's mean).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray
        (sample, geo) in ``fit.panel.geos`` order.

    Raises
    ------
    ValueError
        If ``series`` is not in the panel or ``year`` precedes the data.
    """
    panel = fit.panel
    if series not in panel.series:
        raise ValueError(f"'{series}' is not a series of the rank model (it has: "
                         f"{', '.join(panel.series)})")
    if year < panel.years[0]:
        raise ValueError(f"year {year} is before the rank data start ({panel.years[0]})")
    k = panel.series.index(series)
    d = fit.draws
    phi, s_in, t_geo, t_ser = (d[n][:, None] for n in ("phi", "sigma_innov", "tau_geo",
                                                        "tau_series"))
    sig_obs = d["sigma_obs"]
    n_draws, n_geos = len(d["phi"]), len(panel.geos)
    prior_var = standing_covariance(phi, s_in, t_geo, t_ser, 1.0, 0.0)  # (sample, 1)
    # Geos without any observation keep their prior; the rest are conditioned block by block
    # (observations of different blocks are independent given the hyper-parameters).
    out = np.sqrt(prior_var) * rng.standard_normal((n_draws, n_geos))
    for block in independent_blocks(panel):
        obs = block[block >= 0]
        geos = np.flatnonzero(panel.obs_weights[obs].any(axis=0))
        weights = panel.obs_weights[np.ix_(obs, geos)]  # (obs, geo)
        same = (panel.obs_series[obs, None] == panel.obs_series[None, obs]).astype(float)
        lag = np.abs(panel.obs_year[obs, None] - panel.obs_year[None, obs]).astype(float)
        p3, s3, g3, t3 = (a[:, :, None] for a in (phi, s_in, t_geo, t_ser))
        k_zz = (weights @ weights.T) * standing_covariance(p3, s3, g3, t3, same, lag)
        k_zz = k_zz + np.eye(len(obs)) * (sig_obs[:, panel.obs_series[obs]] ** 2)[:, None, :]
        kernel = standing_covariance(phi, s_in, t_geo, t_ser,
                                     (panel.obs_series[obs] == k).astype(float),
                                     np.abs((year - panel.years[0]) - panel.obs_year[obs]))
        k_xz = weights.T[None, :, :] * kernel[:, None, :]  # (sample, geo, obs)
        chol = np.linalg.cholesky(k_zz)
        a = np.linalg.solve(chol, np.swapaxes(k_xz, 1, 2))  # L^-1 K_zx: (sample, obs, geo)
        b = np.linalg.solve(chol, np.broadcast_to(panel.z[obs, None], (n_draws, len(obs), 1)))
        mean = np.einsum("sog,so->sg", a, b[..., 0])
        cov = prior_var[:, :, None] * np.eye(len(geos)) - np.einsum("sog,soh->sgh", a, a)
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2)) + 1e-10 * np.eye(len(geos))
        white = out[:, geos] / np.sqrt(prior_var)  # reuse the draw's normals
        out[:, geos] = mean + np.einsum("sgh,sh->sg", np.linalg.cholesky(cov), white)
    return out


def ranks_within(values: np.ndarray) -> np.ndarray:
    """Rank 1 = highest value, per row (ties have probability zero with continuous draws)."""
    order = np.argsort(-values, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(values.shape[0])[:, None], order] = np.arange(1, values.shape[1] + 1)
    return ranks


@dataclass(frozen=True)
class RankForecast:
    """Ranks of every unit of a basis in one year, one row per posterior draw.

    Attributes
    ----------
    indicator : str
    year : int
    basis : RankBasis
    ranks : ndarray of int
        (sample, unit), each row a permutation of 1..N.
    chains : int
        For Monte-Carlo standard errors (draws are stacked chain after chain).
    """

    indicator: str
    year: int
    basis: RankBasis
    ranks: np.ndarray = field(repr=False)
    chains: int

    def of(self, unit: str) -> np.ndarray:
        """All draws of one unit's rank."""
        if unit not in self.basis.units:
            raise KeyError(f"'{unit}' is not a unit of the basis of {self.basis.among}")
        return self.ranks[:, self.basis.units.index(unit)]

    def distribution(self, unit: str) -> np.ndarray:
        """P(rank = r) for r = 1..N."""
        return np.bincount(self.of(unit) - 1, minlength=self.basis.among) / self.ranks.shape[0]

    def p_top(self, unit: str, k: int) -> float:
        """P(rank <= k)."""
        return float((self.of(unit) <= k).mean())

    def interval(self, unit: str, level: float = 0.8) -> tuple[int, int]:
        """Central rank interval (inverted-CDF quantiles, so the ends are ranks)."""
        tail = (1 - level) / 2
        lo, hi = np.quantile(self.of(unit), [tail, 1 - tail], method="inverted_cdf")
        return int(lo), int(hi)

    def top_k(self, k: int) -> tuple[str, ...]:
        """The ``k`` units most likely to be in the top ``k`` (ties: better mean rank first)."""
        p = (self.ranks <= k).mean(axis=0)
        order = np.lexsort((self.ranks.mean(axis=0), -p))
        return tuple(self.basis.units[i] for i in order[:k])


def forecast_ranks(fit: RankFit, indicator: str, year: int, basis: RankBasis,
                   seed: int) -> RankForecast:
    """Rank every unit of ``basis`` on ``indicator`` in ``year``, jointly per draw.

    The published value of a unit is its standing (the mean of its parts' standings for a
    merged unit, weighted as ``basis.weights`` says) plus the series' measurement noise; units
    are ranked within each draw. The same ``seed`` gives the same ranks.

    Raises
    ------
    ValueError
        If the basis is over other geos than the fit's panel, or as :func:`draw_standings`.
    """
    if basis.base != fit.panel.geos:
        raise ValueError(f"the basis of {basis.among} is defined over other geos than the rank "
                         "model's panel (were they built from the same geos.yaml?)")
    rng = stream_seed(seed, f"ranks:{indicator}:{year}:{basis.among}")
    standings = draw_standings(fit, indicator, year, rng)
    k = fit.panel.series.index(indicator)
    sigma = fit.draws["sigma_obs"][:, k]
    published = standings @ basis.weights.T
    published = published + sigma[:, None] * rng.standard_normal(published.shape)
    return RankForecast(indicator, year, basis, ranks_within(published), fit.chains)


def rank_distribution_frame(forecast: RankForecast, target_id: str, unit: str) -> pd.DataFrame:
    """Tidy P(rank = r) of one unit: ``target_id, unit, among, rank, probability``."""
    probs = forecast.distribution(unit)
    return pd.DataFrame({
        "target_id": target_id,
        "unit": unit,
        "among": forecast.basis.among,
        "rank": np.arange(1, forecast.basis.among + 1),
        "probability": probs,
    })
