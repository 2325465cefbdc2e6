"""tnmodel.interventions: each transformation's defining property, on SIMULATED paths."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tnmodel.forecast import Paths
from tnmodel.interventions import (
    Accelerate,
    BestQuartile,
    Context,
    Dip,
    Effect,
    Halt,
    InterventionError,
    Merge,
    Reach,
    apply_interventions,
    apply_one,
    from_scale,
    scale_pace,
    to_scale,
)

YEARS = np.arange(2020, 2031)
SHARE = Context()


def sim_paths(n: int = 4000, geos=("sim_a", "sim_b", "sim_c", "sim_d", "sim_e"),
              seed: int = 1, keep_noise: bool = False) -> Paths:
    """SIMULATED logit-linear paths with per-draw paces and yearly noise (recorded in
    ``Paths.noise`` when ``keep_noise``; otherwise the noise counts as trend)."""
    rng = np.random.default_rng(seed)
    level = rng.normal(-0.5, 0.3, (n, len(geos), 1))
    pace = rng.normal(0.25, 0.08, (n, len(geos), 1)) * np.linspace(0.6, 1.4, len(geos))[:, None]
    noise = 0.05 * rng.standard_normal((n, len(geos), len(YEARS)))
    x = level + pace * (YEARS - 2020)[None, None, :] + noise
    return Paths("sim_share", tuple(geos), YEARS, 100 / (1 + np.exp(-x)), chains=4,
                 noise=noise if keep_noise else None)


def rng():
    return np.random.default_rng(0)


def test_accelerate_by_one_is_identity_and_leaves_other_geos_alone():
    paths = sim_paths()
    spec = Accelerate(type="accelerate", indicator="sim_share", geo="sim_b", from_year=2024,
                      factor=1)
    out = apply_one(paths, spec, SHARE, rng())
    np.testing.assert_allclose(out.values, paths.values, rtol=1e-9, atol=1e-9)
    doubled = apply_one(paths, spec.model_copy(update={"factor": Effect(value=2)}), SHARE, rng())
    b = 1
    np.testing.assert_array_equal(np.delete(doubled.values, b, axis=1),
                                  np.delete(paths.values, b, axis=1))
    np.testing.assert_array_equal(doubled.values[:, b, :5], paths.values[:, b, :5])  # <= 2024


def test_accelerate_multiplies_every_increment_after_from_year_on_the_logit_scale():
    paths = sim_paths()
    out = scale_pace(paths, "sim_a", 2024, 1.7, SHARE)
    before, after = to_scale(paths.values[:, 0, :], SHARE), to_scale(out.values[:, 0, :], SHARE)
    np.testing.assert_allclose(np.diff(after[:, 4:], axis=1), 1.7 * np.diff(before[:, 4:], axis=1),
                               rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(np.diff(after[:, :5], axis=1), np.diff(before[:, :5], axis=1))


def test_halt_keeps_the_from_year_value():
    paths = sim_paths()
    out = apply_one(paths, Halt(type="halt", indicator="sim_share", geo="sim_c", from_year=2025),
                    SHARE, rng())
    k = list(YEARS).index(2025)
    np.testing.assert_allclose(out.values[:, 2, k:], paths.values[:, 2, k:k + 1].repeat(
        len(YEARS) - k, axis=1), rtol=1e-9)


def test_reach_hits_the_value_in_its_year_along_a_logit_line():
    paths = sim_paths()
    spec = Reach(type="reach", indicator="sim_share", geo="sim_a", from_year=2024, by_year=2028,
                 value=90)
    out = apply_one(paths, spec, SHARE, rng())
    assert np.all(out.at("sim_a", 2028) == 90)
    glide = to_scale(out.values[:, 0, 4:9], SHARE)  # 2024..2028
    np.testing.assert_allclose(np.diff(glide, 2, axis=1), 0, atol=1e-9)  # straight on logits
    # after by_year the business-as-usual increments continue from the reached value
    np.testing.assert_allclose(np.diff(to_scale(out.values[:, 0, 8:], SHARE), axis=1),
                               np.diff(to_scale(paths.values[:, 0, 8:], SHARE), axis=1),
                               atol=1e-9)


def test_dip_size_in_its_year_and_full_recovery():
    paths = sim_paths()
    spec = Dip(type="dip", indicator="sim_share", geo="sim_d", year=2026, size=4,
               recovery_years=2)
    out = apply_one(paths, spec, SHARE, rng())
    k = list(YEARS).index(2026)
    diff = paths.values[:, 3, :] - out.values[:, 3, :]
    np.testing.assert_allclose(diff[:, :k], 0)
    np.testing.assert_allclose(diff[:, k], np.minimum(4, paths.values[:, 3, k]))  # clipped at 0
    np.testing.assert_allclose(diff[:, k + 1], np.minimum(2, paths.values[:, 3, k + 1]))
    np.testing.assert_allclose(diff[:, k + 2:], 0)


def test_best_quartile_pace_is_the_75th_percentile_of_the_other_geos():
    paths = sim_paths()
    out = apply_one(paths, BestQuartile(type="best_quartile", indicator="sim_share", geo="sim_a",
                                        from_year=2022), SHARE, rng())
    x = to_scale(paths.values, SHARE)
    pace_others = (x[:, 1:, -1] - x[:, 1:, 2]) / (len(YEARS) - 3)
    new_pace = np.diff(to_scale(out.values[:, 0, 2:], SHARE), axis=1)
    np.testing.assert_allclose(new_pace, np.quantile(pace_others, 0.75, axis=1)[:, None]
                               .repeat(new_pace.shape[1], axis=1), rtol=1e-6, atol=1e-9)
    # sim_a is the slowest geo by construction, so the best quartile's pace is faster
    assert np.median(out.at("sim_a", 2030)) > np.median(paths.at("sim_a", 2030))
    lower_better = apply_one(paths, BestQuartile(type="best_quartile", indicator="sim_share",
                                                 geo="sim_a", from_year=2022),
                             Context(higher_is_better=False), rng())
    assert np.median(lower_better.at("sim_a", 2030)) < np.median(out.at("sim_a", 2030))


def test_merge_is_the_population_weighted_mean_and_needs_populations():
    paths = sim_paths()
    ctx = Context(populations={"sim_a": 3.0, "sim_b": 1.0, "sim_c": None})
    spec = Merge(type="merge", indicator="sim_share", geo="sim_ab", members=("sim_a", "sim_b"))
    out = apply_one(paths, spec, ctx, rng())
    assert out.geos[-1] == "sim_ab"
    np.testing.assert_allclose(out.at("sim_ab", 2030),
                               0.75 * paths.at("sim_a", 2030) + 0.25 * paths.at("sim_b", 2030))
    with pytest.raises(InterventionError, match="no population for sim_c"):
        apply_one(paths, spec.model_copy(update={"members": ("sim_a", "sim_c")}), ctx, rng())


@pytest.mark.parametrize("effect", [
    {"distribution": "lognormal", "median": 1.5, "p90": 2.0},
    {"distribution": "normal", "median": 3.0, "p90": 5.0},
])
def test_effect_draws_have_the_stated_median_and_p90(effect):
    spec = Effect.model_validate(effect)
    draws = spec.draw(np.random.default_rng(3), 40_000)
    # MC error of a quantile: sqrt(q(1-q)/n) / density; a 4-sigma band in probability terms
    n = draws.size
    for q, value in ((0.5, effect["median"]), (0.9, effect["p90"])):
        band = 4 * np.sqrt(q * (1 - q) / n)
        assert abs(np.mean(draws <= value) - q) < band


def test_uniform_and_fixed_effects():
    uniform = Effect(distribution="uniform", low=1, high=2).draw(np.random.default_rng(0), 10_000)
    assert uniform.min() >= 1 and uniform.max() <= 2 and abs(uniform.mean() - 1.5) < 0.02
    assert Effect.model_validate(1.25).draw(np.random.default_rng(0), 3).tolist() == [1.25] * 3


@pytest.mark.parametrize(("effect", "message"), [
    ({"distribution": "lognormal", "median": 1.5}, "missing: p90"),
    ({"distribution": "lognormal", "median": 1.5, "p90": 1.2}, "must be above the median"),
    ({"distribution": "lognormal", "median": -1, "p90": 2}, "must be positive"),
    ({"distribution": "uniform", "low": 2, "high": 1}, "must be above low"),
    ({"distribution": "fixed", "value": 1, "median": 2}, "not median"),
    ({"distribution": "gamma", "value": 1}, "distribution"),
])
def test_bad_effects_say_what_is_wrong(effect, message):
    with pytest.raises(ValidationError, match=message):
        Effect.model_validate(effect)


def test_accelerate_refuses_a_factor_that_can_be_negative():
    with pytest.raises(ValidationError, match="must be >= 0"):
        Accelerate(type="accelerate", indicator="x", geo="y", from_year=2025,
                   factor={"distribution": "normal", "median": 1, "p90": 2})


def test_uncertain_factor_is_drawn_once_per_sample_and_seeded():
    paths = sim_paths(n=2000)
    spec = Accelerate(type="accelerate", indicator="sim_share", geo="sim_a", from_year=2024,
                      factor={"distribution": "lognormal", "median": 1.5, "p90": 2.0})
    first = apply_interventions({"sim_share": paths}, [spec], 11, {"sim_share": SHARE})
    again = apply_interventions({"sim_share": paths}, [spec], 11, {"sim_share": SHARE})
    other = apply_interventions({"sim_share": paths}, [spec], 12, {"sim_share": SHARE})
    np.testing.assert_array_equal(first["sim_share"].values, again["sim_share"].values)
    assert not np.array_equal(first["sim_share"].values, other["sim_share"].values)
    # recover the per-sample factor: the ratio of logit increments is the same in every year
    x0, x1 = to_scale(paths.values[:, 0, :], SHARE), to_scale(first["sim_share"].values[:, 0, :],
                                                               SHARE)
    ratio = (x1[:, 5:] - x1[:, 4:5]) / (x0[:, 5:] - x0[:, 4:5])
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(ratio.shape[1], axis=1), rtol=1e-5)
    assert abs(np.median(ratio[:, 0]) - 1.5) < 0.05


def test_composition_applies_in_the_order_listed():
    paths = sim_paths()
    halt = Halt(type="halt", indicator="sim_share", geo="sim_a", from_year=2024)
    reach = Reach(type="reach", indicator="sim_share", geo="sim_a", from_year=2026,
                  by_year=2029, value=95)
    ctx = {"sim_share": SHARE}
    halt_then_reach = apply_interventions({"sim_share": paths}, [halt, reach], 1, ctx)["sim_share"]
    reach_then_halt = apply_interventions({"sim_share": paths}, [reach, halt], 1, ctx)["sim_share"]
    assert np.all(halt_then_reach.at("sim_a", 2029) == 95)
    np.testing.assert_allclose(reach_then_halt.at("sim_a", 2029), paths.at("sim_a", 2024))
    # the unrelated geo and the input are untouched
    np.testing.assert_array_equal(halt_then_reach.values[:, 1], paths.values[:, 1])
    assert paths.values is not halt_then_reach.values


def test_input_errors_name_the_intervention_and_the_problem():
    paths = {"sim_share": sim_paths()}
    ctx = {"sim_share": SHARE}
    cases = [
        (Halt(type="halt", indicator="sim_other", geo="sim_a", from_year=2024),
         "no forecast of 'sim_other'"),
        (Halt(type="halt", indicator="sim_share", geo="sim_z", from_year=2024),
         "no forecast of 'sim_share' for 'sim_z'"),
        (Halt(type="halt", indicator="sim_share", geo="sim_a", from_year=2040),
         "outside the forecast years 2020-2030"),
        (Reach(type="reach", indicator="sim_share", geo="sim_a", from_year=2024, by_year=2028,
               value=100), "strictly between 0 and 100"),
    ]
    for i, (spec, message) in enumerate(cases):
        with pytest.raises(InterventionError, match=message) as caught:
            apply_interventions(paths, [halt_ok(), spec], 1, ctx)
        assert caught.value.index == 1, i
    with pytest.raises(ValidationError, match="by_year .* must be after from_year"):
        Reach(type="reach", indicator="x", geo="y", from_year=2028, by_year=2028, value=50)
    two = Paths("sim_share", ("sim_a", "sim_b"), YEARS, sim_paths().values[:, :2], 4)
    with pytest.raises(InterventionError, match="at least two other geos"):
        apply_one(two, BestQuartile(type="best_quartile", indicator="sim_share", geo="sim_a",
                                    from_year=2024), SHARE, rng())


def halt_ok() -> Halt:
    return Halt(type="halt", indicator="sim_share", geo="sim_e", from_year=2029)


def test_geo_alias_follows_merger_lineage():
    paths = {"sim_share": sim_paths()}
    halt = Halt(type="halt", indicator="sim_share", geo="sim_old", from_year=2025)
    out = apply_interventions(paths, [halt], 1, {"sim_share": SHARE}, {"sim_old": "sim_b"})
    halted = out["sim_share"]
    np.testing.assert_allclose(halted.at("sim_b", 2030), halted.at("sim_b", 2025))


def test_scales_round_trip_and_clip():
    values = np.array([0.0, 1e-9, 12.5, 50.0, 99.9, 100.0])
    back = from_scale(to_scale(values, SHARE), SHARE)
    np.testing.assert_allclose(back[2:5], values[2:5])
    assert back.min() >= 0 and back.max() <= 100
    index = Context(logit=False, lower=0, upper=None)
    np.testing.assert_array_equal(from_scale(np.array([-3.0, 250.0]), index), [0.0, 250.0])


def test_with_recorded_noise_the_trend_is_transformed_and_the_noise_kept():
    paths = sim_paths(keep_noise=True)
    same = scale_pace(paths, "sim_a", 2024, 1.0, SHARE)
    np.testing.assert_allclose(same.values, paths.values, rtol=1e-9, atol=1e-9)
    halted = apply_one(paths, Halt(type="halt", indicator="sim_share", geo="sim_a",
                                   from_year=2024), SHARE, rng())
    k = list(YEARS).index(2024)
    trend = to_scale(halted.values[:, 0, :], SHARE) - paths.noise[:, 0, :]
    np.testing.assert_allclose(trend[:, k:], trend[:, k:k + 1].repeat(len(YEARS) - k, axis=1),
                               atol=1e-7)
    # the halted values still vary from year to year by the recorded noise, not frozen
    assert np.std(np.diff(to_scale(halted.values[:, 0, k:], SHARE), axis=1)) > 0.05
    # accelerating does not amplify the noise: year-to-year scatter around the trend is equal
    fast = scale_pace(paths, "sim_a", 2024, 3.0, SHARE)
    resid = to_scale(fast.values[:, 0, k + 1:], SHARE) - (
        to_scale(paths.values[:, 0, k:k + 1], SHARE) - paths.noise[:, 0, k:k + 1]
        + 3.0 * ((to_scale(paths.values[:, 0, k + 1:], SHARE) - paths.noise[:, 0, k + 1:])
                 - (to_scale(paths.values[:, 0, k:k + 1], SHARE) - paths.noise[:, 0, k:k + 1])))
    np.testing.assert_allclose(resid, paths.noise[:, 0, k + 1:], atol=1e-7)


def test_accelerate_with_declines_keep_leaves_wrong_way_draws_alone():
    rng_ = np.random.default_rng(5)
    pace = rng_.normal(0.05, 0.1, 3000)  # about a third of the draws decline
    x = -0.2 + pace[:, None] * (YEARS - 2020)[None, :]
    paths = Paths("sim_share", ("sim_a", "sim_b", "sim_c"), YEARS,
                  np.repeat((100 / (1 + np.exp(-x)))[:, None, :], 3, axis=1), chains=1)
    spec = Accelerate(type="accelerate", indicator="sim_share", geo="sim_a", from_year=2024,
                      factor=2, declines="keep")
    out = apply_one(paths, spec, SHARE, rng())
    down, up = pace < 0, pace > 0
    np.testing.assert_allclose(out.values[down, 0], paths.values[down, 0])
    d_new = np.diff(to_scale(out.values[up, 0, 4:], SHARE), axis=1)
    d_old = np.diff(to_scale(paths.values[up, 0, 4:], SHARE), axis=1)
    np.testing.assert_allclose(d_new, 2 * d_old, rtol=1e-6, atol=1e-9)
    plain = apply_one(paths, spec.model_copy(update={"declines": "accelerate"}), SHARE, rng())
    assert np.all(plain.at("sim_a", 2030)[down] < paths.at("sim_a", 2030)[down])
    # lower is better: the "wrong way" is up
    flipped = apply_one(paths, spec, Context(higher_is_better=False), rng())
    np.testing.assert_allclose(flipped.values[up, 0], paths.values[up, 0])


def test_every_intervention_leaves_shared_read_only_paths_untouched():
    """Business-as-usual paths are shared between scenarios (read-only arrays, see
    tnmodel.forecast.remembered_paths): every intervention must transform a copy."""
    paths = sim_paths(keep_noise=True)
    for array in (paths.years, paths.values, paths.noise):
        array.flags.writeable = False
    before = paths.values.copy()
    ctx = {"sim_share": Context(populations={g: 1.0 for g in paths.geos})}
    every = [
        Accelerate(type="accelerate", indicator="sim_share", geo="sim_a", from_year=2024,
                   factor=1.5),
        Halt(type="halt", indicator="sim_share", geo="sim_b", from_year=2024),
        Reach(type="reach", indicator="sim_share", geo="sim_c", from_year=2025, by_year=2028,
              value=90),
        Dip(type="dip", indicator="sim_share", geo="sim_d", year=2026, size=5,
            recovery_years=2),
        BestQuartile(type="best_quartile", indicator="sim_share", geo="sim_e", from_year=2024),
        Merge(type="merge", indicator="sim_share", geo="sim_ab", members=("sim_a", "sim_b")),
    ]
    changed = apply_interventions({"sim_share": paths}, every, 3, ctx)["sim_share"]
    np.testing.assert_array_equal(paths.values, before)
    assert not np.array_equal(changed.values, before)


def test_quantiles_reuse_the_unchanged_geos_of_the_business_as_usual_table():
    from tnmodel.forecast import _quantile_table, quantile_table

    bau = sim_paths(n=500)
    ctx = {"sim_share": Context(populations={g: 1.0 for g in bau.geos})}
    halt = Halt(type="halt", indicator="sim_share", geo="sim_c", from_year=2024)
    merge = Merge(type="merge", indicator="sim_share", geo="sim_ab", members=("sim_a", "sim_b"))
    for interventions in ([halt], [halt, merge]):
        changed = apply_interventions({"sim_share": bau}, interventions, 3, ctx)["sim_share"]
        reused = quantile_table(changed, like=bau)
        fresh = _quantile_table(changed)
        assert list(reused["geo"].unique()) == list(changed.geos)
        np.testing.assert_allclose(reused.drop(columns=["indicator", "geo"]).to_numpy(float),
                                   fresh.drop(columns=["indicator", "geo"]).to_numpy(float))
        assert (reused["geo"].to_numpy() == fresh["geo"].to_numpy()).all()
    # The halted geo's quantiles differ from business as usual: it was summarised again.
    halted = reused[(reused["geo"] == "sim_c") & (reused["year"] == 2030)]["q50"].item()
    usual = _quantile_table(bau)
    assert halted < usual[(usual["geo"] == "sim_c") & (usual["year"] == 2030)]["q50"].item()
