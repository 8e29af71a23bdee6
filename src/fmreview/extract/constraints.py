"""Constraints between taxonomy axes: a work's labels must agree with each other.

The flagship's rules (DESIGN: vision-language means text is used in the FM's training or
prompting; SAM-style point/box prompting alone is vision-only):

- ``VL-ARCH``: a CLIP-style dual encoder, an LLM-based MLLM or an encoder-decoder
  generative (captioning) model is vision-language;
- ``VL-PARADIGM``: image-text contrastive, generative/captioning or instruction-tuning
  training is vision-language;
- ``VL-TASK``: report generation and VQA produce or take text, so the work is
  vision-language;
- ``SAM-NOT-ITC``: a SAM-family model with no CLIP-style encoder is not trained
  image-text contrastive (prompting SAM with points or boxes is not image-text training).

:func:`check` finds the violations of one work's labels and resolves each by the trust
order of :mod:`.combine` (human > list > llm > rule > model): the label from the more
trusted method stands, the other is changed (fm_type set to the implied value, with the
implying label's evidence) or dropped; between labels of the same method the more
confident stands, and on a full tie the more specific label (architecture, paradigm,
task) stands over fm_type. Every violation is returned, so ``extract`` reports
how many it met and :func:`violations_table` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from fmreview.extract.combine import ORDER
from fmreview.extract.label import Label


@dataclass(frozen=True, slots=True)
class Constraint:
    """If ``axis`` has one of ``values``, then ``then_axis`` must (``require``) or must not
    (``forbid``) have ``then_value`` — unless ``unless_axis`` has ``unless_value``."""

    id: str
    description: str
    axis: str
    values: tuple[str, ...]
    then_axis: str
    then_value: str
    require: bool = True
    unless: tuple[tuple[str, str], ...] = field(default_factory=tuple)


CONSTRAINTS: tuple[Constraint, ...] = (
    Constraint(
        "VL-ARCH",
        "a CLIP-style dual encoder, an MLLM or a captioning encoder-decoder is vision-language",
        "architecture",
        ("clip_dual_encoder", "llm_mllm", "encoder_decoder_generative"),
        "fm_type",
        "vision_language",
    ),
    Constraint(
        "VL-PARADIGM",
        "image-text contrastive, captioning or instruction-tuning training is vision-language",
        "training_paradigm",
        ("image_text_contrastive", "generative_captioning", "instruction_tuning"),
        "fm_type",
        "vision_language",
    ),
    Constraint(
        "VL-TASK",
        "report generation and VQA take or produce text: vision-language",
        "task",
        ("report_generation", "vqa"),
        "fm_type",
        "vision_language",
    ),
    Constraint(
        "SAM-NOT-ITC",
        "a SAM-family model without a CLIP-style encoder is not image-text contrastive",
        "architecture",
        ("sam_family",),
        "training_paradigm",
        "image_text_contrastive",
        require=False,
        unless=(("architecture", "clip_dual_encoder"),),
    ),
)


@dataclass(frozen=True, slots=True)
class Violation:
    """One constraint a work's labels broke, and how it was resolved."""

    constraint: str
    cause: str  # "axis=value (method)"
    conflict: str  # "axis=value (method)" or "axis unlabelled"
    resolution: str  # what was kept / changed / dropped

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _rank(lab: Label) -> int:
    return ORDER.index(lab.method) if lab.method in ORDER else len(ORDER)


def _stands(cause: Label, other: Label) -> bool:
    """Whether the implying label wins: more trusted method, or as trusted and at least as
    confident (a list's own fm_type column, 0.9, beats a label a list section implies, 0.8)."""
    if _rank(cause) != _rank(other):
        return _rank(cause) < _rank(other)
    return cause.confidence >= other.confidence


def _desc(lab: Label) -> str:
    return f"{lab.axis}={lab.value} ({lab.method})"


def check(
    labels: Mapping[str, list[Label]], constraints: tuple[Constraint, ...] = CONSTRAINTS
) -> tuple[dict[str, list[Label]], list[Violation]]:
    """Resolve one work's combined labels (axis -> labels) against the constraints.

    Returns the labels after resolution and the violations met. A required value on an
    axis the work has no label on is added (that is inference, not a violation); a
    conflicting label is a violation.
    """
    out = {axis: list(labs) for axis, labs in labels.items()}
    found: list[Violation] = []
    for c in constraints:
        causes = [lab for lab in out.get(c.axis, []) if lab.value in c.values]
        if not causes:
            continue
        if any(any(lab.value == v for lab in out.get(a, [])) for a, v in c.unless):
            continue
        cause = min(causes, key=_rank)
        targets = out.get(c.then_axis, [])
        if c.require:
            if any(lab.value == c.then_value for lab in targets):
                continue
            # the required value, carrying the implying label's method and evidence
            implied = Label(
                c.then_axis, c.then_value, cause.method, cause.confidence, list(cause.evidence)
            )
            if not targets:
                out[c.then_axis] = [implied]
                continue
            other = targets[0]
            if _stands(cause, other):
                out[c.then_axis] = [implied]
                res = f"{c.then_axis} set to {c.then_value}"
            else:
                out[c.axis] = [lab for lab in out[c.axis] if lab.value not in c.values]
                res = f"{', '.join(_desc(x) for x in causes)} dropped"
            found.append(Violation(c.id, _desc(cause), _desc(other), res))
        else:
            bad = [lab for lab in targets if lab.value == c.then_value]
            if not bad:
                continue
            other = bad[0]
            if _stands(cause, other):
                out[c.then_axis] = [lab for lab in targets if lab.value != c.then_value]
                res = f"{_desc(other)} dropped"
            else:
                out[c.axis] = [lab for lab in out[c.axis] if lab.value not in c.values]
                res = f"{_desc(cause)} dropped"
            found.append(Violation(c.id, _desc(cause), _desc(other), res))
    return {a: labs for a, labs in out.items() if labs}, found
