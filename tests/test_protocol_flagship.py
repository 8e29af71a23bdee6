"""The flagship protocol ships, validates and says what the review needs."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from fmreview.protocol import check_protocol, flagship_path, load_protocol

AXES = [
    "fm_type",
    "architecture",
    "training_paradigm",
    "adaptation",
    "modality",
    "anatomy",
    "task",
    "datasets",
    "themes",
]


@pytest.fixture(scope="module")
def flagship():  # type: ignore[no-untyped-def]
    return load_protocol(flagship_path())


def test_flagship_loads_without_warnings(flagship) -> None:  # type: ignore[no-untyped-def]
    assert flagship.name == "fm-medical-imaging"
    assert check_protocol(flagship_path()) == []
    assert flagship.snapshot == "fm-studies"
    assert flagship.date_range.start == dt.date(2018, 1, 1)


def test_flagship_has_the_taxonomy_axes(flagship) -> None:  # type: ignore[no-untyped-def]
    assert [a.name for a in flagship.taxonomy] == AXES
    assert not flagship.axis("fm_type").multi
    assert {v.name for v in flagship.axis("fm_type").values} == {"vision_only", "vision_language"}
    assert flagship.axis("datasets").from_gazetteer
    assert flagship.gazetteer is not None and flagship.gazetteer.bundled
    themes = {v.name for v in flagship.axis("themes").values}
    assert {
        "domain_adaptation",
        "efficient_fine_tuning",
        "computational_constraints",
        "interpretability",
        "federated_learning",
        "knowledge_distillation",
        "prompting",
        "fairness",
    } <= themes
    modality = {v.name for v in flagship.axis("modality").values}
    assert {
        "xray",
        "ct",
        "mri",
        "ultrasound",
        "pet_spect",
        "mammography",
        "histopathology",
        "fundus",
        "oct",
        "dermoscopy",
        "endoscopy",
        "microscopy",
        "multi_modality",
    } <= modality
    for axis in flagship.taxonomy:
        for v in axis.values:
            assert v.synonyms or v.patterns, f"{axis.name}.{v.name} has no rule"


def test_text_beats_image_cues_for_fm_type(flagship) -> None:  # type: ignore[no-untyped-def]
    values = {v.name: v for v in flagship.axis("fm_type").values}
    assert values["vision_language"].priority > values["vision_only"].priority
    desc = " ".join(flagship.axis("fm_type").description.split())
    assert "vision_language when text is used in the model's training or prompting" in desc
    assert "SAM-style point/box prompting alone is vision_only" in desc


def test_flagship_sources_and_criteria(flagship) -> None:  # type: ignore[no-untyped-def]
    assert set(flagship.sources) == {"openalex", "arxiv", "pubmed", "semantic_scholar", "crossref"}
    assert "[tiab]" in str(flagship.sources["pubmed"].query)
    assert "abs:" in str(flagship.sources["arxiv"].query)
    assert "search" in flagship.sources["openalex"].query  # OpenAlex takes search + filter
    ids = {c.id for c in flagship.eligibility}
    assert {"E-TEXT-ONLY", "E-PRE-FM", "E-LANGUAGE", "E-DATE", "E-TYPE", "I-FM"} <= ids
    for c in flagship.eligibility:
        assert c.description.strip()


def _matches(rule, text: str) -> bool:  # type: ignore[no-untyped-def]
    anyp = any(re.search(p, text, re.I) for p in rule.any or [])
    nonep = any(re.search(p, text, re.I) for p in rule.none or [])
    return anyp and not nonep


def test_text_only_criterion_separates_llms_from_vlms(flagship) -> None:  # type: ignore[no-untyped-def]
    rule = flagship.criterion("E-TEXT-ONLY").rule
    assert _matches(rule, "MEDITRON-70B: Scaling Medical Pretraining for Large Language Models")
    assert _matches(
        rule, "BioBERT: a pre-trained biomedical language representation model for text mining"
    )
    assert not _matches(
        rule, "LLaVA-Med: a large language-and-vision assistant for biomedical images"
    )
    assert not _matches(rule, "Bootstrapping Large Language Models for Radiology Report Generation")
    assert not _matches(
        rule, "MiniGPT-Med: Large Language Model as a General Interface for Radiology Diagnosis"
    )
    assert not _matches(
        rule, "Causal-SAM-LLM: Large Language Models as Causal Reasoners for Medical Segmentation"
    )


def test_non_imaging_criterion(flagship) -> None:  # type: ignore[no-untyped-def]
    rule = flagship.criterion("E-NON-IMAGING").rule
    assert _matches(
        rule,
        "Evolutionary-Scale Prediction of Atomic-Level Protein Structure with a Language Model",
    )
    assert _matches(rule, "Neuro-GPT: Towards A Foundation Model For EEG")
    assert not _matches(rule, "Zero-shot Segment Anything Model for Molecular-empowered pathology")


def test_sam_release_event(flagship) -> None:  # type: ignore[no-untyped-def]
    events = {e.name: e.date for e in flagship.analyses.events}
    assert dt.date(2023, 4, 5) in events.values()
    assert any("GPT-4V" in n for n in events) and any("LLaVA" in n for n in events)
