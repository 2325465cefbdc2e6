"""Scenario files: extends, sweeps, interventions, errors with file:line, the committed schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_sim_scenario  # noqa: I001

from tnmodel.data import load_dataset
from tnmodel.problems import InputError
from tnmodel.scenario import (
    check_scenario_against_data,
    child_name,
    deep_merge,
    expand_sweep,
    load_scenario,
    load_scenarios,
    parse_path,
    schema_json,
)

REPO = Path(__file__).resolve().parents[1]
HEADER = "# yaml-language-server: $schema=./schema.json"

PUSH = """\
name: sim_push
title: Simulated push
extends: sim_baseline
seed: 8
sampler: {draws: 300}
interventions:
  - type: accelerate
    indicator: sim_share
    geo: sim_north
    from_year: 2025
    factor: {distribution: lognormal, median: 1.5, p90: 2.0}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    return str(caught.value)


def test_deep_merge_maps_merge_lists_replace():
    parent = {"a": {"x": 1, "y": [1, 2]}, "b": [1], "c": 1}
    child = {"a": {"y": [3]}, "b": [2, 3], "d": 4}
    assert deep_merge(parent, child) == {"a": {"x": 1, "y": [3]}, "b": [2, 3], "c": 1, "d": 4}
    assert parent == {"a": {"x": 1, "y": [1, 2]}, "b": [1], "c": 1}  # inputs untouched


def test_extends_by_name_merges_and_records_the_parent(tmp_path, sim_data):
    write_sim_scenario(tmp_path, sim_data)
    child = load_scenario(write(tmp_path, "push.yaml", PUSH))
    assert child.extends == "sim_baseline" and child.name == "sim_push"
    assert child.seed == 8
    assert (child.sampler.chains, child.sampler.draws, child.sampler.tune) == (2, 300, 500)
    assert len(child.targets) == 3  # inherited
    assert child.interventions[0].factor.median == 1.5
    assert child.data_dir() == sim_data.resolve()
    # by relative file, two levels deep
    sub = tmp_path / "more"
    sub.mkdir()
    grandchild = write(sub, "g.yaml", "name: sim_g\ntitle: G\nextends: ../push.yaml\n"
                                      "targets: [sim_north_share_2030]\n")
    loaded = load_scenario(grandchild)
    assert loaded.targets == ("sim_north_share_2030",)  # lists replace
    assert loaded.seed == 8 and loaded.interventions == child.interventions


def test_errors_point_at_the_file_and_line_they_come_from(tmp_path, sim_data):
    parent = write_sim_scenario(tmp_path, sim_data, extra="models:\n  sim_share:\n"
                                                          "    since: soon\n")
    child = write(tmp_path, "push.yaml", PUSH.replace("    from_year: 2025\n",
                                                      "    from_yeer: 2025\n"))
    message = problems_of(child)
    assert f"{parent.name}:10: models.sim_share.since:" in message
    assert ("push.yaml:10: interventions[0].from_yeer: unknown key 'from_yeer' "
            "(did you mean 'from_year'?)") in message
    assert "push.yaml:7: interventions[0].from_year: required but missing" in message


def test_unknown_intervention_type_and_bad_effect(tmp_path, sim_data):
    write_sim_scenario(tmp_path, sim_data)
    text = PUSH.replace("type: accelerate", "type: acelerate")
    assert ("push.yaml:7: interventions[0].type: unknown intervention type 'acelerate' "
            "(did you mean 'accelerate'?)") in problems_of(write(tmp_path, "push.yaml", text))
    text = PUSH.replace("p90: 2.0", "p90: 1.0")
    assert ("push.yaml:11: interventions[0].factor: Value error, p90 (1) must be above the "
            "median (1.5)") in problems_of(write(tmp_path, "push.yaml", text))
    text = PUSH.replace("{distribution: lognormal, median: 1.5, p90: 2.0}",
                        "{distribution: lognormal, median: 1.5, p99: 2.0}")
    message = problems_of(write(tmp_path, "push.yaml", text))
    assert "push.yaml:11: interventions[0].factor.p99: unknown key 'p99' (did you mean 'p90'?)" \
        in message


def test_extends_problems(tmp_path, sim_data):
    write_sim_scenario(tmp_path, sim_data)
    missing = write(tmp_path, "m.yaml", "name: sim_m\ntitle: M\nextends: sim_baseln\n")
    assert "m.yaml:3: extends: no scenario named 'sim_baseln'" in problems_of(missing)
    assert "did you mean 'sim_baseline'" in problems_of(missing)
    write(tmp_path, "a.yaml", "name: sim_a\ntitle: A\nextends: b.yaml\n")
    b = write(tmp_path, "b.yaml", "name: sim_b\ntitle: B\n\nextends: a.yaml\n")
    # the link that closes the cycle is the one reported
    assert "a.yaml:3: extends: extends cycle: b.yaml -> a.yaml -> b.yaml" in problems_of(b)
    itself = write(tmp_path, "self.yaml", "name: sim_s\ntitle: S\nextends: self.yaml\n")
    assert "extends cycle" in problems_of(itself)
    nameless = write(tmp_path, "n.yaml", "title: N\nextends: sim_baseline\n")
    assert "needs its own 'name'" in problems_of(nameless)


def test_sweep_block_expands_into_validated_children(tmp_path, sim_data):
    write_sim_scenario(tmp_path, sim_data)
    path = write(tmp_path, "push.yaml", PUSH + "sweep:\n  interventions[0].factor.median: "
                                               "[1.2, 1.5]\n  seed: [1, 2]\n")
    children = load_scenarios(path)
    assert [c.name for c in children] == [
        "sim_push__interventions_0_factor_median-1p2__seed-1",
        "sim_push__interventions_0_factor_median-1p2__seed-2",
        "sim_push__interventions_0_factor_median-1p5__seed-1",
        "sim_push__interventions_0_factor_median-1p5__seed-2",
    ]
    assert [c.interventions[0].factor.median for c in children] == [1.2, 1.2, 1.5, 1.5]
    assert [c.seed for c in children] == [1, 2, 1, 2]
    assert all(c.sweep is None and c.source_file == path.resolve() for c in children)
    assert len({c.content_hash() for c in children}) == 4
    # the same sweep twice gives the same names and hashes
    assert [c.content_hash() for c in load_scenarios(path)] == [c.content_hash()
                                                                for c in children]


def test_sweep_child_that_does_not_validate_is_placed_at_the_sweep_line(tmp_path, sim_data):
    write_sim_scenario(tmp_path, sim_data)
    path = write(tmp_path, "push.yaml", PUSH + "sweep:\n  interventions[0].factor.p90: "
                                               "[3.0, 1.0]\n  horizon: [2030]\n")
    with pytest.raises(InputError) as caught:
        load_scenarios(path)
    message = str(caught.value)
    assert "push.yaml:13: sweep.interventions[0].factor.p90: child sim_push__" in message
    assert "must be above the median" in message
    assert "1 problem(s)" in message


def test_expand_sweep_from_the_command_line_form(tmp_path, sim_data):
    base = load_scenario(write_sim_scenario(tmp_path, sim_data))
    children = expand_sweep(base, {"horizon": ["2031", "2032"]})  # strings, as typed
    assert [c.horizon for c in children] == [2031, 2032]
    with pytest.raises(InputError, match=r"interventions has no item \[0\]"):
        expand_sweep(base, {"interventions[0].factor.median": [1.2]})
    with pytest.raises(InputError, match="unknown key|Extra inputs"):
        expand_sweep(base, {"horizn": [2030]})
    with pytest.raises(InputError, match="not a dotted path"):
        expand_sweep(base, {"a..b": [1]})


def test_path_parsing_and_child_names():
    assert parse_path("interventions[0].factor.median") == ("interventions", 0, "factor",
                                                            "median")
    assert parse_path("models.online_dossier_share.since") == ("models", "online_dossier_share",
                                                               "since")
    assert child_name("x", {"seed": 3, "a.b": "Hi There"}) == "x__seed-3__a_b-hi_there"


def test_interventions_are_checked_against_the_data(tmp_path, sim_data):
    write_sim_scenario(tmp_path, sim_data)
    text = PUSH.replace("geo: sim_north", "geo: sim_nort").replace("indicator: sim_share",
                                                                   "indicator: sim_shar")
    text += ("  - type: merge\n    indicator: sim_share\n    geo: sim_both\n"
             "    members: [sim_north, sim_south]\n")
    scenario = load_scenario(write(tmp_path, "push.yaml", text))
    ds = load_dataset(sim_data)
    found = [str(p) for p in check_scenario_against_data(scenario, ds.targets, ds.indicators,
                                                         ds.geos)]
    assert any("push.yaml:8: interventions[0].indicator: unknown indicator 'sim_shar' "
               "(did you mean 'sim_share'" in p for p in found), found
    assert any("push.yaml:9: interventions[0].geo: unknown geo 'sim_nort' "
               "(did you mean 'sim_north'" in p for p in found), found
    assert any("push.yaml:15: interventions[1].members: no population for sim_north, sim_south"
               in p for p in found), found


def test_committed_schema_is_current():
    committed = (REPO / "scenarios" / "schema.json").read_text(encoding="utf-8")
    assert committed == schema_json(), "scenarios/schema.json is stale: run `tnmodel schema`"
    schema = json.loads(committed)
    assert schema["additionalProperties"] is False
    assert {"extends", "sweep", "interventions", "others"} <= set(schema["properties"])
    assert "source_file" not in schema["properties"]


def test_shipped_scenarios_have_the_schema_header_and_run_shapes():
    paths = sorted((REPO / "scenarios").glob("*.yaml"))
    names = {p.stem for p in paths}
    assert {"baseline", "resolution01_push", "stall", "skills_campaign", "post_merger"} <= names
    for path in paths:
        assert path.read_text(encoding="utf-8").splitlines()[0] == HEADER, path.name
        scenario = load_scenario(path)
        assert scenario.name == path.stem
        if scenario.name != "baseline":
            assert scenario.extends == "baseline"
            assert "ASSUMPTION" in scenario.description or not scenario.interventions
