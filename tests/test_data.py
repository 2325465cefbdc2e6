"""tnmodel.data: the loader accepts good data and names every problem in bad data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tnmodel.data import check_data, load_dataset
from tnmodel.problems import InputError

REPO = Path(__file__).resolve().parents[1]


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text not found: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _messages(folder: Path) -> list[str]:
    return [str(p) for p in check_data(folder)]


def test_simulated_fixture_is_valid(sim_data):
    dataset = load_dataset(sim_data)
    assert len(dataset.observations) == 13
    assert dataset.observations["year"].dtype.kind == "i"
    assert dataset.successor("sim_north") == "sim_merged"
    assert dataset.successor("sim_south") == "sim_south"
    assert dataset.targets["sim_north_share_2030"].is_met(80.0)
    assert not dataset.targets["sim_north_share_2030"].is_met(79.9)


def test_shipped_data_is_valid():
    problems = check_data(REPO / "data")
    assert problems == [], "\n".join(map(str, problems))


def test_shipped_data_every_observation_has_a_source_url():
    dataset = load_dataset(REPO / "data")
    urls = dataset.observations["source_id"].map(dataset.sources["url"])
    assert urls.notna().all() and (urls.str.len() > 0).all()


def test_unknown_geo_names_line_and_suggests(sim_data):
    _replace(sim_data / "observations.csv", "sim_south,sim_share,2018", "sim_suoth,sim_share,2018")
    messages = _messages(sim_data)
    assert any("observations.csv:5: geo: unknown geo 'sim_suoth'" in m and "sim_south" in m
               for m in messages), messages


def test_geo_given_by_name_hints_at_id(sim_data):
    _replace(sim_data / "observations.csv", "sim_south,sim_share,2018", "Sim South,sim_share,2018")
    assert any("did you mean 'sim_south'? geos are given by id" in m for m in _messages(sim_data))


def test_unknown_indicator_suggests(sim_data):
    _replace(sim_data / "observations.csv", "sim_north,sim_share,2019", "sim_north,sim_shar,2019")
    messages = _messages(sim_data)
    assert any(":2: indicator: unknown indicator 'sim_shar'" in m and "'sim_share'" in m
               for m in messages), messages


def test_value_outside_bounds(sim_data):
    _replace(sim_data / "observations.csv", "sim_share,2019,30,", "sim_share,2019,130,")
    messages = _messages(sim_data)
    assert any(":2: value: 130 is above the upper bound 100" in m for m in messages), messages


def test_missing_and_unknown_source(sim_data):
    _replace(sim_data / "observations.csv", "2019,30,src_sim", "2019,30,")
    _replace(sim_data / "observations.csv", "2021,45,src_sim", "2021,45,src_smi")
    messages = _messages(sim_data)
    assert any(":2: source_id: missing source" in m for m in messages), messages
    assert any(":3: source_id: unknown source 'src_smi'" in m and "src_sim" in m
               for m in messages), messages


@pytest.mark.parametrize("bad_year", ["20x9", "2019.5", "19", "3019"])
def test_unparsable_year(sim_data, bad_year):
    _replace(sim_data / "observations.csv", "sim_share,2019,", f"sim_share,{bad_year},")
    messages = _messages(sim_data)
    assert any(":2: year: expected a whole year" in m and bad_year in m for m in messages), messages


def test_disagreeing_duplicates_need_a_note(sim_data):
    with (sim_data / "observations.csv").open("a", encoding="utf-8") as f:
        f.write("sim_north,sim_share,2019,33,src_sim,,,,,,\n")
    messages = _messages(sim_data)
    assert any(":15: note: value 33 disagrees with line 2 (30)" in m for m in messages), messages
    # With a note on both rows the disagreement is documented and accepted.
    _replace(sim_data / "observations.csv", "sim_north,sim_share,2019,30,src_sim,,,,,,",
             "sim_north,sim_share,2019,30,src_sim,,,,,conflicts with the 33 row; both kept,")
    _replace(sim_data / "observations.csv", "sim_north,sim_share,2019,33,src_sim,,,,,,",
             "sim_north,sim_share,2019,33,src_sim,,,,,conflicts with the 30 row; both kept,")
    assert _messages(sim_data) == []


def test_agreeing_duplicates_are_fine(sim_data):
    with (sim_data / "observations.csv").open("a", encoding="utf-8") as f:
        f.write("sim_north,sim_share,2019,30,src_sim,,,,,,\n")
    assert _messages(sim_data) == []


def test_bad_period_bound_and_rank_basis(sim_data):
    _replace(sim_data / "observations.csv", "2022-01/2022-03", "Q1 2022")
    _replace(sim_data / "observations.csv", "sim_north,sim_proxy,2018,60,src_sim,,",
             "sim_north,sim_proxy,2018,60,src_sim,,uper")
    _replace(sim_data / "observations.csv", "sim_rank,2022,8,src_sim,,,63",
             "sim_rank,2022,8,src_sim,,,")
    messages = _messages(sim_data)
    assert any(":7: period: expected" in m and "Q1 2022" in m for m in messages), messages
    assert any(":9: bound: expected" in m and "'upper'" in m for m in messages), messages
    assert any(":14: among: 'sim_rank' is a rank" in m for m in messages), messages


def test_registry_typo_points_at_yaml_line(sim_data):
    _replace(sim_data / "indicators.yaml", "  direction: higher_is_better\n  definition",
             "  directon: higher_is_better\n  definition")
    messages = _messages(sim_data)
    assert any("indicators.yaml:9: indicators[0].directon: unknown key 'directon'"
               " (did you mean 'direction'?)" in m for m in messages), messages
    # One bad registry entry is one problem: it does not cascade into every observation.
    assert len(messages) == 1, messages


def test_target_with_unknown_reading(sim_data):
    _replace(sim_data / "targets.yaml", "  reading: sim_share\n", "  reading: sim_shares\n")
    messages = _messages(sim_data)
    # The line is that of the target's id (the first target: line 2), from the registry read.
    assert any("targets.yaml:2: sim_north_share_2030.reading: unknown indicator 'sim_shares'"
               in m and "did you mean 'sim_share'" in m for m in messages), messages


def test_load_raises_with_all_problems(sim_data):
    _replace(sim_data / "observations.csv", "2019,30,src_sim", "2019,abc,src_sim")
    _replace(sim_data / "observations.csv", "sim_south,sim_share,2018", "sim_x,sim_share,2018")
    with pytest.raises(InputError) as caught:
        load_dataset(sim_data)
    assert len(caught.value.problems) == 2
    assert "expected a number" in str(caught.value)


def test_row_with_wrong_number_of_fields(sim_data):
    with (sim_data / "observations.csv").open("a", encoding="utf-8") as f:
        f.write("sim_north,sim_share,2026,50,src_sim\n")
    assert any(":15: (row): has 5 fields" in m for m in _messages(sim_data))


def test_missing_folder_and_yaml_syntax(tmp_path, sim_data):
    assert "data folder not found" in _messages(tmp_path / "nope")[0]
    (sim_data / "geos.yaml").write_text("geos:\n- id: [unclosed\n", encoding="utf-8")
    assert any("geos.yaml:" in m and "(syntax)" in m for m in _messages(sim_data))
