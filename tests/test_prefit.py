"""tnmodel.prefit: the fits a cold run needs, made in parallel worker processes, change nothing.

Everything here runs on the SIMULATED data of conftest.py.
"""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import SIM_PUSH, write_sim_scenario

from tnmodel.models.cache import FitCache
from tnmodel.prefit import FitJob, _fit_job, missing_fits, prefit
from tnmodel.runner import run_scenario
from tnmodel.scenario import load_scenario


@pytest.fixture
def sim_scenarios(tmp_path, sim_data):
    base = write_sim_scenario(tmp_path, sim_data)
    (tmp_path / "sim_push.yaml").write_text(SIM_PUSH, encoding="utf-8")
    return [load_scenario(base), load_scenario(tmp_path / "sim_push.yaml")]


def test_missing_fits_are_distinct_and_skip_what_is_cached(tmp_path, sim_scenarios):
    cache = FitCache(tmp_path / "fits")
    jobs = missing_fits(sim_scenarios, cache)
    # The push differs from the baseline only in an intervention: it needs no fit of its own.
    assert sorted(job.label for job in jobs) == ["sim_proxy", "sim_share"]
    assert len({job.key for job in jobs}) == len(jobs)
    # Another seed means other fits: other keys.
    reseeded = [s.model_copy(update={"seed": 8}) for s in sim_scenarios]
    assert {job.key for job in missing_fits(reseeded, cache)}.isdisjoint(j.key for j in jobs)
    # An entry in the cache is not fitted again.
    done = cache.entry(jobs[0].key)
    done.mkdir(parents=True)
    (done / "fit.json").write_text("{}", encoding="utf-8")
    assert [job.key for job in missing_fits(sim_scenarios, cache)] == [jobs[1].key]


def test_a_failing_fit_returns_its_error_instead_of_raising(tmp_path, sim_scenarios):
    broken = sim_scenarios[0].model_copy(update={"data": str(tmp_path / "no_such_folder")})
    error = _fit_job(FitJob("0" * 64, broken, "sim_share"), str(tmp_path / "fits"))
    assert error is not None and "no_such_folder" in error
    assert not (tmp_path / "fits").exists()  # nothing half-written


@pytest.mark.slow
@pytest.mark.integration
def test_prefit_in_workers_gives_the_serial_results(tmp_path, sim_scenarios):
    serial = [run_scenario(s, fast=True, cache=FitCache(tmp_path / "serial")) for s in
              sim_scenarios]

    cache = FitCache(tmp_path / "parallel")
    report = prefit(sim_scenarios, cache, fast=True, workers=2)
    assert sorted(report.fitted) == ["sim_proxy", "sim_share"] and not report.failed
    assert missing_fits(sim_scenarios, cache, fast=True) == []
    parallel = [run_scenario(s, fast=True, cache=cache, prefitted=report.keys)
                for s in sim_scenarios]
    for one, other in zip(serial, parallel, strict=True):
        pd.testing.assert_frame_equal(one.targets, other.targets)
        pd.testing.assert_frame_equal(one.quantiles, other.quantiles)
        fits = other.manifest["fits"]
        assert {f["fit_key"] for f in fits.values()} == set(report.keys)
        assert not any(f["from_cache"] for f in fits.values())  # fitted now, in a worker
    # Nothing left to do: a second prefit starts no workers.
    assert prefit(sim_scenarios, cache, fast=True, workers=2).workers == 0
