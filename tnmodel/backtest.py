"""Back-tests: fit on the years up to a cut-off, forecast the held-out years, score.

Input is any long CSV with columns ``geo, year, value`` (optional ``indicator``; with
``period`` / ``bound`` columns, as in ``data/observations.csv``, only annual exact values
are used). For every cut-off year and model, every geo with data up to the cut-off is
forecast for the next ``horizon`` years, and every held-out observation in those years is
scored against the predictive draws:

``scores.csv``   one row per model, cut-off, geo and year: observed value, horizon, median,
                 80% / 95% intervals, PIT, CRPS, absolute error of the median
``metrics.csv``  per model and horizon: n, coverage80, coverage95, below80, above80 (misses
                 below / above the 80% interval), crps, mae, and the binomial 95% band of the
                 coverage a calibrated forecast would show with this n (band_lo / band_hi
                 for 80%, band95_lo / band95_hi for 95%)
``pit.csv``      PIT values (model, cutoff, geo, year, horizon, pit)
``brier.csv``    Brier scores of the events "value >= threshold at horizon h"
``fits.csv``     one row per Bayesian fit: status, convergence diagnostics, seconds
``manifest.json`` the command's settings, data hash, package versions, timings

Bayesian families are fitted to all geos at once (pooled) with the compile-once sampler;
baselines (:data:`tnmodel.baselines.BASELINE_MODELS`) are fitted geo by geo.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tnmodel.atomic import atomic_folder
from tnmodel.baselines import BASELINE_MODELS, baseline_draws
from tnmodel.problems import InputError, Problem, did_you_mean, relative

if TYPE_CHECKING:
    from tnmodel.models import SamplerSettings

#: Families that need bounded values (``--upper``): they model shares on the logit scale.
BOUNDED_FAMILIES = ("transition", "transition_local", "transition_state", "logit_trend",
                    "logistic")
#: The default models. The transition model of back-tests is ``transition_local`` since the
#: sixth round (``docs/backtests.md``: the decision rule fixed before the fourth held-out
#: panel); ``--model transition`` runs the default family of scenarios.
DEFAULT_BOUNDED = ("transition_local", "logit_trend", "cagr", "ols", "ets_damped")
DEFAULT_UNBOUNDED = ("linear", "cagr", "ols", "ets_damped")
REQUIRED_COLUMNS = ("geo", "year", "value")
BASELINE_DRAWS = 2000


class NothingToScore(ValueError):
    """A back-test produced no forecast to score (no held-out value, or every fit failed)."""


class BacktestOutputError(ValueError):
    """A folder written by ``tnmodel backtest --out`` cannot be read as asked."""


@contextmanager
def exit_on_unreadable_output() -> Iterator[None]:
    """For the analysis scripts: a :class:`BacktestOutputError` inside the block ends the
    script with its message (which names the folder and file), not a traceback."""
    try:
        yield
    except BacktestOutputError as exc:
        raise SystemExit(str(exc)) from None


def read_backtest_output(folder: Path | str, name: str, *, columns: Sequence[str] = (),
                         model: str | None = None) -> pd.DataFrame:
    """One file of a back-test's output folder (``scores.csv``, ``metrics.csv``,
    ``fits.csv``, ``pit.csv``), checked before it is used.

    Parameters
    ----------
    folder, name
        The folder ``tnmodel backtest --out`` wrote, and the file's name in it.
    columns
        Columns the caller reads: a file without one was written by an older tnmodel.
    model
        If given, the file must have rows of this model.

    Raises
    ------
    BacktestOutputError
        Naming the file and what is missing (the file, a column, the model's rows).
    """
    path = Path(folder) / name
    if not path.is_file():
        raise BacktestOutputError(f"{path}: no such file; give folders written by "
                                  "`tnmodel backtest --out`")
    frame = pd.read_csv(path)
    missing = set(columns) - set(frame.columns)
    if missing:
        raise BacktestOutputError(f"{path}: no column {', '.join(sorted(missing))}; the "
                                  "folder was written by an older tnmodel: re-run its back-test")
    if model is not None and ("model" not in frame.columns or model not in set(frame["model"])):
        raise BacktestOutputError(f"{path}: no {model} rows; run the back-test with "
                                  f"--model {model}")
    return frame


def read_manifest(folder: Path | str) -> dict:
    """The ``manifest.json`` of a folder written by ``tnmodel backtest --out``.

    Raises
    ------
    BacktestOutputError
        If the folder has no readable manifest, or the manifest lacks ``data_file`` or
        ``cutoffs``.
    """
    path = Path(folder) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BacktestOutputError(f"{path}: cannot be read as a back-test's manifest "
                                  f"({exc}); give folders written by `tnmodel backtest "
                                  "--out`") from None
    missing = {"data_file", "cutoffs"} - set(manifest)
    if missing:
        raise BacktestOutputError(f"{path}: no {', '.join(sorted(missing))}; the folder was "
                                  "written by an older tnmodel: re-run its back-test")
    return manifest


def levels_at_cutoff(folder: Path | str, root: Path | str = ".",
                     manifest: dict | None = None) -> pd.DataFrame:
    """Each (cut-off, geo)'s last value at or before the cut-off, in percent of the upper
    value (or as it is, without one), from the data file that ``folder``'s ``manifest.json``
    (or ``manifest``, if the caller has read it) names (relative to ``root``), read with the
    manifest's indicator, ``since`` and ``upper``.

    Raises
    ------
    BacktestOutputError
        If the manifest cannot be read (:func:`read_manifest`).
    """
    manifest = read_manifest(folder) if manifest is None else manifest
    data = read_backtest_csv(Path(root) / manifest["data_file"],
                             indicator=manifest.get("indicator"), since=manifest.get("since"),
                             upper=manifest.get("upper"))
    scale = 100.0 / manifest["upper"] if manifest.get("upper") else 1.0
    rows = []
    for cutoff in manifest["cutoffs"]:
        last = data[data["year"] <= cutoff].sort_values("year").groupby("geo")["value"].last()
        rows.append(pd.DataFrame({"cutoff": cutoff, "geo": last.index,
                                  "level": last.to_numpy() * scale}))
    return pd.concat(rows, ignore_index=True)


def known_models() -> tuple[str, ...]:
    from tnmodel.models import FAMILIES

    return (*FAMILIES, *BASELINE_MODELS)


# --------------------------------------------------------------------------------------------
# Input


def read_backtest_csv(
    path: Path | str,
    *,
    indicator: str | None = None,
    geos: Sequence[str] = (),
    since: int | None = None,
    upper: float | None = None,
    exclude_geos: Sequence[str] = (),
) -> pd.DataFrame:
    """Read and check a long CSV (``geo, year, value``, optional ``indicator``).

    Returns a frame with ``geo, year, value``; a value repeated for the same geo and year
    (republished by another source) counts once; different values of one geo and year are
    kept (and averaged when scored). Rows with a non-empty ``period`` or ``bound`` (if those
    columns exist) are left out: a back-test scores annual values. ``geos`` keeps only those
    geos, ``exclude_geos`` leaves those out; both must name geos of the file (of the
    indicator), whether or not they have annual values.

    Raises
    ------
    InputError
        Every problem as ``file:line: column: message`` (line 1 is the header).
    """
    path = Path(path)
    name = relative(path)
    if not path.is_file():
        raise InputError([Problem(name, 1, "(file)", "file not found")], what=f"file {name}")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError([Problem(name, 1, "(file)", f"not UTF-8 text: {exc.reason}")],
                         what=f"file {name}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError([Problem(name, 1, "(file)", f"not a readable CSV: {exc}")],
                         what=f"file {name}") from None
    columns = list(raw.columns)
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        problems = [Problem(name, 1, "(header)", f"missing column '{c}'"
                            f"{did_you_mean(c, columns)}; the header is: {', '.join(columns)}")
                    for c in missing]
        raise InputError(problems, what=f"file {name}")
    raw["line"] = np.arange(2, len(raw) + 2)
    problems: list[Problem] = []
    if indicator is not None:
        if "indicator" not in columns:
            problems.append(Problem(name, 1, "(header)",
                                    f"--indicator {indicator} given but there is no "
                                    "'indicator' column"))
        else:
            present = sorted(set(raw["indicator"]))
            if indicator not in present:
                problems.append(Problem(name, 1, "indicator", f"no rows of indicator "
                                        f"'{indicator}'{did_you_mean(indicator, present)}"))
            raw = raw[raw["indicator"] == indicator]
    elif "indicator" in columns and raw["indicator"].nunique() > 1:
        some = ", ".join(sorted(set(raw["indicator"]))[:5])
        problems.append(Problem(name, 1, "indicator", "several indicators in the file "
                                f"(e.g. {some}); choose one with --indicator"))
    if problems:
        raise InputError(problems, what=f"file {name}")
    in_file = sorted(set(raw["geo"].str.strip()))
    problems = [Problem(name, 1, "geo", f"cannot leave out geo '{g}': no rows of it"
                        f"{did_you_mean(g, in_file)}") for g in exclude_geos if g not in in_file]
    if problems:
        raise InputError(problems, what=f"file {name}")
    raw = raw[~raw["geo"].str.strip().isin(exclude_geos)]
    for column in ("period", "bound"):
        if column in raw.columns:
            raw = raw[raw[column].str.strip() == ""]
    for row in raw.itertuples():
        if not str(row.geo).strip():
            problems.append(Problem(name, row.line, "geo", "empty geo"))
        year = _as_number(row.year)
        if year is None or year != int(year):
            problems.append(Problem(name, row.line, "year", f"expected a whole year, got "
                                    f"{row.year!r}"))
        value = _as_number(row.value)
        if value is None:
            problems.append(Problem(name, row.line, "value", f"expected a number, got "
                                    f"{row.value!r}"))
        elif upper is not None and not 0 <= value <= upper:
            problems.append(Problem(name, row.line, "value", f"{value:g} is outside 0-{upper:g} "
                                    "(--upper)"))
    if problems:
        raise InputError(problems, what=f"file {name}")
    frame = pd.DataFrame({"geo": raw["geo"].str.strip(), "year": raw["year"].astype(float)
                          .astype(int), "value": raw["value"].astype(float)})
    if geos:
        present = sorted(set(frame["geo"]))
        unknown = [g for g in geos if g not in present]
        if unknown:
            raise InputError([Problem(name, 1, "geo", f"no rows of geo '{g}'"
                                      f"{did_you_mean(g, present)}") for g in unknown],
                             what=f"file {name}")
        frame = frame[frame["geo"].isin(geos)]
    if since is not None:
        frame = frame[frame["year"] >= since]
    if frame.empty:
        raise InputError([Problem(name, 1, "(file)", "no usable rows (after --indicator, "
                                  "--geo and --since)")], what=f"file {name}")
    # The same number republished by another source is one measurement, not two.
    frame = frame.assign(_r=frame["value"].round(6)).drop_duplicates(["geo", "year", "_r"])
    return frame.drop(columns="_r").sort_values(["geo", "year"]).reset_index(drop=True)


def read_backtest_files(paths: Sequence[Path | str], *, indicator: str | None = None,
                        geos: Sequence[str] = (), since: int | None = None,
                        upper: float | None = None) -> pd.DataFrame:
    """:func:`read_backtest_csv` of several files of different geos, as one frame.

    ``geos`` may name geos of any of the files. Raises :class:`InputError` for the problems
    of every file, and for a geo found in two files (it would be counted twice).
    """
    paths = [Path(p) for p in paths]
    if len(paths) == 1:
        return read_backtest_csv(paths[0], indicator=indicator, geos=geos, since=since,
                                 upper=upper)
    frames, problems, seen = [], [], {}
    for path in paths:
        try:
            frames.append(read_backtest_csv(path, indicator=indicator, since=since,
                                            upper=upper))
        except InputError as exc:
            problems += exc.problems
            continue
        for geo in frames[-1]["geo"].unique():
            if geo in seen:
                problems.append(Problem(relative(path), 1, "geo", f"geo '{geo}' is also in "
                                        f"{seen[geo]}: give each geo in one file only"))
            seen.setdefault(geo, relative(path))
    if problems:
        raise InputError(problems, what="the --data files")
    frame = pd.concat(frames, ignore_index=True)
    unknown = [g for g in geos if g not in seen]
    if unknown:
        raise InputError([Problem(", ".join(relative(p) for p in paths), 1, "geo",
                                  f"no rows of geo '{g}'{did_you_mean(g, sorted(seen))}")
                          for g in unknown], what="the --data files")
    if geos:
        frame = frame[frame["geo"].isin(geos)]
    return frame.sort_values(["geo", "year"]).reset_index(drop=True)


def _as_number(text: str) -> float | None:
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if np.isfinite(value) else None


# --------------------------------------------------------------------------------------------
# Scoring


def crps_from_draws(draws: np.ndarray, observed: float) -> float:
    """CRPS of a sample forecast: ``E|X - y| - E|X - X'| / 2`` (sorted-sample formula)."""
    x = np.sort(np.asarray(draws, dtype=float))
    n = x.size
    weights = 2 * np.arange(1, n + 1) - n - 1
    return float(np.mean(np.abs(x - observed)) - np.sum(weights * x) / n**2)


def pit_value(draws: np.ndarray, observed: float, rng: np.random.Generator) -> float:
    """Randomised PIT: ``P(X < y) + U * P(X = y)``."""
    below = np.mean(draws < observed)
    ties = np.mean(draws == observed)
    return float(below + rng.uniform() * ties)


def binomial_band(n: int, p: float) -> tuple[float, float]:
    """Central 95% range of the coverage a calibrated p-interval shows in n cases."""
    from scipy.stats import binom

    if n == 0:
        return float("nan"), float("nan")
    return float(binom.ppf(0.025, n, p) / n), float(binom.ppf(0.975, n, p) / n)


def in_band(coverage, n: int, p: float):
    """Whether ``coverage`` (a share, or an array of shares) of ``n`` cases is inside
    :func:`binomial_band` ``(n, p)``, ends included."""
    lo, hi = binomial_band(n, p)
    return (lo <= coverage) & (coverage <= hi)


def score_point(draws: np.ndarray, observed: float, rng: np.random.Generator) -> dict:
    q = np.quantile(draws, [0.025, 0.10, 0.50, 0.90, 0.975])
    return {
        "observed": observed, "median": q[2], "q025": q[0], "q10": q[1], "q90": q[3],
        "q975": q[4], "in80": bool(q[1] <= observed <= q[3]),
        "in95": bool(q[0] <= observed <= q[4]), "below80": bool(observed < q[1]),
        "above80": bool(observed > q[3]), "pit": pit_value(draws, observed, rng),
        "crps": crps_from_draws(draws, observed), "abs_error": abs(q[2] - observed),
    }


#: A standard normal's 90% quantile: the 80% central interval's edge, in sds.
Z80 = 1.2815515655446004


def pit_normal_scores(pit) -> np.ndarray:
    """``Phi^-1(PIT)`` (standard normal when the forecasts are calibrated), the PITs clipped
    to [1e-4, 1 - 1e-4] so that an outcome beyond every draw stays finite."""
    from scipy.stats import norm

    return norm.ppf(np.clip(np.asarray(pit, dtype=float), 1e-4, 1 - 1e-4))


def robust_sd(values) -> float:
    """1.4826 times the median absolute deviation: a normal sample's sd, little moved by a
    few large values."""
    values = np.asarray(values, dtype=float)
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def markdown_table(title: str, table: pd.DataFrame, index_name: str) -> str:
    """``table`` as a markdown table under ``title``: its index in a first column headed
    ``index_name``, numbers in ``g`` format, anything else as text (the analysis scripts'
    printed tables)."""
    def cell(value) -> str:
        number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        return f"{value:g}" if number else str(value)

    lines = [title, f"| {index_name} | " + " | ".join(table.columns) + " |",
             "| --- " * (len(table.columns) + 1) + "|"]
    lines += [f"| {key} | " + " | ".join(cell(v) for v in row) + " |"
              for key, row in table.iterrows()]
    return "\n".join(lines)


def summarise(scores: pd.DataFrame) -> pd.DataFrame:
    """metrics.csv: per model and horizon (see module docstring)."""
    rows = []
    for (model, horizon), part in scores.groupby(["model", "horizon"], sort=True):
        n = len(part)
        lo80, hi80 = binomial_band(n, 0.8)
        lo95, hi95 = binomial_band(n, 0.95)
        cov80, cov95 = part["in80"].mean(), part["in95"].mean()
        rows.append({
            "model": model, "horizon": int(horizon), "n": n,
            "coverage80": cov80, "coverage95": cov95,
            "below80": part["below80"].mean(), "above80": part["above80"].mean(),
            "crps": part["crps"].mean(), "mae": part["abs_error"].mean(),
            "band_lo": lo80, "band_hi": hi80, "band95_lo": lo95, "band95_hi": hi95,
            "in_band80": bool(in_band(cov80, n, 0.8)), "in_band95": bool(in_band(cov95, n, 0.95)),
        })
    return pd.DataFrame(rows)


def brier_scores(scores: pd.DataFrame, event_probs: pd.DataFrame) -> pd.DataFrame:
    """brier.csv: mean squared error of P(value >= threshold) per model, horizon, threshold."""
    if event_probs.empty:
        return pd.DataFrame(columns=["model", "horizon", "threshold", "n", "brier", "base_rate"])
    joined = event_probs.merge(scores[["model", "cutoff", "geo", "year", "observed"]],
                               on=["model", "cutoff", "geo", "year"])
    joined["event"] = (joined["observed"] >= joined["threshold"]).astype(float)
    joined["sq"] = (joined["p"] - joined["event"]) ** 2
    out = (joined.groupby(["model", "horizon", "threshold"])
           .agg(n=("sq", "size"), brier=("sq", "mean"), base_rate=("event", "mean"))
           .reset_index())
    return out


# --------------------------------------------------------------------------------------------
# Running


@dataclass(frozen=True)
class BacktestResult:
    """Everything a back-test produced (written by :func:`write_backtest`)."""

    scores: pd.DataFrame
    metrics: pd.DataFrame
    pit: pd.DataFrame
    brier: pd.DataFrame
    fits: pd.DataFrame
    manifest: dict = field(repr=False)


@dataclass(frozen=True)
class ReferencePanel:
    """A panel to learn prior settings from at each cut-off (FPEM's global-then-local fit).

    At every cut-off each Bayesian family is first fitted to this panel's years up to the
    cut-off (without the back-tested geos), its pooled hyper-parameters become the priors
    (:func:`tnmodel.models.reference.learn_priors`), and the back-tested series is fitted
    with them. Settings given with ``--prior`` apply to both fits and win over learned ones.

    Attributes
    ----------
    frame : DataFrame
        ``geo, year, value`` (from :func:`read_backtest_csv`, in the same units).
    sampler : SamplerSettings, optional
        Of the reference fits (default: the back-test's, with 4 chains: the pooled
        parameters of a 12-country panel mix slowly with 2).
    inflation : float
        Posterior sds are multiplied by this when they become prior sds.
    """

    frame: pd.DataFrame = field(repr=False)
    sampler: SamplerSettings | None = None
    inflation: float = 2.0


def check_models(models: Sequence[str], upper: float | None, *,
                 reference: bool = False) -> list[str]:
    """Problems with the ``--model`` names (unknown; bounded family without ``--upper``;
    with a reference panel, a family that has no reference priors)."""
    from tnmodel.models import FAMILIES
    from tnmodel.models.reference import REFERENCE_FAMILIES

    problems = []
    for model in models:
        if model not in known_models():
            problems.append(f"unknown model '{model}'{did_you_mean(model, known_models())}; "
                            f"known: {', '.join(known_models())}")
        elif model in BOUNDED_FAMILIES and upper is None:
            problems.append(f"model '{model}' is for bounded shares: give --upper (e.g. "
                            "--upper 100 for percent)")
        elif reference and model in FAMILIES and model not in REFERENCE_FAMILIES:
            problems.append(f"model '{model}' has no reference priors to learn (families "
                            f"with them: {', '.join(REFERENCE_FAMILIES)}); leave out "
                            "--reference-data or this model")
    return problems


def family_priors(settings: Sequence[str], models: Sequence[str] | None,
                  upper: float | None) -> dict[str, dict]:
    """``NAME=VALUE`` settings (``--prior``) as validated priors per chosen family.

    Each setting goes to every chosen family whose priors have that name (VALUE is read as
    YAML: numbers, booleans, words). Raises ``ValueError`` for a malformed setting, a name no
    chosen family has (with a "did you mean") or a value the family refuses.
    """
    import yaml

    from tnmodel.models import FAMILIES, priors_for

    chosen = [m for m in (models or (DEFAULT_BOUNDED if upper is not None
                                     else DEFAULT_UNBOUNDED)) if m in FAMILIES]
    values: dict[str, object] = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"expected NAME=VALUE, got {setting!r}")
        values[name.strip()] = yaml.safe_load(text)
    out: dict[str, dict] = {}
    for name in values:
        owners = [m for m in chosen if name in FAMILIES[m].priors_class.model_fields]
        if not owners:
            known = sorted({f for m in chosen for f in FAMILIES[m].priors_class.model_fields})
            raise ValueError(f"no chosen model ({', '.join(chosen) or 'none'}) has a prior "
                             f"'{name}'{did_you_mean(name, known)}")
        for model in owners:
            out.setdefault(model, {})[name] = values[name]
    for model, mine in out.items():
        priors_for(model, mine)  # raises ValueError naming a bad value
    return out


def run_backtest(
    frame: pd.DataFrame,
    cutoffs: Sequence[int],
    *,
    models: Sequence[str] | None = None,
    upper: float | None = None,
    horizon: int = 5,
    thresholds: Sequence[float] = (),
    sampler=None,
    gates=None,
    seed: int = 2030,
    indicator: str = "series",
    progress: Callable[[str], None] = lambda line: None,
    priors: dict[str, dict] | None = None,
    reference: ReferencePanel | None = None,
    lone: bool = False,
) -> BacktestResult:
    """Back-test ``models`` on ``frame`` (``geo, year, value``) at every cut-off.

    Parameters
    ----------
    frame : DataFrame
        From :func:`read_backtest_csv`.
    cutoffs : years
        Fit on years <= cutoff; score years cutoff+1 .. cutoff+horizon.
    models : names
        Model families (:data:`tnmodel.models.FAMILIES`) and baselines; default
        (:data:`DEFAULT_BOUNDED`): the local transition model and the logit trend (the
        linear trend without ``upper``), and all baselines.
    upper : float, optional
        Values are shares of ``upper`` (100 for percent); required by the share families.
    thresholds : values
        Events ``value >= threshold`` scored with the Brier score (default: 50%, 75% and
        90% of ``upper``, none without it).
    sampler, gates : SamplerSettings, GateThresholds, optional
        Default: 2 chains of 500 draws after 500 tuning steps; R-hat <= 1.05, bulk ESS >= 100,
        no divergences. A fit that fails its gates (after one retry) is reported in
        ``fits.csv`` and its forecasts are left out of the scores.
    priors : mapping, optional
        Prior settings per family (from :func:`family_priors`); the defaults otherwise.
    reference : ReferencePanel, optional
        Learn each family's priors at each cut-off from this panel's years up to the
        cut-off (see :class:`ReferencePanel`); a reference fit that fails its gates leaves
        that family out at that cut-off.
    lone : bool
        Fit every geo alone (as a lone local series is fitted), not all geos pooled.
    """
    from tnmodel.models import GateThresholds, SamplerSettings
    from tnmodel.models.sampling import compile_stats

    started = time.perf_counter()
    models = list(models or (DEFAULT_BOUNDED if upper is not None else DEFAULT_UNBOUNDED))
    problems = check_models(models, upper, reference=reference is not None)
    if problems:
        raise ValueError("; ".join(problems))
    sampler = sampler or SamplerSettings(chains=2, draws=500, tune=500)
    gates = gates or GateThresholds(max_rhat=1.05, min_ess_bulk=100, max_divergences=0)
    if not thresholds and upper is not None:
        thresholds = (0.5 * upper, 0.75 * upper, 0.9 * upper)
    rng = np.random.default_rng(seed)
    learned: dict[str, dict[str, dict]] = {}
    per_year = frame.groupby(["geo", "year"], as_index=False)["value"].mean()
    score_rows, event_rows, fit_rows = [], [], []

    for cutoff in sorted(set(int(c) for c in cutoffs)):
        train = frame[frame["year"] <= cutoff]
        held = per_year[(per_year["year"] > cutoff) & (per_year["year"] <= cutoff + horizon)]
        held = held[held["geo"].isin(train["geo"])]
        if train.empty or held.empty:
            progress(f"cutoff {cutoff}: nothing to score (no data before or after), skipped")
            continue
        years = np.arange(cutoff + 1, cutoff + horizon + 1)
        geos = tuple(sorted(train["geo"].unique()))
        for model in models:
            t0 = time.perf_counter()
            if model in BASELINE_MODELS:
                draws = {}
                for geo in geos:
                    mine = train[train["geo"] == geo]
                    draws[geo] = baseline_draws(
                        model, mine["year"].to_numpy(), mine["value"].to_numpy(), years,
                        n_draws=BASELINE_DRAWS, rng=rng, lower=0.0, upper=upper)
                fit_rows.append({"model": model, "cutoff": cutoff, "role": "forecast",
                                 "status": "ok", "seconds": round(time.perf_counter() - t0, 2)})
            else:
                settings = (priors or {}).get(model)
                if reference is not None:
                    settings, row = _reference_priors(
                        model, reference, frame, cutoff, upper, settings, sampler, gates,
                        seed, indicator, progress)
                    fit_rows.append(row)
                    if settings is None:
                        progress(f"cutoff {cutoff}: {model}'s reference fit failed its "
                                 "gates; left out")
                        continue
                    learned.setdefault(model, {})[str(cutoff)] = settings
                groups = [(g,) for g in geos] if lone else [geos]
                draws = {}
                for group in groups:
                    mine, row = _bayesian_draws(model, train, group, years, upper, settings,
                                                sampler, gates, seed, cutoff, indicator,
                                                progress)
                    draws |= mine
                    fit_rows.append(row | {"geo": group[0] if lone else ""})
            for row in held.itertuples():
                if row.geo not in draws:  # its fit failed the gates (reported in fits.csv)
                    continue
                sample = draws[row.geo][:, int(row.year - cutoff - 1)]
                h = int(row.year - cutoff)
                score_rows.append({"model": model, "cutoff": cutoff, "geo": row.geo,
                                   "year": int(row.year), "horizon": h,
                                   **score_point(sample, float(row.value), rng)})
                for threshold in thresholds:
                    event_rows.append({"model": model, "cutoff": cutoff, "geo": row.geo,
                                       "year": int(row.year), "horizon": h,
                                       "threshold": threshold,
                                       "p": float(np.mean(sample >= threshold))})

    scores = pd.DataFrame(score_rows)
    if scores.empty:
        failed = [f"{r['model']} at {r['cutoff']}: {r['status']}" for r in fit_rows
                  if str(r.get("status", "")).startswith("failed")]
        if failed:
            raise NothingToScore("nothing to score: every model that could forecast failed "
                                 "its fits, so no folder was written:\n  "
                                 + "\n  ".join(failed))
        raise NothingToScore("no held-out value to score: every cut-off needs data before "
                             "and within --horizon years after it")
    metrics = summarise(scores)
    pit = scores[["model", "cutoff", "geo", "year", "horizon", "pit"]]
    brier = brier_scores(scores, pd.DataFrame(event_rows))
    manifest = {
        "cutoffs": sorted(set(int(c) for c in cutoffs)), "models": models, "upper": upper,
        "horizon": horizon, "thresholds": list(thresholds), "seed": seed,
        "sampler": sampler.model_dump(), "gates": gates.model_dump(),
        "geos": sorted(frame["geo"].unique()), "n_rows": len(frame),
        "priors": priors or {}, "lone": lone,
        "reference": None if reference is None else {
            "geos": sorted(reference.frame["geo"].unique()),
            "n_rows": len(reference.frame), "inflation": reference.inflation,
            "sampler": _reference_sampler(reference, sampler).model_dump(),
            "learned_priors": learned},
        "compiled": compile_stats(), "seconds": round(time.perf_counter() - started, 1),
    }
    return BacktestResult(scores, metrics, pit, brier, pd.DataFrame(fit_rows), manifest)


def training_series(train: pd.DataFrame, geos: tuple[str, ...], upper: float | None,
                    indicator: str):
    """The Bayesian families' input: ``train``'s rows of ``geos``, as percent of ``upper``."""
    from tnmodel.models import series_from_arrays

    rows = train[train["geo"].isin(geos)]
    index = {g: i for i, g in enumerate(geos)}
    scale = 100.0 / upper if upper is not None else 1.0
    return series_from_arrays(indicator, geos, rows["geo"].map(index).to_numpy(),
                              rows["year"].to_numpy(), rows["value"].to_numpy() * scale), scale


def _bayesian_draws(model, train, geos, years, upper, settings, sampler, gates, seed, cutoff,
                    indicator, progress) -> tuple[dict[str, np.ndarray], dict]:
    """Fit ``model`` to ``geos`` (pooled) and forecast ``years``: draws per geo (none if the
    fit failed its gates) and the ``fits.csv`` row."""
    from tnmodel.models import FAMILIES, ConvergenceError, ModelSpec, fit_series

    t0 = time.perf_counter()
    series, scale = training_series(train, geos, upper, indicator)
    progress(f"cutoff {cutoff}: fitting {model} ({series.n_obs} observations, "
             f"{len(geos)} geo{'s' if len(geos) > 1 else ''})")
    row = {"model": model, "cutoff": cutoff, "role": "forecast"}
    try:
        fit = fit_series(series, ModelSpec(family=model, priors=settings), sampler,
                         seed + cutoff, gates)
    except ConvergenceError as exc:
        progress(f"cutoff {cutoff}: {model} failed its gates; left out")
        return {}, row | {"status": f"failed gates: {exc}",
                          "seconds": round(time.perf_counter() - t0, 2)}
    values = FAMILIES[model].forecast(
        fit.draws, series, years, np.random.default_rng([seed, cutoff]))[0] / scale
    return ({g: values[:, i, :] for i, g in enumerate(geos)},
            row | {"status": "ok", "seconds": round(time.perf_counter() - t0, 2),
                   **fit.diagnostics.as_dict()})


def _reference_sampler(reference: ReferencePanel, sampler):
    return reference.sampler or sampler.model_copy(update={"chains": max(4, sampler.chains)})


def _reference_priors(model, reference, frame, cutoff, upper, settings, sampler, gates, seed,
                      indicator, progress) -> tuple[dict | None, dict]:
    """Prior settings of ``model`` learned from the reference panel's years <= ``cutoff``
    (the back-tested geos left out), with ``settings`` (``--prior``) winning; ``None`` if
    the reference fit failed its gates. Also the ``fits.csv`` row of the reference fit."""
    from tnmodel.models import ConvergenceError
    from tnmodel.models.reference import learn_priors

    t0 = time.perf_counter()
    panel = reference.frame[(reference.frame["year"] <= cutoff)
                            & ~reference.frame["geo"].isin(frame["geo"])]
    geos = tuple(sorted(panel["geo"].unique()))
    row = {"model": model, "cutoff": cutoff, "role": "reference", "geo": ""}
    if len(geos) < 2:
        return None, row | {"status": f"failed: the reference panel has {len(geos)} geo(s) "
                            f"with data up to {cutoff} besides the back-tested ones; "
                            "pooled priors need at least 2", "seconds": 0.0}
    series, _ = training_series(panel, geos, upper, indicator)
    progress(f"cutoff {cutoff}: learning {model}'s priors from the reference panel "
             f"({series.n_obs} observations, {len(geos)} geos)")
    try:
        learned, fit = learn_priors(series, model, sampler=_reference_sampler(reference, sampler),
                                    gates=gates, seed=seed + cutoff,
                                    inflation=reference.inflation, priors=settings)
    except ConvergenceError as exc:
        return None, row | {"status": f"failed gates: {exc}",
                            "seconds": round(time.perf_counter() - t0, 2)}
    return ({**learned, **(settings or {})},
            row | {"status": "ok", "seconds": round(time.perf_counter() - t0, 2),
                   **fit.diagnostics.as_dict()})


def write_backtest(result: BacktestResult, out_dir: Path | str, extra_manifest: dict) -> Path:
    """Write the result files into ``out_dir`` (via a temporary folder renamed into place)."""
    from tnmodel.runner import _package_versions  # same as run manifests

    out_dir = Path(out_dir)
    with atomic_folder(out_dir) as tmp:
        result.scores.to_csv(tmp / "scores.csv", index=False, float_format="%.6g")
        result.metrics.to_csv(tmp / "metrics.csv", index=False, float_format="%.4f")
        result.pit.to_csv(tmp / "pit.csv", index=False, float_format="%.6g")
        result.brier.to_csv(tmp / "brier.csv", index=False, float_format="%.4f")
        result.fits.to_csv(tmp / "fits.csv", index=False)
        manifest = {**extra_manifest, **result.manifest, "versions": dict(_package_versions())}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n",
                                           encoding="utf-8")
    return out_dir


def file_hash(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
