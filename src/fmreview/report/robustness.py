"""Two report sections read from the stored analysis: how each finding depends on the
source mix (leave-one-source-out refits, :mod:`fmreview.analysis.sensitivity`) and the
challenge → solution map (:mod:`fmreview.analysis.challenges`) with the works behind
every cell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fmreview.report import figures as figs
from fmreview.report import tables as tabs
from fmreview.report.html import plural

#: Cells listed per map on the page (every cell is in tables/challenge_map.csv).
MAP_CELLS = 12
#: Works listed per cell on the page.
CELL_WORKS = 25
ALL = "(all sources)"


def sensitivity(analysis: dict[str, Any] | None) -> dict[str, Any]:
    """Per finding: its verdict on all works, the refits, and the sources that flip it.

    Returns ``{"computed": bool, "sources": [...], "by_id": {id: {...}}, "rows": [...]}``;
    ``rows`` is the page table (one row per finding).
    """
    df = tabs.analysis_table(analysis, "sensitivity")
    out: dict[str, Any] = {"computed": bool(len(df)), "sources": [], "by_id": {}, "rows": []}
    if not len(df):
        return out
    refits = df[df["left_out"] != ALL]
    out["sources"] = sorted(set(refits["left_out"].astype(str)))
    for fid, grp in df.groupby("id", sort=False):
        base = grp[grp["left_out"] == ALL]
        rest = grp[grp["left_out"] != ALL]
        flipped = rest[rest["flipped"].astype(bool)]
        est = pd.to_numeric(rest["estimate"], errors="coerce").dropna()
        flip_text = [
            f"{r.left_out} ({plural(int(r.n_works_left_out), 'work')} left out: {r.status})"
            for r in flipped.itertuples()
        ]
        info: dict[str, Any] = {
            "statement": str(grp["statement"].iloc[0]),
            "status": str(base["status"].iloc[0]) if len(base) else "",
            "n_refits": len(rest),
            "flips": flip_text,
            "estimate_range": (
                f"{tabs.fmt_cell(float(est.min()))}–{tabs.fmt_cell(float(est.max()))}"
                if len(est)
                else "–"
            ),
        }
        out["by_id"][str(fid)] = info
        out["rows"].append(
            [
                info["statement"],
                info["status"],
                str(info["n_refits"]),
                info["estimate_range"],
                "; ".join(flip_text) if flip_text else "no flip (robust)",
            ]
        )
    return out


def challenge_map(
    analysis: dict[str, Any] | None,
    work_rows: dict[int, dict[str, Any]],
    fig_dir: Path,
    tab_dir: Path,
) -> list[dict[str, Any]]:
    """One block per map (themes × themes, × task, × modality): heatmap and top cells."""
    df = tabs.analysis_table(analysis, "challenge_map")
    if not len(df):
        return []
    flat = df.copy()
    flat["work_ids"] = flat["work_ids"].map(lambda ids: " ".join(str(i) for i in ids or []))
    tabs.write_table(flat, tab_dir, "challenge_map", caption="Challenge → solution map")
    blocks = []
    order = {"themes": 0, "task": 1, "modality": 2}
    for col_axis, grp in sorted(
        df.groupby("col_axis", sort=False), key=lambda kv: (order.get(str(kv[0]), 9), str(kv[0]))
    ):
        ca = str(col_axis)
        fig = figs.cooccurrence_figure(grp, "themes", ca)
        entry = None
        if fig is not None:
            entry = figs.figure_entry(
                fig,
                fig_dir,
                f"challenge_map_themes_{ca}",
                figs.alt_text("cooccurrence", row_axis="themes", col_axis=ca),
                f"Studies per combination of challenge (theme) and {ca.replace('_', ' ')}.",
            )
        cells = []
        for r in (
            grp.sort_values("n_works", ascending=False, kind="stable").head(MAP_CELLS).itertuples()
        ):
            ids = [int(i) for i in (r.work_ids or [])]
            works = [
                {
                    "id": i,
                    "title": work_rows[i]["title"] or "(untitled)",
                    "year": work_rows[i]["year"],
                }
                for i in ids[:CELL_WORKS]
                if i in work_rows
            ]
            cells.append(
                {
                    "row": str(r.row_value),
                    "col": str(r.col_value),
                    "n": int(r.n_works),
                    "works": works,
                    "more": max(0, len(ids) - len(works)),
                }
            )
        blocks.append(
            {
                "title": (
                    "Challenges met together (themes × themes)"
                    if ca == "themes"
                    else f"Challenges by {ca.replace('_', ' ')} (themes × {ca})"
                ),
                "col_axis": ca,
                "figure": entry,
                "cells": cells,
                "n_cells": len(grp),
            }
        )
    return blocks
