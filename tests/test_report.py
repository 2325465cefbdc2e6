"""The offline report, built from SIMULATED result folders (no MCMC)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sim_results import XSS, write_sim_results

from tnmodel import report
from tnmodel.problems import InputError

REPO = Path(__file__).resolve().parents[1]

# Any attribute or CSS that would make the browser fetch something from the network.
NETWORK_REFERENCE = re.compile(
    r"""(?:\b(?:src|href|srcset|data|action|poster|background)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//)|(?:@import\s+["']?(?:https?:)?//)""",
    re.IGNORECASE,
)


def _tags(page: str, name: str) -> list[str]:
    return re.findall(rf"<{name}\b[^>]*>", page, flags=re.IGNORECASE)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    results = write_sim_results(root, optional=True, source_title=f"Evil {XSS} title")
    out = report.write_report([results], root / "reports" / "index.html")
    return out, out.read_text(encoding="utf-8")


def test_no_network_reference_in_any_script_link_or_src(built):
    _, page = built
    for tag in _tags(page, "script") + _tags(page, "link") + _tags(page, "img") + \
            _tags(page, "iframe") + _tags(page, "style"):
        assert not NETWORK_REFERENCE.search(tag), tag
    assert not _tags(page, "link"), "no external stylesheets or preloads"
    assert all("src=" not in tag for tag in _tags(page, "script")), "every script is inline"
    # Outside the inline JS bundle, the only http(s) addresses are escaped source URLs in
    # provenance links (<a href>, never loaded) and in chart data (tooltip text).
    outside_bundle = re.sub(r"<script>.*?</script>", "", page, flags=re.DOTALL)
    for tag in re.findall(r"<[a-z]+\b[^>]*https?://[^>]*>", outside_bundle, flags=re.I):
        assert tag.startswith("<a "), tag
    assert "vegaEmbed" in page


def test_data_text_is_escaped(built):
    _, page = built
    assert XSS not in page
    assert "Evil &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; title" in page
    assert "simulated note &lt;script&gt;" in page  # a note from targets.csv
    specs = re.search(r'<script type="application/json" id="chart-specs">(.*?)</script>', page,
                      flags=re.DOTALL).group(1)
    assert "</script" not in specs.lower()
    assert XSS in json.dumps(json.loads(specs))  # the tooltip data keeps the text, inertly


def test_every_ui_string_in_both_languages(built):
    _, page = built
    vi = re.findall(r'<span lang="vi">', page)
    en = re.findall(r'<span lang="en">', page)
    assert len(vi) == len(en) > 30
    for vi_text, en_text in report.UI.values():
        assert vi_text and en_text
    charts_vi = re.findall(r'<div class="chart" lang="vi" data-spec="([^"]+)-vi"', page)
    charts_en = re.findall(r'<div class="chart" lang="en" data-spec="([^"]+)-en"', page)
    assert charts_vi == charts_en and len(charts_vi) >= 7
    assert 'id="lang-switch"' in page


def test_sections_present_with_optional_results(built):
    _, page = built
    for key in ("verdicts", "comparison", "fans", "first-year", "ranks", "backtest",
                "assumptions", "caveats", "provenance"):
        assert f'<section id="{key}">' in page
    assert 'data-spec="first-year-en"' in page and 'data-spec="ranks-en"' in page
    assert 'data-spec="coverage-0-en"' in page and 'data-spec="pit-0-en"' in page
    assert "sim_accelerate" in page  # a setting this version does not know is still shown
    caveats = re.search(r'<ul id="caveat-list">.*?</ul>', page, flags=re.DOTALL).group(0)
    assert "<code>sim_share</code> 2022: simulated definition change" in caveats
    assert '<span lang="en">merged into</span> sim_merged' in caveats
    assert "<code>sim_north_skills_2030</code>" in caveats  # a proxy bound, said so
    assert 'id="fast-warning"' in page


def test_provenance_lists_every_observation_of_the_fitted_series(built):
    _, page = built
    table = re.search(r'<table id="provenance-table">.*?</table>', page, flags=re.DOTALL).group(0)
    rows = re.findall(r"<tr><td>", table)
    # sim_share: sim_north 2019, 2021, sim_merged 2025, sim_south 2018-2024 (4) = 7 in 2018-2025;
    # sim_proxy: sim_north 2018, 2023, sim_south 2020, 2022, 2024 = 5 in 2018-2024.
    assert len(rows) == 12
    assert table.count('href="https://example.org/simulated"') == 12


def test_sections_skipped_with_a_note_when_optional_results_absent(tmp_path):
    results = write_sim_results(tmp_path, optional=False, fast=False)
    page = report.write_report([results], tmp_path / "index.html").read_text(encoding="utf-8")
    assert "section skipped" in page
    assert 'data-spec="first-year-en"' not in page and 'data-spec="ranks-en"' not in page
    assert 'id="fast-warning"' not in page
    assert 'data-spec="comparison-en"' in page


def test_report_without_readable_data_still_writes(tmp_path):
    results = write_sim_results(tmp_path)
    (tmp_path / "sim_data" / "observations.csv").unlink()
    page = report.write_report([results], tmp_path / "index.html").read_text(encoding="utf-8")
    assert "could not be read" in page
    assert 'data-spec="fan-sim_baseline-sim_north_share_2030-sim_share-en"' in page


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    out = tmp_path / "index.html"
    out.write_text("old", encoding="utf-8")

    def boom(*_, **__):
        raise RuntimeError("simulated failure while writing")

    from tnmodel import atomic

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(RuntimeError):
        report.write_atomic(out, "new")
    assert out.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]


def test_missing_results_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError) as info:
        report.load_results([tmp_path / "nope"])
    assert "results folder not found" in str(info.value.problems[0])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError) as info:
        report.load_results([empty])
    assert "run `tnmodel run` first" in str(info.value.problems[0])


@pytest.mark.integration
def test_cli_report(tmp_path):
    results = write_sim_results(tmp_path)
    env = os.environ | {"TNMODEL_PROGRESS": "0"}
    out = tmp_path / "reports" / "index.html"
    done = subprocess.run([sys.executable, "-m", "tnmodel", "report", str(results), "--out",
                           str(out)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.exists() and "wrote" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "tnmodel", "report", str(tmp_path / "nope"),
                          "--out", str(tmp_path / "x.html")], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert "results folder not found" in bad.stderr and not (tmp_path / "x.html").exists()


def test_every_verdict_and_category_word_has_a_vietnamese_translation():
    from tnmodel import baselines, targets

    words = [w for _, w in targets.LIKELIHOOD_WORDS] + [
        getattr(baselines, n) for n in ("ON_TRACK", "ACCELERATION_NEEDED", "LIMITED",
                                        "DETERIORATION", "ACHIEVED", "NOT_ACHIEVED",
                                        "INSUFFICIENT")]
    for word in words:
        assert word in report.PHRASES, f"no Vietnamese for '{word}'"
        assert report.translate(f"{word} (P = 0.50)") == f"{report.PHRASES[word]} (P = 0.50)"


def test_a_bar_file_leads_the_back_tests_with_its_verdicts(tmp_path):
    from test_bar import _sim_scores, _write_folder

    _write_folder(tmp_path / "sim_good", _sim_scores(6, n_geos=60))
    _write_folder(tmp_path / "sim_narrow", _sim_scores(7, n_geos=60, width=0.5))
    bar_file = tmp_path / "bar.yaml"
    bar_file.write_text("setting: sim_setting\ndescription: simulated\nbacktests:\n"
                        f'  - {{title: "sim good {XSS}", folders: [sim_good]}}\n'
                        "  - {title: sim narrow, folders: [sim_narrow]}\n", encoding="utf-8")
    out = report.write_report([bar_file], tmp_path / "index.html")
    page = out.read_text(encoding="utf-8")
    section = re.search(r'<section id="backtest">.*?</section>', page, flags=re.DOTALL).group(0)
    table = re.search(r'<table class="bar-table">.*?</table>', section, flags=re.DOTALL).group(0)
    good, narrow = re.findall(r"<tr><td>.*?</tr>", table)
    assert "sim good &lt;script&gt;" in good and XSS not in page
    assert ">20 of 20<" in good and '<span lang="en">met</span>' in good
    assert "<td>1.00</td>" in good  # every resample passes the CRPS checks
    assert '<span lang="en">missed</span>' in narrow and "80% coverage at h1: 0.4" in narrow
    assert 'data-spec="bar-0-0-en"' in section and 'data-spec="bar-0-1-en"' in section
    assert "<code>sim_setting</code>" in section
    # A bar file with a problem: named with its line, and no report written.
    bar_file.write_text("setting: sim\nbacktest: []\n", encoding="utf-8")
    with pytest.raises(report.InputError, match=r"bar.yaml:2: backtest: unknown key "
                                                r"'backtest' \(did you mean 'backtests'\?\)"):
        report.write_report([bar_file], tmp_path / "again.html")
    assert not (tmp_path / "again.html").exists()


def test_the_bar_says_which_scenario_forecasts_use_its_setting(tmp_path):
    from test_bar import _sim_scores, _write_folder

    from tnmodel.models import ModelSpec

    setting = {"floor_mean": 0.5, "pace_drift": "common"}
    _write_folder(tmp_path / "sim_setting", _sim_scores(6, n_geos=30), since=2005,
                  priors=setting)
    bar_file = tmp_path / "bar.yaml"
    bar_file.write_text("setting: sim_setting\nsince: 2005\n"
                        "priors: {floor_mean: 0.5, pace_drift: common}\n"
                        "backtests:\n  - {title: sim, folders: [sim_setting]}\n",
                        encoding="utf-8")
    results = write_sim_results(tmp_path)
    validated = ModelSpec(family="transition_local", since=2005, priors=setting)
    other = ModelSpec(family="transition_local", since=2005, priors={"floor_mean": 0.4})

    def use(models: dict[str, ModelSpec]) -> str:
        for name in ("sim_baseline", "sim_push"):
            path = results / name / "manifest.json"
            manifest = json.loads(path.read_text(encoding="utf-8"))
            manifest["settings"]["models"] = {k: v.model_dump(mode="json")
                                              for k, v in models.items()}
            path.write_text(json.dumps(manifest), encoding="utf-8")
        page = report.write_report([results, bar_file], tmp_path / "index.html").read_text(
            encoding="utf-8")
        return re.search(r'<section id="backtest">.*?</section>', page, re.S).group(0)

    section = use({"sim_share": validated, "sim_proxy": other})
    assert re.search(r"Scenario forecasts made with this setting</span>.*?: <code>sim_share"
                     r"</code> \(sim_baseline, sim_push\)</p>", section, re.S)
    assert "sim_proxy" not in section
    # A model a scenario names for an indicator it does not forecast is not a forecast.
    section = use({"sim_share": other, "sim_unfitted": validated})
    assert "No scenario in this report forecasts with this setting" in section
    # Another prior, or data cut at a year, is not the validated setting: the report warns.
    cut = validated.model_copy(update={"until": 2020})
    for models in ({"sim_share": other}, {"sim_share": cut}, {}):
        section = use(models)
        assert "No scenario in this report forecasts with this setting" in section
        assert "made with this setting" not in section
