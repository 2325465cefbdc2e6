"""tnmodel.scenario: scenario files are validated with file:line errors before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_sim_scenario  # noqa: I001 (tests folder helper)

from tnmodel.data import load_dataset
from tnmodel.problems import InputError
from tnmodel.scenario import FAST_SAMPLER, check_scenario_against_data, load_scenario

REPO = Path(__file__).resolve().parents[1]


def test_shipped_scenarios_load_and_match_the_data():
    dataset = load_dataset(REPO / "data")
    paths = sorted((REPO / "scenarios").glob("*.yaml"))
    assert paths
    for path in paths:
        scenario = load_scenario(path)
        assert scenario.data_dir() == (REPO / "data").resolve()
        assert check_scenario_against_data(scenario, dataset.targets, dataset.indicators,
                                           dataset.geos) == []


def test_typo_gets_line_and_did_you_mean(tmp_path, sim_data):
    path = write_sim_scenario(tmp_path, sim_data, extra="horizn: 2030\n")
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert f"{path.name}:8: horizn: unknown key 'horizn' (did you mean 'horizon'?)" in message


def test_nested_error_points_at_its_line(tmp_path, sim_data):
    path = write_sim_scenario(tmp_path, sim_data,
                              extra="models:\n  sim_share:\n    since: soon\n")
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    assert f"{path.name}:10: models.sim_share.since:" in str(caught.value)


def test_unknown_target_and_indicator_are_named(tmp_path, sim_data):
    path = write_sim_scenario(tmp_path, sim_data, extra="models:\n  sim_shar: {since: 2019}\n")
    scenario = load_scenario(path).model_copy(
        update={"targets": ("sim_north_share_2030", "sim_north_shar_2030")})
    ds = load_dataset(sim_data)
    problems = [str(p) for p in check_scenario_against_data(scenario, ds.targets, ds.indicators,
                                                            ds.geos)]
    assert any("unknown target 'sim_north_shar_2030'" in p and "sim_north_share_2030" in p
               for p in problems), problems
    assert any(":9: models.sim_shar: unknown indicator 'sim_shar'" in p for p in problems)


def test_fast_settings_and_hash():
    scenario = load_scenario(REPO / "scenarios" / "baseline.yaml")
    fast = scenario.with_fast_settings()
    assert fast.sampler == FAST_SAMPLER and scenario.sampler != FAST_SAMPLER
    assert fast.content_hash() != scenario.content_hash()
    assert load_scenario(REPO / "scenarios" / "baseline.yaml").content_hash() == \
        scenario.content_hash()


def test_duplicate_targets_and_bad_name(tmp_path, sim_data):
    path = write_sim_scenario(tmp_path, sim_data)
    text = path.read_text().replace("sim_north_rank_2030]", "sim_north_share_2030]")
    path.write_text(text.replace("name: sim_baseline", "name: Sim Baseline!"))
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "listed more than once: sim_north_share_2030" in message
    assert ":1: name:" in message
