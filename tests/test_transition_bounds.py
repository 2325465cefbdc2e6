"""The transition family's bounds: latent values in its AR(1) chain (data augmentation).

SIMULATED values only. A bound's value is the bound plus or minus a positive distance with a
flat prior; integrating the distance out must give the censored likelihood of the chain, the
bound conditioned on the years on both sides of it. The closed form below is derived
independently of the model's graph (Gaussian conditioning of a three-value chain).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xarray as xr
from scipy import integrate, stats

from tnmodel.models.series import series_from_arrays
from tnmodel.models.transition import TRANSITION, TransitionPriors, anchors, grid, systematic_np

#: A parameter point (constrained scale) at which the likelihood is compared.
POINT = {"mu_alpha": 0.0, "tau_alpha": 0.5, "alpha": np.array([-0.2]), "mu_omega": 0.3,
         "tau_omega": 0.15, "omega": np.array([0.25]), "asymptote": 0.9, "floor": 0.3,
         "rho": 0.7, "sigma_ar": 0.2, "sigma_src": np.array([0.05, 0.15, 0.25]),
         "sigma_part": 0.1}


def simulated_series_with_a_bound(kind: str, bound_percent: float = 44.0, position: int = 1,
                                  years: tuple[int, ...] = (2016, 2017, 2018)):
    """One simulated geo with three values, the one at ``position`` known only as a ``kind``
    bound (at ``bound_percent``)."""
    percent = np.array([40.0, 46.0, 52.0])
    percent[position] = bound_percent
    series = series_from_arrays("sim_bound", ("sim_0",), np.zeros(3, int), np.array(years),
                                percent)
    kinds = np.array(["exact"] * 3)
    kinds[position] = kind
    return dataclasses.replace(series, kind=kinds, rows=series.rows.assign(
        bound=np.where(kinds == "exact", "", kinds)))


def bound_kind(series) -> str:
    return next(kind for kind in series.kind if kind != "exact")


def likelihood_of_distance(series, priors):
    """log p(data | POINT, distance) from the model's graph, as a function of the distance."""
    model = TRANSITION.build_model(series, priors)
    kind = bound_kind(series)
    values = dict(POINT, **{f"beyond_{kind}": np.array([1.0])})
    if "z_omega" in model.named_vars:  # the non-centred pace
        values["z_omega"] = (POINT["omega"] - POINT["mu_omega"]) / POINT["tau_omega"]
    point = {}
    for rv in model.free_RVs:
        value = np.asarray(values[rv.name], dtype=float)
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None:
            value = transform.forward(value, *rv.owner.inputs).eval()
        point[model.rvs_to_values[rv].name] = value
    terms = [model["y"], model[f"{kind}_bounds"]]
    logp = model.compile_logp(vars=terms, jacobian=False)
    name = model.rvs_to_values[model[f"beyond_{kind}"]].name

    def at(distance: float) -> float:
        return float(logp({**point, name: np.log(np.array([distance]))}))

    return at


def chain_at_point(series, priors) -> dict[str, float]:
    """The three values' residuals (the bound's: its threshold) at POINT, the exact values'
    error variance, rho, sigma_ar**2 and the stationary variance."""
    lo, hi = grid(series)
    mu = systematic_np(POINT["alpha"], POINT["omega"], POINT["asymptote"], POINT["floor"],
                       lo, hi)[0]
    r1, threshold, r3 = series.y - mu[series.year - anchors(series)[0] - lo]
    source = TRANSITION.data_arrays(series, priors)["src_exact"][0]
    rho, s2 = POINT["rho"], POINT["sigma_ar"] ** 2
    return {"r1": r1, "threshold": threshold, "r3": r3, "e2": POINT["sigma_src"][source] ** 2,
            "rho": rho, "s2": s2, "stationary": s2 / (1 - rho**2)}


def closed_form(series, priors) -> float:
    """log of the censored likelihood: r1 exact, r2 beyond the bound, r3 exact."""
    c = chain_at_point(series, priors)
    r1, r3, e2, rho, s2 = c["r1"], c["r3"], c["e2"], c["rho"], c["s2"]
    first = stats.norm.logpdf(r1, 0.0, np.sqrt(c["stationary"] + e2))
    m1, v1 = rho * r1, s2 + e2  # r2 | r1
    v2 = s2 + e2  # r3 | r2 has mean rho * r2
    marginal = stats.norm.logpdf(r3, rho * m1, np.sqrt(rho**2 * v1 + v2))
    precision = 1 / v1 + rho**2 / v2
    mean = (m1 / v1 + rho * r3 / v2) / precision
    z = (c["threshold"] - mean) * np.sqrt(precision)
    side = stats.norm.logsf(z) if bound_kind(series) == "lower" else stats.norm.logcdf(z)
    return float(first + marginal + side)


@pytest.mark.parametrize(("kind", "bound_percent"),
                         [("lower", 44.0), ("lower", 49.0), ("upper", 44.0), ("upper", 41.0)])
def test_integrating_a_bounds_latent_value_out_gives_the_censored_chain_likelihood(
        kind, bound_percent):
    series = simulated_series_with_a_bound(kind, bound_percent)
    priors = TransitionPriors()
    at = likelihood_of_distance(series, priors)
    peak = max(at(d) for d in np.linspace(1e-3, 3.0, 61))
    integral, _ = integrate.quad(lambda d: np.exp(at(d) - peak), 0.0, np.inf, limit=200)
    assert np.log(integral) + peak == pytest.approx(closed_form(series, priors), abs=1e-6)


def test_the_marginal_censored_term_differs_from_the_chains():
    # What the family did before (the bound's marginal distribution, the chain passing over
    # it) is not the censored likelihood: the closed form's conditioning matters here.
    series = simulated_series_with_a_bound("lower", 49.0)
    priors = TransitionPriors()
    c = chain_at_point(series, priors)
    rho, stationary, e2 = c["rho"], c["stationary"], c["e2"]
    marginal_terms = (stats.norm.logpdf(c["r1"], 0.0, np.sqrt(stationary + e2))
                      + stats.norm.logpdf(c["r3"], rho**2 * c["r1"],
                                          np.sqrt(stationary * (1 - rho**4) + e2))
                      + stats.norm.logsf(c["threshold"], 0.0, np.sqrt(stationary + e2)))
    assert abs(marginal_terms - closed_form(series, priors)) > 0.1


def fake_posterior(series, distances: list[float]) -> xr.DataTree:
    """A posterior of len(distances) draws, equal but for the bound's latent distance."""
    n = len(distances)
    kind = bound_kind(series)

    def same(name: str, value) -> xr.DataArray:
        value = np.asarray(value, dtype=float)
        return xr.DataArray(np.broadcast_to(value, (1, n, *value.shape)).copy(),
                            dims=("chain", "draw", *(f"{name}_{i}" for i in range(value.ndim))))

    data = {name: same(name, value) for name, value in POINT.items()}
    data[f"beyond_{kind}"] = xr.DataArray(np.asarray(distances, float)[None, :, None],
                                          dims=("chain", "draw", "bound"))
    return xr.DataTree.from_dict({"posterior": xr.Dataset(data)})


@pytest.mark.parametrize("kind", ["lower", "upper"])
def test_a_geo_whose_last_value_is_a_bound_forecasts_from_that_values_latent_draws(kind):
    series = simulated_series_with_a_bound(kind, position=2, years=(2016, 2018, 2019))
    distances = [0.1, 0.4, 1.0]
    draws = TRANSITION.extract_draws(fake_posterior(series, distances), series)
    assert draws["last_year"][0] == 2019
    # Draws equal but for the latent distance: the residual moves with it, away from the
    # bound on the bound's side.
    sign = 1.0 if kind == "lower" else -1.0
    moved = draws["last_resid"][:, 0] - draws["last_resid"][0, 0]
    assert moved == pytest.approx(sign * (np.array(distances) - distances[0]))
