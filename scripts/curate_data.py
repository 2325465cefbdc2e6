#!/usr/bin/env python3
"""Curate the raw research data in ``shared/data`` into the tidy files in ``data/``.

Usage::

    python scripts/curate_data.py [--shared PATH] [--out PATH]

Defaults: ``--shared`` = ``<repo>/../shared/data``, ``--out`` = ``<repo>/data``.

Outputs (all UTF-8, ``\\n`` line endings, deterministic row order, no timestamps):

* ``observations.csv`` -- one observed number per row, each naming its raw row;
* ``targets.yaml``     -- policy targets (one entry per reading of a raw target row);
* ``sources.csv``      -- the sources used by observations and targets;
* ``geos.yaml``        -- geographic units, with merger lineage documented in the raw data;
* ``indicators.yaml``  -- the indicator registry (unit, kind, bounds, breaks, proxies);
* ``excluded.csv``     -- every raw row (or cell of a wide row) not used, with the reason.

Rules enforced here (see ``data/README.md``):

* every number comes from one raw row, named in ``raw`` as ``<file>:<physical line>``;
* nothing is interpolated, derived or filled in;
* every raw data row ends up in observations, targets or excluded -- ``check_accounting``
  fails the run otherwise.

Only the standard library and PyYAML are used (pandas is not needed).
Every judgement is an explicit table entry near the top of this file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlparse

import yaml

# =====================================================================================
# Input files
# =====================================================================================

TN_IND = "research/thainguyen_indicators.csv"
TN_TGT = "research/thainguyen_targets.csv"
DTI_PROV = "research/dti_province.csv"
DTI_LONG = "research/dti_components_long.csv"
DTI_2022 = "research/dti_components_2022.csv"
DTI_NAT = "research/dti_national.csv"
DTI_DERIVED = "research/dti_derived_values.csv"
DTI_SOURCES = "research/dti_sources.csv"
PROV_MAP = "research/province_name_mapping.csv"
NAT = "research/national_series.csv"
PANEL = "internet_users_panel.csv"

#: Files whose rows are data (must all be accounted for). The two lookup tables
#: (dti_sources.csv, province_name_mapping.csv) are reference data, used to resolve
#: source codes and province names; they hold no observations.
DATA_FILES = [TN_IND, TN_TGT, DTI_PROV, DTI_LONG, DTI_2022, DTI_NAT, DTI_DERIVED, NAT, PANEL]

#: When the same fact (geo, indicator, year, value, source) appears in several files,
#: the row from the earlier file is kept and the others are excluded as duplicates.
FILE_PRIORITY = [TN_IND, DTI_PROV, DTI_LONG, DTI_NAT, NAT, PANEL]

# =====================================================================================
# Geography
# =====================================================================================

#: Raw geo labels that are not province names.
GEO_LABELS = {
    "Thái Nguyên (merged)": "thai_nguyen_merged",
    "Việt Nam": "vietnam",
    "Vietnam": "vietnam",
    "Việt Nam (provinces)": "vietnam_provinces",
    "Vietnam (provinces block)": "vietnam_provinces",
}
#: Raw geo labels whose rows are excluded.
GEO_AMBIGUOUS = {"Việt Nam (ambiguous)", "Vietnam (ambiguous)"}

#: Countries: id, Vietnamese name, English name (as in the raw data), ISO3 (as in the
#: panel's iso3 column or the UNU-EGOV rows' first field).
COUNTRIES = [
    ("brazil", "Brasil", "Brazil", "BRA"),
    ("cambodia", "Campuchia", "Cambodia", "KHM"),
    ("china", "Trung Quốc", "China", "CHN"),
    ("egypt", "Ai Cập", "Egypt", "EGY"),
    ("india", "Ấn Độ", "India", "IND"),
    ("indonesia", "Indonesia", "Indonesia", "IDN"),
    ("italy", "Ý", "Italy", "ITA"),
    ("kenya", "Kenya", "Kenya", "KEN"),
    ("laos", "Lào", "Laos", "LAO"),
    ("malaysia", "Malaysia", "Malaysia", "MYS"),
    ("philippines", "Philippines", "Philippines", "PHL"),
    ("poland", "Ba Lan", "Poland", "POL"),
    ("singapore", "Singapore", "Singapore", "SGP"),
    ("thailand", "Thái Lan", "Thailand", "THA"),
    ("vietnam", "Việt Nam", "Vietnam", "VNM"),
]

#: English names where plain transliteration is not the usual English name.
PROVINCE_NAME_EN = {
    "Hà Nội": "Hanoi",
    "TP. Hồ Chí Minh": "Ho Chi Minh City",
    "Thừa Thiên Huế": "Thua Thien Hue",
}
#: Ids where transliteration is not used.
PROVINCE_ID = {"TP. Hồ Chí Minh": "ho_chi_minh_city"}

MERGER_DATE = "2025-07-01"
#: Post-merger units documented in the raw data:
#: merged id -> (core province, member provinces, where documented).
#: Only the Thái Nguyên merger date is stated (README: 1 July 2025); the others are the same
#: national reorganisation (NQ 202/2025, cited in research/dti_province.csv notes).
NQ202 = "per NQ 202/2025"
MERGED_UNITS = {
    "thai_nguyen_merged": (
        "Thái Nguyên", ["Thái Nguyên", "Bắc Kạn"],
        "README.md (1 July 2025 merger); research/thainguyen_indicators.csv:99,105"),
    "hai_phong_merged": (
        "Hải Phòng", ["Hải Phòng", "Hải Dương"], "research/dti_province.csv:116"),
    "ho_chi_minh_city_merged": (
        "TP. Hồ Chí Minh", ["TP. Hồ Chí Minh", "Bình Dương", "Bà Rịa - Vũng Tàu"],
        f"research/dti_province.csv:117 ({NQ202}; composition not stated in the sources read)"),
    "da_nang_merged": (
        "Đà Nẵng", ["Đà Nẵng", "Quảng Nam"], "research/dti_province.csv:124 (stated in sources)"),
    "lao_cai_merged": (
        "Lào Cai", ["Lào Cai", "Yên Bái"],
        f"research/dti_province.csv:122 ({NQ202}; composition not stated in source)"),
    "khanh_hoa_merged": (
        "Khánh Hòa", ["Khánh Hòa", "Ninh Thuận"], f"research/dti_province.csv:123 ({NQ202})"),
    "quang_tri_merged": (
        "Quảng Trị", ["Quảng Trị", "Quảng Bình"], f"research/dti_province.csv:126 ({NQ202})"),
    "hung_yen_merged": (
        "Hưng Yên", ["Hưng Yên", "Thái Bình"], f"research/dti_province.csv:127 ({NQ202})"),
}
#: Provinces whose DTI rows on the 34-province basis refer to the merged unit.
MERGED_CORE = {core: mid for mid, (core, _m, _w) in MERGED_UNITS.items()}

AGGREGATES = [
    {
        "id": "vietnam_provinces",
        "name_vi": "Khối tỉnh, thành phố (Việt Nam)",
        "name_en": "Vietnam, provinces block",
        "note": "Aggregate of all provincial-level units, as used in national online-dossier "
                "statistics (khối tỉnh); not the same as the national total, which also "
                "includes ministries.",
    },
]

# =====================================================================================
# Indicators: raw name -> curated id
# =====================================================================================

TN_INDICATOR_MAP = {
    "DTI_digital_government_pillar_rank": "dti_gov_rank",
    "DTI_rank": "dti_rank",
    "DTI_provincial_average_score": "dti_score_provincial_mean",
    "DX_training_participants_cumulative": "dx_training_attendances_cumulative",
    "EGDI_rank": "egdi_rank",
    "EGDI_score": "egdi_score",
    "GRDP_per_capita": "grdp_per_capita",
    "MIC_egov_IT_application_rank": "mic_egov_it_application_rank",
    "MIC_egov_IT_application_score": "mic_egov_it_application_score",
    "PAPI_e_governance_rank": "papi_egov_rank",
    "PAPI_e_governance_score": "papi_egov_score",
    "PAPI_overall_rank": "papi_rank",
    "PAPI_overall_score": "papi_score",
    "PAR_Index_provincial_average": "par_index_score_provincial_mean",
    "PAR_Index_rank": "par_index_rank",
    "PAR_Index_score": "par_index_score",
    "PCI_rank": "pci_rank",
    "SIPAS_national_average": "sipas_score_provincial_mean",
    "SIPAS_rank": "sipas_rank",
    "SIPAS_score": "sipas_score",
    "Vietnam_ICT_Index_rank": "vietnam_ict_index_rank",
    "administrative_procedures_total": "administrative_procedures_count",
    "adult_smartphone_share": "adult_smartphone_share",
    "digital_businesses_count": "digital_businesses_count",
    "digital_economy_revenue": "digital_economy_revenue",
    "digital_economy_share_GDP": "digital_economy_share_gdp",
    "digital_economy_share_GDP_GSO": "digital_economy_share_gdp_gso",
    "digital_economy_share_GDP_MIC_estimate": "digital_economy_share_gdp_mic_estimate",
    "digital_economy_share_GRDP": "digital_economy_share_grdp",
    "dossiers_received_total": "dossiers_received_count",
    "eID_account_share": "eid_account_share",
    "fibre_to_communes_share": "communes_fibre_share",
    "fixed_broadband_download_speed": "fixed_broadband_download_speed",
    "fixed_broadband_subscriptions_per_100": "fixed_broadband_subscriptions_per_100",
    "fixed_fibre_broadband_subscriptions": "fibre_broadband_subscriptions_count",
    "fullprocess_online_dossier_share": "fullprocess_online_dossier_share",
    "fullprocess_online_services_share": "fullprocess_online_services_share",
    "hamlets_3G4G_coverage_share": "hamlets_3g4g_coverage_share",
    "hamlets_fibre_broadband_share": "hamlets_fibre_share",
    "hamlets_mobile_broadband_coverage_share": "hamlets_mobile_broadband_coverage_share",
    "hamlets_mobile_coverage_share": "hamlets_mobile_coverage_share",
    "household_fibre_broadband_share": "household_fibre_broadband_share",
    "household_fixed_broadband_share": "household_fixed_broadband_share",
    "household_smartphone_share": "household_smartphone_share",
    "index766_rank": "index766_rank",
    "index766_score": "index766_score",
    # only an undated row: excluded
    "internet_subscriptions_per_100": "internet_subscriptions_per_100",
    "internet_users_share": "internet_users_share",
    "level2_online_services_share": "level2_online_services_share",
    "level3_online_services_count": "level3_online_services_count",
    "level4_eligible_online_services_share": "eligible_procedures_online_share",
    "level4_eligible_procedures_share": "eligible_procedures_online_share",
    "level4_procedures_count": "level4_procedures_count",
    "mobile_3G4G_area_coverage": "mobile_3g4g_area_coverage_share",
    "mobile_BTS_sites": "mobile_bts_sites_count",
    "mobile_broadband_subscriptions_per_100": "mobile_broadband_subscriptions_per_100",
    "mobile_internet_subscriptions": "mobile_internet_subscriptions_count",
    "mobile_subscriptions": "mobile_subscriptions_count",
    "mobile_subscriptions_per_100": "mobile_subscriptions_per_100",
    "online_dossier_share": "online_dossier_share",
    "online_public_services_count": "online_services_on_national_portal_count",
    "online_services_on_national_portal_count": "online_services_on_national_portal_count",
    "online_services_with_dossiers_share": "online_services_with_online_dossiers_share",
    "online_services_with_online_dossiers_share": "online_services_with_online_dossiers_share",
    "population": "population",
    "population_average": "population_average",
    "smartphone_share_of_mobile_subscriptions": "smartphone_share_of_mobile_subscriptions",
    "telecom_service_revenue": "telecom_service_revenue",
    "telephone_subscriptions_per_100": "telecom_subscriptions_per_100",
    "villages_fibre_share": "hamlets_fibre_share",
}

NAT_INDICATOR_MAP = {
    "egdi_rank": "egdi_rank",
    "egdi_score": "egdi_score",
    "epi_rank": "epi_rank",
    "epi_score": "epi_score",
    "hci_score": "hci_score",
    "osi_rank": "osi_rank",
    "osi_score": "osi_score",
    "tii_score": "tii_score",
    "fixed_broadband_subs_per100": "fixed_broadband_subscriptions_per_100",
    "internet_users_pct": "internet_users_share",
    "mobile_cellular_subs_per100": "mobile_subscriptions_per_100",
    "fullprocess_online_dossier_processing_share": "fullprocess_online_dossier_share",
    "fullprocess_online_dossier_share": "fullprocess_online_dossier_share",
    "fullprocess_online_services_share": "fullprocess_online_services_share",
    "fullprocess_online_services_share_of_eligible": "eligible_procedures_online_share",
    "index766_score_monthly": "index766_score",
    "level4_eligible_online_services_share": "eligible_procedures_online_share",
    "online_dossier_processing_share": "online_dossier_share",
    "online_dossier_share": "online_dossier_share",
    "online_dossier_share_highest_level": "fullprocess_online_dossier_share",
    "online_services_on_NPSP_share_of_procedures": "online_services_npsp_share_of_procedures",
    "online_services_with_dossiers_share": "online_services_with_online_dossiers_share",
    "online_services_with_online_dossiers_share": "online_services_with_online_dossiers_share",
    "online_submission_share_monthly": "online_dossier_share",
    "papi_internet_at_home_pct": "papi_internet_at_home_share",
    "papi_npsp_account_pct": "papi_npsp_account_share",
    "papi_npsp_users_pct": "papi_npsp_users_share",
    "papi_pesp_users_pct": "papi_pesp_users_share",
    "user_satisfaction_online_services": "online_services_satisfaction_share",
}

#: national_series indicators excluded as a whole (reason). ``un_tii_input_*`` by prefix.
NAT_EXCLUDED_INDICATORS = {
    "ambiguous_fullprocess_rate_july2024":
        "definition ambiguous: labelled as share of procedures but the 61/17 split matches the "
        "full-process dossier metric (raw note)",
    "ncdt_eligible_fullcycle_procedures_share":
        "definition ambiguous: same 48% figure as ambiguous_fullprocess_rate_july2024, labelled "
        "differently by each source (raw note)",
    "online_services_digitised_share_ambiguous":
        "definition ambiguous: translation could mean online-dossier share or share of services "
        "online (raw note)",
    "eligible_services_delivered_online_share":
        "definition unclear (raw unit '% (definition unclear)'); likely full-process service "
        "share but not stated",
    "daily_online_submission_share":
        "single-day snapshot: not representable in the period grammar and not comparable with "
        "window or annual shares",
    "itu_mis_mobile_subs_per100":
        "superseded vintage of mobile_cellular_subs_per100 (ITU Measuring the Information "
        "Society 2011 edition, later revised; raw note)",
}
TII_INPUT_REASON = (
    "superseded vintage of ITU data as used by the UN E-Government Survey {year} TII; reference "
    "year not stated (survey edition, underlying data about two years earlier)")

#: thainguyen_indicators raw indicators excluded as a whole.
TN_EXCLUDED_INDICATORS = {
    "DTI_sub_index_score":
        "indicator ambiguous: one row for two DTI main indices (awareness and institutions); "
        "the two values are in research/dti_components_long.csv:87 and :88",
    "DTI_2024_ranking_basis":
        "methodological metadata (number of provinces ranked in DTI 2024), not an observation; "
        "used as `among` of DTI 2024 ranks",
    "IT_industry_index_rank":
        "rank basis not stated (raw unit 'rank', the quote gives no number of ranked provinces); "
        "`among` is required for ranks",
    "digital_economy_share_GDP_GSO_earlier_vintage":
        "superseded vintage of digital_economy_share_GDP_GSO (Jan-2025 GSO release supersedes "
        "it; raw note)",
}

#: Single raw rows excluded by judgement (raw ref -> reason).
ROW_EXCLUSIONS = {
    f"{TN_IND}:128":
        "superseded vintage of digital_economy_share_GDP_GSO: 12.67 is the earlier GSO "
        "experimental figure for 2022; the Jan-2025 GSO release (thainguyen_indicators.csv:131) "
        "gives 12.83",
}

#: Per-row indicator overrides (raw ref -> curated id), where the raw name hides a
#: definitional difference.
INDICATOR_OVERRIDES = {
    # '% (more than) of services ELIGIBLE for full-process provision' -> supply share of eligible
    f"{TN_IND}:142": "eligible_procedures_online_share",
}

#: DTI wide columns (dti_province.csv) -> indicator.
DTI_PROVINCE_COLUMNS = {
    "rank": "dti_rank",
    "dti_score": "dti_score",
    "gov_rank": "dti_gov_rank",
    "gov_score": "dti_gov_score",
    "econ_rank": "dti_econ_rank",
    "econ_score": "dti_econ_score",
    "soc_rank": "dti_soc_rank",
    "soc_score": "dti_soc_score",
}

#: DTI main indices (component names in dti_components_*.csv) -> indicator stem
#: (+ ``_score`` / ``_rank``).
DTI_COMPONENTS = {
    "Nhận thức số": "dti_awareness",
    "Thể chế số": "dti_institutions",
    "Hạ tầng số": "dti_infrastructure",
    "Nhân lực số": "dti_human_resources",
    "An toàn thông tin mạng": "dti_cybersecurity",
    "Hoạt động chính quyền số": "dti_gov_activity",
    "Hoạt động kinh tế số": "dti_econ_activity",
    "Hoạt động xã hội số": "dti_soc_activity",
    "PDTI (tổng)": "dti",
    "PDTI": "dti",
    # 2020 framework: sub-indices of the digital-government pillar (different method; kept apart)
    "Thông tin và Dữ liệu số (trụ cột CQS, khung 2020)": "dti2020_gov_data",
    "Chuyển đổi nhận thức (trụ cột CQS, khung 2020)": "dti2020_gov_awareness",
    "Hoạt động chính quyền số (khung 2020)": "dti2020_gov_activity",
}

#: dti_national.csv (level, indicator) -> (geo, indicator); others: DTI_NATIONAL_EXCLUDED.
DTI_NATIONAL_MAP = {
    ("provincial", "mean DTI cấp tỉnh"): ("vietnam", "dti_score_provincial_mean"),
    ("provincial", "mean pillar Chính quyền số"): ("vietnam", "dti_gov_score_provincial_mean"),
    ("provincial", "mean pillar Kinh tế số"): ("vietnam", "dti_econ_score_provincial_mean"),
    ("provincial", "mean pillar Xã hội số"): ("vietnam", "dti_soc_score_provincial_mean"),
    ("national", "DTI quốc gia"): ("vietnam", "dti_national_score"),
}
DTI_NATIONAL_EXCLUDED = {
    "ministerial":
        "out of scope: ministry-level DTI statistic (ministries are not a geographic unit)",
    "bộ+tỉnh with DTI >= 0.5": "non-numeric value (count ratio of ministries and provinces)",
    "share of provincial indicators measured automatically": "methodological metadata of the DTI "
        "(share of indicators measured automatically), not an indicator of a geographic unit",
}

# =====================================================================================
# Periods: an explicit decision for every dated page row (raw line -> (raw value, period, why))
# "" = annual value or year-end status; "YYYY-MM/YYYY-MM" window; "YYYY-MM" status at a month;
# "part-year" = snapshot within the year, window not stated; "circa" = the year itself is uncertain.
# The raw value is a fingerprint: the script fails if the raw file no longer matches.
# DTI / UN / WDI / panel rows are annual editions or annual series: period "".
# =====================================================================================

A, PY, C = "", "part-year", "circa"
DE_REPORT = "reference year not explicit in the annual digital-economy report ('năm 2022')"

TN_PERIODS: dict[int, tuple[str, str, str]] = {
    # annual index editions and annual values
    **{ln: (v, A, "") for ln, v in [
        (2, "3"), (3, "12"), (4, "8"), (5, "8"), (6, "8"), (7, "8"), (10, "95.1"), (11, "119.2"),
        (13, "30"), (14, "0.578"), (15, "4"), (16, "13"), (17, "2"), (18, "3.76"), (19, "4.13"),
        (20, "3.46"), (21, "3"), (22, "2"), (23, "46.471"), (24, "45.7875"), (25, "6"), (26, "6"),
        (27, "5"), (28, "90.76"), (29, "91.47"), (30, "11"), (31, "11"), (32, "11"), (33, "2"),
        (34, "2"), (35, "2"), (36, "89.42"), (37, "90.29"), (38, "90.23"), (39, "6"), (40, "22"),
        (41, "44")]},
    9: ("300000", "2025-05", "status as of May 2025, cumulative since 2021"),
    42: ("1860", "2022-07", "status in a July 2022 article"),
    43: ("1925", "2025-03", "status mid-March 2025"),
    44: ("1935", "2025-05", "status 30/5/2025"),
    45: ("90", A, "review of the year 2024"),
    46: ("324", PY, "mid-2023 status"),
    47: ("35", A, ""),
    48: ("42.92", C, DE_REPORT),
    49: ("427662", "2022-01/2022-06", "first six months of 2022"),
    50: ("100", C, "undated article, c. 2021"),
    51: ("80", PY, "~Q1 2023 status"),
    52: ("251000", PY, "~Q1 2023 status"),
    53: ("99.6", C, "year approximate (c. end-2024)"),
    54: ("99.6", A, "end-2024 status"),
    55: ("94", PY, "2020 status, date within the year not stated"),
    56: ("99.7", "2023-03", "status at end of Q1 2023"),
    57: ("100", A, "end-2024 status"),
    58: ("99.9", "2022-11", "status Nov 2022"),
    59: ("72", PY, "~Q1 2023 status (may be an end-2022 value, raw note)"),
    60: ("76", A, "review of the year 2024"),
    61: ("97", A, "review of the year 2024"),
    62: ("82.5", "2025-01/2025-03", "Q1 2025 snapshot"),
    63: ("70", C, "year uncertain (c.2014-2015)"),
    64: ("86", PY, "~Q1 2023 status"),
    65: ("100", C, "year uncertain (c.2014-2015)"),
    66: ("61", PY, "early 2022 status"),
    67: ("100", PY, "early 2022 status"),
    68: ("1231", C, "status end-2021/early-2022"),
    69: ("1231", "2021-02", "Decision 402 effective 19/2/2021"),
    70: ("99.7", A, "Dec 2024 (year-end status)"),
    71: ("1089", C, "year uncertain (c.2014-2015)"),
    72: ("1600", C, "undated article, c. 2021"),
    73: ("1600", PY, "2020 status"),
    74: ("1830", C, "year approximate (c. end-2024)"),
    75: ("1830", A, "review of the year 2024"),
    76: ("894666", PY, "2020 status"),
    77: ("1120000", "2022-11", "status Nov 2022"),
    78: ("1000000", PY, "~Q1 2023 status"),
    79: ("1198108", PY, "2020 status"),
    80: ("100 (approx.)", PY, "2020 status"),
    81: ("46.36", "2022-01/2022-03", "window 01/01-03/03/2022"),
    82: ("1036", PY, "early 2022 status"),
    83: ("12.18", "2022-01/2022-03", "window 01/01-03/03/2022"),
    84: ("1307871", A, "as of 2020"),
    85: ("1361474", "2024-04", "census date 1/4/2024"),
    86: ("1173200", A, ""), 87: ("1190600", A, ""), 88: ("1227400", A, ""), 89: ("1255100", A, ""),
    90: ("1268300", A, ""), 91: ("1290900", A, ""), 92: ("1307870", A, ""), 93: ("1323150", A, ""),
    94: ("1335.99", A, ""), 95: ("1335990", A, ""), 96: ("1350300", A, ""),
    97: ("1600", PY, "2020 article; whether full-year is not stated"),
    98: ("100", C, "year uncertain (c.2014-2015)"),
    99: ("8", A, ""),
    100: ("1", "2025-08", "as of 29/8/2025"),
    101: ("86.97", "2025-08", "snapshot 29/8/2025"),
    102: ("83.83", "2025-08", "snapshot 11/8/2025"),
    103: ("88", PY, "period unclear (likely since Jul 2025)"),
    104: ("2028", "2025-10", "status Oct 2025"),
    105: ("1680000", "2025-06", "status June 2025"),
    106: ("51", A, ""), 107: ("63", A, ""), 108: ("13", A, ""),
    109: ("58.9", PY, "c. late 2024"),
    110: ("97", A, "end-2024 status"),
    111: ("71", A, "end-2024 status"),
    113: ("91", PY, "c. late 2024"),
    115: ("0.6961", A, ""), 116: ("86", A, ""), 117: ("71", A, ""), 118: ("0.6667", A, ""),
    119: ("0.6787", A, ""), 120: ("86.98", A, ""), 121: ("88.37", A, ""), 122: ("87.16", A, ""),
    123: ("83.94", A, ""),
    124: ("70.91", "2022-06", "mid-2022 (MIC six-month review)"),
    125: ("73.5", "2022-03", "Mar 2022"),
    126: ("11.91", A, ""), 127: ("14.26", A, ""),
    129: ("12.66", A, ""), 130: ("12.87", A, ""), 131: ("12.83", A, ""), 132: ("12.87", A, ""),
    133: ("13.17", A, ""), 137: ("16.5", A, ""), 138: ("18.3", A, ""),
    139: ("22.15", "2023-06", "June 2023"),
    140: ("43.8", "2024-01/2024-09", "cumulative Q1-Q3 2024"),
    141: ("45.8", A, "full year 2024"),
    142: ("84", "2023-04", "status end-April 2023"),
    143: ("55.5", "2024-09", "status Sept 2024"),
    144: ("71.75", "2022-06", "mid-2022 (MIC six-month review)"),
    145: ("77.1", "2023-06", "June 2023"),
    146: ("82.9", C, "status ~end-2024/early-2025"),
    147: ("82.2", PY, "early 2025"),
    148: ("68", "2022-01", "Jan 2022"),
    149: ("78.8", PY, "early 2025 (DataReportal)"),
    150: ("96.74", "2022-01", "status 20/1/2022"),
    151: ("97.3", "2022-08", "status end-Aug 2022"),
    152: ("85.46", "2023-06", "June 2023"),
    153: ("54.8", "2023-01/2023-04", "year to end-April 2023"),
    154: ("51.3", "2023-01/2023-04", "year to end-April 2023"),
    155: ("72.6", "2022-01", "Jan 2022"),
    156: ("96.4", C, "status ~end-2024/early-2025"),
    157: ("18.54", A, "full year 2024"),
    158: ("55.4", "2024-09", "status Sept 2024"),
    160: ("42.13", C, DE_REPORT), 161: ("56.83", C, DE_REPORT),
    162: ("56.1", PY, "early 2022"),
    163: ("55.76", A, "2024, same EMC full-year statistic as research/national_series.csv:661"),
    164: ("82", PY, "period unclear (likely 2024 year-to-date)"),
    165: ("68.54", A, "full year 2024 (EMC)"),
    166: ("17.15", C, DE_REPORT),
    167: ("86.5", "2022-01/2022-11", "Jan-early Nov 2022"),
    168: ("78.4", PY, "early 2022"),
    169: ("29.48", C, DE_REPORT),
    170: ("64.2", "2022-01/2022-11", "Jan-early Nov 2022"),
    171: ("52.96", A, "full year 2024 (EMC)"),
    172: ("65.9", "2022-01/2022-11", "Jan-early Nov 2022"),
    173: ("63.9", "2022-01/2022-11", "Jan-early Nov 2022"),
    174: ("4.21", C, DE_REPORT),
    175: ("8.3", "2022-01/2022-11", "Jan-early Nov 2022"),
    176: ("22.87", C, DE_REPORT), 177: ("19.76", C, DE_REPORT),
    178: ("58.89", A, "full year 2024 (EMC)"),
    179: ("95.6", "2024-09", "status Sept 2024"),
    180: ("67", "2022-01/2022-11", "Jan-early Nov 2022"),
}

#: national_series.csv page rows (source_kind=page). Repo rows are annual series (period "").
NAT_PERIODS: dict[int, tuple[str, str, str]] = {
    **{ln: (v, A, "") for ln, v in [
        (586, "105"), (587, "91"), (588, "16"), (589, "63"), (590, "86"), (591, "0.6667"),
        (592, "0.6529"), (593, "81"), (594, "0.6694"), (595, "0.6779"), (596, "70"), (597, "59"),
        (598, "76"), (599, "57"), (600, "11"), (601, "88"), (602, "124"), (603, "23"), (604, "62"),
        (605, "66"), (606, "41"), (607, "7"), (608, "34"), (609, "115")]},
    620: ("5", PY, "2019, window not stated"),
    621: ("43", "2024-07", "status mid-July 2024"),
    622: ("42", "2024-01/2024-06", "H1 2024, cumulative"),
    623: ("55.5", "2024-06", "status end of H1 2024"),
    624: ("43.8", "2024-01/2024-09", "cumulative Q1-Q3 2024"),
    625: ("18.2", "2024-01/2024-09", "cumulative Q1-Q3 2024"),
    626: ("45.8", A, "full year 2024"),
    627: ("18.54", A, "full year 2024"),
    628: ("39.98", "2025-01/2025-10", "year to 26/10/2025"),
    629: ("16.94", "2025-01/2025-10", "year to 26/10/2025"),
    630: ("30", A, "end-2021, annual (approx.)"),
    631: ("24.89", "2022-01/2022-04", "year to April 2022"),
    632: ("40", "2022-01/2022-08", "year to end-August 2022"),
    633: ("43.2", "2022-01/2022-10", "year to ~early Nov 2022"),
    634: ("67.8", "2022-01/2022-10", "year to ~early Nov 2022"),
    635: ("97.3", "2022-11", "status ~Nov 2022"),
    636: ("54.8", "2023-01/2023-04", "year to end-April 2023"),
    637: ("51.3", "2023-01/2023-04", "year to end-April 2023"),
    638: ("84", "2023-04", "status end-April 2023"),
    641: ("70", "2024-08", "status Aug 2024"),
    642: ("90", PY, "2022, window not stated"),
    643: ("93", "2024-08", "status Aug 2024"),
    648: ("17", "2024-07", "status July 2024"),
    649: ("4.05", A, "annual PAPI survey"), 650: ("4.11", A, "annual PAPI survey"),
    651: ("4.85", A, "annual PAPI survey"), 652: ("1.22", A, "annual PAPI survey"),
    653: ("2.08", A, "annual PAPI survey"), 654: ("3.01", A, "annual PAPI survey"),
    655: ("30", A, "annual PAPI survey"), 656: ("60", A, "annual PAPI survey"),
    657: ("75", A, "annual PAPI survey"), 658: ("7.6", A, "annual PAPI survey"),
    659: ("68.54", A, "full year 2024"), 660: ("58.89", A, "full year 2024"),
    661: ("55.76", A, "full year 2024"), 662: ("52.96", A, "full year 2024"),
    663: ("66", "2024-01/2024-06", "H1 2024"),
    664: ("97", "2024-06", "status end of H1 2024"),
    665: ("95.6", "2024-09", "status Sept 2024"),
    666: ("92", "2024-09", "status Sept 2024"),
    667: ("92", "2024-09", "status Sept 2024"),
    668: ("65", "2024-08", "status Aug 2024"),
    671: ("67.54", "2024-07/2024-07", "single month, July 2024"),
    672: ("83.08", "2024-07/2024-07", "single month, July 2024"),
    673: ("62", "2022-06", "status ~early June 2022 (month approximate)"),
    674: ("92.8", "2025-01/2025-05", "first five months of 2025"),
    675: ("68.7", C, "date not stated in the source (c. 2025)"),
    677: ("46.36", "2022-01/2022-03", "window 01/01-03/03/2022"),
    678: ("12.18", "2022-01/2022-03", "window 01/01-03/03/2022"),
    679: ("88", PY, "period unclear (likely since Jul 2025)"),
    680: ("96.74", "2022-01", "status 20/1/2022"),
    682: ("82", PY, "period unclear (likely 2024 year-to-date)"),
    683: ("86.5", "2022-01/2022-11", "Jan-early Nov 2022"),
    684: ("64.2", "2022-01/2022-11", "Jan-early Nov 2022"),
    685: ("65.9", "2022-01/2022-11", "Jan-early Nov 2022"),
    686: ("63.9", "2022-01/2022-11", "Jan-early Nov 2022"),
    687: ("8.3", "2022-01/2022-11", "Jan-early Nov 2022"),
    688: ("67", "2022-01/2022-11", "Jan-early Nov 2022"),
}

#: Qualifiers found in a raw quote (not in the unit) that make the value a bound.
QUOTE_BOUNDS = {
    f"{TN_IND}:127": ("lower", "lower bound: quote says 'vượt qua mức' (exceeded)"),
}

# =====================================================================================
# Unit parsing: raw unit / value qualifiers
# =====================================================================================

#: (regex on raw value or unit, bound, note). First match per category wins.
LOWER_BOUND_PATTERNS = [r"\(more than\)", r"lower bound", r"^>"]
APPROX_PATTERNS = [r"\(approx\.?\)", r"\(nearly\)", r"\bnearly\b", r"\(about\)"]
ESTIMATE_PATTERNS = [r"\(estimate\)"]
#: Raw units that are multiples of the indicator's unit (raw unit -> factor, remark).
UNIT_SCALES = {"thousand persons": (Decimal(1000), "converted from thousand persons")}

#: Rank basis from a raw unit.
RANK_OF = re.compile(r"rank of (\d+)")
UN_RANK_UNIT = ("rank (of 190 in 2012 per laocai.gov.vn; of 193 from 2014; "
                "2010 total not sourced here)")

#: Source metadata stated in the raw data (url -> (title, date)). Everything else: empty.
SOURCE_META = {
    "repo:open-numbers/ddf--open_numbers--world_development_indicators:datapoints/"
    "ddf--datapoints--it_cel_sets_p2--by--geo--time.csv":
        ("World Bank WDI IT.CEL.SETS.P2 (ITU source), open-numbers mirror commit 01a34e8", ""),
    "repo:open-numbers/ddf--open_numbers--world_development_indicators:datapoints/"
    "ddf--datapoints--it_net_bbnd_p2--by--geo--time.csv":
        ("World Bank WDI IT.NET.BBND.P2 (ITU source), open-numbers mirror commit 01a34e8", ""),
    "repo:open-numbers/ddf--open_numbers--world_development_indicators:datapoints/"
    "ddf--datapoints--it_net_user_zs--by--geo--time.csv":
        ("World Bank WDI IT.NET.USER.ZS (ITU source), open-numbers mirror commit 01a34e8", ""),
    **{f"repo:UNU-EGOV/datasets:egdi/egdi-{y}.csv":
       (f"UN E-Government Survey {y} data (UNU-EGOV redistribution)", "")
       for y in (2010, 2012, 2014, 2016, 2018)},
    "repo:MaryliaCruzS/Estadistica1CienciaPolitica:EGOV_DATA_2024.csv":
        ("UN EGOV_DATA_2024.csv (UN E-Government Knowledgebase download)", "2025-06"),
    "repo:pluralitybook/plurality:figs/data/egovernment/EGOV_DATA_2022.csv":
        ("UN EGOV_DATA_2022.csv", ""),
    "https://lforum.biz/digital-transformation-accelerated-in-many-sectors.html":
        ("", "2022-03-02"),
    "https://sotttt.thainguyen.gov.vn/cong-nghe-thong-tin-dien-tu/-/asset_publisher/LgMJqmfcY8Ds/content/"
    "vietnam-ict-index-2020-thai-nguyen-xep-thu-44-63-tinh-thanh-pho-truc-thuoc-trung-uong?redirect="
    "%2Fcong-nghe-thong-tin-dien-tu&inheritRedirect=true": ("", "2021-05-18"),
}
PANEL_PUBLISHER = "Our World in Data (ITU / World Bank IT.NET.USER.ZS)"
PANEL_TITLE = "OWID grapher share-of-individuals-using-the-internet"

# =====================================================================================
# Indicator registry
# =====================================================================================

PCT = ("percent", "share", 0, 100)
RANK = ("rank", "rank", 1, None)
S01 = ("score 0-1", "index", 0, 1)
S100 = ("score 0-100", "index", 0, 100)
CNT = ("count", "count", 0, None)
P100 = ("per 100 inhabitants", "index", 0, None)
HI, LO = "higher_is_better", "lower_is_better"

BREAK_DECREE42 = (
    "Decree 42/2022 replaced online-service levels 3/4 by partial and full-process (toàn trình) "
    "online services; series before and after 2022 are not strictly continuous"
)
BREAK_DTI_2021 = "DTI method changed: 9 main indices, 98 sub-indices (2020 edition: 3 pillars)"
BREAK_DTI_2024 = "DTI method changed: 8 main indices, 47 sub-indices"
BREAK_DTI_2025 = (
    "provinces merged on 1 July 2025: ranks from then on are among 34 provinces, not 63 "
    "(DTI 2024 was already published on both bases; see `among`)"
)

DTI_BREAKS = [
    {"year": 2021, "geo": None, "what": BREAK_DTI_2021},
    {"year": 2024, "geo": None, "what": BREAK_DTI_2024},
]
DTI_RANK_BREAKS = DTI_BREAKS + [{"year": 2025, "geo": None, "what": BREAK_DTI_2025}]
ONLINE_BREAKS = [{"year": 2022, "geo": None, "what": BREAK_DECREE42}]


def ind(iid: str, en: str, vi: str, spec: tuple, definition: str,
        breaks: list | None = None, **extra) -> dict:
    """One indicator entry from a (unit, kind, lower, upper) spec; ranks are lower-is-better."""
    unit, kind, lower, upper = spec
    direction = LO if kind == "rank" else HI
    entry = {"id": iid, "label_en": en, "label_vi": vi, "unit": unit, "kind": kind,
             "lower": lower, "upper": upper, "direction": direction, "definition": definition,
             "breaks": breaks or []}
    entry.update(extra)
    return entry


def dti_main(stem: str, en: str, vi: str) -> list[dict]:
    """Score and rank indicators of one DTI main index (2021- framework)."""
    return [
        ind(f"{stem}_score", f"DTI main index: {en} (score)", f"DTI chỉ số chính: {vi} (điểm)",
            S01, f"Provincial DTI main index '{vi}' ({en}), score 0-1 (2021- framework).",
            DTI_BREAKS),
        ind(f"{stem}_rank", f"DTI main index: {en} (rank)", f"DTI chỉ số chính: {vi} (thứ hạng)",
            RANK, f"Rank of a province on the DTI main index '{vi}' ({en}); basis in `among`.",
            DTI_RANK_BREAKS),
    ]


#: Notes on ``direction``: it is nominal for context counts (population, procedures, dossiers).
INDICATORS: list[dict] = [
    # --- online public services: usage ---------------------------------------------------
    ind("online_dossier_share", "Online dossier share", "Tỷ lệ hồ sơ trực tuyến", PCT,
        "Share of administrative-procedure dossiers submitted or processed online (usage). "
        "Sources differ on the denominator (all dossiers vs dossiers of services offered "
        "online) and on the window: see each row's period and note.", ONLINE_BREAKS),
    ind("fullprocess_online_dossier_share", "Full-process online dossier share",
        "Tỷ lệ hồ sơ trực tuyến toàn trình", PCT,
        "Share of administrative-procedure dossiers handled entirely online (full-process / "
        "toàn trình; before 2022 'highest level'), over all dossiers handled (EMC statistic).",
        ONLINE_BREAKS),
    ind("online_services_with_online_dossiers_share",
        "Online services that generated online dossiers",
        "Tỷ lệ dịch vụ công trực tuyến có phát sinh hồ sơ trực tuyến", PCT,
        "Share of online public services that generated at least one online dossier "
        "(MIC EMC statistic).",
        ONLINE_BREAKS + [{"year": 2023, "geo": "vietnam",
                          "what": "denominator changed to full-process services in 2023 "
                                  "(raw note, research/national_series.csv:637)"}]),
    ind("online_services_satisfaction_share", "Satisfaction with online public services",
        "Tỷ lệ hài lòng với dịch vụ công trực tuyến", PCT,
        "Share of citizens and businesses satisfied with online public services."),
    ind("adults_using_online_services_share", "Adults using online public services",
        "Tỷ lệ dân số trưởng thành sử dụng dịch vụ công trực tuyến", PCT,
        "Share of the adult population using online public services (Decision 411/QĐ-TTg)."),
    ind("workingage_can_use_online_services_share",
        "Working-age population able to use online services",
        "Tỷ lệ người trong độ tuổi lao động biết và có kỹ năng sử dụng dịch vụ công trực tuyến",
        PCT,
        "Share of the working-age population aware of and able to use online public and "
        "essential digital services (Decision 146/QĐ-TTg)."),
    ind("papi_npsp_users_share", "PAPI: users of the National Public Service Portal",
        "PAPI: tỷ lệ người dùng Cổng Dịch vụ công quốc gia", PCT,
        "Share of PAPI survey respondents who used the National Public Service Portal "
        "(dichvucong.gov.vn)."),
    ind("papi_npsp_account_share", "PAPI: accounts on the National Public Service Portal",
        "PAPI: tỷ lệ người có tài khoản trên Cổng Dịch vụ công quốc gia", PCT,
        "Share of PAPI survey respondents who created a profile on the National Public "
        "Service Portal."),
    ind("papi_pesp_users_share", "PAPI: users of provincial e-service portals",
        "PAPI: tỷ lệ người dùng cổng dịch vụ công cấp tỉnh", PCT,
        "Share of PAPI survey respondents who used a provincial e-service portal."),
    ind("papi_internet_at_home_share", "PAPI: internet use at home",
        "PAPI: tỷ lệ người dùng Internet tại nhà", PCT,
        "Share of PAPI survey respondents using the internet at home."),
    ind("work_files_online_provincial_share", "Work files processed online, provincial level",
        "Tỷ lệ hồ sơ công việc cấp tỉnh được xử lý trên môi trường mạng", PCT,
        "Share of internal work files (hồ sơ công việc) of provincial agencies processed online."),
    ind("work_files_online_district_share", "Work files processed online, district level",
        "Tỷ lệ hồ sơ công việc cấp huyện được xử lý trên môi trường mạng", PCT,
        "Share of internal work files of district-level agencies processed online."),
    ind("work_files_online_commune_share", "Work files processed online, commune level",
        "Tỷ lệ hồ sơ công việc cấp xã được xử lý trên môi trường mạng", PCT,
        "Share of internal work files of commune-level agencies processed online."),
    ind("work_files_online_ministerial_provincial_share",
        "Work files processed online, ministries and provinces",
        "Tỷ lệ hồ sơ công việc cấp bộ, cấp tỉnh được xử lý trên môi trường mạng", PCT,
        "Share of work files of ministerial and provincial-level agencies processed online "
        "(Decision 749/QĐ-TTg)."),
    # --- online public services: supply --------------------------------------------------
    ind("eligible_procedures_online_share", "Eligible procedures provided fully online",
        "Tỷ lệ thủ tục hành chính đủ điều kiện được cung cấp dịch vụ công trực tuyến toàn trình "
        "(mức độ 4)", PCT,
        "Share of ELIGIBLE administrative procedures / online services provided at the highest "
        "online level (level 4 before Decree 42/2022, full-process after). Denominator = "
        "eligible procedures, not all procedures (supply).", ONLINE_BREAKS),
    ind("fullprocess_online_services_share", "Full-process online services, share of all",
        "Tỷ lệ dịch vụ công trực tuyến toàn trình", PCT,
        "Share of online public services (or procedures) provided full-process (toàn trình); "
        "denominator = all online public services/procedures, not only eligible ones (supply).",
        ONLINE_BREAKS),
    ind("online_procedures_level34_share", "Eligible procedures offered online at level 3/4",
        "Tỷ lệ thủ tục hành chính đủ điều kiện được cung cấp trực tuyến mức độ 3 và 4", PCT,
        "Share of eligible administrative procedures offered online at level 3 or 4 (wording of "
        "Resolution 01-NQ/TU; no series is published under this definition).", ONLINE_BREAKS),
    ind("level2_online_services_share", "Public services online at level 2",
        "Tỷ lệ dịch vụ công trực tuyến mức độ 2", PCT,
        "Share of public services provided online at level 2 (information and downloadable "
        "forms only).", ONLINE_BREAKS),
    ind("level4_online_services_share", "Online public services at level 4",
        "Tỷ lệ dịch vụ công trực tuyến mức độ 4", PCT,
        "Share of online public services provided at level 4 (denominator: online public "
        "services).", ONLINE_BREAKS),
    ind("level4_online_services_multidevice_share",
        "Level-4 online services available on multiple devices",
        "Tỷ lệ dịch vụ công trực tuyến mức độ 4 được cung cấp trên nhiều phương tiện truy cập",
        PCT,
        "Share of level-4 online public services available on multiple access devices incl. "
        "mobile.", ONLINE_BREAKS),
    ind("online_public_services_share", "Rate of online public services",
        "Tỷ lệ dịch vụ công trực tuyến", PCT,
        "Rate of public services provided online (national 2022 plan; denominator not stated).",
        ONLINE_BREAKS),
    ind("online_services_npsp_share_of_procedures",
        "Online services on the National Portal, share of procedures",
        "Tỷ lệ dịch vụ công trực tuyến trên Cổng DVC quốc gia so với tổng số TTHC", PCT,
        "Online public services available on the National Public Service Portal as a share of "
        "all administrative procedures.", ONLINE_BREAKS),
    ind("online_services_on_national_portal_count",
        "Online services on the National Public Service Portal",
        "Số dịch vụ công trực tuyến trên Cổng Dịch vụ công quốc gia", CNT,
        "Number of the province's online public services integrated on the National Public "
        "Service Portal."),
    ind("level3_online_services_count", "Level-3 online public services",
        "Số dịch vụ công trực tuyến mức độ 3", CNT,
        "Number of online public services provided at level 3.", ONLINE_BREAKS),
    ind("level4_procedures_count", "Procedures provided at level 4",
        "Số thủ tục hành chính cung cấp dịch vụ công trực tuyến mức độ 4", CNT,
        "Number of administrative procedures provided as level-4 online public services.",
        ONLINE_BREAKS),
    ind("administrative_procedures_count", "Administrative procedures",
        "Số thủ tục hành chính", CNT,
        "Number of administrative procedures (TTHC) in force / under the province's "
        "jurisdiction (denominator of procedure shares; direction nominal)."),
    ind("dossiers_received_count", "Dossiers received",
        "Số hồ sơ thủ tục hành chính tiếp nhận", CNT,
        "Number of administrative-procedure dossiers received (all channels; direction "
        "nominal)."),
    ind("civil_servants_ai_trained_share", "Civil servants trained in AI",
        "Tỷ lệ cán bộ, công chức, viên chức được đào tạo và ứng dụng AI", PCT,
        "Share of cadres, civil servants and public employees trained in and applying AI."),
    # --- digital society -----------------------------------------------------------------
    ind("internet_users_share", "Internet users", "Tỷ lệ người sử dụng Internet", PCT,
        "Individuals using the Internet, % of population (ITU / World Bank IT.NET.USER.ZS for "
        "countries; provincial statistics and private estimates otherwise).",
        [{"year": 2018, "geo": "vietnam",
          "what": "WDI method change: 58.1 (2017) -> 69.8 (2018)"}]),
    ind("adult_smartphone_share", "Adults with a smartphone",
        "Tỷ lệ dân số trưởng thành có điện thoại thông minh", PCT,
        "Share of the adult population owning or using a smartphone."),
    ind("population_smartphone_share", "Population with a smartphone",
        "Tỷ lệ dân số có điện thoại thông minh", PCT,
        "Share of the whole population owning a smartphone (national 2022 plan; denominator "
        "population, not adults)."),
    ind("household_smartphone_share", "Households with a smartphone",
        "Tỷ lệ hộ gia đình có điện thoại thông minh", PCT,
        "Share of households with at least one smartphone."),
    ind("smartphone_share_of_mobile_subscriptions",
        "Smartphone subscriptions, share of mobile subscriptions",
        "Tỷ lệ thuê bao điện thoại thông minh trên tổng số thuê bao di động", PCT,
        "Smartphone subscriptions as a share of all mobile subscriptions (subscription-based)."),
    ind("basic_digital_skills_share", "Population with basic digital skills",
        "Tỷ lệ dân số có kỹ năng số cơ bản", PCT,
        "Share of the population with basic digital skills. No measured series exists: "
        "evaluated through its proxies, which are upper bounds.",
        proxies=[{"indicator": "internet_users_share", "relation": "upper_bound"},
                 {"indicator": "adult_smartphone_share", "relation": "upper_bound"}]),
    ind("workingage_basic_digital_skills_trained_share",
        "Working-age population trained in basic digital skills",
        "Tỷ lệ người trong độ tuổi lao động được đào tạo kỹ năng số cơ bản", PCT,
        "Share of the working-age population trained in basic digital skills "
        "(Decision 411/QĐ-TTg)."),
    ind("dx_training_attendances_cumulative",
        "Digital-transformation training attendances (cumulative)",
        "Số lượt người tham gia tập huấn chuyển đổi số (lũy kế)", CNT,
        "Cumulative attendances (participant-times, not unique persons) at digital-"
        "transformation training courses; a proxy of skills diffusion, not a skills share."),
    ind("eid_account_share", "Residents with an electronic ID account",
        "Tỷ lệ người dân có tài khoản định danh điện tử", PCT,
        "Share of residents aged 14+ with an electronic identification (VNeID) account."),
    ind("household_fibre_broadband_share", "Households using fibre broadband",
        "Tỷ lệ hộ gia đình sử dụng Internet cáp quang băng rộng", PCT,
        "Share of households using (connected to) fibre-optic broadband Internet."),
    ind("household_fibre_coverage_share", "Households covered by fibre broadband",
        "Tỷ lệ hộ gia đình được phủ mạng Internet băng rộng cáp quang", PCT,
        "Share of households reached (covered) by the fibre-optic network (coverage, not use)."),
    ind("household_fixed_broadband_share", "Households with fixed broadband",
        "Tỷ lệ hộ gia đình có thuê bao băng rộng cố định", PCT,
        "Fixed-broadband subscriptions as a share of households."),
    ind("hamlets_fibre_share", "Villages/hamlets with fibre broadband",
        "Tỷ lệ thôn, xóm có Internet cáp quang", PCT,
        "Share of villages/hamlets (thôn, bản, xóm) provided with fibre-optic Internet."),
    ind("hamlets_3g4g_coverage_share", "Hamlets covered by 3G/4G",
        "Tỷ lệ xóm được phủ sóng di động 3G/4G", PCT,
        "Share of hamlets covered by 3G/4G mobile broadband."),
    ind("hamlets_mobile_broadband_coverage_share", "Hamlets covered by mobile broadband Internet",
        "Tỷ lệ xóm được phủ sóng Internet di động băng rộng", PCT,
        "Share of hamlets covered by mobile broadband Internet (kept apart from the 3G/4G "
        "series: the sources disagree and may use different definitions)."),
    ind("hamlets_mobile_coverage_share", "Villages with mobile coverage",
        "Tỷ lệ thôn, bản được phủ sóng di động", PCT,
        "Share of villages (thôn, bản) covered by any mobile signal."),
    ind("mobile_3g4g_area_coverage_share", "Area covered by 3G/4G",
        "Tỷ lệ địa bàn được phủ sóng 3G/4G", PCT,
        "Share of the territory covered by 3G/4G mobile signal."),
    ind("communes_fibre_share", "Communes reached by fibre", "Tỷ lệ xã có cáp quang", PCT,
        "Share of communes reached by the fibre-optic network."),
    ind("mobile_subscriptions_per_100", "Mobile subscriptions per 100 inhabitants",
        "Số thuê bao di động trên 100 dân", P100,
        "Mobile-cellular subscriptions per 100 inhabitants (WDI IT.CEL.SETS.P2); can exceed "
        "100 and falls after SIM clean-ups: not a saturating share."),
    ind("fixed_broadband_subscriptions_per_100",
        "Fixed broadband subscriptions per 100 inhabitants",
        "Số thuê bao băng rộng cố định trên 100 dân", P100,
        "Fixed-broadband subscriptions per 100 inhabitants (WDI IT.NET.BBND.P2 or national "
        "statistic)."),
    ind("mobile_broadband_subscriptions_per_100",
        "Mobile broadband subscriptions per 100 inhabitants",
        "Số thuê bao băng rộng di động trên 100 dân", P100,
        "Mobile-broadband subscriptions per 100 inhabitants."),
    ind("telecom_subscriptions_per_100", "Telecom/Internet subscriptions per 100 inhabitants",
        "Số thuê bao viễn thông, Internet trên 100 dân", P100,
        "Telecom and Internet subscriptions per 100 inhabitants (mixed definition, provincial "
        "statistic)."),
    ind("mobile_subscriptions_count", "Mobile subscriptions",
        "Số thuê bao điện thoại di động", CNT, "Total mobile telephone subscriptions."),
    ind("mobile_internet_subscriptions_count", "Mobile internet subscriptions",
        "Số thuê bao Internet di động", CNT,
        "Mobile subscriptions using Internet access (3G/4G)."),
    ind("fibre_broadband_subscriptions_count", "Fibre broadband subscriptions",
        "Số thuê bao Internet cáp quang", CNT,
        "Fibre-optic (FTTH) fixed-broadband Internet subscriptions."),
    ind("mobile_bts_sites_count", "Mobile base-station sites",
        "Số điểm thu phát sóng di động (trạm BTS)", CNT,
        "Number of mobile base-station (BTS) sites."),
    ind("fixed_broadband_download_speed", "Fixed broadband download speed",
        "Tốc độ tải xuống Internet cáp quang", ("Mbps", "index", 0, None),
        "Average download speed of fibre broadband."),
    ind("telecom_service_revenue", "Telecom service revenue", "Doanh thu dịch vụ viễn thông",
        ("VND billion", "index", 0, None), "Total telecom service revenue in the province."),
    # --- digital economy and context -----------------------------------------------------
    ind("digital_economy_share_grdp", "Digital economy share of GRDP",
        "Tỷ trọng kinh tế số trong GRDP", PCT,
        "Share of the digital economy in provincial GRDP (annual Vietnam digital economy "
        "report; broad definition including electronics manufacturing)."),
    ind("digital_economy_share_gdp", "Digital economy share of GDP",
        "Tỷ trọng kinh tế số trong GDP", PCT,
        "Digital economy share of GDP as reported in the annual digital-economy report and in "
        "policy targets (not the GSO value-added series)."),
    ind("digital_economy_share_gdp_gso", "Digital economy value added, share of GDP (GSO)",
        "Tỷ trọng giá trị tăng thêm kinh tế số trong GDP (Tổng cục Thống kê)", PCT,
        "Value added of the digital economy in GDP, GSO official compilation (latest vintage, "
        "Jan 2025)."),
    ind("digital_economy_share_gdp_mic_estimate",
        "Digital economy share of GDP (MIC policy estimate)",
        "Tỷ trọng kinh tế số trong GDP (ước tính của Bộ TT&TT)", PCT,
        "MIC policy estimate based on revenue data; not comparable with the GSO value-added "
        "series."),
    ind("digital_economy_revenue", "Digital economy revenue", "Doanh thu kinh tế số",
        ("USD billion", "index", 0, None),
        "Total revenue of the digital economy in the province (revenue, not value added)."),
    ind("digital_businesses_count", "Digital-technology businesses",
        "Số doanh nghiệp công nghệ số", CNT,
        "Number of digital-technology businesses in the province."),
    ind("grdp_per_capita", "GRDP per capita", "GRDP bình quân đầu người",
        ("VND million", "index", 0, None),
        "Gross regional domestic product per capita, current prices."),
    ind("population", "Population", "Dân số", CNT, "Population at a date (direction nominal)."),
    ind("population_average", "Average population", "Dân số trung bình", CNT,
        "Average annual population (GSO dân số trung bình; direction nominal)."),
    # --- DTI ------------------------------------------------------------------------------
    ind("dti_rank", "DTI rank", "Xếp hạng chỉ số chuyển đổi số cấp tỉnh (DTI)", RANK,
        "Rank of a province on the provincial Digital Transformation Index (DTI); basis in "
        "`among`.", DTI_RANK_BREAKS),
    ind("dti_score", "DTI score", "Chỉ số chuyển đổi số cấp tỉnh (DTI)", S01,
        "Provincial Digital Transformation Index (DTI) overall value, 0-1.", DTI_BREAKS),
    ind("dti_gov_rank", "DTI digital-government pillar rank",
        "Xếp hạng trụ cột Chính quyền số (DTI)", RANK,
        "Rank of a province on the DTI digital-government pillar (Chính quyền số).",
        DTI_RANK_BREAKS),
    ind("dti_gov_score", "DTI digital-government pillar score",
        "Điểm trụ cột Chính quyền số (DTI)", S01,
        "DTI digital-government pillar value, 0-1.", DTI_BREAKS),
    ind("dti_econ_rank", "DTI digital-economy pillar rank",
        "Xếp hạng trụ cột Kinh tế số (DTI)", RANK,
        "Rank of a province on the DTI digital-economy pillar (Kinh tế số).", DTI_RANK_BREAKS),
    ind("dti_econ_score", "DTI digital-economy pillar score", "Điểm trụ cột Kinh tế số (DTI)",
        S01, "DTI digital-economy pillar value, 0-1.", DTI_BREAKS),
    ind("dti_soc_rank", "DTI digital-society pillar rank", "Xếp hạng trụ cột Xã hội số (DTI)",
        RANK, "Rank of a province on the DTI digital-society pillar (Xã hội số).",
        DTI_RANK_BREAKS),
    ind("dti_soc_score", "DTI digital-society pillar score", "Điểm trụ cột Xã hội số (DTI)",
        S01, "DTI digital-society pillar value, 0-1.", DTI_BREAKS),
    *dti_main("dti_awareness", "digital awareness", "Nhận thức số"),
    *dti_main("dti_institutions", "digital institutions", "Thể chế số"),
    *dti_main("dti_infrastructure", "digital infrastructure", "Hạ tầng số"),
    *dti_main("dti_human_resources", "digital human resources", "Nhân lực số"),
    *dti_main("dti_cybersecurity", "cyber-security", "An toàn thông tin mạng"),
    *dti_main("dti_gov_activity", "digital-government activities", "Hoạt động chính quyền số"),
    *dti_main("dti_econ_activity", "digital-economy activities", "Hoạt động kinh tế số"),
    *dti_main("dti_soc_activity", "digital-society activities", "Hoạt động xã hội số"),
    ind("dti2020_gov_data_rank", "DTI 2020: digital information and data (gov pillar) rank",
        "DTI 2020: xếp hạng Thông tin và Dữ liệu số (trụ cột Chính quyền số)", RANK,
        "2020-framework sub-index of the digital-government pillar; exists for 2020 only."),
    ind("dti2020_gov_awareness_rank", "DTI 2020: awareness transformation (gov pillar) rank",
        "DTI 2020: xếp hạng Chuyển đổi nhận thức (trụ cột Chính quyền số)", RANK,
        "2020-framework sub-index of the digital-government pillar; exists for 2020 only."),
    ind("dti2020_gov_activity_rank", "DTI 2020: digital-government activities rank",
        "DTI 2020: xếp hạng Hoạt động chính quyền số", RANK,
        "2020-framework sub-index of the digital-government pillar; not the 2021- main index "
        "of the same name."),
    ind("dti_score_provincial_mean", "DTI, mean of provinces", "DTI cấp tỉnh bình quân", S01,
        "Mean of the provincial DTI values (national statistic).", DTI_BREAKS),
    ind("dti_gov_score_provincial_mean", "DTI digital-government pillar, mean of provinces",
        "Trụ cột Chính quyền số bình quân cấp tỉnh", S01,
        "Mean of the provinces' digital-government pillar values.", DTI_BREAKS),
    ind("dti_econ_score_provincial_mean", "DTI digital-economy pillar, mean of provinces",
        "Trụ cột Kinh tế số bình quân cấp tỉnh", S01,
        "Mean of the provinces' digital-economy pillar values.", DTI_BREAKS),
    ind("dti_soc_score_provincial_mean", "DTI digital-society pillar, mean of provinces",
        "Trụ cột Xã hội số bình quân cấp tỉnh", S01,
        "Mean of the provinces' digital-society pillar values.", DTI_BREAKS),
    ind("dti_national_score", "National DTI", "Chỉ số chuyển đổi số quốc gia", S01,
        "National-level Digital Transformation Index value.", DTI_BREAKS),
    ind("digital_government_rank", "Digital-government ranking (as named by the instrument)",
        "Xếp hạng chính quyền điện tử, chính quyền số", RANK,
        "Rank among provinces on digital / e-government, as worded in Resolution 01-NQ/TU (no "
        "index named); evaluated with dti_gov_rank.", DTI_RANK_BREAKS),
    ind("digital_transformation_rank",
        "Digital-transformation ranking (as named by the instrument)",
        "Xếp hạng chuyển đổi số", RANK,
        "Rank among provinces on digital transformation, as worded in Resolution 01-NQ/TU; "
        "evaluated with dti_rank.", DTI_RANK_BREAKS),
    # --- other governance indices ----------------------------------------------------------
    ind("mic_egov_it_application_rank", "MIC IT-application / e-government rank",
        "Xếp hạng mức độ ứng dụng CNTT, phát triển Chính phủ điện tử (Bộ TT&TT)", RANK,
        "MIC ranking of provinces on IT application and e-government development."),
    ind("mic_egov_it_application_score", "MIC IT-application / e-government score",
        "Chỉ số ứng dụng CNTT, phát triển Chính phủ điện tử (Bộ TT&TT)", S01,
        "MIC overall IT-application / e-government development index, 0-1."),
    ind("vietnam_ict_index_rank", "Vietnam ICT Index rank", "Xếp hạng Vietnam ICT Index", RANK,
        "Provincial rank on the Vietnam ICT Index (ICT readiness; MIC and VAIP).",
        [{"year": 2016, "geo": None, "what": "ICT Index indicator system revised in 2016"}]),
    ind("papi_egov_rank", "PAPI e-governance rank",
        "Xếp hạng PAPI nội dung Quản trị điện tử", RANK,
        "Provincial rank on PAPI dimension 8, e-governance (introduced 2018)."),
    ind("papi_egov_score", "PAPI e-governance score", "Điểm PAPI nội dung Quản trị điện tử",
        ("points", "index", None, None),
        "PAPI dimension 8 (e-governance) score, scale about 1-10, relative to the national "
        "level each year."),
    ind("papi_rank", "PAPI overall rank", "Xếp hạng PAPI tổng hợp", RANK,
        "Provincial rank on the PAPI composite."),
    ind("papi_score", "PAPI overall score", "Điểm PAPI tổng hợp",
        ("points (max 80)", "index", None, 80), "PAPI composite score (8 dimensions, max 80)."),
    ind("par_index_rank", "PAR Index rank",
        "Xếp hạng Chỉ số cải cách hành chính (PAR Index)", RANK,
        "Provincial rank on the Ministry of Home Affairs administrative-reform index."),
    ind("par_index_score", "PAR Index score", "Chỉ số cải cách hành chính (PAR Index)", S100,
        "PAR Index value (percent)."),
    ind("par_index_score_provincial_mean", "PAR Index, mean of provinces",
        "PAR Index bình quân cấp tỉnh", S100, "Average PAR Index of the 63 provinces."),
    ind("pci_rank", "PCI rank", "Xếp hạng Chỉ số năng lực cạnh tranh cấp tỉnh (PCI)", RANK,
        "Provincial Competitiveness Index rank (context)."),
    ind("sipas_rank", "SIPAS rank",
        "Xếp hạng Chỉ số hài lòng về sự phục vụ hành chính (SIPAS)", RANK,
        "Provincial rank on SIPAS, satisfaction with public administrative services."),
    ind("sipas_score", "SIPAS satisfaction",
        "Chỉ số hài lòng về sự phục vụ hành chính (SIPAS)", PCT,
        "SIPAS: citizens' satisfaction with public administrative services, percent."),
    ind("sipas_score_provincial_mean", "SIPAS, national average", "SIPAS bình quân cả nước",
        PCT, "National average SIPAS (average of the provinces)."),
    ind("index766_rank", "Index 766 rank",
        "Xếp hạng Bộ chỉ số phục vụ người dân, doanh nghiệp (QĐ 766)", RANK,
        "Rank on the real-time index of service to citizens and businesses (Decision "
        "766/QĐ-TTg)."),
    ind("index766_score", "Index 766 score",
        "Điểm Bộ chỉ số phục vụ người dân, doanh nghiệp (QĐ 766)", S100,
        "Decision 766/QĐ-TTg index of service to citizens and businesses, 0-100; a rolling "
        "score: snapshots on different dates differ."),
    # --- UN e-government survey ------------------------------------------------------------
    ind("egdi_rank", "UN EGDI rank",
        "Xếp hạng Chỉ số phát triển Chính phủ điện tử (EGDI) của Liên Hợp Quốc", RANK,
        "Country rank on the UN E-Government Development Index; basis in `among`.",
        [{"year": 2008, "geo": None, "what": "values before 2008 are the UN E-government "
          "Readiness Index (different method; raw note)"}]),
    ind("egdi_score", "UN EGDI score", "Chỉ số phát triển Chính phủ điện tử (EGDI)", S01,
        "UN E-Government Development Index, 0-1 (mean of OSI, TII, HCI)."),
    ind("osi_rank", "UN Online Service Index rank",
        "Xếp hạng Chỉ số dịch vụ công trực tuyến (OSI)", RANK,
        "Country rank on the UN Online Service Index."),
    ind("osi_score", "UN Online Service Index", "Chỉ số dịch vụ công trực tuyến (OSI)", S01,
        "UN Online Service Index, 0-1."),
    ind("tii_score", "UN Telecommunication Infrastructure Index",
        "Chỉ số hạ tầng viễn thông (TII)", S01, "UN Telecommunication Infrastructure Index, 0-1."),
    ind("hci_score", "UN Human Capital Index", "Chỉ số nguồn nhân lực (HCI)", S01,
        "UN Human Capital Index, 0-1."),
    ind("epi_rank", "UN E-Participation Index rank",
        "Xếp hạng Chỉ số tham gia điện tử (EPI)", RANK,
        "Country rank on the UN E-Participation Index."),
    ind("epi_score", "UN E-Participation Index", "Chỉ số tham gia điện tử (EPI)", S01,
        "UN E-Participation Index, 0-1."),
]
INDICATOR_BY_ID = {i["id"]: i for i in INDICATORS}

# =====================================================================================
# Targets: raw indicator -> (indicator named by the instrument, reading evaluated)
# =====================================================================================

#: Raw target indicator -> indicator named by the instrument (registered in indicators.yaml).
TARGET_INDICATORS = {
    "SIPAS_satisfaction": "sipas_score",
    "civil_servants_trained_AI": "civil_servants_ai_trained_share",
    "digital_economy_share_GRDP": "digital_economy_share_grdp",
    "digital_government_ranking": "digital_government_rank",
    "egov_digital_gov_ranking": "digital_government_rank",
    "digital_transformation_ranking": "digital_transformation_rank",
    "dossiers_received_online_share": "online_dossier_share",
    "level4_online_services_share": "level4_online_services_share",
    "population_basic_digital_skills_share": "basic_digital_skills_share",
    "procedures_online_level3_share": "online_procedures_level34_share",
    "procedures_online_level3_4_share": "online_procedures_level34_share",
    "work_files_processed_online_commune": "work_files_online_commune_share",
    "work_files_processed_online_district": "work_files_online_district_share",
    "work_files_processed_online_provincial": "work_files_online_provincial_share",
    "work_files_processed_online_ministerial_provincial":
        "work_files_online_ministerial_provincial_share",
    "workingage_can_use_online_services_share": "workingage_can_use_online_services_share",
    "EGDI_rank": "egdi_rank",
    "adult_smartphone_share": "adult_smartphone_share",
    "adults_using_online_public_services": "adults_using_online_services_share",
    "citizen_satisfaction_online_services": "online_services_satisfaction_share",
    "digital_economy_share_GDP": "digital_economy_share_gdp",
    "end_to_end_online_services_share": "eligible_procedures_online_share",
    "fullprocess_online_dossier_share": "fullprocess_online_dossier_share",
    "household_fibre_broadband_share": "household_fibre_coverage_share",  # "được phủ" = covered
    "households_fibre_coverage": "household_fibre_coverage_share",
    "level4_online_services_multidevice_share": "level4_online_services_multidevice_share",
    "online_dossier_share": "online_dossier_share",
    "online_public_services_share": "online_public_services_share",
    "online_services_with_dossiers_share": "online_services_with_online_dossiers_share",
    "workingage_basic_digital_skills_trained_share":
        "workingage_basic_digital_skills_trained_share",
}
#: Instrument indicator -> reading evaluated, where they differ (default: the same id).
TARGET_READING_OF = {
    "digital_government_rank": "dti_gov_rank",
    "digital_transformation_rank": "dti_rank",
    "online_procedures_level34_share": "eligible_procedures_online_share",
}

#: Targets with several readings: raw ref -> [(suffix, reading, note)].
TARGET_READINGS = {
    f"{TN_TGT}:13": [
        ("usage", "online_dossier_share",
         "usage reading (project default): share of dossiers handled online; the instrument's "
         "literal wording (procedures offered online at level 3/4) is a supply measure"),
        ("supply", "eligible_procedures_online_share",
         "supply reading: share of eligible procedures provided fully online (level 4 / "
         "full-process), a lower bound of the level 3+4 share; the province reported 100% of "
         "eligible procedures at level 4 in 2021-22, so the literal target is already met"),
    ],
}

#: Per-row target overrides (raw ref -> dict of fields to set; 'note' is appended).
UN_BASIS = "among: UN rank basis 193 from 2014 (national_series unit); not in the quote"
TARGET_OVERRIDES = {
    f"{TN_TGT}:4": {
        "geo": "thai_nguyen_merged",
        "note": "geo: merged province (Party Congress resolution of the merged province, term "
                "2025-2030; raw geo 'Thái Nguyên')"},
    f"{TN_TGT}:7": {
        "among": 63,
        "note": "among: the source names no number; 63 = provinces when Resolution 01-NQ/TU was "
                "adopted (2020); from 2025 the DTI ranks 34 merged provinces"},
    f"{TN_TGT}:14": {
        "note": "supply reading counts level 4 / full-process only (lower bound of the level 3 "
                "share)"},
    f"{TN_TGT}:20": {"among": 193, "note": UN_BASIS},
    f"{TN_TGT}:21": {"among": 193, "note": UN_BASIS},
    f"{TN_TGT}:22": {
        "indicator": "population_smartphone_share", "reading": "adult_smartphone_share",
        "note": "target is for the whole population; the reading observes adults (denominator "
                "differs)"},
}

# =====================================================================================
# Data structures
# =====================================================================================


@dataclass
class RawRow:
    """One raw CSV record with its provenance and the value cells that must be accounted for."""

    file: str
    line: int
    data: dict
    cells: frozenset = frozenset({"*"})

    @property
    def ref(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Obs:
    """One curated observation (before sources and conflicts are resolved)."""

    geo: str
    indicator: str
    year: int
    value: Decimal
    url: str
    raw: str
    period: str = ""
    bound: str = ""
    among: int | None = None
    quote: str = ""
    notes: list = field(default_factory=list)
    cell: str | None = None

    def fact_key(self) -> tuple:
        """Identity of the observed fact, used to detect duplicates across files."""
        return (self.geo, self.indicator, self.year, self.value, self.bound, self.among,
                source_id(self.url))


@dataclass
class Excl:
    """One excluded raw row (cell=None) or one excluded cell of a wide row."""

    raw: str
    reason: str
    cell: str | None = None


@dataclass
class Result:
    """Everything produced from the raw files."""

    obs: list = field(default_factory=list)
    excl: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    rows: dict = field(default_factory=dict)  # ref -> RawRow

    def exclude(self, row: RawRow, reason: str, cell: str | None = None) -> None:
        self.excl.append(Excl(row.ref, reason, cell))


# =====================================================================================
# Small helpers
# =====================================================================================


def clean(text: str | None) -> str:
    """NFC-normalise, replace newlines by spaces and strip."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


def read_rows(shared: Path, rel: str, cell_columns: Iterable[str] | None = None) -> list[RawRow]:
    """Read a CSV and return records with their 1-based physical start line (header = line 1)."""
    rows = []
    with open(shared / rel, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = [clean(h) for h in next(reader)]
        prev_end = reader.line_num
        for rec in reader:
            start = prev_end + 1
            prev_end = reader.line_num
            if not any(c.strip() for c in rec):
                continue
            data = {h: clean(v) for h, v in zip(header, rec, strict=True)}
            cells = frozenset({"*"})
            if cell_columns is not None:
                cells = frozenset(c for c in cell_columns if data.get(c, ""))
            rows.append(RawRow(rel, start, data, cells))
    return rows


def source_id(url: str) -> str:
    """Stable source id: ``src_`` + first 10 hex chars of sha1(url)."""
    return "src_" + hashlib.sha1(url.encode("utf-8")).hexdigest()[:10]


def split_urls(field_value: str) -> tuple[str, list[str]]:
    """First URL of a ``" | "``-separated list, and the others."""
    urls = [u.strip() for u in field_value.split(" | ") if u.strip()]
    return (urls[0] if urls else ""), urls[1:]


def parse_number(text: str) -> Decimal | None:
    """Parse a plain number (``.`` decimal point); return None if not a plain number."""
    text = text.strip()
    if not re.fullmatch(r"-?\d+(\.\d+)?", text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def fmt_number(value: Decimal) -> str:
    """Format without exponent or trailing zeros: Decimal('0.9000') -> '0.9'."""
    return format(value.normalize(), "f")


def ascii_name(name: str) -> str:
    """Vietnamese name -> ASCII name keeping capitals and spacing (diacritics removed, đ -> d)."""
    name = name.replace("Đ", "D").replace("đ", "d")
    name = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in name if not unicodedata.combining(ch))


def ascii_slug(name: str) -> str:
    """Vietnamese name -> ASCII snake_case id."""
    return re.sub(r"[^a-z0-9]+", "_", ascii_name(name).lower()).strip("_")


def host_of(url: str) -> str:
    """Publisher of a URL: host without ``www.``; ``github:owner/name`` for repo references."""
    if url.startswith("repo:"):
        return "github:" + url.split(":")[1]
    if not url.startswith("http"):
        return PANEL_PUBLISHER
    host = (urlparse(url).hostname or "").rstrip(".")
    return host[4:] if host.startswith("www.") else host


def qualifiers(*texts: str) -> tuple[str, list[str]]:
    """Bound and notes implied by qualifiers in a raw value or unit."""
    joined = " ".join(texts)
    bound, notes = "", []
    for pattern in LOWER_BOUND_PATTERNS:
        m = re.search(pattern, joined, re.I)
        if m:
            bound = "lower"
            notes.append(f"lower bound (raw qualifier '{m.group(0)}')")
            break
    if any(re.search(p, joined, re.I) for p in APPROX_PATTERNS):
        notes.append("approximate")
    if any(re.search(p, joined, re.I) for p in ESTIMATE_PATTERNS):
        notes.append("estimate")
    return bound, notes


def strip_qualifier(value: str) -> str:
    """'100 (approx.)' -> '100'."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", value).strip()


def raw_name_note(raw_name: str, curated: str) -> str:
    """Note the raw indicator name when curation renamed or merged it (beyond letter case)."""
    return "" if raw_name.lower() == curated else f"indicator (raw): {raw_name}"


def join_notes(parts: Iterable[str]) -> str:
    """Join non-empty note parts with '; ' (no duplicates, order kept)."""
    seen, out = set(), []
    for p in parts:
        p = clean(p)
        if p and p not in seen:
            seen.add(p)
            out.append(p)
    return "; ".join(out)


# =====================================================================================
# Geography resolution
# =====================================================================================


class Geo:
    """Resolve raw province / country labels to geo ids."""

    def __init__(self, mapping_rows: list[RawRow]):
        self.alias: dict[str, str] = {}
        for row in mapping_rows:
            canonical = row.data["canonical_name"]
            for variant in row.data["source_name"].split(" / "):
                self.alias[variant.strip()] = canonical
        self.provinces: list[str] = []
        self.country = {en: cid for cid, _vi, en, _iso in COUNTRIES}

    def set_provinces(self, names: Iterable[str]) -> None:
        """The province universe: the 63 provinces of the DTI 2022 panel (canonical names)."""
        self.provinces = sorted({self.canonical(n) for n in names})

    def canonical(self, name: str) -> str:
        """Canonical Vietnamese province name (province_name_mapping.csv)."""
        return self.alias.get(name, name)

    def province_id(self, name: str) -> str:
        canonical = self.canonical(name)
        return PROVINCE_ID.get(canonical, ascii_slug(canonical))

    def resolve(self, label: str) -> str | None:
        """Geo id of a raw label, or None if the label is ambiguous."""
        if label in GEO_AMBIGUOUS:
            return None
        if label in GEO_LABELS:
            return GEO_LABELS[label]
        if label in self.country:
            return self.country[label]
        canonical = self.canonical(label)
        if canonical not in self.provinces:
            raise SystemExit(f"unknown geo label: {label!r}")
        return self.province_id(canonical)

    def dti_geo(self, name: str, n_provinces: str) -> tuple[str, str]:
        """Geo id of a DTI row (+ note); on the 34-province basis merged units get their id."""
        canonical = self.canonical(name)
        if n_provinces == "34" and canonical in MERGED_CORE:
            return MERGED_CORE[canonical], "geo: merged unit (34-province basis)"
        return self.resolve(canonical), ""


# =====================================================================================
# One function per raw file
# =====================================================================================


def period_for(table: dict, row: RawRow, raw_value: str) -> tuple[str, list[str]]:
    """Look up the explicit period decision of a page row; fail if missing or stale."""
    if row.line not in table:
        raise SystemExit(f"no period decision for {row.ref} (value {raw_value!r}): add one")
    expected, period, why = table[row.line]
    if expected != raw_value:
        raise SystemExit(f"period table is stale at {row.ref}: {expected!r} != {raw_value!r}")
    notes = [f"period: {why}"] if why and period else []
    return period, notes


def among_from_unit(unit: str, year: int) -> int | None:
    """Rank basis from a raw unit ('rank of 63'); the UN multi-year unit is resolved per year."""
    if unit == UN_RANK_UNIT:
        return None if year == 2010 else (190 if year == 2012 else 193)
    m = RANK_OF.search(unit)
    return int(m.group(1)) if m else None


def value_obs(res: Result, row: RawRow, *, geo: str, indicator: str, year: str, value: str,
              url: str, unit: str = "", quote: str = "", notes: list | None = None,
              period: str = "", cell: str | None = None, among: int | None = None) -> None:
    """Add an observation built from one raw value, or exclude the row (or cell) if unusable."""
    if not year:
        res.exclude(row, "undated: year not stated in the source", cell)
        return
    bound, qnotes = qualifiers(value, unit)
    if row.ref in QUOTE_BOUNDS:
        bound, extra = QUOTE_BOUNDS[row.ref]
        qnotes.append(extra)
    number = parse_number(strip_qualifier(value))
    if number is None:
        res.exclude(row, f"non-numeric value {value!r}", cell)
        return
    if unit in UNIT_SCALES:
        factor, remark = UNIT_SCALES[unit]
        qnotes.append(f"{remark} ({value})")
        number = number * factor
    if INDICATOR_BY_ID[indicator]["kind"] != "rank":
        among = None
    elif among is None:
        among = among_from_unit(unit, int(year))
        if among is None:
            res.exclude(row, f"rank basis not stated (raw unit {unit!r}); `among` is required "
                             "for ranks", cell)
            return
    first_url, other_urls = split_urls(url)
    if other_urls:
        qnotes.append("also: " + " ".join(other_urls))
    res.obs.append(Obs(geo=geo, indicator=indicator, year=int(year), value=number,
                       url=first_url, raw=row.ref, period=period, bound=bound, among=among,
                       quote=quote, notes=(notes or []) + qnotes, cell=cell))


def curate_tn_indicators(res: Result, rows: list[RawRow], geo: Geo) -> None:
    """research/thainguyen_indicators.csv: long file, one observation per row."""
    for row in rows:
        d = row.data
        if d["geo"] in GEO_AMBIGUOUS:
            res.exclude(row, f"geo ambiguous ({d['geo']})")
            continue
        if row.ref in ROW_EXCLUSIONS:
            res.exclude(row, ROW_EXCLUSIONS[row.ref])
            continue
        if d["indicator"] in TN_EXCLUDED_INDICATORS:
            res.exclude(row, TN_EXCLUDED_INDICATORS[d["indicator"]])
            continue
        indicator = INDICATOR_OVERRIDES.get(row.ref, TN_INDICATOR_MAP[d["indicator"]])
        notes = [d["note"], f"definition (raw): {d['definition']}", f"unit (raw): {d['unit']}",
                 raw_name_note(d["indicator"], indicator)]
        period = ""
        if d["year"]:
            period, period_notes = period_for(TN_PERIODS, row, d["value"])
            notes += period_notes
        value_obs(res, row, geo=geo.resolve(d["geo"]), indicator=indicator, year=d["year"],
                  value=d["value"], url=d["source_url"], unit=d["unit"], quote=d["quote"],
                  notes=notes, period=period)


def curate_national_series(res: Result, rows: list[RawRow], geo: Geo) -> None:
    """research/national_series.csv: long series (repo files) and scattered page values."""
    for row in rows:
        d = row.data
        name = d["indicator"]
        if d["geo"] in GEO_AMBIGUOUS:
            res.exclude(row, f"geo ambiguous ({d['geo']})")
            continue
        if "__vintage_" in name:
            primary = name.split("__vintage_")[0]
            curated = NAT_INDICATOR_MAP[primary]
            res.exclude(row, f"superseded vintage of {primary} (curated: {curated})")
            continue
        if name.startswith("un_tii_input_"):
            res.exclude(row, TII_INPUT_REASON.format(year=d["year"]))
            continue
        if name in NAT_EXCLUDED_INDICATORS:
            res.exclude(row, NAT_EXCLUDED_INDICATORS[name])
            continue
        indicator = NAT_INDICATOR_MAP[name]
        notes = [d["note"], raw_name_note(name, indicator)]
        period = ""
        if d["source_kind"] == "page":
            notes.append(f"unit (raw): {d['unit']}")
            if d["year"]:
                period, period_notes = period_for(NAT_PERIODS, row, d["value"])
                notes += period_notes
        value_obs(res, row, geo=geo.resolve(d["geo"]), indicator=indicator, year=d["year"],
                  value=d["value"], url=d["source_url"], unit=d["unit"],
                  quote=d["quote_or_row"], notes=notes, period=period)


def code_notes(note: str, codes: dict[str, str]) -> list[str]:
    """Resolve source codes mentioned in a note (dti_sources.csv) to their URLs."""
    found = [c for c in sorted(codes) if re.search(rf"\b{re.escape(c)}\b", note)]
    return [f"source code {c} = {codes[c]}" for c in found]


#: Tuyên Quang 2023: the pillar values may be main indices (raw note).
AMBIGUOUS_PILLARS = {f"{DTI_PROV}:107"}


def curate_dti_province(res: Result, rows: list[RawRow], geo: Geo, codes: dict[str, str]) -> None:
    """research/dti_province.csv: wide; one observation per non-empty rank/score cell."""
    for row in rows:
        d = row.data
        if not row.cells:
            res.exclude(row, "no value: " + (d["note"] or "rank and score not stated"))
            continue
        gid, geo_note = geo.dti_geo(d["province"], d["n_provinces"])
        notes = [d["note"], geo_note] + code_notes(d["note"], codes)
        for column in DTI_PROVINCE_COLUMNS:
            if column not in row.cells:
                continue
            if row.ref in AMBIGUOUS_PILLARS and column not in ("rank", "dti_score"):
                res.exclude(row, f"{column}: definition ambiguous (raw note: the values may be "
                                 "the 'Hoạt động ...' main indices rather than pillars)", column)
                continue
            value_obs(res, row, geo=gid, indicator=DTI_PROVINCE_COLUMNS[column], year=d["year"],
                      value=d[column], url=d["source_url"], notes=list(notes), cell=column,
                      among=int(d["n_provinces"]))


def curate_dti_long(res: Result, rows: list[RawRow], geo: Geo, codes: dict[str, str]) -> None:
    """research/dti_components_long.csv: main-index value and/or rank per row."""
    for row in rows:
        d = row.data
        if not row.cells:
            res.exclude(row, "no value: " + (d["note"] or "value and rank not stated"))
            continue
        stem = DTI_COMPONENTS[d["component"]]
        gid, geo_note = geo.dti_geo(d["province"], d["n_provinces"])
        notes = [d["note"], geo_note, f"component (raw): {d['component']}"]
        notes += code_notes(d["note"], codes)
        for column, suffix in (("value", "_score"), ("rank", "_rank")):
            if column in row.cells:
                value_obs(res, row, geo=gid, indicator=stem + suffix, year=d["year"],
                          value=d[column], url=d["source_url"], notes=list(notes), cell=column,
                          among=int(d["n_provinces"]))


def curate_dti_2022(res: Result, rows: list[RawRow], long_rows: list[RawRow],
                    prov_rows: list[RawRow], geo: Geo) -> None:
    """research/dti_components_2022.csv: check that it only repeats the long file; exclude it."""
    long_index = {}
    for lr in long_rows:
        d = lr.data
        long_index[(d["year"], geo.canonical(d["province"]), d["component"], d["value"])] = lr.line
    ranks = {(p.data["year"], geo.canonical(p.data["province"]), p.data["rank"]): p.line
             for p in prov_rows}
    components = [c for c in rows[0].data if c in DTI_COMPONENTS] if rows else []
    for row in rows:
        d = row.data
        province = geo.canonical(d["province"])
        lines = []
        for comp in components:
            long_name = "PDTI (tổng)" if comp == "PDTI" else comp
            key = (d["year"], province, long_name, d[comp])
            if key not in long_index:
                raise SystemExit(f"{row.ref}: {comp}={d[comp]} is not in {DTI_LONG}")
            lines.append(long_index[key])
        rank_line = ranks.get((d["year"], province, d["rank"]))
        if rank_line is None:
            raise SystemExit(f"{row.ref}: rank {d['rank']} not found in {DTI_PROV}")
        res.exclude(row, f"duplicate of {DTI_LONG}:{min(lines)}-{max(lines)} "
                         f"(rank duplicates {DTI_PROV}:{rank_line})")


def curate_dti_national(res: Result, rows: list[RawRow]) -> None:
    """research/dti_national.csv: national and provincial means."""
    for row in rows:
        d = row.data
        key = (d["level"], d["indicator"])
        change = d["change_vs_prev_year"]
        notes = [d["note"], f"reported change vs previous year: {change}" if change else ""]
        if key in DTI_NATIONAL_MAP:
            gid, indicator = DTI_NATIONAL_MAP[key]
            value_obs(res, row, geo=gid, indicator=indicator, year=d["year"], value=d["value"],
                      url=d["source_url"], notes=notes)
        elif d["indicator"] == "max (Đà Nẵng)":
            # the national maximum is Đà Nẵng's own DTI score
            value_obs(res, row, geo="da_nang", indicator="dti_score", year=d["year"],
                      value=d["value"], url=d["source_url"],
                      notes=notes + ["national max = Đà Nẵng's DTI score"])
        elif d["level"] == "ministerial":
            res.exclude(row, DTI_NATIONAL_EXCLUDED["ministerial"])
        else:
            res.exclude(row, DTI_NATIONAL_EXCLUDED[d["indicator"]])


def curate_dti_derived(res: Result, rows: list[RawRow]) -> None:
    """research/dti_derived_values.csv: all excluded (derived by arithmetic or ambiguous year)."""
    for row in rows:
        res.exclude(row, f"derived, not observed: {row.data['derivation']}")


def curate_panel(res: Result, rows: list[RawRow], geo: Geo) -> None:
    """internet_users_panel.csv: internet users (% of population), 12 countries, annual."""
    for row in rows:
        d = row.data
        value_obs(res, row, geo=geo.resolve(d["country"]), indicator="internet_users_share",
                  year=d["year"], value=d["value"], url=d["source"])


def parse_target_value(text: str) -> tuple[str, Decimal, list[str]]:
    """'>=90' / '>90' / 'top 15' / '35 (about)' -> (comparator, threshold, notes)."""
    notes = []
    m = re.search(r"\(([^)]*)\)\s*$", text)
    if m:
        notes.append(f"({m.group(1)})")
        text = text[:m.start()].strip()
    if text.lower().startswith("top "):
        return "<=", Decimal(text[4:].strip()), notes
    for op in (">=", "<=", ">", "<"):
        if text.startswith(op):
            return op, Decimal(text[len(op):].strip()), notes
    return ">=", Decimal(text), notes


def curate_targets(res: Result, rows: list[RawRow], geo: Geo) -> None:
    """research/thainguyen_targets.csv: one target per row (one per reading if several)."""
    for row in rows:
        d = row.data
        override = TARGET_OVERRIDES.get(row.ref, {})
        indicator = override.get("indicator", TARGET_INDICATORS[d["indicator"]])
        reading = override.get("reading", TARGET_READING_OF.get(indicator, indicator))
        comparator, threshold, notes = parse_target_value(d["target_value"])
        notes += [f"unit (raw): {d['unit']}", override.get("note", "")]
        base = {
            "geo": override.get("geo", geo.resolve(d["geo"])), "indicator": indicator,
            "year": int(d["target_year"]), "comparator": comparator, "threshold": threshold,
            "instrument": d["instrument"], "url": d["source_url"], "quote": d["quote"],
            "raw": row.ref,
        }
        for suffix, rd, rnote in TARGET_READINGS.get(row.ref, [("", reading, "")]):
            among = None
            if INDICATOR_BY_ID[rd]["kind"] == "rank":
                m = re.search(r"among (\d+)", d["unit"])
                among = override.get("among", int(m.group(1)) if m else None)
                if among is None:
                    raise SystemExit(f"{row.ref}: rank target without `among`")
            res.targets.append({**base, "reading": rd, "suffix": suffix, "among": among,
                                "note": join_notes(notes + [rnote, f"raw: {row.ref}"])})


# =====================================================================================
# Post-processing: duplicates, conflicts, ids
# =====================================================================================


def raw_order(ref: str) -> tuple[int, int]:
    """Priority of a raw ref among duplicates: file priority, then line."""
    path, line = ref.rsplit(":", 1)
    return FILE_PRIORITY.index(path), int(line)


def deduplicate(res: Result) -> None:
    """Keep one observation per fact; exclude the others as duplicates of the kept row.

    A fact is (geo, indicator, year, value, bound, among, source).
    """
    groups = defaultdict(list)
    for o in res.obs:
        groups[o.fact_key()].append(o)
    dropped = set()
    for group in groups.values():
        group.sort(key=lambda o: raw_order(o.raw))
        first = group[0]
        for other in group[1:]:
            if other.period != first.period:
                raise SystemExit(f"same fact, different periods: {first.raw} {first.period!r}"
                                 f" vs {other.raw} {other.period!r}")
            dropped.add(id(other))
            prefix = f"{other.cell}: " if other.cell else ""
            res.excl.append(Excl(other.raw, f"{prefix}duplicate of {first.raw}", other.cell))
    res.obs = [o for o in res.obs if id(o) not in dropped]


def flag_conflicts(res: Result) -> None:
    """Note disagreeing values for one (geo, indicator, year, period, bound), the loader's key.

    Ranks on a different basis (``among``) are said to differ in basis, not to conflict.
    """
    groups = defaultdict(list)
    for o in res.obs:
        groups[(o.geo, o.indicator, o.year, o.period, o.bound)].append(o)
    for group in groups.values():
        if len({o.value for o in group}) < 2:
            continue
        for o in group:
            others = [x for x in group if x.value != o.value]
            same = sorted({(host_of(x.url), fmt_number(x.value))
                           for x in others if x.among == o.among})
            other = sorted({(x.among, fmt_number(x.value)) for x in others if x.among != o.among})
            if same:
                text = ", ".join(f"{h} value {v}" for h, v in same)
                kept = "both kept" if len(same) == 1 else "all kept"
                o.notes.append(f"conflicts with {text}; {kept}")
            if other:
                text = ", ".join(f"{v} among {a}" for a, v in other)
                o.notes.append(f"differs from rank {text} (different ranking basis); both kept")


HOST_PREFIXES = ("www", "m", "en", "english")


def target_ids(targets: list[dict]) -> None:
    """Ids ``<geo>_<indicator>_<year>[_<reading>]``; repeated ids get a source-host suffix."""
    for t in targets:
        t["id"] = f"{t['geo']}_{t['indicator']}_{t['year']}"
        if t["suffix"]:
            t["id"] += f"_{t['suffix']}"
    counts = defaultdict(int)
    for t in targets:
        counts[t["id"]] += 1
    for t in targets:
        if counts[t["id"]] > 1:
            labels = [p for p in host_of(t["url"]).split(".") if p not in HOST_PREFIXES]
            t["id"] += "_" + ascii_slug(labels[0])
    ids = [t["id"] for t in targets]
    if len(ids) != len(set(ids)):
        raise SystemExit(f"duplicate target ids: {sorted(i for i in ids if ids.count(i) > 1)}")


# =====================================================================================
# Checks
# =====================================================================================


def check_accounting(res: Result) -> dict[str, tuple[int, int, int, int]]:
    """Every raw data row (and value cell of a wide row) is in observations, targets or excluded."""
    covered = defaultdict(set)
    for o in res.obs:
        covered[o.raw].add(o.cell or "*")
    for t in res.targets:
        covered[t["raw"]].add("*")
    for e in res.excl:
        covered[e.raw].add(e.cell or "*")
    problems = []
    for ref, row in res.rows.items():
        got = covered.get(ref, set())
        if not got:
            problems.append(f"{ref}: not accounted for")
        elif "*" not in got and not row.cells <= got:
            problems.append(f"{ref}: cells {sorted(row.cells - got)} not accounted for")
    for ref in sorted(set(covered) - set(res.rows)):
        problems.append(f"{ref}: output refers to a raw row that does not exist")
    whole_obs = {o.raw for o in res.obs if o.cell is None}
    whole_excl = {e.raw for e in res.excl if e.cell is None}
    problems += [f"{ref}: both observation and excluded" for ref in sorted(whole_obs & whole_excl)]
    if problems:
        raise SystemExit("accounting check failed:\n  " + "\n  ".join(problems))
    summary = {}
    for f in DATA_FILES:
        refs = {r for r in res.rows if r.startswith(f + ":")}
        n_obs = len({o.raw for o in res.obs if o.raw in refs})
        n_tgt = len({t["raw"] for t in res.targets if t["raw"] in refs})
        n_exc = len({e.raw for e in res.excl if e.raw in refs} - {o.raw for o in res.obs})
        summary[f] = (len(refs), n_obs, n_tgt, n_exc)
        if n_obs + n_tgt + n_exc != len(refs):
            raise SystemExit(f"accounting check failed for {f}: {len(refs)} rows in, "
                             f"{n_obs} + {n_tgt} + {n_exc} out")
    return summary


def check_values(res: Result, geo_ids: set[str]) -> None:
    """Values within the indicator's bounds, ranks within [1, among], known geos and ids."""
    problems = []
    for o in res.obs:
        spec = INDICATOR_BY_ID[o.indicator]
        lo, hi = spec["lower"], spec["upper"]
        if (lo is not None and o.value < lo) or (hi is not None and o.value > hi):
            problems.append(f"{o.raw}: {o.indicator}={o.value} outside [{lo}, {hi}]")
        if spec["kind"] == "rank":
            whole = o.value == int(o.value)
            if not (o.among and whole and 1 <= o.value <= o.among):
                problems.append(f"{o.raw}: rank {o.value} among {o.among}")
        if o.geo not in geo_ids:
            problems.append(f"{o.raw}: unknown geo {o.geo}")
    for t in res.targets:
        for key in ("indicator", "reading"):
            if t[key] not in INDICATOR_BY_ID:
                problems.append(f"{t['raw']}: unregistered {key} {t[key]}")
        if t["geo"] not in geo_ids:
            problems.append(f"{t['raw']}: unknown geo {t['geo']}")
    if problems:
        raise SystemExit("value check failed:\n  " + "\n  ".join(problems))


# =====================================================================================
# Writers
# =====================================================================================

OBS_COLUMNS = ["geo", "indicator", "year", "value", "source_id", "period", "bound", "among",
               "quote", "note", "raw"]
SOURCE_COLUMNS = ["id", "url", "publisher", "title", "date", "kind"]


def natural_ref(ref: str) -> tuple[str, int]:
    path, line = ref.rsplit(":", 1)
    return path, int(line)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for r in rows:
            writer.writerow([clean("" if v is None else str(v)) for v in r])


class _NoAliasDumper(yaml.SafeDumper):
    """Safe dumper that never writes YAML anchors/aliases (shared lists are written in full)."""

    def ignore_aliases(self, data) -> bool:
        return True


def write_yaml(path: Path, data: dict) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        yaml.dump(data, fh, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True,
                  default_flow_style=False, width=100)


def write_observations(out: Path, res: Result) -> None:
    rows = []
    for o in res.obs:
        among = "" if o.among is None else o.among
        rows.append([o.geo, o.indicator, o.year, fmt_number(o.value), source_id(o.url), o.period,
                     o.bound, among, o.quote, join_notes(o.notes), o.raw])
    rows.sort(key=lambda r: (r[1], r[0], r[2], r[5], r[4], Decimal(r[3]), natural_ref(r[10])))
    write_csv(out / "observations.csv", OBS_COLUMNS, rows)


def write_excluded(out: Path, res: Result) -> None:
    rows = sorted({(e.raw, clean(e.reason)) for e in res.excl},
                  key=lambda r: (natural_ref(r[0]), r[1]))
    write_csv(out / "excluded.csv", ["raw", "reason"], [list(r) for r in rows])


def write_sources(out: Path, res: Result) -> None:
    urls = {o.url for o in res.obs} | {t["url"] for t in res.targets}
    rows = []
    for url in urls:
        if url.startswith("repo:"):
            kind = "repo_file"
        elif url.startswith("http"):
            kind = "page"
        else:
            kind = "dataset"
        title, date = SOURCE_META.get(url, ("", ""))
        if kind == "dataset":
            title = PANEL_TITLE
        rows.append([source_id(url), url, host_of(url), title, date, kind])
    if len({r[0] for r in rows}) != len(rows):
        raise SystemExit("source id collision")
    write_csv(out / "sources.csv", SOURCE_COLUMNS, sorted(rows))


def number(value: Decimal) -> int | float:
    """Decimal -> int when integral, else float (for YAML)."""
    return int(value) if value == int(value) else float(value)


def write_targets(out: Path, res: Result) -> None:
    entries = []
    for t in sorted(res.targets, key=lambda t: t["id"]):
        entries.append({
            "id": t["id"], "geo": t["geo"], "indicator": t["indicator"], "reading": t["reading"],
            "year": t["year"], "comparator": t["comparator"], "threshold": number(t["threshold"]),
            "among": t["among"], "instrument": t["instrument"], "source_id": source_id(t["url"]),
            "quote": t["quote"], "note": t["note"],
        })
    write_yaml(out / "targets.yaml", {"targets": entries})


def geo_entry(gid: str, name_vi: str, name_en: str, level: str, *, iso3: str | None = None,
              merged_into: str | None = None, merged_on: str | None = None,
              note: str = "") -> dict:
    """One geos.yaml entry (population is always null: populations are observations)."""
    return {"id": gid, "name_vi": name_vi, "name_en": name_en, "level": level, "iso3": iso3,
            "population": None, "merged_into": merged_into, "merged_on": merged_on, "note": note}


def build_geos(geo: Geo, used: set[str]) -> list[dict]:
    """All 63 DTI-2022 provinces, merged units, countries, aggregates; with merger lineage."""
    member_of = {}
    for mid, (_core, members, where) in MERGED_UNITS.items():
        for m in members:
            member_of[m] = (mid, where)
    entries = []
    for name in geo.provinces:
        mid, where = member_of.get(name, (None, None))
        note = f"merged into {mid} on {MERGER_DATE} (documented in {where})" if mid else ""
        if name == "Thừa Thiên Huế":
            note = ("became centrally-run city 'TP. Huế' in 2025, same territory "
                    "(province_name_mapping.csv)")
        entries.append(geo_entry(geo.province_id(name), name,
                                 PROVINCE_NAME_EN.get(name, ascii_name(name)), "province",
                                 merged_into=mid, merged_on=MERGER_DATE if mid else None,
                                 note=note))
    for mid, (core, members, where) in MERGED_UNITS.items():
        note = (f"post-merger province from {MERGER_DATE}: {' + '.join(members)}; documented in "
                f"{where}. The merger date is stated for Thái Nguyên; the other units belong to "
                "the same 2025 reorganisation into 34 provinces.")
        name_en = f"{PROVINCE_NAME_EN.get(core, ascii_name(core))} (merged)"
        entries.append(geo_entry(mid, f"{core} (sau sáp nhập)", name_en, "province", note=note))
    for cid, vi, en, iso in COUNTRIES:
        entries.append(geo_entry(cid, vi, en, "country", iso3=iso))
    for agg in AGGREGATES:
        entries.append(geo_entry(agg["id"], agg["name_vi"], agg["name_en"], "aggregate",
                                 note=agg["note"]))
    missing = used - {e["id"] for e in entries}
    if missing:
        raise SystemExit(f"geos used but not defined: {sorted(missing)}")
    return sorted(entries, key=lambda e: e["id"])


def write_indicators(out: Path, used: set[str]) -> None:
    missing = used - set(INDICATOR_BY_ID)
    if missing:
        raise SystemExit(f"indicators used but not registered: {sorted(missing)}")
    unused = set(INDICATOR_BY_ID) - used
    if unused:
        raise SystemExit(f"registered indicators that nothing uses: {sorted(unused)}")
    write_yaml(out / "indicators.yaml", {"indicators": sorted(INDICATORS, key=lambda i: i["id"])})


# =====================================================================================
# Main
# =====================================================================================

MARKED_DUPLICATE = "duplicate of a row in thainguyen_indicators.csv"


def curate(shared: Path) -> tuple[Result, Geo]:
    """Read every raw file and build the curated result (no writing)."""
    res = Result()
    geo = Geo(read_rows(shared, PROV_MAP))
    codes = {r.data["code"]: r.data["url"] for r in read_rows(shared, DTI_SOURCES)}
    files = {
        TN_IND: read_rows(shared, TN_IND),
        TN_TGT: read_rows(shared, TN_TGT),
        DTI_PROV: read_rows(shared, DTI_PROV, DTI_PROVINCE_COLUMNS),
        DTI_LONG: read_rows(shared, DTI_LONG, ["value", "rank"]),
        DTI_2022: read_rows(shared, DTI_2022),
        DTI_NAT: read_rows(shared, DTI_NAT),
        DTI_DERIVED: read_rows(shared, DTI_DERIVED),
        NAT: read_rows(shared, NAT),
        PANEL: read_rows(shared, PANEL),
    }
    geo.set_provinces(r.data["province"] for r in files[DTI_PROV] if r.data["year"] == "2022")
    if len(geo.provinces) != 63:
        raise SystemExit(f"expected 63 provinces in the DTI 2022 panel, got {len(geo.provinces)}")
    for rows in files.values():
        for r in rows:
            res.rows[r.ref] = r
    curate_tn_indicators(res, files[TN_IND], geo)
    curate_dti_province(res, files[DTI_PROV], geo, codes)
    curate_dti_long(res, files[DTI_LONG], geo, codes)
    curate_dti_2022(res, files[DTI_2022], files[DTI_LONG], files[DTI_PROV], geo)
    curate_dti_national(res, files[DTI_NAT])
    curate_dti_derived(res, files[DTI_DERIVED])
    curate_national_series(res, files[NAT], geo)
    curate_panel(res, files[PANEL], geo)
    curate_targets(res, files[TN_TGT], geo)
    deduplicate(res)
    marked = {r.ref for r in files[NAT] if MARKED_DUPLICATE in r.data["note"]}
    still_used = marked & {o.raw for o in res.obs}
    if still_used:
        raise SystemExit(f"rows marked as duplicates in the raw data are still observations: "
                         f"{sorted(still_used)}")
    flag_conflicts(res)
    target_ids(res.targets)
    return res, geo


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=repo.parent / "shared" / "data",
                        help="raw data folder (default: <repo>/../shared/data)")
    parser.add_argument("--out", type=Path, default=repo / "data",
                        help="output folder (default: <repo>/data)")
    args = parser.parse_args(argv)
    res, geo = curate(args.shared)
    geos = build_geos(geo, {o.geo for o in res.obs} | {t["geo"] for t in res.targets})
    check_values(res, {g["id"] for g in geos})
    summary = check_accounting(res)
    used_indicators = ({o.indicator for o in res.obs} | {t["indicator"] for t in res.targets}
                       | {t["reading"] for t in res.targets}
                       | {p["indicator"] for i in INDICATORS for p in i.get("proxies", [])})
    args.out.mkdir(parents=True, exist_ok=True)
    write_observations(args.out, res)
    write_sources(args.out, res)
    write_targets(args.out, res)
    write_excluded(args.out, res)
    write_yaml(args.out / "geos.yaml", {"geos": geos})
    write_indicators(args.out, used_indicators)
    print(f"{'raw file':40s} {'rows':>5s} {'obs':>5s} {'tgt':>5s} {'excl':>5s}")
    for f, (n, a, b, c) in summary.items():
        print(f"{f:40s} {n:5d} {a:5d} {b:5d} {c:5d}")
    n_excl = len({(e.raw, e.reason) for e in res.excl})
    print(f"observations: {len(res.obs)}, targets: {len(res.targets)}, excluded entries: "
          f"{n_excl}, geos: {len(geos)}, indicators: {len(INDICATORS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
