"""Fits cached on disk by a content hash of everything that determines them.

The key hashes the arrays the model sees (:meth:`Family.data_arrays`), its structure, the
observation rows used (values and provenance), the model spec with its priors, the sampler
settings, the gates, the seed and the versions of tnmodel, PyMC and nutpie. An entry stores
the posterior (netCDF) and a ``fit.json`` with the key, the posterior file's SHA-256 and the
diagnostics. On load both are checked: a stale entry (key mismatch) or a corrupt one (hash
mismatch, unreadable file) is reported and refitted, never used.

Changing only a scenario's interventions (or targets, or horizon) leaves every key unchanged,
so the fits are reused; changing data, model, priors, sampler or seed refits.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np
import xarray as xr

from tnmodel import __version__
from tnmodel.atomic import atomic_file
from tnmodel.models import (
    FAMILIES,
    Diagnostics,
    Fit,
    GateThresholds,
    ModelSpec,
    SamplerSettings,
    SeriesData,
    StoredPosterior,
    chains_of,
    fit_series,
    with_changes,
)

log = logging.getLogger("tnmodel.cache")

#: Bump when the stored layout changes: every older entry becomes stale.
CACHE_FORMAT = 1
#: Fits already read (and checked) in this process, by entry folder; a scenario run after
#: another that used the same fits does not read them again.
_IN_MEMORY: OrderedDict[Path, tuple[tuple, Fit]] = OrderedDict()
IN_MEMORY_FITS = 32
#: Sampler statistics kept in a cached posterior (the rest are adaptation internals).
KEPT_SAMPLE_STATS = ("diverging", "energy", "step_size", "depth", "n_steps", "logp",
                     "mean_tree_accept")
ROW_COLUMNS = ("geo", "series_geo", "year", "value", "source_id", "period", "bound")


def default_cache_dir() -> Path:
    """``$TNMODEL_CACHE_DIR``, else ``.cache/fits`` under the working directory."""
    return Path(os.environ.get("TNMODEL_CACHE_DIR") or Path.cwd() / ".cache" / "fits")


#: Keys computed in this process, by the identity of what they hash and the settings. The
#: hashed object is kept with its key, so an identity is never reused while remembered.
_KEYS: dict[tuple, tuple[object, str]] = {}
MAX_REMEMBERED_KEYS = 4096


def _remembered_key(hashed: object, settings: tuple, compute: Callable[[], str]) -> str:
    memo = (id(hashed), *settings)
    found = _KEYS.get(memo)
    if found is not None and found[0] is hashed:
        return found[1]
    if len(_KEYS) >= MAX_REMEMBERED_KEYS:
        _KEYS.clear()
    key = compute()
    _KEYS[memo] = (hashed, key)
    return key


@functools.cache
def _sampler_versions() -> tuple[tuple[str, str], ...]:
    return tuple((package, version(package)) for package in ("pymc", "nutpie", "pytensor"))


def fit_key(series: SeriesData, spec: ModelSpec, sampler: SamplerSettings,
            gates: GateThresholds, seed: int) -> str:
    """The content hash that identifies a fit (see module docstring)."""
    settings = (spec.model_dump_json(), sampler.model_dump_json(), gates.model_dump_json(),
                int(seed))
    return _remembered_key(series, settings,
                           lambda: _fit_key(series, spec, sampler, gates, seed))


def _fit_key(series: SeriesData, spec: ModelSpec, sampler: SamplerSettings,
             gates: GateThresholds, seed: int) -> str:
    family = FAMILIES[spec.family]
    digest = hashlib.sha256()

    def add(label: str, payload: bytes) -> None:
        digest.update(label.encode() + b"\0" + payload + b"\0")

    add("format", str(CACHE_FORMAT).encode())
    for package, installed in _sampler_versions():
        add(package, installed.encode())
    add("tnmodel", __version__.encode())
    add("indicator", series.indicator.encode())
    add("geos", "\x1f".join(series.geos).encode())
    add("structure", repr(family.structure_key(series, spec.priors)).encode())
    for name, values in sorted(family.data_arrays(series, spec.priors).items()):
        array = np.ascontiguousarray(values)
        add(f"array:{name}:{array.dtype.str}:{array.shape}", array.tobytes())
    columns = [c for c in ROW_COLUMNS if c in series.rows.columns]
    add("rows", series.rows[columns].to_csv(index=False).encode())
    add("spec", spec.model_dump_json().encode())
    add("sampler", sampler.model_dump_json().encode())
    add("gates", gates.model_dump_json().encode())
    add("seed", str(int(seed)).encode())
    return digest.hexdigest()


@dataclass
class FitCache:
    """A folder of cached fits, with hit / miss / refit counts for this process."""

    root: Path = field(default_factory=default_cache_dir)
    hits: int = 0
    misses: int = 0
    rejected: list[str] = field(default_factory=list)

    def entry(self, key: str) -> Path:
        return Path(self.root) / key[:2] / key

    def load(self, key: str, series: SeriesData, spec: ModelSpec) -> Fit | None:
        """The cached fit for ``key``, or None (absent, stale or corrupt: the reason is kept)."""

        def build(posterior, meta: dict, posterior_file: Path, draws: dict | None) -> Fit:
            if draws is None:
                draws = FAMILIES[spec.family].extract_draws(posterior, series)
            return Fit(series, spec, posterior, draws, Diagnostics(**meta["diagnostics"]),
                       stored_at=posterior_file)

        fit = self._load_entry(key, build)
        return None if fit is None else with_changes(fit, series=series)

    def _load_entry(self, key: str, build):
        """Check and ``build(posterior, meta, file, draws)`` one entry (remembered in-process).

        When the entry holds its draws (``draws.npz``, checked against its recorded hash) the
        posterior is passed as a :class:`StoredPosterior`, read only if used; otherwise it is
        read now and ``draws`` is None (entries written before draws were kept).
        """
        folder = self.entry(key)
        if not folder.exists():
            _IN_MEMORY.pop(folder, None)
            return None
        remembered = _IN_MEMORY.get(folder)
        if remembered is not None and remembered[0] == _stamp(folder):
            _IN_MEMORY.move_to_end(folder)
            return remembered[1]
        try:
            meta = json.loads((folder / "fit.json").read_text(encoding="utf-8"))
            if meta.get("key") != key or meta.get("format") != CACHE_FORMAT:
                raise ValueError("stale entry: its recorded key or format does not match")
            posterior_file = folder / "posterior.nc"
            if _sha256(posterior_file) != meta.get("posterior_sha256"):
                raise ValueError("corrupt entry: posterior.nc does not match its recorded hash")
            if "draws_sha256" in meta:
                draws_file = folder / "draws.npz"
                if _sha256(draws_file) != meta["draws_sha256"]:
                    raise ValueError("corrupt entry: draws.npz does not match its recorded hash")
                with np.load(draws_file, allow_pickle=False) as stored:
                    draws = {name: stored[name] for name in stored.files}
                posterior = StoredPosterior(posterior_file, int(meta["chains"]))
            else:
                draws = None
                with xr.open_datatree(posterior_file, engine="h5netcdf") as tree:
                    posterior = tree.load()
            built = build(posterior, meta, posterior_file, draws)
        except Exception as problem:  # noqa: BLE001 - any unreadable entry is refitted
            reason = f"{folder}: {problem}"
            log.warning("fit cache: not using %s; refitting", reason)
            self.rejected.append(reason)
            shutil.rmtree(folder, ignore_errors=True)
            return None
        self._remember(folder, built)
        return built

    @staticmethod
    def _remember(folder: Path, fit) -> None:
        _IN_MEMORY[folder] = (_stamp(folder), fit)
        _IN_MEMORY.move_to_end(folder)
        while len(_IN_MEMORY) > IN_MEMORY_FITS:
            _IN_MEMORY.popitem(last=False)

    def store(self, key: str, fit: Fit, seed: int, sampler: SamplerSettings) -> Fit:
        """Write an entry atomically (a temporary folder renamed into place); return the fit
        with its stored posterior (what a later load gives)."""
        meta = {"indicator": fit.indicator, "series": list(fit.geos), "family": fit.spec.family,
                "spec": fit.spec.model_dump(mode="json")}
        stored, posterior_file = self._store_entry(key, fit.posterior, fit.draws,
                                                   fit.diagnostics, seed, sampler, meta)
        fit = with_changes(fit, posterior=stored, stored_at=posterior_file)
        self._remember(posterior_file.parent, fit)
        return fit

    def _store_entry(self, key: str, posterior: xr.DataTree, draws: dict[str, np.ndarray],
                     diagnostics: Diagnostics, seed: int, sampler: SamplerSettings,
                     meta: dict) -> tuple[xr.DataTree, Path]:
        folder = self.entry(key)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=folder.parent))
        stored = _storable(posterior)
        try:
            stored.to_netcdf(staging / "posterior.nc", engine="h5netcdf")
            # The draws a forecast needs, as plain arrays: a later run reads these, not the
            # netCDF file.
            np.savez(staging / "draws.npz", allow_pickle=False,
                     **{name: np.asarray(values) for name, values in draws.items()})
            meta = {
                "format": CACHE_FORMAT,
                "key": key,
                **meta,
                "sampler": sampler.model_dump(mode="json"),
                "seed": int(seed),
                "tnmodel": __version__,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "posterior_sha256": _sha256(staging / "posterior.nc"),
                "draws_sha256": _sha256(staging / "draws.npz"),
                "chains": int(posterior.posterior.sizes["chain"]),
                "diagnostics": diagnostics.__dict__,
            }
            (staging / "fit.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)
            try:
                staging.rename(folder)
            except OSError:
                if not (folder / "fit.json").exists():
                    raise
                # Another process (a sweep worker) stored the same fit first: keep theirs.
                shutil.rmtree(staging, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return stored, folder / "posterior.nc"

    def load_derived(self, key: str, name: str) -> np.ndarray | None:
        """An array derived from entry ``key`` (e.g. rank forecasts), or None if absent or
        unreadable (then it is simply made again)."""
        path = self.entry(key) / "derived" / f"{name}.npy"
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None

    def store_derived(self, key: str, name: str, array: np.ndarray) -> None:
        """Keep an array derived from entry ``key`` next to it (atomically; an entry that is
        gone is not recreated for it)."""
        folder = self.entry(key)
        if not (folder / "fit.json").exists():
            return
        with atomic_file(folder / "derived" / f"{name}.npy") as staging:
            np.save(staging, array, allow_pickle=False)

    def clear(self) -> int:
        """Delete every entry; return how many there were."""
        root = Path(self.root)
        count = sum(1 for _ in root.glob("??/*/fit.json")) if root.exists() else 0
        shutil.rmtree(root, ignore_errors=True)
        return count

    def size(self) -> tuple[int, int]:
        """(entries, bytes) on disk."""
        root = Path(self.root)
        if not root.exists():
            return 0, 0
        entries = sum(1 for _ in root.glob("??/*/fit.json"))
        return entries, sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def fit_cached(series: SeriesData, spec: ModelSpec, sampler: SamplerSettings, seed: int,
               gates: GateThresholds, cache: FitCache | None,
               progressbar: bool = False) -> tuple[Fit, str, bool]:
    """:func:`~tnmodel.models.fit_series` through ``cache`` (None: always fit).

    Returns
    -------
    fit, key, hit
        ``hit`` is True when the fit came from the cache.
    """
    key = fit_key(series, spec, sampler, gates, seed)
    if cache is not None:
        fit = cache.load(key, series, spec)
        if fit is not None:
            cache.hits += 1
            return fit, key, True
        cache.misses += 1
    fit = fit_series(series, spec, sampler, seed, gates, progressbar=progressbar)
    if cache is not None:
        fit = cache.store(key, fit, seed, sampler)
    return fit, key, False


def _storable(tree: xr.DataTree) -> xr.DataTree:
    """The posterior without text-valued variables (netCDF cannot hold object arrays) and
    with only the sampler statistics worth keeping."""
    groups = {}
    for node in tree.subtree:
        data = node.to_dataset(inherit=False)
        dropped = [v for v, a in data.data_vars.items() if a.dtype == object]
        if node.name == "sample_stats":
            dropped += [v for v in data.data_vars if v not in KEPT_SAMPLE_STATS]
        groups[node.path] = data.drop_vars(sorted(set(dropped)))
    return xr.DataTree.from_dict(groups)


def _stamp(folder: Path) -> tuple:
    """Size and modification time of an entry's files: a remembered fit is used only while
    its files are untouched."""
    stamp = []
    for name in ("fit.json", "posterior.nc"):
        try:
            info = (folder / name).stat()
        except OSError:
            return ()
        stamp.append((name, info.st_size, info.st_mtime_ns))
    return tuple(stamp)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rank_fit_key(panel, priors, sampler: SamplerSettings, gates: GateThresholds,
                 seed: int) -> str:
    """The content hash of a rank-model fit: the panel's arrays and rows, priors, settings."""
    settings = ("rank_model", priors.model_dump_json(), sampler.model_dump_json(),
                gates.model_dump_json(), int(seed))
    return _remembered_key(panel, settings,
                           lambda: _rank_fit_key(panel, priors, sampler, gates, seed))


def _rank_fit_key(panel, priors, sampler: SamplerSettings, gates: GateThresholds,
                  seed: int) -> str:
    from tnmodel.models.rank import SIZE_CLASSES

    digest = hashlib.sha256()
    for label, payload in (
        ("format", str(CACHE_FORMAT)),
        ("kind", "rank_model"),
        # How the likelihood is batched changes the sampler's path (not the posterior).
        ("size_classes", repr(SIZE_CLASSES)),
        ("versions", " ".join(installed for _, installed in _sampler_versions())),
        ("tnmodel", __version__),
        ("series", "\x1f".join(panel.series)),
        ("geos", "\x1f".join(panel.geos)),
        ("priors", priors.model_dump_json()),
        ("sampler", sampler.model_dump_json()),
        ("gates", gates.model_dump_json()),
        ("seed", str(int(seed))),
    ):
        digest.update(label.encode() + b"\0" + payload.encode() + b"\0")
    for name in ("years", "obs_series", "obs_year", "obs_weights", "rank", "among", "z"):
        array = np.ascontiguousarray(getattr(panel, name))
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode() + array.tobytes())
    return digest.hexdigest()


def fit_ranks_cached(panel, sampler: SamplerSettings, seed: int, gates: GateThresholds,
                     cache: FitCache | None, priors=None) -> tuple:
    """:func:`tnmodel.models.rank.fit_ranks` through ``cache``; returns (fit, key, hit)."""
    from tnmodel.models.family import stack_draws
    from tnmodel.models.rank import HYPER, RankFit, RankPriors, fit_ranks

    priors = priors or RankPriors()
    key = rank_fit_key(panel, priors, sampler, gates, seed)
    if cache is not None:
        def build(posterior, meta: dict, posterior_file: Path, draws: dict | None) -> RankFit:
            if draws is None:
                draws = {name: stack_draws(posterior.posterior[name]) for name in HYPER}
            return RankFit(panel, priors, posterior, draws, Diagnostics(**meta["diagnostics"]),
                           chains_of(posterior), stored_at=posterior_file)

        fit = cache._load_entry(key, build)
        if fit is not None:
            cache.hits += 1
            return with_changes(fit, panel=panel), key, True
        cache.misses += 1
    fit = fit_ranks(panel, sampler, seed, gates, priors)
    if cache is not None:
        stored, posterior_file = cache._store_entry(
            key, fit.posterior, fit.draws, fit.diagnostics, seed, sampler,
            {"indicator": "rank_model", "series": list(panel.series), "family": "rank_model"})
        fit = with_changes(fit, posterior=stored, stored_at=posterior_file)
        cache._remember(posterior_file.parent, fit)
    return fit, key, False
