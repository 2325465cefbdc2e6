"""Fit what a set of scenarios needs in parallel worker processes, before running them.

A cold ``tnmodel run`` needs a handful of distinct fits: one per indicator series a target
reads and one of the rank model. Each costs mostly the compilation of its model (numba,
single-threaded, behind a process-wide lock), so on a machine with several cores they are
spread over worker processes. Every worker writes its fit to the fit cache, and the scenarios
then run as usual, reading every fit from the cache.

Results equal those of a serial run: a fit depends only on what its cache key hashes (data,
model spec, priors, sampler settings, gates, seed; see :mod:`tnmodel.models.cache`), not on
the process or the number of threads it ran with. A fit that fails in a worker (a convergence
gate, bad input) is simply not cached: the serial run that follows fits it again and reports
the failure where it always does, with the scenario's name.

Workers are started with ``spawn`` (no threads or state inherited): a script that calls
:func:`prefit` must do so under ``if __name__ == "__main__":``, as for any multiprocessing
code (``tnmodel run`` and notebooks need nothing).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tnmodel.data import load_dataset
from tnmodel.models.cache import FitCache
from tnmodel.models.sampling import WORKER_ENV
from tnmodel.scenario import Scenario

__all__ = ["FitJob", "PrefitReport", "available_cores", "missing_fits", "prefit"]


@dataclass(frozen=True)
class FitJob:
    """One fit a scenario needs: an indicator's series, or the rank model (``indicator`` None).

    Attributes
    ----------
    key : str
        Its fit-cache key (the same one the run computes).
    scenario : Scenario
        A scenario that needs it, with the settings it runs with (any of them: the key says
        the fit is the same).
    indicator : str or None
    """

    key: str
    scenario: Scenario
    indicator: str | None

    @property
    def label(self) -> str:
        return self.indicator or "rank model"


@dataclass(frozen=True)
class PrefitReport:
    """What :func:`prefit` did: the fits made (labels and cache keys), failures (left to the
    serial run), workers and time."""

    fitted: tuple[str, ...] = ()
    keys: frozenset[str] = frozenset()
    failed: dict[str, str] = field(default_factory=dict)
    workers: int = 0
    seconds: float = 0.0


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def missing_fits(scenarios: Sequence[Scenario], cache: FitCache, fast: bool = False,
                 ) -> list[FitJob]:
    """The distinct fits ``scenarios`` need that ``cache`` does not hold, rank model first.

    Scenarios with problems are skipped (their run reports them). Nothing is fitted.
    """
    from tnmodel.runner import (
        indicator_fit_key,
        plan_scenario,
        rank_model_fit_key,
        rank_stage_plan,
    )

    jobs: dict[str, FitJob] = {}
    for scenario in scenarios:
        if fast:
            scenario = scenario.with_fast_settings()
        dataset = load_dataset(scenario.data_dir())
        planned = plan_scenario(scenario, dataset)
        if planned.problems:
            continue
        _, panel = rank_stage_plan(planned.plans, dataset)
        if panel is not None:
            key = rank_model_fit_key(scenario, panel)
            jobs.setdefault(key, FitJob(key, scenario, None))
        for indicator in planned.to_fit:
            key = indicator_fit_key(scenario, indicator, planned.series_for(indicator))
            jobs.setdefault(key, FitJob(key, scenario, indicator))
    missing = [job for job in jobs.values()
               if not (cache.entry(job.key) / "fit.json").exists()]
    return sorted(missing, key=lambda job: job.indicator is not None)  # the rank model first


def prefit(scenarios: Sequence[Scenario], cache: FitCache, *, fast: bool = False,
           workers: int | None = None,
           progress: Callable[[str], None] = lambda line: None) -> PrefitReport:
    """Fit every missing fit of ``scenarios`` into ``cache``, in parallel worker processes.

    Parameters
    ----------
    scenarios : sequence of Scenario
    cache : FitCache
        Where the workers store their fits (and where the run will read them).
    fast : bool
        The scenarios will run with their fast settings (``tnmodel run --fast``).
    workers : int, optional
        Worker processes; default: the available cores. With one worker, or fewer than two
        missing fits, nothing is done here (the run fits in-process, which is as fast).
    progress : callable
        Receives one line of text per finished fit.
    """
    started = time.perf_counter()
    jobs = missing_fits(scenarios, cache, fast)
    workers = min(workers or available_cores(), len(jobs))
    if workers < 2:
        return PrefitReport()
    # Chains of one fit run on this many threads: a core each for the share fits; all cores
    # for the rank model, the longest job, which is submitted first and mostly samples after
    # the others are done (its model takes longest to compile).
    shared = max(1, available_cores() // workers)
    progress(f"fitting {len(jobs)} models in {workers} processes")
    fitted, keys, failed = [], set(), {}
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context)
    try:
        with _environment(WORKER_ENV):  # the workers start (on the first submit) with it
            futures = {pool.submit(_fit_job, job, str(cache.root),
                                   available_cores() if job.indicator is None else shared): job
                       for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            try:
                error = future.result()
            except Exception as problem:  # noqa: BLE001 - a dead worker: the run refits
                error = f"{type(problem).__name__}: {problem}"
            if error is None:
                fitted.append(job.label)
                keys.add(job.key)
                progress(f"fitted {job.label}")
            else:
                failed[job.label] = error
    finally:
        # Every fit is stored: let the workers exit in the background (seconds of freeing
        # compiled code) while the scenarios run.
        pool.shutdown(wait=False, cancel_futures=True)
    return PrefitReport(tuple(fitted), frozenset(keys), failed, workers,
                        round(time.perf_counter() - started, 2))


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` updated with ``values`` inside the block, restored after it."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _fit_job(job: FitJob, cache_root: str, threads: int = 1) -> str | None:
    """Run in a worker: make one fit (its chains on ``threads`` threads; the draws do not
    depend on it) and store it in the cache; the error text if it fails."""
    from tnmodel.runner import fit_indicator, fit_rank_model, plan_scenario, rank_stage_plan

    os.environ["TNMODEL_SAMPLER_CORES"] = str(threads)

    scenario = job.scenario
    cache = FitCache(Path(cache_root))
    try:
        dataset = load_dataset(scenario.data_dir())
        planned = plan_scenario(scenario, dataset)
        if job.indicator is None:
            _, panel = rank_stage_plan(planned.plans, dataset)
            fit_rank_model(scenario, panel, cache)
        else:
            fit_indicator(scenario, job.indicator, planned.series_for(job.indicator), cache)
    except Exception as problem:  # noqa: BLE001 - reported by the serial run
        return f"{type(problem).__name__}: {problem}"
    return None
