"""Progress bars: drawn when on, silent when TNMODEL_PROGRESS=0 or quiet, and the runner hook."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tnmodel import progress


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=100), buffer


def test_bar_draws_and_advances_when_enabled(monkeypatch):
    monkeypatch.setenv("TNMODEL_PROGRESS", "1")
    console, buffer = _console()
    with progress.progress_bar("sim fits", console=console) as bar:
        bar("a line of text")
        seen = list(progress.steps(["a", "b", "c"], bar))
    assert seen == ["a", "b", "c"]
    text = buffer.getvalue()
    assert "a line of text" in text and "3/3" in text and "sim fits" in text


def test_silent_when_env_says_zero_or_quiet(monkeypatch):
    for env, quiet in (("0", False), ("off", False), ("1", True)):
        monkeypatch.setenv("TNMODEL_PROGRESS", env)
        console, buffer = _console()
        with progress.progress_bar("sim", quiet=quiet, console=console) as bar:
            bar("hidden")
            assert list(progress.steps([1, 2], bar)) == [1, 2]
        assert not bar.enabled
        assert list(progress.track(range(3), "sim", quiet=quiet, console=console)) == [0, 1, 2]
        assert buffer.getvalue() == ""


def test_track_counts_items(monkeypatch):
    monkeypatch.setenv("TNMODEL_PROGRESS", "1")
    console, buffer = _console()
    assert list(progress.track(iter(range(4)), "sim loop", total=4, console=console)) == [
        0, 1, 2, 3]
    assert "4/4" in buffer.getvalue()


def test_steps_is_plain_iteration_for_other_callbacks():
    lines = []
    items = ["x", "y"]
    assert progress.steps(items, lines.append) is items
    assert progress.steps(items, None) is items


@pytest.mark.integration
def test_bar_shows_in_a_notebook_kernel():
    """In Jupyter the bar is a live widget (rich + ipywidgets), not text dumped at the end."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    code = ("import os\nos.environ['TNMODEL_PROGRESS'] = '1'\n"
            "from tnmodel.progress import track\nprint(sum(track(range(5), 'loop')))")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    outputs = notebook.cells[0].outputs
    kinds = [key for o in outputs for key in o.get("data", {})]
    assert "application/vnd.jupyter.widget-view+json" in kinds
    assert any(o.get("text") == "10\n" for o in outputs)
