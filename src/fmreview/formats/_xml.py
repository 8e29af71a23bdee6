"""Streaming XML helpers (lxml ``iterparse``, elements cleared once used)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from lxml import etree

from fmreview.errors import RecordError


def iter_elements(
    source: Path | bytes, tags: tuple[str, ...], file: str
) -> Iterator[etree._Element | RecordError]:
    """Yield each complete element named in ``tags`` (namespaced ``{ns}tag`` allowed).

    Memory stays flat: each element is cleared after the caller is done with it, and its
    already-processed siblings are dropped. Broken XML ends the stream with a RecordError
    naming the line.
    """
    fh = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    count = 0
    try:
        context = etree.iterparse(
            fh, events=("end",), tag=tags, huge_tree=True, resolve_entities=False, no_network=True
        )
        try:
            for _event, elem in context:
                count += 1
                yield elem
                elem.clear(keep_tail=True)
                parent = elem.getparent()
                if parent is not None:
                    while elem.getprevious() is not None:
                        del parent[0]
        except etree.XMLSyntaxError as exc:
            yield RecordError(
                file,
                record=count + 1,
                line=exc.lineno,
                field="xml",
                found=str(exc.msg)[:80],
                expected="well-formed XML",
            )
    finally:
        fh.close()


def text_of(elem: etree._Element | None) -> str:
    """All text inside ``elem`` (styled runs, inline markup) joined."""
    if elem is None:
        return ""
    return "".join(elem.itertext())


def to_raw(elem: etree._Element) -> dict[str, str]:
    """The element as the raw payload (its XML text, lossless and JSON-serialisable)."""
    return {"xml": etree.tostring(elem, encoding="unicode")}
