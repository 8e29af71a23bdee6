"""Readers: each format's small hand-written sample comes out normalised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fmreview.errors import RecordError
from fmreview.formats import (
    FORMATS,
    arxiv_total_results,
    parse_arxiv_feed,
    parse_crossref_item,
    parse_openalex_work,
    parse_pubmed_xml,
    parse_s2_paper,
    read_records,
    sniff,
)
from fmreview.record import RECORD_TYPES, Author, Record

DATA = Path(__file__).parent / "data" / "formats"


def records(name: str, **kw) -> list[Record]:
    items = list(read_records(DATA / name, **kw))
    assert all(isinstance(i, Record) for i in items), [str(i) for i in items]
    return items  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("sample.ris", "ris"),
        ("malformed.ris", "ris"),
        ("latin1.ris", "ris"),
        ("bom.ris", "ris"),
        ("utf16be.ris", "ris"),
        ("sample.bib", "bibtex"),
        ("sample.nbib", "medline"),
        ("sample_wos.txt", "wos"),
        ("sample_pubmed.xml", "pubmed_xml"),
        ("sample_endnote.xml", "endnote_xml"),
        ("endnote_utf16.xml", "endnote_xml"),
        ("sample_arxiv.xml", "arxiv_atom"),
        ("arxiv_error.xml", "arxiv_atom"),
        ("openalex_page.json", "openalex_json"),
        ("crossref_page.json", "crossref_json"),
        ("s2_page.json", "s2_json"),
        ("asreview.csv", "csv"),
        ("scopus.csv", "csv"),
        ("sample.tsv", "tsv"),
        ("malformed.jsonl", "jsonl"),
    ],
)
def test_sniff_by_content(name: str, fmt: str, tmp_path: Path) -> None:
    assert sniff(DATA / name) == fmt
    # the extension is not what decides: the same bytes under a neutral name sniff the same
    neutral = tmp_path / "export.dat"
    neutral.write_bytes((DATA / name).read_bytes())
    if fmt not in ("jsonl",):
        assert sniff(neutral) == fmt


def test_registry_lists_every_format() -> None:
    expected = {
        "ris", "bibtex", "medline", "pubmed_xml", "endnote_xml", "csv", "tsv", "xlsx", "wos",
        "arxiv_atom", "openalex_json", "crossref_json", "s2_json", "jsonl", "parquet",
    }  # fmt: skip
    assert expected <= set(FORMATS)
    for name in ("ris", "bibtex", "csv", "xlsx", "jsonl", "parquet"):
        assert FORMATS[name].writer is not None
    assert all(f.reader is not None for f in FORMATS.values())


def test_ris_flavours() -> None:
    a, b, c = records("sample.ris")
    assert a.title == "Foundation models for chest X-ray interpretation"
    assert a.authors == [Author("Müller", "Anna"), Author("Okafor", "Chidi B")]
    assert (a.year, a.date) == (2023, "2023-05-14")
    assert (a.venue, a.volume, a.issue, a.pages) == (
        "Journal of Imaging Studies",
        "12",
        "3",
        "101-115",
    )
    assert a.abstract.startswith("We pretrain") and a.abstract.endswith("downstream tasks.")
    # Rayyan-style continuation lines are new keywords
    assert a.keywords == ["foundation model", "chest radiography", "self-supervised learning"]
    assert a.doi == "10.1234/jis.2023.0042"
    assert (a.language, a.issn, a.type) == ("en", "1234-5678", "article")
    assert a.extra == {"decision": "include", "labels": {"modality": ["CT", "X-ray"]}}
    assert (a.position, a.line) == (1, 3)  # Ovid "1." and a header line come first
    # free text after a blank line (Scopus) is kept apart, not glued to U3
    assert b.raw["U3"] == ["Cited By :3"]  # raw RIS: every tag -> list of values
    assert b.raw["_text"] == ["Export Date: 12 May 2024", "Conference Paper"]
    assert b.type == "conference" and b.arxiv == "2304.12306" and b.pages == "55-62"
    assert b.keywords == ["segmentation"]
    # M3 refines JOUR; A1/Y1/JF; PubMed ids from EndNote's AN + DP NLM and C2
    assert c.type == "review" and c.authors == [Author("van der Berg", "Johannes")]
    assert (c.year, c.venue, c.pmid, c.pmcid) == (
        2022,
        "Radiology Reviews",
        "35123456",
        "PMC8765432",
    )
    assert c.raw["XX"] == ["an unknown tag"]
    assert all(r.type in RECORD_TYPES for r in (a, b, c))
    json.dumps([r.raw for r in (a, b, c)])


@pytest.mark.parametrize("name", ["latin1.ris", "bom.ris", "utf16be.ris"])
def test_encodings(name: str) -> None:
    (rec,) = records(name)
    assert rec.title == "Réseaux de neurones pour l'imagerie médicale"
    assert rec.authors == [Author("Lefèvre", "Élodie")]


def test_bibtex_latex_to_unicode() -> None:
    a, b, c = records("sample.bib")
    assert a.title == "Foundation Models for Chest X-ray Interpretation"
    assert a.authors == [
        Author("Müller", "Anna"),
        Author("Okafor", "Chidi B"),
        Author("World Health Organization"),
    ]
    assert a.venue == "Journal of Imaging Studies"  # @string macro
    assert a.date == "2023-05"  # month macro
    assert a.pages == "101-115"
    assert a.abstract == "Accuracy rose by 5% with self-supervised pretraining; P<0.01."
    assert a.keywords == ["foundation model", "chest radiography"]
    assert a.line == 4 and a.position == 1
    assert (
        b.type == "conference" and b.arxiv == "2304.12306" and b.authors == [Author("Chen", "Li")]
    )
    assert c.title == "José García's Škoda dataset" and c.type == "dataset"
    assert c.authors == [Author("García", "José")]


def test_medline() -> None:
    a, b, err = list(read_records(DATA / "sample.nbib"))
    assert isinstance(a, Record) and isinstance(b, Record)
    assert (
        a.title == "Deep learning for retinal fundus photographs: a multicentre validation study."
    )
    assert a.authors == [Author("Tanaka", "Hiroshi"), Author("O'Neil", "Mary")]
    assert (a.year, a.date, a.pmid, a.pmcid, a.doi) == (
        2019, "2019-03-15", "31234567", "PMC6543210", "10.1000/ret.2019.7"
    )  # fmt: skip
    assert a.keywords == ["fundus photography", "Deep Learning", "Retina/diagnostic imaging"]
    assert (a.venue, a.volume, a.issue, a.pages, a.issn) == (
        "Ophthalmic Imaging", "7", "2", "200-210", "2345-6789"
    )  # fmt: skip
    assert a.abstract.startswith("BACKGROUND: Retinal") and "convolutional network." in a.abstract
    assert b.type == "review" and b.language == "pt" and b.date == "2020-06"
    assert isinstance(err, RecordError)
    assert (err.field, err.found, err.record, err.line) == ("DP", "nineteen", 3, 38)


def test_wos_plain_text() -> None:
    a, b = records("sample_wos.txt")
    assert a.authors == [Author("Kim", "Soo"), Author("Park", "Jihoon")]
    assert a.title == "Self-supervised pretraining for mammography screening"
    assert a.keywords == [
        "mammography",
        "self-supervised learning",
        "foundation model",
        "DEEP",
        "NETWORKS",
    ]
    assert (a.date, a.pages, a.pmid, a.doi) == (
        "2022-03-03",
        "45-53",
        "35000001",
        "10.1148/radiol.2022.1111",
    )
    assert a.extra["wos"] == "WOS:000123456700001" and a.line == 3
    assert b.type == "book" and b.isbn == "9783161484100"


def test_pubmed_xml_file_and_page() -> None:
    a, b = records("sample_pubmed.xml")
    assert a.title == "A foundation model for CT segmentation."
    assert a.authors == [Author("Ng", "Wei"), Author("FM Imaging Consortium")]
    assert (
        a.abstract
        == "BACKGROUND: CT segmentation needs labels. RESULTS: Dice rose to 0.91 (P<0.001)."
    )
    assert (a.date, a.pmid, a.pmcid, a.doi) == (
        "2023-04-02",
        "36000001",
        "PMC9999999",
        "10.1016/j.media.2023.102",
    )
    assert a.keywords == ["segmentation", "Tomography, X-Ray Computed"]
    assert (b.year, b.date, b.type, b.language) == (2021, "2021-11", "review", "it")
    page = parse_pubmed_xml((DATA / "sample_pubmed.xml").read_bytes())
    assert [r.pmid for r in page] == ["36000001", "36000002"]


@pytest.mark.parametrize("name", ["sample_endnote.xml", "endnote_utf16.xml"])
def test_endnote_xml(name: str) -> None:
    a, b, err = list(read_records(DATA / name))
    assert isinstance(a, Record) and isinstance(b, Record)
    assert a.title == "Foundation models for chest X-ray interpretation"  # styled runs joined
    assert a.authors[0] == Author("Müller", "Anna")
    assert (a.year, a.date, a.venue, a.pmid, a.issn) == (
        2023, "2023-05-14", "Journal of Imaging Studies", "37000001", "1234-5678"
    )  # fmt: skip
    assert b.type == "chapter" and b.isbn == "9783161484100" and b.venue == "Handbook of Medical AI"
    assert isinstance(err, RecordError) and err.field == "year" and err.found == "MMXX"


def test_arxiv_feed() -> None:
    a, b = records("sample_arxiv.xml")
    assert a.arxiv == "2304.12306" and a.title == "Segment Anything in Medical Images"
    assert a.keywords == ["eess.IV", "cs.CV"]  # primary category first
    assert (a.date, a.doi, a.type) == ("2023-04-24", "10.1038/s41467-024-44824-z", "article")
    assert a.authors == [Author("Ma", "Jun"), Author("Wang", "Bo")]
    assert b.arxiv == "physics/0012345" and b.type == "preprint"
    data = (DATA / "sample_arxiv.xml").read_bytes()
    assert arxiv_total_results(data) == 1234
    assert [r.arxiv for r in parse_arxiv_feed(data)] == ["2304.12306", "physics/0012345"]
    (err,) = list(read_records(DATA / "arxiv_error.xml"))
    assert isinstance(err, RecordError) and err.found == "incorrect id format for xyz"
    assert arxiv_total_results(b"<feed xmlns='http://www.w3.org/2005/Atom'/>") is None


def test_openalex() -> None:
    a, b = records("openalex_page.json")
    assert a.abstract == "We pretrain a transformer."
    assert (a.openalex, a.doi, a.pmid, a.pmcid) == (
        "W4300000001",
        "10.1234/jis.2023.0042",
        "37000001",
        "PMC8765432",
    )
    assert a.authors == [Author("Müller", "Anna"), Author("Okafor", "Chidi B.")]
    assert (a.venue, a.pages, a.issn, a.publisher) == (
        "Journal of Imaging Studies",
        "101-115",
        "1234-5678",
        "Imaging Press",
    )
    assert b.arxiv == "2304.12306" and b.type == "preprint"
    obj = json.loads((DATA / "openalex_page.json").read_text(encoding="utf-8"))["results"][0]
    assert parse_openalex_work(obj).title == a.title


def test_crossref() -> None:
    a, b = records("crossref_page.json")
    assert a.abstract == "We pretrain a vision transformer (P<0.01)."  # JATS stripped
    assert a.authors == [Author("Müller", "Anna"), Author("FM Imaging Consortium")]
    assert (a.date, a.doi, a.type, a.issn) == (
        "2023-05-14",
        "10.1234/jis.2023.0042",
        "article",
        "1234-5678",
    )
    assert (
        b.title == "Segmenting organs: a primer"
        and b.type == "chapter"
        and b.isbn == "9783161484100"
    )
    single = json.loads((DATA / "crossref_page.json").read_text(encoding="utf-8"))["message"][
        "items"
    ][1]
    assert parse_crossref_item(single).year == 2021


def test_semantic_scholar() -> None:
    a, b = records("s2_page.json")
    assert (a.s2, a.pmid, a.venue, a.type) == (
        "0123456789abcdef0123456789abcdef01234567", "37000001", "Journal of Imaging Studies", "article"
    )  # fmt: skip
    assert b.arxiv == "2304.12306" and b.type == "preprint"  # nested citingPaper
    assert parse_s2_paper({"paperId": None, "title": None}).title == ""


def test_csv_conventions() -> None:
    a, b = records("asreview.csv")
    assert a.authors == [Author("Müller", "Anna"), Author("Okafor", "Chidi B")]
    assert a.keywords == ["foundation model", "chest radiography"]
    assert a.extra == {"label_included": 1} and b.extra == {"label_included": 0}
    assert b.title == "Segment anything in medical images, again"
    assert b.abstract == 'A "quoted" abstract on two lines.' and (b.line, b.position) == (3, 2)
    (s,) = records("scopus.csv")
    assert s.authors == [Author("Müller", "Anna"), Author("Okafor", "Chidi B")]
    assert s.keywords == ["foundation model", "chest radiography", "Radiography", "Deep learning"]
    assert (s.pages, s.pmid, s.issn, s.language, s.type) == (
        "101-115",
        "37000001",
        "1234-5678",
        "en",
        "review",
    )
    assert s.extra == {"eid": "2-s2.0-1"}  # source ids kept for deduplication
    (t,) = records("sample.tsv")
    assert (t.title, t.year, t.doi) == ("Tabbed title", 2022, "10.1000/tab")


def test_raw_is_json_serialisable() -> None:
    for name in ("sample.ris", "sample.bib", "sample_pubmed.xml", "sample_endnote.xml", "scopus.csv",
                 "s2_page.json", "sample_arxiv.xml", "sample_wos.txt"):  # fmt: skip
        for rec in read_records(DATA / name):
            if isinstance(rec, Record):
                json.dumps(rec.raw)
