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


#: What each notebook writes to its ``out_dir`` (besides charts shown inline). A new notebook
#: needs an entry here, so that its run is checked for more than "no error".
OUTPUTS = {
    "01_data_tour": ["coverage.csv", "gaps.csv"],
    "02_growth_models": ["diagnostics.csv", "ppc.csv", "model_comparison.csv",
                         "pace_prior_posterior.csv", "prior_power_2030.csv"],
    "03_scenarios": ["intervention_effects.csv"],
    "04_validation": ["recovery.csv", "bar.csv"],
    "05_policy_brief": ["verdicts.csv", "report.html"],
}


def test_every_notebook_declares_its_outputs():
    assert {p.stem for p in IPYNBS} == set(OUTPUTS), (
        "tests/test_notebooks.py OUTPUTS lists what each notebook writes; keep it in step "
        "with notebooks/")


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_parameters_are_portable(path: Path):
    """Paths in the parameters are relative to notebooks/, results go under ../results."""
    defaults = _parameters(nbformat.read(path, as_version=4))
    assert defaults["fast"] is False, "the default run is the full one; tests pass fast=True"
    assert str(defaults["out_dir"]).startswith("../results/"), defaults["out_dir"]
    for name, value in defaults.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and "/" in item:
                assert not Path(item).is_absolute(), f"{path.name}: {name} = {item!r}"
                if name.endswith(("_file", "_dir")) and name != "out_dir":
                    assert (NOTEBOOKS / item).exists(), (
                        f"{path.name}: {name} = {item!r} does not exist relative to notebooks/")


def _outputs(notebook) -> list[dict]:
    return [out for cell in notebook.cells if cell.cell_type == "code"
            for out in cell.get("outputs", [])]


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_notebook_executes(path: Path, tmp_path: Path):
    papermill = pytest.importorskip("papermill")
    defaults = _parameters(nbformat.read(path, as_version=4))
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

    notebook = nbformat.read(executed, as_version=4)
    outputs = _outputs(notebook)
    errors = [(out.get("ename"), out.get("evalue")) for out in outputs
              if out.output_type == "error"]
    assert errors == [], f"{path.name} has error outputs: {errors}"
    assert notebook.metadata["papermill"]["parameters"]["fast"] is True

    for name in OUTPUTS[path.stem]:
        written = results / name
        assert written.is_file() and written.stat().st_size > 0, (
            f"{path.name} did not write {name} to its out_dir")

    # Charts are static SVG (the offline renderer), and nothing points at a CDN.
    rich = [out for out in outputs if out.output_type in ("display_data", "execute_result")]
    if any("alt." in cell.source for cell in notebook.cells if cell.cell_type == "code"):
        assert any("image/svg+xml" in out.get("data", {}) for out in rich), (
            f"{path.name} draws charts but shows no SVG: call charts.use_offline_renderer()")
    for out in rich:
        for mime, content in out.get("data", {}).items():
            assert "cdn.jsdelivr" not in str(content), f"{path.name}: {mime} output loads a CDN"

    # Notebooks that run scenarios write every scenario's targets, in the file's order.
    if "scenario_dir" in defaults:
        for file in sorted((NOTEBOOKS / defaults["scenario_dir"]).glob("*.yaml")):
            scenario = load_scenario(file)
            table = results / scenario.name / "targets.csv"
            assert table.exists(), f"{path.name} did not write {scenario.name}/targets.csv"
            assert list(pd.read_csv(table)["target_id"]) == list(scenario.targets)
    if "scenario_file" in defaults:
        scenario = load_scenario(NOTEBOOKS / defaults["scenario_file"]).with_fast_settings()
        diagnostics = pd.read_csv(results / "diagnostics.csv", index_col=0)
        assert (diagnostics["max_rhat"] <= scenario.gates.max_rhat).all()
        assert (diagnostics["divergences"] <= scenario.gates.max_divergences).all()
        ppc = pd.read_csv(results / "ppc.csv")
        assert ppc["pit"].between(0, 1).all() and len(ppc) == diagnostics["n_obs"].sum()
