"""tnmodel compare / validate / schema: the table and the commands from the user's side."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_sim_scenario  # noqa: I001

from tnmodel.compare import compare_table, read_results, render
from tnmodel.problems import InputError
from tnmodel.scenario import schema_json

REPO = Path(__file__).resolve().parents[1]


def tnmodel(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = os.environ | {"TNMODEL_PROGRESS": "0"}
    return subprocess.run([sys.executable, "-m", "tnmodel", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def sim_result(folder: Path, scenario: str, p: float, extra_target: bool = False) -> Path:
    """A SIMULATED results folder with a targets.csv like tnmodel run writes."""
    rows = [
        {"scenario": scenario, "target_id": "sim_share_2030", "reading": "sim_share",
         "comparator": ">=", "threshold": 80, "year": 2030, "status": "estimated",
         "p_met": p, "p_met_mcse": 0.01, "p_met_upper": None, "p_met_lower": None,
         "baseline_category": "on track"},
        {"scenario": scenario, "target_id": "sim_skills_2030", "reading": "sim_skills",
         "comparator": ">=", "threshold": 85, "year": 2030, "status": "upper bound via proxy",
         "p_met": None, "p_met_mcse": None, "p_met_upper": 0.7, "p_met_lower": None,
         "baseline_category": None},
    ]
    if extra_target:
        rows.append({"scenario": scenario, "target_id": "sim_rank_2030", "reading": "sim_rank",
                     "comparator": "<=", "threshold": 20, "year": 2030,
                     "status": "not supported", "p_met": None, "p_met_mcse": None,
                     "p_met_upper": None, "p_met_lower": None, "baseline_category": None})
    path = folder / scenario
    path.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(path / "targets.csv", index=False)
    return path


def test_compare_table_targets_as_rows_scenarios_as_columns(tmp_path):
    a = sim_result(tmp_path, "sim_a", 0.42)
    b = sim_result(tmp_path, "sim_b", 0.9, extra_target=True)
    table = compare_table(read_results([a, b]))
    assert list(table["target_id"]) == ["sim_share_2030", "sim_skills_2030", "sim_rank_2030"]
    row = table.set_index("target_id").loc["sim_share_2030"]
    assert (row["sim_a"], row["sim_b"]) == ("0.42 ± 0.010", "0.90 ± 0.010")
    assert (row["p_met:sim_a"], row["p_met_mcse:sim_b"]) == (0.42, 0.01)
    assert row["official-style category"] == "on track"
    skills = table.set_index("target_id").loc["sim_skills_2030"]
    assert skills["sim_a"] == "<= 0.70 (proxy bound)"
    rank = table.set_index("target_id").loc["sim_rank_2030"]
    assert rank["sim_a"] == "— (not in this scenario)" and rank["sim_b"] == "— (not supported)"
    markdown = render(table, ".md")
    assert markdown.splitlines()[0].startswith("| target_id | goal | sim_a | sim_b |")
    assert "p_met:" not in markdown  # numbers only in the CSV
    assert "<td>0.42 ± 0.010</td>" in render(table, ".html")
    assert "p_met:sim_a" in render(table, ".csv").splitlines()[0]


def test_compare_refuses_what_is_not_a_results_folder(tmp_path):
    a = sim_result(tmp_path, "sim_a", 0.42)
    with pytest.raises(InputError, match="no targets.csv here"):
        read_results([a, tmp_path / "nothing"])
    with pytest.raises(InputError, match="given more than once"):
        read_results([a, a])


@pytest.mark.integration
def test_cli_compare_prints_and_writes_by_suffix(tmp_path):
    a = sim_result(tmp_path, "sim_a", 0.42)
    b = sim_result(tmp_path, "sim_b", 0.9)
    done = tnmodel("compare", str(a), str(b), "--out", str(tmp_path / "cmp.csv"))
    assert done.returncode == 0, done.stderr
    assert "0.42 ± 0.010" in done.stdout and "sim_b" in done.stdout
    written = pd.read_csv(tmp_path / "cmp.csv")
    assert list(written["p_met:sim_b"])[:1] == [0.9]
    done = tnmodel("compare", str(a), str(b), "--out", str(tmp_path / "cmp.md"))
    assert (tmp_path / "cmp.md").read_text(encoding="utf-8").startswith("| target_id |")
    bad = tnmodel("compare", str(a), "--out", str(tmp_path / "cmp.xlsx"))
    assert bad.returncode == 1 and "unknown suffix '.xlsx'" in bad.stderr
    assert not (tmp_path / "cmp.xlsx").exists()


@pytest.mark.integration
def test_cli_validate_shipped_scenarios_and_schema():
    done = tnmodel("validate", "scenarios")
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout
    printed = tnmodel("schema", "--out", "-")
    assert printed.returncode == 0 and printed.stdout == schema_json()


@pytest.mark.integration
def test_cli_validate_reports_every_problem_with_file_and_line(tmp_path, sim_data):
    write_sim_scenario(tmp_path, sim_data)
    (tmp_path / "push.yaml").write_text(
        "name: sim_push\ntitle: P\nextends: sim_baseline\ntargets: [sim_north_shar_2030]\n"
        "interventions:\n  - type: halt\n    indicator: sim_share\n    geo: sim_north\n"
        "    from_yr: 2026\n", encoding="utf-8")
    (tmp_path / "other.yaml").write_text("name: sim_other\ntitle: O\nhorizn: 2030\n"
                                         "targets: [sim_north_share_2030]\n", encoding="utf-8")
    done = tnmodel("validate", str(tmp_path))
    assert done.returncode == 1
    err = done.stderr
    assert "push.yaml:9: interventions[0].from_yr: unknown key 'from_yr' (did you mean " \
           "'from_year'?)" in err
    assert "other.yaml:3: horizn: unknown key 'horizn' (did you mean 'horizon'?)" in err
    # a file whose own keys are fine is still checked against the data
    (tmp_path / "push.yaml").write_text(
        "name: sim_push\ntitle: P\nextends: sim_baseline\ntargets: [sim_north_shar_2030]\n",
        encoding="utf-8")
    (tmp_path / "halt.yaml").write_text(
        "name: sim_halt\ntitle: H\nextends: sim_baseline\ninterventions:\n"
        "  - {type: halt, indicator: sim_skills, geo: sim_north, from_year: 2026}\n"
        "  - {type: halt, indicator: sim_share, geo: sim_north, from_year: 2040}\n",
        encoding="utf-8")
    done = tnmodel("validate", str(tmp_path / "push.yaml"), str(tmp_path / "halt.yaml"),
                   str(tmp_path / "sim_baseline.yaml"))
    assert done.returncode == 1
    assert "push.yaml:4: targets[0]: unknown target 'sim_north_shar_2030' (did you mean " \
           "'sim_north_share_2030'" in done.stderr
    # what a run would refuse before fitting: an indicator no target reads, a year outside
    assert "halt.yaml:5: interventions[0].indicator: no target of this scenario reads " \
           "'sim_skills'" in done.stderr
    assert "halt.yaml:6: interventions[1].from_year: 2040 is outside the forecast years " \
           "2018-2030" in done.stderr
