"""Scenario files: what to evaluate, on which data, with which models and settings.

A scenario is YAML validated by pydantic (unknown keys are errors with a "did you mean"),
and every problem is reported as ``file:line: field: message`` before anything runs.

.. code-block:: yaml

    name: baseline
    title: Business as usual
    data: ../data                  # relative to this file
    targets: [thai_nguyen_..._2030_usage, ...]
    lineage: follow                # a target geo merged into another continues as its successor
    models:
      online_dossier_share: {since: 2015}
    horizon: 2030
    sampler: {chains: 4, draws: 1000, tune: 1000}
    seed: 20301
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tnmodel.baselines import BaselineSettings
from tnmodel.models import GateThresholds, ModelSpec, SamplerSettings
from tnmodel.problems import InputError, Problem, did_you_mean, relative
from tnmodel.yamlio import load_yaml_with_lines, validate_model

#: Sampler settings for ``--fast``: enough for smoke tests and notebooks in CI, not for decisions.
FAST_SAMPLER = SamplerSettings(chains=2, draws=500, tune=500)
FAST_GATES = GateThresholds(max_rhat=1.05, min_ess_bulk=100, max_divergences=0)


class Scenario(BaseModel):
    """One scenario file, validated. Paths are resolved relative to the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", description="results folder name")
    title: str
    description: str = ""
    data: Path = Field(Path("../data"), description="data folder, relative to the scenario file")
    targets: tuple[str, ...] = Field(min_length=1, description="target ids from targets.yaml")
    lineage: Literal["follow", "ignore"] = "follow"
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    default_model: ModelSpec = ModelSpec()
    horizon: int = Field(2030, ge=2000, le=2100)
    sampler: SamplerSettings = SamplerSettings()
    gates: GateThresholds = GateThresholds()
    baseline: BaselineSettings = BaselineSettings()
    seed: int = Field(20301, ge=0)
    rank_basis: dict[str, int] = Field(
        default_factory=dict,
        description="target id -> the rank basis (`among`) to read a rank target on, instead "
                    "of the one in targets.yaml (e.g. 34 post-merger provinces)")
    source_file: Path | None = Field(None, exclude=True)

    @field_validator("targets")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        duplicated = sorted({v for v in value if value.count(v) > 1})
        if duplicated:
            raise ValueError(f"listed more than once: {', '.join(duplicated)}")
        return value

    def model_for(self, indicator: str) -> ModelSpec:
        """The model spec of ``indicator`` (the scenario's default when not named)."""
        return self.models.get(indicator, self.default_model)

    def data_dir(self) -> Path:
        base = self.source_file.parent if self.source_file else Path.cwd()
        return (base / self.data).resolve()

    def with_fast_settings(self) -> Scenario:
        """A copy with the fast sampler and gates (for tests and previews)."""
        return self.model_copy(update={"sampler": FAST_SAMPLER, "gates": FAST_GATES})

    def content_hash(self) -> str:
        """Hash of everything that determines results (file location excluded)."""
        payload = self.model_dump(mode="json", exclude={"source_file", "data"})
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file.

    Raises
    ------
    InputError
        With every problem as ``file:line: field: message``.
    """
    path = Path(path)
    doc, problems = load_yaml_with_lines(path)
    if doc is None:
        raise InputError(problems, what=f"scenario {relative(path)}")
    if not isinstance(doc.data, dict):
        raise InputError([doc.problem((), "expected a mapping of scenario settings")],
                         what=f"scenario {relative(path)}")
    scenario, problems = validate_model(doc, (), doc.data, Scenario)
    if scenario is None:
        raise InputError(problems, what=f"scenario {relative(path)}")
    return scenario.model_copy(update={"source_file": path.resolve()})


def check_scenario_against_data(scenario: Scenario, targets: dict, indicators: dict,
                                geos: dict) -> list[Problem]:
    """Cross-checks that need the data: target ids, indicator names and geos exist."""
    found: list[tuple[tuple, str]] = []  # (key path in the file, message)
    for i, target in enumerate(scenario.targets):
        if target not in targets:
            found.append((("targets", i),
                          f"unknown target '{target}'{did_you_mean(target, targets)}"))
    for name, spec in scenario.models.items():
        if name not in indicators:
            found.append((("models", name),
                          f"unknown indicator '{name}'{did_you_mean(name, indicators)}"))
        for geo in spec.exclude_geos:
            if geo not in geos:
                found.append((("models", name, "exclude_geos"),
                              f"unknown geo '{geo}'{did_you_mean(geo, geos)}"))
    if not found:
        return []
    # Only now is the file read again, for the line of each problem.
    doc = load_yaml_with_lines(scenario.source_file)[0] if scenario.source_file else None
    if doc is None:
        name = relative(scenario.source_file) if scenario.source_file else "scenario"
        return [Problem(name, 1, ".".join(map(str, keys)), message) for keys, message in found]
    return [doc.problem(keys, message) for keys, message in found]


def check_rank_basis(scenario: Scenario, targets: dict, indicators: dict) -> list[Problem]:
    """``rank_basis`` may only name rank targets the scenario lists, with a basis of 2 or more."""
    found: list[tuple[tuple, str]] = []
    for target_id, among in scenario.rank_basis.items():
        keys = ("rank_basis", target_id)
        if target_id not in scenario.targets:
            found.append((keys, f"'{target_id}' is not one of this scenario's targets"
                          f"{did_you_mean(target_id, scenario.targets)}"))
        elif target_id in targets and indicators[targets[target_id].reading].kind != "rank":
            found.append((keys, f"'{target_id}' is not a rank target (its reading "
                          f"'{targets[target_id].reading}' is a "
                          f"{indicators[targets[target_id].reading].kind})"))
        if among < 2:
            found.append((keys, f"a rank basis must be 2 or more units, got {among}"))
    if not found:
        return []
    doc = load_yaml_with_lines(scenario.source_file)[0] if scenario.source_file else None
    if doc is None:
        name = relative(scenario.source_file) if scenario.source_file else "scenario"
        return [Problem(name, 1, ".".join(map(str, keys)), message) for keys, message in found]
    return [doc.problem(keys, message) for keys, message in found]


def with_rank_basis(target, scenario: Scenario):
    """``target`` read on the scenario's ``rank_basis`` for it (unchanged if none is given)."""
    among = scenario.rank_basis.get(target.id)
    return target if among is None else target.model_copy(update={"among": among})
