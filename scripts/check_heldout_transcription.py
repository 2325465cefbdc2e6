#!/usr/bin/env python3
"""Check a transcription of the OWID internet-users file against the shipped 12-country panel.

The held-out panels in ``data/heldout/`` were transcribed page by page from a stored copy of
the public file share-of-individuals-using-the-internet.csv (github
Youssif-Alashry/Individuals-using-the-internet-dashboard
@ 9db16e18430bbec2a606b2cc51e0c07a30ddbe07).
As a control of that transcription method, the rows of the 12 countries of the existing panel were
transcribed the same way, into a file of the same format (``geo,indicator,year,value,source``).
This script compares that control file with ``shared/data/internet_users_panel.csv``
(``country,iso3,year,value,source``), which was built from the same source file independently.

Every (iso3, year) of the shared panel must appear in the control with an equal value (as floats,
absolute tolerance 1e-9). Reported: mismatches, rows missing from the control, and rows of the
control that the shared panel does not have (split into years outside the panel's year span for
that country, which are expected -- the panel starts in 1995 -- and years inside it, which are
not). Control ``geo`` is matched to the panel's ``country`` by the same rule that made it: the
name lower-cased with every character other than a-z and 0-9 replaced by ``_``.

Exit status 0 when there is no mismatch, no missing row, no unexpected extra row and no unknown
geo; 1 otherwise.

    python scripts/check_heldout_transcription.py data/heldout/transcription_control.csv
    python scripts/check_heldout_transcription.py CONTROL.csv --panel PANEL.csv
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

TOL = 1e-9
DEFAULT_PANEL = Path(__file__).resolve().parents[2] / "shared" / "data" / "internet_users_panel.csv"


def geo_id(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "_", name.lower())


def read_csv(path: Path, required: list[str]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            sys.exit(f"{path}: missing column(s) {missing}; has {reader.fieldnames}")
        return list(reader)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("control", type=Path,
                    help="control transcription (geo,indicator,year,value,source)")
    ap.add_argument("--panel", type=Path, default=DEFAULT_PANEL,
                    help=f"shipped panel (country,iso3,year,value,source); default {DEFAULT_PANEL}")
    args = ap.parse_args(argv)

    panel_rows = read_csv(args.panel, ["country", "iso3", "year", "value", "source"])
    control_rows = read_csv(args.control, ["geo", "indicator", "year", "value", "source"])

    # geo id -> iso3, from the panel's country names
    geo_to_iso: dict[str, str] = {}
    for r in panel_rows:
        g = geo_id(r["country"])
        if geo_to_iso.setdefault(g, r["iso3"]) != r["iso3"]:
            sys.exit(f"panel: country {r['country']!r} maps to two iso3 codes")

    panel: dict[tuple[str, int], tuple[str, str]] = {}
    for r in panel_rows:
        key = (r["iso3"], int(r["year"]))
        if key in panel:
            sys.exit(f"panel: duplicate row {key}")
        panel[key] = (r["value"], r["source"])

    control: dict[tuple[str, int], str] = {}
    unknown_geos: set[str] = set()
    duplicates: list[tuple[str, int]] = []
    indicators: set[str] = set()
    control_sources: set[str] = set()
    for r in control_rows:
        indicators.add(r["indicator"])
        control_sources.add(r["source"])
        iso = geo_to_iso.get(r["geo"])
        if iso is None:
            unknown_geos.add(r["geo"])
            continue
        key = (iso, int(r["year"]))
        if key in control:
            duplicates.append(key)
        control[key] = r["value"]

    span: dict[str, tuple[int, int]] = {}
    for iso, year in panel:
        lo, hi = span.get(iso, (year, year))
        span[iso] = (min(lo, year), max(hi, year))

    mismatches, missing = [], []
    for key in sorted(panel):
        pv = panel[key][0]
        if key not in control:
            missing.append(key)
            continue
        cv = control[key]
        if abs(float(cv) - float(pv)) > TOL:
            mismatches.append((key, pv, cv))
    extra_outside, extra_inside = [], []
    for key in sorted(control):
        if key in panel:
            continue
        iso, year = key
        lo, hi = span[iso]
        (extra_inside if lo <= year <= hi else extra_outside).append(key)
    string_diffs = [k for k in panel if k in control and control[k] != panel[k][0]]

    compared = len(panel) - len(missing)
    print(f"panel:   {args.panel} ({len(panel)} rows, {len(span)} countries)")
    print(f"control: {args.control} ({len(control_rows)} rows; indicator(s) {sorted(indicators)})")
    print(f"compared (iso3, year) pairs: {compared} of {len(panel)}")
    print(f"value mismatches (|diff| > {TOL:g}): {len(mismatches)}")
    for (iso, year), pv, cv in mismatches:
        print(f"  MISMATCH {iso} {year}: panel {pv} control {cv}")
    print(f"panel rows missing from the control: {len(missing)}")
    for iso, year in missing:
        print(f"  MISSING {iso} {year}")
    print(f"control rows not in the panel, inside the panel's year span: {len(extra_inside)}")
    for iso, year in extra_inside:
        print(f"  EXTRA {iso} {year} = {control[(iso, year)]}")
    by_iso: dict[str, list[int]] = {}
    for iso, year in extra_outside:
        by_iso.setdefault(iso, []).append(year)
    print(f"control rows not in the panel, outside its year span (expected): {len(extra_outside)}"
          + "".join(f"\n  {iso}: {min(ys)}-{max(ys)} ({len(ys)} rows)"
                    for iso, ys in sorted(by_iso.items())))
    print(f"control geos not in the panel: {len(unknown_geos)}" +
          (f" {sorted(unknown_geos)}" if unknown_geos else ""))
    if duplicates:
        print(f"duplicate control rows: {duplicates}")
    print(f"value strings differing in form only (equal as floats): {len(string_diffs)}")
    panel_sources = {s for _, s in panel.values()}
    print("source field identical to the panel's: "
          + ("yes" if control_sources == panel_sources
             else f"no (control {sorted(control_sources)})"))

    failed = bool(mismatches or missing or extra_inside or unknown_geos or duplicates)
    print("RESULT: " + ("FAIL" if failed else "OK, zero mismatches"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
