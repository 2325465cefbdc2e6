"""Compile each model structure once per process; sample with nutpie.

Building a PyMC model and compiling its log-density (nutpie's numba backend) costs seconds;
drawing from a small model costs less. So a compiled model is kept per *structure*
(:meth:`Family.structure_key`: parameter shapes, parametrisation, likelihood terms, priors)
and refitted to new data by swapping its ``pm.Data`` arrays (``with_data``). Back-tests over
cut-off years, simulation-based calibration and sweeps all refit the same structure many
times.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import xarray as xr
from pydantic import BaseModel

from tnmodel.models.family import Family
from tnmodel.models.lazy import lazy
from tnmodel.models.series import SeriesData

pm = lazy("pymc")
nutpie = lazy("nutpie")

#: Compiled models kept per process (least recently used are dropped beyond this).
MAX_COMPILED = 64


@dataclass(frozen=True)
class _Compiled:
    model: pm.Model
    compiled: object  # nutpie CompiledPyMCModel


_cache: OrderedDict[Hashable, _Compiled] = OrderedDict()
_lock = threading.Lock()
_stats = {"compiled": 0, "reused": 0}


def compile_stats() -> dict[str, int]:
    """How many structures were compiled and how many fits reused one (this process)."""
    return dict(_stats)


def clear_compiled() -> None:
    """Forget every compiled model (benchmarks use this to measure cold starts)."""
    with _lock:
        _cache.clear()


def _compiled_for(family: Family, series: SeriesData, priors: BaseModel) -> _Compiled:
    key = family.structure_key(series, priors)
    with _lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
            _stats["reused"] += 1
            # Data the graph does not use (settings kept with the fit for its forecast, such
            # as transition_local's resampled_innovations) were compiled out: skip them.
            known = {var.name for var in entry.compiled.shared_var_keys}
            compiled = entry.compiled.with_data(**{
                name: values for name, values in family.data_arrays(series, priors).items()
                if name in known})
            return _Compiled(entry.model, compiled)
        logging.getLogger("pymc").setLevel(logging.ERROR)
        model = family.build_model(series, priors)
        entry = _Compiled(model, nutpie.compile_pymc_model(model, backend="numba"))
        _cache[key] = entry
        _stats["compiled"] += 1
        while len(_cache) > MAX_COMPILED:
            _cache.popitem(last=False)
        return entry


#: Environment of a worker process that runs fits (Dask sweep workers, tnmodel.prefit): one
#: sampler thread unless a job says otherwise, no nested BLAS or numba pools, no progress bars.
#: It must be in place when the process starts: BLAS reads it when numpy is first imported.
WORKER_ENV = {
    "TNMODEL_SAMPLER_CORES": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "TNMODEL_PROGRESS": "0",
}


def sampler_cores(chains: int) -> int:
    """Threads for the chains: all of them, or ``$TNMODEL_SAMPLER_CORES`` (Dask workers set 1
    so a worker never runs a pool inside the cluster's pool). Draws do not depend on it."""
    limit = os.environ.get("TNMODEL_SAMPLER_CORES")
    return max(1, min(chains, int(limit))) if limit else chains


def sample_family(
    family: Family,
    series: SeriesData,
    priors: BaseModel,
    *,
    draws: int,
    tune: int,
    chains: int,
    target_accept: float,
    seed: int,
    progressbar: bool = False,
) -> tuple[xr.DataTree, float]:
    """Draw from the posterior of ``family`` on ``series``; return it and the seconds taken.

    The posterior carries the ``observed_data`` / ``constant_data`` groups and the ``geo``
    labels of *this* series (not of the series the structure was first compiled for).
    """
    entry = _compiled_for(family, series, priors)
    started = time.perf_counter()
    posterior = nutpie.sample(
        entry.compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=sampler_cores(chains),
        seed=seed,
        save_warmup=False,
        progress_bar=progressbar,
        target_accept=target_accept,
    )
    seconds = time.perf_counter() - started
    draws = posterior["posterior"].to_dataset()
    if "geo" in draws.dims:  # the compiled structure's labels are the first series' geos
        posterior["posterior"] = xr.DataTree(draws.assign_coords(geo=list(series.geos)))
    data = family.data_arrays(series, priors)
    for group in ("constant_data", "observed_data"):
        if group in posterior.children:
            del posterior[group]
    posterior["constant_data"] = xr.DataTree(
        xr.Dataset({name: (tuple(f"{name}_dim_{i}" for i in range(np.ndim(values))), values)
                    for name, values in data.items()}))
    return posterior, seconds
