"""Constraints between axes: violations found, resolved by the trust order, reported."""

from __future__ import annotations

from fmreview.extract.constraints import check
from fmreview.extract.label import Label, Span


def L(axis: str, value: str, method: str = "rule", conf: float = 0.8) -> Label:
    return Label(axis, value, method, conf, [Span("title", 0, 4, value)])


def values(labels: dict[str, list[Label]], axis: str) -> list[str]:
    return [lab.value for lab in labels.get(axis, [])]


def test_clip_encoder_makes_vision_language_when_as_trusted() -> None:
    labels = {
        "architecture": [L("architecture", "clip_dual_encoder", "list")],
        "fm_type": [L("fm_type", "vision_only", "list")],
    }
    out, viol = check(labels)
    assert values(out, "fm_type") == ["vision_language"]
    assert [v.constraint for v in viol] == ["VL-ARCH"]
    assert out["fm_type"][0].evidence == labels["architecture"][0].evidence


def test_more_trusted_fm_type_drops_the_less_trusted_architecture() -> None:
    labels = {
        "architecture": [L("architecture", "llm_mllm", "model")],
        "fm_type": [L("fm_type", "vision_only", "human", 1.0)],
    }
    out, viol = check(labels)
    assert values(out, "fm_type") == ["vision_only"] and "architecture" not in out
    assert viol[0].resolution.endswith("dropped")


def test_sam_prompting_is_not_image_text_training() -> None:
    labels = {
        "architecture": [L("architecture", "sam_family", "list")],
        "training_paradigm": [
            L("training_paradigm", "image_text_contrastive", "rule"),
            L("training_paradigm", "promptable_segmentation", "rule"),
        ],
    }
    out, viol = check(labels)
    assert values(out, "training_paradigm") == ["promptable_segmentation"]
    assert [v.constraint for v in viol] == ["SAM-NOT-ITC"]
    # ... unless a CLIP-style encoder is part of the model (text-prompted SAM)
    labels["architecture"].append(L("architecture", "clip_dual_encoder", "rule"))
    out, viol = check(labels)
    assert "image_text_contrastive" in values(out, "training_paradigm")
    assert values(out, "fm_type") == ["vision_language"] and viol == []


def test_consistent_labels_are_untouched() -> None:
    labels = {"task": [L("task", "vqa")], "fm_type": [L("fm_type", "vision_language")]}
    out, viol = check(labels)
    assert viol == [] and values(out, "task") == ["vqa"]
    assert values(out, "fm_type") == ["vision_language"]


def test_same_method_the_more_confident_label_stands() -> None:
    # a list's own fm_type column (0.9) beats an architecture a list section implies (0.8)
    labels = {
        "architecture": [L("architecture", "llm_mllm", "list", 0.8)],
        "fm_type": [L("fm_type", "vision_only", "list", 0.9)],
    }
    out, viol = check(labels)
    assert values(out, "fm_type") == ["vision_only"] and "architecture" not in out
    assert len(viol) == 1
