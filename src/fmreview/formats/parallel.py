"""Parsing one large line-based file on several cores, in order, in bounded memory.

A large RIS file is cut at record boundaries into chunks of a few MB; worker processes
parse the chunks with the same tokenizer and mapping as the sequential reader, and the
caller receives the records in file order with their true record numbers and line
numbers. At most ``IN_FLIGHT * workers`` chunks are in flight, so memory does not grow with the
file. Only UTF-8 files with ``\\n`` line ends take this path (a chunk boundary then never
splits a character or a line end); anything else is read sequentially.
"""

from __future__ import annotations

import io
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from fmreview.errors import RecordError
from fmreview.record import ImportWarning, Record
from fmreview.store.records import PreparedRow, RowSpec, prepare_row

#: format -> (record start marker, record end marker), both at the start of a line
MARKERS = {"ris": (b"TY  -", b"ER  -")}
CHUNK_BYTES = 4 << 20
#: bytes read at a time when looking for a chunk's end
WINDOW = 64 << 10
MIN_BYTES = 32 << 20
#: chunks in flight per worker (parsed or being parsed, not yet consumed); 4 left the main
#: process waiting for results for a fifth of a 1M-record import, 6 no longer (+40 MB)
IN_FLIGHT = 6


def _chunks(path: Path, end_marker: bytes, size: int | None = None) -> Iterator[tuple[int, int]]:
    """``(start, end)`` byte ranges of about ``size`` bytes, each ending after an end-marker line.

    Only a small window after each cut is read (the main process does not read the file:
    the workers do, and count its lines for the line numbers, see :func:`_count_chunk`).
    A chunk ends at the first end-marker line at or after ``start + size``.
    """
    size = size or CHUNK_BYTES  # read at call time (tests shrink it)
    total = path.stat().st_size
    needle = b"\n" + end_marker
    with path.open("rb") as fh:
        start = 0
        while start < total:
            pos = start + size - 1  # from the newline before a line that starts at the cut
            end = total
            tail = b""
            while pos < total:
                fh.seek(pos)
                block = fh.read(WINDOW)
                data = tail + block
                i = data.find(needle)
                if i >= 0:
                    j = data.find(b"\n", i + 1)
                    while j < 0:  # an ER line longer than the window
                        more = fh.read(WINDOW)
                        if not more:
                            break
                        data += more
                        j = data.find(b"\n", i + 1)
                    base = pos - len(tail)
                    end = base + j + 1 if j >= 0 else total
                    break
                tail = data[-len(needle) + 1 :]  # a marker across two windows
                pos += len(block)
            yield start, end
            start = end


def _count_chunk(path: str, start: int, end: int, start_marker: bytes) -> tuple[int, int]:
    """``(lines, records)`` in one chunk: the line and record numbers the next chunk starts at."""
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    records = data.count(b"\n" + start_marker) + (1 if data.startswith(start_marker) else 0)
    return data.count(b"\n"), records


def _parse_chunk(
    path: str,
    fmt: str,
    start: int,
    end: int,
    lines: int,
    records: int,
    enc: str,
    spec: RowSpec | None = None,
) -> list[Record | PreparedRow | RecordError | ImportWarning]:
    from fmreview.formats._common import import_checks, map_entries
    from fmreview.formats._decoding import open_text  # noqa: F401  (registers the error handler)
    from fmreview.formats.ris import numbered_ris_entries, ris_entry_to_record

    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    errors = "fmreview-cp1252" if enc in ("utf-8", "utf-8-sig") else "replace"
    text = io.TextIOWrapper(
        io.BytesIO(data), encoding=enc if start == 0 else "utf-8", errors=errors
    )
    name = Path(path).name
    out: list[Record | PreparedRow | RecordError | ImportWarning] = []
    # line numbers are the file's from the start (line_base), record numbers are shifted
    entries = numbered_ris_entries(text, name, line_base=lines, records=records)
    for rec in map_entries(name, entries, ris_entry_to_record):
        if isinstance(rec, RecordError) or spec is None:
            out.append(rec)
            continue
        # with a spec the row is built here, on this core: a row of strings also pickles
        # back to the main process several times faster than a Record object; so the
        # import's checks of the record run here too
        checked = import_checks(rec, name)
        if isinstance(checked, RecordError):
            out.append(checked)
            continue
        out.extend(checked)
        out.append(prepare_row(rec, spec))
    return out


def can_parallelize(path: Path, fmt: str) -> str | None:
    """The encoding to use when ``path`` may be parsed in parallel, else None."""
    from fmreview.formats._decoding import detect_encoding, read_sample

    if fmt not in MARKERS or path.stat().st_size < MIN_BYTES or (os.cpu_count() or 1) < 2:
        return None
    sample = read_sample(path)
    enc = detect_encoding(sample)
    if enc not in ("utf-8", "utf-8-sig") or b"\r" in sample:
        return None
    return enc


def read_parallel(
    path: Path, fmt: str, *, workers: int | None = None, spec: RowSpec | None = None
) -> Iterator[Record | PreparedRow | RecordError | ImportWarning]:
    """Records of ``path`` in file order, parsed by ``workers`` processes.

    With ``spec`` the workers also turn each record into its store row
    (:func:`~fmreview.store.records.prepare_row`) for :func:`~fmreview.store.records.add_records`.
    """
    enc = can_parallelize(path, fmt)
    if enc is None:
        from fmreview.formats import read_records

        yield from read_records(path, format=fmt)
        return
    start_marker, end_marker = MARKERS[fmt]
    workers = workers or max(2, (os.cpu_count() or 2))
    window = IN_FLIGHT * workers
    bounds = _chunks(path, end_marker)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        # the line and record numbers a chunk starts at are counted by the workers, ahead
        # of the chunks they parse; the main process only writes
        counts: deque[tuple[int, int, Future[tuple[int, int]]]] = deque()
        pending: deque[Future[list[Record | PreparedRow | RecordError | ImportWarning]]] = deque()
        lines = records = 0

        def count_ahead() -> None:
            while len(counts) < 2 * window:
                bound = next(bounds, None)
                if bound is None:
                    return
                counts.append((*bound, pool.submit(_count_chunk, str(path), *bound, start_marker)))

        count_ahead()
        while counts:
            start, end, counted = counts.popleft()
            pending.append(
                pool.submit(_parse_chunk, str(path), fmt, start, end, lines, records, enc, spec)
            )
            n_lines, n_records = counted.result()
            lines, records = lines + n_lines, records + n_records
            count_ahead()
            if len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
