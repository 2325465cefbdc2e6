"""The notebooks: each ``.py`` (jupytext percent) and its ``.ipynb`` agree, the ``.ipynb`` is
committed without outputs, and it runs top to bottom on the shipped data (fast mode)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from tnmodel.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("*.py"))
IPYNBS = sorted(NOTEBOOKS.glob("*.ipynb"))
ARTIFACTS = REPO / "test-artifacts"


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def _parameters_cell(notebook):
    return next((c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])), None)


def _parameters(notebook) -> dict:
    """The default values of the ``parameters`` cell (plain assignments of literals)."""
    values = {}
    for node in ast.parse(_parameters_cell(notebook).source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, (
            "the parameters cell holds only plain assignments")
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_there_are_notebooks():
    assert SCRIPTS, "no notebooks/*.py"
    assert {p.stem for p in SCRIPTS} == {p.stem for p in IPYNBS}, (
        "every notebooks/*.py needs its paired .ipynb and vice versa "
        "(run: jupytext --to ipynb notebooks/<name>.py)")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_notebook_pairs_in_sync(script: Path):
    jupytext = pytest.importorskip("jupytext")
    paired = script.with_suffix(".ipynb")
    assert paired.exists(), f"{paired.name} is missing: run jupytext --to ipynb {script.name}"
    text, notebook = jupytext.read(script), jupytext.read(paired)
    assert _cells(text) == _cells(notebook), (
        f"{script.name} and {paired.name} differ: edit the .py and run "
        f"`jupytext --to ipynb notebooks/{script.name}` (or `jupytext --sync`)")


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_notebooks_have_no_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs: clear them"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert _parameters_cell(notebook) is not None, f"{path.name} has no cell tagged 'parameters'"
    assert "fast" in _parameters(notebook)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_notebook_executes(path: Path, tmp_path: Path):
    papermill = pytest.importorskip("papermill")
    defaults = _parameters(nbformat.read(path, as_version=4))
    scenario = load_scenario(NOTEBOOKS / defaults["scenario_file"])
    results = tmp_path / "results"
    executed = tmp_path / path.name
    try:
        papermill.execute_notebook(
            str(path), str(executed),
            parameters={"fast": True, "out_dir": str(results)},
            cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False,
        )
    finally:
        if executed.exists():  # kept for inspection, also (above all) when a cell failed
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copy(executed, ARTIFACTS / path.name)

    table = results / scenario.name / "targets.csv"
    assert table.exists(), f"{path.name} did not write {table.relative_to(tmp_path)}"
    targets = pd.read_csv(table)
    assert list(targets["target_id"]) == list(scenario.targets)

    notebook = nbformat.read(executed, as_version=4)
    errors = [(i, out.get("ename"), out.get("evalue"))
              for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.output_type == "error"]
    assert errors == [], f"{path.name} has error outputs: {errors}"
    assert notebook.metadata["papermill"]["parameters"]["fast"] is True
