"""``fmreview report``: everything a journal and a reader expect, from the store.

:func:`build_report` writes into ``<review folder>/report/``::

    index.html            the self-contained offline report (open it first)
    prisma.svg/png/pdf    the PRISMA 2020 flow diagram
    figures/              trends, dataset use, co-occurrence (and forest/funnel) as SVG/PNG/PDF
    tables/               taxonomy, trend statistics, datasets as CSV, XLSX and LaTeX
    exports/              included/excluded studies (RIS, BibTeX, CSV), extraction table,
                          RevMan study information and study data CSVs
    prisma.json           the PRISMA counts

The analysis is read, never recomputed, through
:func:`fmreview.analysis_store.load_latest_analysis`; when there is none, those sections
say "not analysed yet".
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from fmreview.analysis_store import load_latest_analysis, source_coverage
from fmreview.errors import InputError
from fmreview.progress import NullReporter, Reporter
from fmreview.report import figures as figs
from fmreview.report import robustness as robust
from fmreview.report import tables as tabs
from fmreview.report.exports import export_all
from fmreview.report.html import plural as _n
from fmreview.report.html import render_report, study_links, write_assets
from fmreview.report.methods import import_rows, methods_sections, search_rows
from fmreview.report.numbers import (
    AxisCoverage,
    LabelNumbers,
    axis_coverage,
    combined_coverage,
    current_label_frame,
    label_numbers,
)
from fmreview.report.prisma import PrismaCounts, prisma_counts, record_version
from fmreview.report.prisma_diagram import (
    build_layout,
    diagram_description,
    layout_svg,
    write_diagram,
)
from fmreview.report.sections import (
    DATASET_AXIS,
    KEY_AXES,
    axis_title,
    findings_list,
    fmreview_version,
    limitations,
    meta_figures,
    short_authors,
    stat_table,
    summary_sentence,
    table_coverage,
)
from fmreview.status import work_statuses
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store


def low_coverage_years(store: Store, meta: dict[str, Any]) -> tuple[list[int], str]:
    """Years after the protocol's coverage rule ends the fits, and a sentence saying why.

    The rule (``analyses.coverage_min_share``) ends trend fits at the last year in which at
    least that share of the sources still contribute works; later years are shaded in the
    figures rather than drawn as a fall of the field.
    """
    share = store.protocol.analyses.coverage_min_share
    if share is None:
        return [], ""

    cov = source_coverage(store)
    if not cov:
        return [], ""
    ok = [y for y, (a, n) in cov.items() if n and a / n >= share]
    if not ok:
        return [], ""
    end = max(ok)
    partial = {int(y) for y in meta.get("partial_years") or []}
    low = [y for y in sorted(cov) if y > end and y not in partial]
    if not low:
        return [], ""
    bits = [f"{y}: {cov[y][0]} of {_n(cov[y][1], 'source')}" for y in low]
    note = (
        f"Source coverage falls after {end}: {'; '.join(bits)} still contribute works, below "
        f"the protocol's coverage rule ({share:.0%} of the sources). Those years are shaded "
        "and dashed in the figures and left out of every trend fit and test; a lower count "
        "there is curation lag, not a decline of the field."
    )
    return low, note


@dataclass
class _Review:
    """What every report section reads: the included works, their labels and coverage."""

    store: Store
    out: Path
    counts: PrismaCounts
    analysis: dict[str, Any] | None
    frame: pd.DataFrame
    nums: LabelNumbers
    cov: dict[str, AxisCoverage]
    labels: dict[int, dict[str, list[str]]]
    prov: dict[tuple[int, str, str], str]
    work_rows: dict[int, dict[str, Any]]

    @property
    def included(self) -> list[int]:
        return list(self.counts.included_ids)

    @property
    def axes(self) -> list[str]:
        return [a.name for a in self.store.protocol.taxonomy]

    @property
    def meta(self) -> dict[str, Any]:
        return dict((self.analysis or {}).get("meta") or {})

    @property
    def fig_dir(self) -> Path:
        return self.out / "figures"

    @property
    def tab_dir(self) -> Path:
        return self.out / "tables"

    def cov_of(self, axis: str) -> AxisCoverage:
        return self.cov.get(axis) or AxisCoverage(axis, 0, len(self.included))


def _review(store: Store, out: Path, counts: PrismaCounts) -> _Review:
    """Read the included works, their current labels (with provenance) and coverage."""
    included = list(counts.included_ids)
    frame = current_label_frame(store)
    labels: dict[int, dict[str, list[str]]] = {}
    prov: dict[tuple[int, str, str], str] = {}
    for wid_, axis_, value_, kind_ in zip(
        frame["work_id"], frame["axis"], frame["value"], frame["kind"], strict=True
    ):
        labels.setdefault(int(wid_), {}).setdefault(str(axis_), []).append(str(value_))
        prov[(int(wid_), str(axis_), str(value_))] = str(kind_)
    with store.connect() as conn:
        w = schema.works
        work_rows = (
            {r.id: dict(r._mapping) for r in conn.execute(sa.select(w).where(w.c.id.in_(included)))}
            if included
            else {}
        )
    return _Review(
        store=store,
        out=out,
        counts=counts,
        analysis=load_latest_analysis(store),
        frame=frame,
        nums=label_numbers(store, included=included, frame=frame),
        cov=axis_coverage(frame, included),
        labels=labels,
        prov=prov,
        work_rows=work_rows,
    )


def _prisma_section(r: _Review) -> dict[str, Any]:
    """Write the PRISMA diagram (SVG/PNG/PDF) and counts (JSON); the inline SVG."""
    proto, counts, out = r.store.protocol, r.counts, r.out
    descriptions = {c.id: c.description for c in proto.eligibility}
    title = f"PRISMA 2020 flow: {proto.title}"
    prisma_paths = write_diagram(counts, out, descriptions=descriptions, title=title)
    (out / "prisma.json").write_text(
        json.dumps(counts.as_dict(), indent=2, default=str) + "\n", encoding="utf-8"
    )
    svg = layout_svg(
        build_layout(counts, descriptions=descriptions, title=title),
        desc=diagram_description(counts),
    )
    return {
        "prisma_svg": svg,
        "prisma_alt": diagram_description(counts),
        "prisma_files": [{"label": k.upper(), "href": p.name} for k, p in prisma_paths.items()],
        "_prisma_paths": prisma_paths,
    }


def _taxonomy_section(r: _Review) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The taxonomy table (written) and its bars per axis."""
    proto = r.store.protocol
    tax = tabs.taxonomy_table(r.labels, r.included, r.axes)
    taxonomy = []
    if len(tax):
        tabs.write_table(tax, r.tab_dir, "taxonomy", caption="Included studies per taxonomy value")
        for axis, grp in tax.groupby("axis", sort=False):
            mx = max(int(grp["n_works"].max()), 1)
            desc = next((a.description for a in proto.taxonomy if a.name == axis), "")
            taxonomy.append(
                {
                    "axis": axis,
                    "axis_title": axis_title(str(axis)),
                    "description": desc.split(". ")[0] if desc else "",
                    "coverage": r.cov_of(str(axis)).as_dict(),
                    "rows": [
                        {
                            "value": row.value,
                            "n": int(row.n_works),
                            "pct": tabs.pct(row.share),
                            "bar": max(1, round(100 * int(row.n_works) / mx)),
                        }
                        for row in grp.head(30).itertuples()
                    ],
                }
            )
    return tax, taxonomy


def _trend_figures(
    r: _Review, analysis: dict[str, Any], low_years: list[int], rep: Reporter
) -> list[dict[str, Any]]:
    """One figure of included studies per year for each axis (key axes first)."""
    partial_years = [int(y) for y in r.meta.get("partial_years") or []]
    counts_year = tabs.analysis_table(analysis, "counts_year")
    present = list(dict.fromkeys(counts_year["axis"])) if len(counts_year) else []
    order = [a for a in KEY_AXES if a in present] + [
        a for a in present if a not in KEY_AXES and a != DATASET_AXIS
    ]
    out: list[dict[str, Any]] = []
    with rep.task("report figures", total=len(order)) as task:
        for axis in order:
            fig = figs.trend_figure(
                counts_year, axis, partial_years=partial_years, low_coverage_years=low_years
            )
            task.advance()
            if fig is None:
                continue
            top = (
                counts_year[counts_year["axis"] == axis]
                .groupby("value")["n_works"]
                .sum()
                .sort_values(ascending=False)
                .index.tolist()
            )
            caption = (
                f"Included studies per year by {axis_title(axis)} (the "
                f"{min(len(top), figs.MAX_SERIES)} most frequent values)."
            )
            alt = figs.alt_text("trend", axis=axis, values=top)
            coverage = r.cov_of(axis).as_dict()
            out.append(
                figs.figure_entry(fig, r.fig_dir, f"trend_{axis}", alt, caption, coverage=coverage)
            )
    return out


#: The statistics tables: analysis table, page stem, caption, columns, p-value column,
#: fitted column (None: every column, no p-value).
_STAT_TABLES: tuple[tuple[str, str, str, tuple[str, ...] | None, str | None, str | None], ...] = (
    (
        "growth",
        "growth",
        "Growth models (yearly rate ratio)",
        tabs.TREND_COLUMNS,
        "p_value",
        "rate_ratio",
    ),
    (
        "trends",
        "trend_tests",
        "Trend tests (Mann–Kendall, Sen's slope, Cochran–Armitage)",
        tabs.MK_COLUMNS,
        "mk_p_value",
        "mk_tau",
    ),
    (
        "segmented",
        "segmented",
        "Segmented models around events (change in level and slope)",
        (
            "axis",
            "value",
            "event",
            "model",
            "level_ratio",
            "level_ci_low",
            "level_ci_high",
            "level_p_value",
            "slope_ratio",
            "slope_p_value",
            "joint_p_value",
            "p_bh",
        ),
        "joint_p_value",
        "level_ratio",
    ),
    ("period_tests", "period_tests", "Axis × period tests", None, None, None),
    ("findings", "findings", "Findings", tabs.FINDING_COLUMNS, None, None),
)


def _stat_tables(r: _Review, analysis: dict[str, Any]) -> list[dict[str, Any]]:
    """Growth models, trend tests, segmented models, period tests and findings (written)."""
    notes = {
        "growth": str(r.meta.get("model_rule") or ""),
        "trends": str(r.meta.get("multiple_testing") or ""),
    }
    out: list[dict[str, Any]] = []
    for source, stem, caption, cols, p_col, fitted in _STAT_TABLES:
        df = tabs.analysis_table(analysis, source)
        t = stat_table(
            df, r.tab_dir, stem, caption, notes.get(source, ""), cols, p_col, fitted=fitted
        )
        if t is not None:
            t["coverage"] = table_coverage(df, r.cov, len(r.included))
            out.append(t)
    return out


#: The dataset tables: analysis table, caption, columns (None: every column).
_DATASET_TABLES: tuple[tuple[str, str, tuple[str, ...] | None], ...] = (
    (
        "dataset_usage",
        "Datasets by number of studies",
        ("dataset", "n_works", "share_of_works", "public", "modality", "body_region"),
    ),
    (
        "dataset_top",
        "Top datasets per modality and task",
        ("axis", "value", "rank", "dataset", "n_works"),
    ),
    ("dataset_public_share", "Share of studies using any (public) dataset", None),
)


def _dataset_section(
    r: _Review, analysis: dict[str, Any]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The dataset-use figure and tables (written)."""
    coverage = r.cov_of(DATASET_AXIS).as_dict("datasets")
    usage = tabs.analysis_table(analysis, "dataset_usage")
    figure = None
    fig = figs.dataset_figure(usage)
    if fig is not None:
        top_ds = usage.sort_values("n_works", ascending=False)["dataset"].astype(str).tolist()
        figure = figs.figure_entry(
            fig,
            r.fig_dir,
            "datasets",
            figs.alt_text("datasets", top=top_ds),
            "Included studies per dataset (blue: in the gazetteer of public datasets).",
            coverage=coverage,
        )
    tables = []
    for name, title, cols in _DATASET_TABLES:
        df = tabs.analysis_table(analysis, name)
        t = stat_table(df, r.tab_dir, name, title, "", cols, None, hide_small=False)
        if t is not None:
            t["coverage"] = coverage
            tables.append(t)
    return figure, tables


def _cooccurrence_figures(r: _Review, analysis: dict[str, Any]) -> list[dict[str, Any]]:
    """The co-occurrence table (written) and one heat map per pair of axes."""
    cells = tabs.analysis_table(analysis, "cooccurrence")
    if len(cells):
        tabs.write_table(cells, r.tab_dir, "cooccurrence", caption="Co-occurrence of axis values")
    out = []
    for ra, ca in figs.cooccurrence_pairs(cells):
        fig = figs.cooccurrence_figure(cells, ra, ca)
        if fig is None:
            continue
        both = f"both {axis_title(ra)} and {axis_title(ca)}"
        coverage = combined_coverage(r.frame, r.included, [ra, ca], f"{ra}+{ca}").as_dict(both)
        alt = figs.alt_text("cooccurrence", row_axis=ra, col_axis=ca)
        caption = f"Studies per combination of {axis_title(ra)} and {axis_title(ca)}."
        stem = f"cooccurrence_{ra}_{ca}"
        out.append(figs.figure_entry(fig, r.fig_dir, stem, alt, caption, coverage=coverage))
    return out


def _robustness_section(r: _Review) -> dict[str, Any]:
    """Sensitivity to the source mix, the challenge → solution map, and the findings."""
    analysis = r.analysis
    sens = robust.sensitivity(analysis)
    if sens["computed"]:
        tabs.write_table(
            tabs.analysis_table(analysis, "sensitivity"),
            r.tab_dir,
            "sensitivity",
            caption="Findings refitted leaving out one source at a time",
        )
    blocks = robust.challenge_map(analysis, r.work_rows, r.fig_dir, r.tab_dir)
    for b in blocks:
        b["coverage"] = r.cov_of("themes").as_dict("themes")
    findings = findings_list(analysis, sens["by_id"])
    for item, raw in zip(findings, (analysis or {}).get("findings") or [], strict=False):
        c_f = r.cov_of(str(raw.get("axis"))) if raw.get("axis") else None
        if c_f is not None and c_f.low:  # a finding on an axis few studies are labelled on
            item["coverage_warning"] = (
                f"low coverage: only {c_f.n_labelled:,} of {c_f.n_included:,} included studies "
                f"carry a {axis_title(c_f.axis)} label"
            )
    return {"sensitivity": sens, "challenge_blocks": blocks, "findings": findings}


def _atlas_section(r: _Review) -> dict[str, Any]:
    """The study atlas: one card per included study, its labels (``*``: automatic)."""
    axes = r.axes
    atlas, atlas_studies = [], []
    axis_values: dict[str, Counter[str]] = {}
    for wid in r.included:
        m = r.work_rows.get(wid)
        if m is None:
            continue
        lab = r.labels.get(wid, {})
        items = []
        for axis in axes + sorted(a for a in lab if a not in axes):
            vals = lab.get(axis) or []
            if not vals:
                continue
            axis_values.setdefault(axis, Counter()).update(vals)
            shown = [
                v + ("" if r.prov.get((wid, axis, v)) in ("human", "list") else "*") for v in vals
            ]
            items.append((axis_title(axis), ", ".join(shown)))
        common = {"id": wid, "year": m["year"], "authors": short_authors(m["authors"])}
        atlas.append(
            {
                **common,
                "title": m["title"] or "(untitled)",
                "venue": m["venue"],
                "label_items": items,
                "links": study_links(m["doi"], m["arxiv"], m["url"]),
            }
        )
        atlas_studies.append(
            {**common, "title": m["title"] or "", "venue": m["venue"] or "", "labels": lab}
        )
    atlas.sort(key=lambda s: (-(s["year"] or 0), str(s["title"]).lower()))
    atlas_axes = [
        {
            "name": a,
            "title": axis_title(a),
            "values": [v for v, _ in axis_values[a].most_common(200)],
        }
        for a in axes + sorted(set(axis_values) - set(axes))
        if a in axis_values
    ]
    return {"atlas": atlas, "atlas_axes": atlas_axes, "atlas_data": {"studies": atlas_studies}}


def _new_studies(r: _Review) -> list[dict[str, Any]]:
    """Studies included since the previous version (at most 100)."""
    previous = r.counts.previous
    if previous is None:
        return []
    with r.store.connect() as conn:
        v = conn.execute(
            sa.select(schema.versions.c.included).where(schema.versions.c.id == previous.version_id)
        ).scalar_one()
    then = {int(i) for i in v or []}
    return [
        {"title": r.work_rows[i]["title"], "year": r.work_rows[i]["year"]}
        for i in r.included
        if i not in then and i in r.work_rows
    ][:100]


def _cards(r: _Review) -> list[dict[str, Any]]:
    """The headline numbers at the top of the report."""
    counts = r.counts
    years = sorted({m["year"] for m in r.work_rows.values() if m["year"]})
    n_sources = len(counts.databases) + len(counts.other_methods)
    span = (f"{years[0]}–{years[-1]}" if years[0] != years[-1] else str(years[0])) if years else "–"
    return [
        {
            "n": counts.records_identified,
            "label": "records identified",
            "key": "records_identified",
        },
        {
            "n": counts.duplicates_removed,
            "label": "duplicates removed",
            "key": "duplicates_removed",
        },
        {"n": counts.records_screened, "label": "records screened", "key": "records_screened"},
        {"n": counts.studies_included, "label": "studies included", "key": "studies_included"},
        {"n": n_sources, "label": "source" if n_sources == 1 else "sources", "key": "sources"},
        {"n": span, "label": "publication years", "key": "years"},
    ]


def _summary_sentences(r: _Review, tax: pd.DataFrame) -> list[str]:
    """The summary: the flow, then the top values of the key axes with their coverage."""
    summary = [summary_sentence(r.counts)]
    for axis in ("fm_type", "task", "modality", DATASET_AXIS):
        grp = tax[tax["axis"] == axis] if len(tax) else tax
        grp = grp[grp["value"] != "(not labelled)"] if len(grp) else grp
        if len(grp):
            top = ", ".join(
                f"{row.value} ({int(row.n_works)}, {tabs.pct(row.share)})"
                for row in grp.head(4).itertuples()
            )
            c_ax = r.cov_of(axis)
            note = f" ({c_ax.n_labelled:,} of {c_ax.n_included:,} studies labelled"
            note += (
                ": too few to describe the review)" if c_ax.low else f", {tabs.pct(c_ax.share)})"
            )
            summary.append(f"By {axis_title(axis)}{note}: {top}.")
    return summary


def _file_list(out: Path) -> list[dict[str, str]]:
    """Every file the report wrote (read last, after every section has written)."""
    files = [
        {"label": "PRISMA diagram (SVG)", "href": "prisma.svg"},
        {"label": "PRISMA diagram (PNG)", "href": "prisma.png"},
        {"label": "PRISMA diagram (PDF)", "href": "prisma.pdf"},
        {"label": "PRISMA counts (JSON)", "href": "prisma.json"},
    ]
    for sub in ("exports", "tables", "figures"):
        d = out / sub
        if d.exists():
            files += [
                {"label": f"{sub}/{p.name}", "href": f"{sub}/{p.name}"}
                for p in sorted(d.iterdir())
                if p.is_file()
            ]
    return files


def _protocol_context(store: Store) -> dict[str, Any]:
    """The protocol's title, question, criteria and source queries."""
    proto = store.protocol
    return {
        "title": proto.title,
        "question": proto.question,
        "review_name": proto.name,
        "screening_mode": proto.screening.mode,
        "criteria": [
            {
                "id": c.id,
                "stage": c.stage.replace("_", "/"),
                "action": c.action,
                "description": c.description,
            }
            for c in proto.eligibility
        ],
        "protocol_queries": [
            (n, q.query if isinstance(q.query, str) else json.dumps(q.query, ensure_ascii=False))
            for n, q in proto.sources.items()
        ],
    }


def report_context(
    store: Store, out: Path, *, reporter: Reporter | None = None, counts: PrismaCounts | None = None
) -> dict[str, Any]:
    """Compute everything the report shows and write its figures and tables under ``out``.

    One function per section computes and writes that section; this one puts them together.
    """
    rep = reporter or NullReporter()
    statuses = work_statuses(store)
    counts = counts or prisma_counts(store)
    r = _review(store, out, counts)
    analysis, meta = r.analysis, r.meta
    prisma = _prisma_section(r)
    tax, taxonomy = _taxonomy_section(r)
    low_years, coverage_note = low_coverage_years(store, meta)
    trend_figures: list[dict[str, Any]] = []
    stat_tables: list[dict[str, Any]] = []
    dataset_figure: dict[str, Any] | None = None
    dataset_tables: list[dict[str, Any]] = []
    cooc_figures: list[dict[str, Any]] = []
    if analysis:
        trend_figures = _trend_figures(r, analysis, low_years, rep)
        stat_tables = _stat_tables(r, analysis)
        dataset_figure, dataset_tables = _dataset_section(r, analysis)
        cooc_figures = _cooccurrence_figures(r, analysis)
    robustness = _robustness_section(r)
    partial_years = [int(y) for y in meta.get("partial_years") or []]
    limits = limitations(store, counts, r.nums, partial_years, meta, analysis)
    if coverage_note:
        limits.append(coverage_note)
    figure_paths = [
        f["paths"]
        for f in trend_figures
        + cooc_figures
        + [b["figure"] for b in robustness["challenge_blocks"] if b["figure"]]
    ]
    return {
        **_protocol_context(store),
        "version": fmreview_version(),
        "built_at": store.clock().strftime("%Y-%m-%d %H:%M UTC"),
        "cards": _cards(r),
        "summary_sentences": _summary_sentences(r, tax),
        **robustness,
        "counts": counts,
        "previous": counts.previous,
        **{k: v for k, v in prisma.items() if not k.startswith("_")},
        "invariants": counts.invariants(),
        "searches": search_rows(store),
        "imports": import_rows(store),
        "methods": methods_sections(store, analysis=analysis, numbers=r.nums),
        "taxonomy": taxonomy,
        "analysed": analysis is not None,
        "partial_years": partial_years,
        "low_coverage_years": low_years,
        "coverage_note": coverage_note,
        "partial_excluded": bool(meta.get("partial_years_excluded_from_fits", True)),
        "analysis_notes": [str(n) for n in meta.get("notes") or []],
        "trend_figures": trend_figures,
        "stat_tables": stat_tables,
        "dataset_figure": dataset_figure,
        "dataset_tables": dataset_tables,
        "cooccurrence_figures": cooc_figures,
        **_atlas_section(r),
        "meta_figures": meta_figures(store, r.fig_dir),
        "new_studies": _new_studies(r),
        "limitations": limits,
        "label_numbers": r.nums,
        "files": _file_list(out),
        "_paths": {
            "prisma": prisma["_prisma_paths"],
            "figures": figure_paths + ([dataset_figure["paths"]] if dataset_figure else []),
        },
        "_statuses": statuses,
    }


def build_report(
    store: Store,
    *,
    reporter: Reporter | None = None,
    out_dir: Path | str | None = None,
    record_versions: bool = True,
) -> dict[str, Any]:
    """Write the whole report (see the module docstring); returns counts and ``*_path`` entries.

    ``record_versions=False`` leaves the ``versions`` row to the caller (``fmreview update``
    records one version per update, with its search counts).
    """
    rep = reporter or NullReporter()
    if out_dir is None:
        if store.folder is None:
            raise InputError(
                "this store has no review folder; pass out_dir (fmreview report --out DIR)"
            )
        out = Path(store.folder) / "report"
    else:
        out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with store.run("report", {"out": str(out)}) as run:
        counts = prisma_counts(store)
        ctx = report_context(store, out, reporter=rep, counts=counts)
        exports = export_all(store, out / "exports", statuses=ctx["_statuses"])
        # the file list is complete only once the exports exist
        ctx["files"] += [
            {"label": f"exports/{p.name}", "href": f"exports/{p.name}"}
            for p in sorted(set(exports.values()))
            if f"exports/{p.name}" not in {f["href"] for f in ctx["files"]}
        ]
        html = render_report(ctx)
        write_assets(out)
        index = out / "index.html"
        index.write_text(html, encoding="utf-8")
        version_id = (
            record_version(
                store, counts, run_id=run.id, note=f"report {store.clock().date().isoformat()}"
            )
            if record_versions
            else None
        )
        result: dict[str, Any] = {
            "records_identified": counts.records_identified,
            "studies_included": counts.studies_included,
            "labels": ctx["label_numbers"].labels,
            "labels_of_included": ctx["label_numbers"].included_labels,
            "figures": len(ctx["_paths"]["figures"]),
            "invariants_ok": all(i.ok for i in counts.invariants()),
            "version_recorded": version_id is not None,
            "report_path": str(index),
            "prisma_svg_path": str(ctx["_paths"]["prisma"]["svg"]),
            "prisma_png_path": str(ctx["_paths"]["prisma"]["png"]),
            "prisma_pdf_path": str(ctx["_paths"]["prisma"]["pdf"]),
            "exports_path": str(out / "exports"),
            "tables_path": str(out / "tables"),
            "figures_path": str(out / "figures"),
        }
        run.counts.update({k: v for k, v in result.items() if not k.endswith("_path")})
    rep.log(f"report written to {index}")
    return result
