"""The data layer: tidy CSV and YAML registries -> one validated :class:`Dataset`.

Files (all in one folder, ``data/`` by default; see ``data/README.md``):

``observations.csv``  geo, indicator, year, value, source_id, period, bound, among, quote, note, raw
``sources.csv``       id, url, publisher, title, date, kind
``indicators.yaml``   the indicator registry (unit, kind, bounds, direction, breaks, proxies)
``geos.yaml``         the geo registry (level, merger lineage)
``targets.yaml``      the targets registry (geo, indicator, reading, year, comparator, threshold)

:func:`check_data` returns every problem as ``file:line: column: message``;
:func:`load_dataset` returns a :class:`Dataset` or raises :class:`~tnmodel.problems.InputError`.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

from tnmodel.problems import InputError, Problem, did_you_mean, relative
from tnmodel.yamlio import load_yaml_with_lines, validate_model

OBSERVATION_COLUMNS = (
    "geo", "indicator", "year", "value", "source_id", "period", "bound", "among", "quote", "note",
    "raw",
)
REQUIRED_OBSERVATION_COLUMNS = ("geo", "indicator", "year", "value", "source_id")
SOURCE_COLUMNS = ("id", "url", "publisher", "title", "date", "kind")
PERIOD_PATTERN = re.compile(
    r"^(?:|part-year|circa|\d{4}-(?:0[1-9]|1[0-2])(?:/\d{4}-(?:0[1-9]|1[0-2]))?)$"
)
YEAR_RANGE = (1900, 2100)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Break(_Frozen):
    """A definitional break in an indicator's series from ``year`` on."""

    year: int
    geo: str | None = None
    what: str


class Proxy(_Frozen):
    """Another indicator that bounds this one (e.g. internet users bound digital skills)."""

    indicator: str
    relation: Literal["upper_bound", "lower_bound"]


class Indicator(_Frozen):
    """One entry of ``indicators.yaml``."""

    id: str
    label_en: str
    label_vi: str
    unit: str
    kind: Literal["share", "index", "rank", "count"]
    lower: float | None = None
    upper: float | None = None
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    definition: str = ""
    breaks: tuple[Break, ...] = ()
    proxies: tuple[Proxy, ...] = ()

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Indicator:
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError(f"lower ({self.lower}) must be below upper ({self.upper})")
        if self.kind == "share" and (self.lower, self.upper) != (0, 100):
            raise ValueError("a share is in percent: lower must be 0 and upper 100")
        return self


class Geo(_Frozen):
    """One entry of ``geos.yaml``."""

    id: str
    name_vi: str
    name_en: str
    level: Literal["country", "province", "aggregate"]
    iso3: str | None = None
    population: float | None = None
    merged_into: str | None = None
    merged_on: str | None = None
    note: str | None = None


class Target(_Frozen):
    """One entry of ``targets.yaml``: a public target and the indicator it is read as."""

    id: str
    geo: str
    indicator: str
    reading: str
    year: int
    comparator: Literal[">=", ">", "<=", "<"]
    threshold: float
    among: int | None = None
    instrument: str
    source_id: str
    quote: str | None = None
    note: str | None = None

    def is_met(self, value):
        """Elementwise test of ``value`` against the target (works on arrays)."""
        ops = {
            ">=": lambda v: v >= self.threshold,
            ">": lambda v: v > self.threshold,
            "<=": lambda v: v <= self.threshold,
            "<": lambda v: v < self.threshold,
        }
        return ops[self.comparator](value)


@dataclass(frozen=True)
class Dataset:
    """Everything in a data folder, validated.

    Attributes
    ----------
    root : Path
        The data folder.
    observations : pandas.DataFrame
        One row per observation; ``year`` is int, ``value`` float, ``among`` nullable int,
        ``period``/``bound``/``note`` are '' when absent, ``line`` is the CSV line.
    sources : pandas.DataFrame
        Indexed by source id.
    indicators, geos, targets : dict
        Registries by id.
    file_hashes : dict
        SHA-256 of every data file, for the run manifest.
    """

    root: Path
    observations: pd.DataFrame
    sources: pd.DataFrame
    indicators: dict[str, Indicator]
    geos: dict[str, Geo]
    targets: dict[str, Target]
    file_hashes: dict[str, str] = field(default_factory=dict)
    _derived: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def derived[T](self, key: tuple, compute: Callable[[], T]) -> T:
        """``compute()`` once per dataset and ``key`` (series selections, rank panels).

        A dataset is immutable and :func:`load_dataset` returns the same object while its
        files are unchanged, so what is derived from it is kept with it; the values must be
        treated as read-only.
        """
        if key not in self._derived:
            self._derived[key] = compute()
        return self._derived[key]

    @property
    def content_hash(self) -> str:
        """One hash of all data files together."""
        joined = "".join(f"{k}:{v};" for k, v in sorted(self.file_hashes.items()))
        return hashlib.sha256(joined.encode()).hexdigest()

    def series(self, indicator: str, geos: list[str] | None = None) -> pd.DataFrame:
        """Observations of one indicator (optionally of some geos), sorted by geo and year."""
        def select() -> pd.DataFrame:
            obs = self.observations[self.observations["indicator"] == indicator]
            if geos is not None:
                obs = obs[obs["geo"].isin(geos)]
            return obs.sort_values(["geo", "year", "period", "source_id"]).reset_index(drop=True)

        # Copy-on-write (pandas >= 3): a caller changing its frame does not change the kept one.
        return self.derived(("series", indicator, None if geos is None else tuple(geos)), select)

    def successor(self, geo: str) -> str:
        """The geo that ``geo`` was merged into, followed to the end (itself if never merged)."""
        seen = {geo}
        while (nxt := self.geos[geo].merged_into) is not None and nxt not in seen:
            seen.add(nxt)
            geo = nxt
        return geo

    def source_url(self, source_id: str) -> str:
        return str(self.sources.loc[source_id, "url"])


# --------------------------------------------------------------------------------------------
# Reading and checking


def _read_csv_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[Problem]]:
    """Rows of a CSV with the physical line where each starts."""
    problems: list[Problem] = []
    name = relative(path)
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        return [], [], [Problem(name, 1, "(file)", "file not found")]
    rows: list[tuple[int, dict[str, str]]] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            return [], [], [Problem(name, 1, "(file)", "empty file: expected a header row")]
        except (csv.Error, UnicodeDecodeError) as exc:
            return [], [], [Problem(name, 1, "(file)", f"cannot read as UTF-8 CSV: {exc}")]
        header = [h.strip() for h in header]
        start = reader.line_num + 1
        try:
            for cells in reader:
                if not any(c.strip() for c in cells):
                    start = reader.line_num + 1
                    continue
                if len(cells) != len(header):
                    problems.append(
                        Problem(
                            name, start, "(row)",
                            f"has {len(cells)} fields, the header has {len(header)}"
                            " (an unquoted comma in a text field?)",
                        )
                    )
                else:
                    rows.append((start, dict(zip(header, (c.strip() for c in cells), strict=True))))
                start = reader.line_num + 1
        except (csv.Error, UnicodeDecodeError) as exc:
            problems.append(Problem(name, start, "(row)", f"cannot parse: {exc}"))
    return header, rows, problems


def _check_header(name: str, header: list[str], required, known) -> list[Problem]:
    problems = []
    for col in required:
        if col not in header:
            problems.append(Problem(name, 1, col, f"required column '{col}' is missing"))
    for col in header:
        if col not in known:
            problems.append(
                Problem(name, 1, col, f"unknown column '{col}'{did_you_mean(col, known)}")
            )
    return problems


@dataclass(frozen=True)
class _Registry:
    """One registry file as read: valid items by id, problems, ids of invalid entries
    (references to those are not reported again as "unknown"), and the line of every id."""

    file: str
    items: dict
    problems: list[Problem]
    broken: set[str]
    lines: dict[str, int]


def _load_registry(path: Path, key: str, model: type, item_name: str) -> _Registry:
    """Validate each item of a registry on its own, so one bad entry does not hide the rest."""
    broken: set[str] = set()
    lines: dict[str, int] = {}
    doc, problems = load_yaml_with_lines(path)
    if doc is None:
        return _Registry(relative(path), {}, problems, broken, lines)
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get(key), list):
        problem = doc.problem((), f"expected a mapping with a top-level '{key}:' list")
        return _Registry(relative(path), {}, [problem], broken, lines)
    extra = sorted(set(doc.data) - {key})
    problems = [doc.problem((k,), f"unknown top-level key (expected only '{key}')") for k in extra]
    items: dict = {}
    for i, raw in enumerate(doc.data[key]):
        if isinstance(raw, dict):
            lines[str(raw.get("id"))] = doc.line((key, i, "id"))
        item, item_problems = validate_model(doc, (key, i), raw, model)
        problems += item_problems
        if item is None:
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                broken.add(raw["id"])
            continue
        if item.id in items:
            problems.append(doc.problem((key, i, "id"), f"duplicate {item_name} id '{item.id}'"))
        items[item.id] = item
    return _Registry(relative(path), items, problems, broken, lines)


def _parse_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_year(text: str) -> int | None:
    if not re.fullmatch(r"\d{4}", text):
        return None
    year = int(text)
    return year if YEAR_RANGE[0] <= year <= YEAR_RANGE[1] else None


def _check_sources(path: Path) -> tuple[pd.DataFrame, list[Problem]]:
    name = relative(path)
    header, rows, problems = _read_csv_rows(path)
    if header:
        problems += _check_header(name, header, ("id", "url"), SOURCE_COLUMNS)
    seen: dict[str, int] = {}
    records = []
    for line, row in rows:
        sid, url = row.get("id", ""), row.get("url", "")
        if not sid:
            problems.append(Problem(name, line, "id", "empty source id"))
            continue
        if sid in seen:
            problems.append(Problem(name, line, "id",
                                    f"duplicate id '{sid}' (first at line {seen[sid]})"))
            continue
        seen[sid] = line
        if not url:
            problems.append(Problem(name, line, "url", "every source needs a url"))
        records.append({c: row.get(c, "") for c in SOURCE_COLUMNS})
    frame = pd.DataFrame.from_records(records, columns=list(SOURCE_COLUMNS)).set_index("id")
    return frame, problems


def _check_observations(
    path: Path,
    indicators: dict[str, Indicator],
    geos: dict[str, Geo],
    source_ids: set[str],
    broken: set[str] = frozenset(),
) -> tuple[pd.DataFrame, list[Problem]]:
    """Check every row; ``broken`` ids (invalid registry entries) are not reported again."""
    name = relative(path)
    header, rows, problems = _read_csv_rows(path)
    if header:
        problems += _check_header(name, header, REQUIRED_OBSERVATION_COLUMNS, OBSERVATION_COLUMNS)
    geo_names = {g.name_vi: g.id for g in geos.values()} | {g.name_en: g.id for g in geos.values()}
    records = []
    for line, row in rows:
        row_problems = []

        def bad(column: str, message: str, _line: int = line, _acc: list = row_problems) -> None:
            _acc.append(Problem(name, _line, column, message))

        geo, ind = row.get("geo", ""), row.get("indicator", "")
        if geo in broken or ind in broken:
            continue  # already reported in the registry; its rows cannot be checked further
        if geo not in geos:
            hint = (
                f" (did you mean '{geo_names[geo]}'? geos are given by id)"
                if geo in geo_names
                else did_you_mean(geo, geos)
            )
            bad("geo", f"unknown geo '{geo}'{hint}" if geo else "empty geo")
        indicator = indicators.get(ind)
        if indicator is None:
            bad("indicator", f"unknown indicator '{ind}'{did_you_mean(ind, indicators)}"
                if ind else "empty indicator")
        year = _parse_year(row.get("year", ""))
        if year is None:
            bad("year", f"expected a whole year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}"
                f" like 2022, got '{row.get('year', '')}'")
        value = _parse_number(row.get("value", ""))
        if value is None:
            bad("value", "expected a number like 46.36 (no % sign, no text), "
                f"got '{row.get('value', '')}'")
        elif indicator is not None:
            if indicator.lower is not None and value < indicator.lower:
                bad("value", f"{value:g} is below the lower bound {indicator.lower:g} of"
                    f" '{ind}' ({indicator.unit})")
            if indicator.upper is not None and value > indicator.upper:
                bad("value", f"{value:g} is above the upper bound {indicator.upper:g} of"
                    f" '{ind}' ({indicator.unit})")
        sid = row.get("source_id", "")
        if not sid:
            bad("source_id", "missing source: every observation names a source id from sources.csv")
        elif sid not in source_ids:
            bad("source_id", f"unknown source '{sid}'{did_you_mean(sid, source_ids)}")
        period = row.get("period", "")
        if not PERIOD_PATTERN.match(period):
            bad("period", "expected '', 'YYYY-MM', 'YYYY-MM/YYYY-MM', 'part-year' or 'circa', "
                f"got '{period}'")
        bound = row.get("bound", "")
        if bound not in ("", "upper", "lower"):
            hint = did_you_mean(bound, ["upper", "lower"])
            bad("bound", f"expected '', 'upper' or 'lower', got '{bound}'{hint}")
        among_text = row.get("among", "")
        among = None
        if among_text:
            among = int(among_text) if re.fullmatch(r"\d+", among_text) else None
            if among is None or among < 2:
                bad("among", f"expected the number of ranked geos (2 or more), got '{among_text}'")
        if indicator is not None and indicator.kind == "rank":
            if not among_text:
                bad("among", f"'{ind}' is a rank: say among how many geos (e.g. 63)")
            elif among is not None and value is not None and value > among:
                bad("value", f"rank {value:g} is larger than the number ranked ({among})")
        problems += row_problems
        if not row_problems:
            records.append(
                {
                    "geo": geo, "indicator": ind, "year": year, "value": value,
                    "source_id": sid, "period": period, "bound": bound, "among": among,
                    "quote": row.get("quote", ""), "note": row.get("note", ""),
                    "raw": row.get("raw", ""), "line": line,
                }
            )
    frame = pd.DataFrame.from_records(records, columns=[*OBSERVATION_COLUMNS, "line"])
    frame = frame.astype({"year": "int64", "value": "float64", "line": "int64"})
    frame["among"] = frame["among"].astype("Int64")
    problems += _check_duplicates(name, frame)
    return frame, problems


def _check_duplicates(name: str, frame: pd.DataFrame) -> list[Problem]:
    """Rows for the same (geo, indicator, year, period, bound) that disagree need a note."""
    problems = []
    keys = ["geo", "indicator", "year", "period", "bound"]
    for _, group in frame.groupby(keys, sort=False):
        if group["value"].nunique() < 2:
            continue
        for _, row in group[group["note"] == ""].iterrows():
            others = group[group["line"] != row["line"]]
            listed = ", ".join(f"line {r.line} ({r.value:g})" for r in others.itertuples())
            problems.append(
                Problem(name, int(row["line"]), "note",
                        f"value {row['value']:g} disagrees with {listed} for the same geo, "
                        "indicator, year and period; keep both only with a note saying why")
            )
    return problems


def _check_references(indicators: _Registry, geos: _Registry, targets: _Registry,
                      source_ids: set[str]) -> list[Problem]:
    """Ids that registries and targets refer to must exist (invalid entries count as known)."""
    problems: list[Problem] = []
    broken = indicators.broken | geos.broken
    known_indicators = set(indicators.items) | broken
    known_geos = set(geos.items) | broken

    def unknown(kind: str, value: str, known) -> str:
        return f"unknown {kind} '{value}'{did_you_mean(value, known)}"

    for ind in indicators.items.values():
        line = indicators.lines.get(ind.id, 1)
        for proxy in ind.proxies:
            if proxy.indicator not in known_indicators:
                problems.append(Problem(indicators.file, line, f"{ind.id}.proxies",
                                        unknown("indicator", proxy.indicator, known_indicators)))
        for brk in ind.breaks:
            if brk.geo is not None and brk.geo not in known_geos:
                problems.append(Problem(indicators.file, line, f"{ind.id}.breaks",
                                        unknown("geo", brk.geo, known_geos)))
    for geo in geos.items.values():
        if geo.merged_into is not None and geo.merged_into not in known_geos:
            problems.append(Problem(geos.file, geos.lines.get(geo.id, 1), "merged_into",
                                    unknown("geo", geo.merged_into, known_geos)))
    for t in targets.items.values():
        line = targets.lines.get(t.id, 1)
        if t.geo not in known_geos:
            problems.append(Problem(targets.file, line, f"{t.id}.geo",
                                    unknown("geo", t.geo, known_geos)))
        for attr in ("indicator", "reading"):
            value = getattr(t, attr)
            if value not in known_indicators:
                problems.append(Problem(targets.file, line, f"{t.id}.{attr}",
                                        unknown("indicator", value, known_indicators)))
        if t.source_id not in source_ids:
            problems.append(Problem(targets.file, line, f"{t.id}.source_id",
                                    unknown("source", t.source_id, source_ids)))
        reading = indicators.items.get(t.reading)
        if reading is not None and reading.kind == "rank" and t.among is None:
            problems.append(Problem(targets.file, line, f"{t.id}.among",
                                    "a rank target must say among how many geos (e.g. among: 63)"))
    return problems


def _hash_files(root: Path) -> dict[str, str]:
    hashes = {}
    for name in ("observations.csv", "sources.csv", "indicators.yaml", "geos.yaml", "targets.yaml"):
        path = root / name
        if path.exists():
            hashes[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def _read_all(root: Path) -> tuple[Dataset | None, list[Problem]]:
    root = Path(root).resolve()
    if not root.is_dir():
        return None, [Problem(relative(root), 1, "(folder)", "data folder not found")]
    indicators = _load_registry(root / "indicators.yaml", "indicators", Indicator, "indicator")
    geos = _load_registry(root / "geos.yaml", "geos", Geo, "geo")
    targets = _load_registry(root / "targets.yaml", "targets", Target, "target")
    sources, source_problems = _check_sources(root / "sources.csv")
    source_ids = set(sources.index)
    observations, observation_problems = _check_observations(
        root / "observations.csv", indicators.items, geos.items, source_ids,
        indicators.broken | geos.broken)
    problems = sorted(
        indicators.problems + geos.problems + targets.problems + source_problems
        + observation_problems + _check_references(indicators, geos, targets, source_ids)
    )
    dataset = Dataset(root, observations, sources, indicators.items, geos.items, targets.items,
                      _hash_files(root))
    return dataset, problems


def check_data(root: Path | str) -> list[Problem]:
    """All problems in a data folder (empty list when it is valid)."""
    return _read_all(Path(root))[1]


#: Datasets loaded in this process, by folder and the SHA-256 of every file in it.
_LOADED: dict[tuple[Path, tuple[tuple[str, str], ...]], Dataset] = {}


def load_dataset(root: Path | str) -> Dataset:
    """Load and validate a data folder.

    A folder whose files are byte-identical to one already loaded in this process is not
    parsed and validated again (the returned Dataset is shared: treat it as read-only).

    Raises
    ------
    InputError
        With every problem found, as ``file:line: column: message``.
    """
    resolved = Path(root).resolve()
    fingerprint = (resolved, tuple(sorted(_hash_files(resolved).items())))
    if fingerprint in _LOADED:
        return _LOADED[fingerprint]
    dataset, problems = _read_all(Path(root))
    if problems or dataset is None:
        raise InputError(problems, what=f"data folder {relative(Path(root))}")
    _LOADED.clear()  # keep one: a session edits its data, it rarely juggles folders
    _LOADED[fingerprint] = dataset
    return dataset
