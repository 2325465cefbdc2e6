"""Every prior of every family, with its default, allowed values and meaning.

The priors classes (``Family.priors_class``) are the single source: each field's default,
its constraints and its ``description``. :func:`priors_table` lists one family's,
:func:`priors_markdown` writes them all (``docs/priors.md``, ``tnmodel priors show``), so the
page cannot drift from the code.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable

import pandas as pd
from pydantic.fields import FieldInfo

from tnmodel.models import FAMILIES

#: Header of docs/priors.md (the rest is :func:`priors_markdown`'s tables).
PAGE_INTRO = """\
# Priors of the model families

A scenario sets any of these under `models.<indicator>.priors` (checked against the family:
an unknown name is an error with a "did you mean"); `tnmodel backtest` takes them as
`--prior NAME=VALUE`. Paces of shares are in logits a year; the linear family's priors are
on the series' standardised scale (1 = its sd). Written from the priors classes by
`make priors-docs` (`tnmodel priors show --out docs/priors.md`); a test checks that this page
matches. The setting the internet back-tests validate, which the scenarios use for Internet
use, is `docs/backtests/bar.yaml` (`model`, `since`, `priors`).
"""


def _plain(docstring: str | None) -> str:
    """A class docstring as one markdown paragraph (Sphinx roles as code)."""
    text = " ".join((docstring or "").split())
    return re.sub(r":[a-z]+:`~?(?:[\w.]+\.)?(\w+)`", r"`\1`", text)


def _as_yaml(value: object) -> str:
    """A default as a scenario file writes it (null, true, 0.15, constant)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return f"{value:g}" if isinstance(value, float) else str(value)


def _allowed(annotation: object, info: FieldInfo) -> str:
    """What values a field takes, in words: its choices or its bounds."""
    if typing.get_origin(annotation) is typing.Literal:
        return ", ".join(f"'{choice}'" for choice in typing.get_args(annotation))
    if annotation is bool:
        return "true, false"
    optional = (isinstance(annotation, types.UnionType)
                and type(None) in typing.get_args(annotation))
    bounds = []
    for rule in info.metadata:
        for name, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            value = getattr(rule, name, None)  # annotated_types' Gt(gt=0) etc.
            if isinstance(value, int | float):
                bounds.append(f"{symbol} {value:g}")
    words = " and ".join(bounds) or "any number"
    return f"{words}, or null" if optional else words


def priors_table(family: str) -> pd.DataFrame:
    """One row per prior of ``family``: ``name``, ``default``, ``allowed``, ``description``.

    Raises
    ------
    KeyError
        If ``family`` is not a model family.
    """
    priors_class = FAMILIES[family].priors_class
    rows = []
    for name, info in priors_class.model_fields.items():
        rows.append({"name": name, "default": _as_yaml(info.default),
                     "allowed": _allowed(info.annotation, info),
                     "description": " ".join((info.description or "").split())})
    return pd.DataFrame(rows)


def priors_markdown(families: Iterable[str] | None = None) -> str:
    """The page of ``docs/priors.md``: :data:`PAGE_INTRO`, then a table per family."""
    parts = [PAGE_INTRO]
    for family in families or FAMILIES:
        table = priors_table(family)
        lines = [f"## `{family}`", "",
                 _plain(FAMILIES[family].priors_class.__doc__), "",
                 "| prior | default | allowed | meaning |", "| --- | --- | --- | --- |"]
        lines += [f"| `{r.name}` | {r.default} | {r.allowed} | "
                  f"{r.description.replace('|', '/')} |" for r in table.itertuples()]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
