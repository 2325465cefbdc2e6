"""The analysis scripts of the back-tests (scripts/spread_bound.py, reversion.py,
compare_variants.py, bar_chance.py, by_level.py, recalibrate_pit.py, changes_by_level.py,
backtest_table.py, miss_ceiling.py, surprise_shape.py, margin_interval.py).

Every series and forecast here is SIMULATED (``sim_*`` geos).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tnmodel.backtest import binomial_band, crps_from_draws, levels_at_cutoff, pit_normal_scores

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


spread_bound = _script("spread_bound")
reversion = _script("reversion")
compare_variants = _script("compare_variants")
bar_chance = _script("bar_chance")
by_level = _script("by_level")
recalibrate_pit = _script("recalibrate_pit")
changes_by_level = _script("changes_by_level")
backtest_table = _script("backtest_table")
miss_ceiling = _script("miss_ceiling")
surprise_shape = _script("surprise_shape")
margin_interval = _script("margin_interval")


def _simulated_scores(forecast_sd: float, n: int = 600, truth_sd: float = 0.2) -> pd.DataFrame:
    """Logit-normal forecasts with sd ``forecast_sd`` of outcomes whose sd is ``truth_sd``,
    and an always-too-wide baseline; in ``scores.csv`` columns."""
    rng = np.random.default_rng(3)
    median = rng.uniform(-1.5, 2.0, n)
    outcome = 100 / (1 + np.exp(-(median + truth_sd * rng.standard_normal(n))))
    rows = []
    for model, sd in (("transition_local", forecast_sd), ("ets_damped", 3 * truth_sd)):
        q = {name: 100 / (1 + np.exp(-(median + z * sd)))
             for name, z in (("q10", -spread_bound.Z80), ("median", 0.0),
                             ("q90", spread_bound.Z80))}
        draws = 100 / (1 + np.exp(-(median[:, None] + sd * rng.standard_normal((n, 4000)))))
        crps = [crps_from_draws(d, o) for d, o in zip(draws, outcome, strict=True)]
        rows.append(pd.DataFrame({"panel": "sim", "model": model, "cutoff": 2015,
                                  "geo": [f"sim_{i}" for i in range(n)], "year": 2016,
                                  "horizon": 1, "observed": outcome, "crps": crps, **q}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize(("forecast_sd", "best"), [(0.2, 1.0), (0.3, 0.7)])
def test_the_best_factor_is_the_one_that_undoes_the_over_dispersion(forecast_sd, best):
    table = spread_bound.bound_table(_simulated_scores(forecast_sd), "transition_local",
                                     "ets_damped")
    top = table.loc[table["skill"].idxmax()]
    assert top["factor"] == pytest.approx(best)
    assert top["coverage80"] == pytest.approx(0.8, abs=0.05)
    # The approximation at k = 1 is the recorded CRPS of the same forecasts.
    one = table[table["factor"] == 1.0].iloc[0]
    assert one["crps"] == pytest.approx(one["recorded_crps"], rel=0.02)
    # Shrinking a calibrated spread costs; shrinking an over-dispersed one pays.
    assert (table.set_index("factor")["crps"][0.5] > one["crps"]) == (forecast_sd == 0.2)


def _simulated_panel(kind: str, geos: int = 60, years: int = 20) -> pd.DataFrame:
    """Logit paths with a steady pace plus either transient blips (observation noise) or
    lasting changes of pace (a random walk in the pace), as percent."""
    rng = np.random.default_rng(5)
    rows = []
    for g in range(geos):
        t = np.arange(years)
        if kind == "blips":
            eta = -2.0 + 0.2 * t + 0.2 * rng.standard_normal(years)
        else:
            eta = -1.5 + np.cumsum(0.1 + np.cumsum(0.03 * rng.standard_normal(years)))
        rows.append(pd.DataFrame({"geo": f"sim_{g}", "year": 2000 + t,
                                  "value": 100 / (1 + np.exp(-eta))}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize(("kind", "corr"), [("blips", -2 / 3), ("pace", 0.0)])
def test_reversion_tells_blips_from_lasting_changes_of_pace(kind, corr):
    summary = reversion.reversion_summary(
        reversion.second_differences(_simulated_panel(kind)), large=0.3)
    assert summary["corr_all"] == pytest.approx(corr, abs=0.07)
    assert summary["n_pairs"] == 60 * 17  # 18 second differences per geo, the last unpaired


def _backtest_folder(path: Path, crps: list[float], in_band80: list[bool],
                     failed: int = 0) -> Path:
    """A SIMULATED back-test folder: transition_local and ETS-damped forecasts of two geos at
    horizons 1-5, with the given CRPS per horizon and 80% coverage in band or not."""
    path.mkdir()
    rows = [{"model": model, "cutoff": 2015, "geo": geo, "year": 2015 + h, "horizon": h,
             "crps": value * (1.5 if model == "ets_damped" else 1.0)}
            for model in ("transition_local", "ets_damped") for geo in ("sim_a", "sim_b")
            for h, value in zip(range(1, 6), crps, strict=True)]
    pd.DataFrame(rows).to_csv(path / "scores.csv", index=False)
    pd.DataFrame({"model": "transition_local", "horizon": range(1, 6), "in_band80": in_band80,
                  "in_band95": True}).to_csv(path / "metrics.csv", index=False)
    pd.DataFrame({"model": "transition_local", "cutoff": [2012, 2015], "role": "forecast",
                  "status": ["failed"] * failed + ["ok"] * (2 - failed)}).to_csv(
        path / "fits.csv", index=False)
    return path


def test_a_variant_is_adopted_only_when_every_check_of_the_rule_holds(tmp_path):
    base = _backtest_folder(tmp_path / "base", [1, 2, 3, 4, 5], [True, True, True, True, False])
    better = _backtest_folder(tmp_path / "better", [1, 2, 3, 4, 4.5], [True] * 5)
    sharper = _backtest_folder(tmp_path / "sharper", [0.5, 2, 3, 4, 5],
                               [True, True, False, False, True])
    unreliable = _backtest_folder(tmp_path / "unreliable", [0.5, 2, 3, 4, 5], [True] * 5,
                                  failed=1)
    common = pd.read_csv(base / "scores.csv").set_index(compare_variants.KEY).index
    rows = {f.name: compare_variants.summary(compare_variants.read_run(str(f)), common)
            for f in (base, better, sharper, unreliable)}
    assert rows["base"]["summed"] == 15 and rows["base"]["in80"] == 4
    assert rows["better"]["vs_ets"] == pytest.approx([1 / 3] * 5, abs=0.01)
    assert all(compare_variants.rule_checks(rows["base"], rows["better"]).values())
    checks = compare_variants.rule_checks(rows["base"], rows["sharper"])
    assert checks["summed CRPS lower"] and not checks["80% in band at no fewer horizons"]
    assert not compare_variants.rule_checks(rows["base"], rows["unreliable"])[
        "fits pass at least as often"]


def _many_geo_folder(path: Path, crps: np.ndarray) -> Path:
    """A SIMULATED back-test folder of ``crps.shape[0]`` geos at horizons 1-5 (transition_local
    only), with the given CRPS per geo and horizon."""
    path.mkdir()
    geos, horizons = crps.shape
    pd.DataFrame([{"model": "transition_local", "cutoff": 2015, "geo": f"sim_{g}",
                   "year": 2015 + h, "horizon": h, "crps": crps[g, h - 1]}
                  for g in range(geos) for h in range(1, horizons + 1)]).to_csv(
        path / "scores.csv", index=False)
    pd.DataFrame({"model": "transition_local", "horizon": range(1, horizons + 1),
                  "in_band80": True, "in_band95": True}).to_csv(path / "metrics.csv",
                                                                 index=False)
    pd.DataFrame({"model": ["transition_local"], "role": "forecast", "status": "ok"}).to_csv(
        path / "fits.csv", index=False)
    return path


@pytest.mark.parametrize(("shift", "lower"), [(-0.3, True), (0.0, None)])
def test_the_crps_difference_is_sure_only_when_the_variant_gains_on_most_geos(tmp_path, shift,
                                                                              lower):
    rng = np.random.default_rng(8)
    base_crps = rng.gamma(2.0, 1.0, (40, 5))
    base = _many_geo_folder(tmp_path / "base", base_crps)
    # The variant: a gain of `shift` per forecast, plus noise of sd 1 per forecast.
    variant = _many_geo_folder(tmp_path / "variant",
                               base_crps + shift + rng.standard_normal((40, 5)))
    common = pd.read_csv(base / "scores.csv").set_index(compare_variants.KEY).index
    sure = compare_variants.crps_difference(compare_variants.read_run(str(base)),
                                            compare_variants.read_run(str(variant)), common,
                                            reps=1000)
    assert sure["low"] < sure["difference"] < sure["high"]
    if lower:  # 5 horizons x -0.3, with an sd of about sqrt(5 / 40) = 0.35 around it
        assert sure["high"] < 0 and sure["share_lower"] > 0.95
        assert sure["difference"] == pytest.approx(-1.5, abs=0.7)
    else:
        assert sure["low"] < 0 < sure["high"] and 0.05 < sure["share_lower"] < 0.95


def test_a_folder_the_rule_cannot_read_is_refused_by_name(tmp_path):
    folder = _backtest_folder(tmp_path / "base", [1, 2, 3, 4, 5], [True] * 5)
    (folder / "fits.csv").unlink()
    with pytest.raises(SystemExit, match=r"fits\.csv: no such file"):
        compare_variants.read_folder(folder)
    pd.DataFrame({"model": ["transition_local"], "status": ["ok"]}).to_csv(
        folder / "fits.csv", index=False)
    with pytest.raises(SystemExit, match="no column role; .*older tnmodel"):
        compare_variants.read_folder(folder)


def _layout(paths: int = 64) -> pd.DataFrame:
    """A SIMULATED back-test layout: ``paths`` (cut-off, geo) paths scored at horizons 1-5."""
    return pd.DataFrame([{"cutoff": 2015, "geo": f"sim_{g}", "horizon": h}
                         for g in range(paths) for h in range(1, 6)])


def test_a_calibrated_panel_passes_each_check_as_often_as_its_binomial_band_says():
    from scipy.stats import binom

    chance = bar_chance.pass_chance(_layout(), np.eye(5), reps=4000)
    lo, hi = (round(b * 64) for b in binomial_band(64, 0.8))
    exact80 = binom.cdf(hi, 64, 0.8) - binom.cdf(lo - 1, 64, 0.8)
    assert chance["check"]["pass80"].to_numpy() == pytest.approx([exact80] * 5, abs=0.02)
    # Independent horizons: all ten pass about as often as the product of the five
    # horizons' chances of passing both checks.
    both = chance["check"]["pass80"] * chance["check"]["pass95"]
    assert chance["all"] == pytest.approx(float(both.prod()), abs=0.05)


def test_paths_that_move_together_fail_together():
    # With (nearly) one PIT per path the five horizons pass or fail as one: the chance of
    # passing all of them is that of one horizon, higher than with independent horizons.
    nearly_one = np.full((5, 5), 0.999) + 0.001 * np.eye(5)
    together = bar_chance.pass_chance(_layout(), nearly_one, reps=4000)
    apart = bar_chance.pass_chance(_layout(), np.eye(5), reps=4000)
    first = together["check"].iloc[0]
    assert together["all"] == pytest.approx(min(first["pass80"], first["pass95"]), abs=0.05)
    assert together["all"] > apart["all"] + 0.1


def test_the_pit_correlation_is_measured_from_paths_scored_at_every_horizon():
    rng = np.random.default_rng(4)
    truth = np.array([[1.0 if i == j else 0.6 for j in range(5)] for i in range(5)])
    z = rng.standard_normal((400, 5)) @ np.linalg.cholesky(truth).T
    from scipy.stats import norm

    scores = _layout(400).assign(panel="sim", pit=norm.cdf(z).ravel())
    assert bar_chance.pit_correlation(scores) == pytest.approx(truth, abs=0.1)


def test_misses_are_grouped_by_the_level_each_geo_had_at_its_cut_off(tmp_path):
    # A SIMULATED data file and folder: sim_low is at 5% at the 2015 cut-off and every one of
    # its forecasts lands above the 80% interval; sim_high, at 80%, is always inside.
    data = pd.DataFrame({"geo": ["sim_low"] * 3 + ["sim_high"] * 3,
                         "year": [2013, 2015, 2016] * 2, "value": [3, 5, 9, 70, 80, 85]})
    data.to_csv(tmp_path / "sim.csv", index=False)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "manifest.json").write_text(
        '{"data_file": "sim.csv", "cutoffs": [2015], "upper": 100, "since": 2000}')
    levels = levels_at_cutoff(folder, tmp_path)
    assert dict(zip(levels["geo"], levels["level"], strict=True)) == {"sim_high": 80,
                                                                      "sim_low": 5}
    scores = pd.DataFrame({"cutoff": 2015, "geo": ["sim_low"] * 3 + ["sim_high"] * 3,
                           "horizon": [3, 4, 5] * 2, "pit": [0.95] * 3 + [0.5] * 3,
                           "above80": [True] * 3 + [False] * 3, "below80": False,
                           "in95": [False] * 3 + [True] * 3, "observed": 10.0,
                           "median": [8.0] * 3 + [10.0] * 3})
    table = by_level.by_level(scores.merge(levels, on=["cutoff", "geo"]))
    assert table.loc["0-10", "above80"] == 1 and table.loc["70-90", "above80"] == 0
    assert table.loc["0-10", "median_error"] == 2 and table.loc["70-90", "n"] == 3
    assert "30-50" not in table.index  # no geo there


def test_spread_by_level_tells_a_group_whose_outcomes_stray_further_than_its_width():
    # SIMULATED logit-normal forecasts of sd 0.2 at every level; outcomes stray by that sd at
    # 50% and by twice it at 5%.
    rng = np.random.default_rng(21)
    rows = []
    for level, truth_sd in ((5.0, 0.4), (50.0, 0.2)):
        centre = np.log(level / (100 - level)) + np.zeros(3000)
        outcome = centre + truth_sd * rng.standard_normal(3000)
        rows.append(pd.DataFrame({
            "level": level, "horizon": 1, "upper": 100.0,
            **{name: 100 / (1 + np.exp(-(centre + z * 0.2)))
               for name, z in (("q10", -by_level.Z80), ("median", 0.0), ("q90", by_level.Z80))},
            "observed": 100 / (1 + np.exp(-outcome))}))
    table = by_level.spread_by_level(pd.concat(rows, ignore_index=True))
    assert table.loc["0-10/h1", "forecast_sd"] == pytest.approx(0.2, abs=1e-3)
    assert table.loc["50-70/h1", "forecast_sd"] == pytest.approx(0.2, abs=1e-3)
    assert table.loc["0-10/h1", "error_robust_sd"] == pytest.approx(0.4, abs=0.03)
    assert table.loc["50-70/h1", "error_robust_sd"] == pytest.approx(0.2, abs=0.015)
    assert table.loc["50-70/h1", "error_sd"] == pytest.approx(0.2, abs=0.015)


def test_normal_scores_tell_a_wide_core_with_narrow_tails_from_a_calibrated_forecast():
    rng = np.random.default_rng(7)
    calibrated = pd.DataFrame({"horizon": 1, "pit": rng.uniform(size=4000)})
    # Outcomes from a t(3) scored by a normal of the same variance: too wide in the core,
    # too narrow in the tails.
    t = rng.standard_t(3, size=4000)
    heavy = pd.DataFrame({"horizon": 2, "pit": stats.norm.cdf(t / np.sqrt(3.0))})
    table = by_level.normal_scores(pd.concat([calibrated, heavy]))
    assert table.loc[1, "mean"] == pytest.approx(0, abs=0.05)
    assert table.loc[1, "sd"] == pytest.approx(1, abs=0.05)
    assert table.loc[1, "robust_sd"] == pytest.approx(1, abs=0.06)
    assert table.loc[1, "beyond_1_96"] == pytest.approx(0.05, abs=0.015)
    assert table.loc[2, "robust_sd"] < 0.85 and table.loc[2, "beyond_1_96"] < 0.05


def test_falls_tell_forecasts_that_give_falls_too_much_chance():
    # SIMULATED: forecasts Normal(level + 1, 1) at two horizons. At h1 the outcomes come from
    # the forecasts (calibrated: 16% fall); at h2 they never fall below the level.
    rng = np.random.default_rng(12)
    n, level = 3000, 50.0
    quantiles = {name: level + 1.0 + stats.norm.ppf(q) for name, q in
                 (("q025", 0.025), ("q10", 0.10))}
    rows = pd.DataFrame({"horizon": np.repeat([1, 2], n), "level": level, **quantiles,
                         "observed": np.r_[level + 1.0 + rng.standard_normal(n),
                                           level + np.abs(rng.standard_normal(n))]})
    table = by_level.falls(rows)
    assert table.loc[1, "q10_below"] == table.loc[1, "q025_below"] == 1.0
    assert table.loc[1, "implied_at_least"] == pytest.approx(0.10)
    assert table.loc[1, "fell"] == pytest.approx(stats.norm.cdf(-1.0), abs=0.02)
    assert table.loc[1, "fell"] >= table.loc[1, "implied_at_least"]
    assert table.loc[2, "fell"] == 0.0 < table.loc[2, "implied_at_least"]


def test_a_track_record_recalibrates_a_biased_forecast_with_only_what_was_known_then():
    # SIMULATED PITs: a forecast biased low puts outcomes high in its distribution (PIT ~
    # Beta(3, 1): 27% above the 80% interval). Its past forecasts (outcomes up to 2015)
    # show the same bias.
    rng = np.random.default_rng(6)
    past = pd.DataFrame({"horizon": 3, "year": 2014, "pit": rng.beta(3.0, 1.0, 400)})
    new = pd.DataFrame({"cutoff": 2015, "horizon": 3, "pit": rng.beta(3.0, 1.0, 400)})
    fixed = recalibrate_pit.recalibrate(new, past)
    assert new["pit"].between(0.1, 0.9).mean() < 0.75  # the biased forecast under-covers
    assert fixed.between(0.1, 0.9).mean() == pytest.approx(0.8, abs=0.05)
    assert fixed.mean() == pytest.approx(0.5, abs=0.04)
    # A track record of outcomes after the cut-off was not known then: nothing changes.
    later = past.assign(year=2017)
    assert recalibrate_pit.recalibrate(new, later).equals(new["pit"])
    # A calibrated track record leaves a forecast about as it was.
    calibrated = past.assign(pit=rng.uniform(size=400))
    assert recalibrate_pit.recalibrate(new, calibrated).to_numpy() == pytest.approx(
        new["pit"].to_numpy(), abs=0.08)


def _scored_folder(path: Path, geos: list[str], inside: list[bool]) -> Path:
    """A SIMULATED back-test folder with every ``scores.csv`` column the metrics need: one
    forecast per geo at horizon 1, inside its 80% and 95% intervals or not."""
    path.mkdir()
    scores = pd.DataFrame({"model": "transition_local", "cutoff": 2015, "geo": geos,
                           "year": 2016, "horizon": 1, "in80": inside, "in95": True,
                           "below80": False, "above80": [not i for i in inside],
                           "crps": 1.0, "abs_error": 1.0})
    scores.to_csv(path / "scores.csv", index=False)
    from tnmodel.backtest import summarise

    summarise(scores).to_csv(path / "metrics.csv", index=False)
    pd.DataFrame({"model": ["transition_local"], "role": "forecast", "status": "ok"}).to_csv(
        path / "fits.csv", index=False)
    return path


def test_two_panels_are_judged_together_on_their_pooled_forecasts(tmp_path):
    # SIMULATED: 30 forecasts all inside the 80% interval (too wide alone) and 30 with 18
    # inside (too narrow alone) make 48 of 60 = 0.80 pooled, inside the band.
    wide = _scored_folder(tmp_path / "wide", [f"sim_w{i}" for i in range(30)], [True] * 30)
    narrow = _scored_folder(tmp_path / "narrow", [f"sim_n{i}" for i in range(30)],
                            [True] * 18 + [False] * 12)
    alone = [compare_variants.read_run(str(f)).metrics.iloc[0] for f in (wide, narrow)]
    assert not alone[0]["in_band80"] and not alone[1]["in_band80"]
    pooled = compare_variants.read_run(f"{wide},{narrow}")
    assert pooled.name == "wide+narrow" and len(pooled.scores) == 60 and len(pooled.fits) == 2
    assert pooled.metrics.iloc[0]["coverage80"] == pytest.approx(0.8)
    assert pooled.metrics.iloc[0]["in_band80"]
    with pytest.raises(SystemExit, match="share forecasts"):
        compare_variants.read_run(f"{wide},{wide}")


def test_both_coverage_checks_of_a_horizon_are_counted():
    # SIMULATED PITs: 20 forecasts at each of two horizons, 16 inside the 80% interval and
    # 19 inside the 95% one (both in band), so 2 checks in band at each horizon: 4.
    pits = [0.5] * 16 + [0.05] * 3 + [0.99]
    scores = pd.DataFrame({"horizon": [1] * 20 + [2] * 20, "pit": pits * 2})
    table, checks = recalibrate_pit.coverage_checks(scores, "pit")
    assert table["coverage80"].tolist() == [0.8, 0.8] and table["coverage95"].tolist() == [0.95] * 2
    assert checks == 4


def _simulated_shares(kind: str, rng: np.random.Generator, geos: int = 40) -> pd.DataFrame:
    """Long rows of simulated shares over 2000-2020: 'persistent' starts at 8% and moves by a
    logit pace of 0.05 plus an AR(1) excess (phi 0.7, sd 0.1); 'noisy' sits near 97% on a
    steady pace of 0.02 and each value has a white logit error of sd 0.2."""
    years = np.arange(2000, 2021)
    rows = []
    for g in range(geos):
        if kind == "persistent":
            excess, eta = 0.0, [-2.5]
            for _ in years[1:]:
                excess = 0.7 * excess + 0.1 * rng.standard_normal()
                eta.append(eta[-1] + 0.05 + excess)
            eta = np.array(eta)
        else:
            eta = 3.4 + 0.02 * (years - 2000) + 0.2 * rng.standard_normal(years.size)
        rows.append(pd.DataFrame({"geo": f"sim_{kind}_{g}", "year": years,
                                  "value": 100.0 / (1.0 + np.exp(-eta))}))
    return pd.concat(rows, ignore_index=True)


def test_changes_by_level_tells_a_persistent_pace_from_a_white_observation_error():
    rng = np.random.default_rng(3)
    persistent = changes_by_level.yearly_changes(_simulated_shares("persistent", rng))
    noisy = changes_by_level.yearly_changes(_simulated_shares("noisy", rng))
    assert persistent["level"].between(0, 90).all() and noisy["level"].min() > 90

    table = changes_by_level.by_level(pd.concat([persistent, noisy]))
    table = table[table["n"] >= 100]  # the bands most changes start from
    low, high = table[table.index.str.startswith(("3-", "10-", "30-"))], \
        table[table.index.str.startswith(("90-", "95-"))]
    assert len(low) >= 2 and len(high) >= 1
    assert (low["lag1_corr"] > 0.2).all() and (low["error_bound"] == 0).all()
    # White error e: changes e_t - e_t-1 have lag-1 covariance -e**2 (correlation -1/2), and
    # their second differences an sd of sqrt(6) e.
    assert (high["lag1_corr"] < -0.3).all()
    np.testing.assert_allclose(high["error_bound"], 0.2, rtol=0.25)
    np.testing.assert_allclose(high["spread_2nd"], np.sqrt(6) * 0.2, rtol=0.25)


def test_a_takeoff_that_speeds_up_after_its_cut_off_shows_in_the_paces_around_it():
    years = np.arange(2005, 2021)
    eta = np.where(years <= 2012, -5.0 + 0.1 * (years - 2005), -4.3 + 0.5 * (years - 2012))
    rows = pd.DataFrame({"geo": "sim_takeoff", "year": years,
                         "value": 100.0 / (1.0 + np.exp(-eta))})
    table = changes_by_level.around_cutoffs(rows, [2012, 2030])  # 2030: no years after it
    assert list(table.index) == ["1-2"] and int(table["n"].iloc[0]) == 1
    assert table["pace_before"].iloc[0] == pytest.approx(0.1)
    assert table["pace_after"].iloc[0] == pytest.approx(0.5)


@pytest.mark.parametrize(("own", "expected"), [(True, 0.9), (False, 0.0)])
def test_volatility_persistence_finds_a_geos_own_volatility_only_when_it_has_one(own, expected):
    rng = np.random.default_rng(4)
    years = np.arange(2000, 2027)
    rows = []
    for g in range(150):
        sd = np.exp(rng.normal(0.0, 1.0, 2))  # one per half
        sd = np.full(2, sd[0]) if own else sd
        noise = np.where(years <= 2013, sd[0], sd[1]) * 0.05 * rng.standard_normal(years.size)
        eta = -1.0 + 0.1 * (years - 2000) / 2.7 + np.cumsum(noise)
        rows.append(pd.DataFrame({"geo": f"sim_{g}", "year": years,
                                  "value": 100.0 / (1.0 + np.exp(-eta))}))
    changes = changes_by_level.yearly_changes(pd.concat(rows, ignore_index=True))
    corr, geos = changes_by_level.volatility_persistence(changes)
    assert geos >= 120
    assert corr == pytest.approx(expected, abs=0.2)


def test_a_back_test_file_is_checked_for_its_columns_and_model_before_use(tmp_path):
    from tnmodel.backtest import BacktestOutputError, read_backtest_output

    with pytest.raises(BacktestOutputError, match=r"scores\.csv: no such file"):
        read_backtest_output(tmp_path, "scores.csv")
    pd.DataFrame({"model": ["cagr"], "pit": [0.5]}).to_csv(tmp_path / "scores.csv", index=False)
    with pytest.raises(BacktestOutputError, match="no column horizon; .*older tnmodel"):
        read_backtest_output(tmp_path, "scores.csv", columns=["pit", "horizon"])
    with pytest.raises(BacktestOutputError, match="no transition_local rows; .*--model"):
        read_backtest_output(tmp_path, "scores.csv", model="transition_local")
    frame = read_backtest_output(tmp_path, "scores.csv", columns=["pit"], model="cagr")
    assert frame["pit"].tolist() == [0.5]


def test_a_back_test_manifest_is_checked_before_its_data_file_is_read(tmp_path):
    from tnmodel.backtest import BacktestOutputError, read_manifest

    with pytest.raises(BacktestOutputError, match=r"manifest\.json: cannot be read"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(BacktestOutputError, match=r"manifest\.json: cannot be read"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text('{"cutoffs": [2015]}')
    with pytest.raises(BacktestOutputError, match="no data_file; .*older tnmodel"):
        levels_at_cutoff(tmp_path)


@pytest.mark.parametrize("script", ["compare_variants", "bar_chance", "by_level",
                                    "recalibrate_pit", "backtest_table", "miss_ceiling",
                                    "margin_interval"])
def test_every_analysis_script_refuses_a_folder_without_scores_by_name(tmp_path, monkeypatch,
                                                                      script):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    for name in ("metrics.csv", "fits.csv"):  # every file but the scores
        pd.DataFrame({"model": ["transition_local"], "horizon": [1], "in_band80": [True],
                      "in_band95": [True], "role": ["forecast"], "status": ["ok"]}).to_csv(
            folder / name, index=False)
    module = {"compare_variants": compare_variants, "bar_chance": bar_chance,
              "by_level": by_level, "recalibrate_pit": recalibrate_pit,
              "backtest_table": backtest_table, "miss_ceiling": miss_ceiling,
              "margin_interval": margin_interval}[script]
    arguments = [str(folder)] * (2 if script == "compare_variants" else 1)
    monkeypatch.setattr(sys, "argv", [f"{script}.py", *arguments])
    with pytest.raises(SystemExit, match=r"run/scores\.csv: no such file"):
        module.main()


def test_markdown_table_puts_the_index_first_and_numbers_in_g_format():
    from tnmodel.backtest import markdown_table

    table = pd.DataFrame({"n": [40, 77], "share": [0.625, 0.3]}, index=["0-1", "1-2"])
    assert markdown_table("Misses:", table, "level (%)").splitlines() == [
        "Misses:", "| level (%) | n | share |", "| --- | --- | --- |",
        "| 0-1 | 40 | 0.625 |", "| 1-2 | 77 | 0.3 |"]
    marks = pd.DataFrame({"coverage": [0.9], "band": ["out"], "met": [True]}, index=["h1"])
    assert markdown_table("", marks, "h").splitlines()[-1] == "| h1 | 0.9 | out | True |"


def _calibrated_pits(rng: np.random.Generator, n_geos: int, shared_sd: float = 0.0,
                     cutoffs=(2009, 2012, 2015, 2018)) -> pd.DataFrame:
    """SIMULATED scores of calibrated forecasts: normal scores ``shared + own`` with a shock
    of sd ``shared_sd`` common to every geo of a cut-off and horizon, total variance 1."""
    rows = []
    for cutoff in cutoffs:
        for horizon in range(1, 6):
            z = (shared_sd * rng.standard_normal()
                 + np.sqrt(1 - shared_sd**2) * rng.standard_normal(n_geos))
            pit = stats.norm.cdf(z)
            rows.append(pd.DataFrame({
                "cutoff": cutoff, "geo": [f"sim_{i}" for i in range(n_geos)],
                "horizon": horizon, "pit": pit, "in80": (pit > 0.1) & (pit < 0.9),
                "in95": (pit > 0.025) & (pit < 0.975), "above80": pit >= 0.9}))
    return pd.concat(rows, ignore_index=True)


@pytest.mark.parametrize("shared_sd", [0.0, 0.5])
def test_shared_years_finds_a_shock_common_to_one_cut_off_and_horizon(shared_sd):
    scores = _calibrated_pits(np.random.default_rng(11), 400, shared_sd,
                              cutoffs=range(2000, 2020))
    icc, m0 = miss_ceiling.intraclass_correlation(pit_normal_scores(scores["pit"]),
                                                  scores[miss_ceiling.CLUSTER])
    assert m0 == pytest.approx(400)
    assert icc == pytest.approx(shared_sd**2, abs=0.06)
    table = miss_ceiling.shared_years(scores)
    # The band widens only when the geos' outcomes move together.
    widened = (table["band95_low"] - table["widened_low"]).min()
    assert (widened > 0.03) if shared_sd else (widened < 0.005)


def test_a_ceiling_calibrates_only_its_group_and_leaves_the_rest_as_they_were():
    scores = _calibrated_pits(np.random.default_rng(12), 150)
    level = np.where(scores["geo"].isin([f"sim_{i}" for i in range(20)]), 1.0, 50.0)
    low = level < 2
    # The 20 low geos' outcomes always land above the 95% interval.
    scores.loc[low, ["pit", "in80", "in95", "above80"]] = [0.99, False, False, True]
    table = miss_ceiling.ceilings(scores, {"low": low}).set_index(["group", "horizon"])
    as_is, fixed = table.loc["as is"], table.loc["low"]
    assert (as_is["band95"] == "out").all() and (as_is["calibrated"] == 0).all()
    assert (fixed["calibrated"] == 80).all()
    assert (fixed["band95"] == "in").mean() >= 0.8  # calibrated: in band 19 times in 20
    rest = ~low & (scores["horizon"] == 1).to_numpy()
    expected = (scores.loc[rest, "in95"].sum() + 0.95 * 80) / (rest.sum() + 80)
    assert fixed.loc[1, "coverage95"] == pytest.approx(expected, abs=5e-4)


def test_by_cutoff_shows_the_era_that_lifted_every_outcome():
    scores = _calibrated_pits(np.random.default_rng(13), 200)
    era = scores["cutoff"] == 2015
    z = pit_normal_scores(scores["pit"]) + np.where(era, 1.0, 0.0)
    scores["pit"] = stats.norm.cdf(z)
    table = miss_ceiling.by_cutoff(scores)
    assert table.loc["2015/h3", "mean_z"] == pytest.approx(1.0, abs=0.2)
    assert table.loc["2012/h3", "mean_z"] == pytest.approx(0.0, abs=0.2)
    assert table.loc["2012/h3", "n"] == 200


def _chain(n_geos: int, years: int):
    """``prev``, ``gap`` and ``first`` of ``n_geos`` SIMULATED geos with a value every year."""
    index = np.arange(n_geos * years)
    first = (index % years == 0).astype(int)
    return np.where(first == 1, index, index - 1), np.where(first == 1, 0, 1), first


@pytest.mark.parametrize("skewed", [False, True])
def test_surprise_shape_tells_surprises_skewed_up_from_normal_ones(skewed):
    # SIMULATED: 400 geos x 6 years on logits rising 0.3 a year, surprises of sd 0.2 that
    # are normal or (centred) exponential: skewed up, with a short tail down.
    rng = np.random.default_rng(4)
    prev, gap, first = _chain(400, 6)
    shocks = (rng.exponential(1.0, prev.size) - 1.0 if skewed
              else rng.standard_normal(prev.size))
    eta = np.zeros(prev.size)
    for i in range(prev.size):
        eta[i] = -2.0 if first[i] else eta[prev[i]] + 0.3 + 0.2 * shocks[i]
    mean = np.where(first == 1, eta, eta[prev] + 0.3)[:, None]
    table = surprise_shape.surprise_table(eta[:, None], mean, np.full((prev.size, 1), 0.04),
                                          prev, gap, first)
    assert len(table) == 400 * 5
    summary = surprise_shape.shape_summary(table, normal=True).iloc[0]
    if skewed:  # a fall needs a shock below -1.5, which the exponential never gives
        assert summary["skewness"] > 1.5 and summary["fell"] == 0.0
        assert summary["below_-1.28"] < 0.02 < 0.05 < summary["above_1.28"]
    else:
        assert abs(summary["skewness"]) < 0.2
        assert summary["below_-1.28"] == pytest.approx(0.10, abs=0.02)
        assert summary["fell"] == pytest.approx(stats.norm.cdf(-1.5), abs=0.01)
    # The normal conditionals give a fall when the shock is below -1.5 sd, either way.
    assert summary["p_fall_normal"] == pytest.approx(stats.norm.cdf(-1.5), abs=5e-4)
    assert "p_fall_normal" not in surprise_shape.shape_summary(table, normal=False)


def test_falls_by_part_shows_which_part_of_the_forecast_gives_the_falls():
    # SIMULATED forecast: the level at 50% (logit 0), one year ahead logit 0.2 plus the
    # innovation (sd sigma_u) and the new observation error (sd sigma_src) only.
    n, geos = 20000, 3
    # With "tau_vol" among the draws the innovations are twice as wide (a stand-in for the
    # fresh volatility spell, which a forecast without that draw goes without).
    draws = {"last_eta": np.zeros((n, geos)), "sigma_u": np.full(n, 0.2),
             "sigma_src": np.full((n, 1), 0.05), "last_error_sd": np.zeros((n, geos)),
             "tau_vol": np.full(n, 0.5)}

    def forecast(d, rng):
        spell = 2.0 if "tau_vol" in d else 1.0
        logit = (0.2 + spell * d["sigma_u"][:, None] * rng.standard_normal((n, geos))
                 + d["sigma_src"][:, :1] * rng.standard_normal((n, geos)))
        return 100.0 / (1.0 + np.exp(-logit))

    table = surprise_shape.falls_by_part(forecast, draws, np.array([True, True, False]))
    assert table.loc["full forecast", "p_fall"] == pytest.approx(
        stats.norm.cdf(-0.2 / np.hypot(0.4, 0.05)), abs=0.01)
    assert table.loc["without a fresh volatility spell", "p_fall"] == pytest.approx(
        stats.norm.cdf(-0.2 / np.hypot(0.2, 0.05)), abs=0.01)
    assert table.loc["without innovations", "p_fall"] < 1e-4
    assert table.loc["without innovations", "q10_below"] == 0.0
    assert table.loc["full forecast", "q10_below"] == 1.0
    # Parts the draws do not have are not listed.
    assert "without jumps" not in table.index and "with the geo's own pace" not in table.index


def _simulated_margin_scores(rng: np.random.Generator, ours: np.ndarray,
                             scale: np.ndarray | None = None,
                             cutoffs=(2009, 2012, 2015, 2018)) -> pd.DataFrame:
    """SIMULATED scores at horizons 1-5: each baseline's CRPS gamma-distributed around 2
    times ``scale[geo]``, ``transition_local``'s the baselines' mean times ``ours[geo]``."""
    scale = np.ones(len(ours)) if scale is None else scale
    rows = []
    for g in range(len(ours)):
        for cutoff in cutoffs:
            for h in range(1, 6):
                base = scale[g] * rng.gamma(4.0, 0.5, 2)
                rows += [{"model": m, "cutoff": cutoff, "geo": f"sim_{g}", "year": cutoff + h,
                          "horizon": h, "crps": c}
                         for m, c in (("cagr", base[0]), ("ets_damped", base[1]),
                                      ("transition_local", ours[g] * base.mean()))]
    return pd.DataFrame(rows)


def test_a_margin_won_on_every_geo_is_sure_and_one_carried_by_a_geo_is_not():
    rng = np.random.default_rng(21)
    # Every geo 30% below both baselines: the margin is 0.3 and nearly every resample passes.
    even = margin_interval.margin_intervals(_simulated_margin_scores(rng, np.full(12, 0.7)),
                                            reps=2000)
    table = even["table"]
    assert list(table.index) == [1, 2, 3, 4, 5] and (table["n"] == 48).all()
    assert table["vs cagr"].to_numpy() == pytest.approx(0.3, abs=0.06)
    assert (table["cagr P(>=0.2)"] > 0.95).all() and even["every"] > 0.8
    assert even["unit"] == "12 geos"
    # One geo with ten times the CRPS, won by 80%; the other eleven lost by 5%. The margin
    # passes the bar at every horizon (about 0.35, noisier), but a resample without that
    # geo (a third of them) misses.
    ours, scale = np.r_[0.2, np.full(11, 1.05)], np.r_[10.0, np.ones(11)]
    lumpy = margin_interval.margin_intervals(_simulated_margin_scores(rng, ours, scale),
                                             reps=2000)
    assert (lumpy["table"]["vs cagr"] > 0.25).all()
    low = lumpy["table"]["cagr 90%"].str.split(" to ").str[0].astype(float)
    assert (low < 0.0).all()
    shares = lumpy["table"]["cagr P(>=0.2)"]
    assert ((shares > 0.5) & (shares < 0.8)).all()
    # Every check at once needs that geo in the resample (a chance of 1 - (11/12)^12).
    assert lumpy["every"] <= min(shares.min(), 1 - (11 / 12) ** 12 + 0.02)


def test_a_lone_geo_is_resampled_by_its_cut_offs_and_a_missing_baseline_is_left_out():
    rng = np.random.default_rng(22)
    scores = _simulated_margin_scores(rng, np.array([0.7]),
                                      cutoffs=(2007, 2009, 2011, 2013, 2015, 2017))
    result = margin_interval.margin_intervals(scores[scores["model"] != "ets_damped"],
                                              reps=500)
    assert result["unit"] == "6 cutoffs"
    assert not any("ets_damped" in column for column in result["table"].columns)
    assert (result["table"]["n"] == 6).all()
    # Only forecasts both made count: a transition_local forecast without a CAGR one is out.
    dropped = scores[(scores["model"] == "cagr") & (scores["horizon"] == 1)].index[:2]
    assert margin_interval.margin_intervals(scores.drop(dropped),
                                            reps=200)["table"].loc[1, "n"] == 4
