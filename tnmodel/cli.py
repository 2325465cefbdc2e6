"""Command line: ``tnmodel data check``, ``tnmodel run``, ``tnmodel report``.

Exit codes: 0 success; 1 bad input (data or scenario problems, each printed as
``file:line: field: message``); 2 usage error; 3 a fit failed its convergence gates.
"""

from __future__ import annotations

import os
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

    from tnmodel.progress import progress_bar

    for scenario in loaded:
        try:
            with progress_bar(f"{scenario.name}: fits", quiet=quiet, console=err) as progress:
                progress(f"scenario {scenario.name}: {scenario.title}")
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


@app.command()
def report(
    results: Annotated[list[Path] | None, typer.Argument(
        help="result folders (a scenario folder, a back-test folder, or a folder of them)")
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
