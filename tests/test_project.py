"""Project hygiene that a fresh machine depends on."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _requirement(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*?)\s*", text)
    assert match, text
    return match.group(1).lower().replace("_", "-"), match.group(3).replace(" ", "")


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = {_requirement(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_requirement(r) for r in extra}
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = {_requirement(d) for d in env["dependencies"] if isinstance(d, str)}
    conda -= {("python", ">=3.12"), ("pip", "")}
    assert conda == wanted, (
        f"only in pyproject: {sorted(wanted - conda)}; only in environment.yml: "
        f"{sorted(conda - wanted)}"
    )
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert python == [f"python{project['requires-python']}"]


def test_find_python_finds_312_or_newer():
    found = subprocess.run(["sh", str(REPO / "scripts" / "find_python.sh")],
                           capture_output=True, text=True, check=True).stdout.strip()
    version = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2] >= (3, 12))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == "True"


def test_find_python_says_clearly_when_there_is_none(tmp_path):
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path)}
    done = subprocess.run(["/bin/sh", str(REPO / "scripts" / "find_python.sh")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1
    assert "needs Python >= 3.12" in done.stderr and "make PYTHON=" in done.stderr


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()
    assert os.access(REPO / ".ci" / "run", os.X_OK)


def test_pytensor_cache_is_project_local():
    assert "compiledir=$(CURDIR)/.cache/pytensor" in (REPO / "Makefile").read_text()
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    assert str(REPO / ".cache" / "pytensor") in flags or "$(CURDIR)" in flags, flags


def test_package_imports_no_pymc_outside_models():
    """PyMC and ArviZ stay behind tnmodel.models (the single backend seam)."""
    offenders = []
    for path in (REPO / "tnmodel").rglob("*.py"):
        if "models" in path.relative_to(REPO / "tnmodel").parts:
            continue
        if re.search(r"^\s*(import|from)\s+(pymc|arviz|pytensor)\b", path.read_text(), re.M):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_suite_runs_on_the_python_the_project_requires():
    assert sys.version_info >= (3, 12)


def test_reading_results_does_not_import_the_pymc_stack():
    """Warm runs, validate, compare and schema start quickly: PyMC, ArviZ, PyTensor and
    nutpie load only when a model is built or sampled (tnmodel.models.lazy)."""
    code = ("import sys, tnmodel.runner, tnmodel.cli, tnmodel.scenario, tnmodel.compare; "
            "print(sorted(m for m in ('pymc', 'arviz', 'pytensor', 'nutpie') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=REPO)
    assert done.stdout.strip() == "[]", done.stdout
