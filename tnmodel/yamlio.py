"""YAML reading that remembers where every value came from.

``load_yaml_with_lines`` returns the parsed data together with a map from a *path* of keys
and list indices (e.g. ``("targets", 3, "year")``) to the 1-based line number where that
value starts, so that validation errors can point at ``file:line``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tnmodel.problems import Problem, did_you_mean, relative

KeyPath = tuple[str | int, ...]


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present
    """SafeLoader that refuses duplicate mapping keys instead of silently keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key '{key}' (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)


def _index_lines(node: yaml.Node, prefix: KeyPath, out: dict[KeyPath, int]) -> None:
    out[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*prefix, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*prefix, key), out)
            out[(*prefix, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*prefix, i), out)


class YamlDoc:
    """Parsed YAML plus the line of every key path."""

    def __init__(self, path: Path, data: Any, lines: dict[KeyPath, int]) -> None:
        self.path = path
        self.data = data
        self._lines = lines

    def line(self, keys: KeyPath) -> int:
        """Line of the deepest existing prefix of ``keys`` (1 if nothing matches)."""
        keys = tuple(keys)
        while keys:
            if keys in self._lines:
                return self._lines[keys]
            keys = keys[:-1]
        return self._lines.get((), 1)

    def problem(self, keys: KeyPath, message: str) -> Problem:
        field = ".".join(
            f"[{k}]" if isinstance(k, int) else str(k) for k in keys
        ).replace(".[", "[") or "(document)"
        return Problem(relative(self.path), self.line(keys), field, message)


def load_yaml_with_lines(path: Path) -> tuple[YamlDoc | None, list[Problem]]:
    """Parse ``path``; on a syntax error return ``None`` and the problem with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [Problem(relative(path), 1, "(file)", "file not found")]
    except UnicodeDecodeError as exc:
        return None, [Problem(relative(path), 1, "(file)", f"not UTF-8 text: {exc.reason}")]
    try:
        # Parse once: the node tree gives the lines, the same tree is constructed into data.
        loader = _UniqueKeyLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [Problem(relative(path), line, "(syntax)", str(exc.problem or exc))]
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return YamlDoc(path, data, lines), []


def validate_model(
    doc: YamlDoc, keys: KeyPath, data: Any, model: type
) -> tuple[Any, list[Problem]]:
    """Validate ``data`` (found at ``keys`` in ``doc``) against a pydantic ``model``.

    Returns the model instance (or ``None``) and the problems, each pointing at the line of
    the offending field, with a "did you mean" hint for unknown keys.
    """
    from pydantic import ValidationError

    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = (*keys, *loc)
            if err["type"] == "extra_forbidden":
                allowed = _allowed_fields(model, loc[:-1])
                hint = did_you_mean(str(loc[-1]), allowed)
                message = f"unknown key '{loc[-1]}'{hint}; allowed: {', '.join(sorted(allowed))}"
            elif err["type"] == "missing":
                message = "required but missing"
            else:
                got = err.get("input")
                shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
                message = f"{err['msg']}{shown}"
            problems.append(doc.problem(where, message))
        return None, problems


def _allowed_fields(model: type, loc: tuple) -> list[str]:
    """Field names of the (nested) pydantic model reached by ``loc``; best effort."""
    import typing

    current: Any = model
    for part in loc:
        if isinstance(part, int) or not hasattr(current, "model_fields"):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *typing.get_args(annotation)]
        for arg in list(candidates):
            candidates.extend(typing.get_args(arg))
        current = next((c for c in candidates if hasattr(c, "model_fields")), None)
        if current is None:
            return []
    return list(current.model_fields) if hasattr(current, "model_fields") else []
