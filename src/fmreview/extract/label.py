"""The value objects of extraction: a label and the evidence span it rests on."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Extraction methods, in the order the combination policy trusts them (see ``combine``).
METHODS = ("human", "list", "llm", "rule", "model")


@dataclass(frozen=True, slots=True)
class Span:
    """Where a label's evidence is: ``text[start:end]`` of the work's ``field``.

    ``field`` is ``title``, ``abstract``, ``keywords``, ``fulltext``, or ``list.<column>``
    for a curated list's label (then ``start``/``end`` are None and ``text`` is the list's
    own label).
    """

    field: str
    start: int | None
    end: int | None
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Span:
        return cls(
            field=str(d.get("field", "")),
            start=d.get("start"),
            end=d.get("end"),
            text=str(d.get("text", "")),
        )


@dataclass(slots=True)
class Label:
    """One value on one taxonomy axis for one work, with its provenance."""

    axis: str
    value: str
    method: str
    confidence: float
    evidence: list[Span] = field(default_factory=list)
    role: str | None = None
    label_id: int | None = None  # the ``labels`` row, once stored
    status: str = "auto"  # auto | confirmed | corrected
    reviewer: str | None = None

    def evidence_dicts(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.evidence]
