"""Parallel parsing of large files gives exactly what the sequential reader gives."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmreview import formats
from fmreview.errors import RecordError
from fmreview.formats import parallel
from fmreview.importer import import_files
from fmreview.record import Record
from fmreview.store import Store
from fmreview.store.records import SeenKeys, count_records


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
    # bad years in several chunks, a record cut short by a new TY, one never closed
    text = _ris(60, {7, 23, 59}).replace(
        "ER  - \n\nTY  - JOUR\nTI  - Title number 41", "TY  - JOUR\nTI  - Title number 41"
    )
    path.write_text(text + "TY  - JOUR\nTI  - never closed\n", encoding="utf-8")
    seq = list(formats.read_records(path, format="ris"))
    par = list(parallel.read_parallel(path, "ris", workers=2))
    assert len(list(parallel._chunks(path, b"ER  -"))) > 5
    assert len(par) == len(seq) == 61
    for a, b in zip(seq, par, strict=True):
        if isinstance(a, RecordError):
            assert isinstance(b, RecordError) and str(a) == str(b)
            assert (a.record, a.line, a.field) == (b.record, b.line, b.field)
        else:
            assert a.to_dict() == b.to_dict()
    errs = [e for e in par if isinstance(e, RecordError)]
    assert [e.record for e in errs] == [7, 23, 40, 59, 61]
    # every line number, in the message text too, is the file's
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[errs[1].line - 1] == "PY  - 20x1"  # the year of record 23
    assert lines[errs[2].line].startswith("TI  - Title number 40 ")  # record 40 starts there
    assert f"a new 'TY' at line {errs[2].line + 8}" in str(errs[2])
    assert f"end of file at line {len(lines)}" in str(errs[-1])


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


def _stored(store: Store) -> list[dict]:
    import sqlalchemy as sa

    from fmreview.store import schema

    skip = {"id", "run_id", "retrieved_at", "origin"}
    with store.connect() as conn:
        rows = conn.execute(sa.select(schema.records).order_by(schema.records.c.position))
        return [{k: v for k, v in r._mapping.items() if k not in skip} for r in rows]


def test_rows_built_in_workers_equal_rows_built_here(
    tmp_path: Path, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the same entry three times (twice in one chunk, once in another): each is kept, with
    # the fingerprint of its occurrence, exactly as the sequential path stores them
    text = _ris(30, {5})
    dup = text.split("ER  - \n\n")[2] + "ER  - \n\n"
    path = tmp_path / "big.ris"
    path.write_text(dup + text + dup + dup, encoding="utf-8")
    par = Store.create(tmp_path / "par")
    r1 = import_files(par, [path], source="s")
    monkeypatch.setattr(parallel, "MIN_BYTES", 1 << 40)  # sequential from here on
    seq = Store.create(tmp_path / "seq")
    r2 = import_files(seq, [path], source="s")
    assert r1.counts() == r2.counts() and r1.added == 32 and r1.quarantined == 1
    a, b = _stored(par), _stored(seq)
    assert a == b
    assert len({r["fingerprint"] for r in a}) == 32
    # idempotent across the two paths: the sequential path adds nothing to the parallel store
    assert import_files(par, [path], source="s").added == 0


def test_bulk_path_writes_timestamps_as_core_does(tmp_path: Path) -> None:
    from datetime import datetime

    import sqlalchemy as sa

    from fmreview.store import schema

    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)  # no microseconds
    store = Store.create(tmp_path / "r", clock=lambda: when)
    path = tmp_path / "a.ris"
    path.write_text(_ris(2, set()), encoding="utf-8")
    import_files(store, [path])
    with store.connect() as conn:
        raw = conn.exec_driver_sql("SELECT retrieved_at FROM records").scalars().all()
        back = conn.execute(sa.select(schema.records.c.retrieved_at)).scalars().all()
    # SQLAlchemy's own SQLite DATETIME text (sqlite3's adapter wrote "...07+00:00")
    assert raw == ["2026-03-04 05:06:07.000000"] * 2
    assert [b.replace(tzinfo=UTC) for b in back] == [when, when]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.integers(0, 30), st.integers(0, 2**64 - 1)), max_size=40),
        max_size=30,
    )
)
def test_seen_keys_is_a_set_that_says_what_came_before(batches: list[list[int]]) -> None:
    seen, ref = SeenKeys(), set()
    for keys in batches:
        expected = []
        for k in keys:
            expected.append(k in ref)
            ref.add(k)
        assert seen.add(np.array(keys, dtype=np.uint64)).tolist() == expected
    assert len(seen) == len(ref)


def test_strict_import_writes_nothing_when_any_record_is_bad(tmp_path: Path) -> None:
    from fmreview.errors import InputError

    good, bad = tmp_path / "good.ris", tmp_path / "bad.ris"
    good.write_text(_ris(3, set()), encoding="utf-8")
    bad.write_text(_ris(4, {3}), encoding="utf-8")
    store = Store.create(tmp_path / "r")
    with pytest.raises(InputError, match=r"record 3.*nothing was imported \(--strict\)"):
        import_files(store, [good, bad], strict=True)
    assert count_records(store) == 0
    result = import_files(store, [good, bad])
    assert (result.added, result.quarantined) == (6, 1)
    assert result.report is not None and result.report.exists()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 400), min_size=1, max_size=25),
    st.integers(1, 300),
    st.integers(8, 64),
)
def test_chunks_tile_the_file_and_end_after_an_er_line(
    tmp_path_factory: pytest.TempPathFactory, pads: list[int], size: int, window: int
) -> None:
    # records of very different lengths (some longer than a chunk or a read window), with
    # ER lines of varied length, cut at every size
    text = "".join(f"TY  - JOUR\nTI  - {'x' * pad}\nER  - {'y' * (pad % 7)}\n\n" for pad in pads)
    path = tmp_path_factory.mktemp("c") / "f.ris"
    path.write_bytes(text.encode())
    data = path.read_bytes()
    old = parallel.WINDOW
    parallel.WINDOW = window
    try:
        bounds = list(parallel._chunks(path, b"ER  -", size))
    finally:
        parallel.WINDOW = old
    assert bounds[0][0] == 0 and bounds[-1][1] == len(data)
    for (_, e1), (s2, _) in zip(bounds, bounds[1:], strict=False):
        assert e1 == s2
    for start, end in bounds[:-1]:
        line = data[:end].rsplit(b"\n", 2)[-2]
        assert line.startswith(b"ER  -")
        # the first ER line at or after the cut: none ends earlier past start + size
        assert data.find(b"\nER  -", start + size - 1, end - len(line) - 1) < 0


def test_an_interrupted_import_keeps_its_commits_and_a_rerun_adds_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fmreview.formats._common import build_record
    from fmreview.store import records as store_records

    monkeypatch.setattr(store_records, "BATCH", 3)
    monkeypatch.setattr(store_records, "COMMIT_ROWS", 6)
    recs = [build_record(title=f"Record {i}", year=2020, raw={"TI": [f"{i}"]}) for i in range(12)]

    def interrupted() -> Iterator[Record]:
        yield from recs[:10]
        raise KeyboardInterrupt

    store = Store.create(tmp_path / "r")
    with pytest.raises(KeyboardInterrupt), store.run("import", {}) as run:
        store_records.add_records(
            store, interrupted(), source="s", source_kind="file", run_id=run.id
        )
    # the first transaction (6 rows) was committed; the one open at the interrupt was not
    assert count_records(store) == 6
    with store.run("import", {}) as run:
        again = store_records.add_records(
            store, iter(recs), source="s", source_kind="file", run_id=run.id
        )
    assert (again.added, again.already_present) == (6, 6)
    assert count_records(store) == 12
