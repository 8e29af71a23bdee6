"""Sensitivity of every finding to the source mix: leave-one-source-out refits.

A review built from curated lists (or from a few databases) can find what one list put in:
if one list supplies 323 of 747 works, "segmentation surges after SAM" may be that list's
focus rather than the field's. For each source (a curated list, or for a searched review a
database / imported file) the works that *only* that source contributed are left out and
every finding is tested again on the rest, with the same settings (years, events, alpha).
A work that another source also found stays: it would have been found without that
source. A finding *flips* when its verdict (supported / not supported) changes, or it
becomes not testable, in any refit.

Each row of :func:`leave_one_source_out` is one (left-out source, finding) pair; the
``(all sources)`` rows repeat the verdicts on every work for comparison.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from .findings import Finding, findings
from .frame import prepare
from .settings import AnalysisSettings, coerce_settings

ALL = "(all sources)"
COLUMNS = [
    "left_out",
    "n_works_left_out",
    "n_works",
    "id",
    "statement",
    "status",
    "estimate_name",
    "estimate",
    "p_value",
    "baseline_status",
    "flipped",
]


def _verdicts(
    works: pd.DataFrame, labels: pd.DataFrame, settings: AnalysisSettings
) -> list[Finding]:
    return findings(prepare(works, labels, settings))


def leave_one_source_out(
    works: pd.DataFrame,
    labels: pd.DataFrame,
    settings: AnalysisSettings | Mapping[str, Any] | Any,
    sources: Mapping[int, Iterable[str]],
    *,
    min_left_out: int = 1,
) -> pd.DataFrame:
    """Refit every finding without each source's own works (see the module docstring).

    Parameters
    ----------
    works, labels : DataFrame
        The analysis inputs (:mod:`fmreview.analysis.frame`).
    settings
        The analysis settings, unchanged across refits.
    sources : mapping
        Work id to the sources it came from (curated list names, or databases/files).
        Works absent from the mapping are never left out.
    min_left_out : int
        Skip a source that contributes fewer works of its own (nothing to learn).

    Returns
    -------
    DataFrame
        :data:`COLUMNS`; empty when fewer than two sources are known.
    """
    s = coerce_settings(settings)
    src = {int(w): set(v) for w, v in sources.items()}
    names = sorted(set().union(*src.values())) if src else []
    if len(names) < 2 or not len(works):
        return pd.DataFrame(columns=COLUMNS)
    base = _verdicts(works, labels, s)
    base_status = {f.id: f.status for f in base}
    rows = [_row(f, ALL, 0, len(works), f.status) for f in base]
    ids = pd.to_numeric(works["work_id"]).astype(int)
    for name in names:
        only = {w for w, v in src.items() if v == {name}}
        drop = ids.isin(only)
        if int(drop.sum()) < min_left_out:
            continue
        kept = works[~drop.to_numpy()]
        kept_labels = labels[labels["work_id"].isin(set(ids[~drop]))]
        for f in _verdicts(kept, kept_labels, s):
            rows.append(_row(f, name, int(drop.sum()), len(kept), base_status.get(f.id)))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(
    f: Finding, left_out: str, n_left_out: int, n_works: int, baseline: str | None
) -> dict[str, Any]:
    """One finding's verdict with ``left_out``'s own works removed (:data:`COLUMNS`)."""
    return {
        "left_out": left_out,
        "n_works_left_out": n_left_out,
        "n_works": n_works,
        "id": f.id,
        "statement": f.statement,
        "status": f.status,
        "estimate_name": f.estimate_name,
        "estimate": f.estimate,
        "p_value": f.p_value,
        "baseline_status": baseline,
        "flipped": baseline is not None and f.status != baseline,
    }


def flips(table: pd.DataFrame) -> dict[str, list[str]]:
    """Finding id -> the sources whose removal flips its verdict (empty list: robust)."""
    out: dict[str, list[str]] = {}
    if table is None or not len(table):
        return out
    for fid, grp in table.groupby("id", sort=False):
        out[str(fid)] = sorted(
            str(s) for s in grp.loc[grp["flipped"].astype(bool), "left_out"] if s != ALL
        )
    return out
