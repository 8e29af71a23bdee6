"""BibTeX / BibLaTeX: reading with bibtexparser 1.x, LaTeX to Unicode with pylatexenc.

bibtexparser 1.x parses a whole file at once (BibTeX exports are small; BibTeX is not among
the formats fmreview streams) and silently drops entries it cannot parse. To name those, the
reader also scans the text for entry starts (``@type{key,``) and reports every entry start
that did not come out of the parser as a :class:`RecordError` with its line; the same scan
gives each record its start line.

Limits of the written BibTeX (documented for round-trips): keywords are joined with ``; ``
(a keyword containing ``;`` is split on reading); a name is ``Family, Given`` joined with
``and`` (a family name holding a comma or the word "and" cannot be represented); text is
written as UTF-8 with LaTeX specials escaped; LaTeX ligatures in text you write yourself
(``--``, ``````) are read back as typographic characters.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import bibtexparser
from bibtexparser.bibdatabase import BibDatabase
from bibtexparser.bparser import BibTexParser
from bibtexparser.bwriter import BibTexWriter
from pylatexenc.latex2text import (
    LatexNodes2Text,
    MacroTextSpec,
    get_default_latex_context_db,
)

from fmreview.errors import RecordError
from fmreview.formats._common import (
    ErrorContext,
    Numbered,
    build_record,
    check_year,
    extra_from_text,
    extra_to_text,
    first,
    map_entries,
    map_type,
)
from fmreview.formats._decoding import open_text
from fmreview.ids import normalize_arxiv
from fmreview.record import Author, Record, split_name

logging.getLogger("bibtexparser").setLevel(logging.ERROR)  # "Overwriting string" noise
_CONTEXT = get_default_latex_context_db().filter_context()
_CONTEXT.add_context_category(
    "fmreview-text-symbols",
    prepend=True,
    macros=[
        MacroTextSpec(name, simplify_repl=repl)
        for name, repl in (
            ("textless", "<"),
            ("textgreater", ">"),
            ("textbar", "|"),
            ("textasciicircum", "^"),
            ("textunderscore", "_"),
            ("textasciitilde", "~"),
        )
    ],
)
_LATEX = LatexNodes2Text(latex_context=_CONTEXT, math_mode="verbatim", strict_latex_spaces=True)
_ENTRY_START = re.compile(r"^[ \t]*@[ \t]*([A-Za-z]+)[ \t]*[{(][ \t]*([^,\n{}()]*)", re.M)
_NON_ENTRIES = {"string", "comment", "preamble"}
_VERBATIM = {"url", "doi", "eprint", "file", "pmid", "pmcid", "isbn", "issn", "ID", "ENTRYTYPE"}
_PREFIX = "fmreview_"


def latex_to_unicode(value: str) -> str:
    """LaTeX markup (accents, braces, escapes) to Unicode text, NFC."""
    if not any(c in value for c in "\\{}$~"):
        return unicodedata.normalize("NFC", value)
    protected = re.sub(r"(?<!\\)%", r"\\%", value)  # a bare % would start a LaTeX comment
    try:
        text = _LATEX.latex_to_text(protected)
    except Exception:  # noqa: BLE001 - pylatexenc raises on odd input; fall back to braces
        text = protected.replace("{", "").replace("}", "").replace("\\%", "%")
    return unicodedata.normalize("NFC", text)


def _split_names(value: str) -> list[str]:
    """Split ``A and B and {C and D}`` at top-level ``and`` (braces protect)."""
    names, depth, start, i = [], 0, 0, 0
    low = value
    while i < len(low):
        ch = low[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and low[i : i + 5].lower() == " and ":
            names.append(value[start:i])
            start = i + 5
            i += 4
        i += 1
    names.append(value[start:])
    return [n.strip() for n in names if n.strip()]


def _authors(value: str) -> list[Author]:
    out = []
    for name in _split_names(" ".join(value.split())):
        if name.startswith("{") and name.endswith("}") and name.count("{") == 1:
            out.append(Author(latex_to_unicode(name[1:-1]).strip()))  # corporate author
        else:
            out.append(split_name(latex_to_unicode(name)))
    return out


def _verbatim(value: str) -> str:
    """URL/DOI-like fields: only TeX escapes of specials are undone (``\\_`` -> ``_``)."""
    return re.sub(r"\\([_%&#$])", r"\1", value).strip().strip("{}")


def _keywords(value: str) -> list[str]:
    sep = ";" if ";" in value else ","
    return [k.strip() for k in latex_to_unicode(value).split(sep) if k.strip()]


def _entry_lines(text: str) -> list[tuple[int, str, str]]:
    """``(line, entrytype, key)`` of every entry start in ``text``."""
    out = []
    for m in _ENTRY_START.finditer(text):
        if m.group(1).lower() in _NON_ENTRIES:
            continue
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1).lower(), m.group(2).strip()))
    return out


def bibtex_entry_to_record(entry: dict[str, str], err: ErrorContext) -> Record:
    # bibtexparser adds non-text bookkeeping (``_crossref``, ``_FROM_CROSSREF``): skip it
    f = {
        k.lower() if k not in ("ID", "ENTRYTYPE") else k: v
        for k, v in entry.items()
        if isinstance(v, str) and not k.startswith("_")
    }
    conv = {k: (_verbatim(v) if k in _VERBATIM else latex_to_unicode(v)) for k, v in f.items()}
    g = conv.get
    year = check_year(g("year"), err, "year") if g("year") else None
    date = g("date")
    if not date and year and g("month"):
        date = f"{year} {g('month')}"
    authors = _authors(f["author"]) if f.get("author") else []
    if not authors and f.get("editor") and f.get("ENTRYTYPE", "").lower() == "book":
        authors = _authors(f["editor"])
    eprint = g("eprint")
    archive = (g("archiveprefix") or g("eprinttype") or "").lower()
    # an eprint without an archive is taken for arXiv only when it reads as an arXiv id
    # (publishers' exports put DOI links there): a bad value of a declared arXiv eprint warns
    guessed = not archive and eprint and normalize_arxiv(eprint)
    arxiv = eprint if eprint and (archive == "arxiv" or guessed) else None
    extra: dict[str, Any] = {}
    for k, v in f.items():
        if k.startswith(_PREFIX):
            extra[k[len(_PREFIX) :]] = extra_from_text(v)
    pages = (g("pages") or "").replace("–", "-").replace("—", "-")
    return build_record(
        title=g("title"),
        abstract=g("abstract"),
        authors=authors,
        year=year,
        date=date,
        venue=first(g("journal"), g("journaltitle"), g("booktitle"), g("series")),
        volume=g("volume"),
        issue=first(g("number"), g("issue")),
        pages=re.sub(r"\s*-+\s*", "-", pages),
        publisher=first(g("publisher"), g("institution"), g("school"), g("organization")),
        type=map_type(g("type")) or map_type(f.get("ENTRYTYPE", "")) or "other",
        keywords=_keywords(f["keywords"]) if f.get("keywords") else [],
        language=first(g("language"), g("langid")),
        url=(g("url") or "").strip("{}"),
        doi=(g("doi") or "").strip("{}"),
        arxiv=arxiv,
        pmid=g("pmid"),
        pmcid=g("pmcid"),
        isbn=g("isbn"),
        issn=g("issn"),
        openalex=g("openalex"),
        s2=g("s2"),
        extra=extra,
        raw={k: v for k, v in entry.items() if isinstance(v, str)},
        position=err.record,
        line=err.line,
    )


def read_bibtex(path: Path) -> Iterator[Record | RecordError]:
    """Read a BibTeX file (``@string`` macros, month names and ``crossref`` resolved)."""
    name = path.name
    with open_text(path) as fh:
        text = fh.read()
    text = text.lstrip("\ufeff")
    parser = BibTexParser(
        common_strings=True, ignore_nonstandard_types=False, add_missing_from_crossref=True
    )
    parser.homogenise_fields = False
    try:
        db = bibtexparser.loads(text, parser=parser)
    except Exception as exc:  # noqa: BLE001 - pyparsing errors on broken files
        yield RecordError(
            name,
            field="file",
            found=str(exc)[:80],
            expected="BibTeX entries @type{key, field = {value}, ...}",
        )
        return
    by_key: dict[str, list[tuple[int, str]]] = {}
    for line, etype, key in _entry_lines(text):
        by_key.setdefault(key, []).append((line, etype))
    parsed: dict[str, int] = {}
    items: list[tuple[int, dict[str, str] | None, str, str]] = []
    for entry in db.entries:
        key = entry.get("ID", "")
        seen = parsed.get(key, 0)
        parsed[key] = seen + 1
        where = by_key.get(key, [])
        items.append((where[seen][0] if seen < len(where) else 0, entry, "", key))
    for key, where in by_key.items():
        for line, etype in where[parsed.get(key, 0) :]:
            items.append((line, None, etype, key))
    items.sort(key=lambda item: item[0])
    yield from map_entries(name, _numbered(name, items), bibtex_entry_to_record)


def _numbered(
    name: str, items: list[tuple[int, dict[str, str] | None, str, str]]
) -> Iterator[Numbered[dict[str, str]] | RecordError]:
    """Parsed entries numbered in file order; an entry start the parser dropped is an error."""
    for position, (line, entry, etype, key) in enumerate(items, 1):
        if entry is not None:
            yield position, line or None, entry
            continue
        yield RecordError(
            name,
            record=position,
            line=line,
            field="entry",
            found=f"@{etype}{{{key},",
            expected="an entry the parser can read: a key without spaces, then "
            "field = {value} pairs separated by commas, braces balanced",
        )


# -- writing -------------------------------------------------------------------------------

_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
}
_ESCAPE_RE = re.compile(r"[\\{}%&$#_~]")
_LIGATURE = re.compile(r"([-'`!?,<>])(?=[-'`,<>])")


def escape_latex(text: str) -> str:
    """Escape LaTeX specials so :func:`latex_to_unicode` gives ``text`` back."""
    text = _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(0)], text)
    return _LIGATURE.sub(r"\1{}", text)  # "--", "''", "``", "!`", "?`" are TeX ligatures


def _escape_verbatim(text: str) -> str:
    """Values kept verbatim (ids, URLs, JSON of ``extra``): braces must balance."""
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            break
    if depth != 0:
        text = text.replace("{", "(").replace("}", ")")
    return text


_ENTRY_FOR_TYPE = {
    "article": "article",
    "review": "article",
    "editorial": "article",
    "letter": "article",
    "erratum": "article",
    "abstract": "article",
    "conference": "inproceedings",
    "preprint": "misc",
    "book": "book",
    "chapter": "incollection",
    "thesis": "phdthesis",
    "dataset": "misc",
    "report": "techreport",
    "other": "misc",
}
_VENUE_FIELD = {"article": "journal", "inproceedings": "booktitle", "incollection": "booktitle"}
#: BibTeX field <- Record field, for text written with LaTeX specials escaped
_TEXT_OUT = {
    "volume": "volume",
    "number": "issue",
    "pages": "pages",
    "publisher": "publisher",
    "language": "language",
}
#: Record fields written verbatim (identifiers, URLs) under their own names
_VERBATIM_OUT = ("url", "doi", "pmid", "pmcid", "isbn", "issn", "openalex", "s2")


def record_to_bibtex(rec: Record, key: str) -> dict[str, str]:
    etype = _ENTRY_FOR_TYPE.get(rec.type, "misc")
    e: dict[str, str] = {"ENTRYTYPE": etype, "ID": key}
    if rec.type and map_type(etype) != rec.type:
        e["type"] = rec.type
    e["title"] = escape_latex(rec.title)  # always one field: bibtexparser drops empty entries
    if rec.authors:
        names = []
        for a in rec.authors:
            fam, giv = escape_latex(a.family), escape_latex(a.given)
            names.append(f"{fam}, {giv}" if giv else "{" + fam + "}")
        e["author"] = " and ".join(names)
    if rec.abstract:
        e["abstract"] = escape_latex(rec.abstract)
    if rec.year is not None:
        e["year"] = str(rec.year)
    if rec.date and len(rec.date) > 4:
        e["date"] = rec.date
    if rec.venue:
        e[_VENUE_FIELD.get(etype, "journal" if etype == "misc" else "series")] = escape_latex(
            rec.venue
        )
    for k, attr in _TEXT_OUT.items():
        if text := getattr(rec, attr):
            e[k] = escape_latex(text)
    if rec.keywords:
        e["keywords"] = "; ".join(escape_latex(k) for k in rec.keywords)
    for k in _VERBATIM_OUT:
        if value := getattr(rec, k):
            e[k] = _escape_verbatim(value)
    if rec.arxiv:
        e["eprint"] = rec.arxiv
        e["archiveprefix"] = "arXiv"
    for k, v in rec.extra.items():
        field = _PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", str(k))
        e[field] = _escape_verbatim(extra_to_text(v))
    return e


def _key(rec: Record, n: int) -> str:
    fam = rec.authors[0].family if rec.authors else "anon"
    ascii_fam = unicodedata.normalize("NFKD", fam).encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9]", "", ascii_fam)[:20] or "anon"
    return f"{stem}{rec.year or ''}_{n}"


def write_bibtex(records: Iterable[Record], path: Path, extra_columns: Sequence[str] = ()) -> int:
    """Write ``records`` as UTF-8 BibTeX, one entry at a time."""
    writer = BibTexWriter()
    writer.indent = "  "
    writer.order_entries_by = None
    writer.display_order = ["title", "author", "year"]
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            n += 1
            db = BibDatabase()
            db.entries = [record_to_bibtex(rec, _key(rec, n))]
            fh.write(writer.write(db))
    return n
