"""Tables: CSV, TSV (csv module, streamed) and XLSX (openpyxl, read-only/write-only).

Column names are matched case-insensitively against the conventions reviewers meet:
ASReview/SYNERGY (title, abstract, authors, keywords, doi, label_included...), Scopus
(Authors, Author full names, Source title, Author Keywords, Index Keywords, PubMed ID,
Language of Original Document, EID...), Lens.org, IEEE Xplore, SpringerLink, Zotero,
Embase, PubMed CSV and OpenAlex's web-UI CSV (dotted columns), and fmreview's own export.

Our own export writes the standard fields under their own names, authors as
``Family, Given; Family, Given``, lists joined with ``; ``, and each ``extra`` key as its
own column (nested mappings as ``key.sub``; values that are not strings as JSON). When a
table has fmreview's full column set, columns that are not standard fields are read back
into ``extra``.
"""

from __future__ import annotations

import csv
import itertools
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fmreview.errors import RecordError
from fmreview.formats._common import (
    ErrorContext,
    build_record,
    check_year,
    extra_from_text,
    extra_to_text,
    join_pages,
    map_entries,
    map_type,
    split_list,
)
from fmreview.formats._decoding import open_text
from fmreview.record import LIST_FIELDS, STANDARD_FIELDS, Author, ImportWarning, Record

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

#: fmreview's own column order for CSV/TSV/XLSX/Parquet
STANDARD_COLUMNS = STANDARD_FIELDS

# field -> accepted column names (lower case), most specific first
_ALIASES: dict[str, tuple[str, ...]] = {
    "title": (
        "title",
        "document title",
        "item title",
        "article title",
        "display_name",
        "primary title",
        "ti",
    ),
    "abstract": ("abstract", "abstract note", "ab", "abstracttext"),
    "authors": (
        "author full names",
        "authors",
        "author",
        "author/s",
        "author names",
        "authorships.author.display_name",
        "au",
    ),
    "year": ("year", "publication year", "publication_year", "py", "pubyear", "pub year"),
    "date": ("date", "date published", "publication_date", "publication date", "create date"),
    "venue": (
        "source title",
        "publication title",
        "journal",
        "journal/book",
        "journal title",
        "primary_location.source.display_name",
        "secondary title",
        "venue",
        "so",
    ),
    "volume": ("volume", "journal volume", "vl"),
    "issue": ("issue", "journal issue", "issue number", "number", "is"),
    "pages": ("pages", "page", "pg"),
    "start_page": ("page start", "start page", "first page"),
    "end_page": ("page end", "end page", "last page"),
    "publisher": ("publisher", "pb"),
    "type": ("type", "document type", "publication type", "content type", "item type", "dt"),
    "keywords": (
        "keywords",
        "author keywords",
        "index keywords",
        "manual tags",
        "automatic tags",
        "mesh terms",
        "mesh_terms",
        "kw",
        "ieee terms",
    ),
    "language": ("language", "language of original document", "la"),
    "url": ("url", "link", "pdf link", "open url link"),
    "doi": ("doi", "item doi", "di", "do"),
    "doi_url": ("external url",),
    "arxiv": ("arxiv", "arxiv_id", "arxiv id", "eprint"),
    "pmid": ("pmid", "pubmed id", "ids.pmid", "pubmed_id", "pm"),
    "pmcid": ("pmcid", "pmc", "ids.pmcid"),
    "openalex": ("openalex", "openalex_id", "openalex id", "id"),
    "s2": ("s2", "paperid", "s2_id", "semantic scholar id"),
    "isbn": ("isbn", "isbns"),
    "issn": ("issn", "issns", "primary_location.source.issn_l", "eissn"),
    "source_labels": ("source_labels",),
    "embase_source": ("source",),
    "eid": ("eid",),
    "lens_id": ("lens id",),
    "wos_ut": ("ut (unique wos id)", "ut", "accession number"),
    "label_included": (
        "label_included",
        "included",
        "final_included",
        "label_abstract_included",
        "abstract_included",
    ),
}
#: last column of fmreview's tables: ``extra`` keys without a column of their own, as JSON
EXTRA_COLUMN = "extra"
_AUTHOR_ID = re.compile(r"\s*\(\d+\)\s*")
_EMBASE_SOURCE = re.compile(r"^(.+?) \((\d{4})\) ([^:\s(]*)(?::([^\s(]*))? ?(?:\(([^)]*)\))?")
_EMBASE_NAME = re.compile(r"^\s*[^,]+\s(?:[A-Z]\.?-?){1,4}\s*$")


def _norm(header: str) -> str:
    return " ".join(str(header or "").replace("\ufeff", "").strip().strip('"').lower().split())


def column_map(headers: Sequence[str]) -> dict[str, int]:
    """field -> column index for the recognised columns of ``headers``."""
    normed = [_norm(h) for h in headers]
    out: dict[str, int] = {}
    for field, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in normed:
                out[field] = normed.index(alias)
                break
    return out


def is_own_layout(headers: Sequence[str]) -> bool:
    normed = {_norm(h) for h in headers}
    return all(c in normed for c in ("title", "authors", "openalex", "s2", "source_labels"))


def split_authors(value: str, *, glued: bool = False) -> list[str]:
    """Split an author cell in any common layout (``;``, ``|``, ``,``-separated)."""
    text = _AUTHOR_ID.sub(" ", value or "").strip()
    if not text:
        return []
    if glued:  # SpringerLink glues names together: "Araz R. AlievNigar T. Ismayilova"
        text = re.sub(r"(?<=[a-z])(?=[A-Z][a-z]*\.? )", "; ", text)
    for sep in (";", "|", "\n"):
        if sep in text:
            return [p.strip() for p in text.split(sep) if p.strip()]
    if " and " in text:
        return [p.strip() for p in text.split(" and ") if p.strip()]
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) > 2 or (len(parts) == 2 and all(_EMBASE_NAME.match(p) for p in parts)):
        return [p.strip() for p in parts]
    return [text]


def _flatten_extra(extra: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in extra.items():
        if isinstance(v, dict) and v:
            for sk, sv in v.items():
                out[f"{k}.{sk}"] = sv
        else:
            out[str(k)] = v
    return out


def _unflatten_extra(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in flat.items():
        if "." in k:
            head, sub = k.split(".", 1)
            if isinstance(out.get(head, {}), dict):
                out.setdefault(head, {})[sub] = v
                continue
        out[k] = v
    return out


def _raw_row(headers: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {
        h: ("" if v is None else v if isinstance(v, str | int | float) else str(v))
        for h, v in zip(headers, row, strict=False)
        if h
    }
    if len(row) > len(headers) and isinstance(row[-1], dict):
        raw.update(row[-1])
    return raw


def row_to_record(
    headers: Sequence[str],
    row: Sequence[Any],
    cols: dict[str, int],
    err: ErrorContext,
    *,
    own: bool = False,
    glued: bool = False,
) -> Record:
    """Map one table row to a Record (raises RecordError for a bad year)."""

    def g(field: str) -> str:
        i = cols.get(field)
        if i is None or i >= len(row) or row[i] is None:
            return ""
        return str(row[i]).strip()

    year_col = cols.get("year")
    year = check_year(g("year"), err, headers[year_col]) if year_col is not None else None
    cited: dict[str, str] = {}
    if year_col is None and "embase_source" in cols:
        m = _EMBASE_SOURCE.match(g("embase_source"))
        if m:  # "Endoscopic Ultrasound (2014) 3:3 (152-160). Date of Publication: 2014"
            cited = dict(
                zip(("venue", "year", "volume", "issue", "pages"), m.groups(""), strict=True)
            )
            year = int(cited["year"])
    kw_text = g("keywords")
    if "|" in kw_text:
        keywords = split_list(kw_text, "|")
    elif ";" in kw_text or kw_text.count(",") < 2:
        keywords = split_list(kw_text)
    else:  # Embase: "a, b (diagnosis, surgery), c"
        keywords = [k.strip() for k in re.split(r",\s*(?![^()]*\))", kw_text) if k.strip()]
    kw_i = cols.get("keywords")
    for alias in ("index keywords", "automatic tags"):
        for i, h in enumerate(headers):
            if _norm(h) == alias and i != kw_i and i < len(row) and row[i]:
                keywords += split_list(str(row[i]))
    openalex = g("openalex")
    if openalex and "openalex" not in openalex.lower() and not own:
        openalex = ""  # a generic "id" column that is not an OpenAlex id
    doi = g("doi") or (g("doi_url") if "doi.org/" in g("doi_url") else "")
    extra: dict[str, Any] = {}
    for field, key in (("eid", "eid"), ("lens_id", "lens_id"), ("wos_ut", "wos")):
        if g(field) and not own:
            extra[key] = g(field)  # source ids that help deduplication
    label = g("label_included")
    if label:
        extra["label_included"] = int(label) if label.lstrip("-").isdigit() else label
    if own:
        known = {*STANDARD_COLUMNS, EXTRA_COLUMN}
        flat = {
            h: extra_from_text(str(v))
            for h, v in zip(headers, row, strict=False)
            if h and h not in known and v not in (None, "")
        }
        extra.update(_unflatten_extra(flat))
        if EXTRA_COLUMN in headers:
            i = list(headers).index(EXTRA_COLUMN)
            cell = row[i] if i < len(row) else None
            if cell:
                rest = extra_from_text(str(cell))
                if isinstance(rest, dict):
                    extra.update(rest)
    authors: list[Author | str]
    if own:
        authors = [p.strip() for p in g("authors").split(";") if p.strip()]
    else:
        authors = list(split_authors(g("authors"), glued=glued))
    return build_record(
        title=g("title"),
        abstract=g("abstract"),
        authors=authors,
        year=year,
        date=g("date") or None,
        venue=g("venue") or cited.get("venue"),
        volume=g("volume") or cited.get("volume"),
        issue=g("issue") or cited.get("issue"),
        pages=g("pages") or join_pages(g("start_page"), g("end_page")) or cited.get("pages"),
        publisher=g("publisher"),
        type=map_type(g("type")),
        keywords=keywords,
        language=g("language"),
        url=g("url").split(" ")[0] if g("url") else "",
        doi=doi,
        arxiv=g("arxiv"),
        pmid=g("pmid"),
        pmcid=g("pmcid"),
        openalex=openalex,
        s2=g("s2"),
        isbn=g("isbn").split(";")[0],
        issn=g("issn").split(";")[0],
        source_labels=split_list(g("source_labels")),
        extra=extra,
        raw=_raw_row(headers, row),
        position=err.record,
        line=err.line,
    )


def _realign(row: list[Any], width: int) -> list[Any]:
    """Fit a row with surplus fields to the header.

    Seen in real Scopus exports (a "Funding Text 2" column present in rows but not in the
    header): the surplus sits among the free-text columns in the middle, so the first half
    of the header is matched from the left and the second half from the right; the fields
    that do not fit are kept in ``raw['_surplus']``.
    """
    half = width // 2
    surplus = len(row) - width
    fitted = row[:half] + row[half + surplus :]
    fitted.append({"_surplus": row[half : half + surplus]})
    return fitted


def _rows_to_records(
    name: str, headers: list[str], rows: Iterator[tuple[int, list[Any]]]
) -> Iterator[Record | RecordError | ImportWarning]:
    cols = column_map(headers)
    if "title" not in cols:
        shown = [str(h) for h in headers if str(h or "").strip()]
        yield ImportWarning(
            name,
            "no_title_column",
            line=1,
            field="title",
            found="columns " + ", ".join(shown[:15]) + (" ..." if len(shown) > 15 else ""),
            expected="a title column named one of: " + ", ".join(_ALIASES["title"]),
            detail="records with an identifier are kept without a title, the others quarantined",
        )
    own = is_own_layout(headers)
    normed = {_norm(h) for h in headers}
    glued = "item title" in normed and "content type" in normed

    def to_record(row: list[Any], err: ErrorContext) -> Record:
        return row_to_record(headers, row, cols, err, own=own, glued=glued)

    yield from map_entries(name, _numbered(rows, len(headers)), to_record)


def _numbered(
    rows: Iterator[tuple[int, list[Any]]], width: int
) -> Iterator[tuple[int, int, list[Any]]]:
    """``(position, line, row)`` of the rows that are not blank, fitted to the header."""
    position = 0
    for line, row in rows:
        if not any(str(v).strip() for v in row if v is not None):
            continue
        position += 1
        if len(row) > width and any(str(v).strip() for v in row[width:]):
            row = _realign(row, width)
        yield position, line, row


def _delimited(path: Path, delimiter: str | None) -> Iterator[Record | RecordError | ImportWarning]:
    name = path.name
    with open_text(path, newline="") as fh:
        if delimiter is None:
            head = fh.readline()
            fh.seek(0)
            delimiter = ";" if head.count(";") > head.count(",") else ","
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            headers = [h.lstrip("\ufeff") for h in next(reader)]
        except StopIteration:
            return
        except csv.Error as exc:
            yield RecordError(name, line=1, field="header", found=str(exc), expected="a header row")
            return

        def rows() -> Iterator[tuple[int, list[Any]]]:
            last = reader.line_num
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise _CsvBroken(last + 1, str(exc)) from exc
                yield last + 1, row
                last = reader.line_num

        try:
            yield from _rows_to_records(name, headers, rows())
        except _CsvBroken as exc:
            yield RecordError(
                name, line=exc.line, field="row", found=exc.reason, expected="a valid CSV row"
            )


class _CsvBroken(Exception):
    def __init__(self, line: int, reason: str) -> None:
        self.line, self.reason = line, reason


def read_csv(path: Path) -> Iterator[Record | RecordError | ImportWarning]:
    """Stream a CSV file (comma- or semicolon-separated, detected from the header)."""
    return _delimited(path, None)


def read_tsv(path: Path) -> Iterator[Record | RecordError | ImportWarning]:
    return _delimited(path, "\t")


def read_xlsx(path: Path) -> Iterator[Record | RecordError | ImportWarning]:
    """Stream the first sheet of an XLSX workbook (openpyxl read-only mode)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        try:
            headers = ["" if h is None else str(h) for h in next(it)]
        except StopIteration:
            return
        rows = ((i, list(r)) for i, r in enumerate(it, 2))
        yield from _rows_to_records(path.name, headers, rows)
    finally:
        wb.close()


# -- writing -------------------------------------------------------------------------------

_XLSX_MAX = 32767


def _author_cell(a: Author) -> str:
    return f"{a.family}, {a.given}" if a.given else f"{a.family},"


def record_to_row(rec: Record, extra_cols: Sequence[str]) -> list[Any]:
    row: list[Any] = []
    for col in STANDARD_COLUMNS:
        value = getattr(rec, col)
        if col == "authors":
            value = "; ".join(_author_cell(a) for a in value)
        elif col in LIST_FIELDS:
            value = "; ".join(value)
        row.append("" if value is None else value)
    flat = _flatten_extra(rec.extra)
    for col in extra_cols:
        value = flat.pop(col, None)
        row.append("" if value is None else extra_to_text(value))
    rest = _unflatten_extra(flat)
    row.append(extra_to_text(rest) if rest else "")
    return row


#: how many records the table writers look at to choose the ``extra`` columns
LOOKAHEAD = 1000


def _extra_columns(
    records: Iterator[Record], given: Sequence[str]
) -> tuple[list[str], Iterator[Record]]:
    """Extra columns: the given ones plus keys seen in the first :data:`LOOKAHEAD` records."""
    head = list(itertools.islice(records, LOOKAHEAD))
    cols = list(given)
    for rec in head:
        for key in _flatten_extra(rec.extra):
            if key not in cols and key not in STANDARD_COLUMNS and key != EXTRA_COLUMN:
                cols.append(key)
    return cols, itertools.chain(head, records)


def _write_delimited(
    records: Iterable[Record], path: Path, extra_columns: Sequence[str], delimiter: str
) -> int:
    cols, stream = _extra_columns(iter(records), extra_columns)
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow([*STANDARD_COLUMNS, *cols, EXTRA_COLUMN])
        for rec in stream:
            w.writerow(record_to_row(rec, cols))
            n += 1
    return n


def write_csv(records: Iterable[Record], path: Path, extra_columns: Sequence[str] = ()) -> int:
    """Write UTF-8 CSV with fmreview's columns plus one column per ``extra`` key."""
    return _write_delimited(records, path, extra_columns, ",")


def write_tsv(records: Iterable[Record], path: Path, extra_columns: Sequence[str] = ()) -> int:
    return _write_delimited(records, path, extra_columns, "\t")


def write_xlsx(records: Iterable[Record], path: Path, extra_columns: Sequence[str] = ()) -> int:
    """Write an XLSX workbook (openpyxl write-only mode: rows are streamed to disk)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    cols, stream = _extra_columns(iter(records), extra_columns)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("records")
    ws.append([*STANDARD_COLUMNS, *cols, EXTRA_COLUMN])
    n = 0
    for rec in stream:
        cells = []
        for value in record_to_row(rec, cols):
            if isinstance(value, str):
                cell = WriteOnlyCell(ws, value=clean_text_cell(value))
                cell.data_type = "s"  # never a formula, even when the text starts with "="
                cells.append(cell)
            else:
                cells.append(value)
        ws.append(cells)
        n += 1
    wb.save(path)
    return n


def clean_text_cell(value: str) -> str:
    text = "".join(ch for ch in value if ch in "\t\n" or ord(ch) >= 32)
    return text[:_XLSX_MAX]
