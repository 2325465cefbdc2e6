"""Problems found in user input, reported as ``file:line: field: message``.

Every loader in tnmodel collects :class:`Problem` objects instead of raising at the first
one, so that a user sees all that is wrong with a file at once, and no result is written
from input that has any problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one place of one input file."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class InputError(ValueError):
    """Raised when input files have problems; carries all of them."""

    def __init__(self, problems: Sequence[Problem], what: str = "input") -> None:
        self.problems = sorted(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the {what}:\n{lines}")


def did_you_mean(word: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ``' (did you mean 'x'?)'`` for the closest choices, or ``''`` if none is close."""
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=n, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = [lowered[c] for c in difflib.get_close_matches(word.lower(), lowered, n=n)]
    if not close:
        return ""
    quoted = " or ".join(f"'{c}'" for c in close)
    return f" (did you mean {quoted}?)"


def relative(path: Path) -> str:
    """A path as the user would type it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
