"""The report's tables: taxonomy counts, trend statistics and dataset use, as DataFrames
written to CSV, XLSX (openpyxl) and LaTeX (pandas ``to_latex``, which needs jinja2)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

#: Columns of the analysis' growth/trend tables shown in the report (the files keep every column).
TREND_COLUMNS = (
    "axis",
    "value",
    "total",
    "model",
    "rate_ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "p_bh",
    "small",
)
MK_COLUMNS = (
    "axis",
    "value",
    "mk_tau",
    "mk_p_value",
    "mk_p_bh",
    "sen_slope",
    "ca_z",
    "ca_p_value",
    "ca_p_bh",
    "share_first",
    "share_last",
    "small",
)
FINDING_COLUMNS = (
    "statement",
    "status",
    "test",
    "estimate_name",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "reason",
)


def taxonomy_table(
    labels: dict[int, dict[str, list[str]]], included: Iterable[int], axes: list[str]
) -> pd.DataFrame:
    """Included works per axis value: ``axis, value, n_works, share`` (share of included works).

    On a multi-valued axis a work counts once for each of its values, so shares of one axis
    may add up to more than 1. Axes come in protocol order, values by decreasing count.
    """
    inc = list(included)
    n = len(inc)
    rows: list[dict[str, Any]] = []
    extra_axes = sorted({a for w in inc for a in labels.get(w, {}) if a not in axes})
    for axis in list(axes) + extra_axes:
        counts: dict[str, int] = {}
        unlabelled = 0
        for w in inc:
            vals = labels.get(w, {}).get(axis, [])
            if not vals:
                unlabelled += 1
            for v in vals:
                counts[v] = counts.get(v, 0) + 1
        for v, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            rows.append({"axis": axis, "value": v, "n_works": k, "share": k / n if n else None})
        if counts and unlabelled:
            rows.append(
                {
                    "axis": axis,
                    "value": "(not labelled)",
                    "n_works": unlabelled,
                    "share": unlabelled / n if n else None,
                }
            )
    return pd.DataFrame(rows, columns=["axis", "value", "n_works", "share"])


def analysis_table(
    analysis: dict[str, Any] | None, name: str, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """One table of the stored analysis as a DataFrame (empty when absent), optionally narrowed."""
    if not analysis:
        return pd.DataFrame()
    rows = (analysis.get("tables") or {}).get(name) or []
    if name == "findings" and not rows:
        rows = analysis.get("findings") or []
    df = pd.DataFrame(rows)
    if columns is not None and len(df):
        keep = [c for c in columns if c in df.columns]
        df = df[keep]
    return df


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """Lists and mappings in cells as JSON text (Excel and LaTeX cannot hold them)."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(
                lambda v: (
                    json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict | tuple) else v
                )
            )
    return out


def _latex_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object:
            out[c] = out[c].map(lambda v: "" if v is None else str(v))
    return out


def write_table(df: pd.DataFrame, folder: Path, stem: str, *, caption: str = "") -> dict[str, Path]:
    """Write ``stem.csv``, ``stem.xlsx`` and ``stem.tex`` into ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    df = _flat(df)
    paths = {
        "csv": folder / f"{stem}.csv",
        "xlsx": folder / f"{stem}.xlsx",
        "tex": folder / f"{stem}.tex",
    }
    df.to_csv(paths["csv"], index=False)
    with pd.ExcelWriter(paths["xlsx"], engine="openpyxl") as xw:
        df.to_excel(xw, index=False, sheet_name=stem[:31] or "table")
    tex = _latex_safe(df).to_latex(
        index=False,
        escape=True,
        caption=caption or None,
        label=f"tab:{stem}",
        float_format="%.3g",
        longtable=len(df) > 40,
    )
    paths["tex"].write_text(tex, encoding="utf-8")
    return paths


def pct(share: float | None) -> str:
    """A share as a whole percentage; '<1%' rather than a misleading '0%'."""
    if share is None or share != share:
        return "–"
    if 0 < share < 0.01:
        return "<1%"
    return f"{share:.0%}"


def fmt_cell(v: Any) -> str:
    """A table cell for HTML: numbers to three significant digits, None as an en dash."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:  # NaN
            return "–"
        if v == 0:
            return "0"
        if abs(v) < 1e-3 or abs(v) >= 1e5:
            return f"{v:.2e}"
        return f"{v:.3g}"
    return str(v)


def is_share_column(name: str) -> bool:
    """Columns holding a share of 0–1, shown as percentages (``share``, ``share_first``, ...)."""
    n = str(name).lower()
    return n == "share" or n.startswith("share_") or n.endswith("_share") or "_share_" in n


def fmt_share(v: Any) -> str:
    """A share cell as a percentage, the same way as every share on the page (:func:`pct`)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return fmt_cell(v)
    return pct(float(v))


def html_rows(df: pd.DataFrame, limit: int | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows for a template (escaping is the template's job).

    Share columns (:func:`is_share_column`) are written as percentages, so a table never
    shows 0.00803 next to a figure in %.
    """
    if df is None or not len(df):
        return [], []
    sub = df if limit is None else df.head(limit)
    cols = [str(c) for c in sub.columns]
    fmts = [fmt_share if is_share_column(c) else fmt_cell for c in cols]
    return cols, [
        [f(v) for f, v in zip(fmts, row, strict=True)] for row in sub.itertuples(index=False)
    ]
