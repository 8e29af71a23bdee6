"""Importing export files into a review: sniff, parse, store, quarantine.

Default mode stores the good records and quarantines the bad ones (in the ``quarantine``
table and a JSON-lines report file in the review folder). ``strict=True`` writes nothing
at all when any record of any file is bad.

Each file also gets warnings, kept in its result and in the same report (``"kind"``):
``no_title`` (a record kept for its identifiers; one with neither a title nor an identifier
is quarantined), ``no_title_column`` (a table without a title column: an error when none of
its records has an identifier), ``invalid_id`` (a value in an identifier field that is not
one; the field stays empty) and ``truncated`` (a field over its length limit, cut; the full
value stays in the raw record, stored once).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fmreview.errors import InputError, RecordError
from fmreview.formats._common import import_checks
from fmreview.progress import NullReporter, Reporter
from fmreview.record import ImportWarning, Record
from fmreview.store import schema
from fmreview.store.records import PreparedRow, Provenance, RowSpec, add_records, row_spec

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
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["errors"] = self.errors[:20]
        d["warnings"] = self.warnings[:20]
        d["warned"] = len(self.warnings)
        d["warning_kinds"] = self.warning_kinds()
        return d

    def warning_kinds(self) -> dict[str, int]:
        """How many warnings of each kind (``no_title``, ``invalid_id`` ...)."""
        out: dict[str, int] = {}
        for w in self.warnings:
            out[w["kind"]] = out.get(w["kind"], 0) + 1
        return dict(sorted(out.items()))


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

    @property
    def warned(self) -> int:
        return sum(len(f.warnings) for f in self.files)

    def counts(self) -> dict[str, int]:
        return {
            "files": len(self.files),
            "read": sum(f.read for f in self.files),
            "added": self.added,
            "already_present": sum(f.already_present for f in self.files),
            "quarantined": self.quarantined,
            "warnings": self.warned,
        }


Item = Record | PreparedRow | RecordError | ImportWarning


def _read(path: Path, fmt: str, spec: RowSpec) -> Iterator[Item]:
    """Records of one file: large UTF-8 RIS files are parsed (and turned into store rows,
    checked as :func:`~fmreview.formats._common.import_checks` does) on every core, in order."""
    from fmreview import formats
    from fmreview.formats.parallel import can_parallelize, read_parallel

    if can_parallelize(path, fmt):
        return read_parallel(path, fmt, spec=spec)
    return formats.read_records(path, format=fmt)


def _split(
    items: Iterator[Item],
    result: FileResult,
    bad: list[RecordError],
    warned: list[ImportWarning],
    strict: bool,
) -> Iterator[Record | PreparedRow]:
    name = Path(result.file).name
    for item in items:
        if isinstance(item, Record):
            checked = import_checks(item, name)
            if isinstance(checked, RecordError):
                item = checked
            else:
                warned.extend(checked)
        if isinstance(item, ImportWarning):
            warned.append(item)
            continue
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
            provenance: Provenance = {
                "source": res.source,
                "source_kind": source_kind,
                "run_id": run.id,
                "origin": str(f),
                "format": fmt,
            }
            spec = row_spec(store, **provenance)
            bad: list[RecordError] = []
            warned: list[ImportWarning] = []
            items = _split(_read(f, fmt, spec), res, bad, warned, strict)
            c = add_records(
                store,
                reporter.track(items, f"import {f.name}"),
                conn=conn,
                spec=spec,
                **provenance,
            )
            res.added, res.already_present = c.added, c.already_present
            res.errors = [e.as_dict() for e in bad]
            res.warnings = [w.as_dict() for w in warned]
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
            _store_quarantine(store, run.id, bad_all)
        result = ImportResult(run.id, results)
        result.report = _write_report(store, run.id, bad_all, results)
        run.counts.update(result.counts())
        run.counts["per_file"] = [
            r.as_dict() | {"errors": len(r.errors), "warnings": r.warning_kinds()} for r in results
        ]
        unusable = [r for r in results if _unusable(r)]
    if unusable:
        raise _unusable_error(unusable[0])
    return result


def _store_quarantine(
    store: Any, run_id: int, bad: Sequence[tuple[FileResult, RecordError]]
) -> None:
    """Keep the quarantined records in the store, naming what was wrong with each."""
    if not bad:
        return
    with store.begin() as conn:
        conn.execute(
            sa.insert(schema.quarantine),
            [
                {
                    "run_id": run_id,
                    "file": e.file,
                    "format": r.format,
                    "position": e.record,
                    "line": e.line,
                    "field": e.field,
                    "found": e.found,
                    "expected": e.expected,
                    "message": str(e),
                }
                for r, e in bad
            ],
        )


def _write_report(
    store: Any,
    run_id: int,
    bad: Sequence[tuple[FileResult, RecordError]],
    results: Sequence[FileResult],
) -> Path | None:
    """The JSON-lines report of quarantined records and warnings in the review folder."""
    warned = [w for r in results for w in r.warnings]
    if not (bad or warned) or store.folder is None:
        return None
    qdir = Path(store.folder) / "quarantine"
    qdir.mkdir(exist_ok=True)
    report = qdir / f"import-run{run_id}.jsonl"
    with report.open("w", encoding="utf-8") as fh:
        for _r, e in bad:
            fh.write(json.dumps({"kind": "quarantined"} | e.as_dict(), ensure_ascii=False))
            fh.write("\n")
        for w in warned:
            fh.write(json.dumps(w, ensure_ascii=False) + "\n")
    return report


def _unusable_error(r: FileResult) -> InputError:
    (w,) = [w for w in r.warnings if w["kind"] == "no_title_column"]
    return InputError(
        f"{w['file']}: no title column and no record with an identifier, so nothing was "
        f"imported ({r.quarantined} row{'s' * (r.quarantined != 1)} quarantined); found "
        f"{w['found']}; expected "
        f"{w['expected']} (rename the title column, or pass --format)"
    )


def _unusable(r: FileResult) -> bool:
    """A table without a title column none of whose records could be kept."""
    return r.read == 0 and any(w["kind"] == "no_title_column" for w in r.warnings)
