"""The official-style progress categories (Statistics Canada / Open SDG method)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tnmodel import baselines as b


def _verdict(years, values, threshold=80.0, target_year=2030, comparator=">=", **kw):
    ops = {">=": lambda v: v >= threshold, "<=": lambda v: v <= threshold}
    return b.progress_verdict(np.array(years), np.array(values, dtype=float),
                              target_year=target_year, threshold=threshold,
                              is_met=ops[comparator], **kw)


def test_ratio_is_observed_over_required_cagr():
    v = _verdict([2020, 2024], [40.0, 50.0], threshold=80.0)
    observed = (50 / 40) ** (1 / 4) - 1
    required = (80 / 50) ** (1 / 6) - 1
    assert v.observed_rate == pytest.approx(observed)
    assert v.required_rate == pytest.approx(required)
    assert v.ratio == pytest.approx(observed / required)
    assert v.projected_value == pytest.approx(50 * (1 + observed) ** 6)


@pytest.mark.parametrize(
    ("last", "category"),
    [
        (60.0, b.ON_TRACK),              # fast growth: R well above 0.95
        (56.0, b.ACCELERATION_NEEDED),   # R between 0.6 and 0.95
        (41.0, b.LIMITED),               # R between 0 and 0.6
        (35.0, b.DETERIORATION),         # moving away from the target
    ],
)
def test_categories_follow_the_thresholds(last, category):
    v = _verdict([2016, 2024], [40.0, last], threshold=80.0)
    assert v.category == category
    lower = {b.ON_TRACK: 0.95, b.ACCELERATION_NEEDED: 0.6, b.LIMITED: 0.0,
             b.DETERIORATION: -math.inf}[category]
    assert v.ratio >= lower


def test_target_already_met_and_year_passed():
    assert _verdict([2020, 2025], [60.0, 88.0]).category == b.ACHIEVED
    v = _verdict([2020, 2025], [60.0, 70.0], target_year=2025)
    assert v.category == b.NOT_ACHIEVED


def test_one_year_is_insufficient():
    v = _verdict([2022, 2022], [40.0, 44.0])
    assert v.category == b.INSUFFICIENT
    assert "two" in v.reason


def test_lower_is_better_rank_direction():
    # Rank 30 -> 24 over four years towards "top 20" by 2030: improving, positive ratio.
    v = _verdict([2020, 2024], [30.0, 24.0], threshold=20.0, comparator="<=")
    assert v.ratio > 0
    assert v.category in (b.ON_TRACK, b.ACCELERATION_NEEDED)
    worse = _verdict([2020, 2024], [24.0, 30.0], threshold=20.0, comparator="<=")
    assert worse.category == b.DETERIORATION


def test_projection_is_clipped_to_natural_limits_and_aroc():
    v = _verdict([2020, 2024], [40.0, 79.0], upper=100.0)
    assert v.projected_value == 100.0
    a = _verdict([2020, 2024], [40.0, 50.0], settings=b.BaselineSettings(method="aroc"))
    assert a.observed_rate == pytest.approx(math.log(50 / 40) / 4)


def test_base_year_setting_drops_earlier_points():
    v = _verdict([2010, 2020, 2024], [5.0, 40.0, 50.0],
                 settings=b.BaselineSettings(base_year=2020))
    assert v.base_year == 2020
