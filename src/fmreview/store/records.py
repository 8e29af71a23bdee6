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
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, NotRequired, TypedDict, Unpack

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from fmreview.record import STANDARD_FIELDS, TEXT_FIELDS, Record, record_from_columns
from fmreview.store import schema

BATCH = 5000
#: rows a transaction (several batches; see :func:`add_records`)
COMMIT_ROWS = 50_000

#: Record fields stored as columns of ``records`` (authors are stored as [family, given] pairs).
_RECORD_FIELDS = (*(f for f in STANDARD_FIELDS if f != "authors"), "extra")


@dataclass
class ImportCounts:
    added: int = 0
    already_present: int = 0
    quarantined: int = 0
    record_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        """The counts (the ids are for the caller, not for the run's summary)."""
        return {k: v for k, v in asdict(self).items() if k != "record_ids"}


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


class Provenance(TypedDict):
    """Where the records of one import come from: the keywords :func:`row_spec` and
    :func:`add_records` take and every stored row gets (:class:`RowSpec`)."""

    source: str
    source_kind: str
    run_id: int
    origin: NotRequired[str | None]
    format: NotRequired[str | None]
    search_id: NotRequired[int | None]


#: The provenance keys, in the order of :class:`Provenance`.
PROVENANCE_KEYS = tuple(Provenance.__annotations__)


def record_row(record: Record, spec: RowSpec, *, fingerprint: str) -> dict[str, Any]:
    """The column values of one record imported as ``spec`` says."""
    row: dict[str, Any] = {k: getattr(record, k) for k in _RECORD_FIELDS}
    for k in TEXT_FIELDS:
        row[k] = row[k] or ""
    row["date"] = (row["date"] or None) and str(row["date"])[:10]
    row["authors"] = [[a.family, a.given] for a in record.authors]
    row["raw"] = record.raw
    row.update({k: getattr(spec, k) for k in PROVENANCE_KEYS})
    row.update(
        fingerprint=fingerprint,
        position=record.position,
        line=record.line,
        retrieved_at=spec.retrieved_at,
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


@dataclass(frozen=True)
class RowSpec:
    """What every row of one import shares, and how its values are laid out.

    Built once per import in the main process (:func:`row_spec`) and handed to parser
    worker processes, which then turn their records into ready-to-insert rows
    (:func:`prepare_row`): the digest, JSON and row building run on every core, and the
    main process only counts repeats and writes.

    ``columns`` is the order of the compiled INSERT's parameters; ``sqlite`` says whether
    rows are positional tuples with JSON as text (SQLite's bulk path) or column dicts
    (SQLAlchemy Core, PostgreSQL). ``retrieved_at`` is the import time as the dialect's
    bind processor renders it, so both paths store the same value.
    """

    source: str
    source_kind: str
    run_id: int
    retrieved_at: Any
    origin: str | None
    format: str | None
    search_id: int | None
    sqlite: bool
    columns: tuple[str, ...]
    statement: str
    #: the same INSERT that skips a row whose fingerprint is already stored
    statement_new_only: str = ""

    @property
    def fingerprint_index(self) -> int:
        return self.columns.index("fingerprint")


#: ``(digest, params)``: a record ready to insert (params as :attr:`RowSpec.columns`).
PreparedRow = tuple[str, Any]


def row_spec(
    store: Any, *, retrieved_at: datetime | None = None, **provenance: Unpack[Provenance]
) -> RowSpec:
    """The :class:`RowSpec` of an import into ``store`` (its dialect decides the layout)."""
    dialect = store.engine.dialect
    now = retrieved_at or store.clock()
    cols = [c.name for c in schema.records.columns if c.name != "id"]
    sqlite = dialect.name == "sqlite"
    if sqlite:
        compiled = sa.insert(schema.records).compile(dialect=dialect, column_keys=cols)
        cols = list(compiled.positiontup or cols)
        # the dialect's own DATETIME processor (the generic type has none, and sqlite3's
        # deprecated default adapter would write a different text form than Core does)
        col_type = schema.records.c.retrieved_at.type
        ts = col_type.dialect_impl(dialect).bind_processor(dialect)
        stamp: Any = ts(now) if ts is not None else now
        statement = str(compiled)
        upsert = (
            sqlite_insert(schema.records)
            .on_conflict_do_nothing(index_elements=[schema.records.c.fingerprint])
            .compile(dialect=dialect, column_keys=cols)
        )
        assert list(upsert.positiontup or ()) == cols, "both statements take the same tuples"
        new_only = str(upsert)
    else:
        stamp, statement, new_only = now, "", ""
    return RowSpec(
        source=provenance["source"],
        source_kind=provenance["source_kind"],
        run_id=provenance["run_id"],
        retrieved_at=stamp,
        origin=provenance.get("origin"),
        format=provenance.get("format"),
        search_id=provenance.get("search_id"),
        sqlite=sqlite,
        columns=tuple(cols),
        statement=statement,
        statement_new_only=new_only,
    )


def prepare_row(record: Record, spec: RowSpec) -> PreparedRow:
    """``(digest, params)`` for one record: what the main process inserts as is.

    A pure function of the record and the spec (it runs in parser worker processes); the
    fingerprint in ``params`` is the digest until :func:`add_records` renames repeats.
    """
    digest = record_digest(record, spec.source)
    row = record_row(record, spec, fingerprint=digest)
    if not spec.sqlite:
        return digest, row
    # JSON as text by orjson (SQLAlchemy's per-row bind processing was most of an import's
    # cost); the same text the Core path writes, so rows read back identically
    return digest, tuple(
        _json_text(row[c]) if c in _JSON_COLS else row.get(c) for c in spec.columns
    )


def _with_fingerprint(params: Any, spec: RowSpec, fingerprint: str) -> Any:
    if not spec.sqlite:
        return params | {"fingerprint": fingerprint}
    i = spec.fingerprint_index
    return (*params[:i], fingerprint, *params[i + 1 :])


def insert_prepared(
    conn: Connection, batch: list[tuple[str, Any]], spec: RowSpec, *, want_ids: bool = False
) -> tuple[int, list[int]]:
    """Insert ``(fingerprint, params)`` pairs whose fingerprint is new.

    Returns the number added and, with ``want_ids``, their ids in insertion order.
    """
    if not batch:
        return 0, []
    if spec.sqlite and not want_ids:
        # the unique fingerprint index says what is new as the rows go in: no lookup first
        # (a second random probe of that index per row, most of it cache misses at scale)
        cur = conn.exec_driver_sql(spec.statement_new_only, [params for _, params in batch])
        return cur.rowcount, []
    fps = [fp for fp, _ in batch]
    present = set(
        conn.execute(
            sa.select(schema.records.c.fingerprint).where(schema.records.c.fingerprint.in_(fps))
        ).scalars()
    )
    new = [(fp, params) for fp, params in batch if fp not in present] if present else batch
    if not new:
        return 0, []
    if spec.sqlite:
        # one compiled statement (from the schema table: no SQL text assembled by hand)
        # handed to the driver's executemany
        conn.exec_driver_sql(spec.statement, [params for _, params in new])
    else:
        conn.execute(sa.insert(schema.records), [params for _, params in new])
    if not want_ids:
        return len(new), []
    new_fps = [fp for fp, _ in new]
    ids = list(
        conn.execute(
            sa.select(schema.records.c.id)
            .where(schema.records.c.fingerprint.in_(new_fps))
            .order_by(schema.records.c.id)
        ).scalars()
    )
    return len(new), ids


class SeenKeys:
    """A set of 64-bit keys in sorted numpy runs: 8 bytes a key.

    A Python set of a million ints took ~85 MB of an import's 500 MB budget; this takes 8.
    Runs are merged when the newest is at least half the size of the one before, so each
    key is merged O(log n) times (a log-structured merge, written here because no
    well-kept library offers a compact integer set with batch lookups).
    """

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    def add(self, keys: np.ndarray) -> np.ndarray:
        """Add ``keys`` (in order); return, per key, whether it occurred before it."""
        keys = np.asarray(keys, dtype=np.uint64)
        again = np.zeros(len(keys), dtype=bool)
        if not len(keys):
            return again
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        # within the batch: every occurrence after the first of its key (stable order)
        again[order[1:][ordered[1:] == ordered[:-1]]] = True
        for run in self._runs:
            i = np.searchsorted(run, keys)
            hit = i < len(run)
            hit[hit] = run[i[hit]] == keys[hit]
            again |= hit
        new = np.unique(keys[~again])
        if len(new):
            self._runs.append(new)
            while len(self._runs) > 1 and 2 * len(self._runs[-1]) >= len(self._runs[-2]):
                last = self._runs.pop()
                # runs are disjoint and sorted: a stable sort of the two is a linear merge
                # (timsort finds the two runs), where union1d sorted and deduplicated again
                self._runs[-1] = np.sort(np.concatenate((self._runs[-1], last)), kind="stable")
        return again


#: SQLite page cache for an import's connection (KiB): the fingerprint and identifier
#: indexes are written in random order, and SQLite's default 2 MB cache makes every insert
#: into a large store read index pages back from the OS.
IMPORT_CACHE_KIB = 65536


def add_records(
    store: Any,
    records: Iterable[Record | PreparedRow],
    *,
    conn: Connection | None = None,
    keep_ids: bool = False,
    spec: RowSpec | None = None,
    **provenance: Unpack[Provenance],
) -> ImportCounts:
    """Store records, skipping those already present (same fingerprint).

    Parameters
    ----------
    store : Store
        The review store.
    records : iterable of Record or PreparedRow
        Streamed; written in batches of 5,000. Items may already be prepared rows
        (:func:`prepare_row` with ``spec``, e.g. by parser worker processes).
    **provenance : Provenance
        Where the records come from: ``source`` and ``source_kind`` (``openalex`` /
        ``database``, ``scopus.ris`` / ``file``, ``curated lists`` / ``other``), ``run_id``
        and optionally ``origin``, ``format``, ``search_id``.
    conn : Connection, optional
        Write inside this transaction (e.g. a strict import, or a search page together with
        its cursor). Without it, every 50,000 rows (``COMMIT_ROWS``) commit on their own, so an
        interrupted import keeps what it wrote and a re-run adds only the rest.
    keep_ids : bool
        Collect the ids of the added records in ``ImportCounts.record_ids``.
    spec : RowSpec, optional
        The spec prepared rows were made with (default: one made here from the arguments).
    """
    counts = ImportCounts()
    spec = spec or row_spec(store, **provenance)
    # a repeated entry gets the fingerprint of its k-th occurrence (k = earlier occurrences)
    seen = SeenKeys()
    repeats: dict[int, int] = {}

    def rows(items: list[Record | PreparedRow]) -> list[tuple[str, Any]]:
        prepared = [it if it.__class__ is tuple else prepare_row(it, spec) for it in items]  # type: ignore[arg-type]
        keys = np.fromiter(
            (int(d[:16], 16) for d, _ in prepared), dtype=np.uint64, count=len(prepared)
        )
        out: list[tuple[str, Any]] = []
        for (digest, params), key, again in zip(
            prepared, keys.tolist(), seen.add(keys).tolist(), strict=True
        ):
            if not again:
                out.append((digest, params))
                continue
            k = repeats.get(key, 1)
            repeats[key] = k + 1
            fp = hashlib.sha256(f"{digest}#{k}".encode()).hexdigest()
            out.append((fp, _with_fingerprint(params, spec, fp)))
        return out

    def write(c: Connection, batch: list[tuple[str, Any]]) -> None:
        if spec.sqlite:
            c.exec_driver_sql(f"PRAGMA cache_size=-{int(IMPORT_CACHE_KIB)}")
        added, ids = insert_prepared(c, batch, spec, want_ids=keep_ids)
        counts.added += added
        counts.already_present += len(batch) - added
        counts.record_ids.extend(ids)

    batches = _batches(records, BATCH)
    if conn is not None:
        for items in batches:
            write(conn, rows(items))
        return counts
    more = True
    while more:
        # several batches a transaction: every commit rewrites each index page it touched
        # (the fingerprint and DOI indexes are written in random order), so a commit per
        # 5,000 rows wrote the indexes again and again
        with store.begin() as c:
            done = 0
            for items in batches:
                write(c, rows(items))
                done += len(items)
                if done >= COMMIT_ROWS:
                    break
            else:
                more = False
    return counts


def row_to_record(row: Any) -> Record:
    """A stored ``records`` row back as a :class:`Record` (for export and re-processing)."""
    m = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    rec = record_from_columns(m)
    rec.extra = m.get("extra") or {}
    rec.raw, rec.position, rec.line = m.get("raw"), m.get("position"), m.get("line")
    return rec


def count_records(store: Any) -> int:
    with store.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(schema.records)).scalar_one()
        )
