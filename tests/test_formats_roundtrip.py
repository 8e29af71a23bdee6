"""Round-trips: records -> write -> read give back the same standard fields, per format.

What each format can represent (and so what the strategies generate):

- all formats: text is NFC with single spaces (what every reader produces); a record has a
  type; names have no trailing "." or ";" and no "," or ";" inside (those separate names);
  keywords hold no "," or ";" (separators in BibTeX and tables).
- RIS has one SN tag: a record carries an ISSN or an ISBN, not both. RIS and BibTeX have
  no field for ``source_labels``.
- BibTeX: LaTeX specials and ligatures (``--``, ``''``) are escaped on writing; that
  escaping is tested separately over all specials.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmreview.errors import RecordError
from fmreview.formats import read_records, write_records
from fmreview.formats._common import clean_text
from fmreview.formats.bibtex import escape_latex, latex_to_unicode
from fmreview.record import RECORD_TYPES, Author, Record

LETTERS = string.ascii_letters + "éüøñçåÉÖŁŽßæ"
TEXT_ALPHABET = LETTERS + string.digits + " .,:()?!'`-"

words = st.text(alphabet=LETTERS, min_size=2, max_size=10)


def _text(min_size: int = 0, max_size: int = 60, alphabet: str = TEXT_ALPHABET):
    return (
        st.text(alphabet=alphabet, min_size=min_size, max_size=max_size)
        .map(clean_text)
        .filter(lambda s: len(s) >= min_size)
    )


family = (
    st.lists(words.map(str.capitalize), min_size=1, max_size=3)
    .map(" ".join)
    .filter(lambda s: " and " not in f" {s.lower()} ")
)
given_name = st.one_of(st.just(""), words.map(str.capitalize), st.just("J. R"))
authors = st.lists(st.builds(Author, family, given_name), max_size=4)
slug = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=12)


@st.composite
def records(draw: st.DrawFn, *, one_sn: bool = False) -> Record:
    year = draw(st.one_of(st.none(), st.integers(1900, 2030)))
    date = None
    if year is not None:
        month = draw(st.one_of(st.none(), st.integers(1, 12)))
        day = draw(st.one_of(st.none(), st.integers(1, 28))) if month else None
        date = str(year) + (f"-{month:02d}" if month else "") + (f"-{day:02d}" if day else "")
    isbn = draw(st.one_of(st.none(), st.from_regex(r"97[89][0-9]{10}", fullmatch=True)))
    issn = draw(st.one_of(st.none(), st.from_regex(r"[0-9]{4}-[0-9]{3}[0-9X]", fullmatch=True)))
    if one_sn and isbn and issn:
        issn = None
    keywords = draw(st.lists(_text(1, 20, TEXT_ALPHABET.replace(",", "")), max_size=4, unique=True))
    return Record(
        title=draw(_text(0, 80)),
        abstract=draw(_text(0, 200)),
        authors=draw(authors),
        year=year,
        date=date,
        venue=draw(_text(0, 40)),
        volume=draw(st.one_of(st.just(""), st.integers(1, 999).map(str))),
        issue=draw(st.one_of(st.just(""), st.integers(1, 12).map(str))),
        pages=draw(st.sampled_from(["", "1-10", "e12345", "101-115"])),
        publisher=draw(_text(0, 30)),
        type=draw(st.sampled_from(RECORD_TYPES)),
        keywords=keywords,
        language=draw(st.sampled_from(["", "en", "de", "fr", "pt"])),
        url=draw(st.one_of(st.just(""), slug.map(lambda s: f"https://example.org/{s}"))),
        doi=draw(st.one_of(st.none(), slug.map(lambda s: f"10.1234/{s}"))),
        arxiv=draw(st.one_of(st.none(), st.from_regex(r"2[0-4]0[1-9]\.[0-9]{5}", fullmatch=True))),
        pmid=draw(st.one_of(st.none(), st.integers(1, 99_999_999).map(str))),
        pmcid=draw(st.one_of(st.none(), st.integers(1, 9_999_999).map(lambda i: f"PMC{i}"))),
        openalex=draw(st.one_of(st.none(), st.integers(1, 10**10).map(lambda i: f"W{i}"))),
        s2=draw(st.one_of(st.none(), st.from_regex(r"[0-9a-f]{40}", fullmatch=True))),
        isbn=isbn,
        issn=issn,
        extra=draw(
            st.one_of(
                st.just({}),
                st.builds(
                    lambda d, c, m: {"decision": d, "criterion": c, "labels": {"modality": m}},
                    st.sampled_from(["include", "exclude"]),
                    st.sampled_from(["E1", "E3", "I2"]),
                    st.lists(st.sampled_from(["CT", "MRI", "X-ray"]), min_size=1, unique=True),
                ),
            )
        ),
    )


STANDARD = (
    "title", "abstract", "authors", "year", "date", "venue", "volume", "issue", "pages",
    "publisher", "type", "keywords", "language", "url", "doi", "arxiv", "pmid", "pmcid",
    "openalex", "s2", "isbn", "issn", "extra",
)  # fmt: skip


def roundtrip(recs: list[Record], tmp_path: Path, fmt: str, suffix: str) -> list[Record]:
    path = tmp_path / f"out{suffix}"
    assert write_records(recs, path, format=fmt) == len(recs)
    items = list(read_records(path))  # format sniffed from what we wrote
    assert not [i for i in items if isinstance(i, RecordError)], items
    return items  # type: ignore[return-value]


def assert_same(before: list[Record], after: list[Record], fields=STANDARD) -> None:
    assert len(before) == len(after)
    for i, (a, b) in enumerate(zip(before, after, strict=True), 1):
        assert b.position == i
        for f in fields:
            assert getattr(b, f) == getattr(a, f), (f, getattr(a, f), getattr(b, f))


FORMATS = [
    ("ris", ".ris", True),
    ("bibtex", ".bib", False),
    ("csv", ".csv", False),
    ("xlsx", ".xlsx", False),
    ("jsonl", ".jsonl", False),
    ("parquet", ".parquet", False),
]


@pytest.mark.parametrize(("fmt", "suffix", "one_sn"), FORMATS)
def test_roundtrip(fmt: str, suffix: str, one_sn: bool, tmp_path_factory) -> None:
    @settings(
        max_examples=25 if fmt != "xlsx" else 10,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.lists(records(one_sn=one_sn), min_size=1, max_size=5))
    def check(recs: list[Record]) -> None:
        tmp = tmp_path_factory.mktemp(fmt)
        assert_same(recs, roundtrip(recs, tmp, fmt, suffix))

    check()


@pytest.mark.parametrize(
    "fmt,suffix", [("csv", ".csv"), ("jsonl", ".jsonl"), ("parquet", ".parquet"), ("xlsx", ".xlsx")]
)
def test_source_labels_and_dicts(fmt: str, suffix: str, tmp_path: Path) -> None:
    rec = {"title": "A curated paper", "authors": [{"family": "Ng", "given": "Wei"}], "year": 2024,
           "source_labels": ["list A", "list B"], "type": "preprint"}  # fmt: skip
    (back,) = roundtrip([Record.from_dict(rec)], tmp_path, fmt, suffix)
    assert back.source_labels == ["list A", "list B"] and back.authors == [Author("Ng", "Wei")]
    path = tmp_path / f"dicts{suffix}"
    assert write_records([rec], path, format=fmt) == 1  # plain dicts are accepted too


def test_extra_columns_and_ris_notes(tmp_path: Path) -> None:
    recs = [
        Record(title="first", type="article"),
        Record(
            title="second",
            type="article",
            extra={"decision": "include", "criterion": "E3", "labels": {"modality": ["CT"]}},
        ),  # fmt: skip
    ]
    csv_path = tmp_path / "out.csv"
    write_records(recs, csv_path, format="csv", extra_columns=["decision", "reviewer"])
    header = csv_path.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[-5:] == ["decision", "reviewer", "criterion", "labels.modality", "extra"]
    ris_path = tmp_path / "out.ris"
    write_records(recs, ris_path, format="ris")
    text = ris_path.read_text(encoding="utf-8")
    assert "N1  - fmreview-decision: include" in text
    assert 'N1  - fmreview-labels: {"modality": ["CT"]}' in text
    bib_path = tmp_path / "out.bib"
    write_records(recs, bib_path, format="bibtex")
    assert "fmreview_decision = {include}" in bib_path.read_text(encoding="utf-8")


def test_xlsx_never_writes_formulas(tmp_path: Path) -> None:
    rec = Record(title='=HYPERLINK("http://evil")', type="article")
    (back,) = roundtrip([rec], tmp_path, "xlsx", ".xlsx")
    assert back.title == rec.title


@given(st.text(alphabet=TEXT_ALPHABET + "{}\\%&$#_~^<>|", max_size=60).map(clean_text))
@settings(max_examples=200, deadline=None)
def test_latex_escape_roundtrip(text: str) -> None:
    assert clean_text(latex_to_unicode(escape_latex(text))) == text


def test_parquet_streams_in_batches(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    recs = (Record(title=f"paper {i}", year=2000 + i % 20, type="article") for i in range(25_000))
    path = tmp_path / "many.parquet"
    assert write_records(recs, path, format="parquet") == 25_000
    assert pq.ParquetFile(path).num_row_groups == 3
    assert sum(1 for _ in read_records(path)) == 25_000


@pytest.mark.parametrize(("fmt", "suffix"), [("csv", ".csv"), ("xlsx", ".xlsx")])
def test_extra_keys_after_the_lookahead_go_to_the_extra_column(
    fmt: str, suffix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fmreview.formats import tables

    monkeypatch.setattr(tables, "LOOKAHEAD", 2)
    late = {"decision": "include", "labels": {"modality": ["CT"]}}
    recs = [Record(title=f"r{i}", type="article") for i in range(3)]
    recs.append(Record(title="late", type="article", extra=late))
    back = roundtrip(recs, tmp_path, fmt, suffix)
    assert [r.extra for r in back] == [{}, {}, {}, late]


def test_reading_does_not_grow_with_the_file(tmp_path: Path) -> None:
    import tracemalloc

    def peak(n: int) -> int:
        path = tmp_path / f"n{n}.ris"
        with path.open("w", encoding="utf-8") as fh:
            for i in range(n):
                fh.write(
                    f"TY  - JOUR\nTI  - Paper number {i}\nAU  - Ng, Wei\nPY  - 2020\nER  - \n\n"
                )
        tracemalloc.start()
        count = sum(1 for _ in read_records(path))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == n
        return top

    small, large = peak(1_000), peak(10_000)
    assert large < 2 * small + 200_000  # ten times the records, not ten times the memory
