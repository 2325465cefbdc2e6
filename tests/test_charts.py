"""Charts: spec snapshots from SIMULATED frames, one offline render, and the statistics drawn.

Regenerate the snapshots after an intended change with
``TNMODEL_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_charts.py``
and review the diff of ``tests/snapshots/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_sim_data  # noqa: I001
from sim_results import (
    sim_first_year,
    sim_metrics,
    sim_pit,
    sim_quantiles,
    sim_ranks,
    sim_targets,
)

from tnmodel import charts
from tnmodel.data import load_dataset

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("TNMODEL_UPDATE_SNAPSHOTS") == "1"


def sim_observations() -> pd.DataFrame:
    return pd.DataFrame({"year": [2019, 2021, 2025], "value": [30.0, 45.0, 70.0],
                         "period": ["", "", "2025-01/2025-03"],
                         "source": ["Simulated source"] * 3,
                         "url": ["https://example.org/simulated"] * 3,
                         "geo": ["sim_north", "sim_north", "sim_merged"], "bound": ["", "", ""]})


def sim_fan(lang: str = "en"):
    return charts.fan_chart(
        sim_quantiles(), sim_observations(),
        target={"threshold": 80, "year": 2030, "comparator": ">="},
        breaks=pd.DataFrame({"year": [2022], "what": ["simulated definition change"]}),
        merger="2025-07-01", title="Simulated share", unit="percent", lang=lang)


def sim_comparison():
    both = pd.concat([sim_targets("sim_baseline"), sim_targets("sim_push", 0.2)])
    return charts.scenario_comparison(both)


CASES = {
    "fan_en": lambda: sim_fan("en"),
    "fan_vi": lambda: sim_fan("vi"),
    "comparison": sim_comparison,
    "first_year": lambda: charts.first_year_chart(sim_first_year()),
    "ranks": lambda: charts.rank_chart(sim_ranks().assign(scenario="sim_baseline")),
    "coverage": lambda: charts.coverage_chart(sim_metrics()),
    "pit": lambda: charts.pit_histogram(sim_pit()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_spec_matches_snapshot(name):
    text = charts.spec_json(CASES[name]())
    path = SNAPSHOTS / f"{name}.json"
    if UPDATE or not path.exists():
        if not UPDATE and os.environ.get("CI"):
            pytest.fail(f"snapshot {path.name} is missing; create it with "
                        "TNMODEL_UPDATE_SNAPSHOTS=1 and commit it")
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8")), (
        f"chart spec {name} changed; if intended, regenerate with TNMODEL_UPDATE_SNAPSHOTS=1 "
        "and review the diff")


def test_render_offline_svg_and_png():
    chart = sim_fan()
    svg = charts.to_svg(chart)
    assert svg.lstrip().startswith("<svg") and "<path" in svg and len(svg) > 5000
    png = charts.to_png(chart)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    page = charts.to_html(chart)
    assert "vegaEmbed" in page and "cdn.jsdelivr" not in page and "<script src" not in page


def _layer_data(chart, mark: str) -> pd.DataFrame:
    spec = charts.spec(chart)
    for layer in spec["layer"]:
        if (layer["mark"] if isinstance(layer["mark"], str) else layer["mark"]["type"]) == mark:
            name = (layer.get("data") or spec["data"])["name"]
            return pd.DataFrame(spec["datasets"][name])
    raise AssertionError(f"no {mark} layer")


def test_fan_bands_come_from_the_right_quantiles():
    q = sim_quantiles()
    bands = _layer_data(sim_fan(), "area")
    assert set(bands["band"]) == {"95%", "80%", "50%"}  # 90% only when 95% is absent
    for label, lo, hi in (("95%", "q025", "q975"), ("80%", "q10", "q90"), ("50%", "q25", "q75")):
        got = bands[bands["band"] == label].sort_values("year")
        assert np.allclose(got["lo"], q[lo]) and np.allclose(got["hi"], q[hi])
    without_95 = charts.fan_chart(sim_quantiles(with_95=False))
    assert set(_layer_data(without_95, "area")["band"]) == {"90%", "80%", "50%"}


def test_fan_marks_target_breaks_and_merger_at_their_years():
    rules = charts.spec(sim_fan())["layer"][-1]
    marks = pd.DataFrame(charts.spec(sim_fan())["datasets"][rules["data"]["name"]])
    by_style = dict(zip(marks["style"], marks["x"], strict=True))
    assert by_style["target"] == 2030 and by_style["break"] == 2022
    assert 2025.49 < by_style["merger"] < 2025.51


def test_fan_tooltip_carries_source_and_url():
    obs = _layer_data(sim_fan(), "point")
    assert list(obs["url"]) == ["https://example.org/simulated"] * 3
    assert list(obs["period"]) == ["", "", "2025-01/2025-03"]


def test_charts_tolerate_absent_optional_columns():
    q = sim_quantiles()[["year", "q50"]]
    charts.fan_chart(q)  # no bands, no observations, no target: a line
    minimal = sim_targets()[["scenario", "target_id", "p_met"]]
    charts.scenario_comparison(minimal)
    charts.coverage_chart(sim_metrics()[["model", "horizon", "n", "coverage80"]])
    with pytest.raises(ValueError, match="missing column"):
        charts.rank_chart(sim_ranks())  # no scenario column


def test_comparison_error_bars_are_two_mcse_and_bounds_hollow():
    data = _layer_data(sim_comparison(), "rule")
    est = data[data["target_id"] == "sim_north_share_2030"].iloc[0]
    assert est["hi"] - est["lo"] == pytest.approx(4 * 0.012)
    bound = data[data["target_id"] == "sim_north_skills_2030"].iloc[0]
    assert bound["fill"] == "#ffffff" and bound["p"] == pytest.approx(0.7)
    assert "sim_north_rank_2030" not in set(data["target_id"])  # no probability, no point


def test_binomial_band_holds_calibrated_coverage():
    """A calibrated 80% interval over n forecasts lands in the 95% band about 95% of the time."""
    rng = np.random.default_rng(3)
    n = 40
    lo, hi = charts.binomial_band(n, 0.8)
    hits = rng.binomial(n, 0.8, size=4000) / n
    inside = np.mean((hits >= lo) & (hits <= hi))
    assert 0.94 <= inside <= 0.99
    miscalibrated = rng.binomial(n, 0.5, size=4000) / n  # a 50% interval sold as 80%
    assert np.mean((miscalibrated >= lo) & (miscalibrated <= hi)) < 0.1


def test_pit_histogram_counts_every_value():
    pit = sim_pit()
    spec = charts.spec(charts.pit_histogram(pit, bins=10))
    data = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    assert data.groupby("model")["count"].sum().to_dict() == {"sim_cagr": 60, "sim_logit": 60}
    assert np.allclose(data["expected"], 6.0)


def test_observation_frame_joins_sources_and_lineage(tmp_path):
    dataset = load_dataset(write_sim_data(tmp_path / "sim_data"))
    geos = charts.lineage_geos(dataset, "sim_merged")
    assert geos == ["sim_merged", "sim_north"]
    obs = charts.observation_frame(dataset, "sim_share", geos)
    assert sorted(obs["year"]) == [2019, 2021, 2025]
    assert set(obs["source"]) == {"Simulated source for tests"}
    assert set(obs["url"]) == {"https://example.org/simulated"}
    assert charts.merger_date(dataset, geos) == "2025-07-01"
    assert charts.break_frame(dataset, "sim_share").empty


def test_offline_renderer_is_svg():
    assert charts.use_offline_renderer() == "svg"
