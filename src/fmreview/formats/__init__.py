"""Bibliographic file formats in and out.

Public surface::

    sniff(path) -> str                              format name from content
    read_records(path, format=None, errors=None)    stream of Record | RecordError
                                                    (| ImportWarning about the file)
    write_records(records, path, format=..., extra_columns=()) -> int
    FORMATS, Format, register_format                the registry (extension point)
    parse_openalex_work, parse_crossref_item, parse_s2_paper,
    parse_arxiv_feed, arxiv_total_results, parse_pubmed_xml      API-page parsers

Readers stream: memory does not grow with the file for the line-based formats, CSV/TSV,
JSONL and the XML formats; JSON API pages are small and read whole. A malformed record
comes out as a :class:`~fmreview.errors.RecordError` (file, record, line, field, found,
expected) in place of the record, and reading continues.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fmreview.errors import RecordError
from fmreview.formats import arxiv as _arxiv
from fmreview.formats import bibtex as _bibtex
from fmreview.formats import endnote as _endnote
from fmreview.formats import medline as _medline
from fmreview.formats import native as _native
from fmreview.formats import pubmed as _pubmed
from fmreview.formats import ris as _ris
from fmreview.formats import tables as _tables
from fmreview.formats import webapis as _webapis
from fmreview.formats import wos as _wos
from fmreview.formats._registry import (
    FORMATS,
    Format,
    as_records,
    get_format,
    readable,
    register_format,
    writable,
)
from fmreview.formats._sniff import sniff, sniff_text
from fmreview.formats.arxiv import arxiv_total_results, parse_arxiv_feed
from fmreview.formats.pubmed import parse_pubmed_xml
from fmreview.formats.webapis import parse_crossref_item, parse_openalex_work, parse_s2_paper
from fmreview.record import ImportWarning, Record

__all__ = [
    "FORMATS",
    "Format",
    "arxiv_total_results",
    "parse_arxiv_feed",
    "parse_crossref_item",
    "parse_openalex_work",
    "parse_pubmed_xml",
    "parse_s2_paper",
    "read_records",
    "readable",
    "register_format",
    "sniff",
    "sniff_text",
    "writable",
    "write_records",
]

for _fmt in (
    Format("ris", "RIS (Scopus, WoS, Embase/Ovid, Zotero, EndNote, ProQuest, Rayyan)",
           _ris.read_ris, _ris.write_ris, (".ris", ".txt")),
    Format("bibtex", "BibTeX / BibLaTeX (LaTeX accents and braces become Unicode)",
           _bibtex.read_bibtex, _bibtex.write_bibtex, (".bib", ".bibtex")),
    Format("medline", "PubMed MEDLINE / .nbib tagged text", _medline.read_medline, None,
           (".nbib", ".txt", ".medline")),
    Format("pubmed_xml", "PubMed efetch XML (PubmedArticleSet)", _pubmed.read_pubmed_xml,
           None, (".xml",)),
    Format("endnote_xml", "EndNote XML (EndNote, Zotero, Mendeley)", _endnote.read_endnote_xml,
           None, (".xml",)),
    Format("csv", "CSV (ASReview/SYNERGY columns, Scopus, Lens, IEEE, Springer, Zotero...)",
           _tables.read_csv, _tables.write_csv, (".csv",)),
    Format("tsv", "tab-separated values (same columns as CSV)", _tables.read_tsv,
           _tables.write_tsv, (".tsv", ".tab")),
    Format("xlsx", "Excel workbook (first sheet; same columns as CSV)", _tables.read_xlsx,
           _tables.write_xlsx, (".xlsx",)),
    Format("wos", "Web of Science plain text / ISI tagged", _wos.read_wos, None,
           (".txt", ".isi", ".ciw")),
    Format("arxiv_atom", "arXiv API Atom feed", _arxiv.read_arxiv_atom, None, (".xml", ".atom")),
    Format("openalex_json", "OpenAlex works JSON (a work or a results page)",
           _webapis.read_openalex_json, None, (".json",)),
    Format("crossref_json", "Crossref REST JSON (a work or a works page)",
           _webapis.read_crossref_json, None, (".json",)),
    Format("s2_json", "Semantic Scholar Graph API JSON", _webapis.read_s2_json, None,
           (".json",)),
    Format("jsonl", "fmreview JSON Lines (one record per line)", _native.read_jsonl,
           _native.write_jsonl, (".jsonl", ".ndjson")),
    Format("parquet", "Apache Parquet (fmreview columns)", _native.read_parquet,
           _native.write_parquet, (".parquet",)),
):  # fmt: skip
    register_format(_fmt)


def read_records(
    path: Path | str,
    *,
    format: str | None = None,
    errors: list[RecordError] | None = None,
) -> Iterator[Record | RecordError | ImportWarning]:
    """Stream the records of ``path``.

    Parameters
    ----------
    path
        The file to read.
    format
        A name from :data:`FORMATS`; sniffed from the content when ``None``.
    errors
        When a list is given, per-record errors are appended to it and only records are
        yielded; otherwise a :class:`RecordError` is yielded in place of each bad record.
        A reader may also yield an :class:`~fmreview.record.ImportWarning` about the whole
        file (e.g. a table without a title column) before its records.

    Raises
    ------
    FormatError
        Unknown format name, empty/binary/unrecognised file.
    """
    path = Path(path)
    name = format or sniff(path)
    reader = get_format(name).reader
    assert reader is not None
    for item in reader(path):
        if errors is not None and isinstance(item, RecordError):
            errors.append(item)
            continue
        yield item


def write_records(
    records: Iterable[Record | dict[str, Any]],
    path: Path | str,
    *,
    format: str,
    extra_columns: Sequence[str] = (),
) -> int:
    """Write ``records`` to ``path`` in ``format``; returns how many were written.

    ``extra_columns`` names keys of ``Record.extra`` that become their own columns in
    CSV/TSV/XLSX/Parquet (nested mappings such as ``labels`` become ``labels.<name>``);
    keys not named are discovered from the first records and any others go to a JSON
    ``extra`` column. RIS writes ``extra`` as ``N1`` notes, BibTeX as ``fmreview_<key>``
    fields, JSONL as the ``extra`` object.
    """
    writer = get_format(format, for_writing=True).writer
    assert writer is not None
    return writer(as_records(records), Path(path), tuple(extra_columns))
