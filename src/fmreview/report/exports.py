"""Exports reviewers need: included and excluded studies (RIS, BibTeX, CSV) with their
decisions and labels, the extraction table, and RevMan's study information / study data CSVs.

Bibliographic files are written by :func:`fmreview.formats.write_records` (RIS puts the
``extra`` fields — status, decision, criterion, labels — in ``N1`` notes, BibTeX in
``fmreview_*`` fields). Which works are included or excluded comes from
:func:`fmreview.status.work_statuses`, the same derivation as the PRISMA counts, so the
files and the diagram agree.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from fmreview.exporter import _work_record, current_decisions, label_map
from fmreview.extract.store_io import current_labels
from fmreview.status import WorkStatus, work_statuses
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store

EXCLUDED = ("excluded_automation", "excluded_title_abstract", "excluded_full_text")
BIB_FORMATS = {"ris": "ris", "bib": "bibtex", "csv": "csv"}


def _study_records(
    store: Store, statuses: dict[int, WorkStatus], keep: tuple[str, ...]
) -> list[Any]:
    w = schema.works
    ids = [wid for wid, s in statuses.items() if s.status in keep]
    if not ids:
        return []
    out = []
    with store.connect() as conn:
        decisions = current_decisions(conn)
        labels = label_map(store)
        rows = conn.execute(sa.select(w).where(w.c.id.in_(ids)).order_by(w.c.id)).all()
    for row in rows:
        m = dict(row._mapping)
        st = statuses[m["id"]]
        rec = _work_record(m)
        extra: dict[str, Any] = {"work_id": m["id"], "status": st.status}
        if st.criterion:
            extra["criterion"] = st.criterion
        extra["human_confirmed"] = "yes" if st.human else "no"
        dec = decisions.get(m["id"], {})
        if dec:
            extra["last_decision"] = (
                f"{dec.get('stage')}: {dec.get('decision')} by {dec.get('reviewer')}"
            )
        if m["id"] in labels:
            extra["labels"] = {axis: "; ".join(vals) for axis, vals in labels[m["id"]].items()}
        rec.extra = extra
        out.append(rec)
    return out


def export_studies(
    store: Store, folder: Path, *, statuses: dict[int, WorkStatus] | None = None
) -> dict[str, Path]:
    """Write ``included.{ris,bib,csv}`` and ``excluded.{ris,bib,csv}`` into ``folder``."""
    from fmreview.formats import write_records

    folder.mkdir(parents=True, exist_ok=True)
    statuses = statuses if statuses is not None else work_statuses(store)
    paths: dict[str, Path] = {}
    for what, keep in (("included", ("included",)), ("excluded", EXCLUDED)):
        recs = _study_records(store, statuses, keep)
        for ext, fmt in BIB_FORMATS.items():
            p = folder / f"{what}.{ext}"
            write_records(
                recs,
                p,
                format=fmt,
                extra_columns=(
                    "work_id",
                    "status",
                    "criterion",
                    "human_confirmed",
                    "last_decision",
                    "labels",
                ),
            )
            paths[f"{what}_{ext}"] = p
    return paths


def extraction_table(store: Store, work_ids: list[int] | None = None) -> pd.DataFrame:
    """Work × axis → value, one row per current label, with method, confidence, status and evidence.

    The rows are the current labels of :func:`fmreview.report.numbers.current_label_frame`'s
    source (the extraction policy), so the file holds exactly the labels the report counts;
    below-threshold candidates and superseded rows stay in the store's audit history.
    Years are whole numbers (an empty cell when unknown), never ``2018.0``.
    """
    cols = [
        "work_id",
        "title",
        "year",
        "axis",
        "value",
        "method",
        "confidence",
        "status",
        "role",
        "reviewer",
        "evidence",
    ]
    cur = current_labels(store, work_ids=work_ids)
    w = schema.works
    ids = sorted({int(i) for i in cur["work_id"]}) if len(cur) else []
    with store.connect() as conn:
        meta = (
            {
                int(r.id): (r.title, r.year)
                for r in conn.execute(sa.select(w.c.id, w.c.title, w.c.year).where(w.c.id.in_(ids)))
            }
            if ids
            else {}
        )
    out = []
    for m in cur.to_dict("records"):
        ev = m.get("evidence") or []
        text = " | ".join(
            str(e.get("text", "")) for e in ev if isinstance(e, dict) and e.get("text")
        )
        title, year = meta.get(int(m["work_id"]), (None, None))
        out.append(
            {
                "work_id": int(m["work_id"]),
                "title": title,
                "year": year,
                "axis": m["axis"],
                "value": m["value"],
                "method": m["method"],
                "confidence": m["confidence"],
                "status": m["status"],
                "role": m.get("role"),
                "reviewer": m.get("reviewer"),
                "evidence": text,
            }
        )
    df = pd.DataFrame(out, columns=cols)
    df["year"] = pd.array(df["year"], dtype="Int64")
    df["work_id"] = pd.array(df["work_id"], dtype="Int64")
    return df


def _study_id(m: dict[str, Any]) -> str:
    authors = m.get("authors") or []
    first = authors[0][0] if authors and authors[0] and authors[0][0] else ""
    name = first or (m.get("title") or "").split(" ")[0] or f"work{m['id']}"
    return f"{name} {m.get('year') or 'n.d.'}"


def revman_tables(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RevMan's *study information* and *study data* tables from the ``effects`` table.

    Study data carries, per study and outcome, dichotomous counts (events/total per arm),
    continuous summaries (mean/SD/total per arm) or, for other measures, the estimate and
    its standard error (generic inverse variance, SE = sqrt(vi)).
    """
    e, w = schema.effects, schema.works
    with store.connect() as conn:
        effects = [dict(r._mapping) for r in conn.execute(sa.select(e).order_by(e.c.id))]
        wids = sorted({x["work_id"] for x in effects if x["work_id"] is not None})
        works = (
            {r.id: dict(r._mapping) for r in conn.execute(sa.select(w).where(w.c.id.in_(wids)))}
            if wids
            else {}
        )
    info: dict[str, dict[str, Any]] = {}
    data = []
    for x in effects:
        wm = works.get(x["work_id"]) if x["work_id"] is not None else None
        study = x["study"] or (_study_id(wm) if wm else f"effect {x['id']}")
        if study not in info:
            info[study] = {
                "Study ID": study,
                "Work ID": x["work_id"],
                "Title": (wm or {}).get("title", ""),
                "Year": (wm or {}).get("year"),
                "DOI": (wm or {}).get("doi") or "",
                "URL": (wm or {}).get("url") or "",
                "Source": x["source"],
            }
        vi = x["vi"]
        data.append(
            {
                "Study ID": study,
                "Outcome": x["outcome"],
                "Subgroup": x["subgroup"] or "",
                "Measure": x["measure"] or "",
                "Experimental events": x["ai"],
                "Experimental total": x["n1i"]
                if x["n1i"] is not None
                else (x["ai"] + x["bi"] if x["ai"] is not None and x["bi"] is not None else None),
                "Control events": x["ci"],
                "Control total": x["n2i"]
                if x["n2i"] is not None
                else (x["ci"] + x["di"] if x["ci"] is not None and x["di"] is not None else None),
                "Experimental mean": x["m1i"],
                "Experimental SD": x["sd1i"],
                "Control mean": x["m2i"],
                "Control SD": x["sd2i"],
                "Estimate": x["yi"],
                "SE": math.sqrt(vi) if vi is not None and vi >= 0 else None,
            }
        )
    info_cols = ["Study ID", "Work ID", "Title", "Year", "DOI", "URL", "Source"]
    data_cols = [
        "Study ID",
        "Outcome",
        "Subgroup",
        "Measure",
        "Experimental events",
        "Experimental total",
        "Control events",
        "Control total",
        "Experimental mean",
        "Experimental SD",
        "Control mean",
        "Control SD",
        "Estimate",
        "SE",
    ]
    info_df = pd.DataFrame(list(info.values()), columns=info_cols)
    for col in ("Work ID", "Year"):  # whole numbers, not 2018.0 when one is missing
        info_df[col] = pd.array(info_df[col], dtype="Int64")
    return info_df, pd.DataFrame(data, columns=data_cols)


def export_all(
    store: Store, folder: Path, *, statuses: dict[int, WorkStatus] | None = None
) -> dict[str, Path]:
    """Every export: studies (RIS/BibTeX/CSV), extraction table (CSV/XLSX), RevMan CSVs."""
    statuses = statuses if statuses is not None else work_statuses(store)
    paths = export_studies(store, folder, statuses=statuses)
    included = sorted(wid for wid, s in statuses.items() if s.status == "included")
    ext = extraction_table(store, included)
    paths["extraction_csv"] = folder / "extraction.csv"
    paths["extraction_xlsx"] = folder / "extraction.xlsx"
    ext.to_csv(paths["extraction_csv"], index=False)
    with pd.ExcelWriter(paths["extraction_xlsx"], engine="openpyxl") as xw:
        ext.to_excel(xw, index=False, sheet_name="extraction")
    info, data = revman_tables(store)
    paths["revman_study_information"] = folder / "revman_study_information.csv"
    paths["revman_study_data"] = folder / "revman_study_data.csv"
    info.to_csv(paths["revman_study_information"], index=False)
    data.to_csv(paths["revman_study_data"], index=False)
    return paths
