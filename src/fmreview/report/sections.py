"""The content of the report's sections: summary, limitations, figure and table entries,
the meta-analysis figures and the atlas labels' provenance (used by :mod:`fmreview.report.build`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from fmreview.errors import FmreviewError
from fmreview.meta.analysis import meta_analyze
from fmreview.meta.plots import forest_plot, funnel_plot
from fmreview.report import tables as tabs
from fmreview.report.html import plural as _n
from fmreview.report.numbers import LOW_COVERAGE, AxisCoverage, LabelNumbers
from fmreview.report.prisma import PrismaCounts
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store

#: Axes whose trends are drawn first (the questions the flagship review asks).
KEY_AXES = (
    "fm_type",
    "task",
    "modality",
    "architecture",
    "training_paradigm",
    "adaptation",
    "anatomy",
    "themes",
)
DATASET_AXIS = "datasets"
PAGE_ROWS = 25


def axis_title(axis: str) -> str:
    return {"fm_type": "FM type"}.get(axis, axis.replace("_", " ").capitalize())


def short_authors(authors: list[Any] | None) -> str:
    names = [a[0] for a in (authors or []) if a and a[0]]
    if not names:
        return ""
    return ", ".join(names[:3]) + (" et al." if len(names) > 3 else "")


def stat_table(
    df: pd.DataFrame,
    folder: Path,
    stem: str,
    title: str,
    intro: str,
    columns: tuple[str, ...] | None,
    sort: str | None = None,
    *,
    hide_small: bool = True,
    fitted: str | None = None,
) -> dict[str, Any] | None:
    """A table for the page (first :data:`PAGE_ROWS` rows), written in full to ``tables/``.

    With ``hide_small``, rows flagged ``small`` (too few works to interpret) stay in the files
    but not on the page, and the intro says so. ``fitted`` names the column that is empty
    when a row's model could not be fitted: those rows sort after every fitted one, so the
    page never opens on rows of "–".
    """
    if df is None or not len(df):
        return None
    tabs.write_table(df, folder, stem, caption=title)
    view = df
    if hide_small and "small" in view.columns:
        small = view["small"].fillna(False).astype(bool)
        if small.any():
            intro = (intro + " " if intro else "") + (
                f"{int(small.sum())} rows flagged small (too few works to interpret) are only in the files."
            )
        view = view[~small]
    if sort and sort in view.columns:
        view = view.sort_values(sort, na_position="last", kind="stable")
    if fitted and fitted in view.columns:
        unfitted = view[fitted].isna()
        view = pd.concat([view[~unfitted], view[unfitted]])
        if unfitted.any():
            intro = (intro + " " if intro else "") + (
                f"{int(unfitted.sum())} of {len(unfitted)} rows could not be fitted "
                f"(empty {fitted}); they come last."
            )
    if columns:
        view = view[[c for c in columns if c in view.columns]]
    header, rows = tabs.html_rows(view, PAGE_ROWS)
    return {
        "title": title,
        "intro": intro,
        "header": header,
        "rows": rows,
        "wrap": stem == "findings",
        "more": max(0, len(df) - len(rows)),
        "n_rows": len(df),
        "open": stem == "findings",
        "href": f"tables/{stem}.csv",
        "coverage": None,
    }


def table_coverage(
    df: pd.DataFrame, cov: dict[str, AxisCoverage], n_included: int
) -> dict[str, Any] | None:
    """Coverage of a table over several axes: each axis' n labelled of N, low ones named."""
    if df is None or not len(df) or "axis" not in df.columns:
        return None
    axes = [str(a) for a in dict.fromkeys(df["axis"]) if str(a) != "all"]
    if not axes:
        return None
    parts, low = [], []
    for a in axes:
        c = cov.get(a) or AxisCoverage(a, 0, n_included)
        parts.append(f"{axis_title(a)} {c.n_labelled:,}/{c.n_included:,} ({c.evidence_text()})")
        if c.low:
            low.append(f"{axis_title(a)} ({c.n_labelled:,} of {c.n_included:,})")
    text = "Coverage (labelled of included studies; evidence): " + "; ".join(parts) + "."
    if low:
        text = (
            f"Low coverage on {', '.join(low)}: under {LOW_COVERAGE:.0%} of the included studies "
            "are labelled there, so those rows describe a few studies, not the review. " + text
        )
    return {"low": bool(low), "text": text}


def findings_list(
    analysis: dict[str, Any] | None, sensitivity: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The findings for the summary; ``sensitivity`` (by finding id) marks those that flip."""
    out = []
    sens = sensitivity or {}
    for f in (analysis or {}).get("findings") or []:
        status = str(f.get("status") or "")
        css = {"supported": "status-supported", "not supported": "status-not-supported"}.get(
            status, "status-other"
        )
        bits = []
        if f.get("period"):  # the years actually tested (fits end where the sources do)
            bits.append(f"years {str(f['period']).replace('-', '–')}")
        if f.get("test"):
            bits.append(str(f["test"]))
        if f.get("estimate") is not None:
            est = f"{f.get('estimate_name') or 'estimate'} {tabs.fmt_cell(f['estimate'])}"
            if f.get("ci_low") is not None and f.get("ci_high") is not None:
                est += f" [{tabs.fmt_cell(f['ci_low'])}, {tabs.fmt_cell(f['ci_high'])}]"
            bits.append(est)
        if f.get("p_value") is not None:
            bits.append(f"p = {tabs.fmt_cell(f['p_value'])}")
        if not bits and f.get("reason"):
            bits.append(str(f["reason"]))
        out.append(
            {
                "statement": f.get("statement", ""),
                "status": status,
                "css": css,
                "evidence": "; ".join(bits),
                "robustness": _robustness(sens.get(str(f.get("id")))),
                "flips": bool((sens.get(str(f.get("id"))) or {}).get("flips")),
                "coverage_warning": "",
            }
        )
    return out


def _robustness(info: dict[str, Any] | None) -> str:
    if not info:
        return ""
    if info["flips"]:
        return "FLIPS when one source is left out: " + "; ".join(info["flips"])
    return f"holds in all {info['n_refits']} leave-one-source-out refits"


def pooled_text(res: dict[str, Any]) -> str:
    """'pooled 3.59 [0.663, 19.5]' on the natural scale when the result back-transforms."""
    pooled = res.get("pooled") or {}
    p = pooled.get("backtransformed") or pooled
    est = p.get("pred", p.get("estimate"))
    if est is None:
        return "pooled estimate not available."
    txt = f"pooled {tabs.fmt_cell(est)}"
    if p.get("ci_lb") is not None and p.get("ci_ub") is not None:
        txt += f" [{tabs.fmt_cell(p['ci_lb'])}, {tabs.fmt_cell(p['ci_ub'])}]"
    return txt + f" ({res.get('method', '')}{', ' + str(res['test']) if res.get('test') else ''})."


def meta_figures(store: Store, folder: Path) -> list[dict[str, Any]]:
    """Forest and funnel plots per outcome with at least two effects (``fmreview.meta``)."""
    e = schema.effects
    with store.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(e).order_by(e.c.id))]
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["outcome"], r["measure"] or "GEN"), []).append(r)
    out: list[dict[str, Any]] = []
    for (outcome, measure), grp in groups.items():
        if len(grp) < 2:
            continue
        from fmreview.effects import NUMERIC as cols

        eff = [{"study": g["study"], **{c: g[c] for c in cols if g[c] is not None}} for g in grp]
        has_sub = any(g["subgroup"] for g in grp)
        if has_sub:
            for r, g in zip(eff, grp, strict=True):
                r["subgroup"] = g["subgroup"] or "(none)"
        try:
            res = meta_analyze(eff, measure=measure, by="subgroup" if has_sub else None)
        except FmreviewError as exc:
            out.append(
                {"src": "", "alt": "", "caption": f"{outcome} ({measure}): not pooled — {exc}"}
            )
            continue
        stem = "".join(ch if ch.isalnum() else "_" for ch in f"{outcome}_{measure}")[:60]
        for kind, fn in (("forest", forest_plot), ("funnel", funnel_plot)):
            paths = {}
            try:
                for ext in ("svg", "png", "pdf"):
                    paths[ext] = fn(
                        res, folder / f"{kind}_{stem}.{ext}", title=f"{outcome} ({measure})"
                    )
            except FmreviewError:
                continue
            src = f"{folder.name}/{paths['png'].name}"  # next to the page, like every figure
            out.append(
                {
                    "src": src,
                    "alt": f"{kind.capitalize()} plot of {_n(len(grp), 'study', 'studies')} for {outcome} ({measure}).",
                    "caption": f"{kind.capitalize()} plot, {outcome} ({measure}), k = {res.get('k')}; "
                    + pooled_text(res),
                }
            )
    return out


def fmreview_version() -> str:
    from fmreview import __version__

    return __version__


def summary_sentence(c: PrismaCounts) -> str:
    src = []
    if c.databases:
        src.append(f"{c.records_from_databases:,} from {_n(len(c.databases), 'database')}")
    if c.other_methods:
        src.append(
            f"{c.records_from_other_methods:,} from other methods ({', '.join(c.other_methods)})"
        )
    s = (
        f"The review identified {_n(c.records_identified, 'record')}"
        + (f" ({'; '.join(src)})" if src else "")
        + "."
    )
    s += (
        f" After removing {_n(c.duplicates_removed, 'duplicate')} and {c.excluded_automation:,} "
        f"marked ineligible by the eligibility rules, {c.records_screened:,} "
        f"{'was' if c.records_screened == 1 else 'were'} screened; "
        f"{_n(c.studies_included, 'study', 'studies')} ({_n(c.reports_included, 'report')}) "
        f"{'is' if c.studies_included == 1 else 'are'} included."
    )
    pending = c.awaiting_screening + c.awaiting_full_text + c.conflicts
    if pending:
        s += (
            f" {_n(pending, 'record')} still await{'s' if pending == 1 else ''} a decision "
            "(screening, full text or a conflict), so the counts may change."
        )
    return s


def limitations(
    store: Store,
    c: PrismaCounts,
    nums: LabelNumbers,
    partial_years: list[int],
    meta: dict[str, Any],
    analysis: dict[str, Any] | None,
) -> list[str]:
    out = []
    if nums.included_labels:
        by = nums.included_by_kind
        out.append(
            f"The {nums.included_labels:,} labels of the {_n(nums.included, 'included study', 'included studies')} "
            f"(of {_n(nums.labels, 'label')} on all {_n(nums.works, 'work')}): "
            f"{nums.included_automatic:,} automatic (rules, models or LLMs; marked * in the atlas), "
            f"{by.get('list', 0):,} given by the curated source lists, {by.get('human', 0):,} confirmed "
            "or corrected by a person. Automatic labels can be wrong; the extraction table lists "
            "the evidence of each."
        )
    else:
        out.append(
            "No included study carries a label, so the taxonomy, trend and dataset sections are empty."
        )
    if c.screening_mode == "rules":
        out.append(
            f"Inclusion was decided by explainable eligibility rules (screening.mode: rules): {c.included_rules} "
            f"of {c.studies_included} included studies were not checked by a person, and full texts were not "
            "assessed."
        )
    if not c.databases:
        out.append(
            "No bibliographic database was searched; studies come only from other methods "
            f"({', '.join(c.other_methods) or 'none'}), so the review is not a comprehensive search."
        )
    if partial_years:
        out.append(
            f"{'Year' if len(partial_years) == 1 else 'Years'} {', '.join(map(str, partial_years))} {'is' if len(partial_years) == 1 else 'are'} partial (data as of the analysis date): shown but "
            + (
                "left out of trend fits and tests."
                if meta.get("partial_years_excluded_from_fits", True)
                else "included in trend fits."
            )
        )
    if analysis is None:
        out.append("The trend analysis has not been run yet (fmreview analyze).")
    if c.records_awaiting_dedupe:
        n = c.records_awaiting_dedupe
        out.append(f"{_n(n, 'record')} {'is' if n == 1 else 'are'} not yet deduplicated.")
    if c.awaiting_screening or c.awaiting_full_text or c.conflicts:
        out.append(
            f"Screening is not finished: {_n(c.awaiting_screening, 'record')} await screening, {c.awaiting_full_text} "
            f"full-text assessment, and {c.conflicts} reviewer conflicts are unresolved."
        )
    return out
