"""RIS: reading (a streaming tokenizer) and writing (rispy).

Why a hand-written tokenizer: ``rispy.load`` builds the whole file as a list (memory grows
with the file), reports no line numbers (so a bad record cannot be named by line), and
appends free-text lines such as Scopus's "Export Date: ..." to the previous tag. The
tokenizer below streams line by line, keeps the start line of every record and reuses
rispy's tag vocabulary (``rispy.config``) for the list-type tags. It accepts the flavours
seen in the wild: Ovid numbered records (``1.`` before ``TY``), header/free text outside
records, free-text lines inside a record after a blank line (kept in ``raw['_text']``),
multi-line values (indented or not; for list tags such as KW each continuation line is a
new item, as Rayyan and EndNote write them), leading blank lines, BOM, unknown tags.

Writing uses ``rispy``'s writer one record at a time (streaming). Decisions and labels in
``Record.extra`` are written as ``N1  - fmreview-<key>: <value>`` notes (values that are
not strings as JSON), which reference managers keep as notes and :func:`read_ris` reads
back into ``extra``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import rispy
from rispy.config import LIST_TYPE_TAGS

from fmreview.errors import RecordError
from fmreview.formats._common import (
    ErrorContext,
    Numbered,
    build_record,
    check_year,
    extra_from_text,
    extra_to_text,
    issn_or_isbn,
    join_pages,
    map_entries,
    map_type,
    pick,
    strip_markup,
    unclosed,
)
from fmreview.formats._decoding import open_text
from fmreview.record import Record

_LIST_TAGS = frozenset([*LIST_TYPE_TAGS, "SN"])
_NOTE_PREFIX = "fmreview-"
_BOOKISH = {"BOOK", "EBOOK", "EDBOOK", "CHAP", "ECHAP"}


def _tag(line: str) -> tuple[str, str] | None:
    """``("TI", "value")`` for a tag line (``TI  - value``), else None.

    Fast path for the standard layout; a regex for the lenient ``TI - value`` layout.
    """
    if len(line) >= 5 and line[2:5] == "  -":
        t = line[:2]
        if "A" <= t[0] <= "Z" and (("A" <= t[1] <= "Z") or ("0" <= t[1] <= "9")):
            return t, line[6:].strip() if len(line) > 6 else ""
        return None
    m = _LENIENT.match(line)
    return (m.group(1), (m.group(2) or "").strip()) if m else None


_LENIENT = re.compile(r"^([A-Z][A-Z0-9]) {1,2}-(?: (.*))?$")
_CLOSER = "'ER  -'"


#: ``(position, start_line, {tag: [values]}, {tag: line of its first occurrence})``
RisEntry = tuple[int, int, dict[str, list[str]], dict[str, int]]


def iter_ris_entries(
    fh: TextIO, file: str, *, line_base: int = 0
) -> Iterator[RisEntry | RecordError]:
    """Tokenize a RIS stream into entries, one line at a time (streaming).

    Structural problems (a record without ``ER``) come out as :class:`RecordError`.
    ``line_base`` is the number of lines before ``fh`` in its file (a chunk of a file
    parsed in parallel), so every line number reported is the file's.
    """
    position = 0
    entry: dict[str, list[str]] | None = None
    lines: dict[str, int] = {}
    start = 0
    last = ""
    after_blank = False
    lineno = line_base
    first_line = fh.readline()
    if first_line.startswith("\ufeff"):
        first_line = first_line[1:]
    for line in itertools.chain((first_line,), fh):
        lineno += 1
        # the trailing newline stays on ``line``: every value below is strip()ped anyway
        tag = line[:2]
        if line[2:5] == "  -" and tag.isupper() and tag.isalnum():
            value = line[6:].strip()
        elif line[2:3] != " " or line[:1] in (" ", "\t", "\n", ""):
            # indented, blank, or no space after two characters: not a tag line in either
            # layout (a quarter of Ovid/Embase lines are such free-text continuations)
            tag = ""
        else:
            parsed = _tag(line)
            tag, value = parsed if parsed is not None else ("", "")
        if entry is None:
            if tag == "TY":
                position += 1
                entry, start, last, after_blank, lines = {"TY": [value]}, lineno, "TY", False, {}
            continue
        if not tag:
            text = line.strip()
            if not text:
                after_blank = True
            elif after_blank:  # free text after a blank line (Scopus "Export Date: ...")
                entry.setdefault("_text", []).append(text)
            elif last in _LIST_TAGS and last != "N1":  # Rayyan/EndNote: an item per line
                entry[last].append(text)
            else:
                prev = entry[last]
                prev[-1] = f"{prev[-1]}\n{text}" if prev[-1] else text
            continue
        after_blank = False
        if tag == "ER":
            yield position, start, entry, lines
            entry = None
            continue
        if tag == "TY":
            yield unclosed(file, position, start, f"a new 'TY' at line {lineno}", _CLOSER)
            position += 1
            entry, start, last, lines = {"TY": [value]}, lineno, "TY", {}
            continue
        values = entry.get(tag)
        if values is None:
            entry[tag] = [value]
            lines[tag] = lineno
        else:
            values.append(value)
        last = tag
    if entry is not None:
        yield unclosed(file, position, start, f"end of file at line {lineno}", _CLOSER)


_YEAR4 = re.compile(r"\d{4}")
_URL_SEP = re.compile(r"[;\s]+")


def ris_entry_to_record(item: RisEntry, err: ErrorContext) -> Record:
    """Map one tokenized RIS entry to a :class:`Record` (raises RecordError)."""
    position, line, entry, taglines = item
    g = entry.get
    ty = (g("TY") or [""])[0].strip().upper()
    year = None
    for tag in ("PY", "Y1"):
        if g(tag):
            year = check_year(g(tag), err, tag, taglines.get(tag))
            if year is not None:
                break
    date = pick(entry, "DA", "Y1", "PY")
    if date and not _YEAR4.search(date):
        date = f"{year} {date}" if year else None  # "DA  - Jun" next to "PY  - 2011"
    authors = (g("AU") or []) + (g("A1") or [])
    if not authors and ty in _BOOKISH:
        authors = g("A2") or []
    issn, isbn = issn_or_isbn(g("SN"))
    urls = [u for v in (g("UR") or []) for u in _URL_SEP.split(v) if u]
    doi = pick(entry, "DO") or (pick(entry, "M3") if "10." in (pick(entry, "M3") or "") else None)
    if not doi:
        for link in urls + (g("L2") or []):
            if "doi.org/" in link:
                doi = link
                break
    arxiv = next((u for u in urls if "arxiv.org/" in u), None)
    pmid = None
    provider = " ".join((g("DP") or []) + (g("DB") or [])).lower()
    an = (pick(entry, "AN") or "").strip()
    if an.isdigit() and ("nlm" in provider or "pubmed" in provider or "medline" in provider):
        pmid = an
    if an.startswith("WOS:"):
        extra_ids = {"wos": an}
    elif an.startswith("2-s2.0-"):
        extra_ids = {"eid": an}
    else:
        extra_ids = {}
    c2 = pick(entry, "C2") or ""
    pmcid = c2 if "PMC" in c2 else None
    extra: dict[str, Any] = dict(extra_ids)
    for note in g("N1") or []:
        text = note.strip()
        if text.startswith(_NOTE_PREFIX) and ":" in text:
            key, value = text[len(_NOTE_PREFIX) :].split(":", 1)
            extra[key.strip()] = extra_from_text(value)
    arxiv = extra.pop("id-arxiv", None) or arxiv
    openalex = extra.pop("id-openalex", None)
    s2 = extra.pop("id-s2", None)
    abstract = pick(entry, "AB", "N2") or ""
    if abstract and "<" in abstract:
        abstract = strip_markup(abstract)
    return build_record(
        title=pick(entry, "TI", "T1", "CT", *(("BT",) if ty in _BOOKISH else ()), "ST"),
        abstract=abstract,
        authors=authors,
        year=year,
        date=date,
        venue=pick(entry, "JF", "T2", "JO", "BT", "JA", "J2"),
        volume=pick(entry, "VL"),
        issue=pick(entry, "IS", "CP"),
        pages=join_pages(pick(entry, "SP"), pick(entry, "EP")),
        publisher=pick(entry, "PB"),
        type=map_type(ty, g("M3")) or ("other" if ty else ""),
        keywords=g("KW") or [],
        language=pick(entry, "LA"),
        url=urls[0] if urls else None,
        doi=doi,
        arxiv=arxiv,
        pmid=pmid,
        pmcid=pmcid,
        openalex=openalex,
        s2=s2,
        isbn=isbn,
        issn=issn,
        extra=extra,
        raw=entry,
        position=position,
        line=line,
    )


def numbered_ris_entries(
    fh: TextIO, file: str, *, line_base: int = 0, records: int = 0
) -> Iterator[Numbered[RisEntry] | RecordError]:
    """:func:`iter_ris_entries` for :func:`~fmreview.formats._common.map_entries`.

    ``records`` is the number of records before ``fh`` in its file (a chunk parsed in
    parallel): every record number, of entries and of errors, is the file's.
    """
    for item in iter_ris_entries(fh, file, line_base=line_base):
        if isinstance(item, RecordError):
            yield item.shifted(records=records) if records else item
            continue
        position, line, entry, taglines = item
        position += records
        yield position, line, (position, line, entry, taglines)


def read_ris(path: Path) -> Iterator[Record | RecordError]:
    """Stream the records of a RIS file (memory does not grow with the file)."""
    with open_text(path) as fh:
        yield from map_entries(path.name, numbered_ris_entries(fh, path.name), ris_entry_to_record)


# -- writing -------------------------------------------------------------------------------

_TY_FOR_TYPE = {
    "article": "JOUR",
    "review": "JOUR",
    "editorial": "JOUR",
    "letter": "JOUR",
    "erratum": "JOUR",
    "conference": "CONF",
    "preprint": "UNPB",
    "book": "BOOK",
    "chapter": "CHAP",
    "thesis": "THES",
    "abstract": "ABST",
    "dataset": "DATA",
    "report": "RPRT",
    "other": "GEN",
}


class _Writer(rispy.RisWriter):
    def set_header(self, count: int) -> str:  # no "1." numbering lines
        return ""


def record_to_ris(rec: Record) -> dict[str, Any]:
    """A rispy entry (rispy field names) for ``rec``."""
    ty = _TY_FOR_TYPE.get(rec.type, "GEN" if rec.type else "JOUR")
    out: dict[str, Any] = {"type_of_reference": ty}
    if rec.type and map_type(ty) != rec.type:
        out["type_of_work"] = rec.type  # M3 refines JOUR into review/editorial/...
    if rec.title:
        out["title"] = rec.title
    if rec.authors:
        # a corporate/family-only name with spaces gets a trailing comma, else readers
        # would split "World Health Organization" into given + family names
        out["authors"] = [
            a.display() if a.given or " " not in a.family else f"{a.family}," for a in rec.authors
        ]
    if rec.abstract:
        out["abstract"] = rec.abstract
    if rec.year is not None:
        out["year"] = str(rec.year)
    if rec.date and len(rec.date) > 4:
        out["date"] = rec.date.replace("-", "/")
    if rec.venue:
        out["secondary_title"] = rec.venue
    for key, value in (
        ("volume", rec.volume),
        ("number", rec.issue),
        ("publisher", rec.publisher),
        ("language", rec.language),
        ("doi", rec.doi),
    ):
        if value:
            out[key] = value
    if rec.pages:
        out["start_page"] = rec.pages  # SP may hold a range; EP left out to keep it exact
    if rec.isbn or rec.issn:
        out["issn"] = rec.isbn or rec.issn
    if rec.keywords:
        out["keywords"] = list(rec.keywords)
    if rec.url:
        out["urls"] = [rec.url]
    if rec.pmid:
        out["accession_number"] = rec.pmid
        out["database_provider"] = "NLM"
    if rec.pmcid:
        out["custom2"] = rec.pmcid
    notes = [f"{_NOTE_PREFIX}{k}: {extra_to_text(v)}" for k, v in rec.extra.items()]
    for key, label in (("arxiv", rec.arxiv), ("openalex", rec.openalex), ("s2", rec.s2)):
        if label:
            notes.append(f"{_NOTE_PREFIX}id-{key}: {label}")
    if notes:
        out["notes"] = [n.replace("\n", " ") for n in notes]
    return out


def write_ris(records: Iterable[Record], path: Path, extra_columns: Sequence[str] = ()) -> int:
    """Write ``records`` as RIS (UTF-8), streaming; returns the number written."""
    writer = _Writer()
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            if n:
                fh.write("\n")
            writer.format_lines(fh, [record_to_ris(rec)])
            n += 1
    return n
