"""Command line: ``tnmodel data check``, ``tnmodel run``.

Exit codes: 0 success; 1 bad input (data or scenario problems, each printed as
``file:line: field: message``); 2 usage error; 3 a fit failed its convergence gates.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tnmodel.problems import InputError, relative

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Bayesian forecasts of whether public targets will be met.")
data_app = typer.Typer(no_args_is_help=True, help="Check the data folder.")
app.add_typer(data_app, name="data")

# Tables are wide: when output is not a terminal (CI logs, files), do not wrap at 80 columns.
out = Console(width=None if Console().is_terminal else 200)
err = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 200)


def _progress_enabled(quiet: bool) -> bool:
    return not quiet and os.environ.get("TNMODEL_PROGRESS", "1") != "0"


@data_app.command("check")
def data_check(
    directory: Annotated[Path, typer.Argument(help="data folder")] = Path("data"),
) -> None:
    """Validate a data folder; print every problem as file:line: column: message."""
    from tnmodel.data import check_data

    problems = check_data(directory)
    for problem in problems:
        err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    if problems:
        err.print(f"{len(problems)} problem(s) in {relative(directory)}", style="bold red")
        raise typer.Exit(1)
    out.print(f"{relative(directory)}: OK", highlight=False)


@app.command()
def run(
    scenarios: Annotated[list[Path], typer.Argument(help="scenario YAML files")],
    out_dir: Annotated[Path, typer.Option("--out", help="results folder")] = Path("results"),
    fast: Annotated[bool, typer.Option("--fast", help="short chains: previews and tests")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress lines")] = False,
) -> None:
    """Run scenarios: write OUT/<scenario>/ and print the verdict table."""
    from tnmodel.models import ConvergenceError
    from tnmodel.runner import run_scenario, write_result
    from tnmodel.scenario import load_scenario

    loaded = []
    problems = []
    for path in scenarios:
        try:
            loaded.append(load_scenario(path))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        _print_problems(problems)
        raise typer.Exit(1)
    names = [s.name for s in loaded]
    if len(set(names)) != len(names):
        err.print("two scenario files share a name; results/<name>/ would collide", style="red")
        raise typer.Exit(2)

    progress = (lambda line: err.print(f"  {line}", style="dim", highlight=False)) \
        if _progress_enabled(quiet) else (lambda line: None)
    for scenario in loaded:
        progress(f"scenario {scenario.name}: {scenario.title}")
        try:
            result = run_scenario(scenario, fast=fast, progress=progress)
        except InputError as exc:
            _print_problems(exc.problems)
            raise typer.Exit(1) from None
        except ConvergenceError as exc:
            err.print(f"{scenario.name}: {exc}", style="red", highlight=False, markup=False)
            raise typer.Exit(3) from None
        folder = write_result(result, out_dir)
        _print_verdicts(result.targets, title=f"{scenario.title} ({scenario.name})", fast=fast)
        out.print(f"wrote {relative(folder)}/", highlight=False)


def _print_problems(problems) -> None:
    for problem in problems:
        err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    err.print(f"{len(problems)} problem(s); nothing was run", style="bold red")


def _fmt(value, spec: str) -> str:
    return "" if value is None or value != value else format(value, spec)


def _print_verdicts(table, title: str, fast: bool) -> None:
    view = Table(title=title + (" [fast preview]" if fast else ""), show_lines=False)
    for column in ("target", "year", "goal", "P(met)", "± MCSE", "median [90% interval]",
                   "verdict", "official-style category"):
        view.add_column(column, overflow="fold")
    for row in table.itertuples():
        interval = (f"{row.q50:.1f} [{row.q05:.1f}, {row.q95:.1f}]"
                    if row.q50 == row.q50 else "")
        goal = f"{row.reading} {row.comparator} {row.threshold:g}"
        view.add_row(row.target_id, str(row.year), goal, _fmt(row.p_met, ".2f"),
                     _fmt(row.p_met_mcse, ".3f"), interval, row.verdict, row.baseline_category)
    out.print(view)
    notes = table[table["note"].astype(str) != ""]
    for row in notes.itertuples():
        out.print(f"  {row.target_id}: {row.note}", highlight=False, markup=False)


def main() -> None:
    app()


@app.command()
def backtest(
    data: Annotated[Path, typer.Option("--data",
                                       help="long CSV: geo, year, value [, indicator]")],
    cutoff: Annotated[list[int], typer.Option("--cutoff", help="last year fitted (repeat)")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the result files")],
    upper: Annotated[float | None, typer.Option(
        "--upper", help="values are shares of this (100: percent); needed by share models")]
    = None,
    model: Annotated[list[str] | None, typer.Option(
        "--model", help="model family or baseline (repeat); default: all that apply")] = None,
    indicator: Annotated[str | None, typer.Option(
        "--indicator", help="rows of this indicator (when the CSV has several)")] = None,
    geo: Annotated[list[str] | None, typer.Option("--geo", help="only these geos (repeat)")]
    = None,
    since: Annotated[int | None, typer.Option("--since", help="first year used")] = None,
    horizon: Annotated[int, typer.Option("--horizon", min=1, max=30)] = 5,
    threshold: Annotated[list[float] | None, typer.Option(
        "--threshold", help="Brier events value >= threshold (repeat)")] = None,
    chains: Annotated[int, typer.Option("--chains", min=1, max=16)] = 2,
    draws: Annotated[int, typer.Option("--draws", min=50)] = 500,
    tune: Annotated[int, typer.Option("--tune", min=50)] = 500,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 2030,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress lines")] = False,
) -> None:
    """Fit on years <= each cut-off, forecast the next years, score against what happened.

    Writes OUT/metrics.csv (coverage, CRPS, MAE with binomial bands per model and horizon),
    pit.csv, brier.csv, scores.csv, fits.csv and manifest.json.
    """
    from tnmodel.backtest import (
        check_models,
        file_hash,
        read_backtest_csv,
        run_backtest,
        write_backtest,
    )
    from tnmodel.models import SamplerSettings

    problems = check_models(model or [], upper)
    if problems:
        for line in problems:
            err.print(f"--model: {line}", markup=False, highlight=False)
        raise typer.Exit(2)
    try:
        frame = read_backtest_csv(data, indicator=indicator, geos=geo or (), since=since,
                                  upper=upper)
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from None
    progress = (lambda line: err.print(f"  {line}", style="dim", highlight=False)) \
        if _progress_enabled(quiet) else (lambda line: None)
    result = run_backtest(
        frame, cutoff, models=model or None, upper=upper, horizon=horizon,
        thresholds=threshold or (), seed=seed, indicator=indicator or "series",
        sampler=SamplerSettings(chains=chains, draws=draws, tune=tune), progress=progress)
    folder = write_backtest(result, out_dir, {
        "command": " ".join(["tnmodel", *sys.argv[1:]]), "data_file": str(data),
        "data_sha256": file_hash(data),
        "indicator": indicator, "since": since})
    view = Table(title=f"Back-test of {relative(data)} at cut-offs "
                 f"{', '.join(map(str, sorted(set(cutoff))))}")
    for column in ("model", "h", "n", "cov80 [band]", "cov95 [band]", "below/above80",
                   "CRPS", "MAE"):
        view.add_column(column)
    for row in result.metrics.itertuples():
        view.add_row(row.model, str(row.horizon), str(row.n),
                     f"{row.coverage80:.2f} [{row.band_lo:.2f}, {row.band_hi:.2f}]",
                     f"{row.coverage95:.2f} [{row.band95_lo:.2f}, {row.band95_hi:.2f}]",
                     f"{row.below80:.2f}/{row.above80:.2f}", f"{row.crps:.3g}",
                     f"{row.mae:.3g}")
    out.print(view)
    failed = result.fits[result.fits["status"] != "ok"] if not result.fits.empty else []
    for row in getattr(failed, "itertuples", lambda: [])():
        err.print(f"  {row.model} at {row.cutoff}: {row.status}", markup=False, highlight=False)
    out.print(f"wrote {relative(folder)}/", highlight=False)


priors_app = typer.Typer(no_args_is_help=True, help="Reference priors learned from a panel.")
app.add_typer(priors_app, name="priors")


@priors_app.command("learn")
def priors_learn(
    out_file: Annotated[Path, typer.Option("--out", help="YAML file to write")],
    data: Annotated[Path, typer.Option("--data", help="data folder")] = Path("data"),
    indicator: Annotated[str, typer.Option("--indicator")] = "internet_users_share",
    family: Annotated[str, typer.Option("--family")] = "transition",
    since: Annotated[int | None, typer.Option("--since", help="first year used")] = None,
    until: Annotated[int | None, typer.Option("--until", help="last year used")] = None,
    exclude_geo: Annotated[list[str] | None, typer.Option(
        "--exclude-geo", help="leave a geo out of the panel (repeat)")] = None,
    chains: Annotated[int, typer.Option("--chains", min=1, max=16)] = 4,
    draws: Annotated[int, typer.Option("--draws", min=50)] = 1000,
    tune: Annotated[int, typer.Option("--tune", min=50)] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 2030,
    min_ess: Annotated[float, typer.Option(
        "--min-ess", help="bulk-ESS gate (means and sds of hyper-parameters need fewer "
        "draws than tail probabilities)")] = 400,
    max_rhat: Annotated[float, typer.Option("--max-rhat", help="R-hat gate")] = 1.01,
) -> None:
    """Fit FAMILY to a reference panel once; write its pooled hyper-parameters as priors.

    A scenario reuses them with `priors: {from: NAME}` (NAME = the file's stem, looked up in
    tnmodel/models/reference/, or a path).
    """
    from tnmodel.data import load_dataset
    from tnmodel.models import FAMILIES, ConvergenceError, GateThresholds, SamplerSettings
    from tnmodel.models.reference import learn_reference, write_reference
    from tnmodel.problems import did_you_mean

    if family not in FAMILIES:
        err.print(f"--family: unknown family '{family}'{did_you_mean(family, FAMILIES)}",
                  markup=False, highlight=False)
        raise typer.Exit(2)
    try:
        dataset = load_dataset(data)
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from None
    if indicator not in dataset.indicators:
        err.print(f"--indicator: unknown indicator '{indicator}'"
                  f"{did_you_mean(indicator, dataset.indicators)}", markup=False,
                  highlight=False)
        raise typer.Exit(1)
    try:
        doc = learn_reference(dataset, indicator, family=family, since=since, until=until,
                              exclude_geos=tuple(exclude_geo or ()),
                              sampler=SamplerSettings(chains=chains, draws=draws, tune=tune),
                              gates=GateThresholds(min_ess_bulk=min_ess, max_rhat=max_rhat),
                              seed=seed)
    except ConvergenceError as exc:
        err.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(3) from None
    path = write_reference(doc, out_file)
    for name, value in doc["priors"].items():
        out.print(f"  {name}: {value}", highlight=False)
    out.print(f"wrote {relative(path)}", highlight=False)
