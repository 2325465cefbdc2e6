"""Shared fixtures. Everything here is SIMULATED data (geo ids start with ``sim_``)."""

from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYTENSOR_FLAGS", f"compiledir={REPO / '.cache' / 'pytensor'}")
os.environ.setdefault("TNMODEL_PROGRESS", "0")
# Fits made by the tests go to a fresh folder per session: a cached fit from an earlier run
# must never make a reproducibility test pass on its own.
os.environ["TNMODEL_CACHE_DIR"] = tempfile.mkdtemp(prefix="tnmodel-test-fits-")

SIM_INDICATORS = """\
indicators:
- id: sim_share
  label_en: Simulated share
  label_vi: Tỷ lệ mô phỏng
  unit: percent
  kind: share
  lower: 0
  upper: 100
  direction: higher_is_better
  definition: A simulated bounded share for tests.
- id: sim_proxy
  label_en: Simulated proxy
  label_vi: Chỉ số đại diện mô phỏng
  unit: percent
  kind: share
  lower: 0
  upper: 100
- id: sim_skills
  label_en: Simulated skills
  label_vi: Kỹ năng mô phỏng
  unit: percent
  kind: share
  lower: 0
  upper: 100
  proxies:
  - indicator: sim_proxy
    relation: upper_bound
- id: sim_rank
  label_en: Simulated rank
  label_vi: Xếp hạng mô phỏng
  unit: rank
  kind: rank
  lower: 1
  direction: lower_is_better
"""

SIM_GEOS = """\
geos:
- id: sim_north
  name_vi: Bắc mô phỏng
  name_en: Sim North
  level: province
  merged_into: sim_merged
  merged_on: '2025-07-01'
- id: sim_south
  name_vi: Nam mô phỏng
  name_en: Sim South
  level: province
- id: sim_merged
  name_vi: Hợp nhất mô phỏng
  name_en: Sim Merged
  level: province
"""

SIM_TARGETS = """\
targets:
- id: sim_north_share_2030
  geo: sim_north
  indicator: sim_share
  reading: sim_share
  year: 2030
  comparator: '>='
  threshold: 80
  instrument: Simulated resolution
  source_id: src_sim
- id: sim_north_skills_2030
  geo: sim_north
  indicator: sim_skills
  reading: sim_skills
  year: 2030
  comparator: '>='
  threshold: 85
  instrument: Simulated resolution
  source_id: src_sim
- id: sim_north_rank_2030
  geo: sim_north
  indicator: sim_rank
  reading: sim_rank
  year: 2030
  comparator: '<='
  threshold: 20
  among: 63
  instrument: Simulated resolution
  source_id: src_sim
"""

SIM_SOURCES = """\
id,url,publisher,title,date,kind
src_sim,https://example.org/simulated,example.org,Simulated source for tests,,page
"""

SIM_OBSERVATIONS = """\
geo,indicator,year,value,source_id,period,bound,among,quote,note,raw
sim_north,sim_share,2019,30,src_sim,,,,,,
sim_north,sim_share,2021,45,src_sim,,,,,,
sim_merged,sim_share,2025,70,src_sim,,,,,,
sim_south,sim_share,2018,20,src_sim,,,,,,
sim_south,sim_share,2020,31,src_sim,,,,,,
sim_south,sim_share,2022,44,src_sim,2022-01/2022-03,,,,,
sim_south,sim_share,2024,58,src_sim,,,,,,
sim_north,sim_proxy,2018,60,src_sim,,,,,,
sim_north,sim_proxy,2023,80,src_sim,,,,,,
sim_south,sim_proxy,2020,55,src_sim,,,,,,
sim_south,sim_proxy,2022,66,src_sim,,,,,,
sim_south,sim_proxy,2024,75,src_sim,,,,,,
sim_north,sim_rank,2022,8,src_sim,,,63,,,
"""


SIM_PUSH = """\
name: sim_push
title: Simulated push
extends: sim_baseline
interventions:
  - type: accelerate
    indicator: sim_share
    geo: sim_north
    from_year: 2025
    factor: {distribution: lognormal, median: 2.0, p90: 2.5}
"""


def write_sim_data(folder: Path) -> Path:
    """Write a small valid SIMULATED data folder and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "indicators.yaml").write_text(SIM_INDICATORS, encoding="utf-8")
    (folder / "geos.yaml").write_text(SIM_GEOS, encoding="utf-8")
    (folder / "targets.yaml").write_text(SIM_TARGETS, encoding="utf-8")
    (folder / "sources.csv").write_text(SIM_SOURCES, encoding="utf-8")
    (folder / "observations.csv").write_text(SIM_OBSERVATIONS, encoding="utf-8")
    return folder


def write_sim_scenario(folder: Path, data: Path, **overrides: str) -> Path:
    """A scenario over the simulated data (fast, small sampler)."""
    body = textwrap.dedent(f"""\
        name: {overrides.get('name', 'sim_baseline')}
        title: Simulated baseline
        data: {data}
        targets: [sim_north_share_2030, sim_north_skills_2030, sim_north_rank_2030]
        sampler: {{chains: 2, draws: 500, tune: 500}}
        gates: {{min_ess_bulk: 100, max_rhat: 1.05}}
        seed: 7
        """)
    path = folder / f"{overrides.get('name', 'sim_baseline')}.yaml"
    path.write_text(body + overrides.get("extra", ""), encoding="utf-8")
    return path


@pytest.fixture
def sim_data(tmp_path: Path) -> Path:
    return write_sim_data(tmp_path / "sim_data")
