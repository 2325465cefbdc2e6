"""Model families: scenario specs and priors, forecasts, breaks, source types, reference priors.

Everything here is SIMULATED (geo ids ``sim_*``) except where the shipped reference prior
file is read. Tests marked slow run real MCMC.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pydantic import ValidationError

from tnmodel.data import load_dataset
from tnmodel.models import (
    FAMILIES,
    GateThresholds,
    LinearPriors,
    LogitTrendPriors,
    ModelSpec,
    SamplerSettings,
    TransitionPriors,
    fit_series,
    identifiability_notes,
    select_series,
    series_from_arrays,
)
from tnmodel.models.influence import overlap, prior_influence
from tnmodel.models.reference import available, load_reference
from tnmodel.models.series import SOURCE_TYPES, inv_logit_percent
from tnmodel.models.transition import TRANSITION, anchors, chain_of, grid, systematic_np
from tnmodel.scenario import load_scenario

# ------------------------------------------------------------------ specs and priors


def test_model_spec_defaults_and_existing_files_still_load():
    assert ModelSpec().family == "logit_trend"
    assert isinstance(ModelSpec().priors, LogitTrendPriors)
    scenario = load_scenario("scenarios/baseline.yaml")
    # Indicators the scenario does not name get the default family; internet use is named
    # (the validated setting: tests/test_bar.py checks it against docs/backtests/bar.yaml).
    assert scenario.model_for("online_dossier_share").family == "logit_trend"
    assert scenario.model_for("internet_users_share").family == "transition_local"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_priors_are_validated_against_the_chosen_family(family):
    spec = ModelSpec.model_validate({"family": family})
    assert type(spec.priors) is FAMILIES[family].priors_class
    # A round trip through JSON keeps the family's priors (not the first class of the union).
    again = ModelSpec.model_validate(spec.model_dump(mode="json"))
    assert type(again.priors) is type(spec.priors) and again == spec


def test_unknown_prior_name_says_did_you_mean_and_lists_the_family_priors():
    with pytest.raises(ValidationError) as caught:
        ModelSpec.model_validate({"family": "transition", "priors": {"asymptote_maen": 0.8}})
    message = str(caught.value)
    assert "unknown prior 'asymptote_maen'" in message
    assert "did you mean 'asymptote_mean'" in message
    # A prior of another family is unknown here.
    with pytest.raises(ValidationError, match="unknown prior 'ceiling_mean'"):
        ModelSpec.model_validate({"family": "transition", "priors": {"ceiling_mean": 0.9}})


def test_bad_prior_value_is_reported_with_its_name():
    with pytest.raises(ValidationError, match="prior 'asymptote_mean'"):
        ModelSpec.model_validate({"family": "transition", "priors": {"asymptote_mean": 1.5}})


def test_scenario_file_problem_points_at_the_priors_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntitle: t\ntargets: [x]\nmodels:\n  internet_users_share:\n"
                    "    family: transition\n    priors:\n      pace_maen: 0.3\n",
                    encoding="utf-8")
    from tnmodel.problems import InputError

    with pytest.raises(InputError) as caught:
        load_scenario(path)
    problem = caught.value.problems[0]
    assert problem.line == 7 and "did you mean 'pace_mean'" in problem.message


def test_reference_priors_are_reused_with_overrides_and_provenance():
    assert "reference_internet" in available()
    reference = load_reference("reference_internet")
    assert reference.family == "transition"
    assert {"data_hash", "created", "command", "sampler", "geos"} <= set(reference.provenance)
    spec = ModelSpec.model_validate({"family": "transition",
                                     "priors": {"from": "reference_internet", "break_sd": 0.2}})
    assert spec.priors_from == "reference_internet"
    assert spec.priors.break_sd == 0.2
    assert spec.priors.pace_mean == reference.priors["pace_mean"]
    with pytest.raises(ValidationError, match="for family 'transition', not 'logit_trend'"):
        ModelSpec.model_validate({"priors": {"from": "reference_internet"}})
    with pytest.raises(ValidationError, match="did you mean 'reference_internet'"):
        ModelSpec.model_validate({"family": "transition",
                                  "priors": {"from": "reference_internt"}})


def _fake_fit(family: str, draws: dict[str, np.ndarray]):
    """A stand-in for a fit: 2 chains of SIMULATED draws of the pooled parameters."""
    from types import SimpleNamespace

    import xarray as xr

    posterior = xr.Dataset({name: (("chain", "draw", *[f"{name}_{i}" for i in range(v.ndim - 1)]),
                                   v.reshape(2, -1, *v.shape[1:])) for name, v in draws.items()})
    return SimpleNamespace(posterior=SimpleNamespace(posterior=posterior),
                           spec=ModelSpec(family=family))


@pytest.mark.parametrize("family", ["transition", "transition_local"])
def test_learned_priors_are_valid_settings_and_never_wider_than_the_prior(family):
    from tnmodel.models import priors_for
    from tnmodel.models.common import beta_params
    from tnmodel.models.reference import summarise_hyperparameters

    rng = np.random.default_rng(7)
    default = priors_for(family)
    n = 4000
    # The panel pins the pace down; the floor's posterior is its prior (not informed).
    floor = rng.beta(*beta_params(default.floor_mean, default.floor_concentration), n)
    draws = {"mu_omega": rng.normal(0.6, 0.02, n), "tau_omega": rng.gamma(20, 0.005, n),
             "asymptote": rng.beta(90, 10, n), "floor": floor,
             "sigma_src": np.exp(rng.normal(np.log([0.05, 0.15, 0.25]), 0.1, (n, 3)))}
    if family == "transition":
        draws |= {"rho": rng.beta(60, 40, n), "sigma_ar": np.exp(rng.normal(-2, 0.1, n))}
    else:
        draws |= {"phi": rng.beta(60, 40, n), "sigma_u": np.exp(rng.normal(-2, 0.1, n))}
    learned = summarise_hyperparameters(_fake_fit(family, draws), inflation=2.0)
    priors = priors_for(family, learned)  # every name and value is accepted
    assert priors.pace_mean == pytest.approx(0.6, abs=0.01)
    assert priors.pace_sd == pytest.approx(0.04, rel=0.1)  # posterior sd 0.02, inflated x2
    assert priors.asymptote_concentration > default.asymptote_concentration
    # Not informed: the prior's own width, around the posterior mean.
    assert priors.floor_concentration == pytest.approx(default.floor_concentration)
    assert priors.floor_mean == pytest.approx(floor.mean(), abs=1e-3)


# ------------------------------------------------------------------ series: sources and breaks


def test_source_types_and_breaks_reach_the_series(sim_data):
    (sim_data / "sources.csv").write_text(
        "id,url,publisher,title,date,kind\n"
        "src_sim,https://example.org/simulated,example.org,Simulated page,,page\n"
        "src_simdata,https://example.org/table,example.org,Simulated dataset,,dataset\n",
        encoding="utf-8")
    text = (sim_data / "observations.csv").read_text(encoding="utf-8")
    text = text.replace("sim_south,sim_share,2024,58,src_sim", "sim_south,sim_share,2024,58,"
                        "src_simdata")
    (sim_data / "observations.csv").write_text(text, encoding="utf-8")
    indicators = (sim_data / "indicators.yaml").read_text(encoding="utf-8")
    indicators = indicators.replace(
        "  definition: A simulated bounded share for tests.\n",
        "  definition: A simulated bounded share for tests.\n  breaks:\n  - year: 2021\n"
        "    geo: sim_south\n    what: simulated change of definition\n", 1)
    (sim_data / "indicators.yaml").write_text(indicators, encoding="utf-8")
    series = select_series(load_dataset(sim_data), "sim_share")
    south = series.rows["series_geo"].to_numpy() == "sim_south"
    types = series.source_types()
    assert SOURCE_TYPES[types[south & (series.year == 2024)][0]] == "dataset"
    assert SOURCE_TYPES[types[south & (series.year == 2018)][0]] == "page"
    assert series.breaks == ((2021, "sim_south"),)
    matrix = series.break_matrix()
    assert matrix.shape == (series.n_obs, 1)
    # Only sim_south's observations before 2021 carry the offset.
    np.testing.assert_array_equal(matrix[:, 0] == 1, south & (series.year < 2021))


def test_a_break_without_data_on_both_sides_is_dropped():
    series = series_from_arrays("sim", ("sim_a",), [0, 0], [2019, 2020], [10.0, 20.0])
    series = dataclasses.replace(series, breaks=((2022, None),))
    assert series.break_matrix().shape == (2, 0)


# ------------------------------------------------------------------ transition arithmetic


def test_chain_links_each_observation_to_the_previous_year_of_its_geo():
    geo = np.array([0, 1, 0, 0, 1])
    year = np.array([2020, 2019, 2018, 2023, 2021])
    prev, gap, first = chain_of(geo, year)
    assert list(first) == [0, 1, 1, 0, 0]
    assert prev[0] == 2 and gap[0] == 2      # 2020 follows 2018
    assert prev[3] == 0 and gap[3] == 3      # 2023 follows 2020
    assert prev[4] == 1 and gap[4] == 2


def test_systematic_path_slows_towards_the_asymptote_and_keeps_the_floor():
    path = systematic_np(np.array([-3.0]), np.array([0.5]), 0.8, 0.2, -5, 40)[0]
    steps = np.diff(path)
    share = 1 / (1 + np.exp(-path))
    rate = 0.5 * np.maximum(0.2, 1 - share / 0.8)
    # Forward from the anchor (offset 0 = index 5) the pace is that of the level left;
    # backward, each step undoes the pace of the level it starts from.
    np.testing.assert_allclose(steps[5:], rate[5:-1])
    np.testing.assert_allclose(steps[:5], rate[1:6])
    assert steps[0] > 0.35 and np.isclose(steps[-1], 0.1)  # fast early, floor later
    assert path[5] == -3.0  # anchored at offset 0


def _fake_transition_draws(series, n=4000, rho=0.9, last_resid=0.5, sigma=1e-4):
    G = len(series.geos)
    lo, _ = grid(series)
    draws = {
        "alpha": np.zeros((n, G)), "omega": np.full((n, G), 0.3),
        "asymptote": np.full((n, G), 0.9), "floor": np.full(n, 0.2), "rho": np.full(n, rho),
        "sigma_ar": np.full(n, 0.1), "sigma_src": np.full((n, 3), sigma),
        "anchor": anchors(series), "main_type": np.zeros(G, int),
        "last_resid": np.full((n, G), last_resid),
        "last_year": np.array([series.year[series.geo_index == g].max() for g in range(G)],
                              dtype=float),
    }
    return draws


def test_transition_forecast_continues_the_ar1_from_the_last_residual():
    series = series_from_arrays("sim", ("sim_a",), [0] * 5, range(2016, 2021), [50.0] * 5)
    draws = _fake_transition_draws(series)
    years = np.arange(2021, 2026)
    values, noise = TRANSITION.forecast(draws, series, years, np.random.default_rng(1))
    assert noise.shape == values.shape
    assert values.shape == (4000, 1, 5)
    anchor = anchors(series)[0]
    mu = systematic_np(np.zeros(1), np.array([0.3]), 0.9, 0.2, 0, 2025 - anchor)[0]
    expected_eta = mu[years - anchor] + 0.9 ** (years - 2020) * 0.5
    np.testing.assert_allclose(np.median(values[:, 0, :], axis=0),
                               inv_logit_percent(expected_eta), atol=0.6)
    # The spread grows with the horizon as the stationary AR(1) variance says.
    logits = np.log(values / (100 - values))[:, 0, :] - expected_eta
    sd = 0.1 * np.sqrt((1 - 0.81 ** (years - 2020)) / (1 - 0.81))
    np.testing.assert_allclose(logits.std(axis=0), sd, rtol=0.08)


def test_transition_forecast_levels_off_at_each_geos_own_asymptote():
    series = series_from_arrays("sim", ("sim_low", "sim_high"), [0] * 5 + [1] * 5,
                                list(range(2016, 2021)) * 2, [50.0] * 10)
    draws = _fake_transition_draws(series, n=500, last_resid=0.0)
    draws["asymptote"] = np.tile([0.6, 0.95], (500, 1))
    draws["floor"] = np.full(500, 1e-3)
    draws["omega"] = np.full((500, 2), 0.8)
    draws["sigma_ar"] = np.full(500, 1e-4)
    values, _ = TRANSITION.forecast(draws, series, np.array([2060]), np.random.default_rng(2))
    level = np.median(values[:, :, 0], axis=0)
    # Far ahead each geo sits just under its own ceiling, not a common one.
    assert 57 < level[0] < 60.5 and 92 < level[1] < 95.5
    # Fits made with one common asymptote per draw still forecast (broadcast to every geo).
    draws["asymptote"] = np.full(500, 0.6)
    common, _ = TRANSITION.forecast(draws, series, np.array([2060]), np.random.default_rng(2))
    assert np.all(np.median(common[:, :, 0], axis=0) < 60.5)


def test_asymptote_prior_moments_match_the_logit_of_the_stated_beta():
    priors = TransitionPriors(asymptote_mean=0.8, asymptote_concentration=5.0)
    mean, sd = priors.asymptote_logit_moments()
    x = np.random.default_rng(4).beta(4.0, 1.0, 400_000)
    logit = np.log(x / (1 - x))
    assert abs(mean - logit.mean()) < 0.01 and abs(sd - logit.std()) < 0.01


def test_simulated_asymptotes_differ_between_geos_around_a_common_centre():
    series = series_from_arrays("sim", ("sim_a", "sim_b", "sim_c"), [0, 1, 2],
                                [2020, 2020, 2020], [50.0] * 3)
    rng = np.random.default_rng(8)
    common, _ = TRANSITION.simulate(series, TransitionPriors(), rng)
    assert np.ndim(common["asymptote"]) == 0  # the default: one asymptote
    priors = TransitionPriors(asymptote_per_geo=True)
    spreads, centres = [], []
    for _ in range(400):
        truth, _ = TRANSITION.simulate(series, priors, rng)
        assert truth["asymptote"].shape == (3,)
        logit = np.log(truth["asymptote"] / (1 - truth["asymptote"]))
        spreads.append(logit.std(ddof=1))
        centres.append(float(truth["mu_asymptote"]))
    mean, sd = TransitionPriors().asymptote_logit_moments()
    assert abs(np.mean(centres) - mean) < 4 * sd / np.sqrt(400)
    # E[sample sd^2] of 3 draws = tau^2, E[tau^2] = 1.5 * spread_mean^2 (Gamma, shape 2).
    assert abs(np.mean(np.square(spreads)) / (1.5 * 0.5**2) - 1) < 0.2


def test_identifiability_notes_name_geos_without_a_trend_of_their_own():
    series = series_from_arrays("sim", ("sim_a", "sim_b", "sim_c"), [0, 0, 1, 2, 2],
                                [2018, 2020, 2021, 2019, 2022], [10, 20, 30, 40, 40])
    notes = identifiability_notes(series)
    assert any("sim_b" in n and "one year only" in n and "pool" in n for n in notes)
    assert any("sim_c" in n and "do not change" in n for n in notes)
    assert not any("sim_a" in n for n in notes)
    alone = series_from_arrays("sim", ("sim_a",), [0], [2021], [30])
    assert "the prior" in identifiability_notes(alone)[0]


def test_overlap_of_samples():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 20000), rng.normal(0, 1, 20000)
    assert overlap(a, b) > 0.93
    assert overlap(a, rng.normal(6, 1, 20000)) < 0.05


def test_prior_pace_draws_match_the_prior_moments():
    rng = np.random.default_rng(2)
    priors = TransitionPriors()
    pace = TRANSITION.prior_pace(priors, 200_000, rng)
    # Var = pace_sd^2 + E[tau^2], tau ~ Gamma(2, mean m): E[tau^2] = 1.5 m^2.
    expected_sd = np.sqrt(priors.pace_sd**2 + 1.5 * priors.pace_spread_mean**2)
    assert abs(pace.mean() - priors.pace_mean) < 0.01
    assert abs(pace.std() - expected_sd) < 0.01


# ------------------------------------------------------------------ real MCMC (slow)


@pytest.mark.slow
def test_transition_fit_on_simulated_panel_flags_sparse_geo_and_reports_prior_influence():
    rng = np.random.default_rng(11)
    geos = ("sim_dense1", "sim_dense2", "sim_dense3", "sim_one")
    years = list(range(2012, 2022))
    geo_index = [0] * 10 + [1] * 10 + [2] * 10 + [3]
    year = years * 3 + [2020]
    skeleton = series_from_arrays("sim_share", geos, geo_index, year, [50.0] * 31)
    truth, y = TRANSITION.simulate(skeleton, TransitionPriors(), rng)
    series = dataclasses.replace(skeleton, y=y)
    fit = fit_series(series, ModelSpec(family="transition"),
                     SamplerSettings(chains=2, draws=400, tune=400), seed=3,
                     gates=GateThresholds(max_rhat=1.05, min_ess_bulk=100))
    notes = fit.diagnostics.notes
    assert any("sim_one" in n and "pool" in n for n in notes)
    table = prior_influence(fit).set_index("geo")
    # The dense geos' paces are learned from their data; the one-point geo's is the pool's.
    assert (table.loc[["sim_dense1", "sim_dense2", "sim_dense3"], "sd_ratio"] < 0.7).all()
    assert table.loc["sim_one", "sd_ratio"] > table.loc["sim_dense1", "sd_ratio"]
    # ... and the pool comparison says so: the one-point geo is carried by the pool.
    assert table.loc["sim_one", "carried_by_pool"]
    assert table.loc["sim_one", "pool_sd_ratio"] > table.loc["sim_dense1", "pool_sd_ratio"]
    assert set(fit.diagnostics.as_dict()["prior_pace"]) == set(geos)
    values, _ = TRANSITION.forecast(fit.draws, series, np.arange(2020, 2026),
                                    np.random.default_rng(0))
    assert values.shape[1:] == (4, 6) and np.all((values > 0) & (values < 100))


def _sim_saturating_panel(asymptotes, seed: int):
    """Simulated panel: each geo rises from about 5% to near its own asymptote over
    2000-2023 (pace 0.45 logits a year, floor 0.1), small AR(1) deviations and dataset
    error."""
    rng = np.random.default_rng(seed)
    geos = tuple(f"sim_geo_{i}" for i in range(len(asymptotes)))
    years = np.arange(2000, 2024)
    geo_index = np.repeat(np.arange(len(geos)), years.size)
    skeleton = series_from_arrays("sim_share", geos, geo_index, np.tile(years, len(geos)),
                                  np.full(geo_index.size, 50.0))
    lo, hi = grid(skeleton)
    path = systematic_np(np.full(len(geos), -1.0), np.full(len(geos), 0.45),
                         np.asarray(asymptotes), 0.1, lo, hi)
    k = skeleton.year - anchors(skeleton)[skeleton.geo_index] - lo
    eta = path[skeleton.geo_index, k]
    rho, s, e = 0.5, 0.05, 0.05
    dev = np.zeros(skeleton.n_obs)
    for g in range(len(geos)):
        rows = np.flatnonzero(skeleton.geo_index == g)
        d = rng.normal(0, s / np.sqrt(1 - rho**2))
        for i in rows:
            dev[i] = d
            d = rho * d + rng.normal(0, s)
    y = eta + dev + rng.normal(0, e, skeleton.n_obs)
    return dataclasses.replace(skeleton, y=y)


@pytest.mark.slow
def test_transition_recovers_per_geo_asymptotes_on_simulated_panel():
    """Geos that level off at 70%, 80%, 90% and 97%: each posterior asymptote covers its truth
    and they come out in the right order, well apart (one common asymptote could not)."""
    truth = np.array([0.70, 0.80, 0.90, 0.97])
    series = _sim_saturating_panel(truth, seed=21)
    spec = ModelSpec(family="transition", priors={"asymptote_per_geo": True})
    fit = fit_series(series, spec, SamplerSettings(chains=2, draws=500, tune=500), seed=4,
                     gates=GateThresholds(max_rhat=1.05, min_ess_bulk=100))
    A = fit.draws["asymptote"]
    assert A.shape[1] == truth.size
    lo, hi = np.quantile(A, [0.01, 0.99], axis=0)
    assert np.all((lo <= truth) & (truth <= hi)), (lo, hi)
    means = A.mean(axis=0)
    assert np.all(np.diff(means) > 0), means
    assert means[-1] - means[0] > 0.15
    # Informative: far narrower than the prior of one geo's asymptote (sd about 0.1).
    assert np.all(A[:, :3].std(axis=0) < 0.04), A.std(axis=0)


@pytest.mark.slow
def test_linear_family_recovers_a_simulated_trend_in_its_own_units():
    rng = np.random.default_rng(5)
    years = np.arange(2010, 2020)
    values = 120.0 + 7.5 * (years - 2010) + rng.normal(0, 3.0, years.size)
    series = series_from_arrays("sim_index", ("sim_a",), np.zeros(years.size, int), years,
                                values)
    fit = fit_series(series, ModelSpec(family="linear"),
                     SamplerSettings(chains=2, draws=400, tune=400), seed=1,
                     gates=GateThresholds(max_rhat=1.05, min_ess_bulk=100))
    forecast = FAMILIES["linear"].forecast(fit.draws, series, np.array([2025]),
                                           np.random.default_rng(0))[0][:, 0, 0]
    lo, hi = np.quantile(forecast, [0.05, 0.95])
    assert lo < 120.0 + 7.5 * 15 < hi
    assert isinstance(fit.spec.priors, LinearPriors)
