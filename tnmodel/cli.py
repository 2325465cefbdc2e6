"""Command line: ``tnmodel data check``, ``run``, ``validate``, ``schema``, ``compare``,
``report``, ``sweep``, ``cache``, ``backtest``, ``bar``, ``priors``.

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
cache_app = typer.Typer(no_args_is_help=True, help="The on-disk cache of fits.")
app.add_typer(cache_app, name="cache")

CacheDir = Annotated[Path | None, typer.Option(
    "--cache-dir", help="fit cache folder (default: $TNMODEL_CACHE_DIR or .cache/fits)")]

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
    _exit_on_problems(problems, f"in {relative(directory)}")
    out.print(f"{relative(directory)}: OK", highlight=False)


def _exit_on_problems(problems, where: str) -> None:
    """Print every problem as file:line: field: message and exit 1 if there is any."""
    for problem in problems:
        err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    if problems:
        err.print(f"{len(problems)} problem(s) {where}", style="bold red")
        raise typer.Exit(1)


@app.command()
def run(
    scenarios: Annotated[list[Path], typer.Argument(help="scenario YAML files")],
    out_dir: Annotated[Path, typer.Option("--out", help="results folder")] = Path("results"),
    fast: Annotated[bool, typer.Option("--fast", help="short chains: previews and tests")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress lines")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="refit; ignore cached fits")] = False,
    cache_dir: CacheDir = None,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1,
        help="processes for the fits not yet cached (default: the cores; 1: in this process)",
    )] = None,
) -> None:
    """Run scenarios: write OUT/<scenario>/ and print the verdict table.

    Fits the scenarios need and the cache does not hold are made first, in parallel processes;
    the scenarios then run one by one from the cache.
    """
    from tnmodel.models import ConvergenceError
    from tnmodel.models.cache import FitCache
    from tnmodel.runner import run_scenario, write_result
    from tnmodel.scenario import load_scenarios

    loaded = []
    problems = []
    for path in scenarios:
        try:
            loaded.extend(load_scenarios(path))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        _print_problems(problems)
        raise typer.Exit(1)
    names = [s.name for s in loaded]
    if len(set(names)) != len(names):
        err.print("two scenario files share a name; results/<name>/ would collide", style="red")
        raise typer.Exit(2)

    from tnmodel.progress import progress_bar

    cache = None if no_cache else FitCache(cache_dir) if cache_dir else FitCache()
    prefitted: frozenset[str] = frozenset()
    if cache is not None and jobs != 1:
        from tnmodel.prefit import prefit

        with progress_bar("fits", quiet=quiet, console=err) as progress:
            prefitted = prefit(loaded, cache, fast=fast, workers=jobs, progress=progress).keys
    for scenario in loaded:
        try:
            with progress_bar(f"{scenario.name}: fits", quiet=quiet, console=err) as progress:
                progress(f"scenario {scenario.name}: {scenario.title}")
                result = run_scenario(scenario, fast=fast, progress=progress, cache=cache,
                                      prefitted=prefitted)
        except InputError as exc:
            _print_problems(exc.problems)
            raise typer.Exit(1) from None
        except ConvergenceError as exc:
            err.print(f"{scenario.name}: {exc}", style="red", highlight=False, markup=False)
            raise typer.Exit(3) from None
        folder = write_result(result, out_dir)
        _print_verdicts(result.targets, title=f"{scenario.title} ({scenario.name})", fast=fast)
        out.print(f"wrote {relative(folder)}/", highlight=False)


@cache_app.command("clear")
def cache_clear(cache_dir: CacheDir = None) -> None:
    """Delete every cached fit."""
    from tnmodel.models.cache import FitCache

    cache = FitCache(cache_dir) if cache_dir else FitCache()
    removed = cache.clear()
    out.print(f"removed {removed} cached fit(s) from {relative(cache.root)}", highlight=False)


@cache_app.command("info")
def cache_info(cache_dir: CacheDir = None) -> None:
    """Where the cache is, how many fits it holds and its size."""
    from tnmodel.models.cache import FitCache

    cache = FitCache(cache_dir) if cache_dir else FitCache()
    entries, size = cache.size()
    out.print(f"{relative(cache.root)}: {entries} fit(s), {size / 1e6:.1f} MB", highlight=False)


def _print_problems(problems) -> None:
    for problem in problems:
        err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    err.print(f"{len(problems)} problem(s); nothing was run", style="bold red")


def _fmt(value, spec: str) -> str:
    return "" if value is None or value != value else format(value, spec)


def _pace(row) -> str:
    """The required acceleration, short: 'x1.45 after 2025', 'none', or why not."""
    factor = getattr(row, "required_factor", float("nan"))
    text = getattr(row, "required_acceleration", "")
    if factor == factor:
        return "none" if factor == 1.0 else f"x{factor:.2f} after {row.required_from_year:.0f}"
    return text if isinstance(text, str) else ""


def _print_verdicts(table, title: str, fast: bool) -> None:
    view = Table(title=title + (" [fast preview]" if fast else ""), show_lines=False)
    for column in ("target", "year", "goal", "P(met)", "± MCSE", "median [90% interval]",
                   "verdict", "pace for P ≥ 0.8", "official-style category"):
        view.add_column(column, overflow="fold")
    for row in table.itertuples():
        interval = (f"{row.q50:.1f} [{row.q05:.1f}, {row.q95:.1f}]"
                    if row.q50 == row.q50 else "")
        goal = f"{row.reading} {row.comparator} {row.threshold:g}"
        view.add_row(row.target_id, str(row.year), goal, _fmt(row.p_met, ".2f"),
                     _fmt(row.p_met_mcse, ".3f"), interval, row.verdict, _pace(row),
                     row.baseline_category)
    out.print(view)
    notes = table[table["note"].astype(str) != ""]
    for row in notes.itertuples():
        out.print(f"  {row.target_id}: {row.note}", highlight=False, markup=False)


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="scenario files or folders")] = None,
) -> None:
    """Check scenario files (sweeps expanded) against their data, as far as a run would before
    fitting; print every problem and exit 1 if there is any."""
    from tnmodel.data import check_data, load_dataset
    from tnmodel.runner import preflight
    from tnmodel.scenario import load_scenarios, scenario_files

    files = scenario_files(paths or [Path("scenarios")])
    if not files:
        err.print("no scenario files found", style="red")
        raise typer.Exit(1)
    problems, datasets, count = [], {}, 0
    for path in files:
        try:
            scenarios = load_scenarios(path)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        for scenario in scenarios:
            count += 1
            root = scenario.data_dir()
            if root not in datasets:
                data_problems = check_data(root)
                problems.extend(data_problems)
                datasets[root] = None if data_problems else load_dataset(root)
            ds = datasets[root]
            if ds is not None:
                problems.extend(preflight(scenario, ds))
    _exit_on_problems(sorted(set(problems)), f"in {len(files)} file(s)")
    out.print(f"{count} scenario(s) in {len(files)} file(s): OK", highlight=False)


@app.command()
def schema(
    out_file: Annotated[Path, typer.Option("--out", help="where to write; '-' prints")] = Path(
        "scenarios/schema.json"),
) -> None:
    """Write the JSON Schema of scenario files (for editor completion and checks)."""
    from tnmodel.scenario import schema_json

    text = schema_json()
    if str(out_file) == "-":
        print(text, end="")
        return
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_name(f".{out_file.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out_file)
    out.print(f"wrote {relative(out_file)}", highlight=False)


@app.command()
def compare(
    results: Annotated[list[Path], typer.Argument(help="results/<scenario> folders")],
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="also write the table: .csv, .md or .html")] = None,
) -> None:
    """One table: targets as rows, scenarios as columns (P ± MCSE), official-style category."""
    from tnmodel.compare import compare_table, display_columns, read_results, write_table

    try:
        table = compare_table(read_results(results))
        if out_file is not None:
            write_table(table, out_file)
    except InputError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    view = Table(title="P(target met in its year) ± MCSE, by scenario")
    columns = display_columns(table)
    for column in columns:
        view.add_column(column, overflow="fold")
    for row in table[columns].itertuples(index=False):
        view.add_row(*map(str, row))
    out.print(view)
    if out_file is not None:
        out.print(f"wrote {relative(out_file)}", highlight=False)


@app.command()
def sweep(
    scenario_file: Annotated[Path, typer.Argument(help="the scenario to sweep")],
    grid: Annotated[list[str] | None, typer.Option(
        "--grid", help="KEY=V1,V2,... (dotted path into the scenario, e.g. seed=1,2 or "
                       "interventions[0].factor.median=1.2,1.5); repeat for more keys; "
                       "default: the file's own sweep block")] = None,
    executor: Annotated[str, typer.Option(
        "--executor", help="serial, or dask (a LocalCluster unless --scheduler)")] = "serial",
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="address of a running Dask scheduler (implies --executor dask)")
    ] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="local Dask worker processes (default: one per core)")] = None,
    out_dir: Annotated[Path | None, typer.Option(
        "--out", help="folder for sweep.csv and sweep.json (default results/<name>-sweep)")
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="short chains: previews and tests")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress lines")] = False,
    cache_dir: CacheDir = None,
) -> None:
    """Run every combination of a grid of scenario settings; one tidy table of all targets."""
    import itertools

    from tnmodel.models import ConvergenceError
    from tnmodel.scenario import expand_sweep, load_scenario
    from tnmodel.sweep import Variant, run_sweep, write_sweep

    if executor not in ("serial", "dask"):
        err.print(f"--executor must be serial or dask, not '{executor}'", style="red")
        raise typer.Exit(2)
    parsed: dict[str, list[str]] = {}
    for item in grid or []:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            err.print(f"--grid '{item}': expected KEY=V1,V2,... (e.g. seed=1,2,3)", style="red")
            raise typer.Exit(2)
        parsed[key.strip()] = [v.strip() for v in values.split(",")]
    try:
        base = load_scenario(scenario_file)
        grid_values = parsed or dict(base.sweep or {})
        if not grid_values:
            err.print(f"{relative(scenario_file)} has no sweep block: give --grid KEY=V1,V2",
                      style="red")
            raise typer.Exit(2)
        children = expand_sweep(base, grid_values)
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from None
    combos = list(itertools.product(*grid_values.values()))
    variants = [Variant(child.name, child, dict(zip(grid_values, combo, strict=True)))
                for child, combo in zip(children, combos, strict=True)]
    progress = (lambda line: err.print(f"  {line}", style="dim", highlight=False)) \
        if _progress_enabled(quiet) else None
    try:
        result = run_sweep(variants, executor=executor, scheduler=scheduler, workers=workers,
                           fast=fast, cache_dir=cache_dir, progress=progress)
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from None
    except ConvergenceError as exc:
        err.print(str(exc), style="red", highlight=False, markup=False)
        raise typer.Exit(3) from None
    folder = out_dir or Path("results") / f"{base.name}-sweep"
    written = write_sweep(result, folder)
    _print_sweep(result.table, list(grid_values))
    out.print(f"{len(variants)} variants ({result.manifest['fit_groups']} fit group(s)) in "
              f"{result.manifest['seconds']:.1f} s with {result.manifest['executor']}; "
              f"wrote {relative(written)}", highlight=False)


def _print_sweep(table, keys: list[str]) -> None:
    estimated = table[table["p_met"].notna()]
    if estimated.empty:
        return
    wide = estimated.pivot_table(index=["variant", *keys], columns="target_id",
                                 values="p_met", sort=False)
    view = Table(title="P(met) per variant", show_lines=False)
    for column in [*keys, *wide.columns]:
        view.add_column(str(column), overflow="fold")
    for index, row in list(wide.iterrows())[:40]:
        view.add_row(*[str(v) for v in index[1:]], *[_fmt(v, ".2f") for v in row])
    out.print(view)
    if len(wide) > 40:
        out.print(f"  ... {len(wide) - 40} more variants in sweep.csv", highlight=False)


@app.command()
def report(
    results: Annotated[list[Path] | None, typer.Argument(
        help="result folders (a scenario folder, a back-test folder, or a folder of them) "
        "and bar files (docs/backtests/bar.yaml)")
    ] = None,
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path(
        "reports/index.html"),
    data: Annotated[Path | None, typer.Option(
        "--data", help="data folder (default: the one named in the results' manifest)")] = None,
) -> None:
    """Write one offline HTML report (Vietnamese / English) from result folders."""
    from tnmodel.report import write_report

    try:
        path = write_report(results or [Path("results")], out_file, data_dir=data)
    except InputError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        err.print(f"{len(exc.problems)} problem(s); no report was written", style="bold red")
        raise typer.Exit(1) from None
    out.print(f"wrote {relative(path)}", highlight=False)


def main() -> None:
    app()


@app.command("bar")
def bar_command(
    bar_file: Annotated[Path, typer.Argument(help="the bar file: setting and back-tests")] = Path(
        "docs/backtests/bar.yaml"),
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="print markdown instead of tables")] = False,
    into: Annotated[Path | None, typer.Option(
        "--into", help="write the markdown between the <!-- bar:start --> and <!-- bar:end "
        "--> lines of this file (docs/backtests.md)")] = None,
) -> None:
    """Issue 3's bar on the back-tests a bar file names: coverage in band and CRPS margins
    against the baselines, per horizon, and what misses."""
    from tnmodel.backtest import BacktestOutputError
    from tnmodel.bar import (
        bar_markdown,
        bar_misses,
        bar_summary,
        coverage_text,
        load_bar_file,
        margin_text,
        read_bar,
        replace_block,
    )

    try:
        setting = load_bar_file(bar_file)
        results = read_bar(setting, bar_file.parent)
    except InputError as exc:
        _exit_on_problems(exc.problems, f"in {relative(bar_file)}")
    except BacktestOutputError as exc:
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if into is not None:
        try:
            text = replace_block(into.read_text(encoding="utf-8"),
                                 bar_markdown(setting, results))
        except (OSError, ValueError) as exc:
            err.print(f"{relative(into)}: {exc}", markup=False, highlight=False)
            raise typer.Exit(1) from None
        into.write_text(text, encoding="utf-8")
        out.print(f"wrote the bar's tables into {relative(into)}", highlight=False)
        return
    if markdown:
        out.print(bar_markdown(setting, results), markup=False, highlight=False,
                  soft_wrap=True)
        return
    for backtest, table in results:
        view = Table(title=backtest.title)
        for column in ("h", "n", "80% coverage \\[band]", "95% coverage \\[band]",
                       *(f"CRPS vs {b}" for b in setting.baselines)):
            view.add_column(column)
        for horizon, row in table.iterrows():
            cells = [str(horizon), str(row["n"])]
            cells += [_checked(coverage_text(row, level), row[f"ok{level}"])
                      for level in (80, 95)]
            cells += [_checked(margin_text(row, b), row[f"ok_{b}"]) for b in setting.baselines]
            view.add_row(*cells)
        out.print(view)
        for miss in bar_misses(table, setting.baselines, setting.margin):
            out.print(f"  missed: {miss}", style="red", highlight=False)
        if "p_every" in table.columns:
            out.print(f"  every CRPS margin reaches {setting.margin:.0%} in "
                      f"{table['p_every'].iloc[0]:.0%} of {setting.resamples} resamples of "
                      f"{table['resampled'].iloc[0]} (in brackets: 90% intervals)",
                      highlight=False)
    summary = bar_summary(results, setting)
    met = int((summary["verdict"] == "met").sum())
    out.print(f"{setting.setting} of {setting.model}: the bar is met on {met} of "
              f"{len(summary)} back-tests", style="bold", highlight=False)


def _checked(text: str, ok: bool) -> str:
    """A table cell, red with a ✗ when its check failed."""
    from rich.markup import escape

    return escape(text) if ok else f"[red]{escape(text)} ✗[/red]"


@app.command()
def backtest(
    data: Annotated[list[Path], typer.Option(
        "--data", help="long CSV: geo, year, value [, indicator] (repeat: several files of "
        "different geos are back-tested together)")],
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
    prior: Annotated[list[str] | None, typer.Option(
        "--prior", help="NAME=VALUE: a prior setting for every chosen family that has it "
        "(repeat), e.g. innovation_scaling=binomial")] = None,
    reference_data: Annotated[Path | None, typer.Option(
        "--reference-data", help="long CSV of a reference panel: at each cut-off the Bayesian "
        "families first learn their priors from its years <= the cut-off (FPEM-style)")]
    = None,
    reference_indicator: Annotated[str | None, typer.Option(
        "--reference-indicator", help="rows of this indicator in --reference-data "
        "(default: --indicator)")] = None,
    reference_exclude: Annotated[list[str] | None, typer.Option(
        "--reference-exclude", help="leave this geo out of the reference panel (repeat; the "
        "back-tested geos are always left out)")] = None,
    reference_chains: Annotated[int, typer.Option(
        "--reference-chains", min=1, max=16, help="chains of the reference fits")] = 4,
    lone: Annotated[bool, typer.Option(
        "--lone", help="fit every geo alone (as a lone local series), not pooled")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress lines")] = False,
) -> None:
    """Fit on years <= each cut-off, forecast the next years, score against what happened.

    Writes OUT/metrics.csv (coverage, CRPS, MAE with binomial bands per model and horizon),
    pit.csv, brier.csv, scores.csv, fits.csv and manifest.json. With --reference-data, each
    Bayesian family is first fitted to the reference panel at every cut-off and the
    back-tested series are fitted with the priors it learned (add --lone to fit each geo
    alone, as a sparse local series is).
    """
    from tnmodel.backtest import (
        NothingToScore,
        ReferencePanel,
        check_models,
        family_priors,
        file_hash,
        read_backtest_csv,
        read_backtest_files,
        run_backtest,
        write_backtest,
    )
    from tnmodel.models import SamplerSettings

    problems = check_models(model or [], upper, reference=reference_data is not None)
    if problems:
        for line in problems:
            err.print(f"--model: {line}", markup=False, highlight=False)
        raise typer.Exit(2)
    try:
        priors = family_priors(prior or [], model or None, upper)
    except ValueError as exc:
        err.print(f"--prior: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    sampler = SamplerSettings(chains=chains, draws=draws, tune=tune)
    reference = None
    try:
        frame = read_backtest_files(data, indicator=indicator, geos=geo or (), since=since,
                                    upper=upper)
        if reference_data is not None:
            panel = read_backtest_csv(reference_data, indicator=reference_indicator or indicator,
                                      since=since, upper=upper,
                                      exclude_geos=reference_exclude or ())
            reference = ReferencePanel(panel, sampler.model_copy(
                update={"chains": reference_chains}))
    except InputError as exc:
        _print_problems(exc.problems)
        raise typer.Exit(1) from None
    progress = (lambda line: err.print(f"  {line}", style="dim", highlight=False)) \
        if _progress_enabled(quiet) else (lambda line: None)
    try:
        result = run_backtest(
            frame, cutoff, models=model or None, upper=upper, horizon=horizon,
            thresholds=threshold or (), seed=seed, indicator=indicator or "series",
            sampler=sampler, progress=progress, priors=priors, reference=reference, lone=lone)
    except NothingToScore as exc:
        err.print(f"error: {exc}", style="red", highlight=False, markup=False)
        raise typer.Exit(1) from None
    folder = write_backtest(result, out_dir, {
        "command": " ".join(["tnmodel", *sys.argv[1:]]),
        **({"data_file": str(data[0]), "data_sha256": file_hash(data[0])} if len(data) == 1
           else {"data_file": [str(d) for d in data],
                 "data_sha256": [file_hash(d) for d in data]}),
        "indicator": indicator, "since": since,
        **({} if reference_data is None else {
            "reference_file": str(reference_data),
            "reference_sha256": file_hash(reference_data),
            "reference_indicator": reference_indicator or indicator,
            "reference_excluded": sorted(reference_exclude or [])})})
    view = Table(title=f"Back-test of {', '.join(relative(d) for d in data)} at cut-offs "
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


priors_app = typer.Typer(no_args_is_help=True, help=(
    "The families' priors (show), and reference priors learned from a panel (learn)."))
app.add_typer(priors_app, name="priors")


@priors_app.command("show")
def priors_show(
    family: Annotated[list[str] | None, typer.Argument(
        help="model families (default: every family)")] = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="write the markdown page here (docs/priors.md) instead of printing")] = None,
) -> None:
    """Every prior of the families: default, allowed values and meaning."""
    from tnmodel.models import FAMILIES
    from tnmodel.models.catalogue import priors_markdown, priors_table
    from tnmodel.problems import did_you_mean

    unknown = [f for f in family or [] if f not in FAMILIES]
    if unknown:
        err.print("; ".join(f"unknown family '{f}'{did_you_mean(f, list(FAMILIES))}"
                            for f in unknown) + f"; families: {', '.join(FAMILIES)}",
                  markup=False, highlight=False)
        raise typer.Exit(1)
    if out_file is not None:
        out_file.write_text(priors_markdown(family), encoding="utf-8")
        out.print(f"wrote {relative(out_file)}", highlight=False)
        return
    for name in family or FAMILIES:
        table = Table(title=name, show_lines=False)
        for column in ("prior", "default", "allowed", "meaning"):
            table.add_column(column, overflow="fold")
        for row in priors_table(name).itertuples():
            table.add_row(row.name, row.default, row.allowed, row.description)
        out.print(table)


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
    from tnmodel.models.reference import REFERENCE_FAMILIES, learn_reference, write_reference
    from tnmodel.problems import did_you_mean

    if family not in FAMILIES:
        err.print(f"--family: unknown family '{family}'{did_you_mean(family, FAMILIES)}",
                  markup=False, highlight=False)
        raise typer.Exit(2)
    if family not in REFERENCE_FAMILIES:
        err.print(f"--family: family '{family}' has no pooled pace to learn; families with "
                  f"reference priors: {', '.join(REFERENCE_FAMILIES)}", markup=False,
                  highlight=False)
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
