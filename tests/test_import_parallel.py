"""Parallel parsing of large files gives exactly what the sequential reader gives."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from fmreview import formats
from fmreview.errors import RecordError
from fmreview.formats import parallel
from fmreview.importer import import_files
from fmreview.store import Store
from fmreview.store.records import count_records


def _ris(n: int, bad: set[int]) -> str:
    out = []
    for i in range(1, n + 1):
        year = "20x1" if i in bad else str(2000 + i % 20)
        out.append(
            f"TY  - JOUR\nTI  - Title number {i} with ünïcode\nAU  - Smith, John\nAU  - Doe, A.\n"
            f"PY  - {year}\nDO  - 10.1000/x{i}\nAB  - Abstract {i}\n  continued line\nER  - \n\n"
        )
    return "".join(out)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 1500)


def test_parallel_equals_sequential_with_errors_across_chunks(
    tmp_path: Path, small_chunks: None
) -> None:
    path = tmp_path / "big.ris"
    path.write_text(_ris(60, {7, 23, 59}), encoding="utf-8")
    seq = list(formats.read_records(path, format="ris"))
    par = list(parallel.read_parallel(path, "ris", workers=2))
    assert len(par) == len(seq) == 60
    for a, b in zip(seq, par, strict=True):
        if isinstance(a, RecordError):
            assert isinstance(b, RecordError) and str(a) == str(b)
            assert (a.record, a.line, a.field) == (b.record, b.line, b.field)
        else:
            assert a.to_dict() == b.to_dict()
    errs = [e for e in par if isinstance(e, RecordError)]
    assert [e.record for e in errs] == [7, 23, 59]


def test_record_error_survives_pickling() -> None:
    e = RecordError(
        "f.ris", record=3, line=40, field="PY", found="20x1", expected="a year", message="m"
    )
    back = pickle.loads(pickle.dumps(e))
    assert str(back) == str(e) and back.as_dict() == e.as_dict()
    moved = e.shifted(lines=10, records=2)
    assert (moved.line, moved.record) == (50, 5) and "line 50" in str(moved)


def test_import_uses_parallel_path_and_quarantines(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "big.ris"
    path.write_text(_ris(40, {11}), encoding="utf-8")
    store = Store.create(tmp_path / "r")
    result = import_files(store, [path])
    assert result.added == 39 and result.quarantined == 1
    assert result.files[0].errors[0]["record"] == 11
    assert count_records(store) == 39
    again = import_files(store, [path])
    assert again.added == 0


def test_non_utf8_files_are_read_sequentially(tmp_path: Path, small_chunks: None) -> None:
    path = tmp_path / "latin.ris"
    path.write_bytes(_ris(5, set()).replace("ü", "u").encode("utf-16"))
    assert parallel.can_parallelize(path, "ris") is None
    assert len(list(parallel.read_parallel(path, "ris"))) == 5
