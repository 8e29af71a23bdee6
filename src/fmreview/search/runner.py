"""Run a protocol's searches into the store, resumably.

For each enabled source :func:`run_search` creates (or resumes) a row in ``searches`` that
holds the exact query, the first request URL, the date window, the total hit count the
source reports (the PRISMA identification number per database) and the paging ``cursor``.
Each page's records and the cursor of the next page are written in **one transaction**, so
an interrupted search resumes from its last stored cursor: no page is stored twice and none
is skipped (records are also idempotent by fingerprint, so a page read twice adds nothing).

Sources are independent: one that fails (after retries) is marked ``failed`` with its
message, the others go on, and :func:`run_search` raises a :class:`SourceError` naming the
failed sources at the end (after everything the others returned is stored).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import httpx
import sqlalchemy as sa

from fmreview.errors import FmreviewError, InputError, SourceError
from fmreview.progress import NullReporter, Reporter
from fmreview.search.base import Source, as_date, iso
from fmreview.search.http import HttpClient, make_http
from fmreview.search.sources import enabled_sources, make_source
from fmreview.store import schema
from fmreview.store.records import add_records

Since = dt.date | str | None


def search_query_json(source: Source) -> dict[str, Any]:
    """What ``searches.query`` holds: the query in the source's syntax, its params and cap.

    JSON-safe (a date in ``params`` becomes its ISO string), so it compares equal to what
    the store gives back.
    """
    value = {"query": source.query, "params": source.params, "max": source.max}
    return json.loads(json.dumps(value, default=str))


def run_search(
    store: Any,
    *,
    sources: list[str] | tuple[str, ...] | None = None,
    since: Since | Mapping[str, Since] = None,
    until: Since = None,
    max: int | None = None,
    client: httpx.Client | None = None,
    http: HttpClient | None = None,
    reporter: Reporter | None = None,
    run: Any = None,
    resume: bool = True,
    cache: bool | None = None,
    raise_errors: bool = True,
    environ: Mapping[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Search the protocol's sources and store the records.

    Parameters
    ----------
    store : Store
        The review store (its protocol says what to search).
    sources : list of str, optional
        Only these sources (default: every enabled one).
    since : date, ISO string, or mapping source -> date
        Only records from this date on (narrows the protocol's ``date_range``); a mapping
        gives each source its own start (``fmreview update``).
    until : date or ISO string, optional
        Only records up to this date.
    max : int, optional
        At most this many records per source (the protocol's ``max`` also applies).
    client : httpx.Client, optional
        Injected transport (tests); ``http`` injects the whole :class:`HttpClient`.
    reporter : Reporter, optional
        Progress display.
    run : Run, optional
        Record into this run instead of opening a ``search`` run.
    resume : bool
        Continue an unfinished search of the same source, query and dates from its cursor.
    cache : bool, optional
        Override the protocol's ``search.cache``.
    raise_errors : bool
        Raise :class:`SourceError` at the end when a source failed.
    environ : mapping, optional
        Where API keys are read (default ``os.environ``).

    Returns
    -------
    dict
        Per source: ``status`` (done/failed), ``search_id``, ``total_hits``, ``fetched``,
        ``added``, ``already_present``, ``skipped``, ``pages``, ``resumed``, ``url``,
        ``warnings`` and ``error``.
    """
    protocol = store.protocol
    names = enabled_sources(protocol, list(sources) if sources else None)
    if not names:
        raise InputError(
            "the protocol has no enabled source to search; add one under 'sources:' "
            f"(available: {', '.join(protocol.sources) or 'none listed'})"
        )
    reporter = reporter or NullReporter()
    own_http = http is None
    if http is None:
        http = make_http(protocol.search, folder=store.folder, client=client, cache=cache)
    params = {
        "sources": names,
        "since": {k: iso(as_date(v)) for k, v in since.items()}
        if isinstance(since, Mapping)
        else iso(as_date(since)),
        "until": iso(as_date(until)),
        "max": max,
    }
    ctx: AbstractContextManager[Any] = (
        store.run("search", params) if run is None else nullcontext(run)
    )
    results: dict[str, dict[str, Any]] = {}
    try:
        with ctx as r:
            for name in names:
                s = since.get(name) if isinstance(since, Mapping) else since
                try:
                    results[name] = search_source(
                        store,
                        r.id,
                        name,
                        http,
                        since=as_date(s),
                        until=as_date(until),
                        max=max,
                        reporter=reporter,
                        resume=resume,
                        environ=environ,
                    )
                except FmreviewError as exc:
                    reporter.log(f"{name}: {exc}")
                    results[name] = getattr(exc, "search_counts", None) or {
                        "status": "failed",
                        "error": str(exc),
                    }
                finally:
                    r.counts.setdefault("search", {})[name] = results.get(
                        name, {"status": "failed"}
                    )
            failed = {n: c for n, c in results.items() if c.get("status") != "done"}
            if failed and raise_errors:
                err = SourceError(
                    f"{len(failed)} of {len(names)} source(s) failed: "
                    + "; ".join(f"{n}: {c.get('error')}" for n, c in failed.items())
                    + "; run the same command again to resume (what was stored is kept)"
                )
                err.counts = results  # type: ignore[attr-defined]
                raise err
    finally:
        if own_http:
            http.close()
    return results


def _find_resumable(
    conn: Any, name: str, query: dict[str, Any], since: str | None, until: str | None
) -> Any:
    s = schema.searches
    rows = conn.execute(sa.select(s).where(s.c.source == name).order_by(s.c.id.desc())).all()
    for row in rows:
        if row.query == query and row.since == since and row.until == until:
            if row.status != "done" and row.cursor is not None:
                return row
            return None
    return None


def search_source(
    store: Any,
    run_id: int,
    name: str,
    http: HttpClient,
    *,
    since: dt.date | None = None,
    until: dt.date | None = None,
    max: int | None = None,
    reporter: Reporter | None = None,
    resume: bool = True,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Search one source into the store (see :func:`run_search`); raise on failure."""
    reporter = reporter or NullReporter()
    source = make_source(store.protocol, name, since=since, until=until, max=max, environ=environ)
    s = schema.searches
    query = search_query_json(source)
    since_s, until_s = iso(source.since), iso(source.until)
    url = source.first_url()
    with store.begin() as conn:
        row = _find_resumable(conn, name, query, since_s, until_s) if resume else None
        if row is not None:
            search_id, cursor, fetched = int(row.id), dict(row.cursor), int(row.fetched or 0)
            conn.execute(
                sa.update(s).where(s.c.id == search_id).values(status="running", error=None)
            )
            reporter.log(f"{name}: resuming search {search_id} after {fetched} record(s)")
        else:
            cursor, fetched = source.first_cursor(), 0
            search_id = int(
                conn.execute(
                    sa.insert(s).values(
                        run_id=run_id,
                        source=name,
                        query=query,
                        url=url,
                        since=since_s,
                        until=until_s,
                        started_at=store.clock(),
                        fetched=0,
                        cursor=cursor,
                        status="running",
                    )
                ).inserted_primary_key[0]
            )
    counts: dict[str, Any] = {
        "status": "running",
        "search_id": search_id,
        "url": url,
        "resumed": row is not None,
        "total_hits": row.total_hits if row is not None else None,
        "fetched": 0,
        "added": 0,
        "already_present": 0,
        "skipped": 0,
        "pages": 0,
        "warnings": [],
        "error": None,
    }
    done = False
    try:
        with reporter.task(f"{name}", total=None) as task:
            for page in source.pages(http, cursor, fetched=fetched, warn=None):
                fetched += len(page.records)
                values: dict[str, Any] = {"fetched": fetched}
                if page.total is not None:
                    values["total_hits"] = page.total
                    counts["total_hits"] = page.total
                    task.update(
                        total=page.total if source.max is None else min(page.total, source.max)
                    )
                if page.next_cursor is None:
                    values.update(status="done", cursor=None, finished_at=store.clock())
                    done = True
                else:
                    values["cursor"] = page.next_cursor
                with store.begin() as conn:
                    ic = add_records(
                        store,
                        page.records,
                        source=name,
                        source_kind="database",
                        run_id=run_id,
                        origin=source.query_text,
                        format=source.format,
                        search_id=search_id,
                        conn=conn,
                    )
                    conn.execute(sa.update(s).where(s.c.id == search_id).values(**values))
                counts["pages"] += 1
                counts["fetched"] += len(page.records)
                counts["added"] += ic.added
                counts["already_present"] += ic.already_present
                counts["skipped"] += len(page.skipped)
                for w in page.warnings + page.skipped[:5]:
                    counts["warnings"].append(w)
                    reporter.log(w)
                task.advance(len(page.records))
        if not done:  # nothing left to fetch (max reached before a page)
            with store.begin() as conn:
                conn.execute(
                    sa.update(s)
                    .where(s.c.id == search_id)
                    .values(status="done", cursor=None, finished_at=store.clock())
                )
    except BaseException as exc:
        message = str(exc) if isinstance(exc, FmreviewError) else f"{type(exc).__name__}: {exc}"
        with store.begin() as conn:
            conn.execute(
                sa.update(s).where(s.c.id == search_id).values(status="failed", error=message)
            )
        counts.update(status="failed", error=message)
        if isinstance(exc, FmreviewError):
            exc.search_counts = counts  # type: ignore[attr-defined]
        raise
    counts["status"] = "done"
    return counts
