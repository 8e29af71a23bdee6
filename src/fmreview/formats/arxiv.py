"""arXiv API Atom feeds (``export.arxiv.org/api/query``), with lxml.

An invalid id makes the API answer with a feed holding one error entry (id
``.../api/errors#...``, title ``Error``); the file reader turns that entry into a
:class:`RecordError`, :func:`parse_arxiv_feed` raises :class:`SourceError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from fmreview.errors import RecordError, SourceError
from fmreview.formats._common import (
    ErrorContext,
    build_record,
    first,
    map_entries,
    strip_markup,
)
from fmreview.formats._xml import iter_elements, numbered_elements, text_of, to_raw
from fmreview.record import Record

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"


def _t(elem: etree._Element | None) -> str:
    return " ".join(text_of(elem).split())


def _is_error(entry: etree._Element) -> bool:
    return "/api/errors" in _t(entry.find(f"{ATOM}id"))


def arxiv_entry_to_record(entry: etree._Element, position: int | None = None) -> Record:
    abs_id = _t(entry.find(f"{ATOM}id"))
    categories = [c.get("term", "") for c in entry.iterfind(f"{ATOM}category")]
    primary = entry.find(f"{ARXIV}primary_category")
    if primary is not None and primary.get("term") in categories:
        categories.remove(primary.get("term", ""))
        categories.insert(0, primary.get("term", ""))
    journal_ref = _t(entry.find(f"{ARXIV}journal_ref"))
    doi = _t(entry.find(f"{ARXIV}doi"))
    return build_record(
        title=_t(entry.find(f"{ATOM}title")),
        abstract=strip_markup(_t(entry.find(f"{ATOM}summary"))),
        authors=[_t(a.find(f"{ATOM}name")) for a in entry.iterfind(f"{ATOM}author")],
        date=_t(entry.find(f"{ATOM}published")) or _t(entry.find(f"{ATOM}updated")),
        venue=journal_ref or "arXiv",
        type="article" if doi or journal_ref else "preprint",
        keywords=categories,
        url=first(abs_id.replace("http://", "https://")),
        doi=doi or None,
        arxiv=abs_id,
        extra={"arxiv_comment": _t(entry.find(f"{ARXIV}comment"))}
        if entry.find(f"{ARXIV}comment") is not None
        else None,
        raw=to_raw(entry),
        position=position,
        line=getattr(entry, "sourceline", None),
    )


def _file_entry_to_record(entry: etree._Element, err: ErrorContext) -> Record:
    if _is_error(entry):
        raise err.error(
            "id",
            _t(entry.find(f"{ATOM}summary")),
            "an arXiv entry (the API answered with an error entry)",
        )
    return arxiv_entry_to_record(entry, err.record)


def read_arxiv_atom(path: Path) -> Iterator[Record | RecordError]:
    """Stream the entries of an arXiv Atom feed file."""
    entries = numbered_elements(path, (f"{ATOM}entry",), path.name)
    return map_entries(path.name, entries, _file_entry_to_record)


def parse_arxiv_feed(data: bytes) -> list[Record]:
    """Records of an arXiv API response body (raises SourceError for an error entry)."""
    out = []
    for elem in iter_elements(data, (f"{ATOM}entry",), "<arxiv response>"):
        if isinstance(elem, RecordError):
            raise SourceError(f"arXiv answered with malformed XML: {elem}")
        if _is_error(elem):
            raise SourceError(f"arXiv API error: {_t(elem.find(f'{ATOM}summary'))}")
        out.append(arxiv_entry_to_record(elem))
    return out


def arxiv_total_results(data: bytes) -> int | None:
    """``opensearch:totalResults`` of a feed, or ``None`` when absent."""
    for elem in iter_elements(data, (f"{OPENSEARCH}totalResults",), "<arxiv response>"):
        if isinstance(elem, RecordError):
            return None
        text = (elem.text or "").strip()
        return int(text) if text.isdigit() else None
    return None
