"""Issue 3's bar (tnmodel.bar, ``tnmodel bar``): on SIMULATED forecasts whose calibration and
skill are known, then the shipped bar file against docs/backtests.md."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tnmodel.backtest import score_point
from tnmodel.bar import (
    BarBacktest,
    bar_markdown,
    bar_misses,
    bar_table,
    load_bar_file,
    read_bar,
    read_scores,
    replace_block,
)
from tnmodel.problems import InputError

ROOT = Path(__file__).resolve().parents[1]
HORIZONS = range(1, 6)


def tnmodel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tnmodel", *args], cwd=ROOT,
                          env=os.environ | {"TNMODEL_PROGRESS": "0"}, capture_output=True,
                          text=True, timeout=300)


def _sim_scores(seed: int, n_geos: int = 120, width: float = 1.0, cagr_shift: float = 1.5,
                ets_width: float = 3.0, cutoffs=(2010, 2013)) -> pd.DataFrame:
    """``scores.csv`` rows of SIMULATED forecasts: outcomes from Normal(0, s_h), s_h = 1 + h / 2,
    stratified (at each cut-off and horizon their PITs are evenly spread over (0, 1), in a
    random order over the geos), so that a calibrated forecast's coverage is 80% and 95%
    up to rounding. The model forecasts Normal(0, width * s_h) (calibrated when ``width`` is
    1), CAGR a calibrated spread off by ``cagr_shift`` sds, ETS-damped ``ets_width`` times
    too wide; every forecast is 400 evenly spaced quantiles."""
    rng = np.random.default_rng(seed)
    grid = stats.norm.ppf((np.arange(400) + 0.5) / 400)
    rows = []
    for cutoff in cutoffs:
        for h in HORIZONS:
            s = 1.0 + h / 2
            outcomes = s * stats.norm.ppf(rng.permutation((np.arange(n_geos) + 0.5) / n_geos))
            forecasts = {"transition_local": width * s * grid, "cagr": s * (grid + cagr_shift),
                         "ets_damped": ets_width * s * grid}
            for g, observed in enumerate(outcomes):
                for model, draws in forecasts.items():
                    rows.append({"model": model, "cutoff": cutoff, "geo": f"sim_{g}",
                                 "year": cutoff + h, "horizon": h, "observed": observed,
                                 **score_point(draws, observed, rng)})
    return pd.DataFrame(rows)


def _write_folder(folder: Path, scores: pd.DataFrame, cutoffs=(2010, 2013),
                  data_file: str = "sim_data.csv", since: int | None = None,
                  priors: dict | None = None) -> str:
    folder.mkdir(parents=True)
    scores.to_csv(folder / "scores.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({
        "data_file": data_file, "cutoffs": list(cutoffs), "since": since,
        "priors": {"transition_local": priors or {}}}))
    return folder.name


@pytest.fixture(scope="module")
def calibrated() -> pd.DataFrame:
    return _sim_scores(1)


def test_a_calibrated_skilful_forecast_meets_the_bar(calibrated):
    table = bar_table(calibrated)
    assert list(table.index) == [1, 2, 3, 4, 5] and (table["n"] == 240).all()
    assert table["met"].all() and bar_misses(table) == []
    assert ((table["coverage80"] - 0.8).abs() < 0.08).all()
    # CAGR is 1.5 sds off and ETS-damped 3 times too wide: both well over 20% worse.
    assert (table["margin_cagr"] > 0.3).all() and (table["margin_ets_damped"] > 0.2).all()


def test_a_too_narrow_forecast_misses_the_coverage_checks():
    table = bar_table(_sim_scores(2, width=0.5))
    assert not table["ok80"].any() and not table["ok95"].any()
    misses = bar_misses(table)
    assert any(m.startswith("80% coverage at h1: 0.4") for m in misses)
    assert not table["met"].any()


def test_a_baseline_as_good_as_the_model_fails_the_margin_only():
    table = bar_table(_sim_scores(3, ets_width=1.0))
    assert table["ok80"].all() and table["ok95"].all() and table["ok_cagr"].all()
    assert (table["margin_ets_damped"].abs() < 0.1).all() and not table["ok_ets_damped"].any()
    assert "CRPS vs ets_damped at h3" in " ".join(bar_misses(table))


def test_margins_count_only_the_forecasts_both_made(calibrated):
    # Forecasts of the model alone (a geo the baselines could not fit), however bad, change
    # its coverage and n but not its margins.
    extra = calibrated[(calibrated["model"] == "transition_local")
                       & (calibrated["geo"] == "sim_0")].assign(geo="sim_alone", crps=1e6,
                                                               in80=False, in95=False)
    before, after = bar_table(calibrated), bar_table(pd.concat([calibrated, extra]))
    assert (after["n"] == before["n"] + 2).all()
    assert (after["coverage80"] < before["coverage80"]).all()
    pd.testing.assert_series_equal(after["margin_cagr"], before["margin_cagr"])
    assert (after["n_cagr"] == before["n_cagr"]).all()


def test_pooled_folders_keep_forecasts_with_the_same_key_apart(tmp_path, calibrated):
    # Two panels with the same geo names and years: pooled, every forecast counts once.
    names = [_write_folder(tmp_path / f"sim_panel{i}", calibrated) for i in (1, 2)]
    backtest = BarBacktest(title="sim", folders=names)
    pooled = bar_table(read_scores(backtest, tmp_path, "transition_local", ["cagr",
                                                                             "ets_damped"]))
    single = bar_table(calibrated)
    assert (pooled["n"] == 2 * single["n"]).all()
    assert (pooled["n_cagr"] == 2 * single["n_cagr"]).all()
    np.testing.assert_allclose(pooled["margin_cagr"], single["margin_cagr"])


def test_margin_intervals_resample_geos_within_their_part(tmp_path, calibrated):
    names = [_write_folder(tmp_path / f"sim_panel{i}", calibrated) for i in (1, 2)]
    scores = read_scores(BarBacktest(title="sim", folders=names), tmp_path,
                         "transition_local", ["cagr", "ets_damped"])
    table = bar_table(scores, resamples=500)
    # 120 geo names in each of two panels: 240 units, each with its own history.
    assert (table["resampled"] == "240 geos").all()
    # Won by 30-60% on every geo: every resample passes, and the interval holds the margin.
    assert (table["p_every"] == 1.0).all() and (table["p_cagr"] == 1.0).all()
    assert ((table["lo_cagr"] < table["margin_cagr"])
            & (table["margin_cagr"] < table["hi_cagr"])).all()
    assert (table["hi_cagr"] - table["lo_cagr"] < 0.1).all()
    # The same seed gives the same intervals.
    pd.testing.assert_frame_equal(table, bar_table(scores, resamples=500))


def test_baselines_may_come_from_another_folder(tmp_path, calibrated):
    ours = _write_folder(tmp_path / "sim_model",
                         calibrated[calibrated["model"] == "transition_local"])
    theirs = _write_folder(tmp_path / "sim_baselines",
                           calibrated[calibrated["model"] != "transition_local"])
    backtest = BarBacktest(title="sim", folders=[ours], baselines_from=[theirs])
    table = bar_table(read_scores(backtest, tmp_path, "transition_local", ["cagr",
                                                                            "ets_damped"]))
    pd.testing.assert_frame_equal(table, bar_table(calibrated))


def _bar_yaml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bar.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_a_bar_file_with_problems_names_each_line_and_field(tmp_path, calibrated):
    _write_folder(tmp_path / "sim_ok", calibrated)
    _write_folder(tmp_path / "sim_baselines_only", calibrated[calibrated["model"] == "cagr"])
    path = _bar_yaml(tmp_path, "\n".join([
        "setting: sim",
        "margn: 0.2",
        "backtests:",
        "  - title: one",
        "    folders: [sim_ok, sim_okk]",
        "  - title: two",
        "    folders: [sim_baselines_only]",
        ""]))
    with pytest.raises(InputError) as caught:
        load_bar_file(path)
    text = str(caught.value)
    assert re.search(r"bar.yaml:2: margn: unknown key 'margn' \(did you mean 'margin'\?\)", text)
    # Validation stops at the schema: fix it, and the folders are checked, each at its line.
    path.write_text(path.read_text().replace("margn", "margin"))
    with pytest.raises(InputError) as caught:
        load_bar_file(path)
    text = str(caught.value)
    assert re.search(r"bar.yaml:5: backtests\[0\].folders\[1\]: .*sim_okk: no scores.csv "
                     r"here \(did you mean 'sim_ok'\?\)", text)
    assert re.search(r"bar.yaml:7: backtests\[1\].folders\[0\]: .*no rows of "
                     r"transition_local.*it has cagr", text)


def test_baselines_from_must_pair_with_folders_of_the_same_cutoffs(tmp_path, calibrated):
    _write_folder(tmp_path / "sim_model", calibrated)
    _write_folder(tmp_path / "sim_other_cutoffs", calibrated, cutoffs=(2009, 2012))
    path = _bar_yaml(tmp_path, "setting: sim\nbacktests:\n  - title: one\n"
                               "    folders: [sim_model]\n"
                               "    baselines_from: [sim_model, sim_other_cutoffs]\n")
    with pytest.raises(InputError, match="baselines_from has 2 folders for 1 folders"):
        load_bar_file(path)
    path.write_text(path.read_text().replace("[sim_model, sim_other_cutoffs]",
                                             "[sim_other_cutoffs]"))
    with pytest.raises(InputError, match=r"bar.yaml:5: .*cutoffs \[2009, 2012\].*same data "
                                         "and cut-offs"):
        load_bar_file(path)


def test_a_bar_files_setting_is_what_its_folders_ran(tmp_path, calibrated):
    setting = {"floor_mean": 0.5, "pace_drift": "common"}
    _write_folder(tmp_path / "sim_setting", calibrated, since=2005, priors=setting)
    _write_folder(tmp_path / "sim_other", calibrated, since=2005,
                  priors=setting | {"pace_drift": "none"})
    _write_folder(tmp_path / "sim_earlier", calibrated, since=2000, priors=setting)
    path = _bar_yaml(tmp_path, "setting: sim\nsince: 2005\n"
                               "priors: {floor_mean: 0.5, pace_drift: common}\nbacktests:\n"
                               "  - title: one\n"
                               "    folders: [sim_setting, sim_other, sim_earlier]\n")
    with pytest.raises(InputError) as caught:
        load_bar_file(path)
    text = str(caught.value)
    assert "folders[0]" not in text
    assert re.search(r"bar.yaml:6: backtests\[0\].folders\[1\]: .*sim_other was run with "
                     r"other transition_local priors than setting sim: pace_drift: none "
                     r"there, common here", text)
    assert re.search(r"folders\[2\]: .*sim_earlier was fitted since 2000, setting sim since "
                     r"2005", text)
    path.write_text(path.read_text().replace(", sim_other, sim_earlier", ""))
    spec = load_bar_file(path).model_spec()
    assert (spec.family, spec.since) == ("transition_local", 2005)
    assert spec.priors.floor_mean == 0.5 and spec.priors.pace_drift == "common"
    # A misspelt prior is found before any folder is read, at its line.
    path.write_text(path.read_text().replace("pace_drift:", "pace_drft:"))
    with pytest.raises(InputError, match=r"bar.yaml:3: priors: .*unknown prior 'pace_drft' "
                                         r"for family 'transition_local' \(did you mean "
                                         r"'pace_drift'"):
        load_bar_file(path)


def test_the_scenarios_forecast_internet_use_with_the_validated_setting():
    # The scenarios' internet model is the setting the bar is read on: adopting another
    # setting means moving both (docs/backtests/bar.yaml, scenarios/baseline.yaml).
    from tnmodel.scenario import load_scenarios

    validated = load_bar_file(ROOT / "docs/backtests/bar.yaml").model_spec()
    scenarios = [child for path in sorted((ROOT / "scenarios").glob("*.yaml"))
                 for child in load_scenarios(path)]
    assert len(scenarios) >= 6
    for scenario in scenarios:
        spec = scenario.model_for("internet_users_share")
        assert (spec.family, spec.since, spec.priors) == (
            validated.family, validated.since, validated.priors), scenario.name


def test_cli_prints_the_tables_and_what_misses(tmp_path):
    _write_folder(tmp_path / "sim_good", _sim_scores(4, n_geos=60))
    _write_folder(tmp_path / "sim_narrow", _sim_scores(5, n_geos=60, width=0.5))
    path = _bar_yaml(tmp_path, "setting: sim\nbacktests:\n"
                               "  - {title: sim good, folders: [sim_good]}\n"
                               "  - {title: sim narrow, folders: [sim_narrow]}\n")
    result = tnmodel("bar", str(path))
    assert result.returncode == 0, result.stderr
    assert "missed: 80% coverage at h1" in result.stdout
    assert "sim of transition_local: the bar is met on 1 of 2 back-tests" in result.stdout
    # Into a markdown file: between its markers, the rest of the file as it was.
    page = tmp_path / "sim_page.md"
    page.write_text("# Page\n\n<!-- bar:start -->\nold\n<!-- bar:end -->\n\nAfter.\n")
    assert tnmodel("bar", str(path), "--into", str(page)).returncode == 0
    text = page.read_text()
    assert re.search(r"\| sim good \| 120 \| 20 of 20 \| 1\.00 \| met \|", text)
    assert "old" not in text
    assert text.startswith("# Page\n\n<!-- bar:start -->\nSetting **sim**")
    assert text.endswith("<!-- bar:end -->\n\nAfter.\n")
    broken = tnmodel("bar", str(tmp_path / "no_such.yaml"))
    assert broken.returncode == 1 and "no_such.yaml:1: (file): file not found" in broken.stderr
    # A page without the markers is left as it was.
    page.write_text("# Page\n")
    unmarked = tnmodel("bar", str(path), "--into", str(page))
    assert unmarked.returncode == 1 and "<!-- bar:start -->" in unmarked.stderr
    assert page.read_text() == "# Page\n"


def test_replace_block_needs_both_markers_in_order():
    with pytest.raises(ValueError, match="bar:start"):
        replace_block("<!-- bar:end -->\n<!-- bar:start -->\n", "x")
    assert replace_block("a\n<!-- bar:start -->\n<!-- bar:end -->\n", "x\n") == (
        "a\n<!-- bar:start -->\nx\n<!-- bar:end -->\n")


def test_the_docs_hold_what_the_shipped_bar_file_gives():
    # docs/backtests.md's "Where the bar stands" is `tnmodel bar --markdown`'s printout:
    # regenerate it (make bar-docs) when the back-tests or the bar file change.
    bar = load_bar_file(ROOT / "docs/backtests/bar.yaml")
    expected = bar_markdown(bar, read_bar(bar, ROOT / "docs/backtests"))
    docs = (ROOT / "docs/backtests.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- bar:start -->\n(.*?)\n<!-- bar:end -->", docs, re.S)
    assert block is not None, "docs/backtests.md has no <!-- bar:start --> block"
    assert block.group(1).strip() == expected.strip()
