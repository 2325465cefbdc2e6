"""Rank targets: the latent-standing model (tnmodel.models.rank) and rank forecasts (tnmodel.ranks).

Everything here is SIMULATED (geo ids start with ``sim_``) except the last, integration test.
The fast tests use hand-set hyper-parameters (no MCMC): the conditional standings are exact
given them, so their calibration can be tested directly; the slow test recovers the
persistence from a simulated panel with nutpie.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tnmodel.data import Geo, load_dataset
from tnmodel.models import GateThresholds, SamplerSettings
from tnmodel.models.rank import (
    RankBasisError,
    RankFit,
    RankPanel,
    RankPriors,
    base_geos,
    fit_ranks,
    independent_blocks,
    normal_score,
    rank_basis,
    rank_panel,
    standing_covariance,
)
from tnmodel.problems import InputError
from tnmodel.ranks import draw_standings, forecast_ranks, rank_distribution_frame, ranks_within
from tnmodel.targets import INSUFFICIENT, RANK_ESTIMATED, plan_rank_target

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# Simulated geos: 8 pre-merger provinces; sim_a+sim_b -> sim_ab, sim_c+sim_d+sim_e -> sim_cde,
# sim_f, sim_g, sim_h unchanged: 8 units before, 5 after.


def sim_geos(population: dict[str, float] | None = None, drop_lineage: str | None = None):
    population = population or {}
    merges = {"sim_a": "sim_ab", "sim_b": "sim_ab", "sim_c": "sim_cde", "sim_d": "sim_cde",
              "sim_e": "sim_cde"}
    if drop_lineage:
        merges.pop(drop_lineage)
    geos = {}
    for g in ("sim_a", "sim_b", "sim_c", "sim_d", "sim_e", "sim_f", "sim_g", "sim_h"):
        geos[g] = Geo(id=g, name_vi=g, name_en=g, level="province",
                      population=population.get(g), merged_into=merges.get(g),
                      merged_on="2025-07-01" if g in merges else None)
    for g in ("sim_ab", "sim_cde"):
        geos[g] = Geo(id=g, name_vi=g, name_en=g, level="province")
    geos["sim_country"] = Geo(id="sim_country", name_vi="c", name_en="c", level="country")
    return geos


def test_normal_score_is_symmetric_and_monotone():
    z = normal_score(np.arange(1, 64), 63)
    assert np.all(np.diff(z) < 0)  # rank 1 is best
    assert z[31] == pytest.approx(0.0)  # the median rank of 63
    np.testing.assert_allclose(z, -z[::-1])
    assert abs(normal_score(1, 34) - normal_score(1, 63)) < 0.4  # same top, similar score
    with pytest.raises(ValueError):
        normal_score(64, 63)


def test_basis_mapping_counts_and_weights():
    geos = sim_geos()
    assert base_geos(geos) == ("sim_a", "sim_b", "sim_c", "sim_d", "sim_e", "sim_f", "sim_g",
                               "sim_h")
    old = rank_basis(geos, 8)
    assert old.is_base and len(old.units) == 8
    new = rank_basis(geos, 5)
    assert new.units == ("sim_ab", "sim_cde", "sim_f", "sim_g", "sim_h")
    np.testing.assert_allclose(new.weights.sum(axis=1), 1.0)
    assert new.parts("sim_cde") == ("sim_c", "sim_d", "sim_e")
    np.testing.assert_allclose(new.weights[1, 2:5], 1 / 3)  # no populations: plain mean
    assert new.how["sim_ab"] == "plain mean" and new.how["sim_f"] == "itself"
    weighted = rank_basis(sim_geos(population={"sim_a": 3.0, "sim_b": 1.0}), 5)
    np.testing.assert_allclose(weighted.weights[0, :2], [0.75, 0.25])
    assert weighted.how["sim_ab"] == "population-weighted mean"
    assert weighted.how["sim_cde"] == "plain mean"  # populations of its parts unknown


def test_incomplete_lineage_is_an_error_that_says_what_is_missing():
    geos = sim_geos(drop_lineage="sim_e")  # sim_e's merger not recorded: 6 units, not 5
    with pytest.raises(RankBasisError) as caught:
        rank_basis(geos, 5)
    message = str(caught.value)
    assert "gives 6 post-merger units, not 5" in message
    assert "sim_c->sim_cde" in message and "sim_e->" not in message
    with pytest.raises(RankBasisError):
        rank_basis(sim_geos(), 7)


def test_ranks_within_is_a_permutation_per_draw():
    values = np.random.default_rng(1).standard_normal((50, 9))
    ranks = ranks_within(values)
    assert (np.sort(ranks, axis=1) == np.arange(1, 10)).all()
    best = values.argmax(axis=1)
    assert (ranks[np.arange(50), best] == 1).all()


# --------------------------------------------------------------------------------------------
# A simulated panel from the model's own generative process, with known hyper-parameters


TRUTH = {"phi": 0.7, "sigma_innov": 0.35, "tau_geo": 0.7, "tau_series": 0.2,
         "sigma_obs": (0.15, 0.3)}


def sim_panel(n_geos: int, n_years: int, seed: int, truth: dict = TRUTH,
              keep: float = 1.0) -> tuple[RankPanel, np.ndarray]:
    """Standings of two series simulated as in the model; full rankings each year (sim_*).

    Returns the panel (observations are the Hazen scores of the simulated ranks) and the true
    standings (series, geo, year). ``keep`` < 1 drops observations at random.
    """
    rng = np.random.default_rng(seed)
    n_series = 2
    phi, s_in = truth["phi"], truth["sigma_innov"]
    mean = (truth["tau_geo"] * rng.standard_normal(n_geos)[None, :]
            + truth["tau_series"] * rng.standard_normal((n_series, n_geos)))
    dev = np.empty((n_series, n_geos, n_years))
    dev[..., 0] = s_in / np.sqrt(1 - phi**2) * rng.standard_normal((n_series, n_geos))
    for t in range(1, n_years):
        dev[..., t] = phi * dev[..., t - 1] + s_in * rng.standard_normal((n_series, n_geos))
    standing = mean[..., None] + dev
    rows = []
    for k in range(n_series):
        for t in range(n_years):
            published = standing[k, :, t] + truth["sigma_obs"][k] * rng.standard_normal(n_geos)
            ranks = ranks_within(published[None, :])[0]
            for g in range(n_geos):
                if rng.uniform() < keep:
                    rows.append((k, g, t, ranks[g]))
    k, g, t, r = (np.array(c) for c in zip(*rows, strict=True))
    geos = tuple(f"sim_p{i:02d}" for i in range(n_geos))
    frame = pd.DataFrame({"indicator": [f"sim_rank{i}" for i in k], "geo": [geos[i] for i in g],
                          "year": 2015 + t, "value": r.astype(float), "among": n_geos})
    frame["unit"] = frame["geo"]
    panel = RankPanel(
        series=("sim_rank0", "sim_rank1"), geos=geos, years=np.arange(2015, 2015 + n_years),
        obs_series=k, obs_year=t, obs_weights=np.eye(n_geos)[g], rank=r.astype(float),
        among=np.full(len(r), float(n_geos)), z=normal_score(r, n_geos), rows=frame)
    return panel, standing


def fixed_fit(panel: RankPanel, n_draws: int = 400, truth: dict = TRUTH) -> RankFit:
    """A RankFit whose every draw is the true hyper-parameters (no MCMC)."""
    draws = {name: np.full(n_draws, truth[name])
             for name in ("phi", "sigma_innov", "tau_geo", "tau_series")}
    draws["sigma_obs"] = np.tile(np.array(truth["sigma_obs"]), (n_draws, 1))
    return RankFit(panel, RankPriors(), None, draws, None, chains=2)


def test_the_rank_model_s_prior_for_power_scaling_is_every_hyper_parameter_as_scipy_says():
    # Power-scaling reweights the rank model's draws by its prior: the log density of its
    # five hyper-parameters (standings are integrated out), here against scipy at draws
    # SIMULATED from other distributions than the priors.
    from types import SimpleNamespace

    import xarray as xr
    from scipy import stats

    from tnmodel.models.sensitivity import log_prior

    panel, _ = sim_panel(6, 4, seed=2)
    rng = np.random.default_rng(4)
    n = 50
    draws = {"phi": rng.uniform(0.2, 0.95, n), "sigma_innov": rng.uniform(0.1, 0.6, n),
             "tau_geo": rng.uniform(0.2, 1.5, n), "tau_series": rng.uniform(0.05, 0.6, n),
             "sigma_obs": rng.uniform(0.05, 0.6, (n, 2))}
    posterior = xr.Dataset({name: (("chain", "draw", *(("series",) * (v.ndim - 1))),
                                   v.reshape(1, n, *v.shape[1:])) for name, v in draws.items()})
    priors = RankPriors()
    fit = SimpleNamespace(panel=panel, priors=priors,
                          posterior=xr.DataTree.from_dict({"posterior": posterior}))
    density, names = log_prior(fit)
    assert set(names) == set(draws)
    gamma = {name: stats.gamma(2.0, scale=getattr(priors, f"{name}_mean") / 2.0)
             for name in ("sigma_innov", "tau_geo", "tau_series")}
    expected = (stats.beta(priors.phi_alpha, priors.phi_beta).logpdf(draws["phi"])
                + sum(gamma[name].logpdf(draws[name]) for name in gamma)
                + stats.lognorm(priors.obs_sd_log_sd, scale=priors.obs_sd_median).logpdf(
                    draws["sigma_obs"]).sum(axis=1))
    np.testing.assert_allclose(density, expected, rtol=1e-6, atol=1e-6)


def test_block_conditioning_equals_dense_conditioning():
    panel, _ = sim_panel(12, 4, seed=3, keep=0.6)
    fit = fixed_fit(panel, n_draws=3)
    # Dense Gaussian conditioning of year 2020 standings of series 1 on all observations.
    t = TRUTH
    same = (panel.obs_series[:, None] == panel.obs_series[None, :]).astype(float)
    lag = np.abs(panel.obs_year[:, None] - panel.obs_year[None, :])
    k_zz = (panel.obs_weights @ panel.obs_weights.T) * standing_covariance(
        t["phi"], t["sigma_innov"], t["tau_geo"], t["tau_series"], same, lag)
    k_zz += np.diag(np.array(t["sigma_obs"])[panel.obs_series] ** 2)
    kern = standing_covariance(t["phi"], t["sigma_innov"], t["tau_geo"], t["tau_series"],
                               (panel.obs_series == 1).astype(float),
                               np.abs(2020 - 2015 - panel.obs_year))
    k_xz = panel.obs_weights.T * kern[None, :]
    dense_mean = k_xz @ np.linalg.solve(k_zz, panel.z)
    dense_var = (standing_covariance(t["phi"], t["sigma_innov"], t["tau_geo"], t["tau_series"],
                                     1.0, 0.0)
                 - np.einsum("go,og->g", k_xz, np.linalg.solve(k_zz, k_xz.T)))
    many = fixed_fit(panel, n_draws=20000)
    draws = draw_standings(many, "sim_rank1", 2020, np.random.default_rng(0))
    np.testing.assert_allclose(draws.mean(axis=0), dense_mean, atol=0.03)
    np.testing.assert_allclose(draws.var(axis=0), dense_var, rtol=0.06)
    assert len(independent_blocks(panel)) == 12  # one block per province (no merged units)
    assert draw_standings(fit, "sim_rank1", 2020, np.random.default_rng(0)).shape == (3, 12)


def test_size_grouped_likelihood_equals_the_dense_gaussian():
    """The model's likelihood (blocks batched into padded size classes) is the dense MvNormal
    of all scores, up to the constant of the padding."""
    from scipy.stats import multivariate_normal

    from tnmodel.models.rank import blocks_by_size, build_rank_model

    t = TRUTH
    point = {"phi_logodds__": np.log(t["phi"] / (1 - t["phi"])),
             "sigma_innov_log__": np.log(t["sigma_innov"]), "tau_geo_log__": np.log(t["tau_geo"]),
             "tau_series_log__": np.log(t["tau_series"]),
             "sigma_obs_log__": np.log(np.array(t["sigma_obs"]))}
    # Ragged panels: lone ranks plus padded blocks; blocks of up to 8 plus a larger class.
    for n_geos, n_years, keep, sizes in ((30, 3, 0.3, [1, 4]), (20, 8, 0.35, [8, 9])):
        panel, _ = sim_panel(n_geos, n_years, seed=5, keep=keep)
        classes = blocks_by_size(panel)
        assert sorted(classes) == sizes
        assert sorted(np.concatenate([b[b >= 0] for b in classes.values()])) == list(
            range(len(panel.z)))  # every observation exactly once
        model = build_rank_model(panel)
        likelihood = model.compile_logp(vars=model.observed_RVs, jacobian=False)(point)
        same = (panel.obs_series[:, None] == panel.obs_series[None, :]).astype(float)
        lag = np.abs(panel.obs_year[:, None] - panel.obs_year[None, :])
        k_zz = (panel.obs_weights @ panel.obs_weights.T) * standing_covariance(
            t["phi"], t["sigma_innov"], t["tau_geo"], t["tau_series"], same, lag)
        k_zz += np.diag(np.array(t["sigma_obs"])[panel.obs_series] ** 2)
        dense = multivariate_normal(np.zeros(len(panel.z)), k_zz).logpdf(panel.z)
        # Padding slots are unit-variance dummies observed at 0: a constant each.
        dummies = sum(int((b < 0).sum()) for b in classes.values())
        np.testing.assert_allclose(likelihood, dense - 0.5 * np.log(2 * np.pi) * dummies,
                                   rtol=1e-8)


def test_conditional_standings_cover_the_truth():
    """Given the true hyper-parameters, 80% intervals of standings cover about 80% of truths.

    Observations are rank scores, not the Gaussian measurements the model assumes, so the
    standings are compared on the rank-score scale: rescaled to unit variance per year.
    """
    hits, total = 0, 0
    for seed in range(6):
        panel, standing = sim_panel(40, 5, seed=seed, keep=0.7)
        fit = fixed_fit(panel, n_draws=1000)
        draws = draw_standings(fit, "sim_rank0", 2018, np.random.default_rng(seed))
        truth = standing[0, :, 3]
        # Compare orderings: the rank of each province's true standing vs its drawn ranks.
        true_rank = ranks_within(truth[None, :])[0]
        drawn = ranks_within(draws)
        lo, hi = np.quantile(drawn, [0.1, 0.9], axis=0)
        hits += int(((true_rank >= lo) & (true_rank <= hi)).sum())
        total += len(truth)
    coverage = hits / total
    # 240 provinces; binomial 99% band around 0.8 is about +-0.07; ranks are discrete (wider).
    assert 0.72 <= coverage <= 0.95, coverage


def sim_leader_panel(geos) -> RankPanel:
    """Two SIMULATED rank series over the base geos, 2018-2022: sim_h first every year."""
    base = base_geos(geos)
    rng = np.random.default_rng(5)
    # sim_h is far ahead every year, on both series; the others are shuffled.
    rows = []
    for year in range(2018, 2023):
        for k in (0, 1):
            order = list(rng.permutation([g for g in base if g != "sim_h"]))
            for r, g in enumerate(["sim_h", *order], start=1):
                rows.append((k, base.index(g), year - 2018, r))
    k, g, t, r = (np.array(c) for c in zip(*rows, strict=True))
    frame = pd.DataFrame({"indicator": [f"sim_rank{i}" for i in k],
                          "geo": [base[i] for i in g], "year": 2018 + t,
                          "value": r.astype(float), "among": 8})
    frame["unit"] = frame["geo"]
    panel = RankPanel(series=("sim_rank0", "sim_rank1"), geos=base, years=np.arange(2018, 2023),
                      obs_series=k, obs_year=t, obs_weights=np.eye(8)[g], rank=r.astype(float),
                      among=np.full(len(r), 8.0), z=normal_score(r, 8), rows=frame)
    return panel


def test_rank_forecasts_are_kept_with_the_rank_fit_in_the_cache(tmp_path):
    from types import SimpleNamespace

    from tnmodel import runner
    from tnmodel.models.cache import FitCache

    geos = sim_geos()
    fit = fixed_fit(sim_leader_panel(geos), n_draws=300)
    cache, key = FitCache(tmp_path / "fits"), "ab" * 32
    (cache.entry(key)).mkdir(parents=True)
    (cache.entry(key) / "fit.json").write_text("{}", encoding="utf-8")
    target = SimpleNamespace(reading="sim_rank0", year=2024, among=5)
    dataset = SimpleNamespace(geos=geos)
    made = runner._rank_forecast(fit, key, target, dataset, 3, cache)
    (stored,) = (cache.entry(key) / "derived").glob("ranks-*.npy")
    runner._RANK_FORECASTS.clear()  # as in a new process: read from the cache, not made again
    calls = []
    original = runner.forecast_ranks
    runner.forecast_ranks = lambda *a, **k: calls.append(a) or original(*a, **k)
    try:
        again = runner._rank_forecast(fit, key, target, dataset, 3, cache)
        other_seed = runner._rank_forecast(fit, key, target, dataset, 4, cache)
    finally:
        runner.forecast_ranks = original
    assert again is not made and np.array_equal(again.ranks, made.ranks)
    assert again.basis.units == made.basis.units and again.chains == made.chains
    assert len(calls) == 1 and not np.array_equal(other_seed.ranks, made.ranks)
    # An unreadable file, or one that is not a ranking per draw, is made again, not used.
    for damage in (lambda: stored.write_bytes(b"not an array"),
                   lambda: np.save(stored, np.ones_like(made.ranks))):
        damage()
        runner._RANK_FORECASTS.clear()
        assert np.array_equal(runner._rank_forecast(fit, key, target, dataset, 3, cache).ranks,
                              made.ranks)


def test_rank_forecast_properties_and_basis_change():
    geos = sim_geos()
    panel = sim_leader_panel(geos)
    fit = fixed_fit(panel, n_draws=2000)

    old = forecast_ranks(fit, "sim_rank0", 2024, rank_basis(geos, 8), seed=1)
    assert old.ranks.shape == (2000, 8)
    assert (np.sort(old.ranks, axis=1) == np.arange(1, 9)).all()  # a ranking per draw
    for unit in old.basis.units:
        dist = old.distribution(unit)
        assert dist.sum() == pytest.approx(1.0) and len(dist) == 8
        assert old.p_top(unit, 8) == 1.0
    assert sum(old.p_top(u, 1) for u in old.basis.units) == pytest.approx(1.0)
    assert old.p_top("sim_h", 2) > 0.9
    assert old.top_k(1) == ("sim_h",)
    lo, hi = old.interval("sim_h", 0.8)
    assert 1 == lo <= hi <= 3

    new = forecast_ranks(fit, "sim_rank0", 2030, rank_basis(geos, 5), seed=1)
    assert new.ranks.shape == (2000, 5)
    assert (np.sort(new.ranks, axis=1) == np.arange(1, 6)).all()
    assert new.p_top("sim_h", 1) > 0.7  # still ahead of every merged unit's mean
    frame = rank_distribution_frame(new, "sim_target", "sim_cde")
    assert list(frame.columns) == ["target_id", "unit", "among", "rank", "probability"]
    assert len(frame) == 5 and frame["probability"].sum() == pytest.approx(1.0)
    with pytest.raises(KeyError):
        new.of("sim_c")  # merged away: not a unit of the 5-basis
    with pytest.raises(ValueError, match="not a series"):
        forecast_ranks(fit, "sim_other", 2030, rank_basis(geos, 5), seed=1)
    again = forecast_ranks(fit, "sim_rank0", 2030, rank_basis(geos, 5), seed=1)
    assert (again.ranks == new.ranks).all()  # same seed, same ranks


# --------------------------------------------------------------------------------------------
# Data folder, plans and scenario overrides (simulated files)


SIM_RANK_GEOS = "geos:\n" + "".join(
    textwrap.dedent(f"""\
    - id: {g}
      name_vi: {g}
      name_en: {g}
      level: province
    """) + (f"  merged_into: {m}\n  merged_on: '2025-07-01'\n" if m else "")
    for g, m in [("sim_a", "sim_ab"), ("sim_b", "sim_ab"), ("sim_c", None), ("sim_ab", None)])


def write_rank_data(folder: Path, sim_data: Path) -> Path:
    """The shared simulated data with 3 pre-merger provinces (sim_a, sim_b, sim_c -> 2 units)."""
    (sim_data / "geos.yaml").write_text(SIM_RANK_GEOS, encoding="utf-8")
    obs = (sim_data / "observations.csv").read_text(encoding="utf-8").splitlines()
    kept = [line for line in obs if "sim_rank" not in line and "sim_north" not in line
            and "sim_south" not in line and "sim_merged" not in line]
    kept += ["sim_a,sim_rank,2022,1,src_sim,,,3,,,", "sim_b,sim_rank,2022,3,src_sim,,,3,,,",
             "sim_c,sim_rank,2022,2,src_sim,,,3,,,", "sim_a,sim_rank,2022,1,src_sim,,,3,,,",
             "sim_ab,sim_rank,2024,2,src_sim,,,2,,,"]
    (sim_data / "observations.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    targets = textwrap.dedent("""\
        targets:
        - id: sim_a_rank_2030
          geo: sim_a
          indicator: sim_rank
          reading: sim_rank
          year: 2030
          comparator: '<='
          threshold: 1
          among: 3
          instrument: Simulated resolution
          source_id: src_sim
        """)
    (sim_data / "targets.yaml").write_text(targets, encoding="utf-8")
    return sim_data


def test_panel_maps_post_merger_ranks_onto_parts_and_counts_repeats_once(sim_data):
    ds = load_dataset(write_rank_data(sim_data.parent, sim_data))
    panel = rank_panel(ds, ["sim_rank"])
    assert panel.geos == ("sim_a", "sim_b", "sim_c") and panel.n_obs == 4  # repeat counted once
    merged = panel.rows_of("sim_rank", "sim_ab")
    assert len(merged) == 1 and merged["weighting"].iloc[0] == "plain mean"
    row = panel.obs_weights[panel.rows.index[panel.rows["unit"] == "sim_ab"][0]]
    np.testing.assert_allclose(row, [0.5, 0.5, 0.0])
    assert list(panel.years) == [2022, 2023, 2024]
    with pytest.raises(ValueError, match="not a rank"):
        rank_panel(ds, ["sim_share"])


def test_plans_say_which_basis_and_why_not(sim_data):
    ds = load_dataset(write_rank_data(sim_data.parent, sim_data))
    target = ds.targets["sim_a_rank_2030"]
    plan = plan_rank_target(target, ds)
    assert (plan.status, plan.evaluated_geo) == (RANK_ESTIMATED, "sim_a")
    plan = plan_rank_target(target.model_copy(update={"among": 2}), ds)
    assert (plan.status, plan.evaluated_geo) == (RANK_ESTIMATED, "sim_ab")
    plan = plan_rank_target(target.model_copy(update={"among": 63}), ds)
    assert plan.status == INSUFFICIENT and "no basis of 63" in plan.reason
    assert "gives 2 post-merger units" in plan.reason
    plan = plan_rank_target(target.model_copy(update={"geo": "sim_ab"}), ds)
    assert plan.status == INSUFFICIENT and "not one of the pre-merger provinces" in plan.reason
    plan = plan_rank_target(target.model_copy(update={"among": None}), ds)
    assert plan.status == INSUFFICIENT and "no rank basis" in plan.reason


def test_scenario_rank_basis_errors_name_the_line(tmp_path, sim_data):
    from conftest import write_sim_scenario

    from tnmodel.runner import run_scenario

    path = write_sim_scenario(tmp_path, sim_data, extra=textwrap.dedent("""\
        rank_basis:
          sim_north_rank_2030: 34
          sim_north_rank_2031: 34
          sim_north_share_2030: 1
        """))
    with pytest.raises(InputError) as caught:
        run_scenario(path)
    message = str(caught.value)
    assert f"{path.name}:10: rank_basis.sim_north_rank_2031: 'sim_north_rank_2031' is not one" \
        in message and "did you mean 'sim_north_rank_2030'" in message
    assert f"{path.name}:11: rank_basis.sim_north_share_2030: 'sim_north_share_2030' is not " \
        "a rank target" in message
    assert "must be 2 or more" in message


# --------------------------------------------------------------------------------------------
# Real MCMC


@pytest.mark.slow
def test_persistence_and_innovation_are_recovered_from_a_simulated_panel():
    panel, _ = sim_panel(40, 6, seed=11)
    fit = fit_ranks(panel, SamplerSettings(chains=2, draws=400, tune=400), seed=3,
                    gates=GateThresholds(max_rhat=1.05, min_ess_bulk=100))
    assert fit.diagnostics.divergences == 0
    phi = fit.draws["phi"]
    lo, hi = np.quantile(phi, [0.025, 0.975])
    assert lo <= TRUTH["phi"] <= hi, (lo, hi)
    assert abs(np.median(phi) - TRUTH["phi"]) < 0.15
    # The rank-score scale is the simulated scale up to the spread of the ranked values
    # (about 1); the innovation sd is recovered within that tolerance.
    s_lo, s_hi = np.quantile(fit.draws["sigma_innov"], [0.025, 0.975])
    assert s_lo * 0.8 <= TRUTH["sigma_innov"] <= s_hi * 1.25, (s_lo, s_hi)
    # Series 0 was measured with less noise than series 1.
    sig = fit.draws["sigma_obs"]
    assert (sig[:, 0] < sig[:, 1]).mean() > 0.9


@pytest.mark.slow
@pytest.mark.integration
def test_fast_run_gives_rank_rows_on_the_shipped_data(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "tnmodel", "run", "scenarios/baseline.yaml",
         "scenarios/post_merger_ranks.yaml", "--fast", "--quiet", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "baseline" / "targets.csv").set_index("target_id")
    for tid, k in (("thai_nguyen_digital_government_rank_2030", 20),
                   ("thai_nguyen_digital_transformation_rank_2030", 10)):
        row = table.loc[tid]
        assert row["status"] == "estimated (rank model)" and row["among"] == 63
        assert 0 <= row["p_met"] <= 1 and row["p_met_mcse"] < 0.05
        assert 1 <= row["q05"] <= row["q50"] <= row["q95"] <= 63
        assert "rank among the 63 pre-merger provinces" in row["note"]
        assert f"top-{k} set" in row["note"]
    ranks = pd.read_csv(tmp_path / "baseline" / "ranks.csv")
    sums = ranks.groupby("target_id")["probability"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-6)
    gov = ranks[ranks["target_id"] == "thai_nguyen_digital_government_rank_2030"]
    assert gov.loc[gov["rank"] <= 20, "probability"].sum() == pytest.approx(
        table.loc["thai_nguyen_digital_government_rank_2030", "p_met"], abs=1e-6)
    manifest = json.loads((tmp_path / "baseline" / "manifest.json").read_text())
    assert manifest["rank_model"]["diagnostics"]["divergences"] == 0
    assert len(manifest["rank_model"]["targets"][
        "thai_nguyen_digital_government_rank_2030"]["top_k_set"]) == 20
    # The 34 basis: geos.yaml does not record every merged province, so no number is printed.
    post = pd.read_csv(tmp_path / "post_merger_ranks" / "targets.csv").set_index("target_id")
    row = post.loc["thai_nguyen_digital_government_rank_2030"]
    assert row["among"] == 34 and row["status"] == "insufficient data"
    assert pd.isna(row["p_met"]) and "no basis of 34" in row["note"]
