"""fmreview's own formats: JSON Lines (one Record per line) and Parquet (pyarrow).

JSONL lines that are not fmreview records but OpenAlex works, Crossref items or Semantic
Scholar papers (API dumps) are recognised by their keys and parsed as such.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from fmreview.errors import RecordError
from fmreview.formats._common import ErrorContext, build_record, map_entries
from fmreview.formats._decoding import open_text
from fmreview.formats.webapis import parse_crossref_item, parse_openalex_work, parse_s2_paper
from fmreview.record import LIST_FIELDS, STANDARD_FIELDS, TEXT_FIELDS, Record

_FIELDS = set(Record.__dataclass_fields__)  # type: ignore[attr-defined]
_SKIP = {"position", "line"}


def dict_to_record(obj: dict[str, Any], err: ErrorContext) -> Record:
    """A JSON object -> Record: an fmreview record, or an API object recognised by keys."""
    if "abstract_inverted_index" in obj or "authorships" in obj:
        return parse_openalex_work(obj, err=err)
    if "paperId" in obj or "externalIds" in obj:
        return parse_s2_paper(obj, err=err)
    if "DOI" in obj and ("container-title" in obj or "issued" in obj):
        return parse_crossref_item(obj, err=err)
    fields = {k: v for k, v in obj.items() if k in _FIELDS and k not in _SKIP}
    if fields.get("year") not in (None, "") and not isinstance(fields["year"], int):
        from fmreview.formats._common import check_year

        fields["year"] = check_year(fields["year"], err, "year")
    if not isinstance(fields.get("authors", []), list):
        raise err.error("authors", fields["authors"], "a list of {family, given} objects")
    rec = build_record(**fields, position=err.record, line=err.line)
    if "raw" not in obj:
        rec.raw = {k: v for k, v in obj.items() if k not in _FIELDS}
    return rec


def _json_line_to_record(text: str, err: ErrorContext) -> Record:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise err.error("line", text[:60], f"a JSON object ({exc.msg})") from None
    if not isinstance(obj, dict):
        raise err.error("line", text[:60], "a JSON object")
    return dict_to_record(obj, err)


def _numbered_lines(fh: Iterable[str]) -> Iterator[tuple[int, int, str]]:
    """``(position, line, text)`` of the lines that are not blank."""
    position = 0
    for lineno, line in enumerate(fh, 1):
        text = line.strip()
        if text:
            position += 1
            yield position, lineno, text


def read_jsonl(path: Path) -> Iterator[Record | RecordError]:
    """Stream a JSON Lines file (one object per line; blank lines skipped)."""
    with open_text(path) as fh:
        yield from map_entries(path.name, _numbered_lines(fh), _json_line_to_record)


def _record_json(rec: Record) -> dict[str, Any]:
    d = rec.to_dict()
    d.pop("line", None)
    return d


def write_jsonl(records: Iterable[Record], path: Path, extra_columns: Sequence[str] = ()) -> int:
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(_record_json(rec), ensure_ascii=False, default=str))
            fh.write("\n")
            n += 1
    return n


# -- Parquet -------------------------------------------------------------------------------

_BATCH = 10_000
#: the record's fields held as one string each (year is an integer; lists are lists)
_STRING_COLS = tuple(f for f in STANDARD_FIELDS if f not in ("authors", "year", *LIST_FIELDS))


def _schema() -> Any:
    import pyarrow as pa

    author = pa.struct([("family", pa.string()), ("given", pa.string())])
    fields = [(c, pa.string()) for c in _STRING_COLS]
    fields += [
        ("authors", pa.list_(author)),
        ("year", pa.int32()),
        ("keywords", pa.list_(pa.string())),
        ("source_labels", pa.list_(pa.string())),
        ("extra", pa.string()),
        ("raw", pa.string()),
        ("position", pa.int64()),
    ]
    return pa.schema(fields)


def _parquet_row(rec: Record) -> dict[str, Any]:
    row: dict[str, Any] = {c: getattr(rec, c) for c in _STRING_COLS}
    row["authors"] = [{"family": a.family, "given": a.given} for a in rec.authors]
    row["year"] = rec.year
    row["keywords"] = list(rec.keywords)
    row["source_labels"] = list(rec.source_labels)
    row["extra"] = json.dumps(rec.extra, ensure_ascii=False, default=str) if rec.extra else None
    row["raw"] = json.dumps(rec.raw, ensure_ascii=False, default=str) if rec.raw else None
    row["position"] = rec.position
    return row


def write_parquet(records: Iterable[Record], path: Path, extra_columns: Sequence[str] = ()) -> int:
    """Write Parquet in row groups of 10,000 records (memory bounded by one batch).

    ``extra`` and ``raw`` are JSON strings; ``extra_columns`` additionally become their own
    string columns (``extra.<key>``) for engines that query them directly.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema()
    for col in extra_columns:
        schema = schema.append(pa.field(f"extra.{col}", pa.string()))
    n = 0
    batch: list[dict[str, Any]] = []
    with pq.ParquetWriter(path, schema) as writer:
        for rec in records:
            row = _parquet_row(rec)
            for col in extra_columns:
                value = rec.extra.get(col)
                row[f"extra.{col}"] = (
                    None
                    if value is None
                    else value
                    if isinstance(value, str)
                    else json.dumps(value)
                )
            batch.append(row)
            n += 1
            if len(batch) >= _BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if batch or n == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return n


def read_parquet(path: Path) -> Iterator[Record | RecordError]:
    """Stream a Parquet file written by :func:`write_parquet` (batch by batch)."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    position = 0
    for batch in pf.iter_batches(batch_size=_BATCH):
        for row in batch.to_pylist():
            position += 1
            data = {k: v for k, v in row.items() if k in _FIELDS}
            for key in ("extra", "raw"):
                data[key] = (
                    json.loads(data[key]) if data.get(key) else ({} if key == "extra" else None)
                )
            for key in _STRING_COLS:
                if data.get(key) is None and key in TEXT_FIELDS:
                    data[key] = ""
            data["position"] = position
            yield Record.from_dict(data)
