# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Growth models: fits, diagnostics, checks, comparison
#
# Each indicator a scenario needs is fitted once, pooled across every geo that measures it,
# with a model *family* from `tnmodel.models.FAMILIES`. This notebook opens those fits:
#
# 1. what was fitted (series, observations, family),
# 2. convergence diagnostics (R-hat, effective sample size, divergences),
# 3. posterior predictive checks against the observed points,
# 4. a comparison between the families that apply to each indicator,
# 5. prior against posterior for the pace of change,
# 6. how much the prior carries the 2030 forecast (power-scaling).
#
# `fast = True` uses short chains and relaxed gates: enough to look, **not enough to decide**.
# Fits are cached on disk (`TNMODEL_CACHE_DIR`, by default `.cache/fits` of the project), so
# the scenario notebooks reuse them.

# %% tags=["parameters"]
fast = False
scenario_file = "../scenarios/baseline.yaml"
out_dir = "../results/notebooks/02_growth_models"

# %%
from pathlib import Path

from tnmodel.notebook import setup

ROOT = setup()  # caches inside the project, offline charts: before any model

import altair as alt
import numpy as np
import pandas as pd
from IPython.display import display

from tnmodel import charts
from tnmodel.data import load_dataset
from tnmodel.forecast import stream_seed
from tnmodel.models import FAMILIES, ConvergenceError, ModelSpec
from tnmodel.models.cache import FitCache
from tnmodel.runner import fit_indicator, plan_scenario
from tnmodel.scenario import load_scenario

out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. What is fitted
#
# The scenario decides which indicators are needed (the targets' readings and the proxies of
# targets without a measured series), the data window and the family of each. With
# `lineage: follow` the pre-merger Thái Nguyên's observations continue as the merged
# province's series.

# %%
sc = load_scenario(scenario_file)
if fast:
    sc = sc.with_fast_settings()
ds = load_dataset(sc.data_dir())
planned = plan_scenario(sc, ds)
assert not planned.problems, planned.problems
cache = FitCache()
fits = {}
for indicator in planned.to_fit:
    series = planned.series_for(indicator)
    fits[indicator], _, hit = fit_indicator(sc, indicator, series, cache)
    print(f"{indicator}: {series.n_obs} observations, {len(series.geos)} series, "
          f"family {sc.model_for(indicator).family}, {'from the cache' if hit else 'fitted'}")

# %% [markdown]
# ## 2. Convergence diagnostics
#
# Every fit must pass its gates before anything downstream uses it: R-hat at most 1.01, bulk
# ESS at least 400 and no divergent transitions (relaxed in fast mode; the gates shown are
# those of this run). `worst_rhat` and `worst_ess` name the parameter that is worst. A fit
# that fails is retried once with longer tuning and smaller steps (`retried_with_*`).

# %%
print("sampler:", sc.sampler)
print("gates:  ", sc.gates)
diagnostics = pd.DataFrame.from_dict(
    {ind: fit.diagnostics.as_dict() | {"n_obs": fit.series.n_obs,
                                       "series": len(fit.series.geos)}
     for ind, fit in fits.items()}, orient="index")
diagnostics.to_csv(out / "diagnostics.csv")
diagnostics

# %% [markdown]
# Do the chains agree? The mean of the population pace (`mu_beta`, logits per year) and of
# the observation error per chain: chains that disagree would show here before R-hat.

# %%
rows = []
for ind, fit in fits.items():
    post = fit.posterior.posterior
    for name in ("mu_beta", "sigma_obs"):
        if name in post:
            per_chain = post[name].mean("draw").values
            rows.append({"indicator": ind, "parameter": name}
                        | {f"chain {c}": round(float(v), 3) for c, v in enumerate(per_chain)})
pd.DataFrame(rows)

# %% [markdown]
# ## 3. Posterior predictive checks
#
# Does the fitted model reproduce the data it was fitted to? For every observation, the
# model's predictive distribution of an annual value for that geo and year (the family's own
# `forecast`, the same function that produces the 2030 forecast) is compared with what was
# observed:
#
# - `pit`: the share of predictive draws below the observed value. Across many points PIT
#   values should look uniform; many near 0 or 1 mean the model is overconfident.
# - `in80`: whether the observation lies in the central 80% predictive interval.
#
# Two cautions. Part-year snapshots (`period` not empty) carry extra error in the fit that
# the annual predictive leaves out, so they fall outside more often *by design*. And these
# are in-sample checks: they find misfit, they do not prove forecasting skill (that is the
# back-test's job, notebook 04). Bounds are checked as bounds: an upper bound is consistent
# when the predictive mass below it is not tiny.


# %%
def predictive_check(fit, family_name: str, seed: int = 1) -> pd.DataFrame:
    """One row per observation: predictive quantiles at its geo and year, PIT, in80."""
    family = FAMILIES[family_name]
    series = fit.series
    years = np.arange(series.year.min(), series.year.max() + 1)
    values = family.forecast(fit.draws, series, years, stream_seed(seed, "ppc"))
    if isinstance(values, tuple):  # (values, observation noise)
        values = values[0]
    rows = []
    for i, row in enumerate(series.rows.itertuples()):
        draws = values[:, series.geo_index[i], int(series.year[i] - years[0])]
        lo, med, hi = np.quantile(draws, [0.1, 0.5, 0.9])
        rows.append({"indicator": series.indicator, "family": family_name,
                     "series_geo": series.geos[series.geo_index[i]], "year": int(row.year),
                     "value": float(row.value), "period": row.period, "bound": row.bound,
                     "q10": lo, "q50": med, "q90": hi, "pit": float(np.mean(draws <= row.value)),
                     "in80": bool(lo <= row.value <= hi),
                     "crps": crps(draws, float(row.value))})
    return pd.DataFrame(rows)


def crps(draws: np.ndarray, y: float) -> float:
    """Continuous ranked probability score of a sample (lower is better; in the unit)."""
    x = np.sort(draws)
    n = x.size
    spread = 2.0 / n**2 * np.sum((2 * np.arange(1, n + 1) - n - 1) * x)
    return float(np.mean(np.abs(x - y)) - 0.5 * spread)


ppc = pd.concat([predictive_check(fit, fit.spec.family) for fit in fits.values()],
                ignore_index=True)
ppc.to_csv(out / "ppc.csv", index=False)
exact = ppc[ppc["bound"] == ""]
summary = exact.groupby(["indicator", exact["period"] != ""]).agg(
    points=("value", "size"), in80=("in80", "mean"), mean_pit=("pit", "mean"),
    crps=("crps", "mean")).round(3)
summary.index = summary.index.set_names(["indicator", "part_year"])
summary

# %% [markdown]
# About 80% of the annual points should fall inside their 80% interval (with few points the
# share is noisy: with 10 points anything from 6 to 10 is unremarkable). Below, the points
# of the Thái Nguyên lineage for each indicator against their predictive interval.

# %%
lineage = set(charts.lineage_geos(ds, "thai_nguyen_merged"))
local = ppc[ppc["series_geo"].isin(lineage)]
if len(local):
    base = alt.Chart(local)
    view = (base.mark_rule(color="#3b6ea8", strokeWidth=3, opacity=0.5).encode(
                x=alt.X("year:Q", axis=alt.Axis(format="d"), scale=alt.Scale(zero=False)),
                y=alt.Y("q10:Q", title="%"),
                y2="q90:Q")
            + base.mark_point(filled=True, size=60, color="#c0392b").encode(
                x="year:Q", y="value:Q", shape="period:N",
                tooltip=["indicator", "year", "value", "period", "q10", "q50", "q90", "pit"]))
    display(view.properties(width=220, height=160).facet(facet="indicator:N", columns=3)
            .resolve_scale(x="independent"))
else:
    print("no observations of the Thái Nguyên lineage in these fits")

# %% [markdown]
# And the PIT values of all exact annual observations, pooled across indicators and geos
# (the same chart the back-tests use): roughly flat, inside the dotted band, is good.

# %%
annual = exact[exact["period"] == ""].rename(columns={"family": "model"})
charts.pit_histogram(annual[["model", "pit"]]) if len(annual) else "no annual points"

# %% [markdown]
# ## 4. Model comparison
#
# Every family in `FAMILIES` that applies to the indicator's kind (bounded families for
# shares) is fitted to the same series (through the same cache, with the family's default
# priors) and scored on the same in-sample checks: coverage of the 80% interval and the mean
# CRPS of the annual points (percentage points; lower is better). Families added later
# appear here without changes to this notebook. A family that does not converge is listed
# with the reason, not dropped silently. A fast run compares the families on the indicator
# with the most observations only.
#
# In-sample scores favour flexible models; the comparison that decides between families is
# the out-of-sample back-test (notebook 04).

# %%
print("families available:", ", ".join(FAMILIES))
try:  # the families for bounded shares, as the back-tests use them (issue 3)
    from tnmodel.backtest import BOUNDED_FAMILIES
except ImportError:
    BOUNDED_FAMILIES = ("logit_trend",)


def applies(name: str, family, kind: str) -> bool:
    """Whether a family models an indicator of this kind: its own ``kinds`` if it declares
    them, else bounded families for shares and the others for unbounded indices."""
    if hasattr(family, "kinds"):
        return kind in family.kinds
    return (name in BOUNDED_FAMILIES) == (kind == "share")


# A fast run compares the families on the indicator with the most data only.
compared = list(fits)
if fast:
    compared = [max(fits, key=lambda ind: fits[ind].series.n_obs)]
comparison = []
for indicator in compared:
    fit = fits[indicator]
    kind = ds.indicators[indicator].kind
    series = fit.series
    for name, family in FAMILIES.items():
        if not applies(name, family, kind):
            continue
        row = {"indicator": indicator, "kind": kind, "family": name}
        try:
            if name == fit.spec.family:
                other = fit
            else:
                spec = ModelSpec.model_validate(
                    fit.spec.model_dump(exclude={"family", "priors"}) | {"family": name})
                variant = sc.model_copy(update={"models": {**sc.models, indicator: spec}})
                other, _, _ = fit_indicator(variant, indicator, series, cache)
        except (ConvergenceError, ValueError) as exc:
            comparison.append(row | {"status": f"not compared: {str(exc)[:160]}"})
            continue
        scored = predictive_check(other, name)
        annual_points = scored[(scored["bound"] == "") & (scored["period"] == "")]
        comparison.append(row | {
            "status": "ok", "annual_points": len(annual_points),
            "in80": round(float(annual_points["in80"].mean()), 3) if len(annual_points) else None,
            "crps": round(float(annual_points["crps"].mean()), 3) if len(annual_points) else None,
            "max_rhat": round(other.diagnostics.max_rhat, 4),
            "min_ess_bulk": round(other.diagnostics.min_ess_bulk, 1)})
comparison = pd.DataFrame(comparison)
comparison.to_csv(out / "model_comparison.csv", index=False)
comparison

# %% [markdown]
# ## 5. The pace: prior against posterior
#
# The logit-trend family's pace prior, `mu_beta ~ Normal(0.2, 0.3)` logits a year, spans slow
# decline to the fastest adoption curves seen in the internet panel (families that can draw
# one geo's pace from their prior, `prior_pace`, show that instead). Where the posterior is
# much narrower than the prior, the data speak; where it is about as wide, the forecast
# rests on the prior and should be read as such (`width90_vs_prior` near 1: an indicator
# with a handful of part-year points says little about its own pace). Shown: the population
# pace `mu_beta` and the pace of the Thái Nguyên series (`beta`, or the family's `pace_var`).

# %%
rng = np.random.default_rng(2030)
edges = np.linspace(-1.0, 1.5, 51)
rows, densities = [], []
for indicator, fit in fits.items():
    family = FAMILIES[fit.spec.family]
    post = fit.posterior.posterior
    priors = fit.spec.priors
    pace_var = getattr(family, "pace_var", "beta")
    try:  # one geo's pace from the prior, marginal over the pool (families of issue 3)
        prior = family.prior_pace(priors, 4000, rng)
    except (AttributeError, NotImplementedError):
        if not hasattr(priors, "pace_mean"):
            continue
        prior = rng.normal(priors.pace_mean, priors.pace_sd, 4000)  # the population pace
    samples = {"prior pace": prior}
    if "mu_beta" in post:
        samples["posterior mu_beta"] = post["mu_beta"].values.ravel()
    for g in [g for g in fit.geos if g in ("thai_nguyen", "thai_nguyen_merged")]:
        if pace_var in post:
            samples[f"posterior {pace_var}[{g}]"] = post[pace_var].sel(geo=g).values.ravel()
    prior_width = np.subtract(*np.quantile(prior, [0.95, 0.05]))
    for label, values in samples.items():
        q05, q50, q95 = np.quantile(values, [0.05, 0.5, 0.95])
        rows.append({"indicator": indicator, "family": family.name, "what": label, "q05": q05,
                     "q50": q50, "q95": q95, "width90_vs_prior": (q95 - q05) / prior_width})
        density, _ = np.histogram(values, bins=edges, density=True)
        densities.append(pd.DataFrame({"indicator": indicator, "what": label,
                                       "pace": (edges[:-1] + edges[1:]) / 2,
                                       "density": density}))
pace = pd.DataFrame(rows).round(3)
pace.to_csv(out / "pace_prior_posterior.csv", index=False)
uninformed = pace[pace["what"].str.startswith("posterior") & (pace["width90_vs_prior"] > 0.8)]
print("the data barely narrow the pace (posterior at least 80% as wide as the prior): "
      + (", ".join(sorted(set(uninformed["indicator"]))) or "none"))
pace

# %%
if densities:
    display(alt.Chart(pd.concat(densities, ignore_index=True)).mark_line(
        interpolate="step-after").encode(
        x=alt.X("pace:Q", title="pace (logits per year)"), y="density:Q",
        color=alt.Color("what:N", title=None),
        strokeDash=alt.condition(alt.datum.what == "prior pace", alt.value([4, 3]),
                                 alt.value([1, 0])),
    ).properties(width=220, height=150).facet(facet="indicator:N", columns=3))

# %% [markdown]
# ## 6. How much the prior carries the 2030 forecast: power-scaling
#
# The comparison above is of one parameter. Power-scaling asks it of the forecast itself: the
# fit's prior (its hyper-parameters: pooled pace and level, spreads, error scales...) is made
# half as strong (power 0.5) or twice as strong (power 2) by reweighting the posterior draws
# (Pareto-smoothed importance sampling; no refit). Shown: the Thái Nguyên series' 2030 value
# (median and 90% interval) under each, and the weights' Pareto k (over 0.7: the reweighting
# cannot tell, and the row is left empty). A forecast that moves when the prior does rests on
# it; `targets.csv` gives the same for each target's probability (`p_met_weaker_prior`,
# `p_met_stronger_prior`).

# %%
from tnmodel.forecast import forecast_paths
from tnmodel.models.sensitivity import POWERS, prior_power


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) - weights[order] / 2
    return np.interp(qs, cumulative / weights.sum(), values[order])


rows = []
for indicator, fit in fits.items():
    geos = [g for g in fit.geos if g in ("thai_nguyen", "thai_nguyen_merged")]
    power = prior_power(fit)
    if not geos or power is None:
        continue
    paths = forecast_paths(fit, np.array([2030]), seed=2030)
    values = paths.at(geos[-1], 2030)
    flat = np.full(values.size, 1.0 / values.size)
    for label, weights, k in [("as fitted", flat, np.nan), *(
            (f"prior x{p:g}", power.weights[p], power.pareto_k[p]) for p in POWERS)]:
        q05, q50, q95 = (weighted_quantiles(values, weights, [0.05, 0.5, 0.95])
                         if not k > 0.7 else (np.nan,) * 3)
        rows.append({"indicator": indicator, "geo": geos[-1], "prior": label, "pareto_k": k,
                     "q05": q05, "q50": q50, "q95": q95})
scaled = pd.DataFrame(rows).round(3)
scaled.to_csv(out / "prior_power_2030.csv", index=False)
scaled

# %% [markdown]
# ## What to take away
#
# - A fit that passes its gates has sampled its posterior well; it does not mean the model is
#   right. The predictive checks and the back-tests (notebook 04) are what say that.
# - Where the 2030 value moves when the prior is halved or doubled (section 6), the forecast
#   rests on the prior: the scenarios' target notes say so where it moves a probability by
#   0.05 or more.
# - Where the Thái Nguyên pace is close to the population pace, the province borrows its
#   trend from the pool: the forecast says "like the others", not "like its own past".
# - The shipped scenarios forecast Internet use (the skills target's proxy) with the setting
#   the internet back-tests validate (the local transition model, `docs/backtests/bar.yaml`);
#   the other indicators are too sparse to back-test and keep the default logit trend, which
#   has no saturation below 100% and no definitional break term. The model comparison above
#   fits every family with its default priors, not that setting.
