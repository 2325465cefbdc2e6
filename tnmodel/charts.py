"""Charts: pure functions from result frames (pandas) to Altair charts, offline.

Every chart function takes tidy frames (the CSVs a run writes, or frames built from them by
the small helpers at the end of this module) and returns an :class:`altair.Chart` or layered /
concatenated chart. Nothing here fits, reads files or touches the network; the charts carry
their data inline, so they render with no internet:

- in notebooks, :func:`use_offline_renderer` selects Altair's SVG renderer (vl-convert, no CDN);
- :func:`to_svg`, :func:`to_png` and :func:`to_html` export through vl-convert; the HTML has
  Vega, Vega-Lite and vega-embed inlined.

Labels come in English and Vietnamese (``lang="en"`` or ``"vi"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import date

import altair as alt
import numpy as np
import pandas as pd

LANGS = ("vi", "en")

LABELS: dict[str, dict[str, str]] = {
    "year": {"en": "Year", "vi": "Năm"},
    "value": {"en": "Value", "vi": "Giá trị"},
    "median": {"en": "Forecast median", "vi": "Trung vị dự báo"},
    "band": {"en": "Forecast interval", "vi": "Khoảng dự báo"},
    "observed": {"en": "Observed", "vi": "Quan sát"},
    "period": {"en": "Period", "vi": "Kỳ"},
    "source": {"en": "Source", "vi": "Nguồn"},
    "url": {"en": "URL", "vi": "Đường dẫn"},
    "geo": {"en": "Geo", "vi": "Địa bàn"},
    "bound": {"en": "Bound", "vi": "Giới hạn"},
    "target": {"en": "Target", "vi": "Mục tiêu"},
    "break": {"en": "Definitional break", "vi": "Thay đổi định nghĩa"},
    "merger": {"en": "Merger 2025-07-01", "vi": "Sáp nhập 01/7/2025"},
    "mark": {"en": "Mark", "vi": "Mốc"},
    "what": {"en": "What changed", "vi": "Thay đổi"},
    "probability": {"en": "Probability target met", "vi": "Xác suất đạt mục tiêu"},
    "probability_short": {"en": "Probability", "vi": "Xác suất"},
    "mcse": {"en": "Monte Carlo s.e.", "vi": "Sai số Monte Carlo"},
    "scenario": {"en": "Scenario", "vi": "Kịch bản"},
    "category": {"en": "Official-style category", "vi": "Phân loại kiểu chính thức"},
    "kind": {"en": "Kind", "vi": "Loại"},
    "estimate": {"en": "estimate", "vi": "ước lượng"},
    "upper_bound": {"en": "upper bound (proxy)", "vi": "cận trên (chỉ số đại diện)"},
    "target_id": {"en": "Target", "vi": "Mục tiêu"},
    "first_year": {"en": "First year the target is met", "vi": "Năm đầu tiên đạt mục tiêu"},
    "rank": {"en": "Rank", "vi": "Thứ hạng"},
    "model": {"en": "Model", "vi": "Mô hình"},
    "horizon": {"en": "Horizon (years ahead)", "vi": "Tầm dự báo (số năm)"},
    "coverage": {"en": "Interval coverage", "vi": "Tỷ lệ bao phủ của khoảng"},
    "nominal": {"en": "Nominal level", "vi": "Mức danh nghĩa"},
    "n": {"en": "Forecasts", "vi": "Số dự báo"},
    "pit": {"en": "PIT value", "vi": "Giá trị PIT"},
    "count": {"en": "Count", "vi": "Số lượng"},
    "expected": {"en": "Expected if calibrated", "vi": "Kỳ vọng nếu hiệu chuẩn tốt"},
    "coverage_title": {"en": "Back-test coverage by horizon (band: 95% binomial range)",
                       "vi": "Bao phủ kiểm định ngược theo tầm dự báo (dải: khoảng nhị thức 95%)"},
    "pit_title": {"en": "PIT histogram (flat = calibrated; dotted: 95% binomial range)",
                  "vi": "Biểu đồ PIT (phẳng = hiệu chuẩn tốt; chấm: khoảng nhị thức 95%)"},
    "comparison_title": {"en": "Probability each target is met, by scenario (bars: ±2 MCSE)",
                         "vi": "Xác suất đạt từng mục tiêu theo kịch bản (thanh: ±2 MCSE)"},
    "first_year_title": {"en": "Distribution of the first year the target is met",
                         "vi": "Phân phối năm đầu tiên đạt mục tiêu"},
    "rank_title": {"en": "Rank distribution", "vi": "Phân phối thứ hạng"},
    "no_category": {"en": "no category", "vi": "không có phân loại"},
    "not_met": {"en": "not met by the horizon", "vi": "chưa đạt trong tầm dự báo"},
}

#: Colours of the official-style categories (matched on the start of the category text).
CATEGORY_COLOURS = (  # the categories of tnmodel.baselines
    ("target achieved", "#1a9850"),
    ("on track", "#66bd63"),
    ("progress made but acceleration needed", "#fee08b"),
    ("limited progress", "#fdae61"),
    ("deterioration", "#d73027"),
    ("not achieved by the target year", "#a50026"),
    ("insufficient data", "#bbbbbb"),
)
BAND_LEVELS = (  # label, lower column, upper column (first present pair wins per level)
    ("95%", ("q025", "q975")),
    ("90%", ("q05", "q95")),
    ("80%", ("q10", "q90")),
    ("50%", ("q25", "q75")),
)
BAND_OPACITY = {"95%": 0.15, "90%": 0.18, "80%": 0.25, "50%": 0.4}
WIDTH, HEIGHT = 520, 260


def t(key: str, lang: str = "en") -> str:
    """The label ``key`` in ``lang`` (``"en"`` or ``"vi"``)."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    return LABELS[key][lang]


def _empty(frame: pd.DataFrame | None) -> bool:
    return frame is None or len(frame) == 0


def _missing(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c not in frame.columns]


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = _missing(frame, columns)
    if missing:
        raise ValueError(f"{what}: missing column(s) {', '.join(missing)}; "
                         f"has {', '.join(map(str, frame.columns))}")


def year_fraction(day: str | date) -> float:
    """``2025-07-01`` -> 2025.4959 (the position of a date on a year axis)."""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    start, end = date(d.year, 1, 1), date(d.year + 1, 1, 1)
    return d.year + (d - start).days / (end - start).days


# --------------------------------------------------------------------------------------------
# Fan chart


def fan_chart(
    quantiles: pd.DataFrame,
    observations: pd.DataFrame | None = None,
    *,
    target: Mapping | None = None,
    breaks: pd.DataFrame | None = None,
    merger: str | None = None,
    title: str = "",
    unit: str = "",
    lang: str = "en",
) -> alt.LayerChart:
    """Forecast fan of one series with the observed points, the target and break marks.

    Parameters
    ----------
    quantiles : DataFrame
        One series' rows of ``quantiles.csv``: ``year``, ``q50`` and any of the band columns
        ``q025/q975`` (95%), ``q05/q95`` (90%, drawn only when 95% is absent), ``q10/q90``
        (80%), ``q25/q75`` (50%).
    observations : DataFrame, optional
        ``year, value`` and optionally ``period, source, url, geo, bound`` (see
        :func:`observation_frame`); shown as points whose tooltip gives the source.
    target : mapping, optional
        ``threshold``, ``year`` and optionally ``comparator``: a dashed line at the threshold
        and a rule at the target year.
    breaks : DataFrame, optional
        ``year, what``: definitional breaks (dotted rules).
    merger : str, optional
        ISO date of a merger of geos (e.g. ``"2025-07-01"``): a dash-dot rule.
    title, unit : str
        Chart title and y-axis unit.
    lang : {"en", "vi"}
    """
    _require(quantiles, ["year", "q50"], "fan_chart quantiles")
    q = quantiles.sort_values("year")
    x = alt.X("year:Q", title=t("year", lang), axis=alt.Axis(format="d", tickMinStep=1))
    y_title = f"{t('value', lang)} ({unit})" if unit else t("value", lang)
    bands = []
    have_95 = not _missing(q, ["q025", "q975"])
    for label, (lo, hi) in BAND_LEVELS:
        if _missing(q, [lo, hi]) or (label == "90%" and have_95):
            continue
        bands.append(pd.DataFrame({"year": q["year"].to_numpy(), "lo": q[lo].to_numpy(),
                                   "hi": q[hi].to_numpy(), "band": label}))
    layers: list[alt.Chart] = []
    if bands:
        band_frame = pd.concat(bands, ignore_index=True)
        order = [b["band"].iloc[0] for b in bands]
        layers.append(
            alt.Chart(band_frame).mark_area(color="#3b6ea8").encode(
                x=x,
                y=alt.Y("lo:Q", title=y_title),
                y2="hi:Q",
                opacity=alt.Opacity("band:O", sort=order, title=t("band", lang),
                                    scale=alt.Scale(domain=order,
                                                    range=[BAND_OPACITY[b] for b in order])),
                detail="band:N",
            )
        )
    layers.append(
        alt.Chart(q[["year", "q50"]]).mark_line(color="#1f3d66", strokeWidth=2).encode(
            x=x, y=alt.Y("q50:Q", title=y_title),
            tooltip=[alt.Tooltip("year:Q", title=t("year", lang), format="d"),
                     alt.Tooltip("q50:Q", title=t("median", lang), format=".1f")],
        )
    )
    if not _empty(observations):
        _require(observations, ["year", "value"], "fan_chart observations")
        obs = observations.copy()
        for column in ("period", "source", "url", "geo", "bound"):
            if column not in obs.columns:
                obs[column] = ""
        obs = obs[["year", "value", "period", "source", "url", "geo", "bound"]].fillna("")
        obs["kind"] = np.where(obs["bound"].astype(str) != "", obs["bound"].astype(str),
                               t("observed", lang))
        layers.append(
            alt.Chart(obs).mark_point(filled=True, size=60, color="#c0392b", opacity=0.9).encode(
                x=x, y=alt.Y("value:Q", title=y_title),
                shape=alt.Shape("kind:N", title=t("observed", lang)),
                tooltip=[
                    alt.Tooltip("value:Q", title=t("value", lang), format=".4g"),
                    alt.Tooltip("year:Q", title=t("year", lang), format="d"),
                    alt.Tooltip("period:N", title=t("period", lang)),
                    alt.Tooltip("geo:N", title=t("geo", lang)),
                    alt.Tooltip("source:N", title=t("source", lang)),
                    alt.Tooltip("url:N", title=t("url", lang)),
                ],
            )
        )
    marks = []
    if target is not None:
        comparator = str(target.get("comparator", ""))
        label = " ".join(filter(None, (t("target", lang), comparator,
                                       f"{float(target['threshold']):g}")))
        layers.append(
            alt.Chart(pd.DataFrame({"threshold": [float(target["threshold"])],
                                    "label": [label]}))
            .mark_rule(color="#333333", strokeDash=[6, 4])
            .encode(y="threshold:Q", tooltip=[alt.Tooltip("label:N", title=t("target", lang))])
        )
        marks.append({"x": float(target["year"]), "mark": f"{t('target', lang)} {target['year']}",
                      "what": label, "style": "target"})
    if not _empty(breaks):
        _require(breaks, ["year", "what"], "fan_chart breaks")
        for row in breaks.itertuples():
            marks.append({"x": float(row.year), "mark": f"{t('break', lang)} {row.year}",
                          "what": str(row.what), "style": "break"})
    if merger:
        marks.append({"x": year_fraction(merger), "mark": t("merger", lang), "what": merger,
                      "style": "merger"})
    if marks:
        styles = [s for s in ("target", "break", "merger") if any(m["style"] == s for m in marks)]
        dashes = {"target": [6, 4], "break": [2, 2], "merger": [8, 3, 2, 3]}
        colours = {"target": "#333333", "break": "#8e44ad", "merger": "#d35400"}
        layers.append(
            alt.Chart(pd.DataFrame(marks)).mark_rule(strokeWidth=1.5).encode(
                x="x:Q",
                color=alt.Color("style:N", title=t("mark", lang),
                                scale=alt.Scale(domain=styles,
                                                range=[colours[s] for s in styles]),
                                legend=None),
                strokeDash=alt.StrokeDash("style:N", legend=None,
                                          scale=alt.Scale(domain=styles,
                                                          range=[dashes[s] for s in styles])),
                tooltip=[alt.Tooltip("mark:N", title=t("mark", lang)),
                         alt.Tooltip("what:N", title=t("what", lang))],
            )
        )
    return alt.layer(*layers).properties(title=title, width=WIDTH, height=HEIGHT)


# --------------------------------------------------------------------------------------------
# Scenario comparison


def category_class(category: str) -> str:
    """The class of an official-style category: its known start (``"on track"``, ...) or
    ``"-"`` (no category)."""
    text = str(category).strip().lower()
    for start, _ in CATEGORY_COLOURS:
        if text.startswith(start):
            return start
    return text or "-"


def category_colour(category: str) -> str:
    """The colour of an official-style category (grey when unknown or empty)."""
    return dict(CATEGORY_COLOURS).get(category_class(category), "#999999")


def scenario_comparison(targets: pd.DataFrame, *, lang: str = "en",
                        labels: Mapping[str, str] | None = None,
                        category_names: Callable[[str], str] | None = None) -> alt.LayerChart:
    """P(target met) per target and scenario with ±2 MCSE bars, coloured by category.

    Parameters
    ----------
    targets : DataFrame
        Rows of ``targets.csv`` of one or more scenarios: ``scenario, target_id, p_met`` and
        optionally ``p_met_mcse``, ``p_met_upper`` (a proxy bound, drawn as an open mark when
        ``p_met`` is empty; drawn hollow) and ``baseline_category`` (colour by its class, the
        full text in the tooltip).
    labels : mapping, optional
        Display names of target ids.
    category_names : callable, optional
        Display name of a category class in the legend (e.g. a translation).
    """
    _require(targets, ["scenario", "target_id"], "scenario_comparison targets")
    frame = targets.reset_index(drop=True)
    for column in ("p_met", "p_met_mcse", "p_met_upper"):
        if column not in frame.columns:
            frame[column] = np.nan
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    if "baseline_category" not in frame.columns:
        frame["baseline_category"] = ""
    is_bound = frame["p_met"].isna() & frame["p_met_upper"].notna()
    frame["p"] = frame["p_met"].where(~is_bound, frame["p_met_upper"])
    frame["kind"] = np.where(is_bound, t("upper_bound", lang), t("estimate", lang))
    frame = frame[frame["p"].notna()].copy()
    mcse = frame["p_met_mcse"].fillna(0.0)
    frame["lo"] = (frame["p"] - 2 * mcse).clip(0, 1)
    frame["hi"] = (frame["p"] + 2 * mcse).clip(0, 1)
    frame["category"] = frame["baseline_category"].fillna("").astype(str)
    frame["class"] = frame["category"].map(category_class)
    frame["fill"] = np.where(frame["kind"] == t("estimate", lang),
                             frame["class"].map(category_colour), "#ffffff")
    frame["label"] = frame["target_id"].map(lambda x: (labels or {}).get(x, x))
    frame = frame[["scenario", "target_id", "label", "p", "lo", "hi", "p_met_mcse", "category",
                   "class", "fill", "kind"]].reset_index(drop=True)
    classes = [c for c, _ in CATEGORY_COLOURS if c in set(frame["class"])]
    classes += sorted(set(frame["class"]) - set(classes))
    names = {c: t("no_category", lang) if c == "-" else (category_names or str)(c)
             for c in classes}
    frame["class"] = frame["class"].map(names)
    y = alt.Y("label:N", title=None, sort=None, axis=alt.Axis(labelLimit=360))
    offset = alt.YOffset("scenario:N", title=t("scenario", lang))
    x = alt.X("p:Q", title=t("probability", lang), scale=alt.Scale(domain=[0, 1]))
    base = alt.Chart(frame)
    bars = base.mark_rule(color="#555555").encode(y=y, yOffset=offset, x="lo:Q", x2="hi:Q")
    points = base.mark_point(size=90, filled=False, strokeWidth=2, opacity=1).encode(
        y=y, yOffset=offset, x=x,
        color=alt.Color("class:N", title=t("category", lang),
                        scale=alt.Scale(domain=[names[c] for c in classes],
                                        range=[category_colour(c) for c in classes])),
        fill=alt.Fill("fill:N", scale=None),
        shape=alt.Shape("scenario:N", title=t("scenario", lang)),
        tooltip=[alt.Tooltip("scenario:N", title=t("scenario", lang)),
                 alt.Tooltip("target_id:N", title=t("target_id", lang)),
                 alt.Tooltip("p:Q", title=t("probability_short", lang), format=".3f"),
                 alt.Tooltip("p_met_mcse:Q", title=t("mcse", lang), format=".3f"),
                 alt.Tooltip("kind:N", title=t("kind", lang)),
                 alt.Tooltip("category:N", title=t("category", lang))],
    )
    return alt.layer(bars, points).properties(title=t("comparison_title", lang), width=WIDTH)


# --------------------------------------------------------------------------------------------
# Distributions


def first_year_chart(first_year: pd.DataFrame, *, lang: str = "en",
                     labels: Mapping[str, str] | None = None) -> alt.Chart:
    """Distribution of the first year each target is met (one small panel per target).

    ``first_year``: ``target_id, year, probability`` and optionally ``scenario``; a missing
    ``year`` (NaN) is the probability of not meeting it by the horizon.
    """
    _require(first_year, ["target_id", "year", "probability"], "first_year_chart")
    frame = first_year.copy()
    if "scenario" not in frame.columns:
        frame["scenario"] = ""
    frame["year_label"] = [t("not_met", lang) if pd.isna(y) else str(int(y))
                           for y in frame["year"]]
    frame["label"] = frame["target_id"].map(lambda x: (labels or {}).get(x, x))
    frame = frame[["label", "scenario", "year_label", "probability"]]
    order = sorted(set(frame["year_label"]) - {t("not_met", lang)})
    if (frame["year_label"] == t("not_met", lang)).any():
        order.append(t("not_met", lang))
    # "not met by the horizon" is long beside the years: one word per line, no overlap.
    return _bars_per_target(alt.Chart(frame).mark_bar(), "year_label", t("first_year", lang),
                            t("year", lang), t("first_year_title", lang), lang, sort=order,
                            label_expr="split(datum.label, ' ')")


def _bars_per_target(base: alt.Chart, x_field: str, x_title: str, x_tooltip: str, title: str,
                     lang: str, sort: list | None = None,
                     label_expr: str | None = None) -> alt.FacetChart:
    """Probability bars over an ordinal ``x_field``, scenarios side by side, one row per
    target (``label``); ``label_expr`` is a Vega expression for the x-axis labels."""
    axis = alt.Axis(labelAngle=0, **({"labelExpr": label_expr} if label_expr else {}))
    return base.encode(
        x=alt.X(f"{x_field}:O", title=x_title, axis=axis,
                **({"sort": sort} if sort is not None else {})),
        xOffset="scenario:N",
        y=alt.Y("probability:Q", title=t("probability_short", lang)),
        color=alt.Color("scenario:N", title=t("scenario", lang)),
        tooltip=[alt.Tooltip("scenario:N", title=t("scenario", lang)),
                 alt.Tooltip(f"{x_field}:O", title=x_tooltip),
                 alt.Tooltip("probability:Q", title=t("probability_short", lang), format=".3f")],
    ).properties(width=WIDTH, height=160).facet(
        row=alt.Row("label:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left")),
        title=title,
    )


def rank_chart(ranks: pd.DataFrame, *, lang: str = "en",
               labels: Mapping[str, str] | None = None) -> alt.Chart:
    """Distribution of a geo's rank per target and scenario.

    ``ranks``: ``target_id, scenario, rank, probability``.
    """
    _require(ranks, ["target_id", "scenario", "rank", "probability"], "rank_chart")
    frame = ranks[["target_id", "scenario", "rank", "probability"]].copy()
    frame["label"] = frame["target_id"].map(lambda x: (labels or {}).get(x, x))
    frame = frame.drop(columns="target_id")
    return _bars_per_target(alt.Chart(frame).mark_bar(opacity=0.8), "rank", t("rank", lang),
                            t("rank", lang), t("rank_title", lang), lang)


# --------------------------------------------------------------------------------------------
# Back-test calibration


def _binomial_ppf(q: float, n: int, p: float) -> int:
    """The smallest k with P(Binomial(n, p) <= k) >= q (numpy only)."""
    k = np.arange(n + 1)
    log_choose = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
                           for i in k])
    cdf = np.cumsum(np.exp(log_choose + k * math.log(p) + (n - k) * math.log1p(-p)))
    return int(min(np.searchsorted(cdf, q * (1 - 1e-10), side="left"), n))


def binomial_band(n: np.ndarray | int, p: float, level: float = 0.95) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """The central ``level`` range of the share of hits among ``n`` forecasts at rate ``p``
    (0 to 1 where ``n`` is 0)."""
    counts = np.atleast_1d(np.asarray(n, dtype=int))
    alpha = (1 - level) / 2
    lo = np.array([_binomial_ppf(alpha, c, p) / c if c > 0 else 0.0 for c in counts])
    hi = np.array([_binomial_ppf(1 - alpha, c, p) / c if c > 0 else 1.0 for c in counts])
    if np.ndim(n) == 0:
        return lo[0], hi[0]
    return lo, hi


def coverage_chart(metrics: pd.DataFrame, *, lang: str = "en") -> alt.FacetChart:
    """Coverage of the 80% and 95% intervals by horizon, per model, with binomial bands.

    ``metrics``: ``model, horizon, n`` and ``coverage80`` and/or ``coverage95`` (a back-test
    ``metrics.csv``). The band is the 95% binomial range of the coverage a calibrated model
    would show with that many forecasts (pooled over models: the band of the smallest ``n``
    per horizon).
    """
    _require(metrics, ["model", "horizon", "n"], "coverage_chart")
    levels = [(c, lvl) for c, lvl in (("coverage80", 0.8), ("coverage95", 0.95))
              if c in metrics.columns]
    if not levels:
        raise ValueError("coverage_chart: needs coverage80 and/or coverage95")
    rows, bands = [], []
    for column, level in levels:
        label = f"{round(level * 100)}%"
        part = metrics[["model", "horizon", "n", column]].rename(columns={column: "coverage"})
        part = part.assign(nominal=label, level=level)
        rows.append(part)
        per_h = metrics.groupby("horizon", as_index=False)["n"].min()
        lo, hi = binomial_band(per_h["n"].to_numpy(), level)
        bands.append(per_h.assign(nominal=label, level=level, lo=lo, hi=hi))
    band = pd.concat(bands, ignore_index=True)[["horizon", "nominal", "level", "lo", "hi"]]
    frame = pd.concat(rows, ignore_index=True).drop(columns="level").merge(
        band, on=["horizon", "nominal"], how="left")
    x = alt.X("horizon:O", title=t("horizon", lang), axis=alt.Axis(labelAngle=0))
    y = alt.Y("coverage:Q", title=t("coverage", lang), scale=alt.Scale(domain=[0, 1]))
    base = alt.Chart()
    band_layer = base.mark_area(opacity=0.2, color="#888888").encode(
        x=x, y=alt.Y("lo:Q", title=t("coverage", lang)), y2="hi:Q")
    nominal = base.mark_line(color="#333333", strokeDash=[4, 3]).encode(x=x, y="level:Q")
    lines = base.mark_line(point=True).encode(
        x=x, y=y, color=alt.Color("model:N", title=t("model", lang)),
        tooltip=[alt.Tooltip("model:N", title=t("model", lang)),
                 alt.Tooltip("horizon:O", title=t("horizon", lang)),
                 alt.Tooltip("n:Q", title=t("n", lang)),
                 alt.Tooltip("coverage:Q", title=t("coverage", lang), format=".2f")],
    )
    return alt.layer(band_layer, nominal, lines, data=frame).properties(
        width=240, height=200).facet(
        column=alt.Column("nominal:N", title=t("nominal", lang)),
        title=t("coverage_title", lang),
    )


def pit_histogram(pit: pd.DataFrame, *, bins: int = 10, lang: str = "en") -> alt.FacetChart:
    """Histogram of PIT values per model, with the flat expectation and its binomial band.

    ``pit``: ``model, pit`` (one row per held-out observation; values in [0, 1]).
    """
    _require(pit, ["model", "pit"], "pit_histogram")
    edges = np.linspace(0, 1, bins + 1)
    rows = []
    for model, group in pit.groupby("model", sort=True):
        values = pd.to_numeric(group["pit"], errors="coerce").dropna().clip(0, 1).to_numpy()
        counts, _ = np.histogram(values, bins=edges)
        n = len(values)
        lo, hi = binomial_band(np.full(bins, n), 1 / bins)
        for k in range(bins):
            rows.append({"model": str(model), "bin_start": edges[k], "bin_end": edges[k + 1],
                         "count": int(counts[k]), "expected": n / bins,
                         "lo": float(lo[k] * n), "hi": float(hi[k] * n)})
    frame = pd.DataFrame(rows)
    x = alt.X("bin_start:Q", title=t("pit", lang), scale=alt.Scale(domain=[0, 1]),
              bin=alt.Bin(binned=True, step=1 / bins))
    base = alt.Chart()
    band_lo = base.mark_rule(color="#777777", strokeDash=[2, 2]).encode(y="lo:Q")
    band_hi = base.mark_rule(color="#777777", strokeDash=[2, 2]).encode(y="hi:Q")
    bars = base.mark_bar(opacity=0.8).encode(
        x=x, x2="bin_end:Q", y=alt.Y("count:Q", title=t("count", lang)),
        tooltip=[alt.Tooltip("bin_start:Q", title=t("pit", lang), format=".1f"),
                 alt.Tooltip("count:Q", title=t("count", lang)),
                 alt.Tooltip("expected:Q", title=t("expected", lang), format=".1f")],
    )
    expected = base.mark_rule(color="#333333", strokeDash=[4, 3]).encode(y="expected:Q")
    layers = alt.layer(bars, band_lo, band_hi, expected, data=frame)
    return layers.properties(width=240, height=160).facet(
        column=alt.Column("model:N", title=t("model", lang)), title=t("pit_title", lang))


# --------------------------------------------------------------------------------------------
# Frames from a dataset (the only inputs here that are not result files)


def lineage_geos(dataset, geo: str) -> list[str]:
    """``geo`` and every geo whose series continues as ``geo`` (merger lineage)."""
    return sorted(g for g in dataset.geos if g == geo or dataset.successor(g) == geo)


def observation_frame(dataset, indicator: str, geos: Sequence[str] | None = None) -> pd.DataFrame:
    """Observations of ``indicator`` with their source: ``year, value, period, bound, geo,
    source_id, source, url, publisher, line`` (``source`` is the title, else the publisher)."""
    obs = dataset.series(indicator, list(geos) if geos is not None else None)
    sources = dataset.sources
    frame = pd.DataFrame({
        "year": obs["year"].astype(int),
        "value": obs["value"].astype(float),
        "period": obs["period"].astype(str),
        "bound": obs["bound"].astype(str),
        "geo": obs["geo"].astype(str),
        "source_id": obs["source_id"].astype(str),
        "line": obs["line"].astype(int),
    })
    def lookup(column: str) -> list[str]:
        return [str(sources.loc[sid, column]) if sid in sources.index else ""
                for sid in frame["source_id"]]
    titles, publishers = lookup("title"), lookup("publisher")
    frame["source"] = [tl or pb or sid for tl, pb, sid
                       in zip(titles, publishers, frame["source_id"], strict=True)]
    frame["publisher"] = publishers
    frame["url"] = lookup("url")
    return frame.reset_index(drop=True)


def break_frame(dataset, indicator: str, geos: Sequence[str] | None = None) -> pd.DataFrame:
    """Definitional breaks of ``indicator`` (all-geo ones and those of ``geos``): ``year, what``."""
    ind = dataset.indicators.get(indicator)
    rows = [{"year": b.year, "what": b.what} for b in (ind.breaks if ind else ())
            if b.geo is None or geos is None or b.geo in geos]
    return pd.DataFrame(rows, columns=["year", "what"])


def merger_date(dataset, geos: Sequence[str]) -> str | None:
    """The (first) merger date among ``geos``, ISO text, or None."""
    dates = sorted(str(dataset.geos[g].merged_on) for g in geos
                   if g in dataset.geos and dataset.geos[g].merged_on)
    return dates[0] if dates else None


# --------------------------------------------------------------------------------------------
# Rendering, offline


def use_offline_renderer() -> str:
    """Render charts in notebooks as static SVG through vl-convert (no CDN, no internet)."""
    alt.renderers.enable("svg")
    return alt.renderers.active


def spec(chart: alt.TopLevelMixin) -> dict:
    """The Vega-Lite spec of ``chart`` as a plain dict (data inline)."""
    return chart.to_dict()


def spec_json(chart: alt.TopLevelMixin) -> str:
    """A stable JSON text of the spec (sorted keys): what the snapshot tests compare."""
    import json

    return json.dumps(spec(chart), sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def to_svg(chart: alt.TopLevelMixin) -> str:
    """SVG text via vl-convert (offline)."""
    import vl_convert as vlc

    return vlc.vegalite_to_svg(spec(chart))


def to_png(chart: alt.TopLevelMixin, scale: float = 2.0) -> bytes:
    """PNG bytes via vl-convert (offline)."""
    import vl_convert as vlc

    return vlc.vegalite_to_png(spec(chart), scale=scale)


def to_html(chart: alt.TopLevelMixin) -> str:
    """A standalone HTML page with Vega, Vega-Lite and vega-embed inlined (no CDN)."""
    import vl_convert as vlc

    return vlc.vegalite_to_html(spec(chart), bundle=True)
