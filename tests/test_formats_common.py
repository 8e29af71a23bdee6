"""Shared normalisation: dates, types, languages, names, ids, text cleaning, sniffing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmreview.errors import RecordError
from fmreview.formats import sniff_text
from fmreview.formats._common import (
    ErrorContext,
    build_record,
    check_year,
    clean_text,
    extra_from_text,
    extra_to_text,
    first,
    iso_date,
    issn_or_isbn,
    join_pages,
    map_type,
    norm_language,
    split_list,
    strip_markup,
)
from fmreview.formats.tables import column_map, split_authors
from fmreview.formats.webapis import rebuild_abstract
from fmreview.record import RECORD_TYPES, Author
from fmreview.record import clean_text as reference_clean_text


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2019", "2019"),
        ("2019//", "2019"),
        ("2019///", "2019"),
        ("2019/05/03/", "2019-05-03"),
        ("2019-5-3", "2019-05-03"),
        ("2018 Jan 15", "2018-01-15"),
        ("15 Jan 2018", "2018-01-15"),
        ("Jan 2018", "2018-01"),
        ("2018 Jan-Feb", "2018-01"),
        ("2020 Summer", "2020-06"),
        ("2018-05-03T10:00:00Z", "2018-05-03"),
        ("September 2001", "2001-09"),
        ("", None),
        ("no year here", None),
        (None, None),
    ],
)
def test_iso_date(value: str | None, iso: str | None) -> None:
    assert iso_date(value) == iso


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("JOUR",), "article"),
        (("JOUR", "Review"), "review"),
        (("Article; Early Access",), "article"),
        (("Journal Article; Review",), "review"),
        (("Conference Paper",), "conference"),
        (("proceedings-article",), "conference"),
        (("inproceedings",), "conference"),
        (("book-chapter",), "chapter"),
        (("Book Section",), "chapter"),
        (("phdthesis",), "thesis"),
        (("Editorial Material",), "editorial"),
        (("posted-content",), "preprint"),
        (("JournalArticle", "Review"), "review"),
        (("misc",), "other"),
        (("dataset",), "dataset"),
        (("something unheard of",), ""),
        ((None, ""), ""),
    ],
)
def test_map_type(candidates: tuple, expected: str) -> None:
    assert map_type(*candidates) == expected
    assert expected == "" or expected in RECORD_TYPES


@pytest.mark.parametrize(
    ("value", "code"),
    [("English", "en"), ("eng", "en"), ("en", "en"), ("German", "de"), ("por", "pt"),
     (["fre", "eng"], "fr"), ("English; French", "en"), ("Klingon", "klingon"), ("", "")],
)  # fmt: skip
def test_norm_language(value, code: str) -> None:
    assert norm_language(value) == code


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0932-0814", ("0932-0814", None)),
        ("2277-9175 (Print)", ("2277-9175", None)),
        ("0894-9867, 0894-9867", ("0894-9867", None)),
        ("1939-1676 0891-6640", ("1939-1676", None)),
        ("978-3-16-148410-0", (None, "9783161484100")),
        ("0-306-40615-2", (None, "0306406152")),
        (["1234567X"], ("1234-567X", None)),
        ("", (None, None)),
    ],
)
def test_issn_or_isbn(value, expected) -> None:
    assert issn_or_isbn(value) == expected


def test_check_year_and_context() -> None:
    err = ErrorContext("in.ris", record=12, line=200)
    assert check_year("2019//", err, "PY") == 2019
    assert check_year("Start date: 20170812", err, "PY") == 2017
    assert check_year("", err, "PY") is None
    with pytest.raises(RecordError) as info:
        check_year("20x1", err, "PY", line=214)
    assert str(info.value).startswith("in.ris line 214, record 12: field 'PY' holds '20x1'")


@pytest.mark.parametrize(
    ("cell", "names"),
    [
        ("Liu F.; Li C.", ["Liu F.", "Li C."]),
        (
            "Liu, Fengyuan (60410297700); Li, Chunyun (58862216200)",
            ["Liu, Fengyuan", "Li, Chunyun"],
        ),
        ("Massimo Aria|Corrado Cuccurullo", ["Massimo Aria", "Corrado Cuccurullo"]),
        ("Liu R., Adler D.G.", ["Liu R.", "Adler D.G."]),
        ("Smith A, Walter B", ["Smith A", "Walter B"]),
        ("Rotter, Carina", ["Rotter, Carina"]),
        ("A One, B Two, C Three", ["A One", "B Two", "C Three"]),
        ("", []),
    ],
)
def test_split_authors(cell: str, names: list[str]) -> None:
    assert split_authors(cell) == names


def test_springer_glued_names() -> None:
    assert split_authors("Araz R. AlievNigar T. Ismayilova", glued=True) == [
        "Araz R. Aliev",
        "Nigar T. Ismayilova",
    ]


def test_column_map_conventions() -> None:
    scopus = ["Authors", "Author full names", "Title", "Year", "Source title", "DOI", "PubMed ID"]
    cols = column_map(scopus)
    assert cols["authors"] == 1 and cols["venue"] == 4 and cols["pmid"] == 6
    ieee = ['"Document Title"', "Authors", "Publication Title", "Publication Year"]
    cols = column_map(ieee)
    assert (cols["title"], cols["venue"], cols["year"]) == (0, 2, 3)
    assert column_map(["\ufeffTitle", "label_included"])["label_included"] == 1


def test_build_record_normalises() -> None:
    rec = build_record(
        title="  Deep\u00a0learning  \n for   CT ",
        authors=[
            "Smith, John",
            ("Ng", "Wei"),
            {"family": "Li", "given": ""},
            Author("Ma", "Jun"),
            "",
        ],
        year="c2019",
        date="2019 Mar",
        doi="https://doi.org/10.48550/arXiv.2301.01234",
        pmid="PMID: 0123",
        keywords=["a", "<b>b</b>", "a", ""],
        language="English",
        type="Journal Article",
        issn="12345678",
    )
    assert rec.title == "Deep learning for CT"
    assert [a.family for a in rec.authors] == ["Smith", "Ng", "Li", "Ma"]
    assert (rec.year, rec.date) == (2019, "2019-03")
    assert (rec.doi, rec.arxiv, rec.pmid) == ("10.48550/arxiv.2301.01234", "2301.01234", "123")
    assert rec.keywords == ["a", "b"] and rec.language == "en" and rec.type == "article"
    assert rec.issn == "1234-5678"
    # a date that disagrees with the stated year is not trusted
    assert build_record(year=2020, date="2019-05-01").date == "2020"


def test_small_helpers() -> None:
    assert first(None, "", [], ["", " x "], "y") == "x"
    assert join_pages("101", "115") == "101-115" and join_pages("7", "7") == "7"
    assert join_pages("", "9") == "9"
    assert split_list(["a; b", "c;;"]) == ["a", "b", "c"]
    assert strip_markup("<jats:p>P&lt;0.05 &amp; <i>x</i></jats:p>") == "P<0.05 & x"
    assert rebuild_abstract({"b": [1], "a": [0, 2]}) == "a b a"
    assert rebuild_abstract(None) == ""
    for value in ("include", {"modality": ["CT"]}, ["a", 1], True):
        assert extra_from_text(extra_to_text(value)) == value


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_fast_clean_text_matches_the_reference(text: str) -> None:
    assert clean_text(text) == reference_clean_text(text)


def test_fast_clean_text_on_tricky_characters() -> None:
    rng = random.Random(1)
    chars = [chr(i) for i in (*range(0, 0x100), 0x200B, 0xAD, 0xFEFF, 0xE000, 0x0378, 0x301,
                              0x2028, 0x3000, 0x1F600, 0x1C, 0x85)]  # fmt: skip
    for _ in range(3000):
        text = "".join(rng.choice(chars) for _ in range(rng.randint(0, 20)))
        assert clean_text(text) == reference_clean_text(text)


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        ("TY  - JOUR\nTI  - x\nER  - \n", "ris"),
        ("1.\nTY  - JOUR\n", "ris"),
        ("PMID- 1\nOWN - NLM\nTI  - x\n", "medline"),
        ("OWN - ERIC\nTI  - x\nAU  - y\n", "medline"),
        ("FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\nAU x\nER\n", "wos"),
        ("% comment\n@Article{key,\n title={x}}\n", "bibtex"),
        ('<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet>\n<PubmedArticleSet>', "pubmed_xml"),
        ('<feed xmlns="http://www.w3.org/2005/Atom"><entry>', "arxiv_atom"),
        ("<xml><records><record><ref-type name='Journal Article'>17</ref-type>", "endnote_xml"),
        ('{"results": [{"id": "https://openalex.org/W1", "abstract_inverted_index": {}}]}',
         "openalex_json"),
        ('{"status": "ok", "message-type": "work", "message": {"DOI": "10.1/x"}}', "crossref_json"),
        ('{"data": [{"paperId": "abc", "title": "x"}]}', "s2_json"),
        ('{"title": "a"}\n{"title": "b"}\n', "jsonl"),
        ("Title,Authors,Year\nx,y,2020\n", "csv"),
        ("title;authors;year\nx;y;2020\n", "csv"),
        ("title\tauthors\tyear\nx\ty\t2020\n", "tsv"),
        ("col_a,col_b\n1,2\n", None),
        ("<html><body>not bibliographic</body></html>", None),
        ('{"unrelated": true}', None),
        ("", None),
    ],
)  # fmt: skip
def test_sniff_text(head: str, fmt: str | None) -> None:
    assert sniff_text(head) == fmt


def test_sniff_extension_breaks_ties(tmp_path: Path) -> None:
    assert sniff_text('{"title": "a"}', ".jsonl") == "jsonl"
    assert sniff_text("title\n", ".tsv") == "tsv"
