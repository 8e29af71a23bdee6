"""Trend tables over every axis value: growth models, segmented models, trend tests and
axis x period tests, built from an :class:`~fmreview.analysis.frame.AnalysisFrame`.

Fits use the frame's ``fit_years``: from the first year with a work to the last complete
year (partial years — the ``as_of`` year and later — are left out unless
``include_partial``), within ``start_year``/``end_year``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .frame import AnalysisFrame, period_keys, period_start
from .growth import MODEL_RULE, SegmentedFit, fit_growth, fit_segmented, post_indicator
from .settings import Event
from .trend_tests import (
    ContingencyTest,
    bh_adjust,
    cochran_armitage,
    contingency_test,
    mann_kendall,
)

ALL_AXIS = "all"
ALL_VALUE = "all works"


def _series_ids(frame: AnalysisFrame) -> list[tuple[str, str, set[int] | None]]:
    out: list[tuple[str, str, set[int] | None]] = [(ALL_AXIS, ALL_VALUE, None)]
    for axis in frame.axes:
        for value in frame.values(axis):
            out.append((axis, value, frame.work_ids(axis, value)))
    return out


def _add_bh(
    df: pd.DataFrame, p_col: str, out_col: str, *, adjust: pd.Series | None = None
) -> pd.DataFrame:
    """Benjamini–Hochberg ``p_col`` into ``out_col`` within each axis, over the rows where
    ``adjust`` holds (default: every row but the all-works series); None elsewhere."""
    df[out_col] = None
    if adjust is None:
        adjust = df["axis"] != ALL_AXIS
    for _axis, idx in df[adjust].groupby("axis").groups.items():
        adj = bh_adjust([None if pd.isna(v) else float(v) for v in df.loc[idx, p_col]])
        df.loc[idx, out_col] = pd.Series(adj, index=idx, dtype=object)
    return df


def growth_table(frame: AnalysisFrame) -> pd.DataFrame:
    """Yearly rate ratio per axis value (absolute, and relative to all works).

    Columns: ``axis, value, first_year, last_year`` then the fields of
    :class:`~fmreview.analysis.growth.GrowthFit`, ``p_bh`` (BH within axis), the
    relative fit (``rel_*``: same model with ``log(all works)`` as offset, i.e. growth of the
    share) and ``small`` (total below ``min_cell``).
    """
    s = frame.settings
    years = frame.fit_years
    total = frame.yearly(None, years)
    with np.errstate(divide="ignore"):
        offset = np.log(total) if len(total) and np.any(total > 0) else None
    rows = []
    for axis, value, ids in _series_ids(frame):
        y = frame.yearly(ids, years)
        fit = fit_growth(y, years, alpha=s.alpha, min_total=s.min_cell)
        row = {
            "axis": axis,
            "value": value,
            "first_year": years[0] if years else None,
            "last_year": years[-1] if years else None,
            **fit.to_dict(),
        }
        rel = (
            fit_growth(y, years, offset=offset, alpha=s.alpha, min_total=s.min_cell)
            if ids is not None and offset is not None
            else None
        )
        row.update(
            {
                "rel_model": rel.model if rel else None,
                "rel_rate_ratio": rel.rate_ratio if rel else None,
                "rel_ci_low": rel.ci_low if rel else None,
                "rel_ci_high": rel.ci_high if rel else None,
                "rel_p_value": rel.p_value if rel else None,
            }
        )
        row["small"] = fit.total < s.min_cell
        rows.append(row)
    df = pd.DataFrame(rows)
    return _add_bh(df, "p_value", "p_bh")


@dataclass
class SegmentSeries:
    """Counts per period of one series around an event, ready for :func:`fit_segmented`."""

    freq: str
    keys: list[str]
    counts: np.ndarray
    totals: np.ndarray
    post: np.ndarray
    dropped_undated: int


def segmented_freq(frame: AnalysisFrame) -> str:
    """The resolution of segmented models (``auto``: quarters when dates allow)."""
    s = frame.settings
    if s.segmented_freq != "auto":
        return s.segmented_freq
    return "quarter" if frame.month_share() >= s.dated_share else "year"


def segment_series(
    frame: AnalysisFrame, ids: set[int] | None, event: Event, freq: str | None = None
) -> SegmentSeries:
    """Counts of ``ids`` (all works when None) per period over the fit years."""
    freq = freq or segmented_freq(frame)
    years = frame.fit_years
    if not years:
        return SegmentSeries(freq, [], np.zeros(0), np.zeros(0), np.zeros(0), 0)
    if freq == "year":
        keys: list[str] = [str(y) for y in years]
        counts = frame.yearly(ids, years)
        totals = frame.yearly(None, years)
        starts = [dt.date(y, 1, 1) for y in years]
        ends = [dt.date(y + 1, 1, 1) for y in years]
        dropped = 0
    else:
        keys = period_keys(dt.date(years[0], 1, 1), dt.date(years[-1], 12, 1), freq)
        keys = [k for k in keys if _keep_period(frame, k, freq)]
        counts = frame.periodic(ids, keys, freq)
        totals = frame.periodic(None, keys, freq)
        starts = [period_start(k, freq) for k in keys]
        step = 3 if freq == "quarter" else 1
        ends = [_add_months(d, step) for d in starts]
        sel = frame.dated if ids is None else frame.dated[frame.dated["work_id"].isin(ids)]
        dropped = int((sel["month"].isna() & sel["year"].isin(years)).sum())
    post = post_indicator(starts, ends, event.date)
    return SegmentSeries(freq, keys, counts, totals, post, dropped)


def _keep_period(frame: AnalysisFrame, key: str, freq: str) -> bool:
    return frame.settings.include_partial or not frame.is_partial_period(key, freq)


def _add_months(d: dt.date, months: int) -> dt.date:
    m = d.month - 1 + months
    return dt.date(d.year + m // 12, m % 12 + 1, 1)


def segmented_table(frame: AnalysisFrame, event: Event) -> pd.DataFrame:
    """Change in level and slope at ``event`` for every axis value (and all works).

    Columns: ``axis, value, event, event_date, freq, first_period, last_period``, the fields
    of :class:`~fmreview.analysis.growth.SegmentedFit`, ``p_bh`` (BH within axis on the
    joint p-value), ``dropped_undated`` and ``small``.
    """
    s = frame.settings
    freq = segmented_freq(frame)
    rows = []
    for axis, value, ids in _series_ids(frame):
        ser = segment_series(frame, ids, event, freq)
        fit: SegmentedFit = fit_segmented(ser.counts, ser.post, alpha=s.alpha, min_total=s.min_cell)
        rows.append(
            {
                "axis": axis,
                "value": value,
                "event": event.name,
                "event_date": event.date.isoformat(),
                "freq": freq,
                "first_period": ser.keys[0] if ser.keys else None,
                "last_period": ser.keys[-1] if ser.keys else None,
                **fit.to_dict(),
                "dropped_undated": ser.dropped_undated,
                "small": (fit.total_pre + fit.total_post) < s.min_cell,
            }
        )
    return _add_bh(pd.DataFrame(rows), "joint_p_value", "p_bh")


_CA_COLUMNS = ("ca_z", "ca_p_value", "ca_slope", "share_first", "share_last")


def trend_table(frame: AnalysisFrame) -> pd.DataFrame:
    """Mann–Kendall (counts) and Cochran–Armitage (share of labelled works) per axis value.

    Columns: ``axis, value, years, mk_s, mk_var_s, mk_z, mk_p_value, mk_tau, sen_slope,
    sen_ci_low, sen_ci_high, mk_trend, mk_p_bh, ca_z, ca_p_value, ca_slope, share_first,
    share_last, ca_p_bh, small``. The share's denominator is the works of the year with any
    value on the axis (all works for the ``all`` row, which has no share test).
    """
    s = frame.settings
    years = frame.fit_years
    rows = []
    for axis, value, ids in _series_ids(frame):
        y = frame.yearly(ids, years)
        mk = mann_kendall(y, years, alpha=s.alpha)
        row = {
            "axis": axis,
            "value": value,
            "years": f"{years[0]}-{years[-1]}" if years else None,
            "mk_s": mk.s,
            "mk_var_s": mk.var_s,
            "mk_z": mk.z,
            "mk_p_value": mk.p_value if mk.n >= 3 else None,
            "mk_tau": mk.tau,
            "sen_slope": mk.sen_slope,
            "sen_ci_low": mk.sen_ci_low,
            "sen_ci_high": mk.sen_ci_high,
            "mk_trend": mk.trend,
        }
        row.update(dict.fromkeys(_CA_COLUMNS))  # the all-works row has no share test
        if ids is not None:
            ca = cochran_armitage(y, frame.yearly(frame.work_ids(axis), years), years)
            row.update(
                zip(_CA_COLUMNS, (ca.z, ca.p_value, ca.slope, ca.p_first, ca.p_last), strict=True)
            )
        row["small"] = float(y.sum()) < s.min_cell
        rows.append(row)
    df = pd.DataFrame(rows)
    df = _add_bh(df, "mk_p_value", "mk_p_bh")
    return _add_bh(df, "ca_p_value", "ca_p_bh")


# ------------------------------------------------------------------ axis x period
def period_labels(splits: tuple[dt.date, ...]) -> list[str]:
    """Names of the periods cut by ``splits``: ``before D1``, ``D1 to D2``, ``from Dk``."""
    if not splits:
        return []
    names = [f"before {splits[0].isoformat()}"]
    for a, b in zip(splits[:-1], splits[1:], strict=True):
        names.append(f"{a.isoformat()} to {b.isoformat()}")
    names.append(f"from {splits[-1].isoformat()}")
    return names


def assign_periods(frame: AnalysisFrame) -> pd.DataFrame:
    """``work_id, period`` for dated works in the fit years; a work whose date is too coarse
    to fall on one side of a split (e.g. year 2023 for a split on 2023-04-05) gets None."""
    splits = frame.settings.split_dates
    names = period_labels(splits)
    d = frame.dated[frame.dated["year"].isin(frame.fit_years)]
    bounds = frame.bounds
    out = []
    for wid in d["work_id"]:
        lo, hi = bounds[int(wid)]
        i_lo = sum(1 for sp in splits if sp <= lo)
        i_hi = sum(1 for sp in splits if sp <= hi)
        out.append({"work_id": int(wid), "period": names[i_lo] if i_lo == i_hi else None})
    return pd.DataFrame(out, columns=["work_id", "period"])


_PERIOD_TEST_COLUMNS = [
    "axis",
    "value",
    "test",
    "statistic",
    "dof",
    "p_value",
    "p_bh",
    "odds_ratio",
    "min_expected",
    "n",
]
_PERIOD_CELL_COLUMNS = [
    "axis",
    "value",
    "period",
    "n_works",
    "period_labelled",
    "share",
    "expected",
    "adj_residual",
    "small",
]


def period_tests(frame: AnalysisFrame) -> tuple[pd.DataFrame, pd.DataFrame, str | None]:
    """Axis x period tests.

    For each axis value, the works labelled on the axis form a 2 x k table (carries the
    value or not) x period, tested with :func:`contingency_test` (chi-square, or Fisher when
    an expected count is below 5), BH-adjusted within axis. For axes where every work has at
    most one value, an omnibus value x period test is added (``value`` = ``*``).

    Returns
    -------
    tests : DataFrame
        ``axis, value, test, statistic, dof, p_value, p_bh, odds_ratio, min_expected, n``.
    cells : DataFrame
        ``axis, value, period, n_works, period_labelled, share, expected, adj_residual, small``.
    note : str or None
        Why nothing was tested, or how many works could not be placed in a period.
    """
    names = period_labels(frame.settings.split_dates)
    if not names:
        return (
            pd.DataFrame(columns=_PERIOD_TEST_COLUMNS),
            pd.DataFrame(columns=_PERIOD_CELL_COLUMNS),
            "no events and no period_split: axis x period tests skipped",
        )
    wp = assign_periods(frame)
    unassigned = int(wp["period"].isna().sum())
    wp = wp[wp["period"].notna()]
    period_of = dict(zip(wp["work_id"], wp["period"], strict=True))
    tests: list[dict[str, object]] = []
    cells: list[dict[str, object]] = []
    for axis in frame.axes:
        _axis_period_tests(frame, axis, names, period_of, tests, cells)
    t = pd.DataFrame(tests, columns=[c for c in _PERIOD_TEST_COLUMNS if c != "p_bh"])
    t = _add_bh(t, "p_value", "p_bh", adjust=t["value"] != "*")
    note = (
        f"{unassigned} {'work' if unassigned == 1 else 'works'} dated too coarsely to place "
        f"before/after a split {'is' if unassigned == 1 else 'are'} left out"
        if unassigned
        else None
    )
    return t[_PERIOD_TEST_COLUMNS], pd.DataFrame(cells, columns=_PERIOD_CELL_COLUMNS), note


def _axis_period_tests(
    frame: AnalysisFrame,
    axis: str,
    names: list[str],
    period_of: dict[int, str],
    tests: list[dict[str, object]],
    cells: list[dict[str, object]],
) -> None:
    """Append one axis's value x period tests and cells (see :func:`period_tests`)."""
    s = frame.settings
    labelled = [w for w in frame.work_ids(axis) if w in period_of]
    col_tot = np.array([sum(1 for w in labelled if period_of[w] == p) for p in names], dtype=float)
    n = int(col_tot.sum())
    values = frame.values(axis)
    rows_omni = []
    for value in values:
        ids = frame.work_ids(axis, value)
        has = np.array([sum(1 for w in ids if period_of.get(w) == p) for p in names], dtype=float)
        rows_omni.append(has)
        res = contingency_test(np.vstack([has, col_tot - has]), random_state=s.random_state)
        tests.append(_period_test_row(axis, value, res, n, res.odds_ratio))
        for j, p in enumerate(names):
            cells.append(
                {
                    "axis": axis,
                    "value": value,
                    "period": p,
                    "n_works": int(has[j]),
                    "period_labelled": int(col_tot[j]),
                    "share": float(has[j] / col_tot[j]) if col_tot[j] else None,
                    "expected": float(res.expected[0, j]),
                    "adj_residual": float(res.adjusted_residuals[0, j]),
                    "small": has[j] < s.min_cell,
                }
            )
    if values and not frame.is_multivalued(axis) and len(values) > 1:
        res = contingency_test(np.vstack(rows_omni), random_state=s.random_state)
        tests.append(_period_test_row(axis, "*", res, n, None))


def _period_test_row(
    axis: str, value: str, res: ContingencyTest, n: int, odds_ratio: float | None
) -> dict[str, object]:
    return {
        "axis": axis,
        "value": value,
        "test": res.test,
        "statistic": res.statistic,
        "dof": res.dof,
        "p_value": res.p_value,
        "odds_ratio": odds_ratio,
        "min_expected": res.min_expected,
        "n": n,
    }


__all__ = [
    "MODEL_RULE",
    "assign_periods",
    "growth_table",
    "period_labels",
    "period_tests",
    "segment_series",
    "segmented_freq",
    "segmented_table",
    "trend_table",
]
