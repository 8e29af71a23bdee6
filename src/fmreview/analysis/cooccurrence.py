"""Co-occurrence matrices of two axes (e.g. modality x task), as tidy cells.

A cell counts the works carrying both values. ``row_share`` divides by the works that carry
the row value and any value of the column axis; ``col_share`` the other way round. On
multi-valued axes a work can sit in several cells, so shares along a row may add up to
more than 1 (they are per-work shares, not a partition).
"""

from __future__ import annotations

import pandas as pd

from .frame import AnalysisFrame

COLUMNS = [
    "row_axis",
    "row_value",
    "col_axis",
    "col_value",
    "n_works",
    "row_share",
    "col_share",
    "small",
]


def cooccurrence(frame: AnalysisFrame, row_axis: str, col_axis: str) -> pd.DataFrame:
    """Every (row value, column value) cell of ``row_axis`` x ``col_axis``, zeros included."""
    frame.check_axis(row_axis)
    frame.check_axis(col_axis)
    lab = frame.labels
    rows = lab[lab["axis"] == row_axis][["work_id", "value"]]
    cols = lab[lab["axis"] == col_axis][["work_id", "value"]]
    both = set(rows["work_id"]) & set(cols["work_id"])
    rows = rows[rows["work_id"].isin(both)]
    cols = cols[cols["work_id"].isin(both)]
    pairs = rows.merge(cols, on="work_id", suffixes=("_r", "_c"))
    cell = pairs.groupby(["value_r", "value_c"])["work_id"].nunique()
    row_n = rows.groupby("value")["work_id"].nunique()
    col_n = cols.groupby("value")["work_id"].nunique()
    out = []
    for r in frame.values(row_axis):
        for c in frame.values(col_axis):
            n = int(cell.get((r, c), 0))
            rn, cn = int(row_n.get(r, 0)), int(col_n.get(c, 0))
            out.append(
                {
                    "row_axis": row_axis,
                    "row_value": r,
                    "col_axis": col_axis,
                    "col_value": c,
                    "n_works": n,
                    "row_share": n / rn if rn else None,
                    "col_share": n / cn if cn else None,
                    "small": n < frame.settings.min_cell,
                }
            )
    return pd.DataFrame(out, columns=COLUMNS)


def cooccurrence_tables(frame: AnalysisFrame) -> tuple[pd.DataFrame, list[str]]:
    """All pairs named in the settings (pairs with a missing axis are skipped, noted)."""
    parts, notes = [], []
    for a, b in frame.settings.cooccurrence:
        missing = [x for x in (a, b) if x not in frame.axes]
        if missing:
            notes.append(f"co-occurrence {a} x {b} skipped: no labels on {', '.join(missing)}")
            continue
        parts.append(cooccurrence(frame, a, b))
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    return table, notes


def matrix(
    cells: pd.DataFrame, row_axis: str, col_axis: str, value: str = "n_works"
) -> pd.DataFrame:
    """One pair's cells pivoted to a row value x column value matrix."""
    sub = cells[(cells["row_axis"] == row_axis) & (cells["col_axis"] == col_axis)]
    return sub.pivot(index="row_value", columns="col_value", values=value)
