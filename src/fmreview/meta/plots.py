"""Forest and funnel plots of a :func:`meta_analyze` result (matplotlib, Agg; SVG or PNG).

The figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas, so no
global pyplot state or display is touched.  The output format follows the file
suffix (``.svg``, ``.png``, ``.pdf``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.transforms import blended_transform_factory

from fmreview.errors import InputError
from fmreview.meta.transforms import resolve_transform

__all__ = ["forest_plot", "funnel_plot"]

_FORMATS = (".svg", ".png", ".pdf")


def _check_path(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in _FORMATS:
        raise InputError(f"plot file {str(p)!r}: use a .svg, .png or .pdf suffix")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _tf(result: dict[str, Any]):  # type: ignore[no-untyped-def]
    name = result.get("backtransform")
    if name is None:
        return (lambda x: np.asarray(x, dtype=float)), False
    if name == "ipft_hm":
        return (lambda x: np.asarray(x, dtype=float)), False  # stays on the analysis scale
    return resolve_transform(name), name == "exp"


def _fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "-"
    return f"{x:.2f}"


def _data_columns(studies: list[dict[str, Any]]) -> tuple[str, str] | None:
    """Headers of the raw-data columns when every study has 2x2 counts or group means."""
    if not studies or not all("data" in s for s in studies):
        return None
    d0 = [s["data"] for s in studies]
    if all(
        "ai" in d and "ci" in d and ("bi" in d or "n1i" in d) and ("di" in d or "n2i" in d)
        for d in d0
    ):
        return ("Group 1 events/N", "Group 2 events/N")
    if all({"m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"} <= set(d) for d in d0):
        return ("Group 1 mean (SD) N", "Group 2 mean (SD) N")
    if all({"xi", "ni"} <= set(d) for d in d0):
        return ("Events/N", "")
    return None


def _data_text(d: dict[str, float], cols: tuple[str, str]) -> tuple[str, str]:
    def n(x: float) -> str:
        return f"{x:g}"

    if cols[0].endswith("events/N"):
        n1 = d.get("n1i", d.get("ai", 0) + d.get("bi", 0))
        n2 = d.get("n2i", d.get("ci", 0) + d.get("di", 0))
        return f"{n(d['ai'])}/{n(n1)}", f"{n(d['ci'])}/{n(n2)}"
    if cols[0].startswith("Group 1 mean"):
        return (
            f"{d['m1i']:.3g} ({d['sd1i']:.3g}) {n(d['n1i'])}",
            f"{d['m2i']:.3g} ({d['sd2i']:.3g}) {n(d['n2i'])}",
        )
    return f"{n(d['xi'])}/{n(d['ni'])}", ""


def _forest_rows(result: dict[str, Any], studies: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """The plot's rows top to bottom: (kind, item) with kind header/study/group/blank/pooled."""
    groups = result.get("subgroups", {}).get("groups", {}) if result.get("subgroups") else {}
    rows: list[tuple[str, Any]] = []
    if groups:
        for lev, g in groups.items():
            rows.append(("header", lev))
            rows.extend(("study", s) for s in studies if str(s.get("group")) == lev)
            rows.append(("group", (lev, g)))
            rows.append(("blank", None))
    else:
        rows.extend(("study", s) for s in studies)
    rows.append(("pooled", result.get("pooled")))
    return rows


def _ci_text(src: dict[str, Any]) -> str:
    return f"{_fmt(src['pred'])} [{_fmt(src['ci_lb'])}, {_fmt(src['ci_ub'])}]"


class _Forest:
    """One forest plot being drawn: the figure, its text columns and the x extent so far."""

    def __init__(self, result: dict[str, Any], studies: list[dict[str, Any]], n: int) -> None:
        self.result = result
        self.tf, self.logscale = _tf(result)
        self.n = n
        self.cols = _data_columns(studies)
        if self.cols:
            self.x = (0.01, 0.28, 0.385, 0.78, 0.985)  # label, group 1, group 2, estimate, weight
            self.fig = Figure(figsize=(12.5, 1.2 + 0.28 * (n + 2)))
            axes_box = (0.47, 0.12, 0.29, 0.78)
        else:
            self.x = (0.01, 0.0, 0.0, 0.74, 0.95)
            self.fig = Figure(figsize=(10, 1.2 + 0.28 * (n + 2)))
            axes_box = (0.32, 0.12, 0.40, 0.78)
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_axes(axes_box)
        self.trans = blended_transform_factory(self.fig.transFigure, self.ax.transData)
        self.ax.set_ylim(-0.5 - 1, n - 0.5)
        weights = [s.get("weight_pct") or 0.0 for s in studies]
        self.wmax = max(weights) if weights and max(weights) > 0 else 1.0
        self.xs_all: list[float] = []

    def text_row(
        self,
        y: float,
        label: str,
        est: str,
        wt: str,
        bold: bool = False,
        g: tuple[str, str] = ("", ""),
    ) -> None:
        kw: dict[str, Any] = {
            "fontsize": 8,
            "va": "center",
            "fontweight": "bold" if bold else "normal",
            "transform": self.trans,
        }
        x_label, x_g1, x_g2, x_est, x_wt = self.x
        self.ax.text(x_label, y, label, ha="left", **kw)
        self.ax.text(x_est, y, est, ha="left", **kw)
        self.ax.text(x_wt, y, wt, ha="right", **kw)
        if self.cols:
            self.ax.text(x_g1 + 0.07, y, g[0], ha="right", **kw)
            self.ax.text(x_g2 + 0.07, y, g[1], ha="right", **kw)

    def diamond(self, y: float, src: dict[str, Any], color: str) -> None:
        est, lo, hi = src["pred"], src["ci_lb"], src["ci_ub"]
        self.ax.add_patch(
            Polygon([(lo, y), (est, y + 0.3), (hi, y), (est, y - 0.3)], closed=True, color=color)
        )
        self.xs_all.extend([lo, hi])

    def study(self, y: float, item: dict[str, Any]) -> None:
        est, lo, hi = (float(self.tf(item[k])) for k in ("yi", "ci_lb", "ci_ub"))
        w = item.get("weight_pct") or 0.0
        self.ax.plot([lo, hi], [y, y], color="black", lw=0.8)
        size = 3 + 9 * math.sqrt(w / self.wmax)
        self.ax.plot([est], [y], marker="s", ms=size, color="#1f4e79", mec="none")
        self.xs_all.extend([lo, hi])
        self.text_row(
            y,
            str(item.get("study")),
            f"{_fmt(est)} [{_fmt(lo)}, {_fmt(hi)}]",
            f"{w:.1f}%" if item.get("used") else "",
            g=_data_text(item["data"], self.cols) if self.cols else ("", ""),
        )

    def group(self, y: float, lev: str, g: dict[str, Any]) -> None:
        if "error" in g:
            self.text_row(y, f"Subtotal {lev}: {g['error']}", "", "")
            return
        bt = g.get("backtransformed") or g
        src = bt if self.result.get("backtransform") not in (None, "ipft_hm") else g
        self.diamond(y, src, "#6f6f6f")
        het = f"I\u00b2 = {g['I2']:.0f}%" if g.get("I2") is not None else ""
        self.text_row(y, f"Subtotal (k = {g['k']}) {het}", _ci_text(src), "", bold=True)

    def pooled(self, y: float, item: dict[str, Any]) -> None:
        result = self.result
        bt = (
            item.get("backtransformed")
            if result.get("backtransform") not in (None, "ipft_hm")
            else None
        )
        src = bt or item
        self.diamond(y, src, "#c00000")
        lab = f"Pooled ({result.get('method')}, {result.get('test')}; k = {result.get('k')})"
        self.text_row(y, lab, _ci_text(src), "100%", bold=True)
        if "pi_lb" in src:
            self.ax.plot([src["pi_lb"], src["pi_ub"]], [y - 0.8, y - 0.8], color="#c00000", lw=2)
            self.xs_all.extend([src["pi_lb"], src["pi_ub"]])
            pi = f"[{_fmt(src['pi_lb'])}, {_fmt(src['pi_ub'])}]"
            self.text_row(y - 0.8, "Prediction interval", pi, "")
        het = result.get("heterogeneity", {})
        i2 = het.get("I2")
        if i2 is not None:
            qe = het.get("QE")
            foot = f"Heterogeneity: tau\u00b2 = {het.get('tau2', 0):.3g}; I\u00b2 = {i2:.0f}%"
            if qe is not None:
                foot += f"; Q = {qe:.2f} (df = {het.get('QEdf')}, p = {het.get('QEp', float('nan')):.3g})"
            if result.get("subgroups", {}).get("between", {}).get("Q") is not None:
                b = result["subgroups"]["between"]
                foot += f"\nSubgroup differences: Q = {b['Q']:.2f} (df = {b['df']}, p = {b['pval']:.3g})"
            self.fig.text(0.02, 0.02, foot, fontsize=7.5, va="bottom")

    def finish(self) -> None:
        """x axis (log scale for ratios, the null line) and the column headers."""
        ax, logscale = self.ax, self.logscale
        null = 1.0 if logscale else 0.0
        finite = [x for x in self.xs_all if math.isfinite(x) and (not logscale or x > 0)]
        if logscale:
            from matplotlib.ticker import FuncFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        if finite:
            lo, hi = min(finite + [null]), max(finite + [null])
            if logscale:
                ax.set_xlim(lo / 1.2, hi * 1.2)
            else:
                pad = 0.05 * (hi - lo or 1)
                ax.set_xlim(lo - pad, hi + pad)
        ax.axvline(null, color="grey", lw=0.8, ls="--")
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        measure = self.result.get("measure", "")
        ax.set_xlabel(f"{measure}" + (" (log scale)" if logscale else ""), fontsize=8)
        ax.tick_params(labelsize=8)
        x_label, x_g1, x_g2, x_est, x_wt = self.x
        cols = self.cols
        extra = [(x_g1 + 0.07, cols[0], "right"), (x_g2 + 0.07, cols[1], "right")] if cols else []
        for xpos, txt, ha in (
            *extra,
            (x_label, "Study", "left"),
            (x_est, f"{measure} [{self.result.get('level', 95):g}% CI]", "left"),
            (x_wt, "Weight", "right"),
        ):
            ax.text(
                xpos, self.n - 0.2, txt, fontsize=8, fontweight="bold", ha=ha, va="bottom",
                transform=self.trans,
            )  # fmt: skip


def forest_plot(result: dict[str, Any], path: str | Path, *, title: str | None = None) -> Path:
    """Write a forest plot: one row per study (square sized by weight, CI line), subgroup
    blocks with their diamonds when the result has subgroups, the pooled diamond and the
    prediction interval; labels, effects with CI and weights as text columns."""
    p = _check_path(path)
    studies = [s for s in result.get("studies", []) if s.get("yi") is not None]
    rows = _forest_rows(result, studies)
    n = len(rows)
    f = _Forest(result, studies, n)
    for i, (kind, item) in enumerate(rows):
        y = n - 1 - i
        if kind == "header":
            f.text_row(y, str(item), "", "", bold=True)
        elif kind == "study":
            f.study(y, item)
        elif kind == "group":
            f.group(y, *item)
        elif kind == "pooled" and item:
            f.pooled(y, item)
    f.finish()
    if title:
        f.fig.suptitle(title, fontsize=10)
    f.fig.savefig(p)
    return p


def funnel_plot(result: dict[str, Any], path: str | Path, *, title: str | None = None) -> Path:
    """Write a funnel plot (effect vs standard error, pseudo 95% limits around the pooled
    estimate); studies filled in by trim-and-fill (``result["bias"]["trimfill"]``) are
    drawn as open circles and the adjusted estimate as a dotted line."""
    p = _check_path(path)
    studies = [s for s in result.get("studies", []) if s.get("used")]
    if not studies:
        raise InputError("funnel plot: no studies with effect sizes")
    y = np.array([s["yi"] for s in studies], dtype=float)
    se = np.sqrt(np.array([s["vi"] for s in studies], dtype=float))
    fig = Figure(figsize=(6, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    est = result.get("pooled", {}).get("pred")
    if est is None:
        est = float(np.sum(y / se**2) / np.sum(1 / se**2))
    tf = result.get("bias", {}).get("trimfill", {}) if isinstance(result.get("bias"), dict) else {}
    fy = np.array(tf.get("filled_yi", []) or [], dtype=float)
    fse = np.sqrt(np.array(tf.get("filled_vi", []) or [], dtype=float))
    smax = float(max(se.max(), fse.max() if fse.size else 0)) * 1.05
    ss = np.linspace(0, smax, 50)
    ax.fill_betweenx(ss, est - 1.96 * ss, est + 1.96 * ss, color="#eeeeee", zorder=0)
    ax.plot(est - 1.96 * ss, ss, color="grey", lw=0.8, ls="--")
    ax.plot(est + 1.96 * ss, ss, color="grey", lw=0.8, ls="--")
    ax.axvline(est, color="#c00000", lw=1)
    ax.scatter(y, se, color="#1f4e79", s=22, zorder=3, label="studies")
    if fy.size:
        ax.scatter(
            fy,
            fse,
            facecolors="white",
            edgecolors="#1f4e79",
            s=22,
            zorder=3,
            label=f"filled (k0 = {tf.get('k0')})",
        )
        if tf.get("estimate") is not None:
            ax.axvline(tf["estimate"], color="#c00000", lw=1, ls=":")
        ax.legend(fontsize=8, loc="lower right")
    ax.set_ylim(smax, 0)
    ax.set_xlabel(f"{result.get('measure', 'effect')} (analysis scale)")
    ax.set_ylabel("Standard error")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(p)
    return p
