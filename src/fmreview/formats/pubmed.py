"""PubMed efetch XML (``PubmedArticleSet``), streamed with lxml iterparse."""

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
    map_entries,
    map_type,
)
from fmreview.formats._xml import iter_elements, numbered_elements, text_of, to_raw
from fmreview.record import Author, Record

_TAGS = ("PubmedArticle", "PubmedBookArticle")


def _t(elem: etree._Element | None) -> str:
    return " ".join(text_of(elem).split())


def _abstract(art: etree._Element) -> str:
    parts = []
    for at in art.iterfind(".//Abstract/AbstractText"):
        label = at.get("Label")
        text = _t(at)
        parts.append(f"{label}: {text}" if label and text else text)
    return " ".join(p for p in parts if p)


def _authors(art: etree._Element) -> list[Author]:
    out = []
    for a in art.iterfind(".//AuthorList/Author"):
        collective = _t(a.find("CollectiveName"))
        if collective:
            out.append(Author(collective))
            continue
        family = _t(a.find("LastName"))
        given = _t(a.find("ForeName")) or _t(a.find("Initials"))
        if family:
            out.append(Author(family, given))
    return out


def pubmed_article_to_record(art: etree._Element, err: ErrorContext | None) -> Record:
    pubdate = art.find(".//JournalIssue/PubDate")
    if pubdate is None:
        pubdate = art.find(".//Book/PubDate")
    year_text = _t(pubdate.find("Year")) if pubdate is not None else ""
    medline_date = _t(pubdate.find("MedlineDate")) if pubdate is not None else ""
    if err is not None and (year_text or medline_date):
        check_year(year_text or medline_date, err, "PubDate/Year")
    date = " ".join(
        _t(pubdate.find(t)) for t in ("Year", "Month", "Day") if pubdate is not None
    ).strip()
    ids = {a.get("IdType"): _t(a) for a in art.iterfind(".//PubmedData/ArticleIdList/ArticleId")}
    doi = ids.get("doi") or first(
        _t(e) for e in art.iterfind(".//ELocationID") if e.get("EIdType") == "doi"
    )
    keywords = [_t(k) for k in art.iterfind(".//KeywordList/Keyword")]
    keywords += [_t(m) for m in art.iterfind(".//MeshHeadingList/MeshHeading/DescriptorName")]
    ptypes = [_t(p) for p in art.iterfind(".//PublicationTypeList/PublicationType")]
    return build_record(
        title=first(_t(art.find(".//ArticleTitle")), _t(art.find(".//BookTitle"))),
        abstract=_abstract(art),
        authors=_authors(art),
        year=year_text or medline_date,
        date=date or medline_date,
        venue=first(_t(art.find(".//Journal/Title")), _t(art.find(".//Journal/ISOAbbreviation"))),
        volume=_t(art.find(".//JournalIssue/Volume")),
        issue=_t(art.find(".//JournalIssue/Issue")),
        pages=_t(art.find(".//Pagination/MedlinePgn")),
        publisher=_t(art.find(".//Publisher/PublisherName")),
        type=map_type(ptypes) or "article",
        keywords=keywords,
        language=_t(art.find(".//Language")),
        doi=doi,
        pmid=first(_t(art.find(".//MedlineCitation/PMID")), _t(art.find(".//BookDocument/PMID"))),
        pmcid=ids.get("pmc"),
        issn=first(_t(art.find(".//Journal/ISSN")), _t(art.find(".//ISSNLinking"))),
        raw=to_raw(art),
        position=err.record if err else None,
        line=getattr(art, "sourceline", None) if err else None,
    )


def read_pubmed_xml(path: Path) -> Iterator[Record | RecordError]:
    """Stream the articles of a PubMed efetch XML file."""
    articles = numbered_elements(path, _TAGS, path.name)
    return map_entries(path.name, articles, pubmed_article_to_record)


def parse_pubmed_xml(data: bytes) -> list[Record]:
    """Records of an efetch response body (for the PubMed search client)."""
    out = []
    for elem in iter_elements(data, _TAGS, "<pubmed response>"):
        if isinstance(elem, RecordError):
            raise elem
        out.append(pubmed_article_to_record(elem, None))
    return out
