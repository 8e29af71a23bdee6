"""Bad input: malformed records become RecordErrors; unknown files a FormatError."""

from __future__ import annotations

from pathlib import Path

import pytest

from fmreview.errors import FormatError, RecordError
from fmreview.formats import FORMATS, Format, read_records, register_format, sniff, write_records
from fmreview.formats._decoding import detect_encoding, is_binary
from fmreview.record import Record

DATA = Path(__file__).parent / "data" / "formats"


def split(name: str) -> tuple[list[Record], list[RecordError]]:
    items = list(read_records(DATA / name))
    return (
        [i for i in items if isinstance(i, Record)],
        [i for i in items if isinstance(i, RecordError)],
    )


def test_malformed_ris_names_file_line_record_field() -> None:
    recs, errs = split("malformed.ris")
    assert [r.title for r in recs] == ["A good first record", "A record after the unclosed one"]
    assert [r.position for r in recs] == [1, 4]
    bad_year, unclosed, no_er = errs
    assert (bad_year.file, bad_year.record, bad_year.line, bad_year.field, bad_year.found) == (
        "malformed.ris", 2, 10, "PY", "20x1"
    )  # fmt: skip
    assert "year" in (bad_year.expected or "")
    assert str(bad_year).startswith("malformed.ris line 10, record 2: field 'PY' holds '20x1'")
    assert (unclosed.record, unclosed.line, unclosed.field) == (3, 13, "ER")
    assert (no_er.record, no_er.field) == (5, "ER") and "end of file" in (no_er.found or "")


def test_errors_list_collects_instead_of_yielding() -> None:
    errors: list[RecordError] = []
    items = list(read_records(DATA / "malformed.ris", errors=errors))
    assert all(isinstance(i, Record) for i in items) and len(items) == 2
    assert len(errors) == 3 and errors[0].as_dict()["field"] == "PY"


def test_malformed_bibtex() -> None:
    recs, errs = split("malformed.bib")
    assert [r.title for r in recs] == ["A good entry", "An entry after the broken one"]
    year, unreadable = errs
    assert (year.field, year.found, year.record, year.line) == ("year", "20x1", 2, 7)
    assert (unreadable.field, unreadable.line, unreadable.record) == ("entry", 13, 3)
    assert unreadable.found == "@article{key with spaces,"


def test_malformed_csv() -> None:
    recs, errs = split("malformed.csv")
    assert [r.title for r in recs] == ["A good row", "A row after the bad one"]
    (err,) = errs
    assert (err.line, err.record, err.field, err.found) == (3, 2, "year", "20x1")


def test_csv_row_with_surplus_fields_is_realigned(tmp_path: Path) -> None:
    path = tmp_path / "shifted.csv"
    path.write_text(
        "Title,Year,Funding,Abstract,Source,EID\n"
        "Aligned,2020,f,an abstract,Scopus,2-s2.0-1\n"
        "Shifted,2021,f,f2,an abstract,Scopus,2-s2.0-2\n",
        encoding="utf-8",
    )
    a, b = list(read_records(path))
    assert isinstance(b, Record) and (b.title, b.year) == ("Shifted", 2021)
    assert b.raw["EID"] == "2-s2.0-2" and b.raw["_surplus"] == ["f2"]


def test_malformed_jsonl() -> None:
    recs, errs = split("malformed.jsonl")
    assert [r.year for r in recs] == [2020, 2021]
    assert [(e.line, e.record, e.field) for e in errs] == [(2, 2, "line"), (3, 3, "line")]


def test_broken_xml_stops_with_line() -> None:
    recs, errs = split("malformed_endnote.xml")
    assert [r.title for r in recs] == ["Complete record"]
    (err,) = errs
    assert err.field == "xml" and err.line == 5 and err.expected == "well-formed XML"


def test_unterminated_quote_in_csv(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('title,year\n"never closed,2020\nsecond,2021\n', encoding="utf-8")
    items = list(read_records(path))
    # the csv module swallows the rest of the file into the open quote: one record, no crash
    assert len(items) == 1


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("empty.ris", "empty.ris is empty"),
        ("binary.bin", "binary"),
        ("unknown.txt", "cannot recognise the format of unknown.txt"),
    ],
)
def test_unreadable_files_list_supported_formats(name: str, needle: str) -> None:
    with pytest.raises(FormatError) as info:
        sniff(DATA / name)
    message = str(info.value)
    assert needle in message
    for fmt in ("ris", "bibtex", "medline", "csv", "xlsx", "wos", "openalex_json"):
        assert fmt in message
    with pytest.raises(FormatError):
        list(read_records(DATA / name))


def test_whitespace_only_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.ris"
    path.write_bytes(b"\xef\xbb\xbf \r\n\n")
    with pytest.raises(FormatError, match="is empty"):
        sniff(path)


def test_missing_file() -> None:
    with pytest.raises(FormatError, match="does not exist"):
        sniff(DATA / "no-such-file.ris")


def test_unknown_format_names() -> None:
    with pytest.raises(FormatError, match="supported: .*ris"):
        list(read_records(DATA / "sample.ris", format="endnote8"))
    with pytest.raises(FormatError, match="cannot write format 'medline'; supported: .*parquet"):
        write_records([], DATA / "never.txt", format="medline")


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(FormatError, match="not an Excel workbook"):
        sniff(path)


def test_encoding_detection() -> None:
    assert detect_encoding("é".encode()) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbfabc") == "utf-8-sig"
    assert detect_encoding("TY  - JOUR".encode("utf-16")) == "utf-16"
    assert detect_encoding("TY  - JOUR\nTI  - x".encode("utf-16-le")) == "utf-16-le"
    assert detect_encoding("Réseaux médicaux, très évalués".encode("latin-1")) == "cp1252"
    assert is_binary(bytes(range(256))) and not is_binary("TY  - x".encode("utf-16"))


def test_utf8_file_with_stray_latin1_bytes(tmp_path: Path) -> None:
    path = tmp_path / "mixed.ris"
    good = "TY  - JOUR\nTI  - Überblick\nER  - \n" * 3000  # UTF-8 start beyond the sample
    path.write_bytes(good.encode() + "TY  - JOUR\nTI  - Caf\xe9\nER  - \n".encode("latin-1"))
    items = list(read_records(path))
    assert len(items) == 3001 and items[-1].title == "Café"  # type: ignore[union-attr]


def test_register_format_extension_point(tmp_path: Path) -> None:
    def reader(path: Path):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            yield Record(title=line.removeprefix("TITLE: "), position=i, line=i)

    fmt = Format("titles", "one TITLE: line per record", reader, None, (".titles",),
                 detect=lambda text: text.startswith("TITLE: "))  # fmt: skip
    register_format(fmt)
    try:
        with pytest.raises(FormatError, match="already registered"):
            register_format(fmt)
        path = tmp_path / "x.titles"
        path.write_text("TITLE: one\nTITLE: two\n")
        assert sniff(path) == "titles"
        assert [r.title for r in read_records(path)] == ["one", "two"]  # type: ignore[union-attr]
    finally:
        FORMATS.pop("titles")
