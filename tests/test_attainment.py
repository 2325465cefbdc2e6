"""Targets over time (first year met, P by year), the inverse, the required acceleration, and
the run pipeline fit -> paths -> interventions -> targets without MCMC (SIMULATED fits)."""

from __future__ import annotations

import json
import zlib
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import SIM_PUSH, write_sim_scenario  # noqa: I001

import tnmodel.runner as runner
from tnmodel.data import Target, load_dataset
from tnmodel.forecast import Paths
from tnmodel.interventions import Context, scale_pace
from tnmodel.models import Diagnostics, Fit, ModelSpec
from tnmodel.problems import InputError
from tnmodel.scenario import load_scenario
from tnmodel.targets import (
    first_year_met,
    first_year_table,
    inverse_value,
    required_acceleration,
)

YEARS = np.arange(2020, 2031)


def logit(p):
    return np.log(p) - np.log1p(-p)
SHARE = Context()


def target(threshold=80.0, comparator=">=", year=2030) -> Target:
    return Target(id="sim_t", geo="sim_a", indicator="sim_share", reading="sim_share",
                  year=year, comparator=comparator, threshold=threshold,
                  instrument="simulated", source_id="src_sim")


def sim_linear_paths(paces: np.ndarray, level_2025: float = 50.0, noise=None) -> Paths:
    """SIMULATED trends through ``level_2025`` with one pace (logits a year) per draw."""
    x = logit(level_2025 / 100) + paces[:, None] * (YEARS - 2025)[None, :]
    values = 100 / (1 + np.exp(-x))
    return Paths("sim_share", ("sim_a",), YEARS, values[:, None, :], chains=4,
                 noise=None if noise is None else noise[:, None, :])


def quantile_paces(n: int = 10_000) -> np.ndarray:
    """Deterministic positive paces: lognormal quantiles around 0.1 logits a year."""
    z = np.array([NormalDist().inv_cdf((i + 0.5) / n) for i in range(n)])
    return 0.1 * np.exp(0.3 * z)


def test_required_acceleration_matches_the_analytic_answer():
    paces = quantile_paces()
    paths = sim_linear_paths(paces)
    # met iff factor * pace * 5 >= logit(0.8); P >= 0.8 first when the 2000th smallest pace
    # (8000 of 10000 at or above it) reaches the line
    need = logit(0.8) / 5
    exact = need / np.sort(paces)[2000]
    found = required_acceleration(paths, "sim_a", target(), 2025, SHARE)
    assert exact <= found.factor <= exact + 0.005, (exact, found)
    assert "2025" in found.text and f"x{found.factor:.2f}" in found.text
    # consistent with the accelerate transformation itself
    met = target().is_met(scale_pace(paths, "sim_a", 2025, found.factor, SHARE).at("sim_a", 2030))
    assert met.mean() >= 0.8
    below = scale_pace(paths, "sim_a", 2025, found.factor - 0.01, SHARE).at("sim_a", 2030)
    assert target().is_met(below).mean() < 0.8


def test_required_acceleration_edge_cases():
    paths = sim_linear_paths(quantile_paces())
    unreachable = required_acceleration(paths, "sim_a", target(), 2025, SHARE, cap=1.5)
    assert unreachable.factor is None and unreachable.text.startswith("not reachable below x1.5")
    easy = required_acceleration(paths, "sim_a", target(threshold=55), 2025, SHARE)
    assert easy.factor == 1.0 and easy.text.startswith("none needed")
    flat = sim_linear_paths(np.zeros(100))
    stuck = required_acceleration(flat, "sim_a", target(), 2025, SHARE)
    assert stuck.factor is None and "no progress after 2025" in stuck.text
    late = required_acceleration(paths, "sim_a", target(year=2025), 2025, SHARE)
    assert late.factor is None and "not after 2025" in late.text


def test_required_acceleration_with_noise_uses_the_trend():
    paces = quantile_paces(4000)
    noise = np.random.default_rng(1).normal(0, 0.2, (4000, len(YEARS)))
    trend = sim_linear_paths(paces).values
    values = 100 / (1 + np.exp(-(np.log(trend / (100 - trend)) + noise[:, None, :])))
    noisy = Paths("sim_share", ("sim_a",), YEARS, values, 4, noise[:, None, :])
    found = required_acceleration(noisy, "sim_a", target(), 2025, SHARE)
    met = target().is_met(scale_pace(noisy, "sim_a", 2025, found.factor, SHARE).at("sim_a", 2030))
    assert met.mean() >= 0.8
    lower = scale_pace(noisy, "sim_a", 2025, found.factor - 0.01, SHARE).at("sim_a", 2030)
    assert target().is_met(lower).mean() < 0.8


def test_first_year_met_and_its_table():
    values = np.array([
        [10, 20, 30, 50, 85, 90, 95],   # first met 2028
        [10, 10, 10, 10, 10, 10, 10],   # never
        [90, 95, 96, 97, 98, 99, 99],   # already in 2024
        [10, 20, 30, 50, 85, 70, 95],   # 2028 (dips below later: still first met 2028)
    ], dtype=float)
    years = np.arange(2024, 2031)
    paths = Paths("sim_share", ("sim_a",), years, values[:, None, :], chains=1)
    window, first = first_year_met(paths, "sim_a", target(), 2024)
    assert list(window) == list(years)
    assert list(first) == [2028, np.inf, 2024, 2028]
    table = pd.DataFrame(first_year_table(paths, "sim_a", target(), 2024))
    assert table.set_index("year")["p_first"].to_dict() == {
        2024: 0.25, 2025: 0.0, 2026: 0.0, 2027: 0.0, 2028: 0.5, 2029: 0.0, 2030: 0.0}
    assert table["p_met_by"].iloc[-1] == 0.75  # one draw never meets it
    assert np.all(np.diff(table["p_met_by"]) >= 0)


def test_inverse_value_is_reached_with_the_stated_probability():
    values = np.random.default_rng(2).normal(70, 10, 20_000)
    high = inverse_value(values, ">=", 0.8)
    low = inverse_value(values, "<=", 0.8)
    assert abs(np.mean(values >= high) - 0.8) < 0.001
    assert abs(np.mean(values <= low) - 0.8) < 0.001
    assert high < 70 < low


# --------------------------------------------------------------------------------------------
# The run pipeline with SIMULATED fits (no MCMC)


def sim_fit(series, scenario, indicator) -> Fit:
    """A SIMULATED posterior: logit-linear trends, 2 chains x 400 draws."""
    rng = np.random.default_rng(zlib.crc32(indicator.encode()))
    n, g = 800, len(series.geos)
    draws = {"alpha": rng.normal(0.5, 0.2, (n, g)), "beta": rng.normal(0.15, 0.05, (n, g)),
             "sigma_obs": np.full(n, 0.05), "centre": np.full(g, 2022.0)}
    posterior = xr.DataTree.from_dict({"/posterior": xr.Dataset(
        {"sigma_obs": (("chain", "draw"), draws["sigma_obs"].reshape(2, -1))})})
    diagnostics = Diagnostics(1.0, 1000.0, 0, "-", "-", 0.0)
    return Fit(series, ModelSpec(), posterior, draws, diagnostics)


@pytest.fixture
def counted_fits(monkeypatch):
    calls = []

    def fake(scenario, indicator, series, cache=None):
        calls.append(indicator)
        return sim_fit(series, scenario, indicator), f"sim-key-{indicator}", False

    monkeypatch.setattr(runner, "fit_indicator", fake)
    return calls





def test_interventions_reuse_fits_and_move_the_probability(tmp_path, sim_data, counted_fits):
    base = load_scenario(write_sim_scenario(tmp_path, sim_data))
    dataset = load_dataset(sim_data)
    first = runner.run_scenario(base, dataset=dataset)
    assert sorted(counted_fits) == ["sim_proxy", "sim_share"]
    (tmp_path / "push.yaml").write_text(SIM_PUSH, encoding="utf-8")
    push = load_scenario(tmp_path / "push.yaml")
    second = runner.run_scenario(push, dataset=dataset, fits=first.fits)
    assert sorted(counted_fits) == ["sim_proxy", "sim_share"]  # no refit
    assert second.manifest["reused_fits"] == ["sim_proxy", "sim_share"]
    assert second.manifest["interventions"][0].startswith("accelerate: sim_share sim_north")

    a = first.targets.set_index("target_id").loc["sim_north_share_2030"]
    b = second.targets.set_index("target_id").loc["sim_north_share_2030"]
    assert b["q50"] > a["q50"] and b["p_met"] >= a["p_met"]
    assert b["interventions"].startswith("accelerate") and a["interventions"] == ""
    for row in (a, b):
        assert row["p_met_by"] >= row["p_met"] - 1e-12  # met in its year implies met by it
        assert row["q10"] <= row["q25"] <= row["q50"] <= row["q75"] <= row["q90"]
        assert row["required_from_year"] == 2025  # the merged geo's last observed year
    # the required acceleration of the baseline, applied as an intervention, gives P >= 0.8
    assert a["p_met"] < 0.8 and 1 < a["required_factor"] < 5  # so the next check means it
    text = SIM_PUSH.replace("{distribution: lognormal, median: 2.0, p90: 2.5}",
                        f"{a['required_factor']}")
    (tmp_path / "push.yaml").write_text(text, encoding="utf-8")
    third = runner.run_scenario(load_scenario(tmp_path / "push.yaml"), dataset=dataset,
                                fits=first.fits)
    assert third.targets.set_index("target_id").loc["sim_north_share_2030", "p_met"] >= 0.8
    table = second.first_year
    mine = table[table["target_id"] == "sim_north_share_2030"]
    assert mine["year"].min() == 2025 and mine["year"].max() == 2030
    assert abs(mine["p_met_by"].iloc[-1] - (1 - b["p_never"])) < 1e-12
    assert abs(mine.loc[mine["year"] == 2030, "p_met_by"].iloc[0] - b["p_met_by"]) < 1e-12

    folder = runner.write_result(second, tmp_path / "results")
    assert sorted(p.name for p in folder.iterdir()) == [
        "first_year.csv", "manifest.json", "posterior", "quantiles.csv", "targets.csv"]
    written = pd.read_csv(folder / "targets.csv")
    assert list(written.columns) == list(runner.TARGET_COLUMNS)
    assert json.loads((folder / "manifest.json").read_text())["others"] == "business_as_usual"


def test_intervention_without_a_forecast_is_an_input_error_with_its_line(tmp_path, sim_data,
                                                                         counted_fits):
    write_sim_scenario(tmp_path, sim_data)
    text = SIM_PUSH.replace("indicator: sim_share", "indicator: sim_skills")
    (tmp_path / "push.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        runner.run_scenario(tmp_path / "push.yaml")
    assert ("push.yaml:6: interventions[0].indicator: no target of this scenario reads "
            "'sim_skills'") in str(caught.value)
    assert counted_fits == []  # refused before any fit
    text = SIM_PUSH.replace("from_year: 2025", "from_year: 2035")
    (tmp_path / "push.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=r"push.yaml:8: interventions\[0\].from_year: 2035 is "
                                         r"outside the forecast years"):
        runner.run_scenario(tmp_path / "push.yaml")


def test_remembered_forecasts_are_only_for_the_draws_they_came_from(sim_data):
    """A business-as-usual forecast is reused for the same draws (copies of a cached fit
    share them) and never for another fit that happens to carry the same key."""
    from tnmodel.data import load_dataset
    from tnmodel.forecast import remembered_paths
    from tnmodel.models import select_series, with_changes

    series = select_series(load_dataset(sim_data), "sim_share")
    fit = sim_fit(series, None, "sim_share")
    years = np.arange(2020, 2031)
    first = remembered_paths(fit, "sim-key", years, 1)
    assert remembered_paths(with_changes(fit, series=series), "sim-key", years, 1) is first
    assert not first.values.flags.writeable  # shared, so read-only
    other = with_changes(fit, draws={**fit.draws, "beta": fit.draws["beta"] + 0.5})
    again = remembered_paths(other, "sim-key", years, 1)
    assert again is not first and (again.values.mean() > first.values.mean())
