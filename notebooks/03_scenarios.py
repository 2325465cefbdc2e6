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
# # 03 · Scenarios: run and compare
#
# A scenario is a YAML file in `scenarios/`: which targets, how the data are read (merger
# lineage, data windows, model families) and what changes against business as usual
# (*interventions*: accelerate, halt, dip, best-quartile pace, ...). This notebook runs every
# shipped scenario, then compares them:
#
# 1. the verdict table across scenarios (`tnmodel.compare`),
# 2. what each intervention changes against the baseline, beyond Monte-Carlo noise,
# 3. the required acceleration: how much faster progress would have to be,
# 4. when a target is first met (distribution of the first year),
# 5. fan charts of one target under several scenarios.
#
# Interventions never trigger a fit: they transform the business-as-usual draws. Fits are
# cached on disk, so only the first scenario pays for sampling; the others reuse its fits.
# `fast = True` is for previews: larger Monte-Carlo error, relaxed convergence gates.

# %% tags=["parameters"]
fast = False
scenario_dir = "../scenarios"
out_dir = "../results/notebooks/03_scenarios"

# %%
import json
import time
from pathlib import Path

from tnmodel.notebook import scenario_files, setup

ROOT = setup(max_colwidth=90)  # caches inside the project, offline charts: before any model

import altair as alt
import numpy as np
import pandas as pd
from IPython.display import display

from tnmodel import charts
from tnmodel.compare import compare_table, display_columns, read_results
from tnmodel.data import load_dataset
from tnmodel.report import load_results
from tnmodel.runner import run_scenario, write_result
from tnmodel.scenario import load_scenario

out = Path(out_dir)

# %% [markdown]
# ## 1. The scenarios
#
# `baseline` first (the others are read against it), then the rest in name order.

# %%
files = scenario_files(scenario_dir)
scenarios = [load_scenario(f) for f in files]
pd.DataFrame([{"scenario": s.name, "title": s.title, "targets": len(s.targets),
               "interventions": "; ".join(i.label or i.type for i in s.interventions) or "—"}
              for s in scenarios])

# %% [markdown]
# ## 2. The runs
#
# Each run fits what it needs (or takes it from the cache), draws yearly forecast paths to
# the horizon, applies the interventions and evaluates the targets, then writes
# `out_dir/<scenario>/` (targets, first-year table, quantiles, posteriors, manifest) in one
# step. The manifest records whether each fit came from the cache.

# %%
folders, runs = [], {}
for sc in scenarios:
    started = time.perf_counter()
    result = run_scenario(sc, fast=fast)
    folders.append(write_result(result, out))
    runs[sc.name] = result
    cached = [ind for ind, f in result.manifest["fits"].items() if f["from_cache"]]
    print(f"{sc.name:<20} {time.perf_counter() - started:5.1f} s   fits from the cache: "
          f"{len(cached)} of {len(result.manifest['fits'])}")

# %% [markdown]
# ## 3. The verdict table across scenarios
#
# One row per target, one column per scenario: the probability that the target is met in its
# year, ± its Monte-Carlo standard error (MCSE), or the proxy bound, or why there is no
# number. The official-style category comes from the observed data alone (no model), so it
# is the same in every scenario.

# %%
table = compare_table(read_results(folders))
table[display_columns(table)]

# %% [markdown]
# The same as a chart: points are probabilities, bars ±2 MCSE, colours the official-style
# category; proxy bounds are drawn hollow (they are upper bounds, not estimates).

# %%
targets = pd.concat([r.targets for r in runs.values()], ignore_index=True)
charts.scenario_comparison(targets)

# %% [markdown]
# ## 4. What the interventions change
#
# For every target estimated in both a scenario and the baseline: the difference in P(met).
# The standard error treats the two MCSEs as independent; the scenarios transform the same
# posterior draws, so their errors are positively correlated and this is conservative.
# A difference within ±2 standard errors is not distinguishable from Monte-Carlo noise at
# this run length: run without `fast` before reading anything into it.

# %%
base = targets[targets["scenario"] == "baseline"].set_index("target_id")
rows = []
for row in targets[targets["scenario"] != "baseline"].itertuples():
    if row.target_id not in base.index:
        continue
    ref = base.loc[row.target_id]
    p, p0 = row.p_met, ref["p_met"]
    if pd.isna(p) or pd.isna(p0):
        p, p0 = row.p_met_upper, ref["p_met_upper"]  # proxy bounds compare as bounds
        what = "upper bound"
    else:
        what = "estimate"
    if pd.isna(p) or pd.isna(p0):
        continue
    se = float(np.hypot(np.nan_to_num(row.p_met_mcse), np.nan_to_num(ref["p_met_mcse"])))
    delta = p - p0
    rows.append({"scenario": row.scenario, "target_id": row.target_id, "kind": what,
                 "p_baseline": p0, "p_scenario": p, "difference": delta, "se": se,
                 "beyond_noise": bool(abs(delta) > 2 * se) if what == "estimate" else None,
                 "interventions": row.interventions})
effects = pd.DataFrame(rows).round(3)
effects.to_csv(out / "intervention_effects.csv", index=False)
effects

# %% [markdown]
# ## 5. Required acceleration
#
# For each estimated target: the smallest factor on the yearly pace of progress after the
# last observed year (the same transformation as the `accelerate` intervention) that would
# lift P(met) to the scenario's `required_acceleration.probability` (0.8 by default), and
# `value_p80`, the level reached with probability 0.8 in the target year. A factor of 1
# means "none needed"; "not reachable" means no factor up to the cap would do.

# %%
columns = ["scenario", "target_id", "p_met", "q50", "value_p80", "required_factor",
           "required_from_year", "required_acceleration"]
estimated = targets[targets["status"] == "estimated"]
estimated[columns]

# %% [markdown]
# ## 6. When is a target first met?
#
# The distribution of the first year (from the last observed year on) in which a forecast
# path meets the target, and the chance it is not met by the horizon. A target first met in
# 2027 in most paths is a different message from one met in 2030 by a narrow margin, even
# when both have the same P(met in 2030).

# %%
loaded = load_results(folders)
first = [s.first_year for s in loaded.scenarios if s.first_year is not None
         and len(s.first_year)]
if first:
    display(charts.first_year_chart(pd.concat(first, ignore_index=True)))
else:
    print("no estimated target in these scenarios: nothing to show")

# %% [markdown]
# ## 7. One target under several scenarios
#
# The fan of the usage reading of the online-services target (80% of dossiers handled
# online by 2030) in each scenario that forecasts it: median, 50/80/95% bands, observed
# points with their sources, the target line, the 2022 definitional break and the merger.

# %%
ds = load_dataset(scenarios[0].data_dir())
target_id = "thai_nguyen_online_procedures_level34_share_2030_usage"
fans = []
for name, result in runs.items():
    row = result.targets.set_index("target_id").loc[target_id] if target_id in set(
        result.targets["target_id"]) else None
    if row is None or row["status"] != "estimated":
        continue
    geo = row["evaluated_geo"]
    q = result.quantiles
    q = q[(q["indicator"] == row["reading"]) & (q["geo"] == geo)]
    geos = charts.lineage_geos(ds, geo)
    fans.append(charts.fan_chart(
        q, charts.observation_frame(ds, row["reading"], geos), target=row.to_dict(),
        breaks=charts.break_frame(ds, row["reading"], geos), merger=charts.merger_date(ds, geos),
        title=name, unit="%").properties(width=300, height=200))
alt.concat(*fans, columns=2) if fans else "the usage target is not estimated in any scenario"

# %% [markdown]
# ## 8. Reproducibility
#
# Each folder's `manifest.json` records the seed, package versions, hashes of the data and
# the scenario, and whether the run was fast. The same seed and inputs give the same
# numbers.

# %%
manifest = json.loads((folders[0] / "manifest.json").read_text(encoding="utf-8"))
{k: manifest[k] for k in ["scenario", "seed", "fast", "fast_warning", "data_hash",
                          "scenario_hash"]}

# %% [markdown]
# ## Caveats
#
# - Intervention sizes (pace factors, dips) are **assumptions** written in the scenario files,
#   not estimates: no data in `data/` measures the effect of a programme.
# - Proxy targets (basic digital skills) stay upper bounds under every scenario: an
#   intervention on a proxy can only move the bound.
# - Rank targets are `not supported` where the rank model is not available; where it is,
#   read a rank probability with its basis (63 or 34 provinces, in `note`).
# - With `fast = True` the MCSE is larger and the gates are relaxed: not for decisions.
