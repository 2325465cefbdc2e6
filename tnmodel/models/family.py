"""The seam every model family plugs into.

A family turns a :class:`~tnmodel.models.series.SeriesData` into a PyMC model, says which of
the model's inputs are *data* (swapped into an already compiled model) and which are
*structure* (a different structure needs a new compilation), reads its parameter draws back
out of a posterior, and forecasts from those draws with plain numpy.

Keeping every observation-level array in ``pm.Data`` containers named by
:meth:`Family.data_arrays` is what lets :mod:`tnmodel.models.sampling` compile a model
structure once per process and refit other data (another province, another cut-off year,
another simulated replication) by swapping the arrays.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable

import numpy as np
import xarray as xr
from pydantic import BaseModel

from tnmodel.models.lazy import lazy
from tnmodel.models.series import SeriesData

pm = lazy("pymc")


class Family(ABC):
    """One model family (see module docstring). Subclasses are stateless singletons."""

    #: Name used in scenario files (``models.<indicator>.family``).
    name: str
    #: Variables whose R-hat and ESS are gated (those present in a posterior are checked).
    gate_vars: tuple[str, ...] = ()
    #: The pydantic model of this family's priors (``models.<indicator>.priors``).
    priors_class: type[BaseModel]
    #: The per-geo pace variable (prior-vs-posterior comparisons, pooled fallbacks).
    pace_var: str = "beta"

    def prior_pace(self, priors: BaseModel, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws of one geo's pace from the prior (marginal over the pool).

        The default is the pooled pace every family here uses: ``Normal(mu, tau)`` with
        ``mu ~ Normal(pace_mean, pace_sd)`` and ``tau ~ Gamma(2, 2 / pace_spread_mean)``.
        """
        tau = rng.gamma(2.0, priors.pace_spread_mean / 2.0, n)
        return rng.normal(priors.pace_mean, priors.pace_sd, n) + tau * rng.standard_normal(n)

    def unsupported(self, series: SeriesData) -> str | None:
        """Why this family cannot fit ``series`` (checked before any fit), or None."""
        return None

    def simulate(self, series: SeriesData, priors: BaseModel,
                 rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """One prior draw of the parameters and simulated observations at ``series``'
        geos and years (on the scale of ``series.y``); for calibration studies."""
        raise NotImplementedError(f"{self.name}: no simulate")

    @abstractmethod
    def build_model(self, series: SeriesData, priors: BaseModel) -> pm.Model:
        """The PyMC model; every key of :meth:`data_arrays` is a ``pm.Data`` of that name."""

    @abstractmethod
    def data_arrays(self, series: SeriesData, priors: BaseModel) -> dict[str, np.ndarray]:
        """The values of the model's ``pm.Data`` containers for ``series``."""

    @abstractmethod
    def structure_key(self, series: SeriesData, priors: BaseModel) -> Hashable:
        """Everything besides :meth:`data_arrays` values that shapes the compiled model.

        Two series with equal keys can share one compiled model (parameter shapes, the
        parametrisation chosen, which likelihood terms exist, the priors).
        """

    @abstractmethod
    def extract_draws(self, posterior: xr.DataTree, series: SeriesData) -> dict[str, np.ndarray]:
        """Plain numpy draws (chains stacked) that :meth:`forecast` needs."""

    @abstractmethod
    def forecast(self, draws: dict[str, np.ndarray], series: SeriesData, years: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """Posterior predictive of the annual value.

        Returns
        -------
        values : ndarray
            Shape (sample, geo, year), in the indicator's unit (percent for shares).
        noise : ndarray or None
            The observation noise inside ``values``, same shape, on the scale interventions
            work on (logit for shares, the unit for unbounded indices), so they can transform
            the underlying path and add each year's noise back; None when there is none.
        """


def stack_draws(values: xr.DataArray) -> np.ndarray:
    """(chain, draw, ...) -> (sample, ...), chain after chain."""
    array = np.asarray(values.values)
    return array.reshape(array.shape[0] * array.shape[1], *array.shape[2:])
