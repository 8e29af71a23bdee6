"""Full text: sections, page + sentence evidence, online fetching (MockTransport), CLI."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fmreview.extract.fulltext import fetch_pdfs, methods_text, pdf_pages
from fmreview.extract.fulltext_store import fulltext_store
from fmreview.record import Record
from fmreview.store import Store
from fmreview.store.records import add_records
from fmreview.store.works import works_from_records

PAGES = [
    [
        "Knee-FM: adapting a foundation model",
        "Abstract. We adapt a foundation model to knee images.",
        "1 Introduction",
        "Prior work used the BraTS dataset and CT scans.",
    ],
    [
        "2 Methods",
        "We fine-tune SAM with LoRA on knee MRI scans.",
        "We train on the OAI-ZIB dataset. The task is segmentation.",
    ],
    [
        "3 Experiments",
        "We evaluate on the SKI10 dataset.",
        "References",
        "[1] Someone. The CheXpert dataset. 2019.",
    ],
]


def make_pdf(path: Path, pages: list[list[str]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(path) as pdf:
        for lines in pages:
            fig = plt.figure(figsize=(8.5, 11))
            for i, line in enumerate(lines):
                fig.text(0.05, 0.95 - 0.04 * i, line, fontsize=10)
            pdf.savefig(fig)
            plt.close(fig)
    return path


def test_methods_sections_with_pages(tmp_path: Path) -> None:
    ft = methods_text(pdf_pages(make_pdf(tmp_path / "p.pdf", PAGES)))
    assert "OAI-ZIB" in ft.text and "SKI10" in ft.text
    assert "BraTS" not in ft.text and "CheXpert" not in ft.text  # introduction, references
    page, sentence = ft.locate(ft.text.index("SKI10"))
    assert page == 3 and "SKI10" in sentence
    page, sentence = ft.locate(ft.text.index("LoRA"))
    assert page == 2 and sentence.startswith("We fine-tune SAM")


def test_methods_text_without_headings_skips_the_first_page() -> None:
    ft = methods_text(["Title and abstract about CT", "We use MRI.", "More MRI.\nReferences\nx"])
    assert "CT" not in ft.text and ft.text.startswith("We use MRI") and "x" not in ft.text


def _work_store(folder: Path) -> Store:
    store = Store.create(folder)
    with store.run("import") as run:
        add_records(
            store,
            [
                Record(title="Knee-FM: adapting a foundation model", year=2024, arxiv="2401.00001"),
                Record(title="A CLIP model for fundus images", year=2024, doi="10.1/abc"),
                Record(title="No identifiers here", year=2024),
            ],
            source="t",
            source_kind="other",
            run_id=run.id,
        )
        works_from_records(store, run.id)
    return store


def test_fulltext_offline_labels_from_methods_with_page_and_sentence(tmp_path: Path) -> None:
    store = _work_store(tmp_path / "review")
    (tmp_path / "review" / "pdfs").mkdir()
    make_pdf(tmp_path / "review" / "pdfs" / "2401.00001.pdf", PAGES)
    res = fulltext_store(store)
    assert res["with_fulltext"] == 1
    found = {(r["axis"], r["value"]): r for r in res["found"]}
    assert ("modality", "mri") in found and found[("modality", "mri")]["page"] == "2"
    assert ("datasets", "SKI10") in found and found[("datasets", "SKI10")]["page"] == "3"
    assert "knee MRI" in found[("modality", "mri")]["sentence"]
    assert ("datasets", "BraTS") not in found and ("modality", "ct") not in found
    assert "fulltext" in [r["command"] for r in store.runs()]


def test_fetch_pdfs_arxiv_openalex_unpaywall_and_cache(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "src.pdf", PAGES[:1]).read_bytes()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        seen.append(url)
        if url.startswith("https://arxiv.org/pdf/2401.00001"):
            return httpx.Response(200, content=pdf)
        if url.startswith("https://api.openalex.org/works/doi:10.1/abc"):
            body = {"best_oa_location": {"pdf_url": "https://repo.example/abc.pdf"}}
            return httpx.Response(200, json=body)
        if url.startswith("https://api.unpaywall.org/v2/10.1/abc"):
            return httpx.Response(200, json={"best_oa_location": {"url_for_pdf": None}})
        if url == "https://repo.example/abc.pdf":
            return httpx.Response(200, content=b"<html>not a pdf</html>")
        return httpx.Response(404)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    works = [
        {"id": 1, "arxiv": "2401.00001"},
        {"id": 2, "doi": "10.1/abc"},
        {"id": 3},
    ]
    folder = tmp_path / "pdfs"
    counts = fetch_pdfs(works, folder, client, email="me@example.org")
    assert counts.as_dict() == {"cached": 0, "downloaded": 1, "not_found": 1, "failed": 1}
    assert (folder / "2401.00001.pdf").read_bytes()[:5] == b"%PDF-"
    assert not (folder / "10.1_abc.pdf").exists()  # an HTML page is not saved as a PDF
    seen.clear()
    again = fetch_pdfs(works, folder, client)
    assert again.cached == 1 and not any("arxiv.org" in u for u in seen)


def test_cli_fulltext_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from fmreview.cli import main

    store = _work_store(tmp_path / "review")
    store.close()
    (tmp_path / "review" / "pdfs").mkdir()
    make_pdf(tmp_path / "review" / "pdfs" / "2401.00001.pdf", PAGES)
    assert main(["fulltext", "--dir", str(tmp_path / "review"), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["with_fulltext"] == 1
    assert any(r["axis"] == "datasets" and r["page"] == "2" for r in res["found"])
