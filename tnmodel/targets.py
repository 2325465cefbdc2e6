"""Targets -> what can honestly be said about each, and the attainment table.

For every target the scenario names, :func:`plan_target` decides *how* it can be evaluated:

``estimated``            the reading indicator has data for the target's geo: P(met) from the model
``upper bound via proxy`` no measured series, but proxies bound it (e.g. internet users bound
                         basic digital skills from above): only a bound on P(met) is printed
``insufficient data``    the data cannot support a number yet (the reason says why)
``not supported``        the indicator's kind has no model yet
``estimated (rank model)`` a rank target: P(rank <= k) from the latent-standing rank model
                         (:func:`plan_rank_target`, :func:`rank_attainment_row`)

:func:`attainment_row` then turns forecast paths into one row of ``targets.csv``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from tnmodel.baselines import BaselineSettings, progress_verdict
from tnmodel.data import Dataset, Target
from tnmodel.forecast import Paths
from tnmodel.interventions import from_scale, trend_and_noise
from tnmodel.models import SeriesData, mcse_of_mean
from tnmodel.models.rank import RankBasisError, RankFit, rank_basis
from tnmodel.models.sensitivity import STRONGER, WEAKER, PriorPower
from tnmodel.ranks import RankForecast

ESTIMATED = "estimated"
PROXY_BOUND = "upper bound via proxy"
INSUFFICIENT = "insufficient data"
NOT_SUPPORTED = "not supported"
#: A change of P(met) this large, with the fit's prior half or twice as strong, is said in
#: the target's note.
PRIOR_MATTERS = 0.05

#: Calibrated language for probabilities (after the IPCC likelihood scale).
LIKELIHOOD_WORDS = (
    (0.99, "virtually certain"),
    (0.90, "very likely"),
    (0.66, "likely"),
    (0.33, "about as likely as not"),
    (0.10, "unlikely"),
    (0.01, "very unlikely"),
    (0.0, "exceptionally unlikely"),
)


def likelihood_words(p: float) -> str:
    """``0.93 -> 'very likely'``."""
    return next(word for cut, word in LIKELIHOOD_WORDS if p >= cut)


@dataclass(frozen=True)
class TargetPlan:
    """How one target will be evaluated."""

    target: Target
    status: str
    evaluated_geo: str
    indicators: tuple[str, ...]
    reason: str = ""


def evaluated_geo(target: Target, dataset: Dataset, follow_lineage: bool) -> str:
    """The geo whose forecast answers the target (its successor after a merger)."""
    return dataset.successor(target.geo) if follow_lineage else target.geo


def plan_target(
    target: Target,
    dataset: Dataset,
    series_for: Callable[[str], SeriesData],
    follow_lineage: bool,
) -> TargetPlan:
    """Decide how ``target`` can be evaluated on ``dataset`` (see module docstring)."""
    geo = evaluated_geo(target, dataset, follow_lineage)
    reading = dataset.indicators[target.reading]
    if reading.kind == "rank":
        return plan_rank_target(target, dataset)
    if reading.kind != "share":
        model = "the latent-standing rank model" if reading.kind == "rank" else "a model"
        return TargetPlan(target, NOT_SUPPORTED, geo, (),
                          f"'{reading.id}' is a {reading.kind}; {model} for it is not in "
                          "tnmodel yet, so no probability is printed")
    if dataset.series(reading.id).empty and reading.proxies:
        usable = []
        reasons = []
        for proxy in reading.proxies:
            reason = _data_check(proxy.indicator, geo, series_for)
            if reason:
                reasons.append(reason)
            else:
                usable.append(proxy.indicator)
        if not usable:
            return TargetPlan(target, INSUFFICIENT, geo, (),
                              f"no measured series of '{reading.id}', and its proxies cannot "
                              "support a forecast: " + "; ".join(reasons))
        return TargetPlan(target, PROXY_BOUND, geo, tuple(usable),
                          f"no measured series of '{reading.id}'; evaluated through proxies")
    problem = _data_check(reading.id, geo, series_for)
    if problem:
        return TargetPlan(target, INSUFFICIENT, geo, (), problem)
    return TargetPlan(target, ESTIMATED, geo, (reading.id,))


def _data_check(indicator: str, geo: str, series_for: Callable[[str], SeriesData]) -> str:
    """'' when ``indicator`` can be forecast for ``geo``, else the reason it cannot."""
    series = series_for(indicator)
    if geo not in series.geos:
        return f"no observation of '{indicator}' for '{geo}' in the data window"
    years = series.years_observed()
    if years.size < 2:
        listed = ", ".join(map(str, years)) or "none"
        return (f"all observations of '{indicator}' are from one year ({listed}); "
                "a trend needs at least two years")
    return ""


def _bound_direction(relation: str, comparator: str) -> str:
    """Whether P(proxy meets target) is an upper or a lower bound on P(target met)."""
    proxy_is_above = relation == "upper_bound"
    wants_high = comparator in (">=", ">")
    return "upper" if proxy_is_above == wants_high else "lower"


def attainment_row(
    plan: TargetPlan,
    scenario: str,
    dataset: Dataset,
    paths: dict[str, Paths],
    series: dict[str, SeriesData],
    baseline: BaselineSettings,
    prior_pace: dict[str, dict | None] | None = None,
    prior_power: dict[str, PriorPower | None] | None = None,
) -> dict:
    """One row of ``targets.csv`` for a planned target.

    ``prior_pace`` is each fitted indicator's prior-vs-posterior comparison of its geos' paces
    (the fit's ``diagnostics.prior_pace``): where the evaluated geo's pace is mostly the
    prior's, the note says that the forecast's trend is an assumption, not the data's.
    ``prior_power`` is each fitted indicator's :class:`~tnmodel.models.sensitivity.PriorPower`:
    the probability with the fit's prior half as strong and twice as strong
    (``p_met_weaker_prior``, ``p_met_stronger_prior``; for a proxy bound, in the note), and
    the note says so when either moves it by :data:`PRIOR_MATTERS` or more.
    """
    prior_pace, prior_power = prior_pace or {}, prior_power or {}
    t = plan.target
    row: dict = {
        "scenario": scenario, "target_id": t.id, "geo": t.geo, "evaluated_geo": plan.evaluated_geo,
        "indicator": t.indicator, "reading": t.reading, "year": t.year,
        "comparator": t.comparator, "threshold": t.threshold, "among": t.among,
        "status": plan.status, "p_met": np.nan, "p_met_mcse": np.nan, "p_met_upper": np.nan,
        "p_met_lower": np.nan, "p_met_weaker_prior": np.nan, "p_met_weaker_prior_mcse": np.nan,
        "p_met_stronger_prior": np.nan, "p_met_stronger_prior_mcse": np.nan, "verdict": "",
        "q05": np.nan, "q50": np.nan, "q95": np.nan,
        "baseline_category": "", "baseline_ratio": np.nan, "baseline_projection": np.nan,
        "n_obs": 0, "last_obs_year": np.nan, "last_obs_value": np.nan, "note": plan.reason,
    }
    if plan.status in (INSUFFICIENT, NOT_SUPPORTED):
        row["verdict"] = f"no estimate ({plan.status})"
        return row
    if plan.status == ESTIMATED:
        values = paths[t.reading].at(plan.evaluated_geo, t.year)
        met = t.is_met(values).astype(float)
        p = float(met.mean())
        row |= {
            "p_met": p,
            "p_met_mcse": mcse_of_mean(met, paths[t.reading].chains),
            "verdict": f"{likelihood_words(p)} (P = {p:.2f})",
            "q05": float(np.quantile(values, 0.05)),
            "q50": float(np.quantile(values, 0.50)),
            "q95": float(np.quantile(values, 0.95)),
        }
        row |= _observed_summary(series[t.reading], plan.evaluated_geo)
        row |= _baseline_columns(series[t.reading], plan, dataset, baseline)
        caveats = _caveats(series[t.reading], plan.evaluated_geo, dataset.indicators[t.reading])
        carried = _carried_by_prior(prior_pace.get(t.reading), plan.evaluated_geo, t.year)
        weaker, stronger = _scaled_probabilities(prior_power.get(t.reading), met)
        row |= _scaled_columns(weaker, stronger)
        leans = _leans_on_prior(p, weaker, stronger)
        row["note"] = "; ".join([*caveats, *([f"its pace: {carried}"] if carried else []),
                                 *([leans] if leans else [])])
        return row
    # Proxy bounds.
    reading = dataset.indicators[t.reading]
    uppers, lowers, parts, carried_parts = [], [], [], []
    for proxy in reading.proxies:
        if proxy.indicator not in plan.indicators:
            continue
        values = paths[proxy.indicator].at(plan.evaluated_geo, t.year)
        met = t.is_met(values)
        p = float(met.mean())
        direction = _bound_direction(proxy.relation, t.comparator)
        (uppers if direction == "upper" else lowers).append(p)
        label = dataset.indicators[proxy.indicator].label_en
        leans = _leans_on_prior(p, *_scaled_probabilities(prior_power.get(proxy.indicator),
                                                          met))
        parts.append(f"P({label} {t.comparator} {t.threshold:g} in {t.year}) = {p:.2f} "
                     f"({direction} bound; median {np.median(values):.1f}"
                     + (f"; {leans}" if leans else "") + ")")
        carried = _carried_by_prior(prior_pace.get(proxy.indicator), plan.evaluated_geo,
                                    t.year)
        if carried:
            carried_parts.append(f"the pace of {label}: {carried}")
    if uppers:
        row["p_met_upper"] = min(uppers)
    if lowers:
        row["p_met_lower"] = max(lowers)
    bound_words = []
    if lowers:
        bound_words.append(f"at least {row['p_met_lower']:.2f}")
    if uppers:
        bound_words.append(f"at most {row['p_met_upper']:.2f}")
    row["verdict"] = " and ".join(bound_words) + " (proxy bound, not an estimate)"
    row["note"] = (f"No measured series of '{reading.label_en}'. Proxies only bound it: "
                   + "; ".join(parts) + "."
                   + "".join(f" For {plan.evaluated_geo}, {c}." for c in carried_parts))
    return row


Scaled = tuple[float, float]  # a probability and its Monte-Carlo standard error


def _scaled_probabilities(power: PriorPower | None, met: np.ndarray) -> tuple[Scaled, Scaled]:
    """P(met) and its MCSE with the fit's prior half as strong and twice as strong (NaN when
    there is no fit to reweight or the reweighting is unreliable)."""
    if power is None:
        return (np.nan, np.nan), (np.nan, np.nan)
    return power.probability(met, WEAKER), power.probability(met, STRONGER)


def _scaled_columns(weaker: Scaled, stronger: Scaled) -> dict:
    """The ``targets.csv`` columns of P(met) with the prior half and twice as strong."""
    return {"p_met_weaker_prior": weaker[0], "p_met_weaker_prior_mcse": weaker[1],
            "p_met_stronger_prior": stronger[0], "p_met_stronger_prior_mcse": stronger[1]}


def _leans_on_prior(p: float, weaker: Scaled, stronger: Scaled) -> str:
    """'' unless the probability moves by :data:`PRIOR_MATTERS` or more, and by more than
    twice its Monte-Carlo error, when the prior is made weaker or stronger; then the words
    for it."""
    def clear(q: float, mcse: float) -> bool:
        return bool(np.isfinite(q) and abs(q - p) >= max(PRIOR_MATTERS, 2 * mcse))

    if not (clear(*weaker) or clear(*stronger)):
        return ""
    given = [(q, mcse, strength) for (q, mcse), strength in
             ((weaker, "half as strong"), (stronger, "twice as strong")) if np.isfinite(q)]
    said = [f"{q:.2f} (± {mcse:.2f}) with {"it" if i else "the fit's prior"} {strength}"
            for i, (q, mcse, strength) in enumerate(given)]
    return "P would be " + ", ".join(said) + ": the result leans on the prior"


def _carried_by_prior(prior_pace: dict | None, geo: str, year: int) -> str:
    """'' unless the fit's prior-vs-posterior comparison (:func:`tnmodel.models.influence.
    prior_influence_summary`) says that ``geo``'s pace is mostly the prior's; then the words
    for it."""
    entry = (prior_pace or {}).get(geo)
    if not entry or not entry.get("carried_by_prior"):
        return ""
    return (f"mostly the prior's, the data (its own and the pool's) say little about it "
            f"(posterior sd {entry['sd_ratio']:.2f} of the prior's), so the trend to {year} "
            "is the model's assumption")


def _caveats(series: SeriesData, geo: str, indicator) -> list[str]:
    """What a reader must know about the data behind an estimate, in plain words."""
    rows = series.rows_of(geo)
    caveats = []
    moved = sorted(set(rows.loc[rows["geo"] != geo, "geo"]))
    if moved:
        caveats.append(f"merger lineage: observations of {', '.join(moved)} continue as the "
                       f"series of {geo}")
    years = sorted(set(rows["year"]))
    if len(years) < 2:
        caveats.append(f"only one observed year for {geo} ({years[0]}): its pace comes from the "
                       f"other geos in the pool ({', '.join(g for g in series.geos if g != geo)})")
    part = rows[rows["period"] != ""]
    if len(part):
        caveats.append(f"{len(part)} of {len(rows)} observations of {geo} are part-year or "
                       "circa-dated snapshots (extra error in the model)")
    for brk in indicator.breaks:
        # Data in the break year itself may sit on either side of it: flag it too.
        if brk.geo in (None, geo) and len(years) > 1 and years[0] <= brk.year <= years[-1]:
            caveats.append(f"definitional break in {brk.year}: {brk.what}")
    return caveats


def _observed_summary(series: SeriesData, geo: str) -> dict:
    rows = series.rows_of(geo)
    latest = rows[rows["year"] == rows["year"].max()]
    return {"n_obs": len(rows), "last_obs_year": int(latest["year"].iloc[0]),
            "last_obs_value": float(latest["value"].mean())}


def _baseline_columns(series: SeriesData, plan: TargetPlan, dataset: Dataset,
                      settings: BaselineSettings) -> dict:
    rows = series.rows_of(plan.evaluated_geo)
    rows = rows[rows["bound"] == ""]
    indicator = dataset.indicators[plan.target.reading]
    verdict = progress_verdict(
        rows["year"].to_numpy(), rows["value"].to_numpy(),
        target_year=plan.target.year, threshold=plan.target.threshold,
        is_met=plan.target.is_met, lower=indicator.lower, upper=indicator.upper,
        settings=settings,
    )
    category = verdict.category + (f" ({verdict.reason})" if verdict.reason else "")
    return {"baseline_category": category,
            "baseline_ratio": np.nan if verdict.ratio is None else verdict.ratio,
            "baseline_projection": np.nan if verdict.projected_value is None
            else verdict.projected_value}


# --------------------------------------------------------------------------------------------
# Attainment over time, the inverse, and the required acceleration (issue 4)

#: Columns added to ``targets.csv`` by :func:`attainment_details`.
DETAIL_COLUMNS = (
    "p_met_by", "p_met_by_mcse", "first_year_q10", "first_year_q50", "first_year_q90",
    "p_never", "q10", "q25", "q75", "q90", "value_p80", "required_factor",
    "required_from_year", "required_acceleration", "interventions",
)


@dataclass(frozen=True)
class Acceleration:
    """Result of :func:`required_acceleration`.

    ``factor`` is the smallest pace factor found (``None`` when not reachable below the cap);
    ``text`` says it in words.
    """

    factor: float | None
    from_year: int
    text: str


def first_year_met(paths: Paths, geo: str, target: Target, start: int) -> tuple[np.ndarray,
                                                                                np.ndarray]:
    """First year in ``start .. last forecast year`` a draw meets the target.

    Returns the window's years and, per draw, the first year met (``inf`` when never).
    """
    keep = paths.years >= start
    years = paths.years[keep]
    values = paths.values[:, paths.geos.index(geo), :][:, keep]
    met = np.asarray(target.is_met(values), dtype=bool)
    first = np.where(met.any(axis=1), years[np.argmax(met, axis=1)], np.inf)
    return years, first


def first_year_table(paths: Paths, geo: str, target: Target, start: int) -> list[dict]:
    """Probability that the target is first met in each year (and met by then), tidy rows."""
    years, first = first_year_met(paths, geo, target, start)
    rows = []
    for year in years:
        rows.append({"target_id": target.id, "evaluated_geo": geo, "year": int(year),
                     "p_first": float(np.mean(first == year)),
                     "p_met_by": float(np.mean(first <= year))})
    return rows


def inverse_value(values: np.ndarray, comparator: str, probability: float = 0.8) -> float:
    """The level reached with ``probability``: P(value >= v) = p for ``>=`` targets
    (the (1 - p) quantile), P(value <= v) = p for ``<=`` targets (the p quantile)."""
    q = 1.0 - probability if comparator in (">=", ">") else probability
    return float(np.quantile(values, q))


def _p_met_after_scaling(x_anchor: np.ndarray, x_target: np.ndarray, noise: np.ndarray,
                         factor: float, target: Target, ctx) -> float:
    trend = x_anchor + factor * (x_target - x_anchor)
    return float(np.mean(target.is_met(from_scale(trend + noise, ctx))))


def required_acceleration(
    paths: Paths,
    geo: str,
    target: Target,
    from_year: int,
    ctx,
    probability: float = 0.8,
    cap: float = 5.0,
    tolerance: float = 0.005,
) -> Acceleration:
    """Smallest factor on the yearly increments after ``from_year`` that makes P(met) >= p.

    The same transformation as the ``accelerate`` intervention (the trend's increments, logit
    scale for shares, each year's noise kept), on the same draws. Factors 1..``cap`` are
    scanned on a geometric grid; between the last grid point below ``probability`` and the
    first at or above it, bisection narrows the factor to ``tolerance``. P(met) can only be
    computed to Monte-Carlo precision, so the factor is "the smallest on this grid", not a
    continuous root.
    """
    if target.year <= from_year:
        return Acceleration(None, from_year, f"target year {target.year} is not after "
                                             f"{from_year}: nothing left to accelerate")
    years = list(paths.years)
    trend, noise = trend_and_noise(paths, geo, ctx)
    k = years.index(target.year)
    x_anchor, x_target = trend[:, years.index(from_year)], trend[:, k]

    def p(factor: float) -> float:
        return _p_met_after_scaling(x_anchor, x_target, noise[:, k], factor, target, ctx)

    if p(1.0) >= probability:
        return Acceleration(1.0, from_year, f"none needed (P >= {probability:g} at the "
                                            "scenario's pace)")
    if np.allclose(x_target, x_anchor):
        return Acceleration(None, from_year, f"no progress after {from_year} in this scenario, "
                                             "so no pace factor can help")
    grid = np.geomspace(1.0, cap, 25)
    for lo, hi in zip(grid[:-1], grid[1:], strict=True):
        if p(hi) < probability:
            continue
        while hi - lo > tolerance:
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if p(mid) >= probability else (mid, hi)
        return Acceleration(float(hi), from_year,
                            f"pace x{hi:.2f} after {from_year} for P >= {probability:g}")
    return Acceleration(None, from_year, f"not reachable below x{cap:g} (pace factor after "
                                         f"{from_year})")


def attainment_details(
    plan: TargetPlan,
    paths: dict[str, Paths],
    series: dict[str, SeriesData],
    ctx,
    settings,
    interventions: str = "",
) -> dict:
    """The issue-4 columns of one row (empty for targets without an estimate).

    Parameters
    ----------
    plan : TargetPlan
    paths : dict
        Indicator -> scenario paths (interventions applied).
    series : dict
        Indicator -> the series the fit used.
    ctx : tnmodel.interventions.Context
        Scale and limits of the reading indicator.
    settings : tnmodel.scenario.RequiredAcceleration
    interventions : str
        The interventions acting on this target's series, in words.
    """
    row: dict = dict.fromkeys(DETAIL_COLUMNS, np.nan)
    row |= {"required_acceleration": "", "interventions": interventions}
    if plan.status != ESTIMATED:
        return row
    t = plan.target
    scenario_paths = paths[t.reading]
    chains = scenario_paths.chains
    geo = plan.evaluated_geo
    last_obs = int(series[t.reading].rows_of(geo)["year"].max())
    start = max(last_obs, int(scenario_paths.years[0]))
    _, first = first_year_met(scenario_paths, geo, t, start)
    by = (first <= t.year).astype(float)
    values = scenario_paths.at(geo, t.year)
    finite_q = np.quantile(first, (0.1, 0.5, 0.9), method="inverted_cdf")
    row |= {
        "p_met_by": float(by.mean()),
        "p_met_by_mcse": mcse_of_mean(by, chains),
        "first_year_q10": finite_q[0], "first_year_q50": finite_q[1],
        "first_year_q90": finite_q[2],
        "p_never": float(np.mean(~np.isfinite(first))),
        "value_p80": inverse_value(values, t.comparator, 0.8),
    }
    row |= {f"q{round(q * 100)}": float(np.quantile(values, q)) for q in (0.10, 0.25, 0.75, 0.90)}
    for key in ("first_year_q10", "first_year_q50", "first_year_q90"):
        row[key] = float(row[key]) if np.isfinite(row[key]) else np.nan
    from_year = settings.from_year if settings.from_year is not None else last_obs
    if from_year not in set(scenario_paths.years.tolist()):
        row["required_acceleration"] = f"from_year {from_year} is outside the forecast years"
        return row
    found = required_acceleration(scenario_paths, geo, t, from_year, ctx,
                                  settings.probability, settings.cap)
    row |= {"required_factor": np.nan if found.factor is None else found.factor,
            "required_from_year": from_year, "required_acceleration": found.text}
    return row


# --------------------------------------------------------------------------------------------
# Rank targets ("in the top 20"): the latent-standing model (tnmodel.models.rank, tnmodel.ranks)

RANK_ESTIMATED = "estimated (rank model)"


def plan_rank_target(target: Target, dataset: Dataset) -> TargetPlan:
    """How a rank target can be evaluated: on which basis, for which unit.

    The target's ``among`` names the basis: the pre-merger provinces (the target geo itself) or
    the post-merger units (the target geo's successor). The status is :data:`RANK_ESTIMATED`
    when the basis can be formed from the geos' lineage and the reading has observations;
    otherwise ``insufficient data`` with the reason.
    """
    reading = dataset.indicators[target.reading]
    if target.among is None:
        return TargetPlan(target, INSUFFICIENT, target.geo, (),
                          f"the target names no rank basis (`among`) for '{reading.id}'")
    try:
        basis = rank_basis(dataset.geos, target.among)
    except RankBasisError as exc:
        return TargetPlan(target, INSUFFICIENT, target.geo, (), str(exc))
    unit = target.geo if basis.is_base else dataset.successor(target.geo)
    if unit not in basis.units:
        where = ("a post-merger unit, not one of the pre-merger provinces" if basis.is_base
                 else "not a unit of the post-merger basis")
        return TargetPlan(target, INSUFFICIENT, unit, (),
                          f"'{unit}' is {where} ranked among {target.among}")
    if dataset.series(reading.id).empty:
        return TargetPlan(target, INSUFFICIENT, unit, (),
                          f"no observations of '{reading.id}' at all")
    return TargetPlan(target, RANK_ESTIMATED, unit, (reading.id,))


def rank_attainment_row(
    plan: TargetPlan,
    scenario: str,
    dataset: Dataset,
    forecast: RankForecast,
    fit: RankFit,
    baseline: BaselineSettings,
    prior_power: PriorPower | None = None,
) -> dict:
    """One row of ``targets.csv`` for a rank target (same columns as :func:`attainment_row`).

    ``p_met`` is P(rank <= threshold) (the target's comparator), with its MCSE; ``q05 / q50 /
    q95`` are rank quantiles; the note gives the basis, the 80% rank interval, whether the unit
    is in the top-k set, the persistence estimate and the caveats. ``prior_power`` is the
    rank model's :class:`~tnmodel.models.sensitivity.PriorPower` (one ranking per posterior
    draw): P(met) with its prior half and twice as strong, as for an estimate.
    """
    t = plan.target
    row = attainment_row(replace(plan, status=NOT_SUPPORTED), scenario, dataset, {}, {},
                         baseline)
    unit = plan.evaluated_geo
    ranks = forecast.of(unit)
    met = t.is_met(ranks).astype(float)
    p = float(met.mean())
    q05, q50, q95 = np.quantile(ranks, [0.05, 0.5, 0.95], method="inverted_cdf")
    row |= {
        "status": plan.status,
        "p_met": p,
        "p_met_mcse": mcse_of_mean(met, forecast.chains),
        "verdict": f"{likelihood_words(p)} (P = {p:.2f})",
        "q05": float(q05), "q50": float(q50), "q95": float(q95),
    }
    weaker, stronger = _scaled_probabilities(prior_power, met)
    row |= _scaled_columns(weaker, stronger)
    observed = fit.panel.rows_of(t.reading, unit)
    same_basis = observed[observed["among"] == forecast.basis.among]
    if len(same_basis):
        latest = same_basis[same_basis["year"] == same_basis["year"].max()]
        row |= {"n_obs": len(same_basis), "last_obs_year": int(latest["year"].iloc[0]),
                "last_obs_value": float(latest["value"].mean())}
        verdict = progress_verdict(
            same_basis["year"].to_numpy(), same_basis["value"].to_numpy(), target_year=t.year,
            threshold=t.threshold, is_met=t.is_met, lower=1, upper=forecast.basis.among,
            settings=baseline)
        row |= {"baseline_category": verdict.category
                + (f" ({verdict.reason})" if verdict.reason else ""),
                "baseline_ratio": np.nan if verdict.ratio is None else verdict.ratio,
                "baseline_projection": np.nan if verdict.projected_value is None
                else verdict.projected_value}
    leans = _leans_on_prior(p, weaker, stronger)
    row["note"] = "; ".join([*_rank_notes(plan, dataset, forecast, fit, observed),
                             *([leans] if leans else [])])
    return row


def _rank_notes(plan: TargetPlan, dataset: Dataset, forecast: RankForecast, fit: RankFit,
                observed) -> list[str]:
    t, unit, basis = plan.target, plan.evaluated_geo, forecast.basis
    panel = fit.panel
    k = int(t.threshold)
    lo, hi = forecast.interval(unit, 0.8)
    phi = fit.draws["phi"]
    notes = []
    if basis.is_base:
        notes.append(f"rank among the {basis.among} pre-merger provinces")
        if t.year >= 2025 and any(g.merged_into for g in dataset.geos.values()):
            notes.append("after the 1 July 2025 merger this is a hypothetical ranking of the "
                         "pre-merger provinces (their standings continue; the DTI ranks the "
                         "post-merger provinces from 2024)")
    else:
        parts = basis.parts(unit)
        notes.append(f"rank among the {basis.among} post-merger provinces")
        if len(parts) > 1:
            notes.append(f"{unit}'s standing is the {basis.how[unit]} of its parts' standings "
                         f"({', '.join(parts)})")
        merged = sorted(set(basis.how.values()) - {"itself"})
        if merged:
            notes.append("merged units are formed as " + " / ".join(merged)
                         + " of their parts")
    notes.append(f"80% rank interval {lo}-{hi}")
    in_set = unit in forecast.top_k(k)
    notes.append(f"{'in' if in_set else 'not in'} the top-{k} set (the {k} units most likely "
                 f"to rank <= {k})")
    years = sorted(set(observed["year"]))
    if len(observed):
        listed = ", ".join(f"{int(r.value)}/{int(r.among)} ({r.year})"
                           for r in observed.sort_values("year").itertuples())
        notes.append(f"observed ranks of {unit} on '{t.reading}': {listed}")
    else:
        notes.append(f"no rank of '{t.reading}' observed for {unit}: its standing comes from "
                     "its other series through the shared province mean")
    if len(years) == 1:
        notes.append(f"only one observed year of '{t.reading}' for {unit} ({years[0]})")
    successor = dataset.successor(unit)
    if basis.is_base and successor != unit:
        later = panel.rows_of(t.reading, successor)
        if len(later):
            listed = ", ".join(f"{int(r.value)}/{int(r.among)} ({r.year})"
                               for r in later.sort_values("year").itertuples())
            notes.append(f"ranks of {successor} ({listed}) enter the fit as the "
                         f"{later['weighting'].iloc[0]} of its parts' standings")
    notes.append(f"standings fitted jointly on {', '.join(panel.series)} ({panel.n_obs} ranks, "
                 f"{panel.years[0]}-{panel.years[-1]}); persistence phi median "
                 f"{np.median(phi):.2f} (90%: {np.quantile(phi, 0.05):.2f}-"
                 f"{np.quantile(phi, 0.95):.2f}) per year")
    notes.append("published partial lists count as observed ranks; provinces missing from a "
                 "list are unobserved that year, not 'below the list'")
    breaks = sorted({b.year for b in dataset.indicators[t.reading].breaks})
    if breaks:
        notes.append("method changes (" + ", ".join(map(str, breaks)) + ") are treated as "
                     "measurement noise, not breaks in the standing")
    return notes
