"""Every file under ../shared/bench/formats reads with the counts its PROVENANCE.md states.

Skipped when the shared benchmark data is absent (tests must not depend on it).
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import pytest

from fmreview.errors import RecordError
from fmreview.formats import read_records, sniff
from fmreview.formats.provenance import expectations, read_provenance
from fmreview.record import Record

ROOT = Path(
    os.environ.get("FMREVIEW_BENCH", Path(__file__).resolve().parents[2] / "shared" / "bench")
)
FORMATS_DIR = ROOT / "formats"
needs_bench = pytest.mark.skipif(not FORMATS_DIR.is_dir(), reason="shared bench data absent")

EXPECTED = expectations(FORMATS_DIR) if FORMATS_DIR.is_dir() else {}


def test_provenance_table_parsing(tmp_path: Path) -> None:
    (tmp_path / "PROVENANCE.md").write_text(
        "| file | records | bytes |\n|---|---:|---:|\n"
        "| `a.ris` | 1,234 | 10 |\n| `b.json` |  | 5 |\n",
        encoding="utf-8",
    )
    assert read_provenance(tmp_path) == {"a.ris": 1234, "b.json": None}


@needs_bench
@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_fixture_reads_with_documented_counts(rel: str) -> None:
    path = FORMATS_DIR / rel
    expect = EXPECTED[rel]
    sniff(path)
    items = list(read_records(path))
    recs = [i for i in items if isinstance(i, Record)]
    errs = [i for i in items if isinstance(i, RecordError)]
    assert len(errs) == expect.errors, [str(e) for e in errs]
    if expect.entries is not None:
        assert len(recs) + len(errs) == expect.entries
    else:
        assert recs, "a file without a documented count still holds records"
    assert [i.position if isinstance(i, Record) else i.record for i in items] == list(
        range(1, len(items) + 1)
    )
    for e in errs:
        assert e.file == path.name and e.field and e.expected


def _norm(text: str | None) -> str:
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return re.sub(r"\W+", " ", text).strip()


def _fields(rec: Record) -> tuple:
    first = _norm(rec.authors[0].family) if rec.authors else ""
    return (_norm(rec.title), rec.year, rec.doi, first, _norm(rec.abstract))


@needs_bench
@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("ris/zotero_wos_asysd_first40.ris", "bibtex/zotero_wos_asysd_first40.bib"),
        (
            "ris/bluelight_endnote_reflib_first30.ris",
            "endnote-xml/bluelight_endnote_reflib_first30.xml",
        ),
    ],
)
def test_same_records_in_two_formats(left: str, right: str) -> None:
    a = [r for r in read_records(FORMATS_DIR / left) if isinstance(r, Record)]
    b = [r for r in read_records(FORMATS_DIR / right) if isinstance(r, Record)]
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        assert _fields(x) == _fields(y), (x.position, x.title)
