"""Normalised comparison keys for bibliographic records.

Every function here is pure and idempotent (``f(f(x)) == f(x)``, checked by Hypothesis in
``tests/test_dedupe_keys.py``): keys are computed once per record and compared many times.

:func:`record_keys` turns a table of records into a :class:`pandas.DataFrame` of keys, one
row per record, used by blocking (:mod:`.blocking`), scoring (:mod:`.scoring`) and the traps
(:mod:`.traps`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import numpy as np
import pandas as pd

from fmreview.ids import (
    arxiv_from_doi,
    normalize_arxiv,
    normalize_doi,
    normalize_openalex,
    normalize_pmid,
)

#: The input columns :class:`~fmreview.dedupe.engine.Deduplicator` understands.
COLUMNS = (
    "id",
    "title",
    "authors",
    "year",
    "venue",
    "volume",
    "issue",
    "pages",
    "doi",
    "arxiv",
    "pmid",
    "openalex",
    "type",
    "abstract",
)

# dashes and quotes that NFKD leaves non-ASCII (and ASCII-encoding would drop)
_PUNCT = str.maketrans(
    {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"}
    | {c: "'" for c in "\u2018\u2019\u201b\u2032"}
    | {c: '"' for c in "\u201c\u201d\u201e"}
)
#: Characters of an abstract kept for comparison.
ABSTRACT_CHARS = 500
_MISSING = {"", "na", "n/a", "nan", "none", "null", "<na>", "[no title]", "untitled"}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_TAGS = re.compile(r"<[^>]{1,40}>")


def one_of(words: str) -> str:
    """A regex group matching any of the space-separated ``words`` (``_`` stands for a
    space inside one alternative): ``one_of("a b_c")`` → ``"(?:a|b c)"``."""
    return "(?:" + "|".join(w.replace("_", " ") for w in words.split()) + ")"


#: Languages MEDLINE appends to a translated title ("[Chinese]").
_LANGUAGES = one_of(
    """english chinese french german spanish japanese russian italian portuguese polish
    czech dutch swedish danish norwegian finnish hungarian korean turkish hebrew greek
    croatian serbian romanian slovak slovenian bulgarian ukrainian lithuanian persian
    arabic thai vietnamese icelandic estonian latvian afrikaans catalan norwegian_bokmal"""
)
# Catalogue annotations that are not part of a title: "[Erratum appears in ...]",
# "[Chinese]", "[see comments]", "(vol 360, pg 542, 2009)", "(Review)".
_ANNOTATION = re.compile(
    r"\[(?:erratum|comment|see|retraction|retracted|corrected|update|published)[^\]]*\]"
    r"|\((?:vol|volume)\s+\d+[^)]*\)"
    r"|\[(?:review|\d+\s*refs?\.?|abstract|editorial|letter|case reports?)\]"
    r"|\((?:provisional|structured) abstract\)|\(review\)"
    rf"|\[{_LANGUAGES}(?:\s*(?:,|and|&)\s*[a-z]+)*\]",
    re.IGNORECASE,
)
_INITIALS = re.compile(r"^(?:[A-Z]\.?-?){1,4}$")
_CONCATENATED = re.compile(r"(?<=\.)(?=[A-Z][a-z'\u00C0-\u024F])")
_FIRST_INT = re.compile(r"\d+")
_AND = re.compile(r"\s+and\s+")
_NON_LETTER = re.compile(r"[^a-z]")
_YEAR = re.compile(r"(?<!\d)([12]\d{3})(?!\d)")
_PARTICLES = {
    "van",
    "von",
    "der",
    "de",
    "den",
    "del",
    "della",
    "di",
    "da",
    "du",
    "le",
    "la",
    "dos",
    "das",
    "ter",
    "ten",
}


_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b")
_PAGES = re.compile(
    r"^([a-z]{0,4})\s*(\d+)(?:\s*[-\u2013\u2014]+\s*([a-z]{0,4})\s*(\d+))?(?![a-z\d])"
)


@lru_cache(maxsize=100_000)
def parse_pages(raw: str) -> tuple[str, int, int] | None:
    """``(prefix, first, last)`` of a page field (``"S417-29"`` → ``("s", 417, 429)``), or None.

    Month names (``"01-Jun"``, a spreadsheet's rendering of ``1-6``) do not parse.
    """
    raw = raw.strip().lower()
    if _MONTH.search(raw):
        return None
    m = _PAGES.match(raw)
    if not m:
        return None
    prefix, start = m.group(1), m.group(2)
    end = m.group(4) or start
    if len(end) < len(start):  # "221-8" means 221-228
        end = start[: len(start) - len(end)] + end
    return prefix, int(start), int(end)


def is_missing(value: Any) -> bool:
    """True for None, NaN and the placeholder strings exports use for "no value"."""
    if type(value) is str:
        return len(value) <= 12 and value.strip().lower() in _MISSING
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip().lower() in _MISSING


def fold(text: str) -> str:
    """ASCII-fold and lower-case: ``"Müller–Lyer"`` → ``"muller-lyer"``.

    Hand-written (not ``unidecode``) because NFKD + dropping combining marks covers the
    Latin scripts of bibliographic data and needs no extra dependency.
    """
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.translate(_PUNCT))
    return text.encode("ascii", "ignore").decode("ascii").lower()


def normalize_text(value: Any) -> str:
    """Fold, drop markup and punctuation, collapse spaces: the base of every text key."""
    if is_missing(value):
        return ""
    text = str(value)
    if "<" in text:
        text = _TAGS.sub(" ", text)
    text = fold(text).replace("'", "")
    out = _NON_ALNUM.sub(" ", text).strip()
    return "" if out in _MISSING else out


def title_key(value: Any) -> str:
    """The title for comparison: annotations removed, then :func:`normalize_text`.

    >>> title_key("Robot-assisted gait.[Erratum appears in Exp Brain Res 2010;207:153]")
    'robot assisted gait'
    >>> title_key("[Incretins and the heart]. [French]")
    'incretins and the heart'
    """
    if is_missing(value):
        return ""
    text = str(value)
    if "[" in text or "(" in text:
        text = _ANNOTATION.sub(" ", text)
    return normalize_text(text)


@lru_cache(maxsize=100_000)
def _cached_text(value: str) -> str:
    return normalize_text(value)


_TRANSLATED = re.compile(r"^\W{0,3}\[[^\]]{8,}\]")


def translated_title(value: Any) -> bool:
    """Whether a source marks the title as translated: MEDLINE writes the English
    translation of a non-English title in brackets (``"[Incretins and the heart]."``).

    >>> translated_title("[Incretins and the heart].")
    True
    >>> translated_title("Incretins and the heart [French]")
    False
    """
    return not is_missing(value) and bool(_TRANSLATED.match(str(value).strip()))


def venue_key(value: Any) -> str:
    """The venue for comparison (abbreviations are matched later by :func:`venue_similarity`)."""
    return _cached_text(value) if isinstance(value, str) else normalize_text(value)


def _split_author_string(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    parts = _AND.split(text)
    if len(parts) > 1:
        return [p for p in parts if p.strip()]
    if ";" in text:
        return [p for p in text.split(";") if p.strip()]
    # EndNote CSV exports glue names together: "Adeli K.Lewis G. F."
    parts = _CONCATENATED.split(text)
    if len(parts) > 1:
        return parts
    # "Smith, J., Jones, K." — pairs of comma fields
    fields = [f.strip() for f in text.split(",")]
    if len(fields) > 2 and all(len(f) <= 40 for f in fields):
        if all(_INITIALS.match(f.replace(" ", "")) for f in fields[1::2]):
            return [f"{a}, {b}" for a, b in zip(fields[::2], fields[1::2], strict=False)]
    return [text]


@lru_cache(maxsize=200_000)
def _family_of(name: str) -> str:
    name = name.strip(" .;")
    if not name:
        return ""
    if "," in name:
        return name.split(",", 1)[0]
    parts = name.split()
    if len(parts) == 1:
        return parts[0]
    # "Family I. J." (MEDLINE/EndNote style): trailing initials
    k = len(parts)
    while k > 1 and _INITIALS.match(parts[k - 1]):
        k -= 1
    if k < len(parts):
        return " ".join(parts[:k])
    # "Given Family", particles stay with the family name
    i = len(parts) - 1
    while i > 0 and parts[i - 1].lower() in _PARTICLES:
        i -= 1
    return " ".join(parts[i:])


@lru_cache(maxsize=200_000)
def surname_key(value: str) -> str:
    """A family name reduced to ASCII letters: ``"de Jorge-Goicoechea"`` → ``"dejorgegoicoechea"``."""
    return _NON_LETTER.sub("", fold(value))


def author_surnames(value: Any) -> list[str]:
    """Family names, in order, from any author representation.

    Accepts a string (BibTeX ``"A, B and C, D"``, ``"A B; C D"``, glued EndNote
    ``"Adeli K.Lewis G. F."``), a list of strings, of ``(family, given)`` pairs, of dicts
    with ``family``, or of :class:`fmreview.record.Author`.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        if is_missing(value):
            return []
        names: Iterable[Any] = _split_author_string(value)
    else:
        names = value
    out: list[str] = []
    for item in names:
        if isinstance(item, str):
            family = _family_of(item)
        elif isinstance(item, Mapping):
            family = str(item.get("family") or item.get("name") or "")
        elif isinstance(item, Sequence):
            family = str(item[0]) if len(item) else ""
        else:
            family = str(getattr(item, "family", "") or "")
        key = surname_key(family)
        if key:
            out.append(key)
    return out


def first_page(value: Any) -> str:
    """The first page as digits (``"S36"`` → ``"36"``, ``"e1234"`` → ``"1234"``); ``""`` if none."""
    if is_missing(value):
        return ""
    m = _FIRST_INT.search(str(value))
    return str(int(m.group(0))) if m else ""


def number_key(value: Any) -> str:
    """The first integer of a volume or issue (``"Suppl 2"`` → ``"2"``); ``""`` if none."""
    if is_missing(value):
        return ""
    m = _FIRST_INT.search(str(value))
    return str(int(m.group(0))) if m and len(m.group(0)) < 7 else ""


def year_value(value: Any) -> int:
    """The year as an int, 0 when unknown."""
    if is_missing(value):
        return 0
    if isinstance(value, int | np.integer):
        return int(value) if 1000 <= int(value) <= 2999 else 0
    m = _YEAR.search(str(value))
    return int(m.group(1)) if m else 0


def _id_or_empty(fn: Any, value: Any) -> str:
    if is_missing(value):
        return ""
    return fn(str(value)) or ""


def doi_key(value: Any) -> str:
    """The normalised DOI, percent-escapes decoded (``10.1016/s0025-7753%2817%2930624-3``
    and ``10.1016/s0025-7753(17)30624-3`` are one DOI); ``""`` if none."""
    if is_missing(value):
        return ""
    text = str(value)
    if "%" in text:
        text = unquote(text)
    return normalize_doi(text) or ""


def name_words(value: Any, limit: int = 400) -> str:
    """Every word (two letters or more) of the authors' names (the first ``limit``
    characters of a string), folded, distinct and sorted: ``"Carignani, Andrea"`` →
    ``"andrea carignani"``. Lets :mod:`.scoring` recognise names whose parts one source
    swapped (``"Andrea, C."``)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or is_missing(value):
        return ""
    if isinstance(value, str):
        text = value[:limit]
    else:
        parts = []
        for item in list(value)[:10]:
            if isinstance(item, Mapping):
                parts.append(
                    f"{item.get('family') or item.get('name') or ''} {item.get('given') or ''}"
                )
            elif isinstance(item, str):
                parts.append(item)
            elif isinstance(item, Sequence):
                parts.append(" ".join(str(x) for x in item))
            else:
                parts.append(
                    f"{getattr(item, 'family', '') or ''} {getattr(item, 'given', '') or ''}"
                )
        text = " ".join(parts)
    words = {w for w in normalize_text(text).split() if len(w) >= 2} - {"and"}
    return " ".join(sorted(words))


#: Column names of other layouts (benchmark CSVs, bib-dedupe) → :data:`COLUMNS`.
_ALIASES = {
    "record_id": "id",
    "author": "authors",
    "journal": "venue",
    "number": "issue",
    "entrytype": "type",
    "ENTRYTYPE": "type",
    "ID": "id",
}


def as_frame(records: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The records as a DataFrame with every column of :data:`COLUMNS` (missing ones empty).

    Also accepts the CSV layout of the benchmark sets (``author``, ``journal``, ``number``,
    ``record_id``, ``entrytype``).
    """
    frame = records.copy() if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    for old, new in _ALIASES.items():
        if old in frame.columns and new not in frame.columns:
            frame = frame.rename(columns={old: new})
    if "id" not in frame.columns:
        frame["id"] = np.arange(len(frame))
    for col in COLUMNS:
        if col not in frame.columns:
            frame[col] = None
    return frame.reset_index(drop=True)


def _columns(records: pd.DataFrame | Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The :data:`COLUMNS` of ``records`` as column sequences, without copying a DataFrame."""
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    out: dict[str, Any] = {}
    for col in frame.columns:
        name = _ALIASES.get(col, col)
        if name in COLUMNS and (name not in out or name == col):
            out[name] = frame[col]
    n = len(frame)
    if "id" not in out:
        out["id"] = pd.Series(np.arange(n))
    for col in COLUMNS:
        if col not in out:
            out[col] = pd.Series([None] * n, dtype=object)
    return out


def per_value(values: pd.Series, fn: Any, dtype: Any = object, missing: Any = None) -> np.ndarray:
    """``fn`` of every value, computed once per distinct value (``pd.factorize`` finds
    them in C): exports repeat volumes, venues, years, and a duplicate often repeats its
    title and authors verbatim. Equal inputs share one result object. Missing values
    (NaN, None) get ``fn(missing)``; unhashable values (author lists) are mapped one by one."""
    try:
        codes, uniques = pd.factorize(values)
    except TypeError:
        items = values.to_numpy(dtype=object)
        out = np.empty(len(items), dtype=dtype)
        for k, v in enumerate(items):
            out[k] = fn(v)
        return out
    distinct = np.asarray(uniques, dtype=object)
    results = np.empty(len(distinct) + 1, dtype=dtype)
    for k, v in enumerate(distinct):
        results[k] = fn(v)
    results[-1] = fn(missing)  # code -1: a missing value
    return results[codes]


def _author_keys(value: Any) -> tuple[str, str, int, str]:
    """(surnames joined, first surname, number of authors, name words beyond the
    surnames) of one author field."""
    surnames = author_surnames(value)
    joined = " ".join(surnames)
    words = name_words(value)
    if set(words.split()) <= set(surnames):
        # kept only where they say more than the surnames (given names written out)
        words = ""
    return joined, surnames[0] if surnames else "", len(surnames), words


def _parsed_pages(raw: str | None) -> tuple[str, int, int]:
    """:func:`parse_pages`, with ``("", -1, -1)`` for a field that does not parse."""
    parsed = parse_pages(raw) if raw else None
    return ("", -1, -1) if parsed is None else parsed


def _arxiv_key(value: Any) -> str:
    return _id_or_empty(normalize_arxiv, value)


def _raw_lower(value: Any) -> str:
    return "" if is_missing(value) else str(value).lower()


def record_keys(records: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """One row of comparison keys per record (same order as ``records``).

    Columns: ``id``, ``title`` (:func:`title_key`), ``translated``
    (:func:`translated_title`), ``authors`` (space-joined surnames),
    ``first_author``, ``name_words`` (:func:`name_words`; empty when no more than the
    surnames), ``n_authors``, ``year`` (int, 0 = unknown), ``venue``, ``volume``,
    ``issue``, ``page`` (first page), ``pages_raw``, ``page_prefix``, ``page_first``,
    ``page_last`` (:func:`parse_pages`; -1 when it does not parse), ``page_span`` (last -
    first page, -1 when not a plain range), ``doi``, ``arxiv``, ``pmid``, ``openalex``, ``type``,
    ``abstract`` (first :data:`ABSTRACT_CHARS` characters, raw), ``has_abstract``,
    ``issue_raw``, ``volume_raw``.

    Every key is computed once per distinct input value (:func:`per_value`). String
    columns are object arrays (no conversion when a stage reads them), and equal values
    share one string object, so a million records stay within a few hundred megabytes.
    """
    frame = _columns(records)
    keys: dict[str, Any] = {"id": frame["id"].to_numpy()}
    keys["title"] = per_value(frame["title"], title_key)
    keys["translated"] = per_value(frame["title"], translated_title, bool)
    authors = per_value(frame["authors"], _author_keys)
    keys["authors"] = np.array([a[0] for a in authors], dtype=object)
    keys["first_author"] = np.array([a[1] for a in authors], dtype=object)
    keys["name_words"] = np.array([a[3] for a in authors], dtype=object)
    keys["n_authors"] = np.fromiter((a[2] for a in authors), dtype=np.int32, count=len(authors))
    del authors
    keys["year"] = per_value(frame["year"], year_value, np.int32)
    keys["venue"] = per_value(frame["venue"], venue_key)
    keys["volume"] = per_value(frame["volume"], number_key)
    keys["issue"] = per_value(frame["issue"], number_key)
    keys["page"] = per_value(frame["pages"], first_page)
    keys["pages_raw"] = per_value(frame["pages"], lambda v: "" if is_missing(v) else str(v).strip())
    doi = per_value(frame["doi"], doi_key)
    arxiv = per_value(frame["arxiv"], _arxiv_key)
    # an arXiv DOI (10.48550/arXiv.2301.01234) names the preprint, not a journal version
    for k in np.flatnonzero((doi != "") & (arxiv == "")):
        arxiv[k] = arxiv_from_doi(doi[k]) or ""
    keys["doi"] = doi
    keys["arxiv"] = arxiv
    del doi, arxiv
    keys["pmid"] = per_value(frame["pmid"], lambda v: _id_or_empty(normalize_pmid, v))
    keys["openalex"] = per_value(frame["openalex"], lambda v: _id_or_empty(normalize_openalex, v))
    keys["type"] = per_value(frame["type"], venue_key)
    # normalised lazily by scoring, for the few pairs that need it
    keys["abstract"] = per_value(
        frame["abstract"], lambda v: "" if is_missing(v) else str(v)[:ABSTRACT_CHARS]
    )
    keys["has_abstract"] = keys["abstract"] != ""
    keys["issue_raw"] = per_value(frame["issue"], _raw_lower)
    keys["volume_raw"] = per_value(frame["volume"], _raw_lower)
    parsed = per_value(pd.Series(keys["pages_raw"], dtype=object), _parsed_pages)
    keys["page_prefix"] = np.array([p[0] for p in parsed], dtype=object)
    keys["page_first"] = np.fromiter((p[1] for p in parsed), dtype=np.int64, count=len(parsed))
    keys["page_last"] = np.fromiter((p[2] for p in parsed), dtype=np.int64, count=len(parsed))
    del parsed
    plain = (keys["page_first"] >= 0) & (keys["page_prefix"] == "")
    keys["page_span"] = np.where(plain, keys["page_last"] - keys["page_first"], -1)
    # strings stay Python objects (dtype object): every later stage compares them as
    # object arrays, and Arrow-backed columns would be converted back on each access
    return pd.DataFrame(
        {
            k: pd.Series(v, dtype=object)
            if isinstance(v, list) or (isinstance(v, np.ndarray) and v.dtype == object)
            else v
            for k, v in keys.items()
        }
    )
