"""Progress bars for long work (fits, sweeps, back-tests), in the terminal and in notebooks.

One switch silences every bar: ``TNMODEL_PROGRESS=0`` in the environment (CI sets it) or
``quiet=True`` (the CLI's ``--quiet``). Bars are drawn by rich, on standard error in a
terminal and as a live widget in Jupyter.

Two ways to use it::

    for fold in track(folds, "back-test"):          # an iterable
        ...

    with progress_bar("baseline") as bar:           # a runner progress callback
        run_scenario(scenario, progress=bar)        # bar(line) prints a line; the runner's
                                                    # loop over fits advances the bar

The runner only needs :func:`steps`: ``for x in steps(items, progress)`` advances ``progress``
when it is a :class:`Bar`, and is the plain iterable for any other callback.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

ENV_VAR = "TNMODEL_PROGRESS"


def progress_enabled(quiet: bool = False) -> bool:
    """False when ``quiet`` or when ``TNMODEL_PROGRESS`` is ``0``/``false``/``no``/``off``."""
    setting = os.environ.get(ENV_VAR, "1").strip().lower()
    return not quiet and setting not in ("0", "false", "no", "off")


def _progress(console: Console | None = None) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=False,
    )


class Bar:
    """A progress callback (``bar(line)``) with a bar that :func:`steps` advances.

    Disabled bars accept the same calls and draw nothing.
    """

    def __init__(self, progress: Progress | None, description: str) -> None:
        self._progress = progress
        self._description = description
        self._task: TaskID | None = None
        if progress is not None:
            self._task = progress.add_task(description, total=None)

    @property
    def enabled(self) -> bool:
        return self._progress is not None

    def __call__(self, line: str) -> None:
        """Print one line of text above the bar."""
        if self._progress is not None:
            self._progress.console.print(f"  {line}", style="dim", highlight=False,
                                         markup=False)

    def track[T](self, items: Iterable[T], total: int | None = None) -> Iterator[T]:
        """Yield ``items``, advancing the bar by one per item."""
        if self._progress is None or self._task is None:
            yield from items
            return
        if total is None and isinstance(items, Sequence):
            total = len(items)
        self._progress.update(self._task, total=total, completed=0)
        for item in items:
            self._progress.update(self._task, description=f"{self._description}: {item}")
            yield item
            self._progress.advance(self._task)
        self._progress.update(self._task, description=self._description)


@contextmanager
def progress_bar(description: str, *, quiet: bool = False,
                 console: Console | None = None) -> Iterator[Bar]:
    """A :class:`Bar` for the duration of the block (a silent one when progress is off)."""
    if not progress_enabled(quiet):
        yield Bar(None, description)
        return
    with _progress(console) as progress:
        yield Bar(progress, description)


def track[T](items: Iterable[T], description: str, *, total: int | None = None,
          quiet: bool = False, console: Console | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar (plain iteration when progress is off)."""
    if not progress_enabled(quiet):
        yield from items
        return
    with progress_bar(description, console=console) as bar:
        yield from bar.track(items, total=total)


def steps[T](items: Iterable[T], progress: Callable[[str], None] | None) -> Iterable[T]:
    """``items``, advancing ``progress`` per item when it is a :class:`Bar`."""
    if isinstance(progress, Bar):
        return progress.track(items)
    return items
