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
# # Will Thái Nguyên meet its 2030 digital-transformation targets?
#
# This notebook walks from the curated data to the verdict of one scenario (by default
# `baseline`, *business as usual*: the observed trends continue). The targets come from the
# province's digital-transformation resolution, **Nghị quyết 01-NQ/TU** (31/12/2020) of the
# Thái Nguyên Party Committee, and are evaluated for 2030.
#
# Everything below is what `tnmodel run scenarios/baseline.yaml` does, one step at a time.
# The notebook runs top to bottom in a fresh kernel from the `notebooks/` folder.

# %% [markdown]
# ## Parameters
#
# `fast = True` runs short MCMC chains with relaxed convergence gates: for previews and CI,
# not for decisions (the run manifest records it). Paths are relative to `notebooks/`.
# With papermill: `papermill 01_thai_nguyen_targets.ipynb out.ipynb -p fast True`.

# %% tags=["parameters"]
fast = False
scenario_file = "../scenarios/baseline.yaml"
data_dir = "../data"
out_dir = "../results"

# %% [markdown]
# ## 1. The data
#
# Every number in `data/` was read in a public source and names it (`source_id`). `check_data`
# returns every problem as `file:line: column: message`; an empty list means the folder is
# valid, and only then does `load_dataset` succeed.

# %%
# ruff: noqa: E402 -- in a notebook the imports follow the papermill parameters cell
import json

import pandas as pd

from tnmodel.data import check_data, load_dataset

pd.set_option("display.max_colwidth", 120)

problems = check_data(data_dir)
assert problems == [], problems
print("problems found:", problems)

# %%
ds = load_dataset(data_dir)
counts = {
    "observations": len(ds.observations),
    "sources": len(ds.sources),
    "indicators": len(ds.indicators),
    "geos": len(ds.geos),
    "targets": len(ds.targets),
}
pd.Series(counts, name="count")

# %% [markdown]
# The key indicators for Thái Nguyên: the online dossier share (*tỷ lệ hồ sơ trực tuyến*), the
# share of internet users (*tỷ lệ người sử dụng Internet*) and of adults with a smartphone
# (*tỷ lệ người trưởng thành có điện thoại thông minh*). Read `period`, `bound` and `note`
# before reading `value`.

# %%
key = ["online_dossier_share", "internet_users_share", "adult_smartphone_share"]
obs = ds.observations
tn = obs[obs["indicator"].isin(key) & obs["geo"].isin(["thai_nguyen", "thai_nguyen_merged"])]
tn = tn.assign(url=[ds.sources.loc[s, "url"] for s in tn["source_id"]])
tn[["indicator", "geo", "year", "value", "period", "bound", "note", "url"]]

# %% [markdown]
# Four traps in these numbers:
#
# 1. **Usage or supply.** The resolution says *"thủ tục hành chính đủ điều kiện được cung cấp
#    trực tuyến mức độ 3 và 4 đạt 80%"*: literally a *supply* measure (eligible procedures
#    offered online), which the province already reported at 100% in 2022. The project's
#    default reading is *usage*: the share of dossiers actually handled online. The scenario
#    evaluates both readings side by side.
# 2. **Part-year snapshots.** A non-empty `period` means the value covers a window
#    (`2022-01/2022-03`), a month (`2024-07`), an unstated part of the year (`part-year`) or an
#    uncertain year (`circa`), not a full year. The model gives these extra observation error.
# 3. **The merger of 1 July 2025.** Thái Nguyên and Bắc Kạn became one province,
#    *Thái Nguyên (sau sáp nhập)*, geo `thai_nguyen_merged`. With `lineage: follow` the old
#    province's observations continue as the merged province's series; Bắc Kạn, a different
#    place, keeps its own series.
# 4. **Proxies are bounds.** Basic digital skills (*kỹ năng số cơ bản*) have no measured
#    series. Internet use and smartphone ownership bound them from above: someone with basic
#    digital skills uses the internet, not the other way round.

# %%
old = ds.geos["thai_nguyen"]
new = ds.geos[old.merged_into]
{
    "merged_into": old.merged_into,
    "merged_on": old.merged_on,
    "name_vi": new.name_vi,
    "predecessors": [g.id for g in ds.geos.values() if g.merged_into == new.id],
}

# %%
skills = ds.indicators["basic_digital_skills_share"]
print(f"{skills.label_vi}: {len(ds.series(skills.id))} measured observations")
pd.DataFrame([p.model_dump() for p in skills.proxies])

# %% [markdown]
# ## 2. The targets of the scenario
#
# A scenario file lists target ids from `data/targets.yaml`. Each target is one *reading* of a
# public target: the indicator that is actually measured (`reading`) and the test it must pass
# in `year` for the target's `geo`.

# %%
from tnmodel.scenario import load_scenario

sc = load_scenario(scenario_file)
print(f"{sc.name}: {sc.title}")
columns = ["id", "geo", "reading", "year", "comparator", "threshold", "instrument"]
pd.DataFrame([ds.targets[t].model_dump() for t in sc.targets])[columns]

# %% [markdown]
# ## 3. The run
#
# `run_scenario` fits each indicator it needs once (a logit-linear trend pooled across geos,
# sampled with nutpie), draws yearly forecast paths up to the horizon and evaluates every
# target. It reads the scenario's own data folder; section 6 checks that it is the data shown
# above. `write_result` writes `results/<scenario>/` (targets, quantiles, posterior,
# manifest) in one step, so a failed run leaves nothing half-written.

# %%
from tnmodel.runner import run_scenario, write_result

result = run_scenario(sc, fast=fast)
folder = write_result(result, out_dir)
print("written to", folder)

# %%
columns = ["target_id", "status", "p_met", "p_met_mcse", "p_met_upper", "q05", "q50", "q95",
           "verdict", "baseline_category", "note"]
result.targets[columns]

# %% [markdown]
# How to read the table, by `status`:
#
# - **estimated**: the reading has data for the evaluated geo (after the merger,
#   `thai_nguyen_merged`). `p_met` is the share of forecast draws of the target-year value
#   that meet the target; `q05`, `q50`, `q95` are that value's median and 90% interval;
#   `verdict` puts `p_met` in calibrated words (IPCC scale: ≥ 0.90 *very likely*, ≥ 0.66
#   *likely*, …).
# - **upper bound via proxy**: no measured series; `p_met_upper` is the smallest of the
#   proxies' probabilities, an upper bound, **not an estimate**. The truth may be much lower.
# - **insufficient data**: the data cannot support a number yet; `note` says why.
# - **estimated (rank model)**: a rank target ("top 20"): `p_met` is P(rank ≤ k) from the
#   latent-standing rank model, `q05`/`q50`/`q95` are ranks; `note` gives the basis (63
#   pre-merger or 34 post-merger provinces), the 80% rank interval and the caveats.
# - **not supported**: the indicator's kind has no model yet.
#
# `p_met_mcse` is the Monte-Carlo standard error of `p_met`: the noise from running a finite,
# autocorrelated MCMC sample, not the uncertainty about the future. Differences smaller than
# about two MCSE mean nothing; fast runs have larger MCSE. `baseline_category` is what an
# official dashboard would print (the Statistics Canada / Open SDG growth-rate method, no
# model), shown for comparison.

# %% [markdown]
# ## 4. Diagnostics
#
# Nothing is written unless every fit passes its gates: R-hat ≤ 1.01, bulk ESS ≥ 400 and no
# divergences. In fast mode the ESS (and R-hat) gates are relaxed; the gates printed are the
# ones this run used. `series` lists the geos pooled in each fit.

# %%
print("sampler:", result.scenario.sampler)
print("gates:  ", result.scenario.gates)
pd.DataFrame.from_dict({
    indicator: fit.diagnostics.as_dict() | {"series": ", ".join(fit.series.geos)}
    for indicator, fit in result.fits.items()
}, orient="index")

# %% [markdown]
# ## 5. The usage target, as a fan chart
#
# The forecast of the online dossier share of the merged province (median and 90% band), the
# observed points of its series (old and merged province) and the 80% target line. Few
# points, most of them part-year snapshots: the band is wide for a reason.

# %%
import altair as alt

if "svg" in alt.renderers.names():
    alt.renderers.enable("svg")  # a static picture: no JavaScript, nothing from a CDN

usage = ds.targets["thai_nguyen_online_procedures_level34_share_2030_usage"]
geo = ds.successor(usage.geo)
q = result.quantiles
fan = q[(q["indicator"] == usage.reading) & (q["geo"] == geo)]
seen = ds.series(usage.reading, [usage.geo, geo])[["geo", "year", "value", "period"]]
x = alt.X("year:Q", axis=alt.Axis(format="d"), title=None)
y = alt.Y("q05:Q", scale=alt.Scale(domain=[0, 100]), title="dossiers handled online (%)")
band = alt.Chart(fan).mark_area(opacity=0.25).encode(x, y, alt.Y2("q95:Q"))
median = alt.Chart(fan).mark_line().encode(x, alt.Y("q50:Q"))
points = alt.Chart(seen).mark_point(filled=True, size=70).encode(
    x, alt.Y("value:Q"), color="geo:N", tooltip=["geo", "year", "value", "period"])
rule = alt.Chart(pd.DataFrame({"target": [usage.threshold]})).mark_rule(
    strokeDash=[4, 4]).encode(alt.Y("target:Q"))
title = f"{ds.indicators[usage.reading].label_vi}, {ds.geos[geo].name_vi}"
(band + median + points + rule).properties(width=520, title=title)

# %% [markdown]
# ## 6. The manifest
#
# `manifest.json` records what is needed to reproduce the run: the seed, the package versions,
# the hashes of the data and the scenario, and whether it was a fast run.

# %%
manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
assert manifest["data_hash"] == ds.content_hash, "the run read other data than section 1"
{k: manifest[k] for k in ["seed", "fast", "fast_warning", "data_hash", "scenario_hash",
                          "versions"]}

# %% [markdown]
# ## What this does not say yet
#
# - **Ranks on the 34 basis.** The DTI targets (*nhóm 20* in digital government, *nhóm 10*
#   in digital transformation) are read among the 63 pre-merger provinces. The ranking itself
#   changed in 2025, from 63 provinces to 34; `data/geos.yaml` records the merger of only some
#   provinces, so the 34-basis reading (`scenarios/post_merger_ranks.yaml`) prints no number yet.
# - **Skills are only bounded.** Basic digital skills (*kỹ năng số cơ bản*) have no measured
#   series; the proxy probability is an upper bound, and the true chance may be much lower.
# - **The 2022 definitional break.** Decree 42/2022 replaced online-service levels 3 and 4 by
#   partial and full-process (*toàn trình*) online services. Series before and after 2022 are
#   not strictly continuous; the trend model does not yet include a break.
# - **The denominators of the 2022 MIC statistic.** The early-2022 online dossier share of
#   Thái Nguyên (Ministry of Information and Communications, *Bộ TT&TT*) is likely a share of
#   dossiers of the services offered online at level 3/4, not of all dossiers, so it is not
#   strictly comparable with the later "share of all dossiers" figures it is fitted with.
