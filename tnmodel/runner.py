"""Run a scenario end to end and write ``results/<scenario>/``.

``targets.csv``    one row per target (probability in / by its year, MCSE, first year met,
                   quantiles, the level reached with P = 0.8, the required acceleration, the
                   official-style category)
``first_year.csv`` per target and year: P(first met in that year), P(met by that year)
``ranks.csv``      rank targets only: P(rank = r) of the target's unit, per target
``quantiles.csv``  yearly forecast quantiles per indicator and series geo (interventions applied)
``posterior/``     every fit's posterior, one netCDF DataTree per indicator
``manifest.json``  versions, data and scenario hashes, seed, settings, timings, diagnostics

Nothing is written until every input check has passed and every fit has passed its gates;
the folder is written to a temporary sibling and renamed into place, so a failed run never
leaves a half-written result.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from tnmodel import __version__
from tnmodel.atomic import atomic_folder
from tnmodel.data import Dataset, load_dataset
from tnmodel.forecast import Paths, quantile_columns, quantile_table, remembered_paths
from tnmodel.interventions import Context, InterventionError, apply_interventions, describe
from tnmodel.models import Fit, SeriesData, select_series
from tnmodel.models.cache import FitCache, fit_cached, fit_key, fit_ranks_cached, rank_fit_key
from tnmodel.models.rank import (
    DEFAULT_PANEL,
    RankFit,
    RankPanel,
    RankPriors,
    rank_basis,
    rank_panel,
)
from tnmodel.models.sensitivity import (
    PriorPower,
    prior_power_summary,
    remembered_prior_power,
)
from tnmodel.problems import InputError, Problem
from tnmodel.progress import steps
from tnmodel.ranks import RankForecast, forecast_ranks, rank_distribution_frame
from tnmodel.scenario import (
    Scenario,
    check_rank_basis,
    check_scenario_against_data,
    load_scenario,
    with_rank_basis,
)
from tnmodel.targets import (
    DETAIL_COLUMNS,
    ESTIMATED,
    INSUFFICIENT,
    RANK_ESTIMATED,
    TargetPlan,
    attainment_details,
    attainment_row,
    first_year_table,
    plan_target,
    rank_attainment_row,
)

PACKAGES = ("pymc", "pytensor", "arviz", "nutpie", "numpy", "pandas", "xarray", "pydantic",
            "statsmodels", "h5netcdf")

TARGET_COLUMNS = (
    "scenario", "target_id", "geo", "evaluated_geo", "indicator", "reading", "year", "comparator",
    "threshold", "among", "status", "p_met", "p_met_mcse", "p_met_upper", "p_met_lower",
    "p_met_weaker_prior", "p_met_weaker_prior_mcse", "p_met_stronger_prior",
    "p_met_stronger_prior_mcse", "verdict", "q05", "q50", "q95",
    "baseline_category", "baseline_ratio", "baseline_projection",
    *DETAIL_COLUMNS, "n_obs", "last_obs_year", "last_obs_value", "note",
)
FIRST_YEAR_COLUMNS = ("scenario", "target_id", "evaluated_geo", "year", "p_first", "p_met_by")


@dataclass(frozen=True)
class ScenarioResult:
    """Everything a run produced (also written to disk by :func:`write_result`)."""

    scenario: Scenario
    targets: pd.DataFrame
    quantiles: pd.DataFrame
    fits: dict[str, Fit]
    manifest: dict = field(repr=False)
    first_year: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=list(FIRST_YEAR_COLUMNS)))
    ranks: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    rank_fit: RankFit | None = field(default=None, repr=False)


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def run_scenario(
    scenario: Scenario | Path | str,
    *,
    fast: bool = False,
    dataset: Dataset | None = None,
    progress: Progress = _quiet,
    cache: FitCache | None | bool = True,
    fits: dict[str, Fit] | None = None,
    prefitted: frozenset[str] = frozenset(),
) -> ScenarioResult:
    """Fit, forecast and evaluate every target of a scenario (writes nothing).

    Parameters
    ----------
    scenario : Scenario or path
    fast : bool
        Use the fast sampler and relaxed gates (``tnmodel.scenario.FAST_SAMPLER`` /
        ``FAST_GATES``): for previews and tests, not for decisions (the manifest says so).
    dataset : Dataset, optional
        Already loaded data; by default the scenario's ``data`` folder is loaded.
    progress : callable
        Receives one line of text per step.
    cache : FitCache, True or None/False
        Where fits are cached (True: the default folder, see
        :func:`tnmodel.models.cache.default_cache_dir`; None or False: always refit).
    fits : dict, optional
        Fits to reuse (indicator -> Fit), e.g. from an earlier run of a scenario that differs
        only in its interventions: those indicators are not refitted. Interventions never
        trigger a fit; they transform the draws (fit -> business-as-usual paths ->
        interventions -> targets).
    prefitted : frozenset of str
        Cache keys of fits made for this run by :func:`tnmodel.prefit.prefit` (the manifest
        says they were fitted now, in a worker process, not found in the cache).

    Raises
    ------
    InputError
        Bad scenario or data (nothing is fitted).
    tnmodel.models.ConvergenceError
        A fit failed its gates.
    """
    started = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if fast:
        scenario = scenario.with_fast_settings()
    dataset = dataset or load_dataset(scenario.data_dir())
    planned = plan_scenario(scenario, dataset)
    if planned.problems:
        raise InputError(planned.problems, what=f"scenario {scenario.name}")
    plans, series, series_for, to_fit = (planned.plans, planned.series, planned.series_for,
                                         planned.to_fit)

    if cache is True:
        cache = FitCache()
    plans, rank_fit, rank_forecasts, rank_power, rank_seconds = _rank_stage(
        plans, dataset, scenario, progress, cache or None)
    reused = sorted(set(fits or {}) & set(to_fit))
    fits = dict(fits or {})
    fit_keys: dict[str, tuple[str, bool]] = {}
    bau: dict[str, Paths] = {}
    timings: dict[str, float] = {}
    for indicator in steps(to_fit, progress):
        t0 = time.perf_counter()
        if indicator not in fits:
            progress(f"fitting {indicator} ({series_for(indicator).n_obs} observations, "
                     f"{len(series_for(indicator).geos)} series)")
            fit, key, hit = fit_indicator(scenario, indicator, series_for(indicator),
                                          cache or None)
            fits[indicator], fit_keys[indicator] = fit, (key, hit and key not in prefitted)
        first_year = int(series_for(indicator).year.min())
        years = np.arange(min(first_year, scenario.horizon), scenario.horizon + 1)
        bau[indicator] = remembered_paths(fits[indicator], fit_keys.get(indicator, (None,))[0],
                                          years, scenario.seed)
        timings[indicator] = round(time.perf_counter() - t0, 2)
    fits = {ind: fits[ind] for ind in to_fit}

    contexts = {ind: indicator_context(dataset, ind) for ind in to_fit}
    alias = {g: s for ind in to_fit for g, s in series_for(ind).renamed.items()}
    try:
        paths = apply_interventions(bau, scenario.interventions, scenario.seed, contexts, alias)
    except InterventionError as exc:
        keys = ("interventions", exc.index) if exc.index is not None else ("interventions",)
        raise InputError([scenario.problem(keys, str(exc))],
                         what=f"scenario {scenario.name}") from None

    prior_pace = {ind: fit.diagnostics.prior_pace for ind, fit in fits.items()}
    prior_power = {ind: remembered_prior_power(fit, fit_keys.get(ind, (None,))[0])
                   for ind, fit in fits.items()}
    rows, first_rows = [], []
    for plan in plans:
        if plan.target.id in rank_forecasts:
            rows.append(_rank_row(plan, scenario, dataset, rank_forecasts[plan.target.id],
                                  rank_fit, rank_power))
            continue
        row = attainment_row(plan, scenario.name, dataset, paths, series, scenario.baseline,
                             prior_pace=prior_pace, prior_power=prior_power)
        reading = plan.target.reading
        acting = "; ".join(describe(i) for i in scenario.interventions
                           if i.indicator in plan.indicators
                           and alias.get(i.geo, i.geo) == plan.evaluated_geo)
        row |= attainment_details(plan, paths, series,
                                  contexts.get(reading) or indicator_context(dataset, reading),
                                  scenario.required_acceleration, acting)
        rows.append(row)
        if plan.status == ESTIMATED:
            start = max(int(row["last_obs_year"]), int(paths[reading].years[0]))
            first_rows += [{"scenario": scenario.name, **r} for r in
                           first_year_table(paths[reading], plan.evaluated_geo, plan.target,
                                            start)]
    table = pd.DataFrame(rows, columns=list(TARGET_COLUMNS))
    first_year = pd.DataFrame(first_rows, columns=list(FIRST_YEAR_COLUMNS))
    quantiles = (pd.concat([quantile_table(p, like=bau.get(ind)) for ind, p in paths.items()],
                           ignore_index=True)
                 if paths else pd.DataFrame(columns=quantile_columns()))
    manifest = _manifest(scenario, dataset, fast, plans, fits, series, timings, fit_keys,
                         time.perf_counter() - started)
    manifest["interventions"] = [describe(i) for i in scenario.interventions]
    manifest["others"] = scenario.others
    manifest["reused_fits"] = reused
    manifest["prior_power"] = {ind: prior_power_summary(power)
                               for ind, power in prior_power.items()}
    manifest |= _rank_manifest(rank_fit, rank_forecasts, plans, rank_seconds, rank_power)
    ranks = _rank_table(rank_forecasts, plans)
    return ScenarioResult(scenario, table, quantiles, fits, manifest, first_year, ranks,
                          rank_fit)


@dataclass(frozen=True)
class ScenarioPlan:
    """What a run will do, decided before any fit (see :func:`plan_scenario`)."""

    plans: list[TargetPlan]
    series: dict[str, SeriesData]
    series_for: Callable[[str], SeriesData]
    to_fit: list[str]
    problems: list[Problem]


def plan_scenario(scenario: Scenario, dataset: Dataset) -> ScenarioPlan:
    """Check a scenario against its data and plan its targets and fits (nothing is fitted).

    ``problems`` lists everything that would stop the run: unknown ids, and interventions on
    an indicator no target reads, a geo without a series, or a year outside the forecast.
    """
    problems = check_scenario_against_data(scenario, dataset.targets, dataset.indicators,
                                           dataset.geos)
    problems += check_rank_basis(scenario, dataset.targets, dataset.indicators)
    series: dict[str, SeriesData] = {}
    if problems:
        return ScenarioPlan([], series, lambda ind: series[ind], [], problems)
    targets = [with_rank_basis(dataset.targets[t], scenario) for t in scenario.targets]
    follow = scenario.lineage == "follow"
    lineage_geos = tuple(sorted({t.geo for t in targets})) if follow else ()

    def series_for(indicator: str) -> SeriesData:
        if indicator not in series:
            spec = scenario.model_for(indicator)
            series[indicator] = select_series(
                dataset, indicator, since=spec.since, until=spec.until,
                exclude_geos=spec.exclude_geos, follow_lineage_of=lineage_geos,
            )
        return series[indicator]

    plans = [plan_target(t, dataset, series_for, follow) for t in targets]
    to_fit = sorted({ind for plan in plans if plan.status != RANK_ESTIMATED
                     for ind in plan.indicators})
    problems = _check_families(scenario, to_fit, series_for)
    problems += _check_interventions(scenario, to_fit, series_for)
    return ScenarioPlan(plans, series, series_for, to_fit, problems)


def _check_families(scenario: Scenario, to_fit: list[str], series_for) -> list[Problem]:
    """Before any fit: each indicator's family can model its series (e.g. takes bounds)."""
    from tnmodel.models import FAMILIES

    problems = []
    for indicator in to_fit:
        spec = scenario.model_for(indicator)
        message = FAMILIES[spec.family].unsupported(series_for(indicator))
        if message:
            keys = ("models", indicator, "family") if indicator in scenario.models else \
                ("default_model", "family")
            problems.append(scenario.problem(keys, message))
    return problems



def preflight(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Every problem that would stop :func:`run_scenario` before it fits anything."""
    return plan_scenario(scenario, dataset).problems


def fit_indicator(scenario: Scenario, indicator: str, series: SeriesData,
                  cache: FitCache | None = None) -> tuple[Fit, str, bool]:
    """Fit one indicator's series as the scenario says (the one place a run fits a model).

    Only the data selection, model spec, sampler, gates and seed enter here: interventions,
    targets and reporting settings do not, so a fit is reused (from ``cache``) across
    scenarios that differ only in those. Returns the fit, its cache key and whether it came
    from the cache.
    """
    return fit_cached(series, scenario.model_for(indicator), scenario.sampler,
                      _fit_seed(scenario.seed, indicator), scenario.gates, cache)


def indicator_fit_key(scenario: Scenario, indicator: str, series: SeriesData) -> str:
    """The fit-cache key :func:`fit_indicator` uses for this indicator (nothing is fitted)."""
    return fit_key(series, scenario.model_for(indicator), scenario.sampler, scenario.gates,
                   _fit_seed(scenario.seed, indicator))


def indicator_context(dataset: Dataset, indicator: str) -> Context:
    """Scale, direction, limits and populations for transforming one indicator's paths."""
    ind = dataset.indicators[indicator]
    return Context(logit=ind.kind == "share", higher_is_better=ind.direction == "higher_is_better",
                   lower=ind.lower, upper=ind.upper,
                   populations={g: geo.population for g, geo in dataset.geos.items()})


def _check_interventions(scenario: Scenario, to_fit: list[str], series_for) -> list[Problem]:
    """Before any fit: every intervention acts on a forecast indicator, a series geo and
    forecast years."""
    problems = []
    for i, spec in enumerate(scenario.interventions):
        where = ("interventions", i)
        if spec.indicator not in to_fit:
            problems.append(scenario.problem(
                (*where, "indicator"),
                f"no target of this scenario reads '{spec.indicator}', so it is not forecast "
                f"(forecast here: {', '.join(to_fit) or 'none'})"))
            continue
        series = series_for(spec.indicator)
        geos = [("geo", spec.geo)] if spec.type != "merge" else [
            (("members", j), m) for j, m in enumerate(spec.members)]
        for keys, geo in geos:
            keys = keys if isinstance(keys, tuple) else (keys,)
            resolved = series.renamed.get(geo, geo)
            if resolved not in series.geos:
                problems.append(scenario.problem(
                    (*where, *keys),
                    f"no observations of '{spec.indicator}' for '{geo}' in the data window, so "
                    f"it has no forecast (series geos: {', '.join(series.geos)})"))
        first = min(int(series.year.min()), scenario.horizon) if series.n_obs else None
        for name in ("from_year", "year"):
            year = getattr(spec, name, None)
            if year is not None and first is not None and not first <= year <= scenario.horizon:
                problems.append(scenario.problem(
                    (*where, name), f"{year} is outside the forecast years {first}-"
                                    f"{scenario.horizon} of '{spec.indicator}'"))
    return problems


def _fit_seed(seed: int, indicator: str) -> int:
    """A per-indicator seed, stable across runs and independent of which others are fitted."""
    digest = hashlib.sha256(f"{seed}:{indicator}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def source_commit(root: Path | None = None) -> str:
    """The git commit of tnmodel's source (``root``: default, the folder above the package),
    with ``-dirty`` if tracked files are changed, or ``unknown`` outside a git checkout: a
    version number does not say which code ran."""
    import subprocess

    root = root or Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                  "--untracked-files=no"], capture_output=True, text=True,
                                 timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if changed else "") if head else "unknown"


@functools.cache
def _package_versions() -> dict[str, str]:
    found = {"tnmodel": __version__, "tnmodel_commit": source_commit(),
             "python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _manifest(scenario: Scenario, dataset: Dataset, fast: bool, plans: list[TargetPlan],
              fits: dict[str, Fit], series: dict[str, SeriesData], timings: dict[str, float],
              fit_keys: dict[str, tuple[str, bool]], seconds: float) -> dict:
    source = scenario.source_file
    return {
        "scenario": scenario.name,
        "title": scenario.title,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fast": fast,
        "fast_warning": ("fast mode: short chains and relaxed convergence gates (see "
                         "settings.sampler and settings.gates); for previews and tests, not for "
                         "decisions") if fast else None,
        "seed": scenario.seed,
        "versions": dict(_package_versions()),
        "platform": platform.platform(),
        "command": " ".join(sys.argv),
        "scenario_file": str(source) if source else None,
        "scenario_file_sha256": hashlib.sha256(source.read_bytes()).hexdigest() if source else None,
        "scenario_hash": scenario.content_hash(),
        "settings": scenario.model_dump(mode="json", exclude={"source_file"}),
        "data_dir": str(dataset.root),
        "data_hash": dataset.content_hash,
        "data_files_sha256": dataset.file_hashes,
        "targets": {p.target.id: {"status": p.status, "evaluated_geo": p.evaluated_geo,
                                  "indicators": list(p.indicators), "reason": p.reason}
                    for p in plans},
        "fits": {
            ind: {
                "family": fit.spec.family,
                "n_obs": fit.series.n_obs,
                "series": list(fit.series.geos),
                "years": [int(fit.series.year.min()), int(fit.series.year.max())],
                "lineage": fit.series.renamed,
                "diagnostics": fit.diagnostics.as_dict(),
                "fit_key": fit_keys.get(ind, (None, None))[0],
                "from_cache": fit_keys.get(ind, (None, "passed in"))[1],
                "seconds": timings[ind],
            }
            for ind, fit in fits.items()
        },
        "series_checked": sorted(series),
        "seconds": round(seconds, 2),
    }


def _write_posteriors(fits: dict[str, Fit], folder: Path) -> None:
    """``posterior/<indicator>.nc`` (and ``rank_model.nc``): copied from the fit cache when
    the fit is stored there."""
    folder.mkdir()
    for indicator, fit in fits.items():
        target = folder / f"{indicator}.nc"
        stored_at = getattr(fit, "stored_at", None)
        if stored_at is not None and stored_at.exists():
            shutil.copyfile(stored_at, target)
            continue
        groups: dict[str, xr.Dataset] = {}
        for name in ("posterior", "sample_stats", "observed_data", "constant_data"):
            if name not in fit.posterior.children:
                continue
            data = fit.posterior[name].to_dataset()
            groups[f"/{name}"] = data.drop_vars(
                [v for v, a in data.data_vars.items() if a.dtype == object])
        xr.DataTree.from_dict(groups).to_netcdf(target, engine="h5netcdf")


def write_result(result: ScenarioResult, out: Path | str) -> Path:
    """Write ``out/<scenario>/`` atomically and return its path."""
    final = Path(out) / result.scenario.name
    with atomic_folder(final) as staging:
        result.targets.to_csv(staging / "targets.csv", index=False, lineterminator="\n",
                              float_format="%.6g")
        result.quantiles.to_csv(staging / "quantiles.csv", index=False, lineterminator="\n",
                                float_format="%.6g")
        result.first_year.to_csv(staging / "first_year.csv", index=False, lineterminator="\n",
                                 float_format="%.6g")
        posteriors = dict(result.fits) | (
            {"rank_model": result.rank_fit} if result.rank_fit is not None else {})
        if posteriors:
            _write_posteriors(posteriors, staging / "posterior")
        if not result.ranks.empty:
            result.ranks.to_csv(staging / "ranks.csv", index=False, lineterminator="\n",
                                float_format="%.6g")
        (staging / "manifest.json").write_text(
            json.dumps(result.manifest, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8")
    return final


# --------------------------------------------------------------------------------------------
# Rank targets: one latent-standing fit per run, shared by every rank target


def rank_stage_plan(plans: list[TargetPlan], dataset: Dataset,
                    ) -> tuple[list[TargetPlan], RankPanel | None]:
    """The plans with rank targets the panel cannot serve marked insufficient, and the panel
    the rank model is fitted to (None when no target needs it). Nothing is fitted."""
    wanted = [p for p in plans if p.status == RANK_ESTIMATED]
    if not wanted:
        return plans, None
    series = tuple(dict.fromkeys([*(p.target.reading for p in wanted), *DEFAULT_PANEL]))
    panel = rank_panel(dataset, tuple(s for s in series if s in dataset.indicators))
    first = int(panel.years[0])

    def usable(p: TargetPlan) -> TargetPlan:
        if p.status != RANK_ESTIMATED:
            return p
        if p.target.reading not in panel.series:
            reason = f"no usable rank of '{p.target.reading}' on the province panel"
        elif p.target.year < first:
            reason = f"the target year {p.target.year} is before the rank data ({first})"
        else:
            return p
        return TargetPlan(p.target, INSUFFICIENT, p.evaluated_geo, (), reason)

    plans = [usable(p) for p in plans]
    needed = any(p.status == RANK_ESTIMATED for p in plans)
    return plans, panel if needed else None


def fit_rank_model(scenario: Scenario, panel: RankPanel,
                   cache: FitCache | None = None) -> tuple[RankFit, str, bool]:
    """Fit the rank model as the scenario says (the one place a run fits it); returns the fit,
    its cache key and whether it came from the cache."""
    return fit_ranks_cached(panel, scenario.sampler.for_ranks(),
                            _fit_seed(scenario.seed, "rank_model"), scenario.gates, cache)


def rank_model_fit_key(scenario: Scenario, panel: RankPanel) -> str:
    """The fit-cache key :func:`fit_rank_model` uses (nothing is fitted)."""
    return rank_fit_key(panel, RankPriors(), scenario.sampler.for_ranks(), scenario.gates,
                        _fit_seed(scenario.seed, "rank_model"))


def _rank_stage(plans: list[TargetPlan], dataset: Dataset, scenario: Scenario,
                progress: Progress, cache: FitCache | None = None,
                ) -> tuple[list[TargetPlan], RankFit | None, dict[str, RankForecast],
                           PriorPower | None, float]:
    """Fit the rank model once (if any target needs it), forecast every rank target and weigh
    the fit's draws for its prior half and twice as strong."""
    started = time.perf_counter()
    plans, panel = rank_stage_plan(plans, dataset)
    if panel is None:
        return plans, None, {}, None, 0.0
    progress(f"fitting the rank model ({panel.n_obs} ranks of {', '.join(panel.series)}, "
             f"{len(panel.geos)} provinces)")
    fit, key, _ = fit_rank_model(scenario, panel, cache)
    forecasts = {p.target.id: _rank_forecast(fit, key, p.target, dataset, scenario.seed, cache)
                 for p in plans if p.status == RANK_ESTIMATED}
    power = remembered_prior_power(fit, key)
    return plans, fit, forecasts, power, round(time.perf_counter() - started, 2)


#: Rank forecasts made in this process, by rank fit key and (reading, year, basis, seed): they do
#: not depend on anything else a scenario says (interventions do not act on ranks), so a
#: scenario that differs only in its interventions reuses them.
_RANK_FORECASTS: dict[tuple, tuple[dict, RankForecast]] = {}
#: Bump when :func:`tnmodel.ranks.forecast_ranks` changes what it computes (cached ranks).
RANK_FORECAST_FORMAT = 1


def _rank_forecast(fit: RankFit, key: str, target, dataset: Dataset, seed: int,
                   cache: FitCache | None) -> RankForecast:
    """The rank forecast of one target: remembered in this process, and kept with the rank fit
    in the cache (it depends only on the fit, the reading, year, basis and seed)."""
    basis = rank_basis(dataset.geos, target.among)
    name = hashlib.sha256(repr((RANK_FORECAST_FORMAT, target.reading, target.year, basis.among,
                                basis.units, basis.weights.tobytes(), seed)).encode()
                          ).hexdigest()[:24]
    memo = (key, name)
    found = _RANK_FORECASTS.get(memo)
    if found is None or found[0] is not fit.draws:  # only for the draws it was made from
        ranks = cache.load_derived(key, f"ranks-{name}") if cache is not None else None
        if ranks is not None and _is_ranking(ranks, len(fit.draws["phi"]), len(basis.units)):
            forecast = RankForecast(target.reading, target.year, basis, ranks, fit.chains)
        else:
            forecast = forecast_ranks(fit, target.reading, target.year, basis, seed)
            if cache is not None:
                cache.store_derived(key, f"ranks-{name}", forecast.ranks)
        if len(_RANK_FORECASTS) >= 64:
            _RANK_FORECASTS.pop(next(iter(_RANK_FORECASTS)))
        found = _RANK_FORECASTS[memo] = (fit.draws, forecast)
    return found[1]


def _is_ranking(ranks: np.ndarray, draws: int, units: int) -> bool:
    """A cached rank forecast is used only if it is one ranking 1..units per draw."""
    return (ranks.shape == (draws, units)
            and bool((np.sort(ranks, axis=1) == np.arange(1, units + 1)).all()))


#: Rank rows of targets.csv made in this process, with the forecast they describe (kept so
#: its identity is not reused): a row depends on the forecast, the target, the data and the
#: baseline settings, not on the scenario's name or interventions.
_RANK_ROWS: dict[tuple, tuple[RankForecast, dict]] = {}


def _rank_row(plan: TargetPlan, scenario: Scenario, dataset: Dataset, forecast: RankForecast,
              fit: RankFit, power: PriorPower | None) -> dict:
    memo = (id(forecast), plan.target.id, plan.target.among, plan.evaluated_geo,
            dataset.content_hash, scenario.baseline.model_dump_json())
    found = _RANK_ROWS.get(memo)
    if found is None or found[0] is not forecast:
        if len(_RANK_ROWS) >= 256:
            _RANK_ROWS.clear()
        found = (forecast, rank_attainment_row(plan, scenario.name, dataset, forecast, fit,
                                               scenario.baseline, power))
        _RANK_ROWS[memo] = found
    return found[1] | {"scenario": scenario.name}


def _rank_table(forecasts: dict[str, RankForecast], plans: list[TargetPlan]) -> pd.DataFrame:
    units = {p.target.id: p.evaluated_geo for p in plans}
    if not forecasts:
        return pd.DataFrame()
    return pd.concat([rank_distribution_frame(f, tid, units[tid]) for tid, f in forecasts.items()],
                     ignore_index=True)


def _rank_manifest(fit: RankFit | None, forecasts: dict[str, RankForecast],
                   plans: list[TargetPlan], seconds: float, power: PriorPower | None) -> dict:
    if fit is None:
        return {}
    thresholds = {p.target.id: int(p.target.threshold) for p in plans}
    panel = fit.panel
    return {"rank_model": {
        "series": list(panel.series),
        "n_obs": panel.n_obs,
        "provinces": len(panel.geos),
        "years": [int(panel.years[0]), int(panel.years[-1])],
        "skipped_observations": list(panel.skipped),
        "diagnostics": fit.diagnostics.as_dict(),
        "seconds": seconds,
        "prior_power": prior_power_summary(power),
        "targets": {tid: {"among": f.basis.among, "year": f.year,
                          "top_k": thresholds[tid],
                          "top_k_set": list(f.top_k(thresholds[tid])),
                          "merged_units": f.basis.merged_units}
                    for tid, f in forecasts.items()},
    }}
