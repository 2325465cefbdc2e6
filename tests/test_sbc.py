"""Simulation-based calibration, short mode: every family, sparse and dense designs.

SIMULATED data only. Few replications with few draws: this catches a clearly miscalibrated
family (a simulator and model that disagree, a broken parametrisation), not subtle bias;
the long run is ``python benchmarks/sbc.py --reps 500``.
"""

from __future__ import annotations

import numpy as np
import pytest

from tnmodel.models import FAMILIES
from tnmodel.models.sbc import (
    BOUNDS,
    BOUNDS_FAMILIES,
    BOUNDS_GEO,
    DESIGNS,
    MIXED,
    MIXED_FAMILIES,
    PARAMETERS,
    censor,
    design_series,
    every_geo,
    sbc_ranks,
    uniformity,
)

REPS = 12
#: Fail only on clearly non-uniform ranks (per parameter; about 40 tests in all).
MIN_P = 1e-4


def test_uniformity_test_detects_non_uniform_ranks():
    import pandas as pd

    rng = np.random.default_rng(0)
    good = pd.DataFrame({"family": "sim", "design": "sim", "parameter": "x",
                         "rank": rng.integers(0, 101, 200), "n_draws": 100})
    biased = good.assign(rank=rng.integers(80, 101, 200), parameter="y")
    table = uniformity(pd.concat([good, biased])).set_index("parameter")
    assert table.loc["x", "p_value"] > 0.01
    assert table.loc["y", "p_value"] < 1e-6 and table.loc["y", "mean_rank"] > 0.75


@pytest.mark.slow
@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_ranks_of_the_truth_are_uniform(family, design):
    ranks = sbc_ranks(family, design, reps=REPS, draws=200, tune=300, thin=2, seed=11)
    table = uniformity(ranks, bins=3)
    assert len(table) == len(set(ranks["parameter"]))
    worst = table.sort_values("p_value").iloc[0]
    assert worst["p_value"] > MIN_P, table.to_string()


@pytest.mark.slow
@pytest.mark.parametrize("family", MIXED_FAMILIES)
def test_ranks_are_uniform_with_source_types_part_year_values_and_a_break(family):
    # The observation layer: the page source's error, the part-year error and the break's
    # offset are among the checked parameters (for transition_local, a simulator drawing
    # the part-year error 3 times too large, or the break 0.3 logits off, gave p < 1e-15
    # with 40 replications).
    ranks = sbc_ranks(family, MIXED, reps=REPS, draws=200, tune=300, thin=2, seed=31)
    table = uniformity(ranks, bins=3)
    assert {"sigma_part", "delta[0]", "sigma_src[2]"} <= set(table["parameter"])
    assert table["p_value"].min() > MIN_P, table.to_string()


@pytest.mark.slow
@pytest.mark.parametrize("family", BOUNDS_FAMILIES)
def test_ranks_are_uniform_with_part_year_values_and_bounds(family):
    # The observation layer: the part-year error, and the level and pace of a geo known half
    # through bounds (censored likelihood terms; for the transition family, latent values in
    # its AR(1) chain).
    ranks = sbc_ranks(family, BOUNDS, reps=REPS, draws=200, tune=300, thin=2, seed=31)
    table = uniformity(ranks, bins=3)
    pace = FAMILIES[family].pace_var
    assert {"sigma_part", f"alpha[{BOUNDS_GEO}]", f"{pace}[{BOUNDS_GEO}]"} <= set(
        table["parameter"])
    assert table["p_value"].min() > MIN_P, table.to_string()


def test_the_bounds_design_reports_alternate_values_of_one_geo_as_bounds_on_the_year_before():
    skeleton = design_series(BOUNDS)
    rng = np.random.default_rng(5)
    y = rng.normal(size=skeleton.n_obs)
    series = censor(skeleton, y)
    geo = np.flatnonzero(skeleton.geo_index == BOUNDS_GEO)
    others = np.flatnonzero(skeleton.geo_index != BOUNDS_GEO)
    assert (series.kind[others] == "exact").all() and np.array_equal(series.y[others], y[others])
    kinds, values, truth = series.kind[geo], series.y[geo], y[geo]
    assert (kinds[0::2] == "exact").all() and np.array_equal(values[0::2], truth[0::2])
    assert set(kinds[1::2]) == {"lower", "upper"}  # both occur with this seed
    assert np.array_equal(values[1::2], truth[0::2])  # the threshold: the year before's value
    above = truth[1::2] >= truth[0::2]
    assert np.array_equal(kinds[1::2] == "lower", above)
    assert list(series.rows["bound"].iloc[geo]) == ["" if k == "exact" else k for k in kinds]
    # Every geo's last value is part-year (the error the design checks with the bounds).
    assert series.part_year.sum() == len(series.geos)
    assert (series.year[series.part_year] == series.year.max()).all()


def test_the_mixed_design_needs_a_family_that_simulates_it():
    other = next(f for f in sorted(FAMILIES) if f not in MIXED_FAMILIES)
    with pytest.raises(ValueError, match=f"family '{other}' does not simulate the 'mixed'"):
        sbc_ranks(other, MIXED, reps=1)


def test_the_bounds_design_needs_a_family_that_simulates_it():
    other = next(f for f in sorted(FAMILIES) if f not in BOUNDS_FAMILIES)
    with pytest.raises(ValueError, match=f"family '{other}' does not simulate the 'bounds'"):
        sbc_ranks(other, BOUNDS, reps=1)


def test_every_geo_ranks_each_geos_parameters_once():
    checked = every_geo((*PARAMETERS["transition"], ("alpha", BOUNDS_GEO, "alpha"),
                         ("sigma_part", None, "sigma_part")), n_geos=3)
    labels = [(name, index) for name, index, _ in checked]
    assert len(labels) == len(set(labels))
    for name in ("alpha", "omega"):
        assert [i for n, i in labels if n == name] == [0, 1, 2]
    assert ("rho", None) in labels and ("sigma_part", None) in labels
