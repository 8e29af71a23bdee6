"""Streaming XML helpers: records are yielded as soon as their end tag is parsed.

The file is fed in chunks to an lxml :class:`~lxml.etree.XMLPullParser` (libxml2's push
parser) and each complete record element is handed out, then cleared, so memory stays flat.

Broken or truncated XML must not cost the complete records before the break, whatever the
lxml version: ``iterparse`` in lxml 6.2 drops every element of the read buffer in which the
error sits (a 500-record file with a broken last record gave 381 or 482 records depending on
the version). So nothing here relies on how the parser recovers from an error: when a chunk
fails, the file is parsed a second time by a fresh parser, up to the failing chunk in one
piece and then byte by byte, and every element that this second pass completes before the
error — but that the first pass did not hand out — is yielded before the error itself.
Hand-written on top of lxml because neither lxml nor the standard library offers "every
complete element before the error" as a guarantee.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from fmreview.errors import RecordError

#: Bytes fed to the parser at a time; also the most that is re-fed byte by byte on an error.
CHUNK = 64 * 1024


def _parser(tags: tuple[str, ...]) -> etree.XMLPullParser:
    return etree.XMLPullParser(
        events=("start", "end"),
        tag=tags,
        huge_tree=True,
        resolve_entities=False,
        no_network=True,
    )


def _open(source: Path | bytes) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")  # noqa: SIM115


def _release(elem: etree._Element) -> None:
    """Free a handed-out element and the siblings already handed out before it."""
    elem.clear(keep_tail=True)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


class _Pass:
    """One parse of the stream: counts complete elements, remembers unclosed start tags."""

    def __init__(self, tags: tuple[str, ...]) -> None:
        self.parser = _parser(tags)
        self.count = 0
        self.open_lines: list[int] = []
        self.lines_fed = 0

    def feed(self, data: bytes) -> None:
        self.lines_fed += data.count(b"\n")
        self.parser.feed(data)

    def events(self) -> Iterator[etree._Element]:
        """Complete elements of what was fed so far (start tags are only noted)."""
        for event, elem in self.parser.read_events():
            if event == "start":
                self.open_lines.append(elem.sourceline or 0)
                continue
            if self.open_lines:
                self.open_lines.pop()
            self.count += 1
            yield elem


def iter_elements(
    source: Path | bytes, tags: tuple[str, ...], file: str
) -> Iterator[etree._Element | RecordError]:
    """Yield each complete element named in ``tags`` (namespaced ``{ns}tag`` allowed).

    Each element is cleared after the caller is done with it. Broken or truncated XML ends
    the stream with one :class:`RecordError` naming the line, the record that is broken
    (the first one not handed out) and what was expected; every complete element before
    it has been yielded.
    """
    with _open(source) as fh:
        first = _Pass(tags)
        start = 0  # offset of the chunk being fed
        last = b""
        error: etree.XMLSyntaxError | None = None
        while error is None:
            chunk = fh.read(CHUNK)
            if chunk:
                start += len(last)
                last = chunk
            try:
                if chunk:
                    first.feed(chunk)
                else:
                    first.parser.close()
            except etree.XMLSyntaxError as exc:
                error = exc
                break  # what this feed reported may come from the parser's recovery
            for elem in first.events():
                yield elem
                _release(elem)
            if not chunk:
                break
        if error is None:
            return
        # The failing feed may have dropped elements it completed, or reported ones that
        # only its error recovery closed: recount on a fresh parser, byte by byte.
        second = _Pass(tags)
        yield from _replay(fh, second, start, last, first.count)
        done = max(first.count, second.count)
        open_lines = second.open_lines or first.open_lines
        # the line of the byte the second pass failed on (or of the end of the file): libxml2's
        # own line number is 0 at the end of a file and 1 for some errors when fed in pieces
        yield _error(file, error, done, open_lines, second.lines_fed + 1)


def numbered_elements(
    source: Path | bytes, tags: tuple[str, ...], file: str
) -> Iterator[tuple[int, int | None, etree._Element] | RecordError]:
    """:func:`iter_elements` as ``(position, line, element)`` (see ``map_entries``)."""
    position = 0
    for elem in iter_elements(source, tags, file):
        if isinstance(elem, RecordError):
            yield elem
            return
        position += 1
        yield position, elem.sourceline, elem


def _replay(
    fh: BinaryIO, again: _Pass, start: int, last: bytes, seen: int
) -> Iterator[etree._Element]:
    """Re-parse the bytes before ``start`` in chunks, then ``last`` byte by byte up to the
    error; yield the complete elements past the first ``seen`` (those not yet handed out).
    """
    for piece in _pieces(fh, start, last):
        try:
            again.feed(piece)
        except etree.XMLSyntaxError:
            return  # the events of the failing byte may come from the parser's recovery
        for elem in again.events():
            if again.count > seen:
                yield elem
            _release(elem)


def _pieces(fh: BinaryIO, start: int, last: bytes) -> Iterator[bytes]:
    """The bytes before ``start`` in chunks, then ``last`` one byte at a time."""
    fh.seek(0)
    if start < 4:  # libxml2 needs the first 4 bytes together to detect the encoding
        yield fh.read(start) + last[: 4 - start]
        last = last[4 - start :]
    else:
        remaining = start
        while remaining > 0:
            piece = fh.read(min(CHUNK, remaining))
            remaining -= len(piece)
            yield piece
    for i in range(len(last)):
        yield last[i : i + 1]


def _error(
    file: str, exc: etree.XMLSyntaxError, done: int, open_lines: list[int], line: int
) -> RecordError:
    message = str(exc.msg or exc)
    if open_lines:
        detail = (
            f"record {done + 1} (opened on line {open_lines[0]}) is cut off or malformed; "
            f"the {done} complete records before it were kept"
        )
    else:
        detail = f"the file is broken after record {done}; the {done} records before were kept"
    return RecordError(
        file,
        record=done + 1,
        line=line,
        field="xml",
        found=message[:80],
        expected="well-formed XML",
        message=detail,
    )


def text_of(elem: etree._Element | None) -> str:
    """All text inside ``elem`` (styled runs, inline markup) joined."""
    if elem is None:
        return ""
    return "".join(elem.itertext())


def to_raw(elem: etree._Element) -> dict[str, str]:
    """The element as the raw payload (its XML text, lossless and JSON-serialisable)."""
    return {"xml": etree.tostring(elem, encoding="unicode")}
