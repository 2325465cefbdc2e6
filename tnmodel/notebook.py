"""The set-up every notebook shares: project-local caches, offline charts, readable tables.

Call :func:`setup` in a notebook's first code cell, before anything compiles a model
(``tnmodel`` imports PyMC and PyTensor only when a model is first fitted, so importing this
module is cheap and the cache settings take effect).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["scenario_files", "setup"]


def setup(root: Path | str = "..", *, max_colwidth: int = 100) -> Path:
    """Set up a notebook session and return the project folder.

    Parameters
    ----------
    root : path
        The project folder, relative to the notebook (notebooks run from ``notebooks/``).
    max_colwidth : int
        Widest table column pandas prints, in characters.

    Notes
    -----
    PyTensor's compile cache and the fit cache go to ``ROOT/.cache`` unless
    ``PYTENSOR_FLAGS`` / ``TNMODEL_CACHE_DIR`` are already set (``make lab`` and CI set them to
    the same folders), so notebooks, the command line and the tests reuse one another's
    compilations and fits. Charts render as static SVG through vl-convert: no CDN, no
    internet.
    """
    root = Path(root).resolve()
    os.environ.setdefault("PYTENSOR_FLAGS", f"compiledir={root / '.cache' / 'pytensor'}")
    os.environ.setdefault("TNMODEL_CACHE_DIR", str(root / ".cache" / "fits"))
    import pandas as pd

    from tnmodel import charts

    charts.use_offline_renderer()
    pd.set_option("display.max_colwidth", max_colwidth)
    pd.set_option("display.width", 160)
    return root


def scenario_files(folder: Path | str) -> list[Path]:
    """The scenario files (``*.yaml``) of ``folder``: ``baseline`` first (the others are read
    against it), then the rest by name."""
    return sorted(Path(folder).glob("*.yaml"), key=lambda p: (p.stem != "baseline", p.stem))
