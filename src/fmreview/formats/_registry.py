"""The format registry: name -> reader, writer, description.

Built-in formats register themselves here when :mod:`fmreview.formats` is imported; a
plugin calls :func:`register_format` the same way (the integrator loads entry points of
group ``fmreview.formats`` and calls it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fmreview.errors import FormatError, RecordError
from fmreview.record import ImportWarning, Record

#: reader(path) -> stream of records, per-record errors and warnings about the file
Reader = Callable[[Path], Iterator[Record | RecordError | ImportWarning]]
#: writer(records, path, extra_columns) -> number of records written
Writer = Callable[[Iterable[Record], Path, Sequence[str]], int]


@dataclass(frozen=True)
class Format:
    """One file format fmreview can read and/or write.

    ``detect`` (optional) gets the first characters of a file and returns True when the
    content is this format; plugin formats use it to take part in :func:`sniff`.
    """

    name: str
    description: str
    reader: Reader | None = None
    writer: Writer | None = None
    extensions: tuple[str, ...] = ()
    detect: Callable[[str], bool] | None = field(default=None, compare=False)


FORMATS: dict[str, Format] = {}


def register_format(fmt: Format, *, replace: bool = False) -> Format:
    """Add ``fmt`` to :data:`FORMATS` (``replace=True`` to override a built-in)."""
    if fmt.name in FORMATS and not replace:
        raise FormatError(
            f"format {fmt.name!r} is already registered; pass replace=True to override it"
        )
    FORMATS[fmt.name] = fmt
    return fmt


def readable() -> list[str]:
    return sorted(n for n, f in FORMATS.items() if f.reader is not None)


def writable() -> list[str]:
    return sorted(n for n, f in FORMATS.items() if f.writer is not None)


def get_format(name: str, *, for_writing: bool = False) -> Format:
    fmt = FORMATS.get(name)
    if fmt is None or (fmt.writer if for_writing else fmt.reader) is None:
        names = writable() if for_writing else readable()
        verb = "write" if for_writing else "read"
        raise FormatError(f"cannot {verb} format {name!r}; supported: {', '.join(names)}")
    return fmt


def as_records(items: Iterable[Record | dict[str, Any]]) -> Iterator[Record]:
    for item in items:
        yield item if isinstance(item, Record) else Record.from_dict(item)
