"""Edge cases per reader: record boundaries, page shapes, broken input, odd layouts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fmreview.errors import RecordError, SourceError
from fmreview.formats import parse_arxiv_feed, parse_pubmed_xml, read_records
from fmreview.formats._decoding import decode_bytes, open_text, read_head
from fmreview.record import Author, Record


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def items(path: Path, fmt: str | None = None) -> list:
    return list(read_records(path, format=fmt))


def test_medline_records_without_blank_lines_split_at_pmid(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.nbib", "PMID- 1\nTI  - one\nDP  - 2001\nPMID- 2\nTI  - two\nDP  - 2002\n"
    )
    a, b = items(path)
    assert (a.pmid, a.title, b.pmid, b.title) == ("1", "one", "2", "two")
    assert (a.line, b.line) == (1, 4)


def test_medline_authors_fall_back_to_au(tmp_path: Path) -> None:
    path = write(tmp_path, "x.nbib", "PMID- 3\nAU  - Smith JA\nAU  - Ng W\nDP  - 1999 Dec\n")
    (rec,) = items(path)
    assert rec.authors == [Author("Smith", "JA"), Author("Ng", "W")] and rec.date == "1999-12"


def test_wos_structure_errors(tmp_path: Path) -> None:
    text = "FN x\nVR 1.0\nPT J\nTI first\nPY 2001\nPT J\nTI second\nPY 2002\nER\nPT J\nTI third\n"
    first, second, third = items(write(tmp_path, "x.txt", text), "wos")
    assert isinstance(first, RecordError) and first.field == "ER" and first.record == 1
    assert isinstance(second, Record) and second.title == "second" and second.position == 2
    assert isinstance(third, RecordError) and "end of file" in (third.found or "")


def test_wos_bad_year_names_the_line(tmp_path: Path) -> None:
    text = "PT J\nTI a title\nPY MMI\nER\n"
    (err,) = items(write(tmp_path, "x.txt", text), "wos")
    assert (err.field, err.found, err.line, err.record) == ("PY", "MMI", 3, 1)


def test_ris_lenient_single_space_layout(tmp_path: Path) -> None:
    path = write(tmp_path, "x.ris", "TY - JOUR\nTI - Lenient layout\nPY - 2011\nER -\n")
    (rec,) = items(path)
    assert (rec.title, rec.year) == ("Lenient layout", 2011)


def test_ris_crlf_and_old_mac_newlines(tmp_path: Path) -> None:
    text = "TY  - JOUR\r\nTI  - Windows\r\nER  - \r\n\r\nTY  - JOUR\rTI  - Mac\rER  - \r"
    a, b = items(write(tmp_path, "x.ris", text))
    assert (a.title, b.title) == ("Windows", "Mac")


def test_ris_notes_continuation_and_date_month_only(tmp_path: Path) -> None:
    text = "TY  - JOUR\nPY  - 2011\nDA  - Jun\nN1  - first\n  second\nER  - \n"
    (rec,) = items(write(tmp_path, "x.ris", text))
    assert rec.date == "2011-06" and rec.raw["N1"] == ["first\nsecond"]


def test_ris_doi_from_links_and_isbn_for_books(tmp_path: Path) -> None:
    text = (
        "TY  - BOOK\nTI  - A book\nSN  - 978-3-16-148410-0\n"
        "L2  - http://dx.doi.org/10.1000/BOOK.1\nUR  - https://a.org/x; https://b.org/y\nER  - \n"
    )
    (rec,) = items(write(tmp_path, "x.ris", text))
    assert (rec.type, rec.isbn, rec.issn, rec.doi) == (
        "book",
        "9783161484100",
        None,
        "10.1000/book.1",
    )
    assert rec.url == "https://a.org/x"


def test_ris_text_before_first_record_and_ovid_numbers(tmp_path: Path) -> None:
    text = "Record #1 of 2\nProvider: x\n\n1.\nTY  - JOUR\nTI  - a\nER  - \n\n2.\nTY  - JOUR\nTI  - b\nER  - \n"
    a, b = items(write(tmp_path, "x.ris", text))
    assert (a.line, b.line) == (5, 10) and (a.position, b.position) == (1, 2)


def test_endnote_ref_type_number_and_pdf_urls(tmp_path: Path) -> None:
    xml = (
        "<xml><records><record><ref-type>47</ref-type><titles><title>Conf paper</title></titles>"
        "<urls><related-urls><url>https://arxiv.org/abs/2101.00001v2</url></related-urls></urls>"
        "<label>list A; list B</label></record></records></xml>"
    )
    (rec,) = items(write(tmp_path, "x.xml", xml))
    assert (rec.type, rec.arxiv, rec.source_labels) == (
        "conference",
        "2101.00001",
        ["list A", "list B"],
    )


def test_pubmed_book_article(tmp_path: Path) -> None:
    xml = (
        "<PubmedArticleSet><PubmedBookArticle><BookDocument><PMID>20301295</PMID>"
        "<Book><Publisher><PublisherName>University of Washington</PublisherName></Publisher>"
        "<BookTitle>GeneReviews</BookTitle><PubDate><Year>1993</Year></PubDate></Book>"
        "<ArticleTitle>Some syndrome</ArticleTitle></BookDocument></PubmedBookArticle>"
        "</PubmedArticleSet>"
    )
    (rec,) = items(write(tmp_path, "x.xml", xml))
    assert (rec.pmid, rec.year, rec.title, rec.publisher) == (
        "20301295",
        1993,
        "Some syndrome",
        "University of Washington",
    )


def test_page_parsers_raise_on_bad_input() -> None:
    with pytest.raises(RecordError):
        parse_pubmed_xml(b"<PubmedArticleSet><PubmedArticle><MedlineCitation>")
    with pytest.raises(SourceError, match="incorrect id"):
        parse_arxiv_feed(
            b"<feed xmlns='http://www.w3.org/2005/Atom'><entry>"
            b"<id>http://arxiv.org/api/errors#incorrect_id</id><summary>incorrect id</summary>"
            b"</entry></feed>"
        )
    assert parse_arxiv_feed(b"<feed xmlns='http://www.w3.org/2005/Atom'></feed>") == []


@pytest.mark.parametrize(
    ("payload", "name", "titles"),
    [
        ({"status": "ok", "message": {"DOI": "10.1000/a", "title": ["One"]}}, "cr.json", ["One"]),
        ([{"DOI": "10.1000/a", "title": ["A"], "issued": {}}, {"DOI": "10.1000/b", "title": ["B"],
          "container-title": []}], "cr.json", ["A", "B"]),
        ({"paperId": "a" * 40, "title": "Single", "citations": [{"paperId": "b" * 40}]},
         "s2.json", ["Single"]),
        ({"data": [{"citedPaper": {"paperId": "c" * 40, "title": "Cited"}}]}, "s2.json", ["Cited"]),
        ({"authorId": "1", "papers": [{"paperId": "d" * 40, "title": "P1"},
                                      {"paperId": "e" * 40, "title": "P2"}]}, "s2.json", ["P1", "P2"]),
        ({"id": "https://openalex.org/W1", "title": "Work", "authorships": []}, "oa.json", ["Work"]),
    ],
)  # fmt: skip
def test_json_page_shapes(payload, name: str, titles: list[str], tmp_path: Path) -> None:
    recs = items(write(tmp_path, name, json.dumps(payload)))
    assert [r.title for r in recs] == titles
    assert [r.position for r in recs] == list(range(1, len(titles) + 1))


def test_broken_json_is_a_record_error(tmp_path: Path) -> None:
    path = write(tmp_path, "x.json", '{"results": [{"id": "https://openalex.org/W1", ')
    (err,) = items(path, "openalex_json")
    assert isinstance(err, RecordError) and err.field == "json"


def test_json_items_that_are_not_objects(tmp_path: Path) -> None:
    path = write(
        tmp_path, "x.json", json.dumps({"results": [{"title": "ok", "authorships": []}, 42]})
    )
    ok, err = items(path, "openalex_json")
    assert isinstance(ok, Record) and isinstance(err, RecordError) and err.record == 2


def test_semicolon_csv_and_own_layout(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Title;Authors;Year\nSemi;Ng, Wei;2020\n")
    (rec,) = items(path)
    assert (rec.title, rec.authors, rec.year) == ("Semi", [Author("Ng", "Wei")], 2020)


def test_csv_with_only_a_header_and_empty_rows(tmp_path: Path) -> None:
    assert items(write(tmp_path, "x.csv", "title,year\n,\n\n")) == []


def test_decoding_helpers(tmp_path: Path) -> None:
    assert decode_bytes("\ufeffé".encode()) == "é"
    assert decode_bytes("x".encode("utf-16")) == "x"
    path = write(tmp_path, "x.txt", "TY  - JOUR\n", "utf-16")
    assert read_head(path).startswith("TY  - JOUR")
    with open_text(path) as fh:
        assert fh.read() == "TY  - JOUR\n"
    cyrillic = "Состояние рецепторного аппарата эндометрия и метаболизм эстрогенов " * 5
    path = write(tmp_path, "ru.ris", f"TY  - JOUR\nTI  - {cyrillic}\nER  - \n", "cp1251")
    (rec,) = items(path)
    assert rec.title == cyrillic.strip()


def test_an_unexpected_failure_quarantines_one_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fmreview.formats import ris

    real = ris.ris_entry_to_record

    def flaky(item, err):
        if item[0] == 2:
            raise KeyError("surprise")
        return real(item, err)

    monkeypatch.setattr(ris, "ris_entry_to_record", flaky)
    text = "".join(f"TY  - JOUR\nTI  - r{i}\nER  - \n" for i in range(3))
    a, err, c = items(write(tmp_path, "x.ris", text))
    assert (a.title, c.title) == ("r0", "r2")
    assert isinstance(err, RecordError) and (err.record, err.line) == (2, 4)
    assert "KeyError" in (err.found or "")


def test_bibtex_crossref_fields_are_inherited(tmp_path: Path) -> None:
    bib = (
        "@inproceedings{child, title = {Child paper}, crossref = {parent}}\n"
        "@proceedings{parent, title = {The Proceedings}, booktitle = {The Proceedings},"
        " year = {2001}}\n"
    )
    child, parent = items(write(tmp_path, "x.bib", bib))
    assert (child.title, child.year, child.venue) == ("Child paper", 2001, "The Proceedings")
    assert parent.type == "conference"
    json.dumps(child.raw)
