"""Publication-quality figures (matplotlib, object API, Agg): trends per axis value,
dataset utilization and co-occurrence heatmaps, each written as SVG, PNG and PDF.

Colours come from the colour-blind-safe Okabe–Ito palette; every figure has a title and
labelled axes, and the report gives each an alt text from :func:`alt_text`.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
MAX_SERIES = 8

_RC: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "svg.fonttype": "none",  # keep text as text in the SVG files
    "svg.hashsalt": "fmreview",  # deterministic ids
}


F = TypeVar("F", bound=Callable[..., Any])


def _styled(fn: F) -> F:
    """Run ``fn`` with the report's matplotlib style, without touching the global rcParams."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _figure(w: float = 6.4, h: float = 3.6) -> Figure:
    return Figure(figsize=(w, h), dpi=100, layout="constrained")


@_styled
def save_figure(fig: Figure, folder: Path, stem: str) -> dict[str, Path]:
    """Write ``stem.svg``, ``stem.png`` (200 dpi) and ``stem.pdf``; returns the paths.

    The constrained layout is computed once and then frozen, so the three files (and the
    report's inline PNG) share one layout and it is not recomputed for each.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fig.draw_without_rendering()
    fig.set_layout_engine("none")
    paths = {ext: folder / f"{stem}.{ext}" for ext in ("svg", "png", "pdf")}
    fig.savefig(paths["svg"], metadata={"Date": None})
    fig.savefig(paths["png"], dpi=200)
    fig.savefig(paths["pdf"], metadata={"CreationDate": None})
    return paths


def figure_entry(
    fig: Figure,
    folder: Path,
    stem: str,
    alt: str,
    caption: str,
    *,
    coverage: dict[str, Any] | None = None,
    rel: str = "figures",
) -> dict[str, Any]:
    """Save ``fig`` (:func:`save_figure`) and describe it for the page: the PNG's ``src``
    relative to the page (``rel`` is ``folder`` seen from it), ``alt``, ``caption``, every
    file, and the label ``coverage`` of the data drawn when given."""
    paths = save_figure(fig, folder, stem)
    entry: dict[str, Any] = {
        # the PNG next to the page, not a second rendering as a data: URI (faster, a smaller
        # page, and an img-src 'self' policy is enough)
        "src": f"{rel}/{paths['png'].name}",
        "alt": alt,
        "caption": caption,
        "files": {k: f"{rel}/{p.name}" for k, p in paths.items()},
        "paths": paths,
    }
    if coverage is not None:
        entry["coverage"] = coverage
    return entry


@_styled
def png_data_uri(fig: Figure, dpi: int = 110) -> str:
    """The figure as a base64 PNG ``data:`` URI (for the self-contained HTML)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _nice(s: str) -> str:
    return s.replace("_", " ")


# ----------------------------------------------------------------------------- trends
@_styled
def trend_figure(
    counts: pd.DataFrame,
    axis: str,
    *,
    partial_years: list[int] | None = None,
    low_coverage_years: list[int] | None = None,
) -> Figure | None:
    """Works per year for the most frequent values of ``axis``.

    ``counts`` is the analysis' ``counts_year`` table (``axis, value, period, n_works``).
    Years the data cannot speak for are drawn dashed with open markers over a shaded band:
    ``partial_years`` (the year of the data and later) and ``low_coverage_years`` (fewer of
    the sources than the protocol's coverage rule asks for still contribute, e.g. curated
    lists that stop in 2024), so a fall there is not read as a collapse of the field.
    """
    if counts is None or not len(counts) or "axis" not in counts.columns:
        return None
    sub = counts[counts["axis"] == axis].copy()
    if not len(sub):
        return None
    sub["year"] = pd.to_numeric(sub["period"], errors="coerce")
    sub = sub.dropna(subset=["year"])
    if not len(sub):
        return None
    totals = sub.groupby("value")["n_works"].sum()
    values = sorted(totals.index, key=lambda v: (-int(totals[v]), str(v)))[:MAX_SERIES]
    years = sorted(sub["year"].astype(int).unique())
    partial = set(partial_years or []) & set(years)
    low = (set(low_coverage_years or []) & set(years)) - partial
    weak = partial | low
    fig = _figure()
    ax = fig.add_subplot()
    for i, v in enumerate(values):
        s = sub[sub["value"] == v].set_index(sub[sub["value"] == v]["year"].astype(int))["n_works"]
        y = [int(s.get(yr, 0)) for yr in years]
        full = [(yr, n) for yr, n in zip(years, y, strict=True) if yr not in weak]
        color = OKABE_ITO[i % len(OKABE_ITO)]
        ax.plot(
            [a for a, _ in full],
            [b for _, b in full],
            marker="o",
            ms=3,
            lw=1.6,
            color=color,
            label=_nice(str(v)),
        )
        part = [(yr, n) for yr, n in zip(years, y, strict=True) if yr in weak]
        if part:
            last_full = [p for p in full if p[0] < part[0][0]][-1:]
            xs = [a for a, _ in last_full + part]
            ys = [b for _, b in last_full + part]
            ax.plot(
                xs,
                ys,
                ls="--",
                lw=1.2,
                color=color,
                marker="o",
                ms=3,
                mfc="white",
                markevery=list(range(len(last_full), len(xs))),  # the last solid point stays solid
            )
    ax.set_ylim(0, max(1, int(sub["n_works"].max())) * 1.12)
    top = ax.get_ylim()[1]
    for group, text, hatch in (
        (sorted(low), "sources incomplete", "//"),
        (sorted(partial), "partial year", ""),
    ):
        if not group:
            continue
        lo, hi = min(group) - 0.5, max(group) + 0.5
        ax.axvspan(lo, hi, facecolor="#e4e4e4", edgecolor="#9a9a9a", hatch=hatch, alpha=0.6, lw=0)
        # written up the band, so two one-year bands side by side do not overprint
        ax.text(
            (lo + hi) / 2,
            top * 0.97,
            text,
            rotation=90,
            ha="center",
            va="top",
            fontsize=7,
            color="#333333",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("Publication year")
    ax.set_ylabel("Included studies")
    ax.set_title(f"Included studies per year by {_nice(axis)}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", frameon=False, ncols=2 if len(values) > 4 else 1)
    return fig


# ----------------------------------------------------------------------------- datasets
@_styled
def dataset_figure(usage: pd.DataFrame, *, top: int = 20) -> Figure | None:
    """Horizontal bars: included works per dataset (the ``top`` most used)."""
    if usage is None or not len(usage) or "dataset" not in usage.columns:
        return None
    sub = usage.sort_values("n_works", ascending=False).head(top).iloc[::-1]
    fig = _figure(6.4, max(2.4, 0.22 * len(sub) + 0.9))
    ax = fig.add_subplot()
    colors = [
        OKABE_ITO[0] if bool(p) else OKABE_ITO[1] for p in sub.get("public", [True] * len(sub))
    ]
    ax.barh([str(d) for d in sub["dataset"]], sub["n_works"], color=colors)
    for yi, n in enumerate(sub["n_works"]):
        ax.text(n, yi, f" {int(n)}", va="center", fontsize=7)
    ax.set_xlabel("Included studies using the dataset")
    ax.set_title(f"Dataset utilization (top {len(sub)})")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


# ----------------------------------------------------------------------------- co-occurrence
def cooccurrence_pairs(cells: pd.DataFrame) -> list[tuple[str, str]]:
    if cells is None or not len(cells) or "row_axis" not in cells.columns:
        return []
    return list(dict.fromkeys(zip(cells["row_axis"], cells["col_axis"], strict=True)))


@_styled
def cooccurrence_figure(cells: pd.DataFrame, row_axis: str, col_axis: str) -> Figure | None:
    """Heatmap of works per (row value, column value), counts written in the cells."""
    sub = cells[(cells["row_axis"] == row_axis) & (cells["col_axis"] == col_axis)]
    if not len(sub):
        return None
    m = sub.pivot_table(
        index="row_value", columns="col_value", values="n_works", aggfunc="sum", fill_value=0
    )
    m = m.loc[
        m.sum(axis=1).sort_values(ascending=False).index,
        m.sum(axis=0).sort_values(ascending=False).index,
    ]
    m = m.iloc[:20, :20]
    h = max(2.6, 0.3 * m.shape[0] + 1.6)
    w = max(4.0, 0.42 * m.shape[1] + 2.8)
    fig = _figure(min(w, 10), min(h, 9))
    ax = fig.add_subplot()
    data = m.to_numpy(dtype=float)
    im = ax.imshow(data, cmap="Blues", aspect="auto")
    ax.set_xticks(range(m.shape[1]), [_nice(str(c)) for c in m.columns], rotation=45, ha="right")
    ax.set_yticks(range(m.shape[0]), [_nice(str(r)) for r in m.index])
    vmax = data.max() if data.size else 0
    for (i, j), v in np.ndenumerate(data):
        if v:
            ax.text(
                j,
                i,
                f"{int(v)}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if v > 0.6 * vmax else "#111111",
            )
    ax.set_xlabel(_nice(col_axis))
    ax.set_ylabel(_nice(row_axis))
    ax.set_title(f"{_nice(row_axis)} × {_nice(col_axis)} (studies)")
    fig.colorbar(im, ax=ax, shrink=0.8, label="studies")
    return fig


def alt_text(kind: str, **info: Any) -> str:
    """A sentence describing a figure for screen readers."""
    if kind == "trend":
        return (
            f"Line chart of included works per year by {_nice(info['axis'])}; the most frequent values are "
            f"{', '.join(map(_nice, info.get('values', [])[:5]))}."
        )
    if kind == "datasets":
        return f"Bar chart of included works per dataset; most used: {', '.join(info.get('top', [])[:5])}."
    if kind == "cooccurrence":
        return (
            f"Heatmap of works per combination of {_nice(info['row_axis'])} and {_nice(info['col_axis'])}; "
            "darker cells hold more works."
        )
    return str(info.get("text", kind))
