"""Tests of the curated data in data/ and of scripts/curate_data.py (no tnmodel import)."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
SHARED = REPO.parent / "shared" / "data"
SCRIPT = REPO / "scripts" / "curate_data.py"
GENERATED = [
    "observations.csv",
    "sources.csv",
    "geos.yaml",
    "indicators.yaml",
    "targets.yaml",
    "excluded.csv",
]
#: Raw files whose every row must be accounted for (the two lookup tables hold no data rows).
RAW_DATA_FILES = [
    "research/thainguyen_indicators.csv",
    "research/thainguyen_targets.csv",
    "research/dti_province.csv",
    "research/dti_components_long.csv",
    "research/dti_components_2022.csv",
    "research/dti_national.csv",
    "research/dti_derived_values.csv",
    "research/national_series.csv",
    "internet_users_panel.csv",
]

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"raw data folder {SHARED} is absent")


def read_obs() -> pd.DataFrame:
    return pd.read_csv(DATA / "observations.csv", dtype=str, keep_default_na=False)


def read_yaml(name: str) -> dict:
    with open(DATA / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def raw_refs(rel: str) -> set[str]:
    """'<file>:<physical start line>' of every non-empty record of a raw CSV (header = line 1)."""
    refs = set()
    with open(SHARED / rel, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        prev_end = reader.line_num
        for rec in reader:
            start, prev_end = prev_end + 1, reader.line_num
            if any(c.strip() for c in rec):
                refs.add(f"{rel}:{start}")
    return refs


@needs_shared
def test_rerun_reproduces_committed_files(tmp_path: Path) -> None:
    """Running the script again gives byte-identical files."""
    subprocess.run(
        [sys.executable, str(SCRIPT), "--shared", str(SHARED), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), (
            f"{name} differs from a fresh run"
        )


@needs_shared
def test_every_raw_row_is_accounted_for() -> None:
    """observations + targets + excluded cover exactly the raw data rows."""
    expected = set().union(*(raw_refs(f) for f in RAW_DATA_FILES))
    obs = set(read_obs()["raw"])
    excluded = set(pd.read_csv(DATA / "excluded.csv", dtype=str, keep_default_na=False)["raw"])
    targets = set()
    for t in read_yaml("targets.yaml")["targets"]:
        m = re.search(r"raw: (\S+:\d+)", t["note"])
        assert m, f"target {t['id']} does not name its raw row"
        targets.add(m.group(1))
    covered = obs | excluded | targets
    assert covered - expected == set(), "outputs name raw rows that do not exist"
    assert expected - covered == set(), "raw rows missing from observations, targets and excluded"
    assert not (obs & targets) and not (targets & excluded)
    for rel in RAW_DATA_FILES:
        n_in = len(raw_refs(rel))
        n_out = len({r for r in covered if r.startswith(rel + ":")})
        assert n_in == n_out, f"{rel}: {n_in} rows in, {n_out} accounted for"


def test_share_observations_within_0_100() -> None:
    kinds = {i["id"]: i["kind"] for i in read_yaml("indicators.yaml")["indicators"]}
    obs = read_obs()
    shares = obs[obs["indicator"].map(kinds) == "share"]
    assert len(shares) > 0
    values = shares["value"].astype(float)
    bad = shares[(values < 0) | (values > 100)]
    assert bad.empty, bad[["indicator", "geo", "year", "value", "raw"]].to_string()


def test_source_ids_exist() -> None:
    sources = set(pd.read_csv(DATA / "sources.csv", dtype=str, keep_default_na=False)["id"])
    missing_obs = set(read_obs()["source_id"]) - sources
    missing_tgt = {t["source_id"] for t in read_yaml("targets.yaml")["targets"]} - sources
    assert not missing_obs, f"observation source ids not in sources.csv: {sorted(missing_obs)}"
    assert not missing_tgt, f"target source ids not in sources.csv: {sorted(missing_tgt)}"


def test_references_are_registered() -> None:
    """Every geo and indicator used is registered; ranks carry `among`."""
    geos = {g["id"] for g in read_yaml("geos.yaml")["geos"]}
    indicators = {i["id"]: i for i in read_yaml("indicators.yaml")["indicators"]}
    obs = read_obs()
    assert set(obs["geo"]) <= geos
    assert set(obs["indicator"]) <= set(indicators)
    ranks = obs[obs["indicator"].map(lambda i: indicators[i]["kind"]) == "rank"]
    assert (ranks["among"] != "").all()
    for t in read_yaml("targets.yaml")["targets"]:
        assert t["geo"] in geos and t["indicator"] in indicators and t["reading"] in indicators


def test_held_out_panels_transcription_control_matches_the_shipped_panel():
    """The held-out panels were transcribed the way their control was; the control must equal
    the shipped 12-country panel (../shared) value for value."""
    panel = REPO.parent / "shared" / "data" / "internet_users_panel.csv"
    if not panel.exists():
        pytest.skip("../shared/data is not beside the repository")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "check_heldout_transcription.py"),
         str(REPO / "data" / "heldout" / "transcription_control.csv"), "--panel", str(panel)],
        capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RESULT: OK" in done.stdout
    def panel_number(path: Path) -> int:  # internet_users_heldout.csv is the first
        return int(path.stem.removeprefix("internet_users_heldout") or 1)

    frames = [pd.read_csv(p) for p in sorted((REPO / "data" / "heldout").glob(
        "internet_users_heldout*.csv"), key=panel_number)]
    geos = [set(f["geo"]) for f in frames]
    # data/heldout/README.md: ten panels of 16, and the 12 candidates left for the eleventh.
    assert [len(g) for g in geos] == [16] * 10 + [12]
    assert len(set().union(*geos)) == sum(map(len, geos))  # no country in two panels
    for frame in frames:  # every row names its source; values are shares in percent
        assert frame["source"].str.contains("9db16e18430bbec2a606b2cc51e0c07a30ddbe07").all()
        assert frame["value"].between(0, 100).all()
