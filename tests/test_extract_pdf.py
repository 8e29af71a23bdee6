"""Full text from user-supplied PDFs (pypdf), used as evidence by the rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from fmreview.errors import FormatError
from fmreview.extract.pdf import match_pdfs, pdf_text
from fmreview.store import Store, schema


def make_pdf(path: Path, lines: list[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"pdf.fonttype": 42}):  # TrueType: text stays extractable
        fig = plt.figure(figsize=(8.5, 11))
        for i, line in enumerate(lines):
            fig.text(0.05, 0.95 - 0.04 * i, line, fontsize=10)
        fig.savefig(path, format="pdf")
        plt.close(fig)
    return path


def test_pdf_text(tmp_path: Path) -> None:
    p = make_pdf(
        tmp_path / "a.pdf", ["We adapt the Segment Anything Model", "to knee MRI with LoRA."]
    )
    text = pdf_text(p)
    assert "Segment Anything Model" in text and "LoRA" in text


def test_broken_pdf_is_a_format_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    with pytest.raises(FormatError, match="bad.pdf: cannot read the PDF"):
        pdf_text(bad)


def test_match_pdfs_by_name(tmp_path: Path) -> None:
    for name in ("3.pdf", "2304.02643v2.pdf", "10.1038_s41591-023-1.pdf", "other.pdf"):
        (tmp_path / name).write_bytes(b"")
    works: list[dict[str, object]] = [
        {"id": 3},
        {"id": 4, "arxiv": "2304.02643"},
        {"id": 5, "doi": "10.1038/s41591-023-1"},
        {"id": 6, "doi": "10.1/none"},
    ]
    got = match_pdfs(tmp_path, works)
    assert {k: v.name for k, v in got.items()} == {
        3: "3.pdf",
        4: "2304.02643v2.pdf",
        5: "10.1038_s41591-023-1.pdf",
    }


def test_full_text_becomes_evidence(file_store: Store) -> None:
    from fmreview.extract.store_io import current_labels, extract_store
    from fmreview.record import Record
    from fmreview.store.records import add_records
    from fmreview.store.works import works_from_records

    store = file_store
    with store.run("import") as run:
        add_records(
            store,
            [Record(title="A study of a model")],
            source="t",
            source_kind="other",
            run_id=run.id,
        )
        works_from_records(store, run.id)
    with store.connect() as conn:
        wid = conn.execute(sa.select(schema.works.c.id)).scalar_one()
    assert store.folder is not None
    (store.folder / "pdfs").mkdir()
    make_pdf(
        store.folder / "pdfs" / f"{wid}.pdf",
        ["Methods", "We fine-tune MedSAM on BraTS 2021 brain MRI."],
    )
    with store.run("extract") as run:
        extract_store(store, run_id=run.id, methods=["rule"])
    cur = current_labels(store)
    ds = cur[(cur.axis == "datasets")].to_dict("records")
    assert [r["value"] for r in ds] == ["BraTS"]
    (span,) = ds[0]["evidence"]
    # page + sentence evidence (fmreview.extract.fulltext)
    assert span["field"] == "fulltext p.1" and "BraTS 2021 brain MRI" in span["text"]
    assert ds[0]["confidence"] == pytest.approx(0.6)
    mod = cur[(cur.axis == "modality")]
    assert list(mod.value) == ["mri"]
