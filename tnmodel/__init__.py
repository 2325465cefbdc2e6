"""tnmodel: honest probabilities that public targets will be met.

The package is organised by stage of the data flow (see ``DESIGN.md`` in the shared folder):

``tnmodel.data``      tidy CSV + YAML registries  -> :class:`~tnmodel.data.Dataset`
``tnmodel.scenario``  scenario YAML               -> :class:`~tnmodel.scenario.Scenario`
``tnmodel.models``    Dataset + model spec        -> :class:`~tnmodel.models.Fit` (PyMC only here)
``tnmodel.forecast``  Fit                         -> forecast paths (draw x geo x year)
``tnmodel.baselines`` observations                -> official-style "on track" categories
``tnmodel.targets``   paths + targets             -> attainment table
``tnmodel.runner``    all of the above            -> ``results/<scenario>/``
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tnmodel")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
