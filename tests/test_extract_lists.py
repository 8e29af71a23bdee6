"""List labels: the curated lists' own words mapped onto the taxonomy axes."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from fmreview.extract.gazetteer import bundled_gazetteer
from fmreview.extract.lists import list_hints, list_labels, open_availability


def by_axis(extra: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for lab in list_labels(extra, bundled_gazetteer()):
        assert lab.method == "list"
        out.setdefault(lab.axis, set()).add(lab.value)
    return out


def test_columns_map_onto_axes() -> None:
    got = by_axis(
        {
            "fm_type": "vision_language",
            "fm_type_votes": "vision_language:2",
            "modality": "X-ray | Radiology",
            "task": "pretraining_data=CheXpert + MIMIC-CXR | vision_language_model | classification | pretraining",
            "category": "zhaozh10/Awesome-CLIP-in-Medical-Imaging: Pre-training > Multi-scale",
            "method_label": "base=CLIP",
        }
    )
    assert got == {
        "fm_type": {"vision_language"},
        "modality": {"xray"},
        "task": {"classification"},
        "datasets": {"CheXpert", "MIMIC-CXR"},
        "architecture": {"clip_dual_encoder"},
        "training_paradigm": {"image_text_contrastive"},
    }


def test_evidence_names_the_list_column() -> None:
    labs = list_labels({"fm_type": "vision_only", "fm_type_votes": "vision_only:3"})
    (lab,) = labs
    assert lab.evidence[0].field == "list.fm_type" and lab.evidence[0].text == "vision_only:3"
    assert lab.evidence[0].start is None
    assert lab.confidence == 0.9


def test_conflicting_lists_lower_the_confidence() -> None:
    (lab,) = list_labels({"fm_type": "vision_language", "fm_type_conflict": "yes"})
    assert lab.confidence == 0.7


def test_mixed_sections_give_no_fm_type_but_sam_architecture() -> None:
    got = by_axis(
        {
            "category": "YichiZhang98/SAM4MIS: Literature Reviews of Foundation Models / SAM for Medical Image Segmentation",
            "task": "segmentation",
        }
    )
    assert "fm_type" not in got
    assert got == {"architecture": {"sam_family"}, "task": {"segmentation"}}


def test_non_imaging_and_radiology_are_not_modalities() -> None:
    assert "modality" not in by_axis({"modality": "Text | Medicine"})
    assert "modality" not in by_axis({"modality": "Radiology"})
    assert list_hints({"modality": "Text | Medicine"}) == {"non_imaging": True}
    assert list_hints({"modality": "X-ray | Radiology"}) == {"non_imaging": False}
    assert list_hints({"category": "Yunkun-Zhang/Data-Centric-FM-Healthcare: Language Models"}) == {
        "non_imaging": True
    }


def test_axes_filter_and_empty_values() -> None:
    extra = {"fm_type": "vision_only", "modality": "CT", "task": "nan"}
    assert {lab.axis for lab in list_labels(extra, axes={"modality"})} == {"modality"}
    assert list_labels({}) == []


def test_open_availability() -> None:
    assert open_availability({"code_available": "yes", "weights_available": "no"}) == {
        "code": True,
        "weights": False,
    }
    assert open_availability({}) == {"code": None, "weights": None}


def test_every_bundled_study_maps_without_error() -> None:
    path = resources.files("fmreview") / "data" / "fm" / "studies.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    gaz = bundled_gazetteer()
    n_fm = sum(1 for r in rows if any(lab.axis == "fm_type" for lab in list_labels(r, gaz)))
    assert n_fm == pytest.approx(421, abs=5)  # fm_type column, plus vision_language_model tasks
