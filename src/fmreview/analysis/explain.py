"""The works behind any table cell: ``AXIS=VALUE [AXIS=VALUE ...] [PERIOD]``.

Examples: ``task=segmentation 2024``, ``modality=CT task=segmentation``,
``fm_type=vision_language 2023-Q2``, ``datasets=MIMIC-CXR 2023-04``, ``all 2025``,
``task=segmentation before 2023-04-05``, ``task=vqa from 2023-04-05``,
``task=vqa 2021-01-01 to 2023-04-05``.
A period is a year (``2024``), a quarter (``2024-Q2``), a month (``2024-04``) or one of
the periods of the axis x period tests (``before D``, ``from D``, ``D1 to D2``). Those last
forms select, like the tests, works of the fit years whose date certainly falls in the
period (a work dated only ``2023`` is neither before nor from 2023-04-05).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fmreview.errors import InputError, unknown_name

from .frame import AnalysisFrame, prepare
from .settings import coerce_settings, parse_date

_YEAR = re.compile(r"^\d{4}$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class CellQuery:
    """Conditions (axis, value) that must all hold, and an optional period."""

    conditions: tuple[tuple[str, str], ...] = ()
    period: str | None = None
    freq: str | None = None  # "year" | "quarter" | "month"
    raw: str = ""
    date_from: dt.date | None = None  # inclusive
    date_before: dt.date | None = None  # exclusive


def parse_query(query: str | Sequence[str]) -> CellQuery:
    """Parse ``AXIS=VALUE ... [PERIOD]`` (tokens separated by spaces, or a list of tokens).

    A value may contain spaces when the query is given as a list of tokens
    (``["modality=X-ray CR", "2024"]``) or quoted (``modality="X ray"``).
    """
    tokens = _tokens(query)
    raw = " ".join(tokens)
    if not tokens:
        raise InputError(
            "empty --explain query; expected AXIS=VALUE [YEAR], e.g. 'task=segmentation 2024'"
        )
    conditions: list[tuple[str, str]] = []
    period = freq = None
    date_from = date_before = None
    pending: str | None = None  # "before" / "from" / "to" waiting for a date
    for tok in tokens:
        if pending is not None:
            if not _DAY.match(tok):
                raise InputError(f"--explain: {pending!r} needs a date YYYY-MM-DD, got {tok!r}")
            day = parse_date(tok, what="--explain date")
            if pending == "before":
                date_before = day
            else:  # "from", or the end of "D1 to D2"
                if pending == "to":
                    date_before = day
                else:
                    date_from = day
            pending = None
            continue
        if tok.lower() in ("before", "from"):
            pending = tok.lower()
        elif tok.lower() == "to":
            if date_from is None:
                raise InputError(
                    "--explain: 'to' must follow a date, e.g. '2021-01-01 to 2023-04-05'"
                )
            pending = "to"
        elif _DAY.match(tok):
            date_from = parse_date(tok, what="--explain date")
        elif "=" in tok:
            axis, _, value = tok.partition("=")
            axis, value = axis.strip(), value.strip().strip("'\"")
            if not axis or not value:
                raise InputError(
                    f"--explain term {tok!r} needs both an axis and a value, e.g. task=segmentation"
                )
            conditions.append((axis, value))
        elif tok.lower() in ("all", "*"):
            continue
        elif _YEAR.match(tok):
            period, freq = tok, "year"
        elif m := _QUARTER.match(tok):
            period, freq = f"{m.group(1)}-Q{m.group(2)}", "quarter"
        elif m := _MONTH.match(tok):
            period, freq = tok, "month"
        elif conditions and period is None:
            # an unquoted value with spaces: "modality=X ray 2024"
            axis, value = conditions[-1]
            conditions[-1] = (axis, f"{value} {tok.strip(chr(39) + chr(34))}")
        else:
            raise InputError(
                f"--explain term {tok!r} is neither AXIS=VALUE nor a period "
                "(YYYY, YYYY-Qn, YYYY-MM); example: 'task=segmentation 2024'"
            )
    if pending is not None:
        raise InputError(f"--explain: {pending!r} needs a date YYYY-MM-DD after it")
    return CellQuery(tuple(conditions), period, freq, raw, date_from, date_before)


def _tokens(query: str | Sequence[str]) -> list[str]:
    parts = [query] if isinstance(query, str) else list(query)
    out: list[str] = []
    for part in parts:
        # split on spaces outside quotes
        out.extend(t for t in re.findall(r"""(?:[^\s"']+|"[^"]*"|'[^']*')+""", str(part)) if t)
    return out


def _resolve_value(frame: AnalysisFrame, axis: str, value: str) -> str:
    values = frame.values(axis)
    if value in values:
        return value
    folded = {v.lower(): v for v in values}
    if value.lower() in folded:
        return folded[value.lower()]
    raise unknown_name(f"value of axis {axis!r}", value, values)


def explain_frame(frame: AnalysisFrame, query: str | Sequence[str] | CellQuery) -> pd.DataFrame:
    """Works matching ``query`` in ``frame``: ``work_id, year, date, title`` plus one
    column per queried axis with all the work's values on it (``|``-joined)."""
    q = query if isinstance(query, CellQuery) else parse_query(query)
    ids = set(frame.works["work_id"])
    for axis, value in q.conditions:
        frame.check_axis(axis)
        ids &= frame.work_ids(axis, _resolve_value(frame, axis, value))
    w = frame.works[frame.works["work_id"].isin(ids)]
    if q.period is not None:
        col = {"year": "year", "quarter": "quarter", "month": "month_key"}[q.freq or "year"]
        key: Any = int(q.period) if q.freq == "year" else q.period
        w = w[w[col] == key]
    if q.date_from is not None or q.date_before is not None:
        bounds = frame.bounds
        fit = set(frame.fit_years)

        def inside(wid: int) -> bool:
            if wid not in bounds or bounds[wid][0].year not in fit:
                return False
            lo, hi = bounds[wid]
            return (q.date_from is None or lo >= q.date_from) and (
                q.date_before is None or hi < q.date_before
            )

        w = w[[inside(int(i)) for i in w["work_id"]]]
    out = w[["work_id", "year", "date", "title"]].copy()
    for axis in dict.fromkeys(a for a, _ in q.conditions):
        vals = (
            frame.labels[frame.labels["axis"] == axis]
            .groupby("work_id")["value"]
            .apply(lambda s: " | ".join(sorted(s)))
        )
        out[axis] = [vals.get(i) for i in out["work_id"]]
    return out.sort_values(["year", "date", "work_id"], na_position="last").reset_index(drop=True)


def explain(
    works: pd.DataFrame,
    labels: pd.DataFrame,
    query: str | Sequence[str],
    settings: Any = None,
) -> pd.DataFrame:
    """The works behind a cell, straight from the input tables (see :func:`explain_frame`)."""
    return explain_frame(prepare(works, labels, coerce_settings(settings)), query)
