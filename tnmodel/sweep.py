"""Run many scenario variants and gather their target tables into one tidy table.

A sweep is a list of :class:`Variant` (a concrete scenario plus the grid settings that made
it). Work is done in two waves so no fit is made twice: first one variant of every group
that needs the same fits (same data, models, sampler, seed, ...), which fits and fills the
fit cache; then every other variant, which only reads cached fits and applies its
interventions. Each wave goes through an executor:

``serial``  in this process, one after the other (the default);
``dask``    Dask distributed: a ``LocalCluster`` on this machine (one single-threaded worker
            process per core) or an existing scheduler given by address. Each worker runs one
            sampler with its chains in sequence, so pools are never nested.

The same seed gives the same table whatever the executor (tested).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from tnmodel.atomic import atomic_file
from tnmodel.models.sampling import WORKER_ENV
from tnmodel.scenario import Scenario

Executor = Literal["serial", "dask"]



@dataclass(frozen=True)
class Variant:
    """One concrete scenario of a sweep and the grid settings that define it."""

    name: str
    scenario: Scenario
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepResult:
    """The tidy table (one row per variant and target) and how the sweep ran."""

    table: pd.DataFrame
    manifest: dict


def fit_signature(scenario: Scenario, fast: bool) -> str:
    """Hash of what decides a scenario's fits; variants that share it share every fit."""
    if fast:
        scenario = scenario.with_fast_settings()
    payload = {
        "data": str(scenario.data_dir()),
        "targets": list(scenario.targets),
        "lineage": scenario.lineage,
        "models": {k: v.model_dump(mode="json") for k, v in scenario.models.items()},
        "default_model": scenario.default_model.model_dump(mode="json"),
        "sampler": scenario.sampler.model_dump(mode="json"),
        "gates": scenario.gates.model_dump(mode="json"),
        "seed": scenario.seed,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def run_variant(variant: Variant, fast: bool, cache_dir: str | None) -> pd.DataFrame:
    """Run one variant (in whichever process the executor chose); its rows of the table."""
    from tnmodel.models.cache import FitCache
    from tnmodel.runner import run_scenario

    cache = FitCache(Path(cache_dir)) if cache_dir else None
    result = run_scenario(variant.scenario, fast=fast, cache=cache)
    table = result.targets.copy()
    front = {"variant": variant.name} | {key: _cell(v) for key, v in variant.settings.items()}
    for position, (column, value) in enumerate(front.items()):
        table.insert(position, column, value)
    return table


def _cell(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None \
        else json.dumps(value, sort_keys=True)


def run_sweep(
    variants: Sequence[Variant],
    *,
    executor: Executor = "serial",
    scheduler: str | None = None,
    workers: int | None = None,
    fast: bool = False,
    cache_dir: Path | str | None = None,
    progress: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run every variant and return one tidy table (variants in the order given).

    Parameters
    ----------
    variants : sequence of Variant
        Names must be unique.
    executor : {"serial", "dask"}
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); implies ``executor="dask"``.
        Its workers must see the same files (data, scenarios, fit cache folder).
    workers : int, optional
        Worker processes of the local cluster (default: the number of cores).
    fast : bool
        The fast sampler and gates for every variant (previews and tests).
    cache_dir : path, optional
        The fit cache shared by every process (default: the usual cache folder).
    progress : callable, optional
        Receives one line per finished variant.
    """
    from tnmodel.models.cache import default_cache_dir

    names = [v.name for v in variants]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"variant names must be unique; repeated: {', '.join(repeated)}")
    if scheduler:
        executor = "dask"
    cache = str(Path(cache_dir or default_cache_dir()).resolve())
    say = progress or (lambda line: None)

    first_of_group: dict[str, int] = {}
    for i, variant in enumerate(variants):
        first_of_group.setdefault(fit_signature(variant.scenario, fast), i)
    waves = [sorted(first_of_group.values())]
    waves.append([i for i in range(len(variants)) if i not in set(waves[0])])

    started = time.perf_counter()
    tables: dict[int, pd.DataFrame] = {}
    run = _run_serial if executor == "serial" else _run_dask
    run(variants, waves, fast, cache, tables, say, scheduler, workers)
    seconds = time.perf_counter() - started

    table = pd.concat([tables[i] for i in range(len(variants))], ignore_index=True)
    manifest = {
        "variants": len(variants),
        "fit_groups": len(first_of_group),
        "executor": executor,
        "scheduler": scheduler,
        "workers": workers if executor == "dask" else 1,
        "fast": fast,
        "cache_dir": cache,
        "seconds": round(seconds, 2),
        "settings": {v.name: v.settings for v in variants},
    }
    return SweepResult(table, manifest)


def _run_serial(variants, waves, fast, cache, tables, say, scheduler, workers) -> None:
    for wave in waves:
        for i in wave:
            tables[i] = run_variant(variants[i], fast, cache)
            say(f"{len(tables)}/{len(variants)} {variants[i].name}")


def _run_dask(variants, waves, fast, cache, tables, say, scheduler, workers) -> None:
    from distributed import Client, LocalCluster, as_completed

    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        env = WORKER_ENV | {k: v for k, v in os.environ.items()
                            if k in ("PYTENSOR_FLAGS", "NUMBA_CACHE_DIR", "TNMODEL_CACHE_DIR")}
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=None, env=env)
        client = Client(cluster)
    try:
        for wave in waves:
            futures = {client.submit(run_variant, variants[i], fast, cache, pure=False,
                                     key=f"variant-{i}-{variants[i].name}"): i for i in wave}
            for future in as_completed(futures):
                i = futures[future]
                tables[i] = future.result()
                say(f"{len(tables)}/{len(variants)} {variants[i].name}")
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def write_sweep(result: SweepResult, out: Path | str) -> Path:
    """``out/sweep.csv`` and ``out/sweep.json`` (each written to a temporary name, then
    renamed; neither is replaced unless both were written)."""
    out = Path(out)
    with atomic_file(out / "sweep.csv") as table, atomic_file(out / "sweep.json") as manifest:
        result.table.to_csv(table, index=False, lineterminator="\n", float_format="%.6g")
        manifest.write_text(json.dumps(result.manifest, indent=2, default=str) + "\n",
                            encoding="utf-8")
    return out / "sweep.csv"
