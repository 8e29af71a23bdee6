"""One reader loop (``map_entries``): every reader quarantines a record whose mapping fails
with its file, record number and line, and keeps reading."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from fmreview.errors import RecordError
from fmreview.formats import read_records
from fmreview.formats._common import ErrorContext, map_entries
from fmreview.record import Record

DATA = Path(__file__).parent / "data" / "formats"

#: sample file, module, the function the reader maps one entry with
READERS = [
    ("sample.ris", "ris", "ris_entry_to_record"),
    ("sample.bib", "bibtex", "bibtex_entry_to_record"),
    ("sample.nbib", "medline", "medline_entry_to_record"),
    ("sample_wos.txt", "wos", "wos_entry_to_record"),
    ("sample_endnote.xml", "endnote", "endnote_record_to_record"),
    ("sample_pubmed.xml", "pubmed", "pubmed_article_to_record"),
    ("sample_arxiv.xml", "arxiv", "arxiv_entry_to_record"),
    ("asreview.csv", "tables", "row_to_record"),
    ("openalex_page.json", "webapis", "parse_openalex_work"),
    ("crossref_page.json", "webapis", "parse_crossref_item"),
    ("s2_page.json", "webapis", "parse_s2_paper"),
]


@pytest.mark.parametrize(("file", "module", "mapper"), READERS)
def test_every_reader_quarantines_a_failing_record_and_reads_on(
    file: str, module: str, mapper: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = list(read_records(DATA / file))
    assert len(good) >= 2 and isinstance(good[1], Record)
    mod = importlib.import_module(f"fmreview.formats.{module}")
    real = getattr(mod, mapper)
    calls = []

    def failing_second(*args: Any, **kwargs: Any) -> Record:
        calls.append(1)
        if len(calls) == 2:
            raise KeyError("surprise")
        return real(*args, **kwargs)

    monkeypatch.setattr(mod, mapper, failing_second)
    items = list(read_records(DATA / file))
    assert len(items) == len(good)
    err = items[1]
    assert isinstance(err, RecordError)
    assert (err.file, err.record, err.line) == (file, 2, good[1].line)
    assert "KeyError" in (err.found or "") and err.expected
    assert [str(r) for i, r in enumerate(items) if i != 1] == [
        str(r) for i, r in enumerate(good) if i != 1
    ]


def test_jsonl_lines_that_are_not_objects_are_named_by_line() -> None:
    path = DATA / "malformed.jsonl"
    items = list(read_records(path))
    errors = [i for i in items if isinstance(i, RecordError)]
    assert errors and all(e.field == "line" and e.line for e in errors)
    lines = [n for n, text in enumerate(path.read_text().splitlines(), 1) if text.strip()]
    assert {e.line for e in errors} <= set(lines)


def test_map_entries_passes_structural_errors_through_in_order() -> None:
    structural = RecordError("f.txt", record=2, line=5, field="ER", found="x", expected="y")

    def to_record(entry: str, err: ErrorContext) -> Record:
        if entry == "bad":
            raise err.error("title", entry, "a good title")
        return Record(title=entry, position=err.record, line=err.line)

    out = list(
        map_entries("f.txt", [(1, 1, "a"), structural, (3, 9, "bad"), (4, None, "d")], to_record)
    )
    assert out[0] == Record(title="a", position=1, line=1)
    assert out[1] is structural
    assert isinstance(out[2], RecordError)
    assert (out[2].record, out[2].line, out[2].field, out[2].found) == (3, 9, "title", "bad")
    assert out[3] == Record(title="d", position=4, line=None)
