"""Issue 3's bar on back-tests: is a model calibrated, and does it beat the baselines?

A back-test (the ``scores.csv`` of one or more ``tnmodel backtest --out`` folders, pooled)
meets the bar when, at every horizon 1-5,

- the model's 80% and 95% coverage sit inside their binomial 95% bands
  (:func:`tnmodel.backtest.binomial_band`: what a calibrated forecast shows with that many
  forecasts), and
- its CRPS, summed over the forecasts that it and a baseline both made, is at least
  ``margin`` (20%) below that baseline's, for each baseline (CAGR and ETS-damped).

Which back-tests the bar is read on, with which setting, is a YAML file
(``docs/backtests/bar.yaml``: :class:`BarFile`), checked in full (file, line, field, "did you
mean") before anything is read. A back-test's forecasts may come from folders run for the
model alone, with the baselines from the folders that scored them on the same data and
cut-offs (``baselines_from``). ``tnmodel bar`` prints the tables; the validation notebook
shows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tnmodel.backtest import (
    BacktestOutputError,
    binomial_band,
    read_backtest_output,
    read_manifest,
)
from tnmodel.models import FAMILIES, ModelSpec, priors_for
from tnmodel.problems import InputError, did_you_mean
from tnmodel.yamlio import load_yaml_with_lines, validate_model

#: A forecast's identity within one part (folder) of a back-test.
KEY = ["cutoff", "geo", "year", "horizon"]
SCORE_COLUMNS = [*KEY, "model", "in80", "in95", "crps"]


class BarBacktest(BaseModel):
    """One back-test the bar is read on: its folders' forecasts pooled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(description="what the back-test is, in words (data, cut-offs)")
    folders: list[str] = Field(min_length=1, description=(
        "folders written by `tnmodel backtest --out` with the model's forecasts, relative "
        "to the YAML file"))
    baselines_from: list[str] | None = Field(None, description=(
        "for each folder, in the same order, the folder whose baseline forecasts (same data "
        "and cut-offs) it is compared with; without it, each folder's own baselines"))

    @model_validator(mode="after")
    def _one_baseline_folder_per_folder(self) -> BarBacktest:
        if self.baselines_from is not None and len(self.baselines_from) != len(self.folders):
            raise ValueError(f"baselines_from has {len(self.baselines_from)} folders for "
                             f"{len(self.folders)} folders: give one per folder, in order")
        return self

    def parts(self) -> list[tuple[str, str]]:
        """(model folder, baseline folder) pairs."""
        return list(zip(self.folders, self.baselines_from or self.folders, strict=True))


class BarFile(BaseModel):
    """The bar and the back-tests it is read on (``docs/backtests/bar.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    setting: str = Field(description="name of the model's setting (e.g. R19 in the Makefile)")
    description: str = Field("", description="the setting in words, and where it is defined")
    model: str = Field("transition_local", description="the model judged")
    since: int | None = Field(None, ge=1900, le=2200, description=(
        "the setting's first fitted year (`tnmodel backtest --since`); every model folder's "
        "manifest must say the same"))
    priors: dict[str, Any] | None = Field(None, description=(
        "the setting's priors (`--prior NAME=VALUE` in the back-tests, `models.<indicator>."
        "priors` in a scenario); every model folder's manifest must say the same. With "
        "`since`, this is the setting a scenario uses (:meth:`model_spec`)"))
    baselines: tuple[str, ...] = Field(("cagr", "ets_damped"), min_length=1)
    margin: float = Field(0.20, gt=0, lt=1, description=(
        "how far below each baseline's the model's CRPS must be (0.20: 20%)"))
    horizons: tuple[int, ...] = Field((1, 2, 3, 4, 5), min_length=1)
    resamples: int = Field(4000, ge=0, description=(
        "resamples of geos (of cut-offs for a lone geo) for the margins' 90% intervals; 0: "
        "none"))
    seed: int = Field(12, description="seed of the resamples")
    backtests: list[BarBacktest] = Field(min_length=1)

    @field_validator("priors")
    @classmethod
    def _priors_of_the_model(cls, value: dict[str, Any] | None,
                             info: ValidationInfo) -> dict[str, Any] | None:
        model = info.data.get("model")
        if value is not None and model is not None:
            if model not in FAMILIES:
                raise ValueError(f"priors are given, but model '{model}' is not a model "
                                 f"family{did_you_mean(model, list(FAMILIES))}")
            priors_for(model, value)  # unknown names get a "did you mean"
        return value

    def model_spec(self) -> ModelSpec:
        """The setting as a scenario's ``models.<indicator>`` entry: family, since, priors.

        Raises
        ------
        ValueError
            If the file does not give the setting's ``priors``.
        """
        if self.priors is None:
            raise ValueError(f"the bar file does not give setting {self.setting}'s priors")
        return ModelSpec(family=self.model, since=self.since, priors=self.priors)


def indicators_with_setting(models: dict[str, Any], bar: BarFile) -> list[str]:
    """The indicators of a scenario's ``models`` (as its result manifest records them:
    ``settings.models``) that are forecast with the bar file's setting: its model, ``since``
    and priors, on all the data (no ``until``). Empty when the file does not give the
    setting's priors."""
    if bar.priors is None:
        return []
    same = {"family", "since", "until", "priors"}
    wanted = bar.model_spec().model_dump(mode="json", include=same)
    found = []
    for indicator, spec in models.items():
        try:
            spec = ModelSpec.model_validate(spec)
        except ValueError:  # written by another version: not this setting
            continue
        if spec.model_dump(mode="json", include=same) == wanted:
            found.append(indicator)
    return sorted(found)


def load_bar_file(path: Path | str) -> BarFile:
    """Read and check a bar file, and that every folder it names has the scores it needs.

    Raises
    ------
    InputError
        Every problem at once, each with the file, line and field (a folder that is not
        there, a model or baseline its ``scores.csv`` lacks, an unknown key with a "did you
        mean").
    """
    path = Path(path)
    doc, problems = load_yaml_with_lines(path)
    if doc is None:
        raise InputError(problems, f"bar file {path}")
    bar, problems = validate_model(doc, (), doc.data, BarFile)
    if bar is None:
        raise InputError(problems, f"bar file {path}")
    for i, backtest in enumerate(bar.backtests):
        before = len(problems)
        for field, names, wanted in (("folders", backtest.folders, (bar.model,)),
                                     ("baselines_from", backtest.baselines_from or [],
                                      bar.baselines)):
            for j, name in enumerate(names):
                message = _folder_problem(path.parent / name, wanted)
                if message is None and field == "folders":
                    message = _setting_problem(path.parent / name, bar)
                if message:
                    problems.append(doc.problem(("backtests", i, field, j), message))
        if backtest.baselines_from and len(problems) == before:  # its folders are readable
            for j, (ours, theirs) in enumerate(backtest.parts()):
                message = _pairing_problem(path.parent / ours, path.parent / theirs)
                if message:
                    problems.append(doc.problem(("backtests", i, "baselines_from", j), message))
    if problems:
        raise InputError(problems, f"bar file {path}")
    return bar


def _folder_problem(folder: Path, models: Sequence[str]) -> str | None:
    """What is wrong with ``folder`` as a source of ``models``' scores, or ``None``."""
    if not (folder / "scores.csv").is_file():
        near = did_you_mean(folder.name, [p.name for p in folder.parent.glob("*")
                                          if (p / "scores.csv").is_file()])
        return f"{folder}: no scores.csv here{near}; give a folder written by `tnmodel " \
               "backtest --out`"
    try:
        present = set(pd.read_csv(folder / "scores.csv", usecols=["model"])["model"])
    except ValueError as exc:  # no model column, or not a CSV
        return f"{folder}/scores.csv cannot be read as a back-test's scores ({exc})"
    absent = [m for m in models if m not in present]
    if absent:
        return (f"{folder}/scores.csv has no rows of {', '.join(absent)}"
                f"{did_you_mean(absent[0], present)}; it has {', '.join(sorted(present))}")
    return None


def _setting_problem(folder: Path, bar: BarFile) -> str | None:
    """Why ``folder``'s model runs are not of the file's setting (its manifest's ``since``
    or priors differ from the file's ``since`` and ``priors``), or ``None``."""
    try:
        manifest = read_manifest(folder)
    except BacktestOutputError as exc:
        return str(exc)
    if bar.since is not None and manifest.get("since") != bar.since:
        return (f"{folder} was fitted since {manifest.get('since')}, setting {bar.setting} "
                f"since {bar.since}: give the folders of the setting's runs")
    if bar.priors is not None:
        ran = (manifest.get("priors") or {}).get(bar.model) or {}
        differ = sorted(k for k in set(ran) | set(bar.priors) if ran.get(k) != bar.priors.get(k))
        if differ:
            return (f"{folder} was run with other {bar.model} priors than setting "
                    f"{bar.setting}: " + "; ".join(
                        f"{k}: {ran.get(k, '(default)')} there, "
                        f"{bar.priors.get(k, '(default)')} here" for k in differ))
    return None


def _pairing_problem(ours: Path, theirs: Path) -> str | None:
    """Why the baselines of ``theirs`` cannot be compared with the forecasts of ``ours``
    (another data file or other cut-offs, by their manifests), or ``None``."""
    try:
        mine, other = read_manifest(ours), read_manifest(theirs)
    except BacktestOutputError as exc:
        return str(exc)
    for what in ("data_file", "cutoffs"):
        if mine.get(what) != other.get(what):
            return (f"{theirs} has {what} {other.get(what)}, {ours} has {mine.get(what)}: "
                    "baselines are compared on the same data and cut-offs")
    return None


def read_scores(backtest: BarBacktest, root: Path | str, model: str,
                baselines: Sequence[str]) -> pd.DataFrame:
    """The pooled scores of ``backtest``: the model's rows of each folder and the baselines'
    rows of its baseline folder, with ``part`` (the folder's index) added to the forecast's
    key, since two folders may hold the same geo and year (another panel, other cut-offs).

    Raises
    ------
    BacktestOutputError
        Naming a folder's file and what it lacks.
    """
    frames = []
    for part, (ours, theirs) in enumerate(backtest.parts()):
        sources = ({ours: [model, *baselines]} if ours == theirs
                   else {ours: [model], theirs: list(baselines)})
        for folder, models in sources.items():
            scores = read_backtest_output(Path(root) / folder, "scores.csv",
                                          columns=SCORE_COLUMNS)
            frames.append(scores.loc[scores["model"].isin(models), SCORE_COLUMNS]
                          .assign(part=part))
    return pd.concat(frames, ignore_index=True)


def bar_table(scores: pd.DataFrame, model: str = "transition_local",
              baselines: Sequence[str] = ("cagr", "ets_damped"), margin: float = 0.20,
              horizons: Sequence[int] = (1, 2, 3, 4, 5), resamples: int = 0,
              seed: int = 12) -> pd.DataFrame:
    """The bar, horizon by horizon.

    Parameters
    ----------
    scores
        ``scores.csv`` rows (``model``, ``cutoff``, ``geo``, ``year``, ``horizon``, ``in80``,
        ``in95``, ``crps``; ``part`` when several folders are pooled).
    model, baselines, margin, horizons, resamples, seed
        As in :class:`BarFile`.

    Returns
    -------
    pandas.DataFrame
        One row per horizon: ``n`` (the model's forecasts), ``coverage80`` with its band
        (``band80_lo``, ``band80_hi``) and ``ok80``, the same for 95%, and per baseline
        ``n_<baseline>`` (forecasts both made), ``margin_<baseline>`` (1 - the model's summed
        CRPS over the baseline's, NaN without shared forecasts) and ``ok_<baseline>``;
        ``met`` when every check of the row passes. With ``resamples``, also the margins'
        90% intervals and how often a resample reaches ``margin`` (:func:`margin_intervals`:
        ``lo_<baseline>``, ``hi_<baseline>``, ``p_<baseline>``), the share of resamples in
        which every horizon reaches it against every baseline (``p_every``, the same in
        every row) and what was resampled (``resampled``).
    """
    ours = scores[scores["model"] == model]
    rows = []
    for horizon in horizons:
        mine = ours[ours["horizon"] == horizon]
        row: dict = {"horizon": horizon, "n": len(mine)}
        for level, column in ((80, "in80"), (95, "in95")):
            lo, hi = binomial_band(len(mine), level / 100)
            coverage = float(mine[column].astype(bool).mean()) if len(mine) else np.nan
            row |= {f"coverage{level}": coverage, f"band{level}_lo": lo, f"band{level}_hi": hi,
                    f"ok{level}": bool(lo <= coverage <= hi)}
        rows.append(row)
    table = pd.DataFrame(rows).set_index("horizon").join(
        crps_margins(scores, model, baselines, margin, horizons))
    table["met"] = table[[c for c in table.columns if c.startswith("ok")]].all(axis=1)
    if resamples:
        intervals = margin_intervals(scores, model, baselines, margin, horizons, resamples,
                                     seed)
        table = table.join(intervals.table)
        table["p_every"], table["resampled"] = intervals.every, intervals.unit
    return table


def crps_by_forecast(scores: pd.DataFrame, first: str | None = None) -> pd.DataFrame:
    """One row per forecast (``part`` when folders are pooled, and the forecast key; led by
    the column ``first`` when given), one column of CRPS per model."""
    key = [*([first] if first else []), *(["part"] if "part" in scores.columns else []), *KEY]
    return scores.pivot_table(index=key, columns="model", values="crps", aggfunc="first")


def crps_margins(scores: pd.DataFrame, model: str = "transition_local",
                 baselines: Sequence[str] = ("cagr", "ets_damped"), margin: float = 0.20,
                 horizons: Sequence[int] = (1, 2, 3, 4, 5)) -> pd.DataFrame:
    """Per horizon and baseline: ``n_<baseline>`` (the forecasts ``model`` and the baseline
    both made, by ``part`` and forecast key), ``margin_<baseline>`` (1 - the model's summed
    CRPS over the baseline's on them; NaN without any) and ``ok_<baseline>`` (the margin
    reaches ``margin``). ``scores`` needs ``model``, the forecast key and ``crps``."""
    crps = crps_by_forecast(scores)
    rows = []
    for horizon in horizons:
        at_horizon = crps[crps.index.get_level_values("horizon") == horizon]
        row: dict = {"horizon": horizon}
        for baseline in baselines:
            shared = (at_horizon[[model, baseline]].dropna()
                      if {model, baseline} <= set(at_horizon.columns) else at_horizon.iloc[:0])
            gain = (1.0 - shared[model].sum() / shared[baseline].sum()
                    if len(shared) and shared[baseline].sum() > 0 else np.nan)
            row |= {f"n_{baseline}": len(shared), f"margin_{baseline}": gain,
                    f"ok_{baseline}": bool(gain >= margin)}
        rows.append(row)
    return pd.DataFrame(rows).set_index("horizon")


@dataclass(frozen=True)
class MarginIntervals:
    """The margins' resampled 90% intervals: ``table`` (per horizon, ``lo_<baseline>``,
    ``hi_<baseline>`` and ``p_<baseline>``, the share of resamples reaching the margin),
    ``unit`` (what was resampled, and how many) and ``every`` (the share of resamples in
    which every horizon reaches the margin against every baseline)."""

    table: pd.DataFrame
    unit: str
    every: float


def resampling_units(scores: pd.DataFrame) -> tuple[pd.Series, str]:
    """Each forecast's resampling unit, and its name: the geo (within its ``part`` when
    folders are pooled), all of whose forecasts share its history; for a lone geo, the
    cut-off."""
    geo = (scores["part"].astype(str) + ":" + scores["geo"].astype(str)
           if "part" in scores.columns else scores["geo"])
    return (geo, "geos") if geo.nunique() > 1 else (scores["cutoff"], "cutoffs")


def margin_intervals(scores: pd.DataFrame, model: str = "transition_local",
                     baselines: Sequence[str] = ("cagr", "ets_damped"), margin: float = 0.20,
                     horizons: Sequence[int] = (1, 2, 3, 4, 5), resamples: int = 4000,
                     seed: int = 12) -> MarginIntervals:
    """How sure the CRPS margins of :func:`bar_table` are, from resampled panels.

    On a panel of a dozen geos, or one geo at six cut-offs, a margin depends on which geos
    or years the panel happened to hold. A resample draws the units of
    :func:`resampling_units` with replacement, each with all its forecasts (every cut-off and
    horizon); the same resamples serve every horizon and baseline. A baseline without
    forecasts in ``scores`` is left out.
    """
    units, unit_name = resampling_units(scores)
    labels = np.sort(units.unique())
    counts = np.random.default_rng(seed).multinomial(
        len(labels), np.full(len(labels), 1 / len(labels)), size=resamples)  # (reps, units)
    crps = crps_by_forecast(scores.assign(unit=units.to_numpy()), first="unit")
    every = np.ones(resamples, dtype=bool)
    rows: dict[int, dict] = {h: {} for h in horizons}
    for baseline in (b for b in baselines if b in crps.columns and model in crps.columns):
        shared = crps[[model, baseline]].dropna()
        sums = shared.groupby(["unit", "horizon"]).sum()
        for horizon in horizons:
            part = (sums.xs(horizon, level="horizon") if horizon in
                    sums.index.get_level_values("horizon") else sums.iloc[:0].droplevel(1))
            part = part.reindex(labels, fill_value=0.0)
            ours, theirs = counts @ part[model].to_numpy(), counts @ part[baseline].to_numpy()
            with np.errstate(invalid="ignore", divide="ignore"):
                resampled = 1.0 - ours / np.where(theirs > 0, theirs, np.nan)
            reached = np.nan_to_num(resampled, nan=-np.inf) >= margin
            every &= reached
            low, high = (np.nanquantile(resampled, [0.05, 0.95]) if np.isfinite(resampled).any()
                         else (np.nan, np.nan))
            rows[horizon] |= {f"lo_{baseline}": float(low), f"hi_{baseline}": float(high),
                              f"p_{baseline}": float(reached.mean())}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "horizon"
    return MarginIntervals(table, f"{len(labels)} {unit_name}",
                           float(every.mean()) if len(table.columns) else float("nan"))


def bar_misses(table: pd.DataFrame, baselines: Sequence[str] = ("cagr", "ets_damped"),
               margin: float = 0.20) -> list[str]:
    """The checks of :func:`bar_table` that fail, in words (empty when the bar is met)."""
    misses = []
    for horizon, row in table.iterrows():
        for level in (80, 95):
            if not row[f"ok{level}"]:
                misses.append(f"{level}% coverage at h{horizon}: {row[f'coverage{level}']:.2f}, "
                              f"band {row[f'band{level}_lo']:.2f}-{row[f'band{level}_hi']:.2f}")
        for baseline in baselines:
            if not row[f"ok_{baseline}"]:
                gain = row[f"margin_{baseline}"]
                said = "no shared forecasts" if np.isnan(gain) else f"{gain:.1%}"
                misses.append(f"CRPS vs {baseline} at h{horizon}: {said}, "
                              f"needs {margin:.0%}")
    return misses


def read_bar(bar: BarFile, root: Path | str) -> list[tuple[BarBacktest, pd.DataFrame]]:
    """Each back-test of ``bar`` with its :func:`bar_table` (folders relative to ``root``)."""
    out = []
    for backtest in bar.backtests:
        scores = read_scores(backtest, root, bar.model, bar.baselines)
        out.append((backtest, bar_table(scores, bar.model, bar.baselines, bar.margin,
                                        bar.horizons, bar.resamples, bar.seed)))
    return out


def bar_summary(results: list[tuple[BarBacktest, pd.DataFrame]], bar: BarFile) -> pd.DataFrame:
    """One row per back-test: forecasts at the first horizon, the checks passed of all, what
    misses (``met`` when nothing does) and, with resamples, the share of resamples in which
    every CRPS margin reaches the bar (``P(CRPS check)``)."""
    rows = []
    for backtest, table in results:
        checks = table[[c for c in table.columns if c.startswith("ok")]]
        misses = bar_misses(table, bar.baselines, bar.margin)
        row = {"back-test": backtest.title, "n (h1)": int(table["n"].iloc[0]),
               "checks passed": f"{int(checks.to_numpy().sum())} of {checks.size}"}
        if "p_every" in table.columns:
            row["P(CRPS check)"] = f"{table['p_every'].iloc[0]:.2f}"
        rows.append(row | {"verdict": "met" if not misses else "missed: " + "; ".join(misses)})
    return pd.DataFrame(rows)


def coverage_text(row: pd.Series, level: int) -> str:
    """A row's coverage of the ``level``% interval with its binomial band."""
    return (f"{row[f'coverage{level}']:.3f} [{row[f'band{level}_lo']:.3f}, "
            f"{row[f'band{level}_hi']:.3f}]")


def margin_text(row: pd.Series, baseline: str) -> str:
    """A row's CRPS margin against ``baseline`` in percent (``n/a`` without shared
    forecasts), with its 90% interval when the table has one."""
    gain = row[f"margin_{baseline}"]
    if np.isnan(gain):
        return "n/a"
    low, high = row.get(f"lo_{baseline}", np.nan), row.get(f"hi_{baseline}", np.nan)
    interval = "" if np.isnan(low) else f" [{low:+.0%}, {high:+.0%}]"
    return f"{gain:.1%}{interval}"


def markdown_bar_table(table: pd.DataFrame, baselines: Sequence[str]) -> str:
    """:func:`bar_table` as a markdown table (coverage with its band, margins in percent; a
    failed check marked ✗)."""
    def mark(ok) -> str:
        return "" if ok else " ✗"

    heads = ["h", "n", "80% coverage [band]", "95% coverage [band]",
             *(f"CRPS vs {b}" for b in baselines)]
    lines = ["| " + " | ".join(heads) + " |", "| --- " * len(heads) + "|"]
    for horizon, row in table.iterrows():
        cells = [str(horizon), str(row["n"])]
        cells += [coverage_text(row, level) + mark(row[f"ok{level}"]) for level in (80, 95)]
        cells += [margin_text(row, b) + mark(row[f"ok_{b}"]) for b in baselines]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def bar_markdown(bar: BarFile, results: list[tuple[BarBacktest, pd.DataFrame]]) -> str:
    """The whole reading of the bar as markdown: the summary, then each back-test's table."""
    summary = bar_summary(results, bar)
    described = f": {bar.description.strip()}" if bar.description.strip() else ""
    resampled = ""
    if bar.resamples:
        resampled = (f" In brackets, each margin's 90% interval from {bar.resamples} resamples "
                     "of the back-test's geos (of its cut-offs for a lone geo), and "
                     f"`P(CRPS check)` the share of resamples in which every margin reaches "
                     f"{bar.margin:.0%}: how sure the CRPS part of the verdict is.")
    lines = [f"Setting **{bar.setting}** of `{bar.model}`{described}.", "",
             f"The bar: 80% and 95% coverage in their binomial bands and CRPS at least "
             f"{bar.margin:.0%} below {' and '.join(bar.baselines)}, at horizons "
             f"{', '.join(map(str, bar.horizons))}; ✗ marks a failed check.{resampled}", "",
             "| " + " | ".join(summary.columns) + " |", "| --- " * len(summary.columns) + "|"]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in summary.itertuples(index=False)]
    for backtest, table in results:
        lines += ["", f"**{backtest.title}**", "", markdown_bar_table(table, bar.baselines)]
    return "\n".join(lines)



#: The markers around the printout of :func:`bar_markdown` in a markdown file.
BLOCK_START, BLOCK_END = "<!-- bar:start -->", "<!-- bar:end -->"


def replace_block(text: str, markdown: str) -> str:
    """``text`` (a markdown file's) with what lies between :data:`BLOCK_START` and
    :data:`BLOCK_END` replaced by ``markdown``.

    Raises
    ------
    ValueError
        If the markers are not there, once each and in order.
    """
    start, end = text.find(BLOCK_START), text.find(BLOCK_END)
    if (text.count(BLOCK_START), text.count(BLOCK_END)) != (1, 1) or end < start:
        raise ValueError(f"needs one line {BLOCK_START} and, below it, one line {BLOCK_END} "
                         "where the tables go")
    return f"{text[:start]}{BLOCK_START}\n{markdown.strip()}\n{text[end:]}"
