"""Counts and shares of works per period for every axis value.

Multi-valued axes are counted two ways:

* **per work** — ``n_works`` is the number of distinct works carrying the value in the
  period; ``share_of_works`` divides by all works of the period and ``share_of_labelled``
  by the works with any value on the axis. On multi-valued axes these shares can add up to
  more than 1 (a work that is both CT and MRI counts for both).
* **per label** — ``n_fractional`` gives each work a weight of 1/k split over its k values
  on the axis, so per period the fractional counts add up to the labelled works and
  ``share_of_labels`` (= n_fractional / labelled works) adds up to 1.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .frame import AnalysisFrame, period_keys

_PERIOD_COLUMN = {"year": "year", "quarter": "quarter", "month": "month_key"}


def _periods(frame: AnalysisFrame, freq: str) -> list[str | int]:
    if freq == "year":
        return list(frame.all_years)
    col = _PERIOD_COLUMN[freq]
    d = frame.works[frame.works[col].notna()]
    if d.empty:
        return []
    first = d.sort_values(["year", "month"]).iloc[0]
    last = d.sort_values(["year", "month"]).iloc[-1]
    return list(
        period_keys(
            dt.date(int(first["year"]), int(first["month"]), 1),
            dt.date(int(last["year"]), int(last["month"]), 1),
            freq,
        )
    )


def _work_periods(frame: AnalysisFrame, freq: str) -> pd.DataFrame:
    col = _PERIOD_COLUMN[freq]
    d = frame.works.loc[frame.works[col].notna(), ["work_id", col]].rename(columns={col: "period"})
    if freq == "year":
        d["period"] = d["period"].astype(int)
    return d


def totals(frame: AnalysisFrame, freq: str = "year") -> pd.DataFrame:
    """Included works per period: ``period, n_works, partial, small``."""
    periods = _periods(frame, freq)
    wp = _work_periods(frame, freq)
    counts = wp["period"].value_counts()
    rows = [
        {
            "period": p,
            "n_works": int(counts.get(p, 0)),
            "partial": frame.is_partial_period(p, freq),
            "small": int(counts.get(p, 0)) < frame.settings.min_cell,
        }
        for p in periods
    ]
    return pd.DataFrame(rows, columns=["period", "n_works", "partial", "small"])


def counts(frame: AnalysisFrame, freq: str = "year", axes: list[str] | None = None) -> pd.DataFrame:
    """Per-period counts and shares for every value of every axis (zeros included).

    Returns
    -------
    DataFrame
        ``axis, value, period, n_works, n_fractional, share_of_works, share_of_labelled,
        share_of_labels, period_works, period_labelled, small, partial`` — one row per axis,
        value and period, sorted in that order. Shares are None when their denominator is 0.
    """
    periods = _periods(frame, freq)
    wp = _work_periods(frame, freq)
    per_total = wp["period"].value_counts()
    lab = frame.labels
    if axes is not None:
        lab = lab[lab["axis"].isin(axes)]
    columns = [
        "axis",
        "value",
        "period",
        "n_works",
        "n_fractional",
        "share_of_works",
        "share_of_labelled",
        "share_of_labels",
        "period_works",
        "period_labelled",
        "small",
        "partial",
    ]
    if lab.empty or not periods:
        return pd.DataFrame(columns=columns)
    k = lab.groupby(["axis", "work_id"])["value"].transform("size")
    lab = lab.assign(weight=1.0 / k).merge(wp, on="work_id", how="inner")
    cell = (
        lab.groupby(["axis", "value", "period"])
        .agg(n_works=("work_id", "nunique"), n_fractional=("weight", "sum"))
        .reset_index()
    )
    labelled = lab.groupby(["axis", "period"])["work_id"].nunique()
    grid = pd.MultiIndex.from_tuples(
        [
            (a, v, p)
            for (a, v) in lab[["axis", "value"]].drop_duplicates().itertuples(index=False)
            for p in periods
        ],
        names=["axis", "value", "period"],
    ).to_frame(index=False)
    out = grid.merge(cell, on=["axis", "value", "period"], how="left")
    out["n_works"] = out["n_works"].fillna(0).astype(int)
    out["n_fractional"] = out["n_fractional"].fillna(0.0).astype(float)
    out["period_works"] = [int(per_total.get(p, 0)) for p in out["period"]]
    out = out.merge(
        labelled.rename("period_labelled").reset_index(), on=["axis", "period"], how="left"
    )
    out["period_labelled"] = out["period_labelled"].fillna(0).astype(int)

    def _share(num: pd.Series, den: pd.Series) -> list[float | None]:
        return [float(n) / d if d else None for n, d in zip(num, den, strict=True)]

    out["share_of_works"] = _share(out["n_works"], out["period_works"])
    out["share_of_labelled"] = _share(out["n_works"], out["period_labelled"])
    out["share_of_labels"] = _share(out["n_fractional"], out["period_labelled"])
    out["small"] = out["n_works"] < frame.settings.min_cell
    out["partial"] = [frame.is_partial_period(p, freq) for p in out["period"]]
    out = out.sort_values(["axis", "value", "period"], kind="stable").reset_index(drop=True)
    return out[columns]


def overall(frame: AnalysisFrame, axes: list[str] | None = None) -> pd.DataFrame:
    """All-years counts per axis value: ``axis, value, n_works, n_fractional,
    share_of_works, share_of_labelled, small`` (undated works included)."""
    lab = frame.labels
    if axes is not None:
        lab = lab[lab["axis"].isin(axes)]
    n_all = len(frame.works)
    columns = [
        "axis",
        "value",
        "n_works",
        "n_fractional",
        "share_of_works",
        "share_of_labelled",
        "small",
    ]
    if lab.empty:
        return pd.DataFrame(columns=columns)
    k = lab.groupby(["axis", "work_id"])["value"].transform("size")
    lab = lab.assign(weight=1.0 / k)
    out = (
        lab.groupby(["axis", "value"])
        .agg(n_works=("work_id", "nunique"), n_fractional=("weight", "sum"))
        .reset_index()
    )
    labelled = lab.groupby("axis")["work_id"].nunique()
    out["share_of_works"] = out["n_works"] / n_all if n_all else None
    out["share_of_labelled"] = [
        n / labelled[a] for n, a in zip(out["n_works"], out["axis"], strict=True)
    ]
    out["small"] = out["n_works"] < frame.settings.min_cell
    out = out.sort_values(["axis", "n_works", "value"], ascending=[True, False, True])
    return out.reset_index(drop=True)[columns]


def coverage(frame: AnalysisFrame) -> pd.DataFrame:
    """How many works carry any value per axis: ``axis, n_labelled, n_unlabelled,
    share_labelled, multivalued, n_values``."""
    n_all = len(frame.works)
    rows = []
    for axis in frame.axes:
        n_lab = len(frame.work_ids(axis))
        rows.append(
            {
                "axis": axis,
                "n_labelled": n_lab,
                "n_unlabelled": n_all - n_lab,
                "share_labelled": n_lab / n_all if n_all else None,
                "multivalued": frame.is_multivalued(axis),
                "n_values": len(frame.values(axis)),
            }
        )
    return pd.DataFrame(
        rows,
        columns=["axis", "n_labelled", "n_unlabelled", "share_labelled", "multivalued", "n_values"],
    )
