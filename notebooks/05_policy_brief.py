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
# # 05 · Policy brief: will Thái Nguyên meet its 2030 digital-transformation targets?
#
# The advisor's view, in plain words. The targets come from the province's
# digital-transformation resolution, **Nghị quyết 01-NQ/TU** (31/12/2020), evaluated for
# 2030, for the province formed on 1 July 2025 (Thái Nguyên with Bắc Kạn). The questions:
#
# 1. How likely is each target, under each scenario?
# 2. What does the path to 2030 look like?
# 3. What would have to change for a target that is not on course?
# 4. What do these numbers not say?
#
# Probabilities are put in words on the IPCC likelihood scale: *very likely* ≥ 0.90,
# *likely* ≥ 0.66, *about as likely as not* ≥ 0.33, *unlikely* ≥ 0.10, *very unlikely* ≥ 0.01.
# The same content, in Vietnamese and English, is in the offline report written at the end.
#
# `fast = True` gives a preview with short chains: **do not base decisions on a fast run**
# (the manifest of every result says whether it was fast).

# %% tags=["parameters"]
fast = False
scenario_dir = "../scenarios"
bar_file = "../docs/backtests/bar.yaml"
out_dir = "../results/notebooks/05_policy_brief"

# %%
from pathlib import Path

from tnmodel.notebook import scenario_files, setup

ROOT = setup(max_colwidth=120)  # caches inside the project, offline charts: before any model

import altair as alt
import pandas as pd
from IPython.display import Markdown, display

from tnmodel import charts
from tnmodel.data import load_dataset
from tnmodel.report import target_label, write_report
from tnmodel.runner import run_scenario, write_result
from tnmodel.scenario import load_scenario
from tnmodel.targets import likelihood_words

out = Path(out_dir)

# %% [markdown]
# ## The scenarios
#
# Business as usual (`baseline`) and what-ifs. Intervention sizes are **assumptions** stated
# in each scenario file, not measured effects. The runs reuse cached fits, so they are quick
# once notebook 02 or 03 (or `make run`) has fitted the models.

# %%
files = scenario_files(scenario_dir)
scenarios = [load_scenario(f) for f in files]
runs, folders = {}, []
for sc in scenarios:
    runs[sc.name] = run_scenario(sc, fast=fast)
    folders.append(write_result(runs[sc.name], out))
ds = load_dataset(scenarios[0].data_dir())
targets = pd.concat([r.targets for r in runs.values()], ignore_index=True)
titles = {sc.name: sc.title for sc in scenarios}
if fast:
    print("FAST RUN: a preview with short chains and relaxed gates, not for decisions.")
pd.DataFrame({"scenario": list(titles), "title": list(titles.values())})


# %% [markdown]
# ## 1. The verdicts
#
# One sentence per target and scenario. *Estimated* targets get a probability (± two
# Monte-Carlo standard errors: the noise of the simulation, not the uncertainty about the
# future, which the probability itself expresses) and the forecast's median and 90%
# interval. Targets without a measured series get a **bound** through their proxies:
# "at most" means the true chance may be much lower. Rank targets get a probability only
# where the rank model is available.

# %%
def sentence(row) -> str:
    """The verdict of one target in one scenario, in plain words."""
    if row["status"] == "estimated":
        p = row["p_met"]
        return (f"{likelihood_words(p)} (P = {p:.2f} ± {2 * row['p_met_mcse']:.2f}); "
                f"{row['year']:.0f} value: median {row['q50']:.0f}, 90% interval "
                f"{row['q05']:.0f}-{row['q95']:.0f} (target {row['comparator']} "
                f"{row['threshold']:g})")
    if pd.notna(row.get("p_met_upper")):
        p = row["p_met_upper"]
        return (f"P ≤ {p:.2f} (at most '{likelihood_words(p)}'): an upper bound from proxies, "
                "not an estimate; the true chance may be much lower")
    return f"no probability ({row['status']}): {row['note']}"


targets["label"] = [target_label(ds, row, "en") for row in targets.to_dict("records")]
targets["in words"] = [sentence(row) for row in targets.to_dict("records")]
verdicts = targets.pivot_table(index="label", columns="scenario", values="in words",
                               aggfunc="first", sort=False)
verdicts = verdicts[[s for s in titles if s in verdicts.columns]].fillna(
    "— (not in this scenario)")
verdicts.to_csv(out / "verdicts.csv")
verdicts

# %% [markdown]
# In short, business as usual:

# %%
lines = []
for row in targets[targets["scenario"] == "baseline"].to_dict("records"):
    lines.append(f"- **{row['label']}**: {sentence(row)}.")
display(Markdown("\n".join(lines)))

# %% [markdown]
# The same probabilities side by side (bars: ±2 Monte-Carlo errors; hollow marks are proxy
# upper bounds; colour: the category an official "on track?" dashboard would print from the
# observed data alone).

# %%
charts.scenario_comparison(targets, labels=dict(zip(targets["target_id"], targets["label"],
                                                    strict=False)))

# %% [markdown]
# ## 2. The path to 2030, target by target (business as usual)
#
# Forecast median with 50/80/95% bands, the observed points (hover for value, period and
# source), the target line and year, definitional breaks and the 2025 merger. For a target
# bounded by proxies, the proxies' fans are shown: if a proxy stays below the target, the
# target itself is very unlikely; if it clears the target, nothing follows for the target.

# %%
baseline = runs["baseline"] if "baseline" in runs else next(iter(runs.values()))
q = baseline.quantiles
fans = []
for row in baseline.targets.to_dict("records"):
    indicators = baseline.manifest["targets"][row["target_id"]]["indicators"]
    geo = row["evaluated_geo"]
    geos = charts.lineage_geos(ds, geo)
    for indicator in indicators:
        series = q[(q["indicator"] == indicator) & (q["geo"] == geo)]
        if series.empty:
            continue
        name = ds.indicators[indicator].label_en
        if indicator != row["reading"]:
            name += " (proxy, upper bound)"
        fans.append(charts.fan_chart(
            series, charts.observation_frame(ds, indicator, geos), target=row,
            breaks=charts.break_frame(ds, indicator, geos), merger=charts.merger_date(ds, geos),
            title=f"{name} · {geo}", unit=ds.indicators[indicator].unit))
alt.vconcat(*fans) if fans else "no target with a forecast in the baseline"

# %% [markdown]
# ## 3. What would have to change
#
# For each estimated target not already likely to be met: the factor by which the yearly
# pace of progress after the last observed year would have to grow to reach an 80% chance
# (`required_acceleration`), and the level that is reached with 80% probability in the
# target year (`value_p80`). "x1.5" means progress 50% faster every year from then on.

# %%
needs = targets[targets["status"] == "estimated"][
    ["scenario", "label", "p_met", "value_p80", "required_acceleration"]].round(2)
needs

# %% [markdown]
# ## 4. Caveats: read before quoting a number
#
# - **Fast runs are previews.** Short chains, relaxed convergence gates, larger Monte-Carlo
#   error; rerun without `fast` (`make run`) before a decision.
# - **Proxy bounds are bounds.** Basic digital skills (85% target) have no measured series.
#   Internet use and smartphone ownership bound skills from above; "at most P" may hide a
#   much lower true chance.
# - **Thin data.** The provincial series rest on one to three points, mostly part-year
#   snapshots (the usage reading: early 2022 and 2025; adult smartphone ownership: one
#   value). Their paces come largely from the pool and the prior (notebook 02 shows how
#   little the data narrow them), which is why some fans widen so much towards 2030.
# - **Ranks.** The DTI targets (top 20 in digital government, top 10 in digital
#   transformation) need the latent-standing rank model; without it they get no probability.
#   The ranking changed from 63 to 34 provinces in 2025: a rank probability holds only for
#   the basis named in its `note`.
# - **Definitional breaks.** Decree 42/2022 redefined online public services (levels 3/4 to
#   partial/full-process); the trend model has no break term.
# - **The merger.** The merged province's series continues the old Thái Nguyên's
#   observations; Bắc Kạn's lower levels may pull the true merged share below that path.
# - **Scenario sizes are assumptions.** Pace factors and dips in the scenario files are
#   stated assumptions, not estimated programme effects.
# - **Usage or supply.** The resolution's wording can be read as procedures *offered*
#   online (supply, already near 100%) or dossiers *handled* online (usage); both readings
#   are shown, and they answer different questions.

# %% [markdown]
# ## 5. The offline report
#
# `tnmodel.report.write_report` turns result folders into **one HTML file** that opens with
# no internet (Vega inlined, nothing fetched), in Vietnamese and English, with the verdict
# table, the charts, each scenario's assumptions, the data provenance (every observation
# with its source) and these caveats. With `bar_file` it also says how the growth model
# fared on its back-tests: whether it meets its bar (calibrated intervals, and better than
# simple trend rules) on each. From a terminal:
#
# ```sh
# tnmodel run scenarios/*.yaml --out results
# tnmodel report results docs/backtests/bar.yaml --out reports/index.html   # or: make run
# ```

# %%
report = write_report([*folders, Path(bar_file)], out / "report.html",
                      data_dir=scenarios[0].data_dir())
print(f"wrote {report} ({report.stat().st_size / 1e6:.1f} MB); open it in any browser, offline")
