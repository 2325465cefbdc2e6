"""tnmodel.targets: what can honestly be said about each target, and the table row."""

from __future__ import annotations

import numpy as np
import pytest

from tnmodel.baselines import BaselineSettings
from tnmodel.data import load_dataset
from tnmodel.forecast import Paths
from tnmodel.models import select_series
from tnmodel.targets import (
    ESTIMATED,
    INSUFFICIENT,
    PROXY_BOUND,
    attainment_row,
    likelihood_words,
    plan_target,
)


@pytest.fixture
def planned(sim_data):
    ds = load_dataset(sim_data)
    cache = {}

    def series_for(ind):
        return cache.setdefault(ind, select_series(ds, ind, follow_lineage_of=("sim_north",)))

    plans = {t: plan_target(ds.targets[t], ds, series_for, follow_lineage=True)
             for t in ds.targets}
    return ds, plans, series_for


def test_statuses(planned):
    _, plans, _ = planned
    share = plans["sim_north_share_2030"]
    assert (share.status, share.evaluated_geo, share.indicators) == (
        ESTIMATED, "sim_merged", ("sim_share",))
    skills = plans["sim_north_skills_2030"]
    assert skills.status == PROXY_BOUND and skills.indicators == ("sim_proxy",)
    rank = plans["sim_north_rank_2030"]  # 2 simulated provinces cannot be ranked among 63
    assert rank.status == INSUFFICIENT and "no basis of 63" in rank.reason


def test_one_year_of_data_is_insufficient(sim_data):
    text = (sim_data / "observations.csv").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if ",sim_share," not in line
            or ",2022," in line]
    (sim_data / "observations.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    ds = load_dataset(sim_data)
    plan = plan_target(ds.targets["sim_north_share_2030"], ds,
                       lambda ind: select_series(ds, ind), follow_lineage=True)
    assert plan.status == INSUFFICIENT
    assert "sim_merged" in plan.reason  # nothing for the evaluated geo in the window


def _paths(indicator, geos, values_2030):
    values = np.asarray(values_2030, dtype=float).reshape(-1, len(geos), 1)
    return Paths(indicator, tuple(geos), np.array([2030]), values, chains=2)


def test_row_probability_is_share_of_draws_meeting_target(planned):
    ds, plans, series_for = planned
    draws = np.random.default_rng(0).permutation(np.r_[np.full(300, 85.0), np.full(100, 70.0)])
    paths = {"sim_share": _paths("sim_share", ("sim_merged", "sim_south"),
                                 np.c_[draws, draws])}
    row = attainment_row(plans["sim_north_share_2030"], "s", ds, paths,
                         {"sim_share": series_for("sim_share")}, BaselineSettings())
    assert row["p_met"] == pytest.approx(0.75)
    assert 0 < row["p_met_mcse"] < 0.05  # draws in random order: about sqrt(.75*.25/400)
    assert row["q05"] == 70.0 and row["q95"] == 85.0
    assert row["verdict"].startswith("likely")
    assert row["last_obs_year"] == 2025 and row["last_obs_value"] == 70.0
    assert "sim_north" in row["note"]  # lineage is said plainly
    # sim_north 30 (2019) -> 45 (2021) -> merged 70 (2025): the latest value is below 80.
    assert row["baseline_category"].split(" (")[0] in ("on track",
                                                       "progress made but acceleration needed")


def test_proxy_gives_a_bound_not_an_estimate(planned):
    ds, plans, series_for = planned
    draws = np.r_[np.full(90, 90.0), np.full(10, 80.0)]
    paths = {"sim_proxy": _paths("sim_proxy", ("sim_merged", "sim_south"), np.c_[draws, draws])}
    row = attainment_row(plans["sim_north_skills_2030"], "s", ds, paths,
                         {"sim_proxy": series_for("sim_proxy")}, BaselineSettings())
    assert np.isnan(row["p_met"])
    assert row["p_met_upper"] == pytest.approx(0.9)
    assert "at most 0.90" in row["verdict"] and "not an estimate" in row["verdict"]
    assert "Simulated proxy" in row["note"] and "upper bound" in row["note"]


def test_a_pace_carried_by_the_prior_is_said_in_the_note(planned):
    ds, plans, series_for = planned
    draws = np.r_[np.full(90, 90.0), np.full(10, 80.0)]
    paths = {ind: _paths(ind, ("sim_merged", "sim_south"), np.c_[draws, draws])
             for ind in ("sim_share", "sim_proxy")}
    series = {ind: series_for(ind) for ind in paths}

    def influence(sd_ratio: float) -> dict:  # as prior_influence_summary gives it
        return {"sim_merged": {"parameter": "beta", "sd_ratio": sd_ratio, "overlap": 0.9,
                               "carried_by_prior": sd_ratio > 0.7},
                "sim_south": {"parameter": "beta", "sd_ratio": 0.95,
                              "carried_by_prior": True}}

    def notes(sd_ratio: float | None) -> tuple[str, str]:
        prior_pace = None if sd_ratio is None else {ind: influence(sd_ratio) for ind in paths}
        return tuple(attainment_row(plans[t], "s", ds, paths, series, BaselineSettings(),
                                    prior_pace=prior_pace)["note"]
                     for t in ("sim_north_share_2030", "sim_north_skills_2030"))

    share, skills = notes(0.93)
    assert share.endswith("its pace: mostly the prior's, the data (its own and the pool's) "
                          "say little about it (posterior sd 0.93 of the prior's), so the "
                          "trend to 2030 is the model's assumption")
    assert skills.endswith("For sim_merged, the pace of Simulated proxy: mostly the prior's, "
                           "the data (its own and the pool's) say little about it (posterior "
                           "sd 0.93 of the prior's), so the trend to 2030 is the model's "
                           "assumption.")
    # The data spoke (or nothing is known of the fit): the notes say nothing of the prior,
    # whatever the other geo's pace.
    for sd_ratio in (0.4, None):
        assert not any("prior" in note for note in notes(sd_ratio))


def test_probabilities_under_a_weaker_and_a_stronger_prior_are_given_and_said(planned):
    from tnmodel.models.sensitivity import PriorPower

    ds, plans, series_for = planned
    draws = np.r_[np.full(80, 90.0), np.full(20, 70.0)]  # the first 80 draws meet the target
    paths = {ind: _paths(ind, ("sim_merged", "sim_south"), np.c_[draws, draws])
             for ind in ("sim_share", "sim_proxy")}
    series = {ind: series_for(ind) for ind in paths}

    def power(meeting_weight: float, k_stronger: float = 0.2, heavy: bool = False
              ) -> PriorPower:
        # Weights putting ``meeting_weight`` on the draws that meet the target (half as
        # strong; ``heavy``: all of it on one draw) and 0.80 (twice as strong, unmoved).
        meeting = (np.r_[meeting_weight, np.zeros(79)] if heavy
                   else np.full(80, meeting_weight / 80))
        weaker = np.r_[meeting, np.full(20, (1 - meeting_weight) / 20)]
        return PriorPower(("mu_beta",), {0.5: weaker, 2.0: np.full(100, 0.01)},
                          {0.5: 0.3, 2.0: k_stronger})

    def rows(power_of: PriorPower | None) -> tuple[dict, dict]:
        powers = None if power_of is None else dict.fromkeys(paths, power_of)
        return tuple(attainment_row(plans[t], "s", ds, paths, series, BaselineSettings(),
                                    prior_power=powers)
                     for t in ("sim_north_share_2030", "sim_north_skills_2030"))

    share, skills = rows(power(0.6))
    assert share["p_met"] == pytest.approx(0.8)
    assert share["p_met_weaker_prior"] == pytest.approx(0.6)
    assert share["p_met_stronger_prior"] == pytest.approx(0.8)
    # sqrt(80 * 0.0075**2 * 0.4**2 + 20 * 0.02**2 * 0.6**2) and sqrt(100 * 0.01**2 * 0.16)
    assert share["p_met_weaker_prior_mcse"] == pytest.approx(0.06)
    assert share["p_met_stronger_prior_mcse"] == pytest.approx(0.04)
    assert share["note"].endswith("P would be 0.60 (± 0.06) with the fit's prior half as "
                                  "strong, 0.80 (± 0.04) with it twice as strong: the result "
                                  "leans on the prior")
    assert ("= 0.80 (upper bound; median 90.0; P would be 0.60 (± 0.06) with the fit's prior "
            "half as strong, 0.80 (± 0.04) with it twice as strong: the result leans on the "
            "prior)" in skills["note"])
    # Unreliable weights (Pareto k over 0.7) give no number and are not said.
    share, _ = rows(power(0.6, k_stronger=0.9))
    assert np.isnan(share["p_met_stronger_prior"])
    assert np.isnan(share["p_met_stronger_prior_mcse"])
    assert share["note"].endswith("P would be 0.60 (± 0.06) with the fit's prior half as "
                                  "strong: the result leans on the prior")
    # A move under 0.05, or one within twice its Monte-Carlo error (0.7 of the weight on one
    # draw: a move of 0.10, error 0.22), or no fit to reweight: the numbers, no words.
    for power_of in (power(0.78), power(0.7, heavy=True), None):
        share, skills = rows(power_of)
        assert "leans on the prior" not in share["note"] + skills["note"]
    assert np.isnan(share["p_met_weaker_prior"]) and np.isnan(share["p_met_stronger_prior"])


def test_unsupported_row_prints_no_number(planned):
    ds, plans, _ = planned
    row = attainment_row(plans["sim_north_rank_2030"], "s", ds, {}, {}, BaselineSettings())
    assert np.isnan(row["p_met"]) and np.isnan(row["p_met_upper"])
    assert row["verdict"] == "no estimate (insufficient data)"


@pytest.mark.parametrize(("p", "words"), [(0.995, "virtually certain"), (0.95, "very likely"),
                                          (0.7, "likely"), (0.5, "about as likely as not"),
                                          (0.2, "unlikely"), (0.05, "very unlikely"),
                                          (0.0, "exceptionally unlikely")])
def test_likelihood_words(p, words):
    assert likelihood_words(p) == words


def test_break_inside_the_observed_span_is_said(sim_data):
    path = sim_data / "indicators.yaml"
    path.write_text(path.read_text().replace(
        "  definition: A simulated bounded share for tests.\n",
        "  definition: A simulated bounded share for tests.\n"
        "  breaks:\n  - year: 2021\n    what: simulated method change\n"), encoding="utf-8")
    ds = load_dataset(sim_data)
    series = select_series(ds, "sim_share", follow_lineage_of=("sim_north",))
    plan = plan_target(ds.targets["sim_north_share_2030"], ds, lambda ind: series, True)
    paths = {"sim_share": _paths("sim_share", series.geos, np.full((40, 2), 90.0))}
    row = attainment_row(plan, "s", ds, paths, {"sim_share": series}, BaselineSettings())
    assert "definitional break in 2021: simulated method change" in row["note"]
