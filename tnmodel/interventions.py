"""Interventions: named, composable transformations of business-as-usual forecast draws.

A scenario lists interventions; each one rewrites the forecast paths (``tnmodel.forecast.Paths``:
values ``(sample, geo, year)`` in indicator units, percent for shares) of one indicator and one
geo, in the order listed. Nothing here refits a model: the draws of the business-as-usual fit
are transformed as arrays (vectorised over draws, no loop over samples), so changing an
intervention costs milliseconds.

Shares are transformed on the logit scale (a pace of +0.3 logits a year is slower near 100%
than near 50%, as adoption curves are); other kinds on their own scale.

=================  ==========================================================================
``accelerate``     yearly increments after ``from_year`` are multiplied by ``factor``
                   (``factor: 1`` is business as usual, ``0`` halts, ``2`` doubles the pace);
                   ``declines: keep`` leaves draws that move the wrong way as they are
``halt``           the ``from_year`` value is kept in every later year
``reach``          a straight glide path (logit scale) from the ``from_year`` value to
                   ``value`` in ``by_year``; business-as-usual increments after ``by_year``
``dip``            a drop of ``size`` (indicator units, e.g. percentage points) in ``year``,
                   shrinking linearly back to business as usual over ``recovery_years``
``best_quartile``  after ``from_year`` the geo moves at the pace of the best quartile of the
                   other geos of the same series (75th percentile of their mean yearly
                   increments in the same draw; 25th when lower is better)
``merge``          ``geo`` becomes the population-weighted mean of ``members`` (populations from
                   ``geos.yaml``; an error names the geos without one)
=================  ==========================================================================

The paths are posterior-predictive annual values: a trend plus year-to-year observation noise
(``Paths.noise``). The transformations act on the trend and add each year's noise back, so a
halt freezes the trend, not one year's noise draw, and an acceleration does not amplify the
noise. Note that ``accelerate`` multiplies each draw's own increments: a draw whose trend
declines declines faster (unless ``declines: keep``), so an acceleration widens the spread of
outcomes as well as moving it.

Effect sizes (``factor``, ``size``) may be uncertain: a number is a fixed effect, or a
distribution drawn once per posterior sample from a seeded stream
(:func:`tnmodel.forecast.stream_seed`), e.g. ``factor: {distribution: lognormal, median: 1.5,
p90: 2.0}`` (see :class:`Effect`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tnmodel.forecast import Paths, stream_seed

#: z of the 90th percentile of a standard normal.
Z90 = 1.2815515655446004
#: Shares are kept this far inside 0%/100% before taking logits.
SHARE_CLIP = 1e-6


class InterventionError(ValueError):
    """An intervention cannot be applied to the paths it was given (message says why).

    ``index`` is the position of the intervention in the scenario's list, when known.
    """

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


# --------------------------------------------------------------------------------------------
# Effect sizes


def _number_or_object(schema: dict) -> None:
    """JSON Schema of :class:`Effect`: a plain number (fixed effect) or the object form."""
    obj = {k: schema.pop(k) for k in list(schema) if k not in ("title", "description")}
    schema["anyOf"] = [{"type": "number"}, obj]


class Effect(BaseModel):
    """An uncertain effect size, drawn once per posterior sample.

    ``fixed``: ``value``.  ``normal``: ``median`` and ``p90`` (the 90th percentile; sd =
    (p90 - median) / 1.2816).  ``lognormal``: ``median`` and ``p90`` of a positive quantity
    (log-sd = ln(p90 / median) / 1.2816).  ``uniform``: ``low`` and ``high``.  A plain number
    in the YAML is a fixed effect.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_number_or_object)

    distribution: Literal["fixed", "normal", "lognormal", "uniform"] = "fixed"
    value: float | None = Field(None, description="fixed: the effect")
    median: float | None = Field(None, description="normal / lognormal: the median")
    p90: float | None = Field(None, description="normal / lognormal: the 90th percentile")
    low: float | None = Field(None, description="uniform: lower end")
    high: float | None = Field(None, description="uniform: upper end")

    @model_validator(mode="before")
    @classmethod
    def _number_is_fixed(cls, data):
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"distribution": "fixed", "value": data}
        return data

    @model_validator(mode="after")
    def _parameters_fit_distribution(self) -> Effect:
        needs = {"fixed": ("value",), "normal": ("median", "p90"),
                 "lognormal": ("median", "p90"), "uniform": ("low", "high")}[self.distribution]
        given = {k for k in ("value", "median", "p90", "low", "high")
                 if getattr(self, k) is not None}
        missing = [k for k in needs if k not in given]
        extra = sorted(given - set(needs))
        if missing:
            raise ValueError(f"a {self.distribution} effect needs {' and '.join(needs)} "
                             f"(missing: {', '.join(missing)})")
        if extra:
            raise ValueError(f"a {self.distribution} effect takes {' and '.join(needs)}, "
                             f"not {', '.join(extra)}")
        if self.distribution in ("normal", "lognormal") and not self.p90 > self.median:
            raise ValueError(f"p90 ({self.p90:g}) must be above the median ({self.median:g})")
        if self.distribution == "lognormal" and self.median <= 0:
            raise ValueError(f"a lognormal median must be positive (got {self.median:g})")
        if self.distribution == "uniform" and not self.high > self.low:
            raise ValueError(f"high ({self.high:g}) must be above low ({self.low:g})")
        return self

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws (one per posterior sample)."""
        match self.distribution:
            case "fixed":
                return np.full(n, float(self.value))
            case "normal":
                return self.median + (self.p90 - self.median) / Z90 * rng.standard_normal(n)
            case "lognormal":
                sd = np.log(self.p90 / self.median) / Z90
                return self.median * np.exp(sd * rng.standard_normal(n))
            case _:
                return rng.uniform(self.low, self.high, n)

    def minimum(self) -> float:
        """The smallest value the effect can take (``-inf`` for a normal)."""
        return {"fixed": self.value, "lognormal": 0.0, "uniform": self.low}.get(
            self.distribution, -np.inf)

    def describe(self) -> str:
        match self.distribution:
            case "fixed":
                return f"{self.value:g}"
            case "uniform":
                return f"uniform {self.low:g} to {self.high:g}"
            case _:
                return f"{self.distribution} median {self.median:g}, p90 {self.p90:g}"


# --------------------------------------------------------------------------------------------
# Intervention specs (validated from YAML)


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field("", description="a short name shown in outputs")
    indicator: str = Field(description="indicator id (indicators.yaml)")
    geo: str = Field(description="geo id (geos.yaml); a merged target geo means its successor")


class Accelerate(_Base):
    """Multiply yearly increments after ``from_year`` by ``factor`` (uncertain)."""

    type: Literal["accelerate"]
    from_year: int = Field(ge=1900, le=2200, description="increments after this year change")
    factor: Effect = Field(description="pace multiplier; 1 = business as usual")
    declines: Literal["accelerate", "keep"] = Field(
        "accelerate",
        description="draws whose trend moves the wrong way after from_year: 'accelerate' them "
                    "too (the plain definition) or 'keep' their business-as-usual path (a "
                    "programme that speeds up progress but does not speed up a decline)")

    @model_validator(mode="after")
    def _non_negative(self) -> Accelerate:
        if self.factor.minimum() < 0:
            raise ValueError("factor can be negative with this distribution; a pace factor "
                             "must be >= 0 (use lognormal or uniform, or halt/dip for a decline)")
        return self


class Halt(_Base):
    """Keep the ``from_year`` value in every later year."""

    type: Literal["halt"]
    from_year: int = Field(ge=1900, le=2200)


class Reach(_Base):
    """Glide (logit scale for shares) from the ``from_year`` value to ``value`` in ``by_year``."""

    type: Literal["reach"]
    from_year: int = Field(ge=1900, le=2200, description="the glide starts from this year's value")
    by_year: int = Field(ge=1900, le=2200, description="the year the value is reached")
    value: float = Field(description="the value reached (indicator units, percent for shares)")

    @model_validator(mode="after")
    def _order(self) -> Reach:
        if self.by_year <= self.from_year:
            raise ValueError(f"by_year ({self.by_year}) must be after from_year ({self.from_year})")
        return self


class Dip(_Base):
    """A drop of ``size`` in ``year`` that shrinks linearly to nothing over ``recovery_years``."""

    type: Literal["dip"]
    year: int = Field(ge=1900, le=2200)
    size: Effect = Field(description="drop in indicator units (percentage points for shares)")
    recovery_years: int = Field(ge=1, le=100, description="years until business as usual again")


class BestQuartile(_Base):
    """Move at the pace of the best quartile of the other geos of the same series."""

    type: Literal["best_quartile"]
    from_year: int = Field(ge=1900, le=2200)


class Merge(_Base):
    """``geo`` becomes the population-weighted mean of ``members``."""

    type: Literal["merge"]
    members: tuple[str, ...] = Field(min_length=2, description="geos averaged into ``geo``")
    weights: Literal["population"] = Field("population", description="population from geos.yaml")


Intervention = Annotated[Accelerate | Halt | Reach | Dip | BestQuartile | Merge,
                         Field(discriminator="type")]
KINDS = ("accelerate", "halt", "reach", "dip", "best_quartile", "merge")


# --------------------------------------------------------------------------------------------
# Application


@dataclass(frozen=True)
class Context:
    """What the transformations need to know besides the paths.

    Attributes
    ----------
    logit : bool
        Transform on the logit scale (shares, percent).
    higher_is_better : bool
        Which quartile is "best".
    lower, upper : float, optional
        Natural limits (values are clipped to them).
    populations : mapping
        Geo -> population (only ``merge`` uses it).
    """

    logit: bool = True
    higher_is_better: bool = True
    lower: float | None = 0.0
    upper: float | None = 100.0
    populations: Mapping[str, float | None] = field(default_factory=dict)


def to_scale(values: np.ndarray, ctx: Context) -> np.ndarray:
    """Indicator units to the scale the transformations work on (logit for shares)."""
    if not ctx.logit:
        return values
    p = np.clip(values / 100.0, SHARE_CLIP, 1 - SHARE_CLIP)
    return np.log(p) - np.log1p(-p)


def from_scale(x: np.ndarray, ctx: Context) -> np.ndarray:
    """Back to indicator units, clipped to the natural limits."""
    values = 100.0 / (1.0 + np.exp(-x)) if ctx.logit else x
    lo = -np.inf if ctx.lower is None else ctx.lower
    hi = np.inf if ctx.upper is None else ctx.upper
    return np.clip(values, lo, hi)


def _year_index(paths: Paths, year: int, what: str) -> int:
    found = np.flatnonzero(paths.years == year)
    if found.size == 0:
        raise InterventionError(f"{what} {year} is outside the forecast years "
                                f"{int(paths.years[0])}-{int(paths.years[-1])}")
    return int(found[0])


def _geo_index(paths: Paths, geo: str) -> int:
    if geo not in paths.geos:
        raise InterventionError(f"no forecast of '{paths.indicator}' for '{geo}' (series geos: "
                                f"{', '.join(paths.geos)})")
    return paths.geos.index(geo)


def trend_and_noise(paths: Paths, geo: str, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
    """The trend and the observation noise of one geo's paths, (sample, year) each, on the
    transformation scale (``values = from_scale(trend + noise)``)."""
    g = _geo_index(paths, geo)
    x = to_scale(paths.values[:, g, :], ctx)
    noise = np.zeros_like(x) if paths.noise is None else paths.noise[:, g, :]
    return x - noise, noise


def _replace_geo(paths: Paths, g: int, start: int, trend: np.ndarray, noise: np.ndarray,
                 ctx: Context) -> Paths:
    """Paths with the years from ``start`` of geo ``g`` rebuilt from a new trend."""
    values = paths.values.copy()
    values[:, g, start:] = from_scale(trend[:, start:] + noise[:, start:], ctx)
    return replace(paths, values=values)


def scale_pace(paths: Paths, geo: str, from_year: int, factor: np.ndarray | float,
               ctx: Context) -> Paths:
    """Multiply the yearly increments of ``geo``'s trend after ``from_year`` by ``factor``.

    ``factor`` is a number or one value per sample. This is the ``accelerate`` transformation
    (and ``halt`` with factor 0), exposed for the required-acceleration search.
    """
    g = _geo_index(paths, geo)
    f = _year_index(paths, from_year, "from_year")
    factor = np.broadcast_to(np.asarray(factor, dtype=float), (paths.values.shape[0],))
    trend, noise = trend_and_noise(paths, geo, ctx)
    anchor = trend[:, f:f + 1]
    new = trend.copy()
    new[:, f + 1:] = anchor + factor[:, None] * (trend[:, f + 1:] - anchor)
    return _replace_geo(paths, g, f + 1, new, noise, ctx)


def _reach(paths: Paths, spec: Reach, ctx: Context) -> Paths:
    g = _geo_index(paths, spec.geo)
    f = _year_index(paths, spec.from_year, "from_year")
    b = _year_index(paths, spec.by_year, "by_year") if spec.by_year <= paths.years[-1] else None
    lo, hi = ctx.lower, ctx.upper
    if ctx.logit and not 0 < spec.value < 100:
        raise InterventionError(f"value {spec.value:g} of a share must be strictly between 0 "
                                "and 100 (the glide path is on the logit scale)")
    if (lo is not None and spec.value < lo) or (hi is not None and spec.value > hi):
        raise InterventionError(f"value {spec.value:g} is outside the indicator's limits")
    trend, noise = trend_and_noise(paths, spec.geo, ctx)
    goal = float(to_scale(np.array([spec.value]), ctx)[0])
    anchor = trend[:, f]
    years = paths.years.astype(float)
    share = np.minimum((years - spec.from_year) / (spec.by_year - spec.from_year), 1.0)
    new = trend.copy()
    new[:, f + 1:] = anchor[:, None] + share[None, f + 1:] * (goal - anchor)[:, None]
    if b is not None and b + 1 < trend.shape[1]:
        new[:, b + 1:] = goal + (trend[:, b + 1:] - trend[:, b:b + 1])
    out = _replace_geo(paths, g, f + 1, new, noise, ctx)
    if b is not None and paths.noise is None:
        out.values[:, g, b] = spec.value  # exactly, not through a logit round trip
    return out


def _dip(paths: Paths, spec: Dip, size: np.ndarray, ctx: Context) -> Paths:
    g = _geo_index(paths, spec.geo)
    start = _year_index(paths, spec.year, "year")
    since = paths.years[start:] - spec.year
    weight = np.clip(1.0 - since / spec.recovery_years, 0.0, 1.0)  # 1 in the year, 0 at recovery
    values = paths.values.copy()
    shifted = values[:, g, start:] - size[:, None] * weight[None, :]
    lo = -np.inf if ctx.lower is None else ctx.lower
    hi = np.inf if ctx.upper is None else ctx.upper
    values[:, g, start:] = np.clip(shifted, lo, hi)
    return replace(paths, values=values)


def _best_quartile(paths: Paths, spec: BestQuartile, ctx: Context) -> Paths:
    g = _geo_index(paths, spec.geo)
    f = _year_index(paths, spec.from_year, "from_year")
    others = [geo for i, geo in enumerate(paths.geos) if i != g]
    if len(others) < 2:
        raise InterventionError(f"best_quartile needs at least two other geos in the series of "
                                f"'{paths.indicator}' (has: {', '.join(paths.geos)})")
    span = len(paths.years) - 1 - f
    if span < 1:
        raise InterventionError(f"from_year {spec.from_year} leaves no forecast year after it")
    trends = np.stack([trend_and_noise(paths, geo, ctx)[0] for geo in others], axis=1)
    pace = (trends[:, :, -1] - trends[:, :, f]) / span  # mean yearly increment, (sample, other)
    best = np.quantile(pace, 0.75 if ctx.higher_is_better else 0.25, axis=1)  # (sample,)
    trend, noise = trend_and_noise(paths, spec.geo, ctx)
    steps = (paths.years - spec.from_year).astype(float)
    new = trend.copy()
    new[:, f + 1:] = trend[:, f:f + 1] + best[:, None] * steps[None, f + 1:]
    return _replace_geo(paths, g, f + 1, new, noise, ctx)


def _declining(paths: Paths, geo: str, from_year: int, ctx: Context) -> np.ndarray:
    """Per draw: does the trend move the wrong way between ``from_year`` and the last year?"""
    trend, _ = trend_and_noise(paths, geo, ctx)
    net = trend[:, -1] - trend[:, _year_index(paths, from_year, "from_year")]
    return net < 0 if ctx.higher_is_better else net > 0


def merge_weights(members: Sequence[str], populations: Mapping[str, float | None]) -> np.ndarray:
    """Normalised population weights; an :class:`InterventionError` names geos without one."""
    missing = [m for m in members if not populations.get(m)]
    if missing:
        raise InterventionError(
            f"no population for {', '.join(missing)} in geos.yaml (population: null); a "
            "population-weighted merge needs one per member, with a source")
    weights = np.array([float(populations[m]) for m in members])
    return weights / weights.sum()


def _merge(paths: Paths, spec: Merge, ctx: Context) -> Paths:
    index = [_geo_index(paths, m) for m in spec.members]
    weights = merge_weights(spec.members, ctx.populations)
    merged = np.tensordot(paths.values[:, index, :], weights, axes=([1], [0]))  # (sample, year)
    # the mean of noisy values is taken as all trend: the merged geo's noise is zero
    if spec.geo in paths.geos:
        g = paths.geos.index(spec.geo)
        values = paths.values.copy()
        values[:, g, :] = merged
        noise = None if paths.noise is None else paths.noise.copy()
        if noise is not None:
            noise[:, g, :] = 0.0
        return replace(paths, values=values, noise=noise)
    values = np.concatenate([paths.values, merged[:, None, :]], axis=1)
    noise = None if paths.noise is None else np.concatenate(
        [paths.noise, np.zeros_like(merged)[:, None, :]], axis=1)
    return replace(paths, geos=(*paths.geos, spec.geo), values=values, noise=noise)


def apply_one(paths: Paths, spec, ctx: Context, rng: np.random.Generator) -> Paths:
    """Apply one intervention to the paths of its indicator."""
    n = paths.values.shape[0]
    match spec.type:
        case "accelerate":
            factor = spec.factor.draw(rng, n)
            if spec.declines == "keep":
                factor = np.where(_declining(paths, spec.geo, spec.from_year, ctx), 1.0, factor)
            return scale_pace(paths, spec.geo, spec.from_year, factor, ctx)
        case "halt":
            return scale_pace(paths, spec.geo, spec.from_year, 0.0, ctx)
        case "reach":
            return _reach(paths, spec, ctx)
        case "dip":
            return _dip(paths, spec, spec.size.draw(rng, n), ctx)
        case "best_quartile":
            return _best_quartile(paths, spec, ctx)
        case "merge":
            return _merge(paths, spec, ctx)
    raise InterventionError(f"unknown intervention type '{spec.type}'")  # pragma: no cover


def apply_interventions(
    paths: Mapping[str, Paths],
    interventions: Sequence,
    seed: int,
    contexts: Mapping[str, Context],
    geo_alias: Mapping[str, str] | None = None,
) -> dict[str, Paths]:
    """Apply ``interventions`` in order to business-as-usual ``paths`` (indicator -> Paths).

    Parameters
    ----------
    paths : mapping
        Indicator id -> business-as-usual :class:`~tnmodel.forecast.Paths` (left untouched).
    interventions : sequence
        Validated intervention specs, applied in the order given.
    seed : int
        The scenario seed: intervention ``i`` draws its effect sizes from the stream
        ``intervention:<i>:<type>:<indicator>:<geo>``, so adding an intervention at the end does
        not change the draws of the earlier ones.
    contexts : mapping
        Indicator id -> :class:`Context`.
    geo_alias : mapping, optional
        Geo -> series geo (merger lineage: ``thai_nguyen`` -> ``thai_nguyen_merged``).

    Raises
    ------
    InterventionError
        Naming the intervention (``interventions[i]``) and what is wrong.
    """
    alias = dict(geo_alias or {})
    out = dict(paths)
    for i, spec in enumerate(interventions):
        if spec.indicator not in out:
            raise InterventionError(
                f"no forecast of '{spec.indicator}' in this scenario (an indicator is forecast "
                f"only when a target reads it; forecast: {', '.join(sorted(out)) or 'none'})",
                index=i)
        resolved = spec.model_copy(update={"geo": alias.get(spec.geo, spec.geo)})
        if spec.type == "merge":
            resolved = resolved.model_copy(
                update={"members": tuple(alias.get(m, m) for m in spec.members)})
        rng = stream_seed(seed, f"intervention:{i}:{spec.type}:{spec.indicator}:{spec.geo}")
        try:
            out[spec.indicator] = apply_one(out[spec.indicator], resolved,
                                            contexts[spec.indicator], rng)
        except InterventionError as exc:
            raise InterventionError(f"{spec.type} of {spec.indicator} in {spec.geo}: {exc}",
                                    index=i) from None
    return out


def describe(spec) -> str:
    """One line in words, for tables and manifests."""
    head = spec.label or spec.type
    match spec.type:
        case "accelerate":
            what = f"pace x {spec.factor.describe()} after {spec.from_year}"
            if spec.declines == "keep":
                what += " (declining draws kept)"
        case "halt":
            what = f"no progress after {spec.from_year}"
        case "reach":
            what = f"glide from {spec.from_year} to {spec.value:g} in {spec.by_year}"
        case "dip":
            what = (f"drop of {spec.size.describe()} in {spec.year}, recovered over "
                    f"{spec.recovery_years} years")
        case "best_quartile":
            what = f"pace of the best quartile of comparable geos after {spec.from_year}"
        case _:
            what = f"population-weighted mean of {', '.join(spec.members)}"
    return f"{head}: {spec.indicator} {spec.geo}: {what}"
