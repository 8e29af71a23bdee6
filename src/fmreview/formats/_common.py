"""Normalisation shared by every reader: one place builds a :class:`Record`.

Readers collect what an entry says (strings, lists) and call :func:`build_record`, which
cleans text (NFC, white space), canonicalises identifiers (:mod:`fmreview.ids`), splits
names into (family, given), turns dates into ISO 8601 and maps source types and languages
onto fmreview's vocabularies. Keeping this in one function is what makes the same paper
read from RIS, BibTeX or XML come out with equal fields.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from fmreview import ids
from fmreview.errors import RecordError
from fmreview.record import (
    FIELD_LIMITS,
    OTHER_FIELD_LIMIT,
    RECORD_TYPES,
    TEXT_FIELDS,
    Author,
    FieldWarning,
    ImportWarning,
    Record,
    parse_year,
    split_name,
)


def clean_text(value: Any) -> str:
    """Same result as :func:`fmreview.record.clean_text`, several times faster.

    ``str.split()`` splits on exactly the characters regex ``\\s`` matches; after that the
    only non-printable characters left are control/format ones (category C), so the slow
    per-character test runs only when ``isprintable()`` says one is there.
    """
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text.isascii():
        # printable ASCII has no control characters and no white space but " "
        if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
            return text
    else:
        text = unicodedata.normalize("NFC", text)
    text = " ".join(text.split())
    if not text.isprintable():
        text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)
        text = " ".join(text.split())
    return text


# Source type vocabularies (RIS TY, BibTeX entry types, PubMed PT, WoS DT, Crossref,
# OpenAlex, Semantic Scholar, EndNote ref-type names, Scopus/Lens/Zotero CSV) -> RECORD_TYPES.
_TYPE_TERMS: dict[str, str] = {}
for _target, _terms in {
    "article": "jour jfull ejour mgzn news inpr article journal journal-article journalarticle "
    "journal_article magazinearticle newspaperarticle magazine-article newspaper-article",
    "review": "review systematic-review meta-analysis",
    "conference": "conf cpaper inproceedings conference proceedings proceedings-article "
    "conferencepaper",
    "preprint": "unpb preprint posted-content unpublished manscpt manuscript",
    "book": "book ebook edbook monograph edited-book reference-book",
    "chapter": "chap echap chapter book-chapter bookchapter incollection inbook booksection "
    "book-section book-part",
    "thesis": "thes thesis phdthesis mastersthesis dissertation thesis/dissertation",
    "editorial": "editorial editorial-material comment",
    "letter": "letter correspondence",
    "erratum": "erratum correction corrigendum retraction",
    "abstract": "abst abstract",
    "dataset": "data dbase aggr dataset",
    "report": "rprt report techreport govdoc stand standard",
    "other": "gen misc generic other online elec webpage patent pat comp",
}.items():
    for _term in _terms.split():
        _TYPE_TERMS.setdefault(_term, _target)
# multi-word terms
for _term, _target in {
    "journal article": "article",
    "journal articles": "article",
    "research article": "article",
    "review article": "review",
    "systematic review": "review",
    "conference paper": "conference",
    "conference proceeding": "conference",
    "conference review": "conference",
    "proceedings paper": "conference",
    "conference article": "conference",
    "meeting abstract": "abstract",
    "conference abstract": "abstract",
    "book chapter": "chapter",
    "book section": "chapter",
    "electronic book section": "chapter",
    "electronic article": "article",
    "whole book": "book",
    "edited book": "book",
    "editorial material": "editorial",
    "letter to the editor": "letter",
    "retraction notice": "erratum",
    "data set": "dataset",
    "data file": "dataset",
    "web page": "other",
    "computer program": "other",
    "government document": "report",
    "working paper": "preprint",
    "posted content": "preprint",
    "article in press": "article",
    "in press": "article",
    "comparative study": "article",
    "clinical trial": "article",
    "randomized controlled trial": "article",
    "case reports": "article",
    "published erratum": "erratum",
    "retraction of publication": "erratum",
    "news": "article",
    "proceedings": "conference",
}.items():
    _TYPE_TERMS[_term] = _target
for _t in RECORD_TYPES:
    _TYPE_TERMS[_t] = _t

#: types that say more than "article"; a secondary field (M3, DT, PT) may refine to them
_SPECIFIC = {"review", "editorial", "letter", "erratum", "conference", "preprint", "abstract"}


def map_type(*candidates: Any) -> str:
    """Map source type strings onto :data:`fmreview.record.RECORD_TYPES`.

    The first candidate that maps gives the type; a later one that maps to a more specific
    type (review, editorial, letter, erratum, ...) refines an ``article``. Compound values
    ("Article; Early Access", "Review; Book Chapter") are tried part by part.
    """
    found = ""
    for cand in candidates:
        values = cand if isinstance(cand, list | tuple) else [cand]
        for value in values:
            if not value:
                continue
            text = clean_text(value).lower().replace("_", " ")
            parts = (
                [text, *[p.strip() for p in _TYPE_SEP.split(text)]]
                if ";" in text or "," in text
                else [text]
            )
            for part in parts:
                target = _TYPE_TERMS.get(part) or _TYPE_TERMS.get(part.replace("-", " "))
                if target is None:
                    continue
                if not found or found in ("other", "article") and target in _SPECIFIC:
                    found = target
    return found


_LANGUAGES = {
    "en": "english eng en-us en-gb anglais englisch",
    "de": "german ger deu deutsch",
    "fr": "french fre fra francais français",
    "es": "spanish spa español espanol",
    "it": "italian ita",
    "pt": "portuguese por",
    "nl": "dutch nld dut",
    "zh": "chinese chi zho",
    "ja": "japanese jpn",
    "ko": "korean kor",
    "ru": "russian rus",
    "pl": "polish pol",
    "tr": "turkish tur",
    "ar": "arabic ara",
    "fa": "persian per fas",
    "sv": "swedish swe",
    "da": "danish dan",
    "no": "norwegian nor",
    "fi": "finnish fin",
    "cs": "czech cze ces",
    "hu": "hungarian hun",
    "el": "greek gre ell",
    "he": "hebrew heb",
    "uk": "ukrainian ukr",
}
_LANG_TERMS = {t: code for code, terms in _LANGUAGES.items() for t in [code, *terms.split()]}


def norm_language(value: Any) -> str:
    """ISO 639-1 code for common language names/codes; other values cleaned, lower-cased."""
    if isinstance(value, list):
        value = value[0] if value else ""
    text = clean_text(value).lower()
    if not text:
        return ""
    text = text.split(";")[0].strip()
    return _LANG_TERMS.get(text, text)


_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            "jan january",
            "feb february",
            "mar march",
            "apr april",
            "may",
            "jun june",
            "jul july",
            "aug august",
            "sep sept september",
            "oct october",
            "nov november",
            "dec december",
        ]
    )
    for m in names.split()
}
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_ISO = re.compile(r"^\s*(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?")


def iso_date(value: Any) -> str | None:
    """ISO 8601 date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``) from common source layouts.

    Understands ``2019-05-03``, ``2019/05/03``, ``2019//``, ``2018 Jan 15``, ``Jan 2018``,
    ``15 Jan 2018``, ``2018 Jan-Feb``, ``2018-05-03T10:00:00Z``. ``None`` without a year.
    """
    if value is None:
        return None
    text = clean_text(value)
    if not text:
        return None
    m = _ISO.match(text)
    if m and 1000 <= int(m.group(1)) <= 2999:
        y, mo, d = m.group(1), m.group(2), m.group(3)
        if mo and 1 <= int(mo) <= 12:
            if d and 1 <= int(d) <= 31:
                return f"{y}-{int(mo):02d}-{int(d):02d}"
            return f"{y}-{int(mo):02d}"
        if not mo or text[4:5] == "/":
            rest = text[4:].strip(" /-")
            if not rest:
                return y
    year = parse_year(text)
    if year is None:
        return None
    words = _WORDS.findall(text)
    month = day = None
    for w in words:
        lw = w.lower()
        if month is None and (lw in _MONTHS or lw[:3] in _MONTHS and len(lw) > 3):
            month = _MONTHS.get(lw) or _MONTHS[lw[:3]]
        elif month is None and lw in _SEASONS:
            month = _SEASONS[lw]
        elif w.isdigit() and len(w) <= 2 and day is None and 1 <= int(w) <= 31:
            day = int(w)
    if month is None:
        return str(year)
    if day is not None:
        return f"{year}-{month:02d}-{day:02d}"
    return f"{year}-{month:02d}"


_TAG = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s[^<>]{0,500})?/?>")  # a tag, not "P<0.01 ... >"


def strip_markup(value: Any) -> str:
    """Remove XML/HTML/JATS tags and unescape entities, then clean white space."""
    text = str(value or "")
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return clean_text(text)


def split_list(value: Any, seps: str = ";") -> list[str]:
    """Split a delimited string (or a list of them) into cleaned, non-empty items."""
    if value is None:
        return []
    values = value if isinstance(value, list | tuple) else [value]
    out: list[str] = []
    pattern = "[" + re.escape(seps) + "]"
    for v in values:
        for item in re.split(pattern, str(v)) if seps else [str(v)]:
            item = clean_text(item)
            if item:
                out.append(item)
    return out


_SN_SEP = re.compile(r"[,;\s]+")
_DIGIT = re.compile(r"\d")
_NOT_SN = re.compile(r"[^0-9Xx]")
_TYPE_SEP = re.compile(r"[;,]")
_WORDS = re.compile(r"[A-Za-z]+|\d+")


def issn_or_isbn(value: Any) -> tuple[str | None, str | None]:
    """``(issn, isbn)`` from a field that may hold either (RIS ``SN``, EndNote ``isbn``)."""
    text = first(value)
    token = next((t for t in _SN_SEP.split(text) if _DIGIT.search(t)), "")
    digits = _NOT_SN.sub("", token)
    if len(digits) in (10, 13) and len(_NOT_SN.sub("", text)) != 16:
        return None, ids.normalize_isbn(digits)
    return ids.normalize_issn(text), None


def join_pages(start: Any, end: Any = None) -> str:
    s, e = clean_text(start), clean_text(end)
    if s and e and e != s:
        return f"{s}-{e}"
    return s or e


def first(*values: Any) -> str:
    """The first non-empty value (lists give their first item), cleaned."""
    for v in values:
        if not v:
            continue
        if not isinstance(v, str | int | float) and hasattr(v, "__iter__"):
            v = next((x for x in v if x), None)  # lists, tuples, generators
            if v is None:
                continue
        text = clean_text(v)
        if text:
            return text
    return ""


def pick(entry: dict[str, list[str]], *tags: str) -> str | None:
    """The first non-empty raw value among ``tags`` of a tokenized entry (not cleaned:
    :func:`build_record` cleans each field once)."""
    for tag in tags:
        values = entry.get(tag)
        if values:
            for v in values:
                if v:
                    return v
    return None


def to_json_safe(value: Any) -> Any:
    """A copy of ``value`` that ``json.dumps`` accepts (dicts, lists, str, numbers)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_json_safe(v) for v in value]
    return str(value)


def check_year(value: Any, err: ErrorContext, field: str, line: int | None = None) -> int | None:
    """The year in ``value``; a RecordError when something is there but holds no year."""
    text = clean_text(value[0] if isinstance(value, list) and value else value)
    if not text or isinstance(value, list) and not value:
        return None
    year = parse_year(text)
    if year is None:
        compact = re.search(r"(?<!\d)([12]\d{3})[01]\d[0-3]\d(?!\d)", text)  # 20170812
        year = int(compact.group(1)) if compact else None
    if year is None:
        raise err.error(field, text, "a year (4 digits, e.g. 2021)", line=line)
    return year


def as_record_error(exc: Exception, err: ErrorContext) -> RecordError:
    """The RecordError for a record whose mapping failed (unexpected errors included).

    Readers catch every exception of one record's mapping so that one odd record in a
    million-record file is quarantined with its position instead of stopping the import.
    """
    if isinstance(exc, RecordError):
        return exc
    return err.error(
        None,
        f"{type(exc).__name__}: {exc}",
        "a record this reader can map (please report this file layout)",
    )


E = TypeVar("E")

#: ``(position, line, entry)``: one entry of a file as a reader's tokenizer hands it out
#: (``position`` 1-based, ``line`` the 1-based line it starts on, or None).
Numbered = tuple[int, "int | None", E]


def map_entries(
    file: str,
    entries: Iterable[Numbered[E] | RecordError],
    to_record: Callable[[E, ErrorContext], Record],
) -> Iterator[Record | RecordError]:
    """The loop every reader runs: each entry through ``to_record``, bad ones quarantined.

    ``to_record`` gets the entry and an :class:`ErrorContext` (file, record, line) to raise
    a precise :class:`RecordError` with. Whatever it raises for one entry comes out as that
    entry's RecordError (:func:`as_record_error`) in place of the record, and reading goes
    on: one odd record in a million-record file does not stop the import. RecordErrors
    among ``entries`` (what a tokenizer found wrong with the file's structure) pass through.
    """
    for item in entries:
        if isinstance(item, RecordError):
            yield item
            continue
        position, line, entry = item
        err = ErrorContext(file, position, line)
        out: Record | RecordError
        try:
            out = to_record(entry, err)
        except Exception as exc:  # noqa: BLE001 - quarantine the record, keep reading
            out = as_record_error(exc, err)
        yield out


def text_lines(fh: Iterable[str]) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a text stream, line ends and a leading BOM removed."""
    for lineno, raw_line in enumerate(fh, 1):
        line = raw_line.rstrip("\r\n")
        yield lineno, line.lstrip("\ufeff") if lineno == 1 else line


def add_tag(entry: dict[str, Any], tag: str, value: str, lineno: int) -> None:
    """Add a value of a tagged format (WoS, MEDLINE) to ``entry``; the line of each tag's
    first value goes to ``entry["_lines"]`` (for errors naming the line of a field)."""
    values = entry.get(tag)
    if values is None:
        entry[tag] = values = []
        entry.setdefault("_lines", {})[tag] = lineno
    values.append(value)


def unclosed(file: str, position: int, line: int, found: str, closer: str) -> RecordError:
    """The error for a tagged record (RIS, WoS) that ``closer`` never ended."""
    return RecordError(
        file,
        record=position,
        line=line,
        field="ER",
        found=found,
        expected=f"{closer} closing the record",
    )


class ErrorContext:
    """Where a reader is (file, record number, line) so it can raise a precise error."""

    __slots__ = ("file", "record", "line")

    def __init__(self, file: str, record: int | None = None, line: int | None = None) -> None:
        self.file = file
        self.record = record
        self.line = line

    def error(
        self,
        field: str | None,
        found: Any,
        expected: str,
        *,
        line: int | None = None,
        message: str | None = None,
    ) -> RecordError:
        return RecordError(
            self.file,
            record=self.record,
            line=line if line is not None else self.line,
            field=field,
            found=None if found is None else str(found),
            expected=expected,
            message=message,
        )


def _author(value: Author | str | tuple | dict) -> Author | None:
    if isinstance(value, Author):
        a = Author(clean_text(value.family), clean_text(value.given))
    elif isinstance(value, dict):
        a = Author(clean_text(value.get("family")), clean_text(value.get("given")))
    elif isinstance(value, tuple):
        a = Author(clean_text(value[0]), clean_text(value[1] if len(value) > 1 else ""))
    elif "," in value:  # "Family, Given": the common case, split here without the slow path
        family, given = value.split(",", 1)
        a = Author(clean_text(family).strip(" ;."), clean_text(given).strip(" ;."))
    else:
        a = split_name(str(value))
    return a if a.family or a.given else None


def build_record(
    *,
    title: Any = None,
    abstract: Any = None,
    authors: Iterable[Author | str | tuple | dict] = (),
    year: Any = None,
    date: Any = None,
    venue: Any = None,
    volume: Any = None,
    issue: Any = None,
    pages: Any = None,
    publisher: Any = None,
    type: Any = None,
    keywords: Iterable[Any] = (),
    language: Any = None,
    url: Any = None,
    doi: Any = None,
    arxiv: Any = None,
    pmid: Any = None,
    pmcid: Any = None,
    openalex: Any = None,
    s2: Any = None,
    isbn: Any = None,
    issn: Any = None,
    source_labels: Iterable[str] = (),
    extra: dict[str, Any] | None = None,
    raw: Any = None,
    position: int | None = None,
    line: int | None = None,
) -> Record:
    """Build a normalised :class:`Record` from loosely typed source values.

    A value in an identifier field that is not an identifier of that kind leaves the field
    empty with an ``invalid_id`` warning; a field longer than its limit is cut with a
    ``truncated`` warning (:attr:`Record.warnings`). Either way the full value stays in
    ``raw`` (set to the untruncated fields when the source gave no raw entry).
    """
    warnings: list[FieldWarning] = []
    doi_n = _id("doi", doi, ids.normalize_doi, warnings) if doi else None
    arxiv_n = _id("arxiv", arxiv, ids.normalize_arxiv, warnings) if arxiv else None
    if arxiv_n is None and doi_n:
        arxiv_n = ids.arxiv_from_doi(doi_n)
    iso = iso_date(date) if date else None
    y = year if isinstance(year, int) else parse_year(_one(year)) if year else None
    if y is None and iso:
        y = int(iso[:4])
    if iso is None and y is not None:
        iso = str(y)
    elif iso and y is not None and int(iso[:4]) != y:
        iso = str(y)  # a date that disagrees with the stated year is not trusted
    kws: list[str] = []
    seen: set[str] = set()
    for k in keywords:
        if not k:
            continue
        if k.__class__ is not str:
            k = str(k)
        text = strip_markup(k) if "<" in k else clean_text(k)
        if text and text not in seen:
            seen.add(text)
            kws.append(text)
    auths = [a for a in (_author(x) for x in authors if x) if a is not None]
    rtype = type if type in RECORD_TYPES else map_type(type) if type else ""
    rec = Record(
        title=_one(title),
        abstract=_one(abstract),
        authors=auths,
        year=y,
        date=iso,
        venue=_one(venue),
        volume=_one(volume),
        issue=_one(issue),
        pages=_one(pages),
        publisher=_one(publisher),
        type=rtype,
        keywords=kws,
        language=norm_language(language) if language else "",
        url=_one(url),
        doi=doi_n,
        arxiv=arxiv_n,
        pmid=_id("pmid", pmid, ids.normalize_pmid, warnings) if pmid else None,
        pmcid=_id("pmcid", pmcid, ids.normalize_pmcid, warnings) if pmcid else None,
        openalex=_id("openalex", openalex, ids.normalize_openalex, warnings) if openalex else None,
        s2=_id("s2", s2, ids.normalize_s2, warnings) if s2 else None,
        isbn=_id("isbn", isbn, ids.normalize_isbn, warnings) if isbn else None,
        issn=_id("issn", issn, ids.normalize_issn, warnings) if issn else None,
        source_labels=[t for t in (clean_text(s) for s in source_labels) if t],
        extra=dict(extra) if extra else {},
        raw=raw,
        position=position,
        line=line,
    )
    _cut_oversized(rec, warnings)
    rec.warnings = warnings
    return rec


#: what each identifier field expects, for the ``invalid_id`` warning
ID_FORMS = {
    "doi": "a DOI like 10.1234/abc (10., 4-9 digits, a slash, a suffix)",
    "arxiv": "an arXiv id like 2301.01234 or hep-th/9901001",
    "pmid": "a PubMed id (digits)",
    "pmcid": "a PubMed Central id like PMC1234567",
    "openalex": "an OpenAlex work id like W2741809807",
    "s2": "a Semantic Scholar paper id (40 hexadecimal characters)",
    "isbn": "an ISBN (10 or 13 digits)",
    "issn": "an ISSN like 1234-567X",
}

#: the text fields a length limit applies to (type and language hold vocabulary terms)
_TEXT_FIELDS = tuple(f for f in TEXT_FIELDS if f not in ("type", "language"))


#: what exports write for "no value" (R's bibliometrix writes NA into every empty cell)
MISSING = frozenset({"na", "n/a", "nan", "null", "none", "-", "--", "?"})


def _id(name: str, value: Any, normalize: Any, warnings: list[FieldWarning]) -> str | None:
    text = _one(value)
    if not text or text.lower() in MISSING:
        return None
    out: str | None = normalize(text)
    if out is None and ";" in text:  # "978-...; 978-...": the first one that is valid
        out = next((o for o in map(normalize, text.split(";")) if o), None)
    if out is None:
        warnings.append(FieldWarning("invalid_id", name, text[:200], ID_FORMS[name]))
    return out


_TITLE_LIMIT = FIELD_LIMITS["title"]
_ABSTRACT_LIMIT = FIELD_LIMITS["abstract"]


def _cut_oversized(rec: Record, warnings: list[FieldWarning]) -> None:
    """Cut fields longer than their limit (a 1 MB title made every later stage crawl)."""
    if (  # the usual case, checked first: build_record runs once per imported record
        len(rec.title) <= _TITLE_LIMIT
        and len(rec.abstract) <= _ABSTRACT_LIMIT
        and len(rec.venue)
        + len(rec.volume)
        + len(rec.issue)
        + len(rec.pages)
        + len(rec.publisher)
        + len(rec.url)
        <= OTHER_FIELD_LIMIT
        and max(map(len, rec.keywords), default=0) <= OTHER_FIELD_LIMIT
    ):
        return
    full: dict[str, Any] = {}
    for name in _TEXT_FIELDS:
        value = getattr(rec, name)
        limit = FIELD_LIMITS.get(name, OTHER_FIELD_LIMIT)
        if len(value) > limit:
            full[name] = value
            setattr(rec, name, value[: limit - 1] + "\u2026")
            warnings.append(
                FieldWarning("truncated", name, f"{len(value):,} characters", f"at most {limit:,}")
            )
    if any(len(k) > OTHER_FIELD_LIMIT for k in rec.keywords):
        full["keywords"] = list(rec.keywords)
        longest = max(len(k) for k in rec.keywords)
        rec.keywords = [
            k[: OTHER_FIELD_LIMIT - 1] + "\u2026" if len(k) > OTHER_FIELD_LIMIT else k
            for k in rec.keywords
        ]
        warnings.append(
            FieldWarning(
                "truncated",
                "keywords",
                f"a keyword of {longest:,} characters",
                f"at most {OTHER_FIELD_LIMIT:,}",
            )
        )
    if full and rec.raw is None:
        rec.raw = {"untruncated": full}  # the full value is kept once, here


NO_ID = "a title or an identifier (DOI, arXiv, PMID, PMCID, OpenAlex, S2, ISBN)"


def import_checks(rec: Record, file: str) -> RecordError | list[ImportWarning]:
    """What an import does with ``rec``: a RecordError to quarantine it (neither a title nor
    an identifier: nothing to screen it by or to find it again with), else its warnings."""
    ids_ = rec.ids()
    ids_.pop("issn", None)  # a journal's id, not the record's
    if not rec.title and not ids_:
        detail = "nothing to screen it by or to find it again with"
        bad = [
            f"its {w.field} {w.found!r} is not {w.expected}"
            for w in rec.warnings
            if w.kind == "invalid_id"
        ]
        return RecordError(
            file,
            record=rec.position,
            line=rec.line,
            field="title",
            found="",
            expected=NO_ID,
            message="; ".join([detail, *bad]),
        )
    out = [
        ImportWarning(file, w.kind, rec.position, rec.line, w.field, w.found, w.expected)
        for w in rec.warnings
    ]
    if not rec.title:
        out.append(
            ImportWarning(
                file,
                "no_title",
                rec.position,
                rec.line,
                "title",
                "",
                "a title",
                "kept for its identifiers: " + ", ".join(sorted(ids_)),
            )
        )
    return out


def _one(value: Any) -> str:
    """:func:`first` for one value, with the common cases (empty, a string) inlined."""
    if not value:
        return ""
    if value.__class__ is str:
        return clean_text(value)
    return first(value)


def extra_to_text(value: Any) -> str:
    """How an ``extra`` value is written into a text cell/tag: strings as-is, else JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def extra_from_text(text: str) -> Any:
    """Inverse of :func:`extra_to_text` (JSON when it parses to a container, else the text)."""
    t = text.strip()
    if t[:1] in "[{" or t in ("true", "false", "null"):
        try:
            return json.loads(t)
        except ValueError:
            return t
    return t
