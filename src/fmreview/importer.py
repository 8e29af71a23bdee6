"""Importing export files into a review: sniff, parse, store, quarantine.

Default mode stores the good records and quarantines the bad ones (in the ``quarantine``
table and a JSON-lines report file in the review folder). ``strict=True`` writes nothing
at all when any record of any file is bad.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fmreview.errors import InputError, RecordError
from fmreview.progress import NullReporter, Reporter
from fmreview.record import Record
from fmreview.store import schema
from fmreview.store.records import PreparedRow, RowSpec, add_records, row_spec

SOURCE_KINDS = ("database", "other", "file")


@dataclass
class FileResult:
    file: str
    format: str
    source: str
    read: int = 0
    added: int = 0
    already_present: int = 0
    quarantined: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["errors"] = self.errors[:20]
        return d


@dataclass
class ImportResult:
    run_id: int
    files: list[FileResult]
    report: Path | None = None

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    def counts(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "read": sum(f.read for f in self.files),
            "added": self.added,
            "already_present": sum(f.already_present for f in self.files),
            "quarantined": self.quarantined,
        }


def _read(path: Path, fmt: str, spec: RowSpec) -> Iterator[Record | PreparedRow | RecordError]:
    """Records of one file: large UTF-8 RIS files are parsed (and turned into store rows)
    on every core, in order."""
    from fmreview import formats
    from fmreview.formats.parallel import can_parallelize, read_parallel

    if can_parallelize(path, fmt):
        return read_parallel(path, fmt, spec=spec)
    return formats.read_records(path, format=fmt)


def _split(
    items: Iterator[Record | PreparedRow | RecordError],
    result: FileResult,
    bad: list[RecordError],
    strict: bool,
) -> Iterator[Record | PreparedRow]:
    for item in items:
        if isinstance(item, RecordError):
            bad.append(item)
            result.quarantined += 1
            if strict:
                raise item
            continue
        result.read += 1
        yield item


def import_files(
    store: Any,
    paths: Sequence[Path | str],
    *,
    source: str | None = None,
    source_kind: str = "database",
    format: str | None = None,
    strict: bool = False,
    reporter: Reporter | None = None,
) -> ImportResult:
    """Import export files into the store.

    Parameters
    ----------
    paths : files to import; the format of each is sniffed from its content.
    source : the source name recorded for PRISMA (e.g. ``Scopus``); default: the file name.
    source_kind : ``database`` (a bibliographic database export), ``other`` (other methods:
        curated lists, citation searching) or ``file``.
    strict : write nothing if any record is malformed.
    """
    from fmreview import formats

    reporter = reporter or NullReporter()
    if source_kind not in SOURCE_KINDS:
        raise InputError(
            f"unknown source kind {source_kind!r}; expected one of {', '.join(SOURCE_KINDS)}"
        )
    files = [Path(p) for p in paths]
    for f in files:
        if not f.exists():
            raise InputError(f"{f}: no such file")
        if f.is_dir():
            raise InputError(f"{f} is a folder; name the export files inside it")
    sniffed = [(f, format or formats.sniff(f)) for f in files]  # fail early on unknown formats
    params = {
        "files": [str(f) for f in files],
        "source": source,
        "source_kind": source_kind,
        "format": format,
        "strict": strict,
    }
    results: list[FileResult] = []
    bad_all: list[tuple[FileResult, RecordError]] = []
    with store.run("import", params) as run:

        def one(f: Path, fmt: str, conn: Any = None) -> FileResult:
            """Import one file (within ``conn`` when strict); its bad records go to ``bad``."""
            res = FileResult(str(f), fmt, source or f.name)
            spec = row_spec(
                store,
                source=res.source,
                source_kind=source_kind,
                run_id=run.id,
                origin=str(f),
                format=fmt,
            )
            bad: list[RecordError] = []
            c = add_records(
                store,
                reporter.track(_split(_read(f, fmt, spec), res, bad, strict), f"import {f.name}"),
                source=res.source,
                source_kind=source_kind,
                run_id=run.id,
                origin=str(f),
                format=fmt,
                conn=conn,
                spec=spec,
            )
            res.added, res.already_present = c.added, c.already_present
            res.errors = [e.as_dict() for e in bad]
            bad_all.extend((res, e) for e in bad)
            return res

        if strict:
            try:
                with store.begin() as conn:
                    results.extend(one(f, fmt, conn) for f, fmt in sniffed)
            except RecordError as exc:
                raise InputError(f"{exc} — nothing was imported (--strict)") from exc
        else:
            results.extend(one(f, fmt) for f, fmt in sniffed)
            if bad_all:
                with store.begin() as conn:
                    conn.execute(
                        sa.insert(schema.quarantine),
                        [
                            {
                                "run_id": run.id,
                                "file": e.file,
                                "format": r.format,
                                "position": e.record,
                                "line": e.line,
                                "field": e.field,
                                "found": e.found,
                                "expected": e.expected,
                                "message": str(e),
                            }
                            for r, e in bad_all
                        ],
                    )
        result = ImportResult(run.id, results)
        if bad_all and store.folder is not None:
            qdir = Path(store.folder) / "quarantine"
            qdir.mkdir(exist_ok=True)
            result.report = qdir / f"import-run{run.id}.jsonl"
            with result.report.open("w", encoding="utf-8") as fh:
                for _r, e in bad_all:
                    fh.write(json.dumps(e.as_dict(), ensure_ascii=False) + "\n")
        run.counts.update(result.counts())
        run.counts["per_file"] = [r.as_dict() | {"errors": len(r.errors)} for r in results]
    return result
