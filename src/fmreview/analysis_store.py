"""``fmreview analyze`` over the store: feed the trend analysis its tidy tables, keep the result.

The included works (:func:`fmreview.status.work_statuses`) and their current labels become
the two tables of :mod:`fmreview.analysis`; the result is stored as JSON in ``artifacts``
(kind ``analysis``) so the report and the web app read the same numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from fmreview.extract.store_io import current_labels
from fmreview.progress import NullReporter, Reporter
from fmreview.status import work_statuses
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store

ARTIFACT_KIND = "analysis"
ARTIFACT_KEY = "latest"


def label_frame(store: Store) -> pd.DataFrame:
    """Current labels as ``work_id, axis, value, method, role`` (one row per value)."""
    df = current_labels(store)
    if "role" not in df.columns:
        df = df.assign(role=None)
    return df


def analysis_frames(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The included works and their labels, as the analysis expects them."""
    statuses = work_statuses(store)
    included = [wid for wid, s in statuses.items() if s.status == "included"]
    w = schema.works
    with store.connect() as conn:
        rows = (
            conn.execute(
                sa.select(w.c.id, w.c.year, w.c.date, w.c.title).where(w.c.id.in_(included))
            ).all()
            if included
            else []
        )
    works = pd.DataFrame(
        [{"work_id": r.id, "year": r.year, "date": r.date, "title": r.title} for r in rows],
        columns=["work_id", "year", "date", "title"],
    )
    labels = label_frame(store)
    labels = labels[labels["work_id"].isin(set(works["work_id"]))].reset_index(drop=True)
    return works, labels


def work_sources(store: Store, work_ids: Any = None) -> dict[int, set[str]]:
    """Each active work's sources, for leave-one-source-out sensitivity.

    A work's curated lists (``source_labels``, the bundled snapshot's list names) when it has
    any; otherwise the sources of its member records (databases searched, files imported),
    so a searched review is refitted leave-one-database-out.
    """
    w, wr, r = schema.works, schema.work_records, schema.records
    wanted = None if work_ids is None else {int(i) for i in work_ids}
    lists: dict[int, set[str]] = {}
    records: dict[int, set[str]] = {}
    with store.connect() as conn:
        for wid, labels in conn.execute(
            sa.select(w.c.id, w.c.source_labels).where(w.c.merged_into.is_(None))
        ):
            if wanted is None or int(wid) in wanted:
                lists[int(wid)] = {str(x) for x in (labels or []) if x}
        for wid, src in conn.execute(
            sa.select(wr.c.work_id, r.c.source).join(r, r.c.id == wr.c.record_id)
        ):
            if src:
                records.setdefault(int(wid), set()).add(str(src))
    out = {wid: labs or records.get(wid, set()) for wid, labs in lists.items()}
    return {k: v for k, v in out.items() if v}


def source_coverage(store: Store) -> dict[int, tuple[int, int]]:
    """Per year: (sources contributing works that year, sources that started by then).

    Sources are the works' ``source_labels`` (for the bundled snapshot: the curated lists).
    A list "contributes" in a year when it holds at least one work of that year; only lists
    that contributed in that year or before count in the denominator. Empty when fewer than
    two sources are known (the rule needs a mix to judge).
    """
    w = schema.works
    with store.connect() as conn:
        rows = conn.execute(
            sa.select(w.c.year, w.c.source_labels).where(w.c.merged_into.is_(None))
        ).all()
    years: dict[str, set[int]] = {}
    for year, labels in rows:
        if year is None:
            continue
        for lab in labels or []:
            years.setdefault(lab, set()).add(int(year))
    if len(years) < 2:
        return {}
    out: dict[int, tuple[int, int]] = {}
    for y in sorted({y for ys in years.values() for y in ys}):
        started = [s for s, ys in years.items() if min(ys) <= y]
        active = [s for s in started if y in years[s]]
        out[y] = (len(active), len(started))
    return out


def coverage_end_year(store: Store, min_share: float) -> int | None:
    """The last year in which at least ``min_share`` of the sources still contribute works
    (see :func:`source_coverage`)."""
    last = None
    for y, (active, started) in source_coverage(store).items():
        if started and active / started >= min_share:
            last = y
    return last


def analysis_settings(store: Store, **overrides: Any) -> Any:
    from fmreview.analysis import coerce_settings
    from fmreview.snapshot import gazetteer_path

    a = store.protocol.analyses
    gazetteer = None
    if store.protocol.gazetteer is not None:
        path = gazetteer_path()
        if store.protocol.gazetteer.file and store.folder is not None:
            path = store.folder / store.protocol.gazetteer.file
        if path.exists():
            gazetteer = pd.read_csv(path)
    base: dict[str, Any] = {
        "events": [{"name": e.name, "date": e.date} for e in a.events],
        "min_cell": a.min_cell,
        "alpha": a.alpha,
        "include_partial": not a.exclude_partial_years,
        "start_year": a.first_year,
        "end_year": a.last_year,
        "gazetteer": gazetteer,
        "as_of": store.clock().date(),
    }
    if a.findings:
        base["findings"] = a.findings
    if a.coverage_min_share is not None and a.last_year is None:
        base["end_year"] = coverage_end_year(store, a.coverage_min_share)
    base.update(overrides)
    return coerce_settings(base)


@dataclass
class StoredAnalysis:
    run_id: int
    result: Any  # fmreview.analysis.AnalysisResult

    def summary_counts(self) -> dict[str, Any]:
        meta = self.result.meta
        supported = sum(1 for f in self.result.findings if f.get("supported"))
        return {
            "works_analysed": meta.get("n_works", meta.get("works")),
            "tables": len(self.result.tables),
            "findings_supported": f"{supported}/{len(self.result.findings)}",
        }


def analyze_store(
    store: Store, *, reporter: Reporter | None = None, **overrides: Any
) -> StoredAnalysis:
    """Analyse the included works and store the result (artifact ``analysis/latest``)."""
    from fmreview.analysis import analyze, challenge_map, leave_one_source_out

    reporter = reporter or NullReporter()
    with store.run("analyze", {k: str(v) for k, v in overrides.items()}) as run:
        works, labels = analysis_frames(store)
        settings = analysis_settings(store, **overrides)
        result = analyze(works, labels, settings, reporter=reporter)
        result.tables["sensitivity"] = leave_one_source_out(
            works, labels, settings, work_sources(store, works["work_id"])
        )
        result.tables["challenge_map"] = challenge_map(labels)
        payload = result.to_json().encode("utf-8")
        store.add_artifact(
            ARTIFACT_KIND,
            ARTIFACT_KEY,
            payload,
            meta={"works": len(works), "labels": len(labels)},
            run_id=run.id,
        )
        stored = StoredAnalysis(run.id, result)
        run.counts.update(stored.summary_counts())
        run.config = {
            "settings": {k: str(v) for k, v in vars(settings).items() if k != "gazetteer"}
        }
    return stored


def load_latest_analysis(store: Store) -> dict[str, Any] | None:
    """The newest stored analysis as a dict (``to_dict`` form), or None."""
    row = store.latest_artifact(ARTIFACT_KIND, ARTIFACT_KEY)
    return json.loads(row.data) if row else None


def explain_store(store: Store, query: list[str]) -> pd.DataFrame:
    """The included works behind one cell: ``AXIS=VALUE [AXIS=VALUE…] [YEAR]``."""
    from fmreview.analysis import explain

    works, labels = analysis_frames(store)
    return explain(works, labels, query, analysis_settings(store))
