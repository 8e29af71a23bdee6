"""PubMed MEDLINE / .nbib tagged text.

Hand-written line parser: no maintained Python library reads MEDLINE text as a stream
with line numbers (Biopython's ``Bio.Medline`` is a large dependency for 30 lines and
loses positions). Layout: ``TAG - value`` with the tag left-justified in 4 columns,
continuation lines indented by 6 spaces, records separated by blank lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fmreview.errors import RecordError
from fmreview.formats._common import (
    ErrorContext,
    add_tag,
    build_record,
    check_year,
    first,
    map_entries,
    map_type,
    text_lines,
)
from fmreview.formats._decoding import open_text
from fmreview.record import Record

_TAG = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {0,3}- ?(.*)$")


def iter_medline_entries(fh: Any) -> Iterator[tuple[int, int, dict[str, Any]]]:
    """``(position, start_line, {tag: [values]})`` per record."""
    entry: dict[str, Any] = {}
    start = 0
    last: str | None = None
    position = 0
    for lineno, line in text_lines(fh):
        if not line.strip():
            if entry:
                position += 1
                yield position, start, entry
                entry, last = {}, None
            continue
        if line[:1] in (" ", "\t"):
            if last is not None:
                values = entry[last]
                values[-1] = f"{values[-1]} {line.strip()}"
            continue
        m = _TAG.match(line)
        if m is None:
            continue  # stray text outside the tagged layout
        tag, value = m.group(1), m.group(2).strip()
        if tag == "PMID" and "PMID" in entry:
            position += 1
            yield position, start, entry
            entry = {}
        if not entry:
            start = lineno
        add_tag(entry, tag, value, lineno)
        last = tag
    if entry:
        position += 1
        yield position, start, entry


def _tagged_id(values: list[str] | None, kind: str) -> str | None:
    for v in values or []:
        if v.endswith(f"[{kind}]"):
            return v[: -len(kind) - 2].strip()
    return None


def medline_entry_to_record(entry: dict[str, Any], err: ErrorContext) -> Record:
    taglines: dict[str, int] = entry.pop("_lines", None) or {}
    g = entry.get
    year = check_year(g("DP"), err, "DP", taglines.get("DP")) if g("DP") else None
    fau, au = g("FAU") or [], g("AU") or []
    authors = fau if len(fau) >= len(au) else au
    doi = _tagged_id(g("AID"), "doi") or _tagged_id(g("LID"), "doi")
    if not doi:
        doi = next((v for v in (g("AID") or []) + (g("LID") or []) if "doi.org/" in v), None)
    mesh = [m.replace("*", "") for m in g("MH") or []]
    return build_record(
        title=first(g("TI"), g("BTI")),
        abstract=" ".join(g("AB") or []),
        authors=authors,
        year=year,
        date=first(g("DP")),
        venue=first(g("JT"), g("TA")),
        volume=g("VI"),
        issue=g("IP"),
        pages=g("PG"),
        publisher=g("PB"),
        type=map_type(g("PT") or []) or ("article" if g("JT") else ""),
        keywords=(g("OT") or []) + mesh,
        language=g("LA"),
        doi=doi,
        pmid=g("PMID"),
        pmcid=g("PMC"),
        isbn=g("ISBN"),
        issn=first(g("IS"), g("ISSN")),
        raw={k: v[0] if len(v) == 1 else v for k, v in entry.items()},
        position=err.record,
        line=err.line,
    )


def read_medline(path: Path) -> Iterator[Record | RecordError]:
    """Stream the records of a MEDLINE/.nbib file."""
    with open_text(path) as fh:
        yield from map_entries(path.name, iter_medline_entries(fh), medline_entry_to_record)
