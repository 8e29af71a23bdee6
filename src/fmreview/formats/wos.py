"""Web of Science plain text (ISI tagged format, also Zoological Record on the WoS platform).

Hand-written streaming parser: ``rispy.WokParser`` reads the whole file into a list and
keeps no line numbers. Layout: ``FN``/``VR`` header, records from ``PT`` to ``ER``,
two-letter tag + space + value, continuation lines indented by three spaces (for author
and cited-reference tags each continuation line is a new item), ``EF`` at the end. The tag
vocabulary is rispy's (``rispy.config.WOK_LIST_TYPE_TAGS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rispy.config import WOK_LIST_TYPE_TAGS

from fmreview.errors import RecordError
from fmreview.formats._common import (
    ErrorContext,
    add_tag,
    build_record,
    check_year,
    first,
    join_pages,
    map_entries,
    map_type,
    split_list,
    text_lines,
    unclosed,
)
from fmreview.formats._decoding import open_text
from fmreview.record import Record

_LIST_TAGS = frozenset([*WOK_LIST_TYPE_TAGS, "BE"])
_IGNORE = {"FN", "VR", "EF"}
_EMAIL = re.compile(r"\([^)]*@[^)]*\)")


def iter_wos_entries(fh: Any, file: str) -> Iterator[tuple[int, int, dict[str, Any]] | RecordError]:
    entry: dict[str, Any] | None = None
    start = 0
    last: str | None = None
    position = 0
    lineno = 0
    for lineno, line in text_lines(fh):
        if not line.strip():
            continue
        if line[:2] == "  " or line[:1] == "\t":
            if entry is not None and last is not None:
                text = line.strip()
                if last in _LIST_TAGS:
                    entry[last].append(text)
                else:
                    entry[last][-1] = f"{entry[last][-1]} {text}"
            continue
        tag, value = line[:2], line[3:].strip()
        if tag in _IGNORE:
            continue
        if tag == "ER":
            if entry is not None:
                yield position, start, entry
            entry, last = None, None
            continue
        if tag == "PT":
            if entry is not None:
                yield unclosed(file, position, start, f"a new 'PT' at line {lineno}", "'ER'")
            position += 1
            entry, start = {}, lineno
        if entry is None:
            continue  # text outside records
        add_tag(entry, tag, value, lineno)
        last = tag
    if entry is not None:
        yield unclosed(file, position, start, f"end of file at line {lineno}", "'ER'")


def wos_entry_to_record(entry: dict[str, Any], err: ErrorContext) -> Record:
    taglines: dict[str, int] = entry.pop("_lines", None) or {}
    g = entry.get
    year = check_year(g("PY"), err, "PY", taglines.get("PY")) if g("PY") else None
    names = g("AF") or g("AU") or []
    authors = [_EMAIL.sub("", n).strip() for n in names]
    date = f"{year} {first(g('PD'))}" if year and g("PD") else None
    pt = first(g("PT"))
    return build_record(
        title=g("TI"),
        abstract=g("AB"),
        authors=authors,
        year=year,
        date=date,
        venue=first(g("SO"), g("SE")),
        volume=g("VL"),
        issue=g("IS"),
        pages=join_pages(first(g("BP")), first(g("EP"))) or first(g("AR")),
        publisher=g("PU"),
        type=map_type(g("DT"), {"B": "book", "S": "book", "P": "other"}.get(pt, "")) or "article",
        keywords=split_list(g("DE")) + split_list(g("ID")),
        language=g("LA"),
        doi=first(g("DI")),
        pmid=g("PM"),
        isbn=g("BN"),
        issn=first(g("SN"), g("EI")),
        extra={"wos": first(g("UT"))} if g("UT") else None,
        raw={k: v[0] if len(v) == 1 and k not in _LIST_TAGS else v for k, v in entry.items()},
        position=err.record,
        line=err.line,
    )


def read_wos(path: Path) -> Iterator[Record | RecordError]:
    """Stream the records of a Web of Science plain-text export."""
    with open_text(path) as fh:
        yield from map_entries(path.name, iter_wos_entries(fh, path.name), wos_entry_to_record)
