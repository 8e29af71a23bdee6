"""XML readers keep every complete record before a truncation or a malformation.

lxml's ``iterparse`` drops the elements of the buffer that holds a syntax error, and how
many depends on the lxml version (6.1.3 kept all 500 records of the file below, 6.2.0 kept
381): these tests cut and break files at many points, in several record positions and with
several feed sizes, so they fail on either behaviour if the readers relied on it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fmreview.errors import RecordError
from fmreview.formats import _xml, read_records
from fmreview.formats._xml import iter_elements
from fmreview.record import Record

DATA = Path(__file__).parent / "data" / "formats"

HEAD = b'<?xml version="1.0" encoding="UTF-8"?>\n<xml><records>\n'
TAIL = b"</records></xml>\n"


def endnote_record(i: int) -> bytes:
    return (
        b'<record><ref-type name="Journal Article">17</ref-type>'
        b"<titles><title>Title %d</title></titles>"
        b"<dates><year>2020</year></dates></record>\n" % i
    )


def endnote_file(n: int) -> bytes:
    return HEAD + b"".join(endnote_record(i) for i in range(1, n + 1)) + TAIL


def split(items: list[object]) -> tuple[list[object], list[RecordError]]:
    return (
        [i for i in items if not isinstance(i, RecordError)],
        [i for i in items if isinstance(i, RecordError)],
    )


def complete_before(data: bytes, cut: int, end_tag: bytes) -> int:
    return data[:cut].count(end_tag)


@pytest.mark.parametrize("chunk", [1, 7, 64, _xml.CHUNK])
def test_every_truncation_point_keeps_the_complete_records(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_xml, "CHUNK", chunk)
    data = endnote_file(4)
    body = len(HEAD)
    for cut in range(body, len(data) - len(TAIL)):
        elems, errs = split(list(iter_elements(data[:cut], ("record",), "cut.xml")))
        want = complete_before(data, cut, b"</record>")
        assert len(elems) == want, cut
        (err,) = errs
        assert err.record == want + 1 and err.field == "xml", cut
        assert err.expected == "well-formed XML"
        assert err.line is not None and err.line >= 2


def test_a_broken_last_record_of_500_keeps_all_500() -> None:
    # the file: 500 good records and a broken last one, crossing the 64 KiB feed
    good = b"".join(endnote_record(i) for i in range(1, 501))
    data = HEAD + good + b"<record><titles><title>Broken</title></titles>\n" + TAIL
    assert len(data) > _xml.CHUNK
    elems, errs = split(list(iter_elements(data, ("record",), "big.xml")))
    assert len(elems) == 500
    (err,) = errs
    assert (err.record, err.line) == (501, 504)
    assert "record 501 (opened on line 503)" in str(err) and "500 complete records" in str(err)


@pytest.mark.parametrize("bad", [b"\x01", b"\xff\xfe", b"<", b"&nope;"])
@pytest.mark.parametrize("where", [1, 3, 6])
@pytest.mark.parametrize("chunk", [5, _xml.CHUNK])
def test_a_bad_character_mid_record_keeps_the_records_before(
    bad: bytes, where: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_xml, "CHUNK", chunk)
    records = [endnote_record(i) for i in range(1, 7)]
    records[where - 1] = records[where - 1].replace(b"Title", b"Ti" + bad + b"tle")
    data = HEAD + b"".join(records) + TAIL
    items = [
        i if isinstance(i, RecordError) else i.findtext("titles/title")
        for i in iter_elements(data, ("record",), "bad.xml")
    ]  # read each element while it is handed out: it is cleared afterwards
    titles, errs = split(items)
    assert titles == [f"Title {i}" for i in range(1, where)]
    (err,) = errs
    assert (err.record, err.line) == (where, where + 2)


def test_garbage_between_records_blames_the_next_record() -> None:
    data = HEAD + endnote_record(1) + b"</oops>\n" + endnote_record(2) + TAIL
    elems, errs = split(list(iter_elements(data, ("record",), "g.xml")))
    assert len(elems) == 1
    (err,) = errs
    assert (err.record, err.line) == (2, 4) and "after record 1" in str(err)


def test_a_file_cut_after_a_complete_record_keeps_it_and_says_so() -> None:
    data = HEAD + endnote_record(1) + endnote_record(2)
    elems, errs = split(list(iter_elements(data, ("record",), "cut.xml")))
    assert len(elems) == 2
    (err,) = errs
    assert err.record == 3 and "broken after record 2" in str(err)


def test_a_well_formed_file_yields_no_error() -> None:
    items = list(iter_elements(endnote_file(3), ("record",), "ok.xml"))
    assert len(items) == 3 and not any(isinstance(i, RecordError) for i in items)


@pytest.mark.parametrize(
    ("name", "end_tag", "titles"),
    [
        ("sample_endnote.xml", b"</record>", 3),
        ("sample_pubmed.xml", b"</PubmedArticle>", 2),
        ("sample_arxiv.xml", b"</entry>", 2),
    ],
)
def test_readers_keep_records_before_a_cut(
    name: str, end_tag: bytes, titles: int, tmp_path: Path
) -> None:
    data = (DATA / name).read_bytes()
    ends = [m.end() for m in re.finditer(re.escape(end_tag), data)]
    assert len(ends) == titles
    cuts = sorted({c for e in ends for c in (e - 1, e, e + 1)} | {ends[0] - 200})
    for cut in cuts:
        path = tmp_path / name
        path.write_bytes(data[:cut])
        recs, errs = split(list(read_records(path)))
        want = complete_before(data, cut, end_tag)
        bad_fields = [e for e in errs if e.field != "xml"]  # e.g. the year 'MMXX'
        assert len(recs) + len(bad_fields) == want, cut
        assert all(isinstance(r, Record) and r.title for r in recs)
        (err,) = [e for e in errs if e.field == "xml"]
        assert (err.file, err.record) == (name, want + 1), cut


def test_utf16_endnote_cut_mid_record(tmp_path: Path) -> None:
    data = (DATA / "endnote_utf16.xml").read_bytes()
    end = "</record>".encode("utf-16-le")
    first_end = data.index(end) + len(end)
    path = tmp_path / "u16.xml"
    path.write_bytes(data[: first_end + 40])
    recs, errs = split(list(read_records(path)))
    assert len(recs) == data[: first_end + 40].count(end) >= 1
    assert len(errs) == 1
