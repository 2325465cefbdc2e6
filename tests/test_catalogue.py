"""The priors catalogue (tnmodel.models.catalogue, ``tnmodel priors show``, docs/priors.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from tnmodel.models import FAMILIES, priors_for
from tnmodel.models.catalogue import priors_markdown, priors_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_prior_says_what_it_is(family):
    table = priors_table(family)
    assert list(table["name"]) == list(FAMILIES[family].priors_class.model_fields)
    undocumented = list(table.loc[table["description"].str.len() < 20, "name"])
    assert not undocumented, f"{family}: priors without a description: {undocumented}"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_the_allowed_values_are_what_validation_accepts(family):
    fields = FAMILIES[family].priors_class.model_fields
    for row in priors_table(family).itertuples():
        annotation = fields[row.name].annotation
        if typing.get_origin(annotation) is typing.Literal:
            for choice in typing.get_args(annotation):
                assert f"'{choice}'" in row.allowed
                try:  # a choice may need another prior set with it: not a wrong choice
                    priors_for(family, {row.name: choice})
                except ValueError as exc:
                    assert "Input should be" not in str(exc), exc
            with pytest.raises(ValueError, match=row.name):
                priors_for(family, {row.name: "no_such_choice"})
        if "> 0" in row.allowed:
            with pytest.raises(ValueError, match=row.name):
                priors_for(family, {row.name: 0.0})
        if "< 1" in row.allowed:
            with pytest.raises(ValueError, match=row.name):
                priors_for(family, {row.name: 1.0})
        if row.allowed == "any number":
            priors_for(family, {row.name: -3.0})
        # The listed default is the one a spec without the prior gets.
        default = getattr(priors_for(family), row.name)
        if isinstance(default, float):
            assert float(row.default) == pytest.approx(default)


def test_docs_priors_page_is_the_catalogue():
    # docs/priors.md is `tnmodel priors show --out docs/priors.md` (make priors-docs): a
    # prior added or changed in the code without regenerating the page fails here.
    page = (ROOT / "docs/priors.md").read_text(encoding="utf-8")
    assert page == priors_markdown()


def test_cli_shows_the_priors_and_names_an_unknown_family(tmp_path):
    def tnmodel(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tnmodel", "priors", "show", *args],
                              cwd=ROOT, env=os.environ | {"TNMODEL_PROGRESS": "0"},
                              capture_output=True, text=True, timeout=120)

    shown = tnmodel("transition_local")
    assert shown.returncode == 0, shown.stderr
    assert "innovation_scaling" in shown.stdout and "'learned_power'" in shown.stdout
    wrong = tnmodel("transition_locl")
    assert wrong.returncode == 1
    assert "unknown family 'transition_locl' (did you mean 'transition_local'" in wrong.stderr
    page = tmp_path / "sim_priors.md"
    assert tnmodel("linear", "--out", str(page)).returncode == 0
    assert page.read_text(encoding="utf-8") == priors_markdown(["linear"])
