"""The atlas: filters, screening exclusions, availability, links, order."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fmreview.errors import FmreviewError
from fmreview.extract.atlas import find, resolve_value
from fmreview.extract.store_io import correct_label, extract_store
from fmreview.record import Record
from fmreview.store import Store, schema
from fmreview.store.records import add_records
from fmreview.store.works import works_from_records


@pytest.fixture
def atlas(store: Store) -> tuple[Store, dict[str, int]]:
    recs = [
        Record(
            title="RETFound-like masked autoencoder for retinal fundus images",
            year=2023,
            arxiv="2301.00001",
            extra={"weights_available": "yes", "code_available": "yes", "model_name": "RetFM"},
        ),
        Record(
            title="CLIP for chest X-ray pretrained on MIMIC-CXR",
            year=2022,
            pmid="123456",
            extra={"code_available": "yes"},
        ),
        Record(
            title="MedSAM for abdominal CT organ segmentation",
            year=2024,
            date="2024-05-01",
            url="https://example.org/medsam",
        ),
        Record(title="SAM for brain MRI tumour segmentation", year=2024, date="2024-02-01"),
    ]
    with store.run("import") as run:
        add_records(store, recs, source="t", source_kind="other", run_id=run.id)
        works_from_records(store, run.id)
    with store.run("extract") as run:
        extract_store(store, run_id=run.id)
    with store.connect() as conn:
        ids = {
            r.title: int(r.id)
            for r in conn.execute(sa.select(schema.works.c.id, schema.works.c.title))
        }
    return store, ids


def titles(rows: list[dict[str, object]]) -> list[str]:
    return [str(r["title"]) for r in rows]


def test_newest_first_with_dates(atlas: tuple[Store, dict[str, int]]) -> None:
    store, _ = atlas
    rows = find(store, task="segmentation", strict=True)
    assert titles(rows) == [
        "MedSAM for abdominal CT organ segmentation",
        "SAM for brain MRI tumour segmentation",
    ]
    assert rows[0]["links"] == {"url": "https://example.org/medsam"}


def test_links_and_availability(atlas: tuple[Store, dict[str, int]]) -> None:
    store, _ = atlas
    (fundus,) = find(store, modality="fundus")
    assert fundus["links"]["arxiv"] == "https://arxiv.org/abs/2301.00001"
    assert fundus["weights"] is True and fundus["code"] is True and fundus["model_name"] == "RetFM"
    (cxr,) = find(store, modality="xray")
    assert cxr["links"]["pubmed"] == "https://pubmed.ncbi.nlm.nih.gov/123456/"
    assert cxr["weights"] is None and cxr["datasets"] == ["MIMIC-CXR"]
    assert titles(find(store, open_weights=True)) == [fundus["title"]]
    assert titles(find(store, open_code=True)) == [fundus["title"], cxr["title"]]


def test_dataset_and_architecture_filters(atlas: tuple[Store, dict[str, int]]) -> None:
    store, _ = atlas
    assert titles(find(store, dataset="MIMIC-CXR")) == [
        "CLIP for chest X-ray pretrained on MIMIC-CXR"
    ]
    assert titles(find(store, architecture="SAM-family")) == titles(
        find(store, architecture="sam_family")
    )
    assert len(find(store, architecture="sam_family")) == 2
    assert titles(find(store, modality="MRI", fm_type="vision_only")) == [
        "SAM for brain MRI tumour segmentation"
    ]


def test_screening_exclusions_are_left_out(atlas: tuple[Store, dict[str, int]]) -> None:
    store, ids = atlas
    wid = ids["SAM for brain MRI tumour segmentation"]
    with store.begin() as conn:
        conn.execute(
            sa.insert(schema.decisions).values(
                work_id=wid,
                stage="automation",
                reviewer="rules",
                label="exclude",
                criterion="E-TEXT-ONLY",
                note="",
                created_at=store.clock(),
            )
        )
    assert titles(find(store, task="segmentation", strict=True)) == [
        "MedSAM for abdominal CT organ segmentation"
    ]
    assert len(find(store, task="segmentation", include_excluded=True, strict=True)) == 2


def test_human_corrections_move_works_in_the_atlas(atlas: tuple[Store, dict[str, int]]) -> None:
    store, ids = atlas
    wid = ids["SAM for brain MRI tumour segmentation"]
    correct_label(store, wid, "modality", ["mri", "ct"], "ann")
    assert set(titles(find(store, modality="CT"))) == {
        "MedSAM for abdominal CT organ segmentation",
        "SAM for brain MRI tumour segmentation",
    }


def test_limit_and_year(atlas: tuple[Store, dict[str, int]]) -> None:
    store, _ = atlas
    assert len(find(store, limit=2)) == 2
    assert {r["year"] for r in find(store, year_from=2024)} == {2024}


@pytest.mark.parametrize(
    "axis,given,expected",
    [
        ("modality", "CT", "ct"),
        ("modality", "computed tomography", "ct"),
        ("modality", "X-Ray", "xray"),
        ("modality", "Histopathology", "histopathology"),
        ("fm_type", "vision-language", "vision_language"),
        ("fm_type", "Vision Only", "vision_only"),
        ("task", "VQA", "vqa"),
        ("architecture", "segment anything", "sam_family"),
    ],
)
def test_resolve_value(store: Store, axis: str, given: str, expected: str) -> None:
    assert resolve_value(store.protocol, axis, given) == expected


def test_resolve_unknown_value_names_the_choices(store: Store) -> None:
    with pytest.raises(FmreviewError) as info:
        resolve_value(store.protocol, "task", "dance")
    assert "dance" in str(info.value) and "segmentation" in str(info.value)
    with pytest.raises(FmreviewError, match="taxonomy axis"):
        resolve_value(store.protocol, "colour", "red")


def test_generalists_follow_exact_matches(atlas: tuple[Store, dict[str, int]]) -> None:
    store, _ = atlas
    rows = find(store, task="segmentation")
    exact = [r for r in rows if r["match"] == "exact"]
    assert titles(exact) == titles(find(store, task="segmentation", strict=True))
    rest = rows[len(exact) :]
    assert rest and all(r["match"] == "task not stated" and not r["task"] for r in rest)


def test_pathology_as_a_finding_is_not_a_histopathology_model(store: Store) -> None:
    recs = [
        Record(title="Zero-shot X-ray pathology classification with image-text encoders"),
        Record(title="A vision-language foundation model for computational pathology"),
    ]
    with store.run("import") as run:
        add_records(store, recs, source="t", source_kind="other", run_id=run.id)
        works_from_records(store, run.id)
    with store.run("extract") as run:
        extract_store(store, run_id=run.id)
    histo = titles(find(store, modality="histopathology", strict=True))
    assert histo == ["A vision-language foundation model for computational pathology"]
    xray = find(store, modality="X-ray", strict=True)
    assert titles(xray) == [recs[0].title] and xray[0]["modality"] == ["xray"]


def test_a_vision_only_generalist_is_not_offered_for_a_text_task(
    atlas: tuple[Store, dict[str, int]],
) -> None:
    store, _ = atlas
    # the fundus masked autoencoder names no task: it may segment, but it cannot write
    # reports or answer questions (VL-TASK); the chest X-ray CLIP can be asked to
    by_fm = {str(r["title"]): r["fm_type"] for r in find(store)}
    assert by_fm["RETFound-like masked autoencoder for retinal fundus images"] == "vision_only"
    assert by_fm["CLIP for chest X-ray pretrained on MIMIC-CXR"] == "vision_language"
    seg = titles(find(store, task="segmentation"))
    assert "RETFound-like masked autoencoder for retinal fundus images" in seg
    for task in ("report_generation", "vqa"):
        rows = find(store, task=task)
        assert titles(rows) == ["CLIP for chest X-ray pretrained on MIMIC-CXR"]
        assert rows[0]["match"] == "task not stated"


def test_the_listing_says_why_a_generalist_matched(atlas: tuple[Store, dict[str, int]]) -> None:
    from rich.console import Console

    from fmreview.cli.extract import find_listing

    store, _ = atlas
    console = Console(width=80, record=True, color_system=None)
    console.print(find_listing(find(store, task="report_generation")))
    text = console.export_text()
    assert "CLIP for chest X-ray" in text and "task not stated" in text
    console = Console(width=80, record=True, color_system=None)
    console.print(find_listing(find(store, task="segmentation", strict=True)))
    assert "task not stated" not in console.export_text()
