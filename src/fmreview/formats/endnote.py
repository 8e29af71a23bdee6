"""EndNote XML (as written by EndNote, Zotero and Mendeley), streamed with lxml iterparse.

EndNote wraps every text in ``<style>`` runs; Zotero and Mendeley write plain text nodes.
Both are read through ``itertext``. UTF-16 files (EndNote on Windows) are decoded by lxml
from their byte-order mark.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from fmreview.errors import RecordError
from fmreview.formats._common import (
    ErrorContext,
    build_record,
    check_year,
    first,
    issn_or_isbn,
    map_entries,
    map_type,
    split_list,
)
from fmreview.formats._xml import numbered_elements, text_of, to_raw
from fmreview.record import Record

_REF_TYPE_NUMBERS = {
    "17": "article",
    "47": "conference",
    "10": "conference",
    "6": "book",
    "28": "book",
    "5": "chapter",
    "32": "thesis",
    "27": "report",
    "12": "other",
    "13": "other",
    "59": "dataset",
    "34": "preprint",
}


def _all(rec: etree._Element, path: str) -> list[str]:
    return [t for t in (" ".join(text_of(e).split()) for e in rec.iterfind(path)) if t]


def _one(rec: etree._Element, path: str) -> str:
    return first(_all(rec, path))


def endnote_record_to_record(rec: etree._Element, err: ErrorContext | None) -> Record:
    rt = rec.find("ref-type")
    rtype = ""
    if rt is not None:
        rtype = map_type(rt.get("name", "")) or _REF_TYPE_NUMBERS.get((rt.text or "").strip(), "")
    work_type = _one(rec, "work-type")
    if work_type:
        rtype = map_type(rtype, work_type) or rtype
    year_text = _one(rec, "dates/year")
    year = check_year(year_text, err, "year") if err and year_text else None
    date = _one(rec, "dates/pub-dates/date")
    if date and year and str(year) not in date:
        date = f"{year} {date}"
    authors = _all(rec, "contributors/authors/author")
    provider = (_one(rec, "remote-database-provider") + _one(rec, "remote-database-name")).lower()
    accession = _one(rec, "accession-num")
    pmid = (
        accession if accession.isdigit() and ("nlm" in provider or "pubmed" in provider) else None
    )
    custom2 = _one(rec, "custom2")
    sn = _one(rec, "isbn")
    doi = _one(rec, "electronic-resource-num")
    urls = _all(rec, "urls/related-urls/url") + _all(rec, "urls/web-urls/url")
    return build_record(
        title=first(_one(rec, "titles/title"), _one(rec, "titles/short-title")),
        abstract=_one(rec, "abstract"),
        authors=authors,
        year=year if err else year_text,
        date=date or None,
        venue=first(
            _one(rec, "periodical/full-title"),
            _one(rec, "titles/secondary-title"),
            _one(rec, "periodical/abbr-1"),
            _one(rec, "titles/alt-title"),
        ),
        volume=_one(rec, "volume"),
        issue=first(_one(rec, "number"), _one(rec, "issue")),
        pages=_one(rec, "pages"),
        publisher=_one(rec, "publisher"),
        type=rtype,
        keywords=[k for kw in _all(rec, "keywords/keyword") for k in split_list(kw, "\r\n")],
        language=_one(rec, "language"),
        url=first(urls),
        doi=doi if "10." in doi else next((u for u in urls if "doi.org/" in u), None),
        arxiv=next((u for u in urls if "arxiv.org/" in u), None),
        pmid=pmid,
        pmcid=custom2 if "PMC" in custom2 else None,
        isbn=issn_or_isbn(sn)[1],
        issn=issn_or_isbn(sn)[0],
        source_labels=split_list(_one(rec, "label")) if _one(rec, "label") else [],
        raw=to_raw(rec),
        position=err.record if err else None,
        line=getattr(rec, "sourceline", None),
    )


def read_endnote_xml(path: Path) -> Iterator[Record | RecordError]:
    """Stream the ``<record>`` elements of an EndNote XML file."""
    records = numbered_elements(path, ("record",), path.name)
    return map_entries(path.name, records, endnote_record_to_record)
