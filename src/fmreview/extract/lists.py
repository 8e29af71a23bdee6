"""List labels: what the bundled curated lists say about a study, mapped onto the axes.

The snapshot (``studies.csv``, twelve curated public lists merged) stores each row's columns
in ``Record.extra`` (keys as the CSV header). Its labels are the lists' own words
(``modality: "X-ray | Radiology"``, ``task: "segmentation | pretraining_data=MIMIC-CXR"``,
``category: "<list>: <section>"``, ``fm_type``); this module maps them onto the review's
axes with method ``list``. The mapping encodes the taxonomy crosswalk
(``bench/fm/taxonomy_crosswalk.csv``):

- ``fm_type`` is taken from the column (0.9; 0.7 when the lists disagree,
  ``fm_type_conflict = yes``). Sections the crosswalk marks *mixed* (SAM4MIS, MFM,
  Conversational, Generalist, modality-first sections) give no fm_type.
- ``modality`` from the modality column and PLM2233's modality-first sections; list
  modalities that are not imaging (Text, Medicine, Clinic, Biomedicine, EEG, Proteomics,
  Genomics, Molecules, Chemistry, Drug) give none and mark the study ``non_imaging``
  (:func:`list_hints`), the evidence for criterion E-TEXT-ONLY / E-NON-IMAGING.
  "Radiology" alone is not a modality (it is X-ray, CT or MRI) and gives none.
- ``task`` from the task column and task-organised sections; ``pretraining``,
  ``vision_language_model``, ``dense_prediction`` and ``cross_modal`` are not tasks
  (the crosswalk: dense prediction = detection or segmentation; cross-modal = retrieval,
  report generation or VQA), except that ``vision_language_model`` implies fm_type.
- ``datasets`` from ``pretraining_data=A + B`` task entries, linked through the gazetteer
  (role ``pretraining``).
- ``architecture`` / ``training_paradigm`` from SAM and CLIP sections and the lists'
  method labels (``base=CLIP``, ``MAE``, ``DINOv2``, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fmreview.extract.gazetteer import DatasetGazetteer
from fmreview.extract.label import Label, Span

DIRECT = 0.9
SECTION = 0.8
CONFLICT = 0.7

MODALITY = {
    "x-ray": "xray",
    "xray": "xray",
    "ct": "ct",
    "mri": "mri",
    "ultrasound": "ultrasound",
    "sonography": "ultrasound",
    "fundus": "fundus",
    "oct": "oct",
    "histopathology": "histopathology",
    "pathology": "histopathology",
    "dermatology": "dermoscopy",
    "dermoscopy": "dermoscopy",
    "endoscopy": "endoscopy",
    "microscopy": "microscopy",
    "mammography": "mammography",
    "pet": "pet_spect",
    "dentistry": "dental",
    "multi-modal": "multi_modality",
    "generalist medical": "multi_modality",
}
NON_IMAGING = {
    "text",
    "medicine",
    "clinic",
    "clinical",
    "biomedicine",
    "eeg",
    "proteomics",
    "genomics",
    "molecules",
    "chemistry",
    "drug",
}
TASK = {
    "segmentation": "segmentation",
    "classification": "classification",
    "diagnosis/prognosis": "classification",
    "report_generation": "report_generation",
    "vqa": "vqa",
    "retrieval": "retrieval",
    "detection/localization": "detection",
}

#: regex over "list: section" -> the "axis=value" labels that section implies.
_SECTION_LABELS: dict[str, tuple[str, ...]] = {
    r"SAM for Medical Image Segmentation|SAM 2/3 Adaptions": (
        "architecture=sam_family",
        "task=segmentation",
    ),
    r"Awesome-CLIP-in-Medical-Imaging": ("architecture=clip_dual_encoder",),
    r"CLIP-in-Medical-Imaging: Pre-training": ("training_paradigm=image_text_contrastive",),
    r"Textual Prompted Models > Contrastive|PLM2233.*: Contrastive Learning": (
        "training_paradigm=image_text_contrastive",
    ),
    r"Report Generation": ("task=report_generation",),
    r"Question Answering": ("task=vqa",),
    r"CLIP-driven Application > Classification|Healthcare > Classification": (
        "task=classification",
    ),
    r"Diagnosis and Prognosis|Medical Diagnosis": ("task=classification",),
    r"Medical Image Segmentation$|Healthcare > Medical Image Segmentation": ("task=segmentation",),
    r"Image-Text Retrieval": ("task=retrieval",),
    r"Object Locolization and Anomaly Detection": ("task=detection",),
    r"MLLM|Textual Prompted Models > Conversational": ("architecture=llm_mllm",),
    r"PLM2233.*: X-ray Models": ("modality=xray",),
    r"PLM2233.*: CT Models": ("modality=ct",),
    r"PLM2233.*: MRI Models": ("modality=mri",),
    r"PLM2233.*: Ultrasound Models": ("modality=ultrasound",),
    r"PLM2233.*: Fundus Models": ("modality=fundus",),
    r"PLM2233.*: Histopathology Models": ("modality=histopathology",),
    r"PLM2233.*: Dermatology Models": ("modality=dermoscopy",),
    r"PLM2233.*: Microscopy Models": ("modality=microscopy",),
    r"PLM2233.*: Endoscopy Models": ("modality=endoscopy",),
    r"Explaination, Bias, Noise, and Robustness": ("themes=interpretability",),
}
#: (regex over "list: section", axis, value): labels a list's section implies.
SECTIONS: list[tuple[str, str, str]] = [
    (rx, axis, value)
    for rx, labs in _SECTION_LABELS.items()
    for axis, _, value in (lab.partition("=") for lab in labs)
]
NON_IMAGING_SECTIONS = (
    r"Data-Centric-FM-Healthcare: (Language Models|Protein and Molecule Models|Other Models)"
)

#: (regex over a method label, axis, value)
METHOD_LABELS: list[tuple[str, str, str]] = [
    (r"\bCLIP\b|ConVIRT|CONCH", "training_paradigm", "image_text_contrastive"),
    (r"\bCLIP\b|ConVIRT|CONCH", "architecture", "clip_dual_encoder"),
    (r"\bMAE\b|\bMIM\b|BEiT", "training_paradigm", "masked_image_modeling"),
    (r"DINO|iBOT", "training_paradigm", "self_distillation"),
    (r"Sim-?CLR|MoCo|VoCo", "training_paradigm", "contrastive_image"),
    (r"\bKD\b|Distillation", "themes", "knowledge_distillation"),
    (r"\bFL\b", "themes", "federated_learning"),
    (r"base=SAM\b", "architecture", "sam_family"),
    (r"base=SAM\b", "training_paradigm", "general_fm_adaptation"),
    (r"MLLM|LLaVA|Qwen2?(\.5)?-VL|BLIP-2|Flamingo", "architecture", "llm_mllm"),
    (r"LLaVA|MLLM", "training_paradigm", "instruction_tuning"),
]


def _parts(value: Any, sep: str = "|") -> list[str]:
    if value is None:
        return []
    text = str(value).strip()
    if not text or text.lower() == "nan":
        return []
    return [p.strip() for p in text.split(sep) if p.strip()]


def _span(column: str, text: str) -> Span:
    return Span(f"list.{column}", None, None, text)


def _add(out: dict[tuple[str, str], Label], lab: Label) -> None:
    key = (lab.axis, lab.value)
    if key not in out or out[key].confidence < lab.confidence:
        out[key] = lab


def list_labels(
    extra: Mapping[str, Any],
    gazetteer: DatasetGazetteer | None = None,
    axes: set[str] | None = None,
) -> list[Label]:
    """Map one snapshot row's list labels onto the taxonomy (method ``list``).

    Parameters
    ----------
    extra : mapping
        The record's ``extra`` (the CSV columns: fm_type, fm_type_conflict, modality, task,
        category, method_label, ...).
    gazetteer : DatasetGazetteer, optional
        Links ``pretraining_data=`` entries to datasets.
    axes : set of str, optional
        Keep only labels on these axes (the protocol's).
    """
    out: dict[tuple[str, str], Label] = {}
    fm = str(extra.get("fm_type") or "").strip()
    if fm in ("vision_only", "vision_language"):
        conflict = str(extra.get("fm_type_conflict") or "").strip().lower() == "yes"
        votes = str(extra.get("fm_type_votes") or fm)
        _add(
            out,
            Label(
                "fm_type", fm, "list", CONFLICT if conflict else DIRECT, [_span("fm_type", votes)]
            ),
        )
    for part in _parts(extra.get("modality")):
        val = MODALITY.get(part.lower())
        if val:
            _add(out, Label("modality", val, "list", DIRECT, [_span("modality", part)]))
    for part in _parts(extra.get("task")):
        low = part.lower()
        if low in TASK:
            _add(out, Label("task", TASK[low], "list", DIRECT, [_span("task", part)]))
        elif low == "vision_language_model" and not fm:
            _add(out, Label("fm_type", "vision_language", "list", SECTION, [_span("task", part)]))
        elif low.startswith("pretraining_data=") and gazetteer is not None:
            for name in re.split(r"\s*\+\s*", part.split("=", 1)[1]):
                entity = gazetteer.lookup(name.strip(" *"))
                if entity:
                    lab = Label(
                        "datasets",
                        entity,
                        "list",
                        DIRECT,
                        [_span("task", part)],
                        role="pretraining",
                    )
                    _add(out, lab)
    for section in _parts(extra.get("category"), "||"):
        for rx, axis, value in SECTIONS:
            if re.search(rx, section):
                _add(out, Label(axis, value, "list", SECTION, [_span("category", section)]))
    for method in _parts(extra.get("method_label")):
        for rx, axis, value in METHOD_LABELS:
            if re.search(rx, method):
                _add(out, Label(axis, value, "list", SECTION, [_span("method_label", method)]))
    labels = list(out.values())
    if axes is not None:
        labels = [lab for lab in labels if lab.axis in axes]
    return labels


def list_hints(extra: Mapping[str, Any]) -> dict[str, bool]:
    """Flags the lists give beyond the axes: ``non_imaging`` (a text/omics/signal model)."""
    mods = [p.lower() for p in _parts(extra.get("modality"))]
    sections = _parts(extra.get("category"), "||")
    non_imaging = bool(mods) and all(m in NON_IMAGING for m in mods)
    non_imaging = non_imaging or (
        bool(sections) and all(re.search(NON_IMAGING_SECTIONS, s) for s in sections)
    )
    return {"non_imaging": non_imaging}


def open_availability(extra: Mapping[str, Any]) -> dict[str, bool | None]:
    """``code`` / ``weights`` availability from the lists (None = unknown)."""

    def flag(key: str) -> bool | None:
        v = str(extra.get(key) or "").strip().lower()
        return True if v == "yes" else False if v == "no" else None

    return {"code": flag("code_available"), "weights": flag("weights_available")}
