"""Run a scenario end to end and write ``results/<scenario>/``.

``targets.csv``    one row per target (probability, MCSE, quantiles, official-style category)
``ranks.csv``      rank targets only: P(rank = r) of the target's unit, per target
``quantiles.csv``  yearly forecast quantiles per indicator and series geo
``posterior.nc``   every fit's posterior (one group per indicator)
``manifest.json``  versions, data and scenario hashes, seed, settings, timings, diagnostics

Nothing is written until every input check has passed and every fit has passed its gates;
the folder is written to a temporary sibling and renamed into place, so a failed run never
leaves a half-written result.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import sys
import tempfile
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
from tnmodel.data import Dataset, load_dataset
from tnmodel.forecast import Paths, forecast_paths, quantile_table
from tnmodel.models import Fit, SeriesData, fit_series, select_series
from tnmodel.models.rank import DEFAULT_PANEL, RankFit, fit_ranks, rank_basis, rank_panel
from tnmodel.problems import InputError
from tnmodel.ranks import RankForecast, forecast_ranks, rank_distribution_frame
from tnmodel.scenario import (
    Scenario,
    check_rank_basis,
    check_scenario_against_data,
    load_scenario,
    with_rank_basis,
)
from tnmodel.targets import (
    INSUFFICIENT,
    RANK_ESTIMATED,
    TargetPlan,
    attainment_row,
    plan_target,
    rank_attainment_row,
)

PACKAGES = ("pymc", "pytensor", "arviz", "nutpie", "numpy", "pandas", "xarray", "pydantic",
            "statsmodels", "h5netcdf")

TARGET_COLUMNS = (
    "scenario", "target_id", "geo", "evaluated_geo", "indicator", "reading", "year", "comparator",
    "threshold", "among", "status", "p_met", "p_met_mcse", "p_met_upper", "p_met_lower",
    "verdict", "q05", "q50", "q95", "baseline_category", "baseline_ratio", "baseline_projection",
    "n_obs", "last_obs_year", "last_obs_value", "note",
)


@dataclass(frozen=True)
class ScenarioResult:
    """Everything a run produced (also written to disk by :func:`write_result`)."""

    scenario: Scenario
    targets: pd.DataFrame
    quantiles: pd.DataFrame
    fits: dict[str, Fit]
    manifest: dict = field(repr=False)
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
    problems = check_scenario_against_data(scenario, dataset.targets, dataset.indicators,
                                           dataset.geos)
    problems += check_rank_basis(scenario, dataset.targets, dataset.indicators)
    if problems:
        raise InputError(problems, what=f"scenario {scenario.name}")

    targets = [with_rank_basis(dataset.targets[t], scenario) for t in scenario.targets]
    follow = scenario.lineage == "follow"
    lineage_geos = tuple(sorted({t.geo for t in targets})) if follow else ()
    series: dict[str, SeriesData] = {}

    def series_for(indicator: str) -> SeriesData:
        if indicator not in series:
            spec = scenario.model_for(indicator)
            series[indicator] = select_series(
                dataset, indicator, since=spec.since, until=spec.until,
                exclude_geos=spec.exclude_geos, follow_lineage_of=lineage_geos,
            )
        return series[indicator]

    plans = [plan_target(t, dataset, series_for, follow) for t in targets]
    plans, rank_fit, rank_forecasts, rank_seconds = _rank_stage(plans, dataset, scenario,
                                                                progress)
    to_fit = sorted({ind for plan in plans if plan.status != RANK_ESTIMATED
                     for ind in plan.indicators})

    fits: dict[str, Fit] = {}
    paths: dict[str, Paths] = {}
    timings: dict[str, float] = {}
    for indicator in to_fit:
        progress(f"fitting {indicator} ({series_for(indicator).n_obs} observations, "
                 f"{len(series_for(indicator).geos)} series)")
        t0 = time.perf_counter()
        fits[indicator] = fit_series(series_for(indicator), scenario.model_for(indicator),
                                     scenario.sampler, _fit_seed(scenario.seed, indicator),
                                     scenario.gates)
        first_year = int(series_for(indicator).year.min())
        years = np.arange(min(first_year, scenario.horizon), scenario.horizon + 1)
        paths[indicator] = forecast_paths(fits[indicator], years, scenario.seed)
        timings[indicator] = round(time.perf_counter() - t0, 2)

    table = pd.DataFrame(
        [rank_attainment_row(p, scenario.name, dataset, rank_forecasts[p.target.id], rank_fit,
                             scenario.baseline) if p.target.id in rank_forecasts
         else attainment_row(p, scenario.name, dataset, paths, series, scenario.baseline)
         for p in plans],
        columns=list(TARGET_COLUMNS),
    )
    quantiles = (pd.concat([quantile_table(p) for p in paths.values()], ignore_index=True)
                 if paths else pd.DataFrame())
    manifest = _manifest(scenario, dataset, fast, plans, fits, series, timings,
                         time.perf_counter() - started)
    manifest |= _rank_manifest(rank_fit, rank_forecasts, plans, rank_seconds)
    ranks = _rank_table(rank_forecasts, plans)
    return ScenarioResult(scenario, table, quantiles, fits, manifest, ranks, rank_fit)


def _fit_seed(seed: int, indicator: str) -> int:
    """A per-indicator seed, stable across runs and independent of which others are fitted."""
    digest = hashlib.sha256(f"{seed}:{indicator}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _package_versions() -> dict[str, str]:
    found = {"tnmodel": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def _manifest(scenario: Scenario, dataset: Dataset, fast: bool, plans: list[TargetPlan],
              fits: dict[str, Fit], series: dict[str, SeriesData], timings: dict[str, float],
              seconds: float) -> dict:
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
        "versions": _package_versions(),
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
                "seconds": timings[ind],
            }
            for ind, fit in fits.items()
        },
        "series_checked": sorted(series),
        "seconds": round(seconds, 2),
    }


def _posterior_tree(fits: dict[str, Fit], rank_fit: RankFit | None = None) -> xr.DataTree:
    """One DataTree with a group per indicator (and ``rank_model``); text stats dropped."""
    groups: dict[str, xr.Dataset] = {}
    fits = dict(fits) | ({"rank_model": rank_fit} if rank_fit is not None else {})
    for indicator, fit in fits.items():
        for name in ("posterior", "sample_stats", "observed_data"):
            if name not in fit.posterior.children:
                continue
            data = fit.posterior[name].to_dataset()
            data = data.drop_vars([v for v, a in data.data_vars.items() if a.dtype == object])
            groups[f"/{indicator}/{name}"] = data
    return xr.DataTree.from_dict(groups)


def write_result(result: ScenarioResult, out: Path | str) -> Path:
    """Write ``out/<scenario>/`` atomically and return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / result.scenario.name
    staging = Path(tempfile.mkdtemp(prefix=f".{result.scenario.name}-", dir=out))
    try:
        result.targets.to_csv(staging / "targets.csv", index=False, lineterminator="\n",
                              float_format="%.6g")
        result.quantiles.to_csv(staging / "quantiles.csv", index=False, lineterminator="\n",
                                float_format="%.6g")
        if result.fits or result.rank_fit is not None:
            _posterior_tree(result.fits, result.rank_fit).to_netcdf(staging / "posterior.nc",
                                                                    engine="h5netcdf")
        if not result.ranks.empty:
            result.ranks.to_csv(staging / "ranks.csv", index=False, lineterminator="\n",
                                float_format="%.6g")
        (staging / "manifest.json").write_text(
            json.dumps(result.manifest, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


# --------------------------------------------------------------------------------------------
# Rank targets: one latent-standing fit per run, shared by every rank target


def _rank_stage(plans: list[TargetPlan], dataset: Dataset, scenario: Scenario,
                progress: Progress) -> tuple[list[TargetPlan], RankFit | None,
                                             dict[str, RankForecast], float]:
    """Fit the rank model once (if any target needs it) and forecast every rank target."""
    wanted = [p for p in plans if p.status == RANK_ESTIMATED]
    if not wanted:
        return plans, None, {}, 0.0
    started = time.perf_counter()
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
    wanted = [p for p in plans if p.status == RANK_ESTIMATED]
    if not wanted:
        return plans, None, {}, 0.0
    progress(f"fitting the rank model ({panel.n_obs} ranks of {', '.join(panel.series)}, "
             f"{len(panel.geos)} provinces)")
    fit = fit_ranks(panel, scenario.sampler, _fit_seed(scenario.seed, "rank_model"),
                    scenario.gates)
    forecasts = {p.target.id: forecast_ranks(fit, p.target.reading, p.target.year,
                                             rank_basis(dataset.geos, p.target.among),
                                             scenario.seed)
                 for p in wanted}
    return plans, fit, forecasts, round(time.perf_counter() - started, 2)


def _rank_table(forecasts: dict[str, RankForecast], plans: list[TargetPlan]) -> pd.DataFrame:
    units = {p.target.id: p.evaluated_geo for p in plans}
    if not forecasts:
        return pd.DataFrame()
    return pd.concat([rank_distribution_frame(f, tid, units[tid]) for tid, f in forecasts.items()],
                     ignore_index=True)


def _rank_manifest(fit: RankFit | None, forecasts: dict[str, RankForecast],
                   plans: list[TargetPlan], seconds: float) -> dict:
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
        "targets": {tid: {"among": f.basis.among, "year": f.year,
                          "top_k": thresholds[tid],
                          "top_k_set": list(f.top_k(thresholds[tid])),
                          "merged_units": f.basis.merged_units}
                    for tid, f in forecasts.items()},
    }}
