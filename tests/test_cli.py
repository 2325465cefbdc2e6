"""The command line, used the way a user would: a subprocess, exit codes, files written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_sim_scenario  # noqa: I001

REPO = Path(__file__).resolve().parents[1]


def tnmodel(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = os.environ | {"TNMODEL_PROGRESS": "0"}
    return subprocess.run([sys.executable, "-m", "tnmodel", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900)


def test_data_check_ok_on_shipped_data():
    done = tnmodel("data", "check", "data")
    assert done.returncode == 0, done.stderr
    assert "data: OK" in done.stdout


def test_data_check_fails_with_file_line_column(sim_data):
    obs = sim_data / "observations.csv"
    obs.write_text(obs.read_text().replace("sim_south,sim_share,2018,20",
                                           "sim_south,sim_share,2018,120"))
    done = tnmodel("data", "check", str(sim_data))
    assert done.returncode == 1
    assert "observations.csv:5: value: 120 is above the upper bound 100" in done.stderr
    assert "1 problem(s)" in done.stderr


def test_run_refuses_bad_scenario_and_writes_nothing(tmp_path, sim_data):
    path = write_sim_scenario(tmp_path, sim_data, extra="sead: 3\n")
    out = tmp_path / "results"
    done = tnmodel("run", str(path), "--out", str(out))
    assert done.returncode == 1
    assert "unknown key 'sead' (did you mean 'seed'?)" in done.stderr
    assert "nothing was run" in done.stderr
    assert not out.exists()


def test_run_refuses_bad_data_and_writes_nothing(tmp_path, sim_data):
    obs = sim_data / "observations.csv"
    obs.write_text(obs.read_text().replace("src_sim,,,,,,\n", ",,,,,,\n", 1))
    path = write_sim_scenario(tmp_path, sim_data)
    done = tnmodel("run", str(path), "--out", str(tmp_path / "results"))
    assert done.returncode == 1
    assert "source_id: missing source" in done.stderr
    assert not (tmp_path / "results" / "sim_baseline").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_run_writes_results_and_same_seed_gives_same_numbers(tmp_path, sim_data):
    path = write_sim_scenario(tmp_path, sim_data)
    first = tnmodel("run", str(path), "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stderr
    assert "sim_north_share_2030" in first.stdout  # the verdict table is printed
    folder = tmp_path / "a" / "sim_baseline"
    assert sorted(p.name for p in folder.iterdir()) == [
        "first_year.csv", "manifest.json", "posterior", "quantiles.csv", "targets.csv"]
    assert (folder / "posterior" / "sim_share.nc").stat().st_size > 0
    table = pd.read_csv(folder / "targets.csv")
    assert list(table["target_id"]) == ["sim_north_share_2030", "sim_north_skills_2030",
                                        "sim_north_rank_2030"]
    assert list(table["status"]) == ["estimated", "upper bound via proxy", "insufficient data"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seed"] == 7 and manifest["versions"]["pymc"]
    assert "tnmodel_commit" in manifest["versions"]
    assert manifest["data_files_sha256"]["observations.csv"]
    assert manifest["fits"]["sim_share"]["diagnostics"]["divergences"] == 0

    assert manifest["fits"]["sim_share"]["from_cache"] is False

    # Refitting from scratch with the same seed, and reading the cached fit, both give the
    # same bytes.
    cache = tmp_path / "cache"
    second = tnmodel("run", str(path), "--out", str(tmp_path / "b"), "--no-cache")
    third = tnmodel("run", str(path), "--out", str(tmp_path / "c"), "--cache-dir", str(cache))
    fourth = tnmodel("run", str(path), "--out", str(tmp_path / "d"), "--cache-dir", str(cache))
    for done in (second, third, fourth):
        assert done.returncode == 0, done.stderr
    for other in ("b", "c", "d"):
        for name in ("targets.csv", "quantiles.csv"):
            assert (folder / name).read_bytes() == (tmp_path / other / "sim_baseline" / name
                                                    ).read_bytes()
    hits = json.loads((tmp_path / "d" / "sim_baseline" / "manifest.json").read_text())["fits"]
    assert hits["sim_share"]["from_cache"] is True
    assert hits["sim_share"]["fit_key"] == manifest["fits"]["sim_share"]["fit_key"]


def _check_prior_power_columns(row: pd.Series, power: dict) -> None:
    """P(met) with the fit's prior half and twice as strong: given wherever the manifest says
    the reweighting is reliable, and said in the note exactly when it moves P by 0.05 and by
    over twice its Monte-Carlo error."""
    clear = []
    for column, key in (("p_met_weaker_prior", "0.5"), ("p_met_stronger_prior", "2.0")):
        assert pd.isna(row[column]) != power["reliable"][key], (column, power)
        if power["reliable"][key]:
            assert 0 <= row[column] <= 1 and 0 <= row[f"{column}_mcse"] < 0.1
            moved = abs(row[column] - row["p_met"])
            clear.append(moved >= max(0.05, 2 * row[f"{column}_mcse"]))
    said = "the result leans on the prior" in row["note"]
    assert said == any(clear), (row["note"], clear)


@pytest.mark.slow
@pytest.mark.integration
def test_fast_run_of_the_shipped_baseline(tmp_path):
    done = tnmodel("run", "scenarios/baseline.yaml", "--fast", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "baseline" / "targets.csv").set_index("target_id")
    usage = table.loc["thai_nguyen_online_procedures_level34_share_2030_usage"]
    assert usage["status"] == "estimated" and usage["reading"] == "online_dossier_share"
    assert 0 <= usage["p_met"] <= 1 and usage["p_met_mcse"] < 0.05
    assert usage["evaluated_geo"] == "thai_nguyen_merged"
    assert usage["q05"] <= usage["q50"] <= usage["q95"]
    skills = table.loc["thai_nguyen_basic_digital_skills_share_2030"]
    assert skills["status"] == "upper bound via proxy" and pd.isna(skills["p_met"])
    assert "Internet users" in skills["note"]
    # A note says where the evaluated geo's pace is mostly the prior's, exactly where the
    # fit's prior-vs-posterior comparison (in the manifest) says so.
    fits = json.loads((tmp_path / "baseline" / "manifest.json").read_text())["fits"]
    for indicator, label in (("internet_users_share", "Internet users"),
                             ("adult_smartphone_share", "Adults with a smartphone")):
        carried = fits[indicator]["diagnostics"]["prior_pace"]["thai_nguyen_merged"]
        said = f"the pace of {label}: mostly the prior's" in skills["note"]
        assert said == carried["carried_by_prior"], (indicator, skills["note"])
    for target in ("usage", "supply"):
        row = table.loc[f"thai_nguyen_online_procedures_level34_share_2030_{target}"]
        carried = fits[row["reading"]]["diagnostics"]["prior_pace"]["thai_nguyen_merged"]
        assert ("its pace: mostly the prior's" in row["note"]) == carried["carried_by_prior"]
    # P(met) with the fit's prior half and twice as strong: given wherever the manifest
    # says the reweighting is reliable, and said in the note exactly when it moves P by 0.05.
    manifest = json.loads((tmp_path / "baseline" / "manifest.json").read_text())
    for target in ("usage", "supply"):
        row = table.loc[f"thai_nguyen_online_procedures_level34_share_2030_{target}"]
        power = manifest["prior_power"][row["reading"]]
        assert {"mu_beta", "tau_beta"} <= set(power["parameters"])
        _check_prior_power_columns(row, power)
    assert set(manifest["prior_power"]) == set(fits)
    rank = table.loc["thai_nguyen_digital_government_rank_2030"]
    assert rank["status"] == "estimated (rank model)" and 0 <= rank["p_met"] <= 1
    # The rank model's prior is every one of its free parameters (standings integrated out).
    power = manifest["rank_model"]["prior_power"]
    assert set(power["parameters"]) == {"phi", "sigma_innov", "tau_geo", "tau_series",
                                        "sigma_obs"}
    _check_prior_power_columns(rank, power)
    assert manifest["fast"] is True and "not for decisions" in manifest["fast_warning"]


def test_cache_info_and_clear(tmp_path):
    entry = tmp_path / "fits" / "ab" / ("ab" + "0" * 62)
    entry.mkdir(parents=True)
    (entry / "fit.json").write_text("{}")
    info = tnmodel("cache", "info", "--cache-dir", str(tmp_path / "fits"))
    assert info.returncode == 0 and "1 fit(s)" in info.stdout
    cleared = tnmodel("cache", "clear", "--cache-dir", str(tmp_path / "fits"))
    assert cleared.returncode == 0 and "removed 1 cached fit(s)" in cleared.stdout
    assert not (tmp_path / "fits").exists()


def test_sweep_refuses_a_bad_grid_before_running(tmp_path, sim_data):
    path = write_sim_scenario(tmp_path, sim_data)
    bad = tnmodel("sweep", str(path), "--grid", "seed", "--out", str(tmp_path / "s"))
    assert bad.returncode == 2 and "expected KEY=V1,V2" in bad.stderr
    unknown = tnmodel("sweep", str(path), "--grid", "sead=1,2", "--out", str(tmp_path / "s"))
    assert unknown.returncode == 1 and "sead" in unknown.stderr
    assert not (tmp_path / "s").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_sweep_writes_one_tidy_table(tmp_path, sim_data):
    path = write_sim_scenario(tmp_path, sim_data)
    done = tnmodel("sweep", str(path), "--grid", "seed=7,8", "--grid", "horizon=2030,2031",
                   "--out", str(tmp_path / "s"))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "s" / "sweep.csv")
    assert len(table) == 4 * 3  # 4 variants x 3 targets
    assert set(zip(table["seed"], table["horizon"], strict=True)) == {
        (7, 2030), (7, 2031), (8, 2030), (8, 2031)}
    manifest = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert manifest["variants"] == 4 and manifest["fit_groups"] == 2


def test_source_commit_names_the_commit_and_says_when_files_changed(tmp_path):
    from tnmodel.runner import source_commit

    assert source_commit(tmp_path) == "unknown"  # not a git checkout
    git = ["git", "-C", str(tmp_path), "-c", "user.name=sim", "-c", "user.email=sim@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("one\n", encoding="utf-8")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "sim"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert source_commit(tmp_path) == head
    (tmp_path / "new.txt").write_text("untracked files do not count\n", encoding="utf-8")
    assert source_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("two\n", encoding="utf-8")
    assert source_commit(tmp_path) == head + "-dirty"
