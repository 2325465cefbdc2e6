"""Import the PyMC stack on first use.

Reading cached fits, applying interventions and evaluating targets never touch PyMC, ArviZ,
PyTensor or nutpie; importing them costs seconds. Modules of :mod:`tnmodel.models` bind them
as ``pm = lazy("pymc")``: the real import happens at the first attribute access (building or
sampling a model), so ``tnmodel validate``, ``compare`` and warm runs start quickly.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands in for a module until one of its attributes is used."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)

    def __repr__(self) -> str:
        state = "imported" if self._module is not None else "not imported yet"
        return f"<lazy module {self._name} ({state})>"


def lazy(name: str) -> LazyModule:
    """``pm = lazy("pymc")``: the module, imported when first used."""
    return LazyModule(name)
