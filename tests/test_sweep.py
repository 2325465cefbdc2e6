"""tnmodel.sweep: variants grouped by the fits they share; serial and Dask give one table."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import write_sim_scenario  # noqa: I001

from tnmodel.baselines import BaselineSettings
from tnmodel.scenario import load_scenario
from tnmodel.sweep import Variant, fit_signature, run_sweep


@pytest.fixture
def sim_variants(tmp_path, sim_data):
    base = load_scenario(write_sim_scenario(tmp_path, sim_data))
    return [
        Variant("seed7", base, {"seed": 7}),
        Variant("seed7_aroc", base.model_copy(update={"baseline": BaselineSettings(
            method="aroc")}), {"seed": 7, "baseline.method": "aroc"}),
        Variant("seed8", base.model_copy(update={"seed": 8}), {"seed": 8}),
    ]


def test_fit_signature_ignores_what_does_not_change_fits(sim_variants):
    seed7, aroc, seed8 = (fit_signature(v.scenario, fast=True) for v in sim_variants)
    assert seed7 == aroc
    assert seed7 != seed8
    longer = sim_variants[0].scenario.model_copy(
        update={"sampler": sim_variants[0].scenario.sampler.model_copy(update={"draws": 600})})
    assert fit_signature(longer, fast=False) != fit_signature(sim_variants[0].scenario, False)
    assert fit_signature(longer, fast=True) == seed7  # --fast replaces the sampler


def test_repeated_variant_names_are_refused(sim_variants):
    with pytest.raises(ValueError, match="repeated: seed7"):
        run_sweep([sim_variants[0], sim_variants[0]])


@pytest.mark.slow
@pytest.mark.integration
def test_dask_sweep_equals_serial_sweep(tmp_path, sim_variants):
    serial = run_sweep(sim_variants, fast=True, cache_dir=tmp_path / "serial-fits")
    dask = run_sweep(sim_variants, executor="dask", workers=2, fast=True,
                     cache_dir=tmp_path / "dask-fits")
    assert serial.manifest["fit_groups"] == 2 and dask.manifest["executor"] == "dask"
    assert list(serial.table["variant"].unique()) == ["seed7", "seed7_aroc", "seed8"]
    pd.testing.assert_frame_equal(serial.table, dask.table)
    # Different seeds give different numbers (the comparison above is not vacuous).
    share = serial.table[serial.table["target_id"] == "sim_north_share_2030"]
    assert share["p_met"].iloc[0] != share["p_met"].iloc[2] or \
        share["q50"].iloc[0] != share["q50"].iloc[2]
