"""Compare scenarios: one table, targets as rows and scenarios as columns.

Reads the ``targets.csv`` of several ``results/<scenario>/`` folders. Each cell holds the
probability that the target is met in its year with its Monte-Carlo standard error (or the
proxy bound, or why there is no number); the official-style category sits beside it (it
comes from the observed data, so it is the same in every scenario unless the data differ).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from tnmodel.atomic import atomic_file
from tnmodel.problems import InputError, Problem, relative

SUFFIXES = (".csv", ".md", ".html", ".htm")


def read_results(folders: list[Path]) -> list[tuple[str, pd.DataFrame]]:
    """``(scenario name, targets table)`` of each results folder, in the order given."""
    problems, tables = [], []
    for folder in map(Path, folders):
        path = folder / "targets.csv"
        if not path.is_file():
            problems.append(Problem(relative(folder), 1, "(folder)",
                                    "no targets.csv here: not a results folder of tnmodel run"))
            continue
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])
        missing = {"target_id", "p_met", "p_met_mcse", "status"} - set(table.columns)
        if missing:
            problems.append(Problem(relative(path), 1, "(header)",
                                    f"missing columns: {', '.join(sorted(missing))}"))
            continue
        name = str(table["scenario"].iloc[0]) if len(table) else folder.name
        tables.append((name, table))
    names = [n for n, _ in tables]
    for name in {n for n in names if names.count(n) > 1}:
        problems.append(Problem("(arguments)", 1, "results",
                                f"scenario '{name}' given more than once"))
    if problems:
        raise InputError(problems, what="results to compare")
    return tables


def _cell(row: pd.Series) -> str:
    if pd.notna(row.get("p_met")):
        return f"{row['p_met']:.2f} ± {row['p_met_mcse']:.3f}"
    upper, lower = row.get("p_met_upper"), row.get("p_met_lower")
    parts = []
    if pd.notna(lower):
        parts.append(f">= {lower:.2f}")
    if pd.notna(upper):
        parts.append(f"<= {upper:.2f}")
    return " and ".join(parts) + " (proxy bound)" if parts else f"— ({row['status']})"


def compare_table(tables: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """One row per target (in first-seen order), one column per scenario, plus the category.

    Columns: ``target_id``, ``goal``, one column per scenario (``P ± MCSE`` text), one
    ``p_met:<scenario>`` and ``p_met_mcse:<scenario>`` pair per scenario (numbers, for
    machines), and ``official-style category``.
    """
    order: list[str] = []
    goals: dict[str, str] = {}
    categories: dict[str, list[str]] = {}
    cells: dict[tuple[str, str], str] = {}
    numbers: dict[tuple[str, str], tuple[float, float]] = {}
    for name, table in tables:
        for _, row in table.iterrows():
            tid = row["target_id"]
            if tid not in goals:
                order.append(tid)
                goals[tid] = (f"{row.get('reading', '')} {row.get('comparator', '')} "
                              f"{row.get('threshold', '')} in {row.get('year', '')}").strip()
            category = row.get("baseline_category")
            if isinstance(category, str) and category and category not in categories.setdefault(
                    tid, []):
                categories[tid].append(category)
            cells[(tid, name)] = _cell(row)
            numbers[(tid, name)] = (row.get("p_met"), row.get("p_met_mcse"))
    rows = []
    for tid in order:
        row = {"target_id": tid, "goal": goals[tid]}
        for name, _ in tables:
            row[name] = cells.get((tid, name), "— (not in this scenario)")
        for name, _ in tables:
            p, se = numbers.get((tid, name), (float("nan"), float("nan")))
            row[f"p_met:{name}"], row[f"p_met_mcse:{name}"] = p, se
        row["official-style category"] = " / ".join(categories.get(tid, [])) or "—"
        rows.append(row)
    return pd.DataFrame(rows)


def display_columns(table: pd.DataFrame) -> list[str]:
    """The human-facing columns (the numeric ``p_met:*`` pairs are for CSV only)."""
    return [c for c in table.columns if not c.startswith(("p_met:", "p_met_mcse:"))]


def render(table: pd.DataFrame, suffix: str) -> str:
    """The table as CSV, Markdown or HTML text."""
    if suffix == ".csv":
        return table.to_csv(index=False, lineterminator="\n", float_format="%.6g")
    view = table[display_columns(table)]
    if suffix == ".md":
        def esc(text: object) -> str:
            return str(text).replace("|", "\\|")
        lines = ["| " + " | ".join(map(esc, view.columns)) + " |",
                 "| " + " | ".join("---" for _ in view.columns) + " |"]
        lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in view.itertuples(
            index=False)]
        return "\n".join(lines) + "\n"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in view.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in view.itertuples(index=False))
    return ("<!doctype html>\n<meta charset=\"utf-8\">\n<title>tnmodel scenario comparison"
            f"</title>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>{body}</tbody>\n"
            "</table>\n")


def write_table(table: pd.DataFrame, out: Path) -> None:
    """Write by suffix (``.csv``, ``.md``, ``.html``), atomically."""
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError([Problem(str(out), 1, "--out", f"unknown suffix '{out.suffix}'; use "
                                  f"one of {', '.join(SUFFIXES)}")], what="output file")
    with atomic_file(out) as staging:
        staging.write_text(render(table, ".html" if suffix == ".htm" else suffix),
                           encoding="utf-8")
