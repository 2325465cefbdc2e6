"""tnmodel.models.cache: fits keyed by content, checked on load, never silently stale."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from tnmodel.data import load_dataset
from tnmodel.models import (
    Diagnostics,
    Fit,
    GateThresholds,
    LogitTrendPriors,
    ModelSpec,
    SamplerSettings,
    select_series,
)
from tnmodel.models import cache as cache_module
from tnmodel.models.cache import FitCache, fit_cached, fit_key

SAMPLER = SamplerSettings(chains=2, draws=100, tune=100)
GATES = GateThresholds(max_rhat=1.1, min_ess_bulk=20)


@pytest.fixture
def series(sim_data):
    return select_series(load_dataset(sim_data), "sim_share", follow_lineage_of=("sim_north",))


@pytest.fixture
def counted_fits(monkeypatch):
    """Replace MCMC by a SIMULATED posterior of the right shape, and count the calls."""
    calls = []

    def fake_fit(series, spec, sampler, seed, gates, progressbar=False):
        calls.append(seed)
        rng = np.random.default_rng(seed)
        geos = len(series.geos)
        shape = (sampler.chains, sampler.draws)
        posterior = xr.Dataset({
            "alpha": (("chain", "draw", "geo"), rng.normal(size=(*shape, geos))),
            "beta": (("chain", "draw", "geo"), rng.normal(size=(*shape, geos))),
            "sigma_obs": (("chain", "draw"), rng.lognormal(size=shape)),
        }, coords={"geo": list(series.geos)})
        tree = xr.DataTree.from_dict({"/posterior": posterior})
        diagnostics = Diagnostics(1.0, 500.0, 0, "alpha[x]", "beta[x]", 0.1)
        from tnmodel.models import FAMILIES
        draws = FAMILIES[spec.family].extract_draws(tree, series)
        return Fit(series, spec, tree, draws, diagnostics)

    monkeypatch.setattr(cache_module, "fit_series", fake_fit)
    return calls


def test_second_call_is_a_hit_with_the_same_draws(tmp_path, series, counted_fits):
    cache = FitCache(tmp_path / "fits")
    first, key, hit = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    again, key2, hit2 = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    assert (hit, hit2, key) == (False, True, key2)
    assert len(counted_fits) == 1
    for name in ("alpha", "beta", "sigma_obs"):
        np.testing.assert_array_equal(first.draws[name], again.draws[name])
    assert again.diagnostics == first.diagnostics
    assert cache.size()[0] == 1


def test_a_fit_read_from_disk_has_its_draws_and_reads_the_posterior_only_when_asked(
        tmp_path, series, counted_fits):
    from tnmodel.models import StoredPosterior

    cache = FitCache(tmp_path / "fits")
    first, key, _ = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    cache_module._IN_MEMORY.clear()  # as in a new process
    again, _, hit = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    assert hit and again is not first
    assert isinstance(again.__dict__["posterior"], StoredPosterior)  # not read yet
    assert again.chains == SAMPLER.chains
    for name, values in first.draws.items():
        np.testing.assert_array_equal(again.draws[name], values)
    # The posterior is read on first use, and is the stored one.
    assert again.posterior.posterior["alpha"].equals(first.posterior.posterior["alpha"])
    assert isinstance(again.__dict__["posterior"], xr.DataTree)
    # Draws that do not match their recorded hash are a corrupt entry: refitted, not used.
    cache_module._IN_MEMORY.clear()
    (cache.entry(key) / "draws.npz").write_bytes(b"tampered")
    assert not fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)[2]
    assert "draws.npz" in cache.rejected[-1]
    # An entry written before draws were kept is still read (the posterior at once).
    meta_file = cache.entry(key) / "fit.json"
    meta = json.loads(meta_file.read_text())
    del meta["draws_sha256"]
    meta_file.write_text(json.dumps(meta))
    cache_module._IN_MEMORY.clear()
    old, _, hit = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    assert hit and isinstance(old.__dict__["posterior"], xr.DataTree)
    np.testing.assert_array_equal(old.draws["alpha"], first.draws["alpha"])


def test_key_changes_with_everything_that_determines_a_fit(sim_data, series):
    base = fit_key(series, ModelSpec(), SAMPLER, GATES, 5)
    assert base == fit_key(series, ModelSpec(), SAMPLER, GATES, 5)
    changed = {
        "seed": fit_key(series, ModelSpec(), SAMPLER, GATES, 6),
        "sampler": fit_key(series, ModelSpec(), SAMPLER.model_copy(update={"draws": 101}),
                           GATES, 5),
        "gates": fit_key(series, ModelSpec(), SAMPLER, GateThresholds(), 5),
        "priors": fit_key(series, ModelSpec(priors=LogitTrendPriors(pace_mean=0.3)), SAMPLER,
                          GATES, 5),
        "window": fit_key(select_series(load_dataset(sim_data), "sim_share", since=2019,
                                        follow_lineage_of=("sim_north",)),
                          ModelSpec(), SAMPLER, GATES, 5),
    }
    # One changed observation value changes the key too.
    text = (sim_data / "observations.csv").read_text(encoding="utf-8")
    (sim_data / "observations.csv").write_text(
        text.replace("sim_south,sim_share,2024,58", "sim_south,sim_share,2024,59"),
        encoding="utf-8")
    edited = select_series(load_dataset(sim_data), "sim_share", follow_lineage_of=("sim_north",))
    changed["value"] = fit_key(edited, ModelSpec(), SAMPLER, GATES, 5)
    for what, key in changed.items():
        assert key != base, f"changing the {what} must change the fit key"


def test_corrupt_entry_is_detected_and_refitted(tmp_path, series, counted_fits):
    cache = FitCache(tmp_path / "fits")
    _, key, _ = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    posterior = cache.entry(key) / "posterior.nc"
    blob = bytearray(posterior.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    posterior.write_bytes(bytes(blob))

    _, _, hit = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    assert not hit and len(counted_fits) == 2
    assert "corrupt" in cache.rejected[0]
    assert fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)[2]  # rewritten, good


def test_stale_entry_is_detected_and_refitted(tmp_path, series, counted_fits):
    cache = FitCache(tmp_path / "fits")
    _, key, _ = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    meta_file = cache.entry(key) / "fit.json"
    meta = json.loads(meta_file.read_text())
    meta["key"] = "0" * 64  # e.g. an entry copied from another fit
    meta_file.write_text(json.dumps(meta))

    _, _, hit = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    assert not hit and len(counted_fits) == 2
    assert "stale" in cache.rejected[0]


def test_unreadable_metadata_is_refitted_and_no_cache_always_fits(tmp_path, series,
                                                                  counted_fits):
    cache = FitCache(tmp_path / "fits")
    _, key, _ = fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)
    (cache.entry(key) / "fit.json").write_text("{not json")
    assert not fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, cache)[2]
    fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, None)
    fit_cached(series, ModelSpec(), SAMPLER, 5, GATES, None)
    assert len(counted_fits) == 4
    assert cache.clear() == 1 and cache.size() == (0, 0)


@pytest.mark.slow
def test_a_real_fit_round_trips_through_the_cache(tmp_path, series):
    cache = FitCache(tmp_path / "fits")
    fresh, _, _ = fit_cached(series, ModelSpec(), SamplerSettings(chains=2, draws=300, tune=300),
                             11, GATES, cache)
    loaded, _, hit = fit_cached(series, ModelSpec(),
                                SamplerSettings(chains=2, draws=300, tune=300), 11, GATES, cache)
    assert hit
    for name in ("alpha", "beta", "sigma_obs"):
        np.testing.assert_array_equal(fresh.draws[name], loaded.draws[name])
    assert loaded.posterior.posterior.sizes == fresh.posterior.posterior.sizes




def test_a_scenario_that_changes_only_interventions_reuses_the_cached_fits(
        tmp_path, sim_data, counted_fits):
    from conftest import SIM_PUSH, write_sim_scenario

    from tnmodel.runner import run_scenario

    cache = FitCache(tmp_path / "fits")
    base = run_scenario(write_sim_scenario(tmp_path, sim_data), cache=cache)
    assert len(counted_fits) == 2  # sim_share and its proxy
    (tmp_path / "push.yaml").write_text(SIM_PUSH, encoding="utf-8")
    push = run_scenario(tmp_path / "push.yaml", cache=cache)
    assert len(counted_fits) == 2, "changing interventions must not refit"
    for indicator in ("sim_share", "sim_proxy"):
        first, second = base.manifest["fits"][indicator], push.manifest["fits"][indicator]
        assert (first["from_cache"], second["from_cache"]) == (False, True)
        assert first["fit_key"] == second["fit_key"]
    a = base.targets.set_index("target_id").loc["sim_north_share_2030"]
    b = push.targets.set_index("target_id").loc["sim_north_share_2030"]
    assert b["q50"] != a["q50"]  # the intervention did act, on the same fits
    # A change that does determine the fit (the seed) refits.
    (tmp_path / "seed.yaml").write_text("name: sim_seed\ntitle: Other seed\n"
                                        "extends: sim_baseline\nseed: 8\n", encoding="utf-8")
    run_scenario(tmp_path / "seed.yaml", cache=cache)
    assert len(counted_fits) == 4
