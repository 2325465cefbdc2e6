"""Scenario files: what to evaluate, on which data, with which models, interventions and settings.

A scenario is YAML validated by pydantic (unknown keys are errors with a "did you mean"),
and every problem is reported as ``file:line: field: message`` before anything runs.

.. code-block:: yaml

    # yaml-language-server: $schema=./schema.json
    name: resolution01_push
    title: Resolution 01 push
    extends: baseline              # another scenario: its name or a relative file
    interventions:                 # applied in order to the business-as-usual draws
      - type: accelerate
        indicator: online_dossier_share
        geo: thai_nguyen
        from_year: 2025
        factor: {distribution: lognormal, median: 1.3, p90: 1.6}
    others: business_as_usual      # what every other geo does
    sweep:                         # optional: one child scenario per combination
      interventions[0].factor.median: [1.2, 1.5]

``extends``: the parent (a scenario name in the same folder, or a relative ``.yaml`` path) is
read first and the child's keys are merged into it: mappings merge key by key (recursively),
lists and plain values replace. Chains are followed; a cycle is an error. Every problem names
the file and line the offending value came from (child or parent). A child needs its own
``name``; a parent's ``sweep`` is not inherited.

``sweep``: a mapping from a dotted path into the scenario (``horizon``, ``seed``,
``interventions[0].factor.median``, ``models.online_dossier_share.since``) to a list of values.
The cartesian product of the lists gives the child scenarios (see :func:`expand_sweep`), named
``<name>__<path>-<value>[__...]`` with every character outside ``[a-z0-9_-]`` turned into
``_`` and the decimal point into ``p`` (``resolution01_push__interventions_0_factor_median-1p5``).
Every child is validated as a whole scenario.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator
from pydantic.json_schema import SkipJsonSchema

from tnmodel.baselines import BaselineSettings
from tnmodel.interventions import KINDS, Intervention
from tnmodel.models import GateThresholds, ModelSpec, SamplerSettings
from tnmodel.problems import InputError, Problem, did_you_mean, relative
from tnmodel.yamlio import KeyPath, load_yaml_with_lines

#: Sampler settings for ``--fast``: enough for smoke tests and notebooks in CI, not for decisions.
FAST_SAMPLER = SamplerSettings(chains=2, draws=500, tune=500)
FAST_GATES = GateThresholds(max_rhat=1.05, min_ess_bulk=100, max_divergences=0)
#: Fields that say where a scenario came from, not what it computes.
PROVENANCE_FIELDS = {"source_file", "data", "extends", "sweep"}


class RequiredAcceleration(BaseModel):
    """Settings of the required-acceleration search (see ``tnmodel.targets``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    probability: float = Field(0.8, gt=0, lt=1, description="the P(met) to reach")
    cap: float = Field(5.0, gt=1, le=100, description="largest pace factor tried")
    from_year: int | None = Field(
        None, ge=1900, le=2200,
        description="increments after this year are scaled; default: the evaluated geo's last "
                    "observed year (the pace changes from the next year)")


class Scenario(BaseModel):
    """One scenario, validated (``extends`` already resolved). Paths are relative to the file."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="tnmodel scenario")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*$", description="results folder name")
    title: str
    description: str = ""
    extends: str | None = Field(
        None, description="parent scenario: its name (same folder) or a relative .yaml file; "
                          "maps deep-merge, lists replace")
    data: Path = Field(Path("../data"), description="data folder, relative to the scenario file")
    targets: tuple[str, ...] = Field(min_length=1, description="target ids from targets.yaml")
    lineage: Literal["follow", "ignore"] = "follow"
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    default_model: ModelSpec = ModelSpec()
    interventions: tuple[Intervention, ...] = Field(
        (), description="transformations of the business-as-usual draws, applied in order")
    others: Literal["business_as_usual"] = Field(
        "business_as_usual", description="what every geo without an intervention does")
    required_acceleration: RequiredAcceleration = RequiredAcceleration()
    horizon: int = Field(2030, ge=2000, le=2100)
    sampler: SamplerSettings = SamplerSettings()
    gates: GateThresholds = GateThresholds()
    baseline: BaselineSettings = BaselineSettings()
    seed: int = Field(20301, ge=0)
    sweep: dict[str, list[Any]] | None = Field(
        None, description="dotted path -> values; one child scenario per combination")
    rank_basis: dict[str, int] = Field(
        default_factory=dict,
        description="target id -> the rank basis (`among`) to read a rank target on, instead "
                    "of the one in targets.yaml (e.g. 34 post-merger provinces)")
    source_file: SkipJsonSchema[Path | None] = Field(None, exclude=True)
    _origins: Any = PrivateAttr(None)

    @field_validator("targets")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        duplicated = sorted({v for v in value if value.count(v) > 1})
        if duplicated:
            raise ValueError(f"listed more than once: {', '.join(duplicated)}")
        return value

    @field_validator("sweep")
    @classmethod
    def _sweep_paths(cls, value: dict[str, list[Any]] | None) -> dict[str, list[Any]] | None:
        for key, values in (value or {}).items():
            parse_path(key)
            if not values:
                raise ValueError(f"'{key}' has no values")
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
        """Hash of everything that determines results (file location and provenance excluded)."""
        payload = self.model_dump(mode="json", exclude=PROVENANCE_FIELDS)
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()

    def problem(self, keys: KeyPath, message: str) -> Problem:
        """A problem placed at the file and line ``keys`` came from (child or parent file)."""
        if self._origins is not None:
            return self._origins.problem(keys, message)
        name = relative(self.source_file) if self.source_file else self.name
        return Problem(name, 1, _field_name(keys), message)


# --------------------------------------------------------------------------------------------
# Where each value came from (across extends)


def _field_name(keys: KeyPath) -> str:
    return ".".join(f"[{k}]" if isinstance(k, int) else str(k) for k in keys
                    ).replace(".[", "[") or "(document)"


class Origins:
    """Key path -> (file, line) for a scenario merged from several files."""

    def __init__(self, entries: dict[KeyPath, tuple[Path, int]], default: Path) -> None:
        self.entries = entries
        self.default = default

    @classmethod
    def of(cls, doc) -> Origins:
        return cls({k: (doc.path, line) for k, line in doc._lines.items()}, doc.path)

    def where(self, keys: KeyPath) -> tuple[Path, int]:
        keys = tuple(keys)
        while keys:
            if keys in self.entries:
                return self.entries[keys]
            keys = keys[:-1]
        return self.entries.get((), (self.default, 1))

    def problem(self, keys: KeyPath, message: str) -> Problem:
        path, line = self.where(keys)
        return Problem(relative(path), line, _field_name(keys), message)


def _get(data: Any, keys: KeyPath) -> Any:
    for key in keys:
        data = data[key]
    return data


def deep_merge(parent: Any, child: Any) -> Any:
    """Child over parent: mappings merge key by key (recursively); anything else replaces."""
    if isinstance(parent, dict) and isinstance(child, dict):
        merged = dict(parent)
        for key, value in child.items():
            merged[key] = deep_merge(parent[key], value) if key in parent else value
        return merged
    return child


def _merge_origins(parent: Origins, child: Origins, child_data: dict) -> Origins:
    entries = dict(parent.entries)
    for keys in sorted(child.entries, key=len):
        if keys and not isinstance(_get(child_data, keys), dict):
            for old in [k for k in entries if len(k) > len(keys) and k[:len(keys)] == keys]:
                del entries[old]
        entries[keys] = child.entries[keys]
    return Origins(entries, child.default)


# --------------------------------------------------------------------------------------------
# Reading (with extends)


def _scenario_names(folder: Path) -> dict[str, Path]:
    """``name:`` of every scenario file in ``folder`` (unreadable files are skipped)."""
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            found.setdefault(data["name"], path)
    return found


def _resolve_parent(child: Path, ref: str) -> Path | str:
    """The parent's path, or a message saying why it cannot be found."""
    folder = child.parent
    if ref.endswith((".yaml", ".yml")) or "/" in ref:
        path = (folder / ref).resolve()
        return path if path.is_file() else f"no file {ref} next to {child.name}"
    direct = folder / f"{ref}.yaml"
    if direct.is_file():
        return direct.resolve()
    names = _scenario_names(folder)
    if ref in names:
        return names[ref].resolve()
    return (f"no scenario named '{ref}' in {relative(folder)}{did_you_mean(ref, names)}")


def _read_merged(path: Path, chain: tuple[Path, ...]) -> tuple[dict | None, Origins | None,
                                                                list[Problem]]:
    doc, problems = load_yaml_with_lines(path)
    if doc is None:
        return None, None, problems
    if not isinstance(doc.data, dict):
        return None, None, [doc.problem((), "expected a mapping of scenario settings")]
    data, origins = doc.data, Origins.of(doc)
    ref = data.get("extends")
    if ref is None:
        return data, origins, []
    if not isinstance(ref, str):
        return None, None, [doc.problem(("extends",), "expected a scenario name or file")]
    parent_path = _resolve_parent(path, ref)
    if isinstance(parent_path, str):
        return None, None, [doc.problem(("extends",), parent_path)]
    if parent_path == path.resolve() or parent_path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path.resolve(), parent_path))
        return None, None, [doc.problem(("extends",), f"extends cycle: {cycle}")]
    if "name" not in data:
        return None, None, [doc.problem((), "a scenario that extends another needs its own "
                                            "'name' (it names the results folder)")]
    parent, parent_origins, problems = _read_merged(parent_path, (*chain, path.resolve()))
    if parent is None:
        return None, None, problems
    parent = {k: v for k, v in parent.items() if k != "sweep"}
    parent_origins = Origins({k: v for k, v in parent_origins.entries.items()
                              if not (k and k[0] == "sweep")}, parent_origins.default)
    return deep_merge(parent, data), _merge_origins(parent_origins, origins, data), []


# --------------------------------------------------------------------------------------------
# Validation with lines and "did you mean"


def _model_candidates(annotation: Any) -> list[type]:
    out, todo = [], [annotation]
    while todo:
        current = todo.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            out.append(current)
        todo.extend(typing.get_args(current))
    return out


def _pick(candidates: list[type], node: Any) -> type | None:
    """One model of a union: the one whose ``type`` literal matches the data."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    kind = node.get("type") if isinstance(node, dict) else None
    chosen = [c for c in candidates if "type" in c.model_fields
              and kind in typing.get_args(c.model_fields["type"].annotation)]
    return chosen[0] if chosen else None


def _model_at(data: Any, loc: tuple) -> type | None:
    """The pydantic model that validates the value at ``loc`` of the scenario data."""
    candidates: list[type] = [Scenario]
    node: Any = data
    mapping_key = False  # the next part is a key of a dict of models (models: {id: spec})
    for part in loc:
        if isinstance(part, int) or mapping_key:
            mapping_key = False
            if isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                node = node.get(part) if isinstance(node, dict) else None
            continue
        model = _pick(candidates, node)
        if model is None or part not in model.model_fields:
            return None
        annotation = model.model_fields[part].annotation
        candidates = _model_candidates(annotation)
        mapping_key = typing.get_origin(annotation) is dict
        node = node.get(part) if isinstance(node, dict) else None
    return _pick(candidates, node)


def _clean_loc(data: Any, loc: tuple) -> tuple:
    """Drop union tags pydantic inserts into error locations (``[0].accelerate.from_year``)."""
    out: list = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, list) and isinstance(part, int):
            out.append(part)
            node = node[part] if part < len(node) else None
        elif isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and part == node.get("type"):
            continue  # the discriminator tag
        elif last or isinstance(node, dict):
            out.append(part)
            node = None
        # anything else (e.g. a tag of a non-dict value) is dropped
    return tuple(out)


def _allowed(data: Any, loc: tuple) -> list[str]:
    """Allowed keys at ``loc`` (a mapping in the scenario), best effort."""
    model = _model_at(data, loc)
    return [f for f in model.model_fields if f != "source_file"] if model else []


def _problems_of(exc: ValidationError, data: dict, origins: Origins) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = _clean_loc(data, tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            allowed = _allowed(data, loc[:-1])
            hint = did_you_mean(str(loc[-1]), allowed)
            listed = f"; allowed: {', '.join(sorted(allowed))}" if allowed else ""
            message = f"unknown key '{loc[-1]}'{hint}{listed}"
        elif err["type"] == "missing":
            message = "required but missing"
        elif err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            got = err.get("input", {}).get("type") if isinstance(err.get("input"), dict) else None
            loc = (*loc, "type")
            message = (f"unknown intervention type '{got}'{did_you_mean(str(got), KINDS)}; "
                       if got is not None else "every intervention needs a 'type'; ")
            message += f"one of: {', '.join(KINDS)}"
        else:
            got = err.get("input")
            shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
            message = f"{err['msg']}{shown}"
        problems.append(origins.problem(loc, message))
    return problems


def _validate(data: dict, origins: Origins, path: Path) -> tuple[Scenario | None, list[Problem]]:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        return None, _problems_of(exc, data, origins)
    scenario = scenario.model_copy(update={"source_file": path.resolve()})
    scenario._origins = origins
    return scenario, []


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file (its ``extends`` chain resolved, ``sweep`` kept).

    Raises
    ------
    InputError
        With every problem as ``file:line: field: message`` (the file may be a parent).
    """
    path = Path(path)
    data, origins, problems = _read_merged(path, ())
    if data is None:
        raise InputError(problems, what=f"scenario {relative(path)}")
    scenario, problems = _validate(data, origins, path)
    if scenario is None:
        raise InputError(problems, what=f"scenario {relative(path)}")
    return scenario


def load_scenarios(path: Path | str) -> list[Scenario]:
    """The scenarios of one file: itself, or the children of its ``sweep`` block."""
    scenario = load_scenario(path)
    if not scenario.sweep:
        return [scenario]
    return expand_sweep(scenario, scenario.sweep)


# --------------------------------------------------------------------------------------------
# Sweeps

_PATH_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)")


def parse_path(dotted: str) -> tuple[str | int, ...]:
    """``'interventions[0].factor.median'`` -> ``('interventions', 0, 'factor', 'median')``."""
    keys: list[str | int] = []
    for piece in dotted.split("."):
        match = _PATH_PART.fullmatch(piece)
        if not match:
            raise ValueError(f"'{dotted}' is not a dotted path like interventions[0].factor.median")
        keys.append(match.group(1))
        keys.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return tuple(keys)


def _slug(text: Any) -> str:
    text = str(text).lower().replace(".", "p")
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_\-]", "_", text)).strip("_") or "x"


def child_name(name: str, assignment: Mapping[str, Any]) -> str:
    """Deterministic name of a sweep child."""
    parts = [f"{_slug(key.replace('.', '_'))}-{_slug(value)}" for key, value in assignment.items()]
    return "__".join([name, *parts])


def _set(data: Any, keys: tuple, value: Any, dotted: str) -> None:
    node = data
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        where = ".".join(map(str, keys[:depth])) or "the scenario"
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                size = len(node) if isinstance(node, list) else 0
                raise ValueError(f"{dotted}: {where} has no item [{key}] (it has {size})")
        elif not isinstance(node, dict):
            raise ValueError(f"{dotted}: {where} is not a mapping")
        elif key not in node and not last:
            node[key] = {}
        if last:
            node[key] = value
        else:
            node = node[key]


def expand_sweep(scenario: Scenario, grid: Mapping[str, list]) -> list[Scenario]:
    """One fully validated child scenario per combination of ``grid`` values.

    Parameters
    ----------
    scenario : Scenario
        The scenario swept (its own ``sweep`` is not carried into the children).
    grid : mapping
        Dotted path into the scenario (``interventions[0].factor.median``, ``seed``) -> list of
        values. Values may be strings (from a command line): pydantic converts them.

    Returns
    -------
    list of Scenario
        In ``itertools.product`` order of the grid; names from :func:`child_name`.

    Raises
    ------
    InputError
        Every child that does not validate, placed at the sweep entry in the file when there
        is one (``file:line: sweep.<path>: ...``).
    """
    base = scenario.model_dump(mode="json", exclude={"source_file", "sweep"}, exclude_none=True)
    origins = scenario._origins
    problems: list[Problem] = []

    def place(key: str, message: str) -> Problem:
        keys = ("sweep", key) if scenario.sweep and key in scenario.sweep else ("sweep",)
        return (origins.problem(keys, message) if origins is not None
                else scenario.problem(keys, message))

    paths = {}
    for key in grid:
        try:
            paths[key] = parse_path(key)
        except ValueError as exc:
            problems.append(place(key, str(exc)))
        if not grid[key]:
            problems.append(place(key, "no values"))
    if problems:
        raise InputError(problems, what=f"sweep of {scenario.name}")
    children = []
    for values in itertools.product(*grid.values()):
        assignment = dict(zip(grid, values, strict=True))
        data = json.loads(json.dumps(base))
        name = child_name(scenario.name, assignment)
        shown = ", ".join(f"{k} = {v}" for k, v in assignment.items())
        data |= {"name": name, "title": f"{scenario.title} ({shown})"}
        try:
            for key, value in assignment.items():
                _set(data, paths[key], value, key)
            child = Scenario.model_validate(data)
        except ValueError as exc:  # pydantic's ValidationError is a ValueError too
            for line in _child_messages(exc, data):
                problems.append(place(next(iter(assignment)) if len(assignment) == 1 else
                                      _culprit(line, assignment),
                                      f"child {name}: {line}"))
            continue
        child = child.model_copy(update={"source_file": scenario.source_file})
        child._origins = origins
        children.append(child)
    if problems:
        raise InputError(problems, what=f"sweep of {scenario.name}")
    return children


def _child_messages(exc: ValueError, data: dict) -> list[str]:
    if isinstance(exc, ValidationError):
        out = []
        for err in exc.errors():
            loc = _clean_loc(data, tuple(err["loc"]))
            got = err.get("input")
            shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
            out.append(f"{_field_name(loc)}: {err['msg']}{shown}")
        return out
    return [str(exc)]


def _culprit(message: str, assignment: Mapping[str, Any]) -> str:
    """The sweep key a child's error message is about (the first one when unclear)."""
    for key in assignment:
        if _field_name(parse_path(key)) in message:
            return key
    return next(iter(assignment))


# --------------------------------------------------------------------------------------------
# Checks against the data


def check_scenario_against_data(scenario: Scenario, targets: dict, indicators: dict,
                                geos: dict) -> list[Problem]:
    """Cross-checks that need the data: target ids, indicators and geos exist."""
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
    for i, spec in enumerate(scenario.interventions):
        where = ("interventions", i)
        if spec.indicator not in indicators:
            found.append(((*where, "indicator"), f"unknown indicator '{spec.indicator}'"
                          f"{did_you_mean(spec.indicator, indicators)}"))
        elif indicators[spec.indicator].kind not in ("share", "index"):
            found.append(((*where, "indicator"), f"'{spec.indicator}' is a "
                          f"{indicators[spec.indicator].kind}; interventions act on forecast "
                          "values of shares and indices"))
        members = [(("geo",), spec.geo)]
        if spec.type == "merge":
            members += [(("members", j), m) for j, m in enumerate(spec.members)]
            members = members[1:]  # the merged geo may be a new name
        for keys, geo in members:
            if geo not in geos:
                found.append(((*where, *keys), f"unknown geo '{geo}'{did_you_mean(geo, geos)}"))
        if spec.type == "merge":
            missing = [m for m in spec.members if m in geos and not geos[m].population]
            if missing:
                found.append(((*where, "members"), f"no population for {', '.join(missing)} in "
                              "geos.yaml; a population-weighted merge needs one per member"))
    return [scenario.problem(keys, message) for keys, message in found]


def schema_json() -> str:
    """The JSON Schema of scenario files (``scenarios/schema.json``), as text."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = ("A tnmodel scenario file. Written by `tnmodel schema`; do not edit "
                             "by hand.")
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def scenario_files(paths: list[Path]) -> list[Path]:
    """Scenario files of the arguments: folders give their ``*.yaml`` / ``*.yml`` files."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        else:
            found.append(path)
    return found


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
    return [scenario.problem(keys, message) for keys, message in found]


def with_rank_basis(target, scenario: Scenario):
    """``target`` read on the scenario's ``rank_basis`` for it (unchanged if none is given)."""
    among = scenario.rank_basis.get(target.id)
    return target if among is None else target.model_copy(update={"among": among})
