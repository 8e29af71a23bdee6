"""The tidy input of the analysis, checked and normalised once.

Input contract
--------------
``works``: one row per included work, columns ``work_id`` (int), ``year`` (int or NA),
``date`` (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or None) and ``title``.
``labels``: one row per (work_id, axis, value); multi-valued axes have several rows per
work; an optional ``role`` column (e.g. ``pretraining`` / ``evaluation`` on dataset rows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from fmreview.errors import InputError, unknown_name

from .settings import AnalysisSettings


def _parse_partial_date(text: object) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) from ``YYYY[-MM[-DD]]``; missing parts are None."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return None, None, None
    if isinstance(text, dt.date):
        return text.year, text.month, text.day
    parts = str(text).strip().split("-")
    try:
        year = int(parts[0][:4]) if parts[0] else None
        month = int(parts[1]) if len(parts) > 1 and parts[1] else None
        day = int(parts[2][:2]) if len(parts) > 2 and parts[2] else None
    except ValueError:
        return None, None, None
    if month is not None and not 1 <= month <= 12:
        month, day = None, None
    return year, month, day


@dataclass
class AnalysisFrame:
    """Normalised works and labels plus the period bookkeeping every table shares.

    Attributes
    ----------
    works : DataFrame
        ``work_id, title, year (Int64), month (Int64), date, quarter (str|None),
        month_key (str|None), partial (bool)``.
    labels : DataFrame
        ``work_id, axis, value`` without duplicates (role dropped).
    roles : DataFrame
        ``work_id, axis, value, role`` where the input carried a role, else empty.
    notes : list of str
        What was dropped and why.
    """

    works: pd.DataFrame
    labels: pd.DataFrame
    roles: pd.DataFrame
    settings: AnalysisSettings
    notes: list[str] = field(default_factory=list)

    # ----------------------------------------------------------------- periods
    @property
    def partial_from(self) -> int:
        """First partial year (the year of ``as_of``)."""
        return self.settings.as_of.year

    def is_partial_year(self, year: int) -> bool:
        return year >= self.partial_from

    def is_partial_period(self, key: str | int, freq: str) -> bool:
        """True when the period ends after ``as_of`` (it is still being filled)."""
        as_of = self.settings.as_of
        if freq == "year":
            return int(key) >= as_of.year
        year = int(str(key)[:4])
        if freq == "quarter":
            q = int(str(key)[-1])
            end_month = 3 * q
        else:
            end_month = int(str(key)[5:7])
        end = (
            dt.date(year + 1, 1, 1) if end_month == 12 else dt.date(year, end_month + 1, 1)
        ) - dt.timedelta(days=1)
        return end > as_of

    @cached_property
    def dated(self) -> pd.DataFrame:
        """Works with a year."""
        return self.works[self.works["year"].notna()]

    @cached_property
    def all_years(self) -> list[int]:
        """Every year from the first to the last year seen (zero years included)."""
        years = self.dated["year"]
        if years.empty:
            return []
        return list(range(int(years.min()), int(years.max()) + 1))

    @cached_property
    def fit_years(self) -> list[int]:
        """Years used by trend fits: all years, minus partial ones, within start/end."""
        s = self.settings
        out = [
            y
            for y in self.all_years
            if (s.include_partial or not self.is_partial_year(y))
            and (s.start_year is None or y >= s.start_year)
            and (s.end_year is None or y <= s.end_year)
        ]
        return out

    @cached_property
    def partial_years(self) -> list[int]:
        return [y for y in self.all_years if self.is_partial_year(y)]

    @cached_property
    def bounds(self) -> dict[int, tuple[dt.date, dt.date]]:
        """work_id -> (earliest, latest) possible date, for dated works."""
        d = self.dated
        return {
            int(w): date_bounds(date, int(y), m)
            for w, date, y, m in zip(d["work_id"], d["date"], d["year"], d["month"], strict=True)
        }

    def month_share(self) -> float:
        """Share of dated works whose date has a month."""
        d = self.dated
        return float(d["month"].notna().mean()) if len(d) else 0.0

    # ------------------------------------------------------------------ labels
    @cached_property
    def axes(self) -> list[str]:
        return sorted(self.labels["axis"].unique().tolist())

    @cached_property
    def _values(self) -> dict[str, list[str]]:
        return {
            str(axis): sorted(map(str, grp.unique()))
            for axis, grp in self.labels.groupby("axis")["value"]
        }

    def values(self, axis: str) -> list[str]:
        """Sorted values seen on ``axis`` (NotFoundError for an unknown axis)."""
        self.check_axis(axis)
        return list(self._values[axis])

    def check_axis(self, axis: str) -> None:
        if axis not in self._values:
            raise unknown_name("axis", axis, self.axes)

    def check_value(self, axis: str, value: str) -> None:
        values = self.values(axis)
        if value not in values:
            raise unknown_name(f"value of axis {axis!r}", value, values)

    @cached_property
    def _index(self) -> dict[tuple[str, str | None], frozenset[int]]:
        out: dict[tuple[str, str | None], frozenset[int]] = {}
        for (axis, value), grp in self.labels.groupby(["axis", "value"])["work_id"]:
            out[(str(axis), str(value))] = frozenset(grp.tolist())
        for axis, grp in self.labels.groupby("axis")["work_id"]:
            out[(str(axis), None)] = frozenset(grp.tolist())
        return out

    def work_ids(self, axis: str, value: str | None = None) -> set[int]:
        """Works carrying ``axis=value`` (any value of the axis when value is None)."""
        return set(self._index.get((axis, value), frozenset()))

    def is_multivalued(self, axis: str) -> bool:
        lab = self.labels[self.labels["axis"] == axis]
        return bool(lab.groupby("work_id").size().max() > 1) if len(lab) else False

    def yearly(self, work_ids: set[int] | None, years: list[int]) -> np.ndarray:
        """Counts of works per year (of ``work_ids``, or of all works when None)."""
        d = self.dated
        if work_ids is not None:
            d = d[d["work_id"].isin(work_ids)]
        counts = d["year"].astype(int).value_counts()
        return np.array([int(counts.get(y, 0)) for y in years], dtype=float)

    def periodic(self, work_ids: set[int] | None, keys: list[str], freq: str) -> np.ndarray:
        """Counts of works per quarter or month key (works without a month are skipped)."""
        col = "quarter" if freq == "quarter" else "month_key"
        d = self.works[self.works[col].notna()]
        if work_ids is not None:
            d = d[d["work_id"].isin(work_ids)]
        counts = d[col].value_counts()
        return np.array([int(counts.get(k, 0)) for k in keys], dtype=float)


def date_bounds(date: object, year: int, month: object) -> tuple[dt.date, dt.date]:
    """Earliest and latest day a work can date from, given how precise its date is."""
    parts = str(date).split("-") if isinstance(date, str) and date else []
    if month is not None and not pd.isna(month):
        m = int(month)  # type: ignore[call-overload]
        first = dt.date(year, m, 1)
        last = (dt.date(year + 1, 1, 1) if m == 12 else dt.date(year, m + 1, 1)) - dt.timedelta(
            days=1
        )
        if len(parts) >= 3 and parts[0][:4] == str(year):
            try:
                day = dt.date(year, m, int(parts[2][:2]))
                return day, day
            except ValueError:
                pass
        return first, last
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def period_keys(first: dt.date, last: dt.date, freq: str) -> list[str]:
    """Every quarter (``2023-Q2``) or month (``2023-04``) key from first to last."""
    keys: list[str] = []
    y, m = first.year, first.month
    if freq == "quarter":
        m = 3 * ((m - 1) // 3) + 1
    step = 3 if freq == "quarter" else 1
    while (y, m) <= (last.year, last.month):
        keys.append(f"{y}-Q{(m - 1) // 3 + 1}" if freq == "quarter" else f"{y}-{m:02d}")
        m += step
        if m > 12:
            y, m = y + 1, m - 12
    return keys


def period_start(key: str | int, freq: str) -> dt.date:
    """First day of a period key."""
    if freq == "year":
        return dt.date(int(key), 1, 1)
    text = str(key)
    if freq == "quarter":
        return dt.date(int(text[:4]), 3 * (int(text[-1]) - 1) + 1, 1)
    return dt.date(int(text[:4]), int(text[5:7]), 1)


def _require(df: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{name} table lacks column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, df.columns)) or 'no columns'} (expected {', '.join(columns)})"
        )


def _works(n: int) -> str:
    return f"{n:,} work" if n == 1 else f"{n:,} works"


def prepare(works: pd.DataFrame, labels: pd.DataFrame, settings: AnalysisSettings) -> AnalysisFrame:
    """Check and normalise the two input tables (see the module docstring)."""
    _require(works, "works", ("work_id",))
    _require(labels, "labels", ("work_id", "axis", "value"))
    notes: list[str] = []
    w = pd.DataFrame({"work_id": pd.to_numeric(works["work_id"], errors="coerce")})
    if w["work_id"].isna().any():
        bad = works.loc[w["work_id"].isna(), "work_id"].iloc[0]
        raise InputError(f"works table: work_id {bad!r} is not an integer")
    w["work_id"] = w["work_id"].astype(int)
    if w["work_id"].duplicated().any():
        dup = int(w.loc[w["work_id"].duplicated(), "work_id"].iloc[0])
        raise InputError(
            f"works table: work_id {dup} appears more than once; pass one row per work"
        )
    w["title"] = (
        works["title"].astype(object).where(works["title"].notna(), None).values
        if "title" in works
        else None
    )
    dates = works["date"].tolist() if "date" in works else [None] * len(works)
    parsed = [_parse_partial_date(d) for d in dates]
    years_in = (
        pd.to_numeric(works["year"], errors="coerce").tolist()
        if "year" in works
        else [None] * len(works)
    )
    year_col: list[int | None] = []
    month_col: list[int | None] = []
    for (py, pm, _), yi in zip(parsed, years_in, strict=True):
        year = int(yi) if yi is not None and not pd.isna(yi) else py
        year_col.append(year)
        month_col.append(pm if pm is not None and (py == year) else None)
    w["year"] = pd.array(year_col, dtype="Int64")
    w["month"] = pd.array(month_col, dtype="Int64")
    w["date"] = [
        None if d is None or (isinstance(d, float) and np.isnan(d)) or d is pd.NA else str(d)
        for d in dates
    ]
    w["quarter"] = [
        f"{y}-Q{(m - 1) // 3 + 1}" if y is not None and m is not None else None
        for y, m in zip(year_col, month_col, strict=True)
    ]
    w["month_key"] = [
        f"{y}-{m:02d}" if y is not None and m is not None else None
        for y, m in zip(year_col, month_col, strict=True)
    ]
    as_year = settings.as_of.year
    w["partial"] = [y is not None and y >= as_year for y in year_col]
    n_undated = int(w["year"].isna().sum())
    if n_undated:
        notes.append(
            f"{_works(n_undated)} without a year {'is' if n_undated == 1 else 'are'} left out "
            "of per-period tables"
        )
    n_no_month = int((w["year"].notna() & w["month"].isna()).sum())
    if n_no_month:
        notes.append(
            f"{n_no_month} dated {'work has' if n_no_month == 1 else 'works have'} no month and "
            f"{'is' if n_no_month == 1 else 'are'} left out of quarter/month tables"
        )

    lab = labels.copy()
    lab["work_id"] = pd.to_numeric(lab["work_id"], errors="coerce")
    lab = lab[lab["work_id"].notna() & lab["value"].notna() & lab["axis"].notna()]
    lab["work_id"] = lab["work_id"].astype(int)
    lab["axis"] = lab["axis"].astype(str).str.strip()
    lab["value"] = lab["value"].astype(str).str.strip()
    lab = lab[(lab["value"] != "") & (lab["axis"] != "")]
    known = set(w["work_id"])
    orphan = ~lab["work_id"].isin(known)
    if orphan.any():
        notes.append(
            f"{int(orphan.sum())} label row(s) name works that are not in the works table "
            "(not included?) and are ignored"
        )
        lab = lab[~orphan]
    if "role" in lab.columns:
        roles = lab.loc[lab["role"].notna(), ["work_id", "axis", "value", "role"]].copy()
        roles["role"] = roles["role"].astype(str).str.strip().str.lower()
        roles = roles.drop_duplicates().reset_index(drop=True)
    else:
        roles = pd.DataFrame(columns=["work_id", "axis", "value", "role"])
    lab = lab[["work_id", "axis", "value"]].drop_duplicates().reset_index(drop=True)
    lab["axis"] = lab["axis"].astype(object)
    lab["value"] = lab["value"].astype(object)
    return AnalysisFrame(
        works=w.reset_index(drop=True), labels=lab, roles=roles, settings=settings, notes=notes
    )
