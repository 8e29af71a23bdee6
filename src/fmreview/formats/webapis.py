"""JSON from literature APIs: OpenAlex works, Crossref works, Semantic Scholar papers.

API responses are pages (at most a few hundred works), so files are loaded whole. Each
reader accepts a single object or a page (``results`` for OpenAlex, ``message`` /
``message.items`` for Crossref, ``data`` / ``papers`` for Semantic Scholar, or a bare
list). The ``parse_*`` functions take already-decoded objects for the search clients.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fmreview.errors import RecordError
from fmreview.formats._common import (
    ErrorContext,
    build_record,
    check_year,
    first,
    join_pages,
    map_entries,
    map_type,
    strip_markup,
)
from fmreview.formats._decoding import open_text
from fmreview.record import Author, Record


def rebuild_abstract(inverted: dict[str, list[int]] | None) -> str:
    """Text from OpenAlex's ``abstract_inverted_index`` (word -> positions)."""
    if not inverted:
        return ""
    slots: dict[int, str] = {}
    for word, positions in inverted.items():
        for pos in positions or []:
            slots[int(pos)] = word
    return " ".join(slots[i] for i in sorted(slots))


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def parse_openalex_work(obj: dict[str, Any], *, err: ErrorContext | None = None) -> Record:
    """One OpenAlex work object -> Record (abstract rebuilt from the inverted index)."""
    ids = obj.get("ids") or {}
    source = _get(obj, "primary_location", "source") or {}
    biblio = obj.get("biblio") or {}
    year = obj.get("publication_year")
    if err is not None and year not in (None, ""):
        check_year(year, err, "publication_year")
    authors = []
    for a in obj.get("authorships") or []:
        name = _get(a, "author", "display_name") or a.get("raw_author_name")
        if name:
            authors.append(name)
    keywords = [k.get("display_name") for k in obj.get("keywords") or [] if isinstance(k, dict)]
    if not keywords:
        keywords = [c.get("display_name") for c in obj.get("concepts") or [] if isinstance(c, dict)]
    urls = [
        _get(loc, "landing_page_url") or ""
        for loc in [obj.get("primary_location") or {}, *(obj.get("locations") or [])]
    ]
    arxiv = next((u for u in urls if "arxiv.org/" in u), None)
    issn = source.get("issn_l") or first(source.get("issn") or [])
    return build_record(
        title=first(obj.get("title"), obj.get("display_name")),
        abstract=rebuild_abstract(obj.get("abstract_inverted_index")) or obj.get("abstract"),
        authors=authors,
        year=year,
        date=obj.get("publication_date"),
        venue=source.get("display_name"),
        volume=biblio.get("volume"),
        issue=biblio.get("issue"),
        pages=join_pages(biblio.get("first_page"), biblio.get("last_page")),
        publisher=source.get("host_organization_name"),
        type=map_type(obj.get("type"), obj.get("type_crossref")),
        keywords=keywords,
        language=obj.get("language"),
        url=first(*urls) or obj.get("doi"),
        doi=obj.get("doi") or ids.get("doi"),
        arxiv=arxiv,
        pmid=ids.get("pmid"),
        pmcid=str(ids["pmcid"]).rstrip("/").rsplit("/", 1)[-1] if ids.get("pmcid") else None,
        openalex=obj.get("id") or ids.get("openalex"),
        issn=issn,
        raw=obj,
        position=err.record if err else None,
    )


def _date_parts(obj: dict[str, Any]) -> str | None:
    for key in ("issued", "published", "published-print", "published-online", "created"):
        parts = _get(obj, key, "date-parts")
        if parts and parts[0] and parts[0][0]:
            return "-".join(f"{int(p):02d}" if i else str(p) for i, p in enumerate(parts[0]))
    return None


def parse_crossref_item(obj: dict[str, Any], *, err: ErrorContext | None = None) -> Record:
    """One Crossref work (``message`` or an ``items`` element) -> Record."""
    authors: list[Author | str] = []
    for a in obj.get("author") or []:
        if a.get("family"):
            authors.append(Author(a["family"], a.get("given", "")))
        elif a.get("name"):
            authors.append(Author(a["name"]))
    title = first(obj.get("title"))
    subtitle = first(obj.get("subtitle"))
    if subtitle and subtitle.lower() not in title.lower():
        title = f"{title}: {subtitle}"
    date = _date_parts(obj)
    isbn = first(obj.get("ISBN") or [])
    return build_record(
        title=strip_markup(title),
        abstract=strip_markup(obj.get("abstract") or ""),
        authors=authors,
        date=date,
        venue=first(obj.get("container-title"), obj.get("short-container-title")),
        volume=obj.get("volume"),
        issue=obj.get("issue"),
        pages=obj.get("page"),
        publisher=obj.get("publisher"),
        type=map_type(obj.get("type")),
        keywords=obj.get("subject") or [],
        language=obj.get("language"),
        url=obj.get("URL"),
        doi=obj.get("DOI"),
        isbn=isbn or None,
        issn=first(obj.get("ISSN") or []) or None,
        raw=obj,
        position=err.record if err else None,
    )


def parse_s2_paper(obj: dict[str, Any], *, err: ErrorContext | None = None) -> Record:
    """One Semantic Scholar paper object -> Record."""
    ext = obj.get("externalIds") or {}
    year = obj.get("year")
    if err is not None and year not in (None, ""):
        check_year(year, err, "year")
    journal = obj.get("journal") or {}
    venue = first(journal.get("name"), _get(obj, "publicationVenue", "name"), obj.get("venue"))
    ptypes = obj.get("publicationTypes") or []
    keywords = [
        f.get("category") if isinstance(f, dict) else f for f in (obj.get("fieldsOfStudy") or [])
    ]
    pdf = _get(obj, "openAccessPdf", "url")
    return build_record(
        title=obj.get("title"),
        abstract=obj.get("abstract"),
        authors=[a.get("name") for a in obj.get("authors") or [] if a.get("name")],
        year=year,
        date=obj.get("publicationDate"),
        venue=venue,
        volume=journal.get("volume"),
        pages=journal.get("pages"),
        type=map_type(ptypes) or ("preprint" if ext.get("ArXiv") and not ext.get("DOI") else ""),
        keywords=keywords,
        url=obj.get("url") or pdf,
        doi=ext.get("DOI"),
        arxiv=ext.get("ArXiv"),
        pmid=ext.get("PubMed"),
        pmcid=ext.get("PubMedCentral"),
        s2=obj.get("paperId"),
        raw=obj,
        position=err.record if err else None,
    )


def _load(path: Path) -> Any:
    with open_text(path) as fh:
        return json.load(fh)


def _items(data: Any, keys: tuple[str, ...]) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in keys:
            value = data.get(key)
            if isinstance(value, list):
                return value
            if isinstance(value, dict):
                return _items(value, keys) if any(k in value for k in keys) else [value]
        return [data]
    return []


def _read(
    path: Path, keys: tuple[str, ...], parse: Callable[..., Record], unwrap: Callable[[Any], Any]
) -> Iterator[Record | RecordError]:
    name = path.name
    try:
        data = _load(path)
    except ValueError as exc:
        yield RecordError(name, field="json", found=str(exc)[:80], expected="valid JSON")
        return

    def to_record(item: Any, err: ErrorContext) -> Record:
        obj = unwrap(item)
        if not isinstance(obj, dict):
            raise err.error("item", type(obj).__name__, "a JSON object")
        return parse(obj, err=err)

    items = ((position, None, item) for position, item in enumerate(_items(data, keys), 1))
    yield from map_entries(name, items, to_record)


def read_openalex_json(path: Path) -> Iterator[Record | RecordError]:
    return _read(path, ("results", "data", "items"), parse_openalex_work, lambda o: o)


def read_crossref_json(path: Path) -> Iterator[Record | RecordError]:
    return _read(path, ("message", "items"), parse_crossref_item, lambda o: o)


def _s2_unwrap(obj: Any) -> Any:
    if isinstance(obj, dict):
        for key in ("citingPaper", "citedPaper"):
            if isinstance(obj.get(key), dict):
                return obj[key]
    return obj


def read_s2_json(path: Path) -> Iterator[Record | RecordError]:
    return _read(path, ("data", "papers"), parse_s2_paper, _s2_unwrap)
