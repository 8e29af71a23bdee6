"""Fill in missing abstracts from the sources that hold them.

:func:`enrich` finds records that carry a DOI, PMID or arXiv id but no abstract (and whose
identifier no other record already pairs with an abstract), looks them up by identifier and
stores what it finds.

Records are never edited. Each answer is stored as a **new record** from the source that
gave it, with ``source_kind='enrichment'`` and an ``extra["enrichment"]`` entry saying
which source filled which fields, by which identifier, for which record ids::

    {"source": "pubmed", "lookup": "pmid", "id": "12345678",
     "for_records": [17, 42], "filled": ["abstract", "keywords"]}

Dedupe links the new record to the old one by the shared identifier, and the work takes
the abstract from it. ``source_kind='enrichment'`` keeps these lookups out of the PRISMA
"records identified" numbers.

Lookups, in order (each only for what is still missing): arXiv by id (``id_list``),
PubMed by PMID (EFetch), OpenAlex by DOI (``filter=doi:a|b``), Crossref by DOI
(``filter=doi:a,doi:b``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa

from fmreview import ids
from fmreview.errors import FmreviewError, InputError
from fmreview.progress import NullReporter, Reporter
from fmreview.record import PAPER_ID_FIELDS, Record
from fmreview.search import arxiv as arxiv_mod
from fmreview.search import crossref as crossref_mod
from fmreview.search import openalex as openalex_mod
from fmreview.search import pubmed as pubmed_mod
from fmreview.search.base import parse_items
from fmreview.search.http import HttpClient, Request, SourceRejected, make_http
from fmreview.search.sources import SOURCES, api_key
from fmreview.store import schema
from fmreview.store.records import add_records

#: Lookup order and the identifier each source is asked by.
LOOKUPS: tuple[tuple[str, str], ...] = (
    ("arxiv", "arxiv"),
    ("pubmed", "pmid"),
    ("openalex", "doi"),
    ("crossref", "doi"),
)
#: Identifiers per request.
BATCH = {"arxiv": 100, "pubmed": 200, "openalex": 50, "crossref": 20}
#: Fields whose filling is recorded.
FILLABLE = ("abstract", "keywords", "venue", "year", "date", "language", "type", *PAPER_ID_FIELDS)


def _missing_candidates(store: Any) -> list[dict[str, Any]]:
    r = schema.records
    with store.connect() as conn:
        have = {
            f: set(
                conn.execute(
                    sa.select(getattr(r.c, f)).where(
                        getattr(r.c, f).is_not(None), r.c.abstract != ""
                    )
                ).scalars()
            )
            for f in ("doi", "pmid", "arxiv")
        }
        rows = conn.execute(
            sa.select(
                r.c.id,
                r.c.doi,
                r.c.pmid,
                r.c.arxiv,
                *[getattr(r.c, f) for f in FILLABLE if f not in ("doi", "pmid", "arxiv")],
            )
            .where(r.c.abstract == "")
            .where(sa.or_(r.c.doi.is_not(None), r.c.pmid.is_not(None), r.c.arxiv.is_not(None)))
            .order_by(r.c.id)
        ).all()
    out = []
    for row in rows:
        m = dict(row._mapping)
        if any(m.get(f) and m[f] in have[f] for f in ("doi", "pmid", "arxiv")):
            continue  # another record already has this work's abstract
        out.append(m)
    return out


def _request(
    source: str, batch: list[str], *, email: str | None, key: str | None
) -> tuple[Request, dict[str, str]]:
    """The lookup request for ``batch`` and extra headers."""
    if source == "arxiv":
        return Request(
            arxiv_mod.BASE_URL, {"id_list": ",".join(batch), "max_results": len(batch)}, kind="xml"
        ), {}
    if source == "pubmed":
        return (
            Request(
                pubmed_mod.EFETCH_URL,
                {
                    "db": "pubmed",
                    "id": ",".join(batch),
                    "retmode": "xml",
                    "tool": pubmed_mod.TOOL,
                    "email": email,
                },
                secret_params={"api_key": key},
                kind="xml",
            ),
            {},
        )
    if source == "openalex":
        return (
            Request(
                openalex_mod.BASE_URL,
                {"filter": "doi:" + "|".join(batch), "per_page": len(batch), "mailto": email},
                secret_params={"api_key": key},
            ),
            {},
        )
    if source == "crossref":
        return (
            Request(
                crossref_mod.BASE_URL,
                {
                    "filter": ",".join(f"doi:{d}" for d in batch),
                    "rows": len(batch),
                    "mailto": email,
                },
            ),
            {},
        )
    raise InputError(
        f"cannot look up abstracts in {source!r}; available: arxiv, crossref, openalex, pubmed"
    )


def _parse(source: str, content: bytes) -> list[Record]:
    from fmreview import formats

    if source == "arxiv":
        return formats.parse_arxiv_feed(content)
    if source == "pubmed":
        return formats.parse_pubmed_xml(content)
    data = json.loads(content)
    if source == "openalex":
        return parse_items(data.get("results") or [], formats.parse_openalex_work, source)[0]
    items = (data.get("message") or {}).get("items") or []
    return parse_items(items, formats.parse_crossref_item, source)[0]


_NORMALIZE: dict[str, Callable[[Any], str | None]] = {
    "doi": ids.normalize_doi,
    "pmid": ids.normalize_pmid,
    "arxiv": ids.normalize_arxiv,
}


def _filled(target: Mapping[str, Any], found: Record) -> list[str]:
    out = []
    for f in FILLABLE:
        new = getattr(found, f, None)
        if new and not target.get(f):
            out.append(f)
    return out


def _batches(items: Sequence[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield list(items[i : i + n])


def _ids_to_look_up(
    pending: Mapping[int, Mapping[str, Any]], id_field: str
) -> dict[str, list[int]]:
    """Identifier -> ids of the pending records that carry it."""
    by_id: dict[str, list[int]] = {}
    for rid, c in pending.items():
        if c.get(id_field):
            by_id.setdefault(str(c[id_field]), []).append(rid)
    return by_id


@dataclass
class _Found:
    """What one source's lookups gave: new records, and the records they fill."""

    records: list[Record] = field(default_factory=list)
    for_records: set[int] = field(default_factory=set)


def _look_up(
    http: HttpClient,
    source: str,
    id_field: str,
    by_id: Mapping[str, list[int]],
    pending: Mapping[int, Mapping[str, Any]],
    found: _Found,
    *,
    email: str | None,
    key: str | None,
) -> None:
    """Ask ``source`` for every identifier of ``by_id`` in batches, collecting into ``found``
    the answers with an abstract (tagged with ``extra["enrichment"]``); a rejected request
    raises FmreviewError with what was found before it kept."""
    for batch in _batches(sorted(by_id), BATCH[source]):
        req, _ = _request(source, batch, email=email, key=key)
        try:
            resp = http.get(source, req)
        except SourceRejected as exc:
            raise FmreviewError(
                f"{source} rejected the lookup of {len(batch)} id(s): {exc.message}"
            ) from exc
        for rec in _parse(source, resp.content):
            ident = _NORMALIZE[id_field](getattr(rec, id_field, None))
            targets = by_id.get(ident or "", [])
            if not targets or not rec.abstract:
                continue
            rec.extra = {
                **(rec.extra or {}),
                "enrichment": {
                    "source": source,
                    "lookup": id_field,
                    "id": ident,
                    "for_records": targets,
                    "filled": _filled(pending[targets[0]], rec),
                },
            }
            found.records.append(rec)
            found.for_records.update(targets)


def enrich(
    store: Any,
    *,
    sources: Sequence[str] | None = None,
    client: httpx.Client | None = None,
    http: HttpClient | None = None,
    reporter: Reporter | None = None,
    limit: int | None = None,
    cache: bool | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Fetch missing abstracts by identifier and store them as enrichment records.

    Parameters
    ----------
    store : Store
        The review store.
    sources : list of str, optional
        Lookup sources to use, in the fixed order arxiv, pubmed, openalex, crossref
        (default all four).
    client, http : optional
        Injected transport / HTTP layer (tests).
    limit : int, optional
        Look at most this many records (oldest first).

    Returns
    -------
    dict
        ``candidates`` (records without abstract but with an id), ``looked_up`` and
        ``filled`` per source (identifiers asked / records that got an abstract),
        ``new_records`` stored, ``still_missing``, ``errors`` per source.
    """
    wanted = list(sources) if sources else [s for s, _ in LOOKUPS]
    for s in wanted:
        if s not in dict(LOOKUPS):
            raise InputError(
                f"cannot look up abstracts in {s!r}; available: arxiv, crossref, openalex, pubmed"
            )
    protocol = store.protocol
    reporter = reporter or NullReporter()
    own_http = http is None
    if http is None:
        http = make_http(protocol.search, folder=store.folder, client=client, cache=cache)
    email = protocol.search.email
    candidates = _missing_candidates(store)
    if limit is not None:
        candidates = candidates[:limit]
    counts: dict[str, Any] = {
        "candidates": len(candidates),
        "looked_up": {},
        "filled": {},
        "new_records": 0,
        "already_present": 0,
        "still_missing": 0,
        "errors": {},
    }
    pending = {int(c["id"]): c for c in candidates}
    try:
        with store.run("enrich", {"sources": wanted, "limit": limit}) as run:
            for source, id_field in LOOKUPS:
                if source not in wanted or not pending:
                    continue
                key = api_key(protocol, source, environ)
                cls = SOURCES[source]
                http.ensure_rate(
                    source, cls.rate_with_key if (key and cls.rate_with_key) else cls.rate
                )
                by_id = _ids_to_look_up(pending, id_field)
                if not by_id:
                    continue
                counts["looked_up"][source] = len(by_id)
                found = _Found()
                try:
                    _look_up(http, source, id_field, by_id, pending, found, email=email, key=key)
                except FmreviewError as exc:
                    counts["errors"][source] = str(exc)
                    reporter.log(f"enrich {source}: {exc}")
                if found.records:
                    ic = add_records(
                        store,
                        found.records,
                        source=source,
                        source_kind="enrichment",
                        run_id=run.id,
                        origin=f"enrich by {id_field}",
                        format=cls.format,
                    )
                    counts["new_records"] += ic.added
                    counts["already_present"] += ic.already_present
                counts["filled"][source] = len(found.for_records)
                for rid in found.for_records:
                    pending.pop(rid, None)
            counts["still_missing"] = len(pending)
            run.counts.update(counts)
    finally:
        if own_http:
            http.close()
    return counts
