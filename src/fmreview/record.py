"""The normalised bibliographic record every importer and source produces.

A :class:`Record` is what one entry of one file (or one API result) says, normalised:
identifiers in canonical form (:mod:`fmreview.ids`), authors as (family, given), Unicode
NFC text. The raw source entry is kept unchanged in :attr:`Record.raw` so nothing is lost.
Provenance that belongs to the import (file, format, run) is added by the store.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: Publication types a Record may carry (``type``); importers map source types onto these.
RECORD_TYPES = (
    "article",
    "review",
    "conference",
    "preprint",
    "book",
    "chapter",
    "thesis",
    "editorial",
    "letter",
    "erratum",
    "abstract",
    "dataset",
    "report",
    "other",
)

#: The identifiers that name one paper, in the order dedupe trusts them.
PAPER_ID_FIELDS = ("doi", "arxiv", "pmid", "pmcid", "openalex", "s2")
#: Every identifier field of a Record: a paper's, then a book's (ISBN) and a journal's (ISSN).
ID_FIELDS = (*PAPER_ID_FIELDS, "isbn", "issn")


@dataclass(slots=True)
class FieldWarning:
    """Something a reader noticed in one record and did not refuse.

    ``kind`` is ``invalid_id`` (a value in an identifier field that is not an identifier of
    that kind; the field is left empty, the value stays in the raw record) or ``truncated``
    (a field longer than :data:`FIELD_LIMITS` allows; the full value stays in the raw record).
    """

    kind: str
    field: str
    found: str
    expected: str


@dataclass(slots=True)
class ImportWarning:
    """A warning about one file or one record of it, for the import result and report.

    ``kind``: ``invalid_id``, ``truncated``, ``no_title`` (a record kept for its
    identifiers) or ``no_title_column`` (a table none of whose columns is a title).
    """

    file: str
    kind: str
    record: int | None = None
    line: int | None = None
    field: str | None = None
    found: str | None = None
    expected: str | None = None
    detail: str | None = None

    @property
    def message(self) -> str:
        """One line in the style of :class:`~fmreview.errors.RecordError`."""
        from fmreview.errors import RecordError

        where = {k: getattr(self, k) for k in _WHERE}
        return str(RecordError(self.file, message=self.detail, **where))

    def as_dict(self) -> dict[str, Any]:
        return (
            {"file": self.file, "kind": self.kind}
            | {k: getattr(self, k) for k in _WHERE}
            | {"message": self.message}
        )


#: what names the place and the problem of a warning or an error
_WHERE = ("record", "line", "field", "found", "expected")


#: Longest value kept in a field (characters); longer ones are cut with a warning and the
#: full value stays in the raw record. Chosen leave-one-set-out on the 14 labelled sets of
#: ../shared/bench (screening, dedupe, fm): 4x the longest title/abstract of the other sets,
#: rounded up, cuts no genuine record of the held-out set (longest title 497, abstract
#: 10,265 characters). Other fields have no such data: 1,000 is twice the longest title.
FIELD_LIMITS = {"title": 2_000, "abstract": 40_000}
OTHER_FIELD_LIMIT = 1_000


@dataclass(slots=True)
class Author:
    family: str
    given: str = ""

    def display(self) -> str:
        return f"{self.family}, {self.given}" if self.given else self.family


@dataclass(slots=True)
class Record:
    """One bibliographic record, normalised.

    ``position`` is the 1-based record number in its file; ``line`` the 1-based line where
    it starts (when the format has lines). ``source_labels`` carries labels a source gives
    (e.g. a curated list's section), ``extra`` any further named fields worth keeping.
    """

    title: str = ""
    abstract: str = ""
    authors: list[Author] = field(default_factory=list)
    year: int | None = None
    date: str | None = None  # ISO 8601: YYYY, YYYY-MM or YYYY-MM-DD
    venue: str = ""
    volume: str = ""
    issue: str = ""
    pages: str = ""
    publisher: str = ""
    type: str = ""
    keywords: list[str] = field(default_factory=list)
    language: str = ""
    url: str = ""
    doi: str | None = None
    arxiv: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    openalex: str | None = None
    s2: str | None = None
    isbn: str | None = None
    issn: str | None = None
    source_labels: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    raw: Any = None
    position: int | None = None
    line: int | None = None
    #: what the reader noticed but did not refuse (not part of the record's data)
    warnings: list[FieldWarning] = field(default_factory=list, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        del d["warnings"]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        data = dict(data)
        data["authors"] = [
            a if isinstance(a, Author) else Author(**a) if isinstance(a, dict) else Author(*a)
            for a in data.get("authors") or []
        ]
        known = {f for f in cls.__dataclass_fields__}  # type: ignore[attr-defined]
        return cls(**{k: v for k, v in data.items() if k in known})

    def ids(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in ID_FIELDS if getattr(self, f)}


# The field lists every module uses (formats, store, dedupe, enrichment), read off the
# dataclass above so that a field added there reaches every one of them.
_RECORD = fields(Record)
#: Record attributes that are not bibliographic data: further named fields, the raw entry,
#: where the entry stands in its file, and what its reader noticed.
_NOT_DATA = frozenset({"extra", "raw", "position", "line", "warnings"})
#: The bibliographic fields of a Record, in export column order (provenance excluded).
STANDARD_FIELDS = tuple(f.name for f in _RECORD if f.name not in _NOT_DATA)
#: Free-text fields: "" when empty, never None.
TEXT_FIELDS = tuple(f.name for f in _RECORD if f.type == "str")
#: Lists of strings (authors, a list of :class:`Author`, apart).
LIST_FIELDS = tuple(f.name for f in _RECORD if f.type == "list[str]")
#: Bibliographic fields that are None when empty (year, date, identifiers).
OPTIONAL_FIELDS = tuple(f.name for f in _RECORD if f.name in STANDARD_FIELDS and f.default is None)
#: What a work carries (the ``works`` table): a record's fields but its bibliographic
#: details (volume, issue, pages, publisher) and the identifiers no work is found by.
WORK_FIELDS = tuple(
    f
    for f in STANDARD_FIELDS
    if f not in {"volume", "issue", "pages", "publisher", "pmcid", "s2", "isbn", "issn"}
)


def record_from_columns(
    values: Mapping[str, Any], names: Iterable[str] = STANDARD_FIELDS
) -> Record:
    """The Record of stored column values (a ``records`` or ``works`` row) for ``names``:
    authors from ``[family, given]`` pairs, empty text "" and empty lists [] whatever the
    store gave."""
    data: dict[str, Any] = {}
    for name in names:
        value = values.get(name)
        if name == "authors":
            data[name] = [Author(*a) for a in value or []]
        elif name in TEXT_FIELDS:
            data[name] = value or ""
        elif name in LIST_FIELDS:
            data[name] = list(value or [])
        else:
            data[name] = value
    return Record(**data)


_WS = re.compile(r"\s+")


def clean_text(value: Any) -> str:
    """NFC-normalise, drop control characters, collapse white space."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFC", str(value))
    text = "".join(ch if ch in "\t\n" or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return _WS.sub(" ", text).strip()


def parse_year(value: Any) -> int | None:
    """The first plausible 4-digit year (1000-2999) in ``value``."""
    if value is None:
        return None
    if isinstance(value, int):
        return value if 1000 <= value <= 2999 else None
    m = re.search(r"(?<!\d)([12]\d{3})(?!\d)", str(value))
    return int(m.group(1)) if m else None


def split_name(name: str) -> Author:
    """Split a personal name into (family, given).

    Handles ``Family, Given``, ``Family G.`` (MEDLINE/WoS style), and ``Given Family``.
    """
    name = clean_text(name).strip(" ;.")
    if not name:
        return Author("")
    if "," in name:
        family, given = name.split(",", 1)
        return Author(family.strip(), given.strip())
    parts = name.split()
    if len(parts) == 1:
        return Author(parts[0])
    # "Smith JA" / "Smith J.A." : trailing initials
    if re.fullmatch(r"(?:[A-Z]\.?-?){1,4}", parts[-1]):
        return Author(" ".join(parts[:-1]), parts[-1])
    # particles stay with the family name: "Ludwig van Beethoven"
    particles = {
        "van",
        "von",
        "de",
        "der",
        "den",
        "da",
        "di",
        "del",
        "la",
        "le",
        "du",
        "dos",
        "ten",
        "ter",
    }
    i = len(parts) - 1
    while i > 1 and parts[i - 1].lower() in particles:
        i -= 1
    return Author(" ".join(parts[i:]), " ".join(parts[:i]))
