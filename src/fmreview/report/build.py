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
from pathlib import Path
from typing import Any

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
    figure_entry,
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


def load_analysis(store: Any) -> dict[str, Any] | None:
    """The latest stored analysis, or None when the review has not been analysed."""
    return load_latest_analysis(store)


def low_coverage_years(store: Any, meta: dict[str, Any]) -> tuple[list[int], str]:
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


def report_context(
    store: Any, out: Path, *, reporter: Reporter | None = None, counts: PrismaCounts | None = None
) -> dict[str, Any]:
    """Compute everything the report shows and write its figures and tables under ``out``."""
    rep = reporter or NullReporter()
    proto = store.protocol
    statuses = work_statuses(store)
    counts = counts or prisma_counts(store)
    analysis = load_analysis(store)
    included = list(counts.included_ids)
    fig_dir, tab_dir = out / "figures", out / "tables"
    frame = current_label_frame(store)
    nums = label_numbers(store, included=included, frame=frame)
    cov = axis_coverage(frame, included)

    def cov_of(axis: str) -> AxisCoverage:
        return cov.get(axis) or AxisCoverage(axis, 0, len(included))

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
    axes = [a.name for a in proto.taxonomy]

    # ---- PRISMA
    descriptions = {c.id: c.description for c in proto.eligibility}
    prisma_paths = write_diagram(
        counts, out, descriptions=descriptions, title=f"PRISMA 2020 flow: {proto.title}"
    )
    (out / "prisma.json").write_text(
        json.dumps(counts.as_dict(), indent=2, default=str) + "\n", encoding="utf-8"
    )
    svg = layout_svg(
        build_layout(counts, descriptions=descriptions, title=f"PRISMA 2020 flow: {proto.title}"),
        desc=diagram_description(counts),
    )

    # ---- taxonomy
    tax = tabs.taxonomy_table(labels, included, axes)
    taxonomy = []
    if len(tax):
        tabs.write_table(tax, tab_dir, "taxonomy", caption="Included studies per taxonomy value")
        for axis, grp in tax.groupby("axis", sort=False):
            mx = max(int(grp["n_works"].max()), 1)
            desc = next((a.description for a in proto.taxonomy if a.name == axis), "")
            taxonomy.append(
                {
                    "axis": axis,
                    "axis_title": axis_title(str(axis)),
                    "description": desc.split(". ")[0] if desc else "",
                    "coverage": cov_of(str(axis)).as_dict(),
                    "rows": [
                        {
                            "value": r.value,
                            "n": int(r.n_works),
                            "pct": tabs.pct(r.share),
                            "bar": max(1, round(100 * int(r.n_works) / mx)),
                        }
                        for r in grp.head(30).itertuples()
                    ],
                }
            )

    # ---- trends, datasets, co-occurrence (from the stored analysis)
    trend_figures: list[dict[str, Any]] = []
    stat_tables: list[dict[str, Any]] = []
    dataset_figure = None
    dataset_tables: list[dict[str, Any]] = []
    cooc_figures: list[dict[str, Any]] = []
    meta = (analysis or {}).get("meta") or {}
    partial_years = [int(y) for y in meta.get("partial_years") or []]
    low_years, coverage_note = low_coverage_years(store, meta)
    if analysis:
        counts_year = tabs.analysis_table(analysis, "counts_year")
        present = list(dict.fromkeys(counts_year["axis"])) if len(counts_year) else []
        order = [a for a in KEY_AXES if a in present] + [
            a for a in present if a not in KEY_AXES and a != DATASET_AXIS
        ]
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
                entry = figure_entry(
                    fig,
                    fig_dir,
                    f"trend_{axis}",
                    "figures",
                    figs.alt_text("trend", axis=axis, values=top),
                    f"Included studies per year by {axis_title(axis)} (the {min(len(top), figs.MAX_SERIES)} most "
                    "frequent values).",
                )
                entry["coverage"] = cov_of(axis).as_dict()
                trend_figures.append(entry)
        findings_df = tabs.analysis_table(analysis, "findings")
        for t in (
            stat_table(
                tabs.analysis_table(analysis, "growth"),
                tab_dir,
                "growth",
                "Growth models (yearly rate ratio)",
                str(meta.get("model_rule") or ""),
                tabs.TREND_COLUMNS,
                "p_value",
                fitted="rate_ratio",
            ),
            stat_table(
                tabs.analysis_table(analysis, "trends"),
                tab_dir,
                "trend_tests",
                "Trend tests (Mann–Kendall, Sen's slope, Cochran–Armitage)",
                str(meta.get("multiple_testing") or ""),
                tabs.MK_COLUMNS,
                "mk_p_value",
                fitted="mk_tau",
            ),
            stat_table(
                tabs.analysis_table(analysis, "segmented"),
                tab_dir,
                "segmented",
                "Segmented models around events (change in level and slope)",
                "",
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
                fitted="level_ratio",
            ),
            stat_table(
                tabs.analysis_table(analysis, "period_tests"),
                tab_dir,
                "period_tests",
                "Axis × period tests",
                "",
                None,
                None,
            ),
            stat_table(
                findings_df, tab_dir, "findings", "Findings", "", tabs.FINDING_COLUMNS, None
            ),
        ):
            if t is not None:
                stat_tables.append(t)
        source_of = {"trend_tests": "trends"}  # page stem -> analysis table, where they differ
        for t in stat_tables:
            stem = str(t["href"]).removeprefix("tables/").removesuffix(".csv")
            t["coverage"] = table_coverage(
                tabs.analysis_table(analysis, source_of.get(stem, stem)), cov, len(included)
            )
        usage = tabs.analysis_table(analysis, "dataset_usage")
        fig = figs.dataset_figure(usage)
        if fig is not None:
            top_ds = usage.sort_values("n_works", ascending=False)["dataset"].astype(str).tolist()
            dataset_figure = figure_entry(
                fig,
                fig_dir,
                "datasets",
                "figures",
                figs.alt_text("datasets", top=top_ds),
                "Included studies per dataset (blue: in the gazetteer of public datasets).",
            )
            dataset_figure["coverage"] = cov_of(DATASET_AXIS).as_dict("datasets")
        for name, title, cols in (
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
        ):
            t = stat_table(
                tabs.analysis_table(analysis, name),
                tab_dir,
                name,
                title,
                "",
                cols,
                None,
                hide_small=False,
            )
            if t is not None:
                t["coverage"] = cov_of(DATASET_AXIS).as_dict("datasets")
                dataset_tables.append(t)
        cells = tabs.analysis_table(analysis, "cooccurrence")
        if len(cells):
            tabs.write_table(cells, tab_dir, "cooccurrence", caption="Co-occurrence of axis values")
        for ra, ca in figs.cooccurrence_pairs(cells):
            fig = figs.cooccurrence_figure(cells, ra, ca)
            if fig is None:
                continue
            entry = figure_entry(
                fig,
                fig_dir,
                f"cooccurrence_{ra}_{ca}",
                "figures",
                figs.alt_text("cooccurrence", row_axis=ra, col_axis=ca),
                f"Studies per combination of {axis_title(ra)} and {axis_title(ca)}.",
            )
            entry["coverage"] = combined_coverage(frame, included, [ra, ca], f"{ra}+{ca}").as_dict(
                f"both {axis_title(ra)} and {axis_title(ca)}"
            )
            cooc_figures.append(entry)

    # ---- sensitivity to the source mix, challenge -> solution map
    sens = robust.sensitivity(analysis)
    if sens["computed"]:
        tabs.write_table(
            tabs.analysis_table(analysis, "sensitivity"),
            tab_dir,
            "sensitivity",
            caption="Findings refitted leaving out one source at a time",
        )
    challenge_blocks = robust.challenge_map(analysis, work_rows, fig_dir, tab_dir, figure_entry)
    for b in challenge_blocks:
        b["coverage"] = cov_of("themes").as_dict("themes")

    findings = findings_list(analysis, sens["by_id"])
    for item, raw in zip(findings, (analysis or {}).get("findings") or [], strict=False):
        c_f = cov_of(str(raw.get("axis"))) if raw.get("axis") else None
        if c_f is not None and c_f.low:  # a finding on an axis few studies are labelled on
            item["coverage_warning"] = (
                f"low coverage: only {c_f.n_labelled:,} of {c_f.n_included:,} included studies "
                f"carry a {axis_title(c_f.axis)} label"
            )

    # ---- atlas
    atlas, atlas_studies = [], []
    axis_values: dict[str, Counter[str]] = {}
    for wid in included:
        m = work_rows.get(wid)
        if m is None:
            continue
        lab = labels.get(wid, {})
        items = []
        for axis in axes + sorted(a for a in lab if a not in axes):
            vals = lab.get(axis) or []
            if not vals:
                continue
            axis_values.setdefault(axis, Counter()).update(vals)
            shown = [
                v + ("" if prov.get((wid, axis, v)) in ("human", "list") else "*") for v in vals
            ]
            items.append((axis_title(axis), ", ".join(shown)))
        atlas.append(
            {
                "id": wid,
                "title": m["title"] or "(untitled)",
                "year": m["year"],
                "venue": m["venue"],
                "authors": short_authors(m["authors"]),
                "label_items": items,
                "links": study_links(m["doi"], m["arxiv"], m["url"]),
            }
        )
        atlas_studies.append(
            {
                "id": wid,
                "title": m["title"] or "",
                "year": m["year"],
                "venue": m["venue"] or "",
                "authors": short_authors(m["authors"]),
                "labels": lab,
            }
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

    # ---- meta-analysis
    meta_figs = meta_figures(store, fig_dir)

    # ---- previous version
    new_studies = []
    if counts.previous is not None:
        with store.connect() as conn:
            v = conn.execute(
                sa.select(schema.versions.c.included).where(
                    schema.versions.c.id == counts.previous.version_id
                )
            ).scalar_one()
        then = {int(i) for i in v or []}
        new_studies = [
            {"title": work_rows[i]["title"], "year": work_rows[i]["year"]}
            for i in included
            if i not in then and i in work_rows
        ][:100]

    # ---- limitations and summary
    limits = limitations(store, counts, nums, partial_years, meta, analysis)
    if coverage_note:
        limits.append(coverage_note)
    years = sorted({m["year"] for m in work_rows.values() if m["year"]})
    cards = [
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
        {
            "n": len(counts.databases) + len(counts.other_methods),
            "label": "source"
            if len(counts.databases) + len(counts.other_methods) == 1
            else "sources",
            "key": "sources",
        },
        {
            "n": (f"{years[0]}–{years[-1]}" if years[0] != years[-1] else str(years[0]))
            if years
            else "–",
            "label": "publication years",
            "key": "years",
        },
    ]
    summary = [summary_sentence(counts)]
    for axis in ("fm_type", "task", "modality", DATASET_AXIS):
        grp = tax[tax["axis"] == axis] if len(tax) else tax
        grp = grp[grp["value"] != "(not labelled)"] if len(grp) else grp
        if len(grp):
            top = ", ".join(
                f"{r.value} ({int(r.n_works)}, {tabs.pct(r.share)})"
                for r in grp.head(4).itertuples()
            )
            c_ax = cov_of(axis)
            note = f" ({c_ax.n_labelled:,} of {c_ax.n_included:,} studies labelled"
            note += (
                ": too few to describe the review)" if c_ax.low else f", {tabs.pct(c_ax.share)})"
            )
            summary.append(f"By {axis_title(axis)}{note}: {top}.")

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
    return {
        "title": proto.title,
        "question": proto.question,
        "review_name": proto.name,
        "version": fmreview_version(),
        "built_at": store.clock().strftime("%Y-%m-%d %H:%M UTC"),
        "cards": cards,
        "summary_sentences": summary,
        "findings": findings,
        "sensitivity": sens,
        "challenge_blocks": challenge_blocks,
        "screening_mode": proto.screening.mode,
        "counts": counts,
        "previous": counts.previous,
        "prisma_svg": svg,
        "prisma_alt": diagram_description(counts),
        "prisma_files": [{"label": k.upper(), "href": p.name} for k, p in prisma_paths.items()],
        "invariants": counts.invariants(),
        "criteria": [
            {
                "id": c.id,
                "stage": c.stage.replace("_", "/"),
                "action": c.action,
                "description": c.description,
            }
            for c in proto.eligibility
        ],
        "searches": search_rows(store),
        "imports": import_rows(store),
        "protocol_queries": [
            (n, q.query if isinstance(q.query, str) else json.dumps(q.query, ensure_ascii=False))
            for n, q in proto.sources.items()
        ],
        "methods": methods_sections(store, analysis=analysis, numbers=nums),
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
        "atlas": atlas,
        "atlas_axes": atlas_axes,
        "atlas_data": {"studies": atlas_studies},
        "meta_figures": meta_figs,
        "new_studies": new_studies,
        "limitations": limits,
        "label_numbers": nums,
        "files": files,
        "_paths": {
            "prisma": prisma_paths,
            "figures": [
                f["paths"]
                for f in trend_figures
                + cooc_figures
                + [b["figure"] for b in challenge_blocks if b["figure"]]
            ]
            + ([dataset_figure["paths"]] if dataset_figure else []),
        },
        "_statuses": statuses,
    }


def build_report(
    store: Any,
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
