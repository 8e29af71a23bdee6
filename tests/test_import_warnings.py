"""Imports warn per file: no title, no title column, invalid identifiers, oversized fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from fmreview.cli import main
from fmreview.errors import InputError
from fmreview.formats import parallel, read_records
from fmreview.formats._common import build_record, import_checks
from fmreview.importer import import_files
from fmreview.record import FIELD_LIMITS, ImportWarning, Record
from fmreview.store import Store, schema


def kinds(result_file: object) -> dict[str, int]:
    return result_file.warning_kinds()  # type: ignore[attr-defined,no-any-return]


def test_a_table_without_a_title_column_warns_and_keeps_records_with_ids(
    file_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("Name,DOI,Year\nfirst,10.1000/a1,2020\nsecond,,2021\n", encoding="utf-8")
    result = import_files(file_store, [path])
    (f,) = result.files
    assert (f.read, f.added, f.quarantined) == (1, 1, 1)
    col = next(w for w in f.warnings if w["kind"] == "no_title_column")
    assert col["file"] == "ids.csv" and col["found"] == "columns Name, DOI, Year"
    assert "title" in col["expected"] and "document title" in col["expected"]
    assert kinds(f) == {"no_title": 1, "no_title_column": 1}
    (q,) = f.errors
    assert (q["record"], q["line"], q["field"]) == (2, 3, "title")
    assert "a title or an identifier" in q["expected"]
    # the report holds the quarantined record and the warnings, each with its kind
    lines = [json.loads(x) for x in result.report.read_text(encoding="utf-8").splitlines()]  # type: ignore[union-attr]
    assert [x["kind"] for x in lines] == ["quarantined", "no_title_column", "no_title"]


def test_a_table_without_title_column_or_identifiers_is_an_error(
    file_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "noid.csv"
    path.write_text("Name,Year\nfirst,2020\nsecond,2021\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        import_files(file_store, [path])
    msg = str(info.value)
    assert msg.startswith("noid.csv: no title column and no record with an identifier")
    assert "found columns Name, Year" in msg and "expected a title column named one of" in msg
    with file_store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.records)).scalar() == 0


def test_cli_import_exits_non_zero_for_a_titleless_table_and_prints_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    review = tmp_path / "r"
    assert main(["init", str(review)]) == 0
    bad = tmp_path / "noid.csv"
    bad.write_text("Name,Year\nfirst,2020\n", encoding="utf-8")
    assert main(["import", str(bad), "--dir", str(review), "--quiet"]) == 2
    assert "no title column" in capsys.readouterr().err.replace("\n", " ")
    good = tmp_path / "ids.ris"
    good.write_text(
        "TY  - JOUR\nTI  - Kept\nDO  - not-a-doi\nER  - \n\nTY  - JOUR\nDO  - 10.1000/b\nER  - \n",
        encoding="utf-8",
    )
    assert main(["import", str(good), "--dir", str(review), "--quiet"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "warnings in ids.ris: 1 invalid_id, 1 no_title" in out
    assert "ids.ris line 1, record 1: field 'doi' holds 'not-a-doi' expected a DOI" in out


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("doi", "10.abc/def", "a DOI like 10.1234/abc"),
        ("pmid", "PMID none", "a PubMed id"),
        ("arxiv", "arXiv:abcd", "an arXiv id"),
        ("isbn", "12345", "an ISBN"),
    ],
)
def test_an_invalid_identifier_is_kept_out_and_reported(
    field: str, value: str, expected: str
) -> None:
    rec = build_record(title="T", raw={"x": 1}, position=4, line=9, **{field: value})
    assert getattr(rec, field) is None
    (w,) = import_checks(rec, "in.ris")  # type: ignore[misc]
    assert (w.file, w.kind, w.record, w.line, w.field, w.found) == (
        "in.ris", "invalid_id", 4, 9, field, value
    )  # fmt: skip
    assert expected in (w.expected or "")
    assert w.message.startswith(f"in.ris line 9, record 4: field {field!r} holds {value!r}")


@pytest.mark.parametrize("value", ["", "NA", "n/a", "null"])
def test_missing_value_markers_are_not_invalid_identifiers(value: str) -> None:
    assert build_record(title="T", doi=value, pmid=value).warnings == []


def test_the_first_valid_of_several_isbns_is_kept() -> None:
    rec = build_record(title="T", isbn="999-9-999-99999-9; 978-3-16-148410-0")
    assert rec.isbn == "9999999999999" and rec.warnings == []


def test_a_record_without_title_or_identifier_is_quarantined() -> None:
    rec = build_record(abstract="only an abstract", issn="1234-5678", position=2, line=5)
    err = import_checks(rec, "f.ris")
    assert not isinstance(err, list)
    assert (err.record, err.line, err.field) == (2, 5, "title")  # an ISSN names a journal
    (w,) = import_checks(build_record(doi="10.1000/x"), "f.ris")  # type: ignore[misc]
    assert w.kind == "no_title" and "kept for its identifiers: doi" in w.message


def test_an_oversized_title_is_cut_and_stored_once(file_store: Store, tmp_path: Path) -> None:
    big = "foundation " * 100_000  # 1.1 MB
    path = tmp_path / "big.ris"
    path.write_text(f"TY  - JOUR\nTI  - {big}\nDO  - 10.1000/big\nER  - \n", encoding="utf-8")
    result = import_files(file_store, [path])
    (f,) = result.files
    (w,) = f.warnings
    assert (w["kind"], w["field"], w["record"]) == ("truncated", "title", 1)
    assert w["found"] == f"{len(big.strip()):,} characters"
    assert w["expected"] == f"at most {FIELD_LIMITS['title']:,}"
    with file_store.connect() as conn:
        title, raw = conn.execute(sa.select(schema.records.c.title, schema.records.c.raw)).one()
        size = conn.execute(
            sa.select(sa.func.length(sa.cast(schema.records.c.raw, sa.Text)))
        ).scalar()
    assert len(title) == FIELD_LIMITS["title"] and title.endswith("\u2026")
    assert raw["TI"] == [big.strip()]  # the full value, once
    assert size < 1.2 * len(big)


def test_oversized_fields_without_raw_keep_the_full_value_once() -> None:
    rec = build_record(title="t" * 5000, abstract="a" * 50_000, keywords=["k" * 2000])
    assert len(rec.title) == FIELD_LIMITS["title"] and len(rec.abstract) == 40_000
    assert rec.raw["untruncated"]["title"] == "t" * 5000
    assert [w.field for w in rec.warnings] == ["title", "abstract", "keywords"]
    assert rec.to_dict().get("warnings") is None  # warnings are not part of the data


def test_genuine_lengths_are_not_cut() -> None:
    # the longest title and abstract of the 14 labelled bench sets: 497 and 10,265 characters
    rec = build_record(title="t" * 497, abstract="a" * 10_265)
    assert rec.warnings == [] and len(rec.title) == 497


def test_reader_yields_the_file_warning_before_the_records(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text("Name\tDOI\nA\t10.1000/a\n", encoding="utf-8")
    first, rec = list(read_records(path))
    assert isinstance(first, ImportWarning) and first.kind == "no_title_column"
    assert isinstance(rec, Record) and rec.doi == "10.1000/a"


def test_parallel_import_warns_like_the_sequential_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "".join(
            f"TY  - JOUR\nTI  - Title {i}\nDO  - {'bad' if i % 7 == 0 else f'10.1000/x{i}'}\nER  - \n\n"
            for i in range(1, 40)
        )
        + "TY  - JOUR\nAB  - no title, no id\nER  - \n\n"
    )
    path = tmp_path / "p.ris"
    path.write_text(text, encoding="utf-8")
    seq = import_files(Store.memory(), [path])
    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 400)
    monkeypatch.setattr(parallel.os, "cpu_count", lambda: 2)
    par = import_files(Store.memory(), [path])
    assert seq.files[0].warnings == par.files[0].warnings
    assert seq.files[0].errors == par.files[0].errors
    assert kinds(par.files[0]) == {"invalid_id": 5} and par.files[0].quarantined == 1


def test_a_quarantined_record_says_which_identifier_was_invalid() -> None:
    err = import_checks(build_record(doi="doi:10.abc", position=3, line=4), "lens.csv")
    assert not isinstance(err, list)
    assert "nothing to screen it by" in str(err)
    assert "its doi 'doi:10.abc' is not a DOI like 10.1234/abc" in str(err)
