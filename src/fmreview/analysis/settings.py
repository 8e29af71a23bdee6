"""Settings of a trend analysis: events, thresholds, the date the data were taken.

The integrator passes a plain mapping or a pydantic model (the protocol's ``analysis``
section); :func:`coerce_settings` turns either into an :class:`AnalysisSettings`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

from fmreview.errors import InputError
from fmreview.progress import utcnow

FREQS = ("year", "quarter", "month")

#: Axis pairs cross-tabulated by default (row axis, column axis).
DEFAULT_COOCCURRENCE: tuple[tuple[str, str], ...] = (
    ("modality", "task"),
    ("fm_type", "architecture"),
    ("training_paradigm", "adaptation"),
)


@dataclass(frozen=True)
class Event:
    """A dated event named in the protocol (e.g. the release of SAM, 2023-04-05)."""

    name: str
    date: dt.date


@dataclass(frozen=True)
class AnalysisSettings:
    """Everything :func:`fmreview.analysis.analyze` needs besides the data.

    Parameters
    ----------
    events : list of Event
        Dated events; the first one splits periods for the axis x period tests unless
        ``period_split`` says otherwise, and findings of kind ``surge_after_event`` name one.
    min_cell : int
        Cells (counts) below this are flagged ``small`` rather than interpreted.
    as_of : datetime.date
        The date the data were taken. Its year, and any later year, is *partial*: marked in
        every table and left out of trend fits unless ``include_partial``.
    period_split : list of datetime.date
        Boundaries of the periods compared in the axis x period tests; empty means
        "before/after the first event".
    alpha : float
        Significance level for the model choice rule, the findings and flags.
    gazetteer : pandas.DataFrame or None
        Dataset gazetteer (``name`` and optional ``modality``, ``body_region``,
        ``aliases``...). A dataset label is *public* when the gazetteer names it.
    include_partial : bool
        Fit trends on partial years too (off by default).
    start_year, end_year : int or None
        Limit trend fits to these years (inclusive).
    segmented_freq : {"auto", "year", "quarter", "month"}
        Time resolution of the segmented (interrupted time series) models. ``auto`` uses
        quarters when at least ``dated_share`` of works have a month, else years.
    dated_share : float
        See ``segmented_freq``.
    top_n : int
        How many datasets to list per modality and task.
    random_state : int
        Seed for the Monte Carlo Fisher test and the community detection.
    cooccurrence : list of (str, str)
        Axis pairs to cross-tabulate.
    findings : list of mapping or None
        Statements to test (see :mod:`fmreview.analysis.findings`); None means the flagship
        review's default statements.
    """

    events: tuple[Event, ...] = ()
    min_cell: int = 5
    as_of: dt.date = field(default_factory=lambda: utcnow().date())
    period_split: tuple[dt.date, ...] = ()
    alpha: float = 0.05
    gazetteer: pd.DataFrame | None = None
    include_partial: bool = False
    start_year: int | None = None
    end_year: int | None = None
    segmented_freq: str = "auto"
    dated_share: float = 0.8
    top_n: int = 10
    random_state: int = 0
    cooccurrence: tuple[tuple[str, str], ...] = DEFAULT_COOCCURRENCE
    findings: tuple[Mapping[str, Any], ...] | None = None

    def __post_init__(self) -> None:
        if self.min_cell < 0:
            raise InputError(f"min_cell must be >= 0, got {self.min_cell}")
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.segmented_freq not in ("auto", *FREQS):
            raise InputError(
                f"segmented_freq {self.segmented_freq!r} is not one of auto, {', '.join(FREQS)}"
            )

    @property
    def split_dates(self) -> tuple[dt.date, ...]:
        """The period boundaries actually used (explicit split, else the first event)."""
        if self.period_split:
            return tuple(sorted(self.period_split))
        if self.events:
            return (self.events[0].date,)
        return ()

    def event(self, name: str | None = None) -> Event | None:
        """The event called ``name`` (case-insensitive), or the first one when None."""
        if not self.events:
            return None
        if name is None:
            return self.events[0]
        for ev in self.events:
            if ev.name.lower() == name.lower():
                return ev
        return None

    def describe(self) -> dict[str, Any]:
        """JSON-ready echo of the settings (the gazetteer as its row count)."""
        return {
            "events": [{"name": e.name, "date": e.date.isoformat()} for e in self.events],
            "min_cell": self.min_cell,
            "as_of": self.as_of.isoformat(),
            "period_split": [d.isoformat() for d in self.split_dates],
            "alpha": self.alpha,
            "gazetteer_rows": None if self.gazetteer is None else len(self.gazetteer),
            "include_partial": self.include_partial,
            "start_year": self.start_year,
            "end_year": self.end_year,
            "segmented_freq": self.segmented_freq,
            "dated_share": self.dated_share,
            "top_n": self.top_n,
            "random_state": self.random_state,
            "cooccurrence": [list(p) for p in self.cooccurrence],
            "findings": None if self.findings is None else [dict(f) for f in self.findings],
        }


def parse_date(value: Any, *, what: str = "date") -> dt.date:
    """Parse ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (or a date) to a date (first day)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    parts = text.split("-")
    try:
        if len(parts) == 1 and len(text) == 4:
            return dt.date(int(text), 1, 1)
        if len(parts) == 2:
            return dt.date(int(parts[0]), int(parts[1]), 1)
        if len(parts) == 3:
            return dt.date(int(parts[0]), int(parts[1]), int(parts[2][:2]))
    except ValueError:
        pass
    raise InputError(f"{what} {text!r} is not a date; expected YYYY, YYYY-MM or YYYY-MM-DD")


def _as_mapping(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "model_dump"):  # pydantic v2 model
        dumped = obj.model_dump()
        # keep non-dumpable attributes (e.g. a DataFrame gazetteer) as they are
        for key in dumped:
            dumped[key] = getattr(obj, key, dumped[key])
        return dict(dumped)
    if hasattr(obj, "__dict__"):
        return {k: v for k, v in vars(obj).items() if not k.startswith("_")}
    raise InputError(f"analysis settings of type {type(obj).__name__} are not a mapping")


def _event(item: Any) -> Event:
    if isinstance(item, Event):
        return item
    data = _as_mapping(item)
    if "name" not in data or "date" not in data:
        raise InputError(f"event {data!r} needs a 'name' and a 'date' (YYYY-MM-DD)")
    return Event(str(data["name"]), parse_date(data["date"], what=f"event {data['name']!r} date"))


def coerce_settings(
    obj: Any = None, *, ignore_unknown: bool = False, **overrides: Any
) -> AnalysisSettings:
    """Build :class:`AnalysisSettings` from a mapping, a pydantic model or settings.

    Unknown keys raise :class:`~fmreview.errors.InputError` listing the known ones, unless
    ``ignore_unknown`` (e.g. when passing a protocol section that holds other keys too).
    """
    if isinstance(obj, AnalysisSettings) and not overrides:
        return obj
    if isinstance(obj, AnalysisSettings):
        data: dict[str, Any] = {f.name: getattr(obj, f.name) for f in fields(obj)}
    else:
        data = _as_mapping(obj)
    data.update(overrides)
    known = {f.name for f in fields(AnalysisSettings)}
    unknown = sorted(set(data) - known)
    if ignore_unknown:
        data = {k: v for k, v in data.items() if k in known}
    elif unknown:
        raise InputError(
            f"Unknown analysis setting(s) {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(sorted(known))}"
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        if value is None and key not in ("gazetteer", "start_year", "end_year", "findings"):
            continue  # None means "the default"
        if key == "events":
            out[key] = tuple(_event(e) for e in value)
        elif key == "as_of":
            out[key] = parse_date(value, what="as_of")
        elif key == "period_split":
            items = [value] if isinstance(value, str | dt.date) else list(value)
            out[key] = tuple(parse_date(v, what="period_split") for v in items)
        elif key == "cooccurrence":
            out[key] = tuple((str(a), str(b)) for a, b in value)
        elif key == "findings" and value is not None:
            out[key] = tuple(_as_mapping(f) for f in value)
        elif key == "gazetteer" and value is not None and not isinstance(value, pd.DataFrame):
            out[key] = pd.DataFrame([_as_mapping(row) for row in value])
        else:
            out[key] = value
    return AnalysisSettings(**out)
