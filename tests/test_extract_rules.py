"""Rule extraction: protocol patterns and synonyms -> labels with evidence spans."""

from __future__ import annotations

import pytest

from fmreview.extract.gazetteer import bundled_gazetteer
from fmreview.extract.rules import RuleSet, synonym_regex, work_texts
from fmreview.protocol import flagship_path, load_protocol, parse_protocol


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return RuleSet(load_protocol(flagship_path()), bundled_gazetteer())


def labels(rules: RuleSet, title: str, abstract: str = "") -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for lab in rules.label({"title": title, "abstract": abstract}):
        out.setdefault(lab.axis, {})[lab.value] = lab
    return out


def test_every_span_is_the_text_it_points_at(rules: RuleSet) -> None:
    texts = {
        "title": "MedSAM adapter for liver tumour segmentation in CT",
        "abstract": "We fine-tune the Segment Anything Model with LoRA on MSD and KiTS19 scans.",
    }
    labs = rules.label(texts)
    assert labs
    for lab in labs:
        assert lab.method == "rule" and 0 < lab.confidence <= 0.97
        for s in lab.evidence:
            assert texts[s.field][s.start : s.end] == s.text


@pytest.mark.parametrize(
    "title,axis,value,evidence",
    [
        (
            "MedCLIP: Contrastive Learning from Unpaired Medical Images and Text",
            "fm_type",
            "vision_language",
            "MedCLIP",
        ),
        ("Segment Anything in Medical Images", "fm_type", "vision_only", "Segment Anything"),
        (
            "Polyp-SAM++: Can A Text Guided SAM Perform Better for Polyp Segmentation?",
            "fm_type",
            "vision_language",
            "Text Guided",
        ),
        (
            "Masked autoencoders are scalable learners of fundus images",
            "training_paradigm",
            "masked_image_modeling",
            "Masked autoencoders",
        ),
        ("LoRA fine-tuning of a pathology foundation model", "adaptation", "peft", "LoRA"),
        ("Zero-shot chest X-ray diagnosis", "adaptation", "zero_shot", "Zero-shot"),
        ("A foundation model for ultrasound", "modality", "ultrasound", "ultrasound"),
        ("Brain MRI segmentation with SAM", "modality", "mri", "MRI"),
        ("Whole-slide image analysis", "modality", "histopathology", "Whole-slide"),
        ("Knee MRI foundation model", "anatomy", "musculoskeletal", "Knee"),
        ("Radiology report generation with LLMs", "task", "report_generation", "report generation"),
        ("MedVQA: visual question answering for radiology", "task", "vqa", "MedVQA"),
        ("Federated foundation models for ultrasound", "themes", "federated_learning", "Federated"),
        ("Pretrained on MIMIC-CXR", "datasets", "MIMIC-CXR", "MIMIC-CXR"),
        ("CLIP for chest radiographs", "architecture", "clip_dual_encoder", "CLIP"),
    ],
)
def test_labels_with_evidence(
    rules: RuleSet, title: str, axis: str, value: str, evidence: str
) -> None:
    got = labels(rules, title)
    assert value in got.get(axis, {}), got.get(axis)
    lab = got[axis][value]
    assert any(evidence in s.text for s in lab.evidence)  # type: ignore[attr-defined]


def test_sam_point_prompts_are_vision_only_text_prompts_are_not(rules: RuleSet) -> None:
    assert list(labels(rules, "Box-prompted SAM for kidney segmentation")["fm_type"]) == [
        "vision_only"
    ]
    assert list(labels(rules, "Text-prompted SAM for kidney segmentation")["fm_type"]) == [
        "vision_language"
    ]


def test_single_valued_axis_gives_one_value(rules: RuleSet) -> None:
    labs = [lab for lab in rules.label({"title": "SAM meets CLIP"}) if lab.axis == "fm_type"]
    assert [lab.value for lab in labs] == ["vision_language"]


def test_title_counts_more_than_abstract(rules: RuleSet) -> None:
    t = labels(rules, "A CT foundation model")["modality"]["ct"]
    a = labels(rules, "A foundation model", "It was tested on CT.")["modality"]["ct"]
    assert t.confidence > a.confidence  # type: ignore[attr-defined]
    more = labels(rules, "A CT foundation model for computed tomography")["modality"]["ct"]
    assert more.confidence > t.confidence  # type: ignore[attr-defined]


def test_case_sensitive_parts_and_synonym_variants() -> None:
    import re

    rx = re.compile(synonym_regex("vision-language model"), re.I)
    assert rx.search("a vision language model") and rx.search("Vision_Language-Model")
    assert not rx.search("visionlanguage modeling")


def test_implies_adds_labels_on_other_axes() -> None:
    proto = parse_protocol(
        """
version: 1
name: t
title: t
question: q
taxonomy:
  - name: arch
    multi: true
    values:
      - name: sam
        patterns: ['\\bSAM\\b']
        implies: {task: segmentation, kind: vision}
  - name: task
    multi: true
    values:
      - name: segmentation
        patterns: ['\\bsegment']
      - name: vqa
        patterns: ['\\bVQA\\b']
  - name: kind
    values:
      - name: vision
      - name: text
        patterns: ['\\btext\\b']
"""
    )
    rs = RuleSet(proto)
    got = {(lab.axis, lab.value): lab for lab in rs.label({"title": "SAM for VQA"})}
    assert set(got) == {
        ("arch", "sam"),
        ("task", "vqa"),
        ("task", "segmentation"),
        ("kind", "vision"),
    }
    assert got[("task", "segmentation")].confidence == pytest.approx(
        got[("arch", "sam")].confidence * 0.8
    )
    assert got[("task", "segmentation")].evidence[0].text == "SAM"
    pairs = {(lab.axis, lab.value) for lab in rs.label({"title": "SAM with text"})}
    assert ("kind", "text") in pairs and (
        "kind",
        "vision",
    ) not in pairs  # own rule beats implication


def test_work_texts() -> None:
    t = work_texts({"title": "T", "abstract": "", "keywords": ["a", "b"]}, fulltext="F")
    assert t == {"title": "T", "keywords": "a; b", "fulltext": "F"}


def test_modalities_named_together_stand_together(rules: RuleSet) -> None:
    # ultrasound is named in two sentences, X-ray in one: coordination keeps both
    both = labels(
        rules,
        "Few-shot classification with text descriptors",
        "We classify chest X-rays and breast ultrasound images. "
        "We also assess shape features in breast ultrasound images.",
    )
    assert set(both["modality"]) == {"xray", "ultrasound"}
    # the same single X-ray mention in a sentence of its own is outnumbered
    alone = labels(
        rules,
        "Few-shot classification with text descriptors",
        "We study breast ultrasound images. Results on ultrasound images are strong. "
        "Chest X-rays are left for later.",
    )
    assert set(alone["modality"]) == {"ultrasound"}


def test_tasks_the_work_lists_as_its_own_evaluation_count(rules: RuleSet) -> None:
    head = "Knowledge-enhanced pretraining for computational pathology"
    body = (
        "Classification of tissue is hard. Subtype classification needs experts. "
        "Our classifier helps. "
    )
    own = labels(
        rules,
        head,
        body + "We evaluate on downstream tasks including cross-modal retrieval and "
        "zero-shot classification.",
    )
    assert "retrieval" in own["task"]
    other = labels(
        rules,
        head,
        body + "Foundation models serve many tasks such as cross-modal retrieval.",
    )
    assert "retrieval" not in other["task"]


def test_a_mention_of_other_work_is_not_evidence(rules: RuleSet) -> None:
    inspired = labels(
        rules,
        "A foundation model for abdominal CT",
        "Inspired by the success of large language models, we pretrain a masked "
        "autoencoder on 100,000 CT volumes.",
    )
    assert set(inspired["fm_type"]) == {"vision_only"}
    own = labels(
        rules,
        "A foundation model for abdominal CT",
        "We pretrain a masked autoencoder on CT volumes and align it with a large language model.",
    )
    assert set(own["fm_type"]) == {"vision_language"}


def test_field_names_and_screening_are_not_labels(rules: RuleSet) -> None:
    labs = labels(
        rules,
        "Self-supervised pretraining for early detection of diabetic retinopathy",
        "Pretraining first succeeded in natural language processing. We pretrain a "
        "masked autoencoder on fundus photographs.",
    )
    assert set(labs["fm_type"]) == {"vision_only"}
    assert "detection" not in labs.get("task", {})
    assert "fundus" in labs["modality"]


def test_en_dash_and_non_breaking_hyphen_read_as_hyphen(rules: RuleSet) -> None:
    title = "A vision\u2013language model for chest X\u2011rays"
    labs = labels(rules, title)
    vl = labs["fm_type"]["vision_language"]
    assert any(s.text == "vision\u2013language" for s in vl.evidence)  # type: ignore[attr-defined]
    assert "xray" in labs["modality"]


@pytest.mark.parametrize(
    "title,axis,value",
    [
        ("Volumetric segmentation with semantic and spatial prompts", "fm_type", "vision_language"),
        ("A model that can answer complex medical queries about scans", "task", "vqa"),
        ("Unified chest X-ray and radiology report generation", "task", "synthesis"),
        ("Unified chest X-ray and radiology report generation", "task", "report_generation"),
        ("A diffusion model that can generate chest X-rays", "task", "synthesis"),
        ("Brain tumour segmentation on T2-weighted and FLAIR sequences", "modality", "mri"),
        ("Foundation model for gigapixel slide images", "modality", "histopathology"),
        ("Classifying skin lesion images with CLIP", "modality", "dermoscopy"),
    ],
)
def test_expert_synonyms(rules: RuleSet, title: str, axis: str, value: str) -> None:
    assert value in labels(rules, title).get(axis, {})


def test_a_negated_mention_is_not_evidence(rules: RuleSet) -> None:
    head = "Self-supervised pretraining for chest CT"
    neg = labels(rules, head, "We pretrain an encoder on CT volumes without paired reports.")
    assert set(neg["fm_type"]) == {"vision_only"}
    pos = labels(rules, head, "We pretrain an encoder on CT volumes with paired reports.")
    assert set(pos["fm_type"]) == {"vision_language"}


def test_models_named_as_baselines_do_not_describe_the_work(rules: RuleSet) -> None:
    head = "A self-supervised foundation model for computational pathology"
    base = labels(rules, head, "Our encoder outperforms CLIP, PLIP and GPT-4V on 12 tasks.")
    assert set(base["fm_type"]) == {"vision_only"}
    assert "clip_dual_encoder" not in base.get("architecture", {})
    own = labels(rules, head, "Our CLIP encoder is pretrained on 1M slides.")
    assert set(own["fm_type"]) == {"vision_language"}
    # a task word after "outperforms" is the work's own task, not a baseline
    task = labels(rules, head, "Our model outperforms prior methods on report generation.")
    assert set(task["fm_type"]) == {"vision_language"}


def test_text_generated_for_images_is_not_image_synthesis(rules: RuleSet) -> None:
    labs = labels(rules, "Non-local attention improves description generation for retinal images")
    assert "synthesis" not in labs.get("task", {})


def test_dataset_mentions_in_sentences_about_the_works_experiments() -> None:
    from fmreview.extract.gazetteer import bundled_gazetteer

    rules = RuleSet(load_protocol(flagship_path()), bundled_gazetteer())

    def datasets(abstract: str) -> set[str]:
        labs = rules.label({"abstract": abstract}, axes=["datasets"])
        return {lab.value for lab in labs}

    # experiments / results as the subject: the work's own, even without "we"
    own = "We propose X. Extensive experiments on MIMIC-CXR and CheXpert have demonstrated gains."
    assert datasets(own) == {"MIMIC-CXR", "CheXpert"}
    # other work as the subject, or a dataset's history: background
    other = "We propose X. SAM has shown strong results on the SA-1B and COCO datasets."
    assert "COCO" not in datasets(other)
    assert datasets("We propose X. BraTS has been widely used in prior work.") == set()
    assert datasets("We evaluate X on BraTS, which has been widely used.") == {"BraTS"}


def test_one_generic_word_does_not_overturn_a_vision_only_title() -> None:
    rules = RuleSet(load_protocol(flagship_path()))

    def fm_type(title: str, abstract: str) -> list[str]:
        labs = rules.label({"title": title, "abstract": abstract}, axes=["fm_type"])
        return [lab.value for lab in labs]

    sam = "Segment anything model for ultrasound"
    weak = "We fine-tune SAM on 20 ultrasound datasets. The model also gives textual explanations."
    assert fm_type(sam, weak) == ["vision_only"]
    # an explicit text cue still makes it vision-language, in the title or the abstract
    assert fm_type("Text-prompted SAM for CT", "We add prompts to SAM.") == ["vision_language"]
    strong = "We fine-tune SAM on CT. The model accepts text prompts and clicks."
    assert fm_type(sam, strong) == ["vision_language"]
    # a generic word repeated in two sentences, or with no title evidence, still counts
    twice = "We fine-tune SAM on CT. Text is input. The model reads text reports."
    assert fm_type(sam, twice) == ["vision_language"]
    assert fm_type("A model for radiology", "It outputs free text.") == ["vision_language"]


def test_models_that_answer_questions_are_vision_language() -> None:
    rules = RuleSet(load_protocol(flagship_path()))
    for title, abstract in [
        ("MedGemma technical report", "A collection of medical models."),
        ("A radiology assistant", "The model answers clinical questions about CT scans."),
    ]:
        labs = rules.label({"title": title, "abstract": abstract}, axes=["fm_type"])
        assert [lab.value for lab in labs] == ["vision_language"]


def test_prior_work_in_a_concessive_clause_or_qualified_as_previous() -> None:
    rules = RuleSet(load_protocol(flagship_path()))

    def fm_type(abstract: str) -> list[str]:
        title = "Self-supervised vision models for medical image segmentation"
        labs = rules.label({"title": title, "abstract": abstract}, axes=["fm_type"])
        return [lab.value for lab in labs]

    concessive = (
        "While recent foundation models (e.g., X) rely on multimodal pretraining, "
        "they still need prompts. We pretrain an encoder on CT."
    )
    assert fm_type(concessive) == ["vision_only"]
    # the main clause after the comma is the work's own
    main = "While SAM needs prompts, the proposed model reads radiology reports. We test it."
    assert fm_type(main) == ["vision_language"]
    # a concessive clause in the first person is the work's own
    ours = "Although our model uses image-text pairs, it runs fast. We test it."
    assert fm_type(ours) == ["vision_language"]
    previous = "Our encoder improves previous vision-language models by 6%. We test it."
    assert fm_type(previous) == ["vision_only"]
    assert fm_type("Our model is a vision-language model. We test it.") == ["vision_language"]
    assert fm_type("Existing vision-language models fail on CT. We test ours.") == ["vision_only"]
    adapt = "We adapt existing vision-language models to CT. We test it."
    assert fm_type(adapt) == ["vision_language"]
    # "conventional CT" is still CT: the qualifier rule is for the model's own axes only
    labs = rules.label({"abstract": "We study conventional CT. Conventional CT is used."})
    assert "ct" in {lab.value for lab in labs if lab.axis == "modality"}


def test_one_mention_of_instructions_does_not_make_a_segmenter_vision_language() -> None:
    rules = RuleSet(load_protocol(flagship_path()))
    title = "Curriculum prompting for medical image segmentation"
    one = "Prompts incorporate specific clinical instructions. We segment organs."
    labs = rules.label({"title": title, "abstract": one}, axes=["fm_type"])
    assert [lab.value for lab in labs] == ["vision_only"]
    tuned = "We apply visual instruction tuning to an MLLM. We segment organs."
    labs = rules.label({"title": title, "abstract": tuned}, axes=["fm_type"])
    assert [lab.value for lab in labs] == ["vision_language"]


@pytest.mark.parametrize(
    "title,expected",
    [
        # "pathology" as a finding next to a radiology (or other) modality
        ("Zero-Shot X-ray Pathology Classification via Image-Text Encoders", {"xray"}),
        ("Detecting pathologies in chest CT with a foundation model", {"ct"}),
        ("Retinal pathology screening from fundus photographs", {"fundus"}),
        # "pathology" followed by a finding task, with no image word between
        ("Report-guided contrastive training for pathology recognition", set()),
        ("Annotation-free pathology localization with a vision-language model", set()),
        ("Pathology image classification with CLIP", {"histopathology"}),
        # "pathology" alone, or in histology context, is histopathology
        ("A vision-language foundation model for pathology", {"histopathology"}),
        ("Pathologist-level grading of prostate biopsies", {"histopathology"}),
        ("Digital pathology and CT for lung cancer", {"histopathology", "ct"}),
        ("Whole-slide pathology meets MRI", {"histopathology", "mri"}),
    ],
)
def test_pathology_alone_yields_to_a_named_imaging_modality(
    rules: RuleSet, title: str, expected: set[str]
) -> None:
    assert set(labels(rules, title).get("modality", {})) == expected
