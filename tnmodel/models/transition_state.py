"""State-space transition model: the local model's process, observed with error (tenth round).

The process is :mod:`~tnmodel.models.transition_local`'s: each geo's logit level moves by the
transition model's level-dependent pace plus a persistent *excess pace*::

    eta[t + 1] = eta[t] + omega[g] * max(f, 1 - p[t] / A) + x[t + 1],   p = invlogit(eta)
    x[t + 1]   = phi * x[t] + sigma_u * e[t + 1]

but here ``eta`` is a *latent* level, and each value is ``y = eta[t] + delta' b + e`` with
the observation error ``e`` of its source type (plus part-year error). ``transition_local``
conditions each value on the previous *observed* value, so an observation error enters the
next level and the carried excess pace in full, and its likelihood only identifies
``sigma_u**2 + 2 e**2`` one step ahead. Here a Kalman filter weighs each value against the
path so far: a value off by its observation error moves the level and the pace only as far
as the data say such surprises last (docs/backtests.md, tenth round).

The likelihood is the filter's prediction-error decomposition over each geo's yearly grid,
from its first observed year (no latent path is sampled). The pace is nonlinear in the
level, so the filter is an extended Kalman filter: the pace is linearised at the filtered
level each year (exact when the pace is constant, ``f = 1``; the SBC in the test suite and
``benchmarks/sbc.py`` check what the approximation costs). The pace's corner at the floor is
rounded over :data:`FLOOR_SMOOTHING` so that the linearisation, and with it the likelihood,
changes smoothly with the level. Each geo starts from ``eta ~
Normal(level_mean, level_sd)`` and a stationary excess pace, and its first value gives no
likelihood term (as in ``transition_local``, whose first values start the chain). Gaps are
years the filter predicts through. Breaks, source types and part-year values are as in the
other transition families; bounds (proxies) are not taken (use ``transition``).

The forecast draws each geo's state (level, excess pace) at its last observed year from the
filter's Gaussian, per posterior draw, runs the nonlinear process forward with fresh
innovations, and adds the observation error of the geo's main source type each year. Years
before the last value are the pace run backwards from the drawn level.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from pydantic import BaseModel

from tnmodel.models.common import present_kinds
from tnmodel.models.family import stack_draws
from tnmodel.models.lazy import lazy
from tnmodel.models.series import SOURCE_TYPES, SeriesData, inv_logit_percent
from tnmodel.models.transition import main_source_type
from tnmodel.models.transition_local import (
    LocalFamily,
    LocalPacePriors,
    check_series,
    draw_local_parameters,
    local_parameters,
    paths_at,
    process_draws,
)

pm = lazy("pymc")
pt = lazy("pytensor.tensor")

FAMILY = "transition_state"
#: Width (in share left to the asymptote) over which the pace's corner at the floor is
#: rounded; the pace differs from the sharp one by at most ``0.69 * 0.02 * omega``.
FLOOR_SMOOTHING = 0.02
#: The yearly grid is padded to a multiple of this many years (one compiled structure for
#: neighbouring cut-offs).
GRID_STEP = 4


class TransitionStatePriors(LocalPacePriors):
    """Priors of the state-space transition model: exactly those of
    :class:`~tnmodel.models.transition_local.LocalPacePriors` (pace, asymptote, floor,
    persistence ``phi``, innovation sd ``sigma_u``, observation errors, breaks). ``level_mean``
    and ``level_sd`` are the prior of each geo's level in its first year."""


def grid_shape(series: SeriesData) -> tuple[int, int]:
    """(years, slots): the longest geo's span of years from its first value, padded to
    :data:`GRID_STEP`, and the most values any geo has in one year."""
    first = first_years(series)
    span = int((series.year - first[series.geo_index]).max(initial=0)) + 1
    _, counts = np.unique(np.stack([series.geo_index, series.year]), axis=1, return_counts=True)
    return GRID_STEP * math.ceil(span / GRID_STEP), int(counts.max(initial=1))


def first_years(series: SeriesData) -> np.ndarray:
    """Each geo's first observed year."""
    return np.array([series.year[series.geo_index == g].min()
                     for g in range(len(series.geos))], dtype=int)


def grid_cells(series: SeriesData) -> tuple[np.ndarray, np.ndarray]:
    """Each observation's (year on its geo's grid, slot within its geo and year), in series
    order within a year."""
    t = series.year - first_years(series)[series.geo_index]
    slot = np.zeros(series.n_obs, dtype=np.int64)
    seen: dict[tuple[int, int], int] = {}
    for i in range(series.n_obs):
        key = (int(series.geo_index[i]), int(t[i]))
        slot[i] = seen.get(key, 0)
        seen[key] = slot[i] + 1
    return t.astype(np.int64), slot


def _arrays(series: SeriesData, priors: TransitionStatePriors) -> dict[str, np.ndarray]:
    """Dense (geo, year on the grid, slot) arrays; ``has`` marks a value, ``scored`` a value
    that gives a likelihood term (all but each geo's first); ``level_prior`` (mean, sd) is
    kept with the fit so the forecast filters with the prior the fit used."""
    check_series(series, FAMILY)
    years, slots = grid_shape(series)
    shape = (len(series.geos), years, slots)
    t, slot = grid_cells(series)
    cell = (series.geo_index, t, slot)

    def dense(values, dtype=float) -> np.ndarray:
        out = np.zeros(shape, dtype=dtype)
        out[cell] = values
        return out

    has = dense(1.0)
    scored = has.copy()
    scored[:, 0, 0] = 0.0  # each geo's first value (its first year holds slot 0)
    arrays = {"y": dense(series.y), "has": has, "scored": scored,
              "part": dense(series.part_year), "src": dense(series.source_types(), np.int64)}
    breaks = series.break_matrix()
    for b in range(breaks.shape[1]):
        arrays[f"brk{b}"] = dense(breaks[:, b])
    arrays["level_prior"] = np.array([priors.level_mean, priors.level_sd])
    return arrays


def pace_and_slope(level, omega, asymptote, floor, invlogit, softplus):
    """The pace at ``level`` and its derivative in the level.

    The transition pace ``omega * max(f, 1 - p / A)`` with the corner rounded over
    :data:`FLOOR_SMOOTHING` (a softplus): the filter's linearisation uses the slope, and
    with the sharp corner the slope, hence the filter's variances and the likelihood, would
    jump where the floor takes over, which NUTS cannot sample."""
    p = invlogit(level)
    excess_share = (1.0 - p / asymptote - floor) / FLOOR_SMOOTHING
    pace = omega * (floor + FLOOR_SMOOTHING * softplus(excess_share))
    slope = -omega * p * (1.0 - p) / asymptote * invlogit(excess_share)
    return pace, slope


def pace_np(level, omega, asymptote, floor):
    """:func:`pace_and_slope`'s pace in numpy (forecasts and simulations)."""
    return pace_and_slope(level, omega, asymptote, floor, _invlogit_np, _softplus_np)[0]


def kalman_filter(y, has, scored, error_var, omega, asymptote, floor, phi, sigma_u,
                  level_mean, level_sd, grid: tuple[int, int], invlogit, softplus, log,
                  last=None):
    """Extended Kalman filter of each geo's (level, excess pace) over its yearly grid.

    Backend-agnostic: numpy (cells on the first three axes, posterior draws after) or PyTensor.
    ``y``, ``has``, ``scored``, ``error_var``: (geo, year, slot, ...) with ``grid`` = (years,
    slots) (:func:`grid_shape`); parameters broadcast against one (geo, ...) slice.
    ``last``: optional (geo,) year on the grid at which to keep each geo's filtered state
    (numpy only).

    Returns
    -------
    loglik, state
        The summed log-likelihood of the scored values (prediction-error decomposition), and,
        with ``last``, ``(m_level, m_excess, p11, p12, p22)`` at those years (else None).
    """
    n_years, n_slots = grid
    s2 = sigma_u**2
    zero = 0.0 * omega
    m1, m2 = level_mean + zero, zero
    p11, p12, p22 = level_sd**2 + zero, zero, s2 / (1.0 - phi**2) + zero
    loglik, state = 0.0, None
    for t in range(n_years):
        if t > 0:  # predict one year, the pace linearised at the filtered level
            pace, slope = pace_and_slope(m1, omega, asymptote, floor, invlogit, softplus)
            a = 1.0 + slope
            m1, m2 = m1 + pace + phi * m2, phi * m2
            p11, p12, p22 = (a * a * p11 + 2.0 * a * phi * p12 + phi * phi * p22 + s2,
                             a * phi * p12 + phi * phi * p22 + s2,
                             phi * phi * p22 + s2)
        for k in range(n_slots):  # update with each value of the year (none: no change)
            on = has[:, t, k]
            total = p11 + error_var[:, t, k]
            surprise = y[:, t, k] - m1
            gain1, gain2 = on * p11 / total, on * p12 / total
            loglik = loglik + (scored[:, t, k] * -0.5
                               * (log(2.0 * math.pi * total) + surprise**2 / total)).sum(axis=0)
            m1, m2 = m1 + gain1 * surprise, m2 + gain2 * surprise
            p11, p12, p22 = p11 - gain1 * p11, p12 - gain1 * p12, p22 - gain2 * p12
        if last is not None:
            here = (last == t).reshape(-1, *([1] * (np.ndim(m1) - 1)))
            kept = (m1, m2, p11, p12, p22)
            state = kept if state is None else tuple(
                np.where(here, new, old) for new, old in zip(kept, state, strict=True))
    return loglik, state


def _invlogit_np(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softplus_np(x):
    return np.logaddexp(0.0, x)


class TransitionState(LocalFamily):
    """The state-space transition family (see module docstring)."""

    name = FAMILY
    priors_class = TransitionStatePriors
    gate_vars = ("mu_omega", "tau_omega", "asymptote", "floor", "phi", "sigma_u",
                 "sigma_src", "sigma_part", "delta", "omega")

    def data_arrays(self, series: SeriesData, priors: BaseModel) -> dict[str, np.ndarray]:
        return _arrays(series, priors)

    def structure_key(self, series: SeriesData, priors: BaseModel) -> tuple:
        check_series(series, FAMILY)
        return (self.name, len(series.geos), grid_shape(series), present_kinds(series),
                series.break_matrix().shape[1], priors.model_dump_json())

    def build_model(self, series: SeriesData, priors: TransitionStatePriors) -> pm.Model:
        n_breaks = series.break_matrix().shape[1]
        coords = {"geo": list(series.geos), "source_type": list(SOURCE_TYPES),
                  "break": list(range(n_breaks))}
        with pm.Model(coords=coords) as model:
            data = {name: pm.Data(name, values) for name, values in _arrays(series, priors).items()}
            params = local_parameters(series, priors, data)
            error_var = (params["sigma_src"][data["src"]] ** 2
                         + data["part"] * params["sigma_part"] ** 2)
            loglik, _ = kalman_filter(
                data["y"] - params["offset"], data["has"], data["scored"], error_var,
                params["omega"], params["asymptote"], params["floor"], params["phi"],
                params["sigma_u"], data["level_prior"][0], data["level_prior"][1],
                grid_shape(series), pm.math.invlogit, pt.softplus, pt.log)
            pm.Potential("y_obs", loglik.sum())
        return model

    def extract_draws(self, posterior: xr.DataTree, series: SeriesData) -> dict[str, np.ndarray]:
        post = posterior.posterior
        draws = {name: stack_draws(post[name]) for name in
                 ("omega", "asymptote", "floor", "phi", "sigma_u", "sigma_src", "sigma_part")}
        level_mean, level_sd = (float(v) for v in
                                np.asarray(posterior["constant_data"]["level_prior"].values))
        arrays = _arrays(series, TransitionStatePriors(level_mean=level_mean, level_sd=level_sd))
        offset = 0.0
        if "delta" in post:
            delta = stack_draws(post["delta"])  # (sample, break)
            offset = sum(arrays[f"brk{b}"][..., None] * delta[:, b]
                         for b in range(delta.shape[1]))
        src = arrays["src"]
        error_var = draws["sigma_src"].T[src] ** 2 + (
            arrays["part"][..., None] * draws["sigma_part"] ** 2)  # (geo, year, slot, sample)
        t, _ = grid_cells(series)
        last = np.array([t[series.geo_index == g].max() for g in range(len(series.geos))])
        expand = (..., None)
        _, state = kalman_filter(
            arrays["y"][expand] - offset, arrays["has"][expand], arrays["scored"][expand],
            error_var, draws["omega"].T, draws["asymptote"], draws["floor"], draws["phi"],
            draws["sigma_u"], level_mean, level_sd, grid_shape(series), _invlogit_np,
            _softplus_np, np.log, last=last)
        draws["state"] = np.stack(state, axis=-1).transpose(1, 0, 2)  # (sample, geo, 5)
        draws["last_year"] = (first_years(series) + last).astype(float)
        draws["main_type"] = main_source_type(series)
        return draws

    def forecast(self, draws: dict[str, np.ndarray], series: SeriesData, years: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The process run forward from each geo's filtered last state (module docstring)."""
        years = np.asarray(years, dtype=int)
        omega, A, f, phi, sigma_u, last_year, ahead = process_draws(draws, years)
        level, excess = draw_states(draws["state"], rng)
        start = level
        forward = [level]
        for _ in range(ahead):
            excess = phi * excess + sigma_u * rng.standard_normal(level.shape)
            level = level + pace_np(level, omega, A, f) + excess
            forward.append(level)
        paths = paths_at(years, last_year, forward, start,
                         lambda level: pace_np(level, omega, A, f), sigma_u, rng)
        sd = draws["sigma_src"][:, draws["main_type"]]  # (sample, geo)
        noise = sd[:, :, None] * rng.standard_normal(paths.shape)
        return inv_logit_percent(paths + noise), noise

    def simulate(self, series: SeriesData, priors: TransitionStatePriors,
                 rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Parameters from the prior, each geo's latent path year by year from its first
        value's year (level from the level prior, excess pace stationary), and values with
        the observation error of source type 0 (every value exact, annual; no breaks)."""
        check_series(series, FAMILY)
        G = len(series.geos)
        truth = draw_local_parameters(G, priors, rng)
        omega, A, f, phi = truth["omega"], truth["asymptote"], truth["floor"], truth["phi"]
        s, sigma = float(truth["sigma_u"]), truth["sigma_src"]
        first = first_years(series)
        span = int((series.year - first[series.geo_index]).max(initial=0)) + 1
        level = rng.normal(priors.level_mean, priors.level_sd, G)
        excess = s / math.sqrt(1.0 - phi**2) * rng.standard_normal(G)
        path = [level]
        for _ in range(1, span):
            excess = phi * excess + s * rng.standard_normal(G)
            level = level + pace_np(level, omega, A, f) + excess
            path.append(level)
        latent = np.stack(path, axis=1)  # (geo, year from the geo's first)
        t = series.year - first[series.geo_index]
        y = latent[series.geo_index, t] + sigma[0] * rng.standard_normal(series.n_obs)
        return truth, y


def draw_states(state: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One draw of (level, excess pace) per sample and geo from the filter's Gaussian
    ``state`` (sample, geo, (m_level, m_excess, p11, p12, p22))."""
    m1, m2, p11, p12, p22 = (state[..., i] for i in range(5))
    z1, z2 = rng.standard_normal(m1.shape), rng.standard_normal(m1.shape)
    sd1 = np.sqrt(np.maximum(p11, 0.0))
    along = np.where(sd1 > 0, p12 / np.where(sd1 > 0, sd1, 1.0), 0.0)
    rest = np.sqrt(np.maximum(p22 - along**2, 0.0))
    return m1 + sd1 * z1, m2 + along * z1 + rest * z2


TRANSITION_STATE = TransitionState()
