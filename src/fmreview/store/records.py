"""Writing records into the store: idempotent by fingerprint, in batches.

The fingerprint of a record is a hash of its source name and its raw entry (or, for a
record without a raw entry, its normalised fields), plus the number of times the same
entry already occurred earlier in the same import. Importing the same file twice therefore
adds nothing, while two genuinely identical entries inside one file are both kept (dedupe
decides about them, with provenance).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fmreview.record import STANDARD_FIELDS, Record
from fmreview.store import schema

BATCH = 5000

#: Record fields stored as columns of ``records`` (authors are stored as [family, given] pairs).
_RECORD_FIELDS = (*(f for f in STANDARD_FIELDS if f != "authors"), "extra")


@dataclass
class ImportCounts:
    added: int = 0
    already_present: int = 0
    quarantined: int = 0
    record_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {
            "added": self.added,
            "already_present": self.already_present,
            "quarantined": self.quarantined,
        }


def _canonical(value: Any) -> bytes:
    try:
        return orjson.dumps(
            value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str
        )
    except TypeError:  # e.g. integers beyond 64 bits: fall back to the standard library
        text = json.dumps(
            value, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")
        )
        return text.encode()


def record_digest(record: Record, source: str) -> str:
    payload = (
        record.raw
        if record.raw is not None
        else {k: getattr(record, k) for k in _RECORD_FIELDS}
        | {"authors": [[a.family, a.given] for a in record.authors]}
    )
    return hashlib.sha256(source.encode() + b"\x1f" + _canonical(payload)).hexdigest()


def record_row(
    record: Record,
    *,
    fingerprint: str,
    source: str,
    source_kind: str,
    run_id: int,
    retrieved_at: datetime,
    origin: str | None,
    format: str | None,
    search_id: int | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {k: getattr(record, k) for k in _RECORD_FIELDS}
    for k in (
        "title",
        "abstract",
        "venue",
        "volume",
        "issue",
        "pages",
        "publisher",
        "type",
        "language",
        "url",
    ):
        row[k] = row[k] or ""
    row["date"] = (row["date"] or None) and str(row["date"])[:10]
    row["authors"] = [[a.family, a.given] for a in record.authors]
    row["raw"] = record.raw
    row.update(
        fingerprint=fingerprint,
        source=source,
        source_kind=source_kind,
        origin=origin,
        format=format,
        position=record.position,
        line=record.line,
        run_id=run_id,
        search_id=search_id,
        retrieved_at=retrieved_at,
    )
    return row


def _batches(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


_JSON_COLS = frozenset(c.name for c in schema.records.columns if isinstance(c.type, sa.JSON))


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, default=str)


def _insert_sqlite(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The bulk path for SQLite: one compiled INSERT handed to the driver's executemany.

    SQLAlchemy's per-row bind processing (five JSON columns, a datetime) was most of the
    cost of an import; here the same statement is compiled once from the schema table (no
    SQL text is assembled by hand), JSON is serialised by orjson, and the timestamp by
    SQLAlchemy's own SQLite processor, so rows read back exactly as the Core path writes them.
    """
    cols = [c.name for c in schema.records.columns if c.name != "id"]
    compiled = sa.insert(schema.records).compile(dialect=conn.dialect, column_keys=cols)
    order = list(compiled.positiontup or cols)
    ts = schema.records.c.retrieved_at.type.bind_processor(conn.dialect)
    params = []
    for r in rows:
        values = []
        for c in order:
            v = r.get(c)
            if c in _JSON_COLS:
                v = _json_text(v)
            elif c == "retrieved_at" and ts is not None:
                v = ts(v)
            values.append(v)
        params.append(tuple(values))
    conn.exec_driver_sql(str(compiled), params)


def insert_rows(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert record rows whose fingerprint is new; return the ids of the new rows."""
    if not rows:
        return []
    fps = [r["fingerprint"] for r in rows]
    present = set(
        conn.execute(
            sa.select(schema.records.c.fingerprint).where(schema.records.c.fingerprint.in_(fps))
        ).scalars()
    )
    new = [r for r in rows if r["fingerprint"] not in present]
    if not new:
        return []
    if conn.dialect.name == "sqlite":
        _insert_sqlite(conn, new)
    else:
        conn.execute(sa.insert(schema.records), new)
    new_fps = [r["fingerprint"] for r in new]
    return list(
        conn.execute(
            sa.select(schema.records.c.id)
            .where(schema.records.c.fingerprint.in_(new_fps))
            .order_by(schema.records.c.id)
        ).scalars()
    )


def add_records(
    store: Any,
    records: Iterable[Record],
    *,
    source: str,
    source_kind: str,
    run_id: int,
    origin: str | None = None,
    format: str | None = None,
    search_id: int | None = None,
    conn: Connection | None = None,
    keep_ids: bool = False,
) -> ImportCounts:
    """Store records, skipping those already present (same fingerprint).

    Parameters
    ----------
    store : Store
        The review store.
    records : iterable of Record
        Streamed; written in batches of 5,000.
    source, source_kind : str
        Where the records come from (``openalex`` / ``database``, ``scopus.ris`` / ``file``,
        ``curated lists`` / ``other``).
    conn : Connection, optional
        Write inside this transaction (e.g. a strict import, or a search page together with
        its cursor). Without it, each batch commits on its own, so an interrupted import
        keeps what it wrote and a re-run adds only the rest.
    keep_ids : bool
        Collect the ids of the added records in ``ImportCounts.record_ids``.
    """
    counts = ImportCounts()
    seen: dict[bytes, int] = {}
    now = store.clock()

    def rows() -> Iterator[dict[str, Any]]:
        for rec in records:
            digest = record_digest(rec, source)
            key = bytes.fromhex(digest)[:16]
            k = seen.get(key, 0)
            seen[key] = k + 1
            fp = digest if k == 0 else hashlib.sha256(f"{digest}#{k}".encode()).hexdigest()
            yield record_row(
                rec,
                fingerprint=fp,
                source=source,
                source_kind=source_kind,
                run_id=run_id,
                retrieved_at=now,
                origin=origin,
                format=format,
                search_id=search_id,
            )

    for batch in _batches(rows(), BATCH):
        if conn is not None:
            ids = insert_rows(conn, batch)
        else:
            with store.begin() as c:
                ids = insert_rows(c, batch)
        counts.added += len(ids)
        counts.already_present += len(batch) - len(ids)
        if keep_ids:
            counts.record_ids.extend(ids)
    return counts


def row_to_record(row: Any) -> Record:
    """A stored ``records`` row back as a :class:`Record` (for export and re-processing)."""
    m = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    data = {k: m.get(k) for k in _RECORD_FIELDS}
    data["authors"] = [tuple(a) for a in (m.get("authors") or [])]
    data["raw"] = m.get("raw")
    data["position"] = m.get("position")
    data["line"] = m.get("line")
    for k in ("keywords", "source_labels"):
        data[k] = data[k] or []
    data["extra"] = data["extra"] or {}
    return Record.from_dict(data)


def count_records(store: Any) -> int:
    with store.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(schema.records)).scalar_one()
        )
