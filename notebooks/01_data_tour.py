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
# # 01 · A tour of the data
#
# Before any model: what is measured, where, when, by whom, and what the numbers do **not**
# say. Every number in `data/` was read in a public source and names it (`source_id`); nothing
# is interpolated or invented. This notebook looks at
#
# 1. the sources (who publishes what),
# 2. coverage per indicator, geo and year, and the gaps,
# 3. definitional breaks (the same name, a different measure),
# 4. the merger of 1 July 2025 and how a series continues across it,
# 5. proxies: indicators that only *bound* a target's indicator.
#
# It fits nothing, so `fast` changes nothing here; it is kept for a uniform papermill
# interface. Paths are relative to `notebooks/`. The notebook writes `coverage.csv` and
# `gaps.csv` to `out_dir`.

# %% tags=["parameters"]
fast = False
data_dir = "../data"
out_dir = "../results/notebooks/01_data_tour"

# %%
from pathlib import Path

from tnmodel.notebook import setup

ROOT = setup(max_colwidth=100)  # caches inside the project, offline charts: before any model

import altair as alt
import pandas as pd

from tnmodel import charts
from tnmodel.data import check_data, load_dataset

out = Path(out_dir)
out.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. Is the folder valid?
#
# `check_data` returns every problem as `file:line: column: message`; only a clean folder
# loads.

# %%
problems = check_data(data_dir)
assert problems == [], "\n".join(map(str, problems))
ds = load_dataset(data_dir)
obs = ds.observations
pd.Series({"observations": len(obs), "sources": len(ds.sources),
           "indicators": len(ds.indicators), "geos": len(ds.geos),
           "targets": len(ds.targets)}, name="count")

# %% [markdown]
# ## 2. Sources
#
# Who the numbers come from. Provincial newspapers and portals report the province's own
# administrative statistics (often part-year snapshots); international series (ITU via the
# World Bank, Our World in Data) give the reference panel of countries. A number republished
# by two sources is one measurement: the model keeps one copy.

# %%
per_source = obs.groupby("source_id").size().rename("observations")
sources = ds.sources.join(per_source, how="left").fillna({"observations": 0})
(sources.groupby(["publisher", "kind"])["observations"].agg(["count", "sum"])
 .rename(columns={"count": "sources", "sum": "observations"})
 .sort_values("observations", ascending=False).head(20))

# %% [markdown]
# ## 3. Coverage per indicator, geo and year
#
# The table below counts observations per indicator and kind: how many geos, which years,
# how many part-year snapshots (`period` not empty) and bounds (`bound` not empty). A share
# with a few points over a few years is a weak basis for a 2030 forecast, whatever the model.

# %%
obs = obs.assign(part_year=obs["period"] != "", is_bound=obs["bound"] != "",
                 kind=obs["indicator"].map(lambda i: ds.indicators[i].kind))
coverage = (obs.groupby(["indicator", "kind"])
            .agg(observations=("value", "size"), geos=("geo", "nunique"),
                 first_year=("year", "min"), last_year=("year", "max"),
                 years=("year", "nunique"), part_year=("part_year", "sum"),
                 bounds=("is_bound", "sum"))
            .reset_index().sort_values(["kind", "observations"], ascending=[True, False]))
coverage.to_csv(out / "coverage.csv", index=False)
coverage

# %% [markdown]
# The indicators the 2030 targets are read as (and their proxies), geo by year since 2010
# (number of observations in a cell). Thái Nguyên before the merger (`thai_nguyen`), after it
# (`thai_nguyen_merged`), its neighbour Bắc Kạn and the national series. Empty cells are
# years without any figure.

# %%
goals = [t for t in ds.targets.values()
         if t.geo in ("thai_nguyen", "thai_nguyen_merged") and t.year == 2030]
key = sorted({t.reading for t in goals}
             | {p.indicator for t in goals for p in ds.indicators[t.reading].proxies})
key = [k for k in key if len(ds.series(k))]  # readings with no measured series have no rows
places = ["thai_nguyen", "thai_nguyen_merged", "bac_kan", "vietnam"]
places = [g for g in places if g in ds.geos]
cells = (obs[obs["indicator"].isin(key) & obs["geo"].isin(places) & (obs["year"] >= 2010)]
         .groupby(["indicator", "geo", "year"]).size().rename("n").reset_index())
alt.Chart(cells).mark_rect().encode(
    x=alt.X("year:O", title="year"),
    y=alt.Y("geo:N", title=None, sort=places),
    color=alt.Color("n:Q", title="observations", scale=alt.Scale(scheme="blues")),
    tooltip=["indicator", "geo", "year", "n"],
).properties(width=420, height=70).facet(
    row=alt.Row("indicator:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")))

# %% [markdown]
# ## 4. Gaps
#
# For each key indicator and place: the years between its first and last observation with no
# observation at all. A gap is not filled in: the model sees the years it has, and its
# uncertainty widens where data are thin. A single observation is not a trend.

# %%
rows = []
for (indicator, geo), group in obs[obs["indicator"].isin(key) & obs["geo"].isin(places)].groupby(
        ["indicator", "geo"]):
    years = sorted(set(group["year"]))
    missing = sorted(set(range(years[0], years[-1] + 1)) - set(years))
    rows.append({"indicator": indicator, "geo": geo, "years_observed": len(years),
                 "span": f"{years[0]}-{years[-1]}",
                 "missing_years": ", ".join(map(str, missing)) or "—",
                 "part_year_share": round(float(group["part_year"].mean()), 2)})
gaps = pd.DataFrame(rows)
gaps.to_csv(out / "gaps.csv", index=False)
gaps

# %% [markdown]
# ## 5. Definitional breaks
#
# An indicator can keep its name while what it measures changes. The registry records each
# break with its year; charts draw them as dotted rules. The most important one here:
# Decree 42/2022 replaced online-service *levels 3 and 4* by *partial* and *full-process*
# (*toàn trình*) online services, so the series before and after 2022 are not strictly the
# same measure. The trend model does not include a break term (yet): read long extrapolations
# across a break with care.

# %%
breaks = pd.DataFrame([{"indicator": ind.id, "year": b.year, "geo": b.geo or "all",
                        "what": b.what}
                       for ind in ds.indicators.values() for b in ind.breaks],
                      columns=["indicator", "year", "geo", "what"])
print(f"{len(breaks)} breaks recorded for {breaks['indicator'].nunique()} indicators; "
      "those of the key indicators:")
breaks[breaks["indicator"].isin(key)]

# %% [markdown]
# The online dossier share of Thái Nguyên with its sources (hover a point for value, period,
# source and URL), the 2022 break (dotted) and the merger (dash-dot). No forecast here: only
# observations. Two points, a part-year snapshot each, three years apart, on both sides of
# a break and a merger: this is the whole provincial record of the usage target.

# %%
geos = charts.lineage_geos(ds, "thai_nguyen_merged")
points = charts.observation_frame(ds, "online_dossier_share", geos)
layer = alt.Chart(points).mark_point(filled=True, size=60).encode(
    x=alt.X("year:Q", axis=alt.Axis(format="d"), scale=alt.Scale(domain=[2019, 2031])),
    y=alt.Y("value:Q", title="dossiers handled online (%)", scale=alt.Scale(domain=[0, 100])),
    color="geo:N", shape="period:N",
    tooltip=["geo", "year", "value", "period", "source", "url"])
marks = charts.break_frame(ds, "online_dossier_share", geos)
rules = alt.Chart(marks).mark_rule(strokeDash=[2, 2], color="#8e44ad").encode(
    x="year:Q", tooltip=["year", "what"])
merger = pd.DataFrame({"year": [charts.year_fraction(charts.merger_date(ds, geos))],
                       "what": ["merger of 1 July 2025"]})
rules += alt.Chart(merger).mark_rule(strokeDash=[8, 3], color="#d35400").encode(
    x="year:Q", tooltip=["what"])
(layer + rules).properties(width=520, title="Online dossier share, Thái Nguyên (all lineage)")

# %% [markdown]
# ## 6. The merger of 1 July 2025
#
# Thái Nguyên and Bắc Kạn became one province, *Thái Nguyên (sau sáp nhập)*, geo
# `thai_nguyen_merged`. Scenarios with `lineage: follow` continue the old province's
# observations as the merged province's series (the same administration, a larger area);
# Bắc Kạn, a different place, keeps its own series. This is a modelling choice: the merged
# province's share is not the old one's (Bắc Kạn was poorer and more rural), so the first
# years after the merger carry a level shift the trend cannot know about.

# %%
lineage = pd.DataFrame([{"geo": g.id, "name_vi": g.name_vi, "merged_into": g.merged_into,
                         "merged_on": g.merged_on, "population": g.population}
                        for g in ds.geos.values() if g.merged_into])
lineage

# %%
after = obs[obs["geo"] == "thai_nguyen_merged"][["indicator", "year", "value", "period",
                                                  "source_id"]]
print(f"{len(after)} observations already published for the merged province")
after

# %% [markdown]
# ## 7. Proxies are bounds
#
# Basic digital skills (*kỹ năng số cơ bản*), a headline target (85% of the population by
# 2030), have no measured series. Internet use and adult smartphone ownership bound them
# from above: someone with basic digital skills uses the internet, not the other way round.
# A probability computed from a proxy is therefore an **upper bound** on the probability
# that the skills target is met, **not an estimate**; the truth may be much lower.

# %%
proxy_rows = [{"indicator": ind.id, "proxy": p.indicator, "relation": p.relation,
               "measured_obs_of_indicator": len(ds.series(ind.id)),
               "obs_of_proxy": len(ds.series(p.indicator))}
              for ind in ds.indicators.values() for p in ind.proxies]
pd.DataFrame(proxy_rows)

# %% [markdown]
# ## 8. The targets and their readings
#
# A target in `targets.yaml` is one *reading* of a public target: the indicator actually
# measured (`reading`) may differ from the target's wording (`indicator`). The online-services
# target is read twice: as usage (dossiers handled online) and as supply (procedures offered
# online). Rank targets (DTI) need the latent-standing rank model; without it they get no
# probability.

# %%
columns = ["geo", "indicator", "reading", "year", "comparator", "threshold", "among"]
pd.DataFrame([t.model_dump() for t in ds.targets.values()]).set_index("id")[columns]

# %% [markdown]
# ## Caveats
#
# - Most provincial figures are part-year snapshots from newspaper articles; their
#   denominators are not always stated (e.g. the early-2022 Ministry figure is likely a share
#   of dossiers of services offered online, not of all dossiers).
# - Ranks changed basis in 2025 (63 provinces to 34); they are not comparable across the
#   merger without a model of latent standing.
# - `data/excluded.csv` lists values that were read but not used, with the reason.
