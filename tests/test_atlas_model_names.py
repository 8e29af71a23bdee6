"""Model names read from titles and abstracts, and shown in the atlas with their evidence.

The titles and abstracts here are written for these tests (not taken from the snapshot).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fmreview.extract.atlas import find
from fmreview.extract.model_names import is_coined, model_name, same_name
from fmreview.extract.store_io import extract_store
from fmreview.record import Record
from fmreview.store import Store
from fmreview.store.records import add_records
from fmreview.store.works import works_from_records


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("DermaNet: A Foundation Model for Skin Lesion Photographs", "DermaNet"),
        ("CXR-Talk: Conversational Report Writing from Chest Radiographs", "CXR-Talk"),
        ("Echo2Vec: Echocardiogram Embeddings at Scale", "Echo2Vec"),
        ("PLUTO++: An Improved Pathology Encoder", "PLUTO++"),
        ("ORBIT: Retinal Vessel Segmentation with Prompts", "ORBIT"),
        ("UltraSeg-3D", "UltraSeg-3D"),
        ("SAMX (Segment Any Modality X): Prompted Segmentation", "SAMX"),
        ("A retinal foundation model (RetiCore) for screening", "RetiCore"),
        ("Cardiac SAM Adapter: Tuning SAM for Echocardiography", "Cardiac SAM Adapter"),
        ("Dental SAM 2: Instruction Tuning for Panoramic X-rays", "Dental SAM 2"),
        ("Scaling whole-slide encoders with a transformer (SlideTx)", "SlideTx"),
    ],
)
def test_names_from_titles(title: str, name: str) -> None:
    found = model_name(title)
    assert found is not None and found.name == name
    assert found.field == "title" and name in found.text


@pytest.mark.parametrize(
    "title",
    [
        "Segment Anything: A Survey of Medical Adaptations",
        "Review: Foundation Models in Radiology",
        "Self-Supervised: Pretraining Without Labels for CT",
        "CLIP: What It Sees in Chest X-rays",
        "SAM-based: Prompting for Polyp Segmentation",
        "GPT-4V: An Evaluation on Medical Images",
        "When SAM Meets Echocardiography: A Study",
        "SAM on Fundus Images: Does It Work?",
        "Segment Anything Model 2: Prompting in Video",
        "Large Vision Models: A Tutorial for Radiologists",
        "Adapting the Segment Anything Model (SAM) to ultrasound",
        "Large language models (LLMs) for report writing",
        "Foundation models in pathology",
        "DermQA-10K: A Multilingual Benchmark for Skin Lesion Questions",
        "",
    ],
)
def test_no_name_in_titles(title: str) -> None:
    assert model_name(title) is None


@pytest.mark.parametrize(
    ("abstract", "name", "rule"),
    [
        ("Labels are scarce. We propose PathFuse, a fusion model for slides.", "PathFuse", "we"),
        ("Here we introduce RadDial-7B: a chat model for radiology.", "RadDial-7B", "we"),
        ("We train a dual encoder, termed EchoAlign, on 1M videos.", "EchoAlign", "termed"),
        ('Our method, dubbed "MammoPrompt", needs no labels.', "MammoPrompt", "termed"),
        ("In this work we present a foundation model (OCTane) for OCT.", "OCTane", "head"),
        ("Then we introduce our ophthalmic MLLM: Iriswise. It ...", "Iriswise", "head noun:"),
        ("We present Kestrel, a pathology assistant.", "Kestrel", "we"),
    ],
)
def test_names_from_abstracts(abstract: str, name: str, rule: str) -> None:
    found = model_name("A study of foundation models", abstract)
    assert found is not None and found.name == name
    assert found.field == "abstract" and found.rule.startswith(rule)
    assert name in found.text and found.text in abstract


@pytest.mark.parametrize(
    "abstract",
    [
        "The Segment Anything Model (SAM) segments natural images well. We adapt it to CT.",
        "We propose a novel adapter, which we fine-tune with LoRA on BraTS.",
        "Named entity recognition of reports is hard; we study it.",
        "We propose CLIP-based prompts for zero-shot classification.",
        "Foundation models (FMs) are large. We evaluate GPT-4V (GPT4V) on X-rays.",
        "We train one network, termed Universal Segmenter, on 14 sets.",
        "We propose Specifically, a typo that opens a clause.",
        "We introduce DermVQA-2K, a benchmark of 2,000 skin questions.",
    ],
)
def test_no_name_in_abstracts(abstract: str) -> None:
    assert model_name("A study of foundation models", abstract) is None


def test_benchmark_named_with_a_model_is_a_name() -> None:
    found = model_name("RadBench-X: A Benchmark and a Model for Report Grading")
    assert found is not None and found.name == "RadBench-X"


def test_title_wins_over_abstract() -> None:
    found = model_name("NeuroTok: Tokenising MRI", "We propose BrainTok, a tokenizer.")
    assert found is not None and (found.name, found.field) == ("NeuroTok", "title")


def test_same_name_up_to_case_separators_and_variants() -> None:
    assert same_name("SAM-Med2D", "sam med 2d")
    assert same_name("Quilt-Net", "Quilt-1M/Quilt-Net | QuiltNet")
    assert not same_name("MedSAM", "MedSAM2")
    assert not same_name("", "MedSAM")


def test_is_coined() -> None:
    assert [is_coined(t) for t in ("MedSAM", "T5", "Swin-unet", "Med++", "Virchow")] == [
        True,
        True,
        True,
        True,
        False,  # a name spelt like an English word is missed, on purpose
    ]


_WORD = st.from_regex(r"[a-z]{1,12}", fullmatch=True)
_PHRASE = st.lists(
    st.tuples(_WORD, st.sampled_from([str.capitalize, str.lower, str.title])).map(
        lambda wc: wc[1](wc[0])
    ),
    min_size=1,
    max_size=5,
).map(" ".join)


@given(lead=_PHRASE, rest=st.lists(_WORD, min_size=1, max_size=8).map(" ".join))
def test_plain_english_leading_phrase_is_never_a_name(lead: str, rest: str) -> None:
    """``"Segment Anything: ..."``: letters only, no inner capital, digit or hyphen."""
    assert model_name(f"{lead}: {rest}") is None
    assert model_name(lead) is None


@pytest.fixture
def named(store: Store) -> Store:
    recs = [
        Record(
            title="PathoLens: A Pathology Foundation Model for Slide Classification",
            year=2024,
            extra={"model_name": "Patho-Lens v1", "weights_available": "yes"},
        ),
        Record(
            title="CTSeg-Pro: Prompted Segmentation of Abdominal CT Organs",
            year=2024,
            extra={"weights_available": "yes"},
        ),
        Record(
            title="Contrastive pretraining for chest X-ray report generation",
            abstract="We propose RepoGen, a report generator trained on MIMIC-CXR.",
            year=2023,
        ),
        Record(title="Segment Anything: adapting SAM to CT organ segmentation", year=2023),
    ]
    with store.run("import") as run:
        add_records(store, recs, source="t", source_kind="other", run_id=run.id)
        works_from_records(store, run.id)
    with store.run("extract") as run:
        extract_store(store, run_id=run.id)
    return store


def _by_title(rows: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(r["title"]).split(":")[0].split(" ")[0]: r for r in rows}


def test_atlas_names_models_with_evidence(named: Store) -> None:
    rows = _by_title(find(named))
    listed, titled, abstracted, plain = (
        rows["PathoLens"],
        rows["CTSeg-Pro"],
        rows["Contrastive"],
        rows["Segment"],
    )
    # the list's name wins over the title's
    assert listed["model_name"] == "Patho-Lens v1"
    assert listed["evidence"]["model_name"] == "Patho-Lens v1 (list)"  # type: ignore[index]
    assert titled["model_name"] == "CTSeg-Pro"
    assert titled["evidence"]["model_name"] == (  # type: ignore[index]
        "CTSeg-Pro (leading name; title: CTSeg-Pro:)"
    )
    assert abstracted["model_name"] == "RepoGen"
    ev = abstracted["evidence"]["model_name"]  # type: ignore[index]
    assert ev.startswith("RepoGen (we propose NAME; abstract: We propose RepoGen")
    assert plain["model_name"] == "" and "model_name" not in plain["evidence"]  # type: ignore[operator]


def test_atlas_title_name_under_its_query(named: Store) -> None:
    rows = find(named, modality="CT", task="segmentation", open_weights=True)
    assert [r["model_name"] for r in rows] == ["CTSeg-Pro"]
