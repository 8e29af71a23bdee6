"""Exporting a review: records or works, with decisions and labels once they exist."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from fmreview.errors import InputError
from fmreview.extract.store_io import current_label_map
from fmreview.record import WORK_FIELDS, Record, record_from_columns
from fmreview.store import schema
from fmreview.store.records import row_to_record

if TYPE_CHECKING:
    from fmreview.store import Store

EXPORT_FORMATS = ("ris", "bibtex", "csv", "xlsx", "jsonl", "parquet")
WHAT = ("works", "records", "included", "excluded")


def _work_record(m: Mapping[str, Any]) -> Record:
    return record_from_columns(m, WORK_FIELDS)


def current_decisions(conn: sa.engine.Connection) -> dict[int, dict[str, Any]]:
    """The latest decision per work (by id): label, stage, criterion, reviewer."""
    d = schema.decisions
    latest: dict[int, dict[str, Any]] = {}
    for row in conn.execute(sa.select(d).order_by(d.c.id)):
        m = row._mapping
        latest[m["work_id"]] = {
            "decision": m["label"],
            "stage": m["stage"],
            "criterion": m["criterion"],
            "reviewer": m["reviewer"],
        }
    return latest


def current_labels(conn: sa.engine.Connection) -> dict[int, dict[str, list[str]]]:
    """Labels per work and axis (newest rows of the newest status win; rejected dropped)."""
    lab = schema.labels
    out: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    superseded = set(
        conn.execute(sa.select(lab.c.supersedes).where(lab.c.supersedes.is_not(None))).scalars()
    )
    for row in conn.execute(sa.select(lab).order_by(lab.c.id)):
        m = row._mapping
        if m["id"] in superseded or m["status"] == "rejected":
            continue
        vals = out[m["work_id"]][m["axis"]]
        if m["value"] not in vals:
            vals.append(m["value"])
    return {k: dict(v) for k, v in out.items()}


def label_map(store: Store) -> dict[int, dict[str, list[str]]]:
    """Labels per work and axis as the extraction policy resolves them (human > list > …)."""
    return current_label_map(store)


def export_review(
    store: Store, path: Path | str, *, format: str | None = None, what: str = "works"
) -> int:
    """Write the review's works (or raw records) to ``path``; returns the number written."""
    from fmreview import formats

    path = Path(path)
    fmt = format or {
        ".bib": "bibtex",
        ".ris": "ris",
        ".csv": "csv",
        ".xlsx": "xlsx",
        ".jsonl": "jsonl",
        ".parquet": "parquet",
    }.get(path.suffix.lower())
    if fmt not in EXPORT_FORMATS:
        raise InputError(
            f"cannot export to {path.name!r}: unknown format {fmt!r}; available: {', '.join(EXPORT_FORMATS)}"
        )
    if what not in WHAT:
        raise InputError(f"unknown export set {what!r}; available: {', '.join(WHAT)}")
    with store.run("export", {"path": str(path), "format": fmt, "what": what}) as run:
        with store.connect() as conn:
            if what == "records":
                rows = conn.execute(sa.select(schema.records).order_by(schema.records.c.id))
                recs: list[Any] = [row_to_record(r) for r in rows]
            else:
                from fmreview.status import work_statuses

                statuses = work_statuses(store, conn)
                decisions = current_decisions(conn)
                labels = label_map(store)
                recs = []
                q = (
                    sa.select(schema.works)
                    .where(schema.works.c.merged_into.is_(None))
                    .order_by(schema.works.c.id)
                )
                for row in conn.execute(q):
                    m = dict(row._mapping)
                    dec = decisions.get(m["id"], {})
                    st = statuses.get(m["id"])
                    status = st.status if st else "awaiting_screening"
                    # included/excluded follow the same derivation as the PRISMA counts
                    if what == "included" and status != "included":
                        continue
                    if what == "excluded" and not status.startswith("excluded"):
                        continue
                    rec = _work_record(m)
                    rec.extra = {"work_id": m["id"], "status": status}
                    if st and st.criterion:
                        rec.extra["criterion"] = st.criterion
                    if dec:
                        rec.extra.update({k: v for k, v in dec.items() if v})
                    if m["id"] in labels:
                        rec.extra["labels"] = labels[m["id"]]
                    recs.append(rec)
        n = formats.write_records(recs, path, format=fmt)
        run.counts["written"] = n
    return n
