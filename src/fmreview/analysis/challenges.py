"""The challenge → solution map: which challenges (themes) meet which others, and in
which tasks and modalities, with the works behind every cell.

A pure function of the tidy labels table (``work_id, axis, value``). Each cell counts the
distinct works labelled with both values; ``work_ids`` lists them (sorted), so the report
and ``fmreview explain`` can show the works behind a number. Themes × themes keeps each
unordered pair once (``row_value < col_value``) and leaves out the diagonal.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

COLUMNS = ["row_axis", "row_value", "col_axis", "col_value", "n_works", "work_ids"]


def challenge_map(
    labels: pd.DataFrame,
    *,
    row_axis: str = "themes",
    col_axes: Sequence[str] = ("themes", "task", "modality"),
) -> pd.DataFrame:
    """Cells of ``row_axis`` × each of ``col_axes`` with at least one work, largest first."""
    if labels is None or not len(labels):
        return pd.DataFrame(columns=COLUMNS)
    lab = labels[["work_id", "axis", "value"]].drop_duplicates()
    rows = lab[lab["axis"] == row_axis][["work_id", "value"]]
    out = []
    for col_axis in col_axes:
        cols = lab[lab["axis"] == col_axis][["work_id", "value"]]
        m = rows.merge(cols, on="work_id", suffixes=("_r", "_c"))
        if col_axis == row_axis:
            m = m[m["value_r"] < m["value_c"]]
        for (rv, cv), grp in m.groupby(["value_r", "value_c"], sort=True):
            ids = sorted({int(i) for i in grp["work_id"]})
            out.append(
                {
                    "row_axis": row_axis,
                    "row_value": str(rv),
                    "col_axis": col_axis,
                    "col_value": str(cv),
                    "n_works": len(ids),
                    "work_ids": ids,
                }
            )
    df = pd.DataFrame(out, columns=COLUMNS)
    if len(df):
        df = df.sort_values(
            ["col_axis", "n_works", "row_value", "col_value"],
            ascending=[True, False, True, True],
            kind="stable",
        ).reset_index(drop=True)
    return df
