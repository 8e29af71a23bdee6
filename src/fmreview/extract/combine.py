"""The combination policy: which of a work's candidate labels on an axis become its labels.

Policy (per work and axis)
--------------------------
Methods are trusted in this order::

    human  >  list  >  llm  >  rule  >  model

1. **Human** — a person's latest correction sets the axis's values outright; a confirmation
   keeps the confirmed value (on a multi-valued axis it is added to what the other methods
   give). Nothing overrides a person.
2. Otherwise the **first method in the order that has a label at or above its threshold**
   decides the axis: ``list`` (curated lists, threshold 0), ``llm`` (0.5), ``rule`` (0.5),
   ``model`` (the protocol's ``extraction.min_confidence``, default 0.5). On a
   single-valued axis that method's most confident label is taken; on a multi-valued
   axis all of its labels at or above the threshold.
3. If no method reaches its threshold the axis stays unlabelled (abstain rather than
   guess; there is no catch-all value). The low-confidence candidates are kept as label
   rows and come first in ``fmreview extract review``.

Every label keeps its own method, confidence and evidence, so a report can say how many
labels are human-confirmed, list-given and automatic.
"""

from __future__ import annotations

from collections.abc import Iterable

from fmreview.extract.label import METHODS, Label

#: Order of trust, most trusted first.
ORDER = ("human", "list", "llm", "rule", "model")
DEFAULT_THRESHOLDS: dict[str, float] = {
    "human": 0.0,
    "list": 0.0,
    "llm": 0.5,
    "rule": 0.5,
    "model": 0.5,
}
assert set(ORDER) == set(METHODS)


def thresholds_for(min_confidence: float | None = None) -> dict[str, float]:
    """The default thresholds with the protocol's ``min_confidence`` for the model."""
    t = dict(DEFAULT_THRESHOLDS)
    if min_confidence is not None:
        t["model"] = float(min_confidence)
    return t


def combine_axis(
    candidates: Iterable[Label],
    *,
    multi: bool,
    thresholds: dict[str, float] | None = None,
) -> list[Label]:
    """Apply the policy to one work's candidate labels on one axis.

    Parameters
    ----------
    candidates : iterable of Label
        All candidates (any methods) for one work and one axis. Human labels are the
        current human state (see ``store_io.current_labels``): ``status`` ``"corrected"``
        for the values of the latest correction, ``"confirmed"`` for confirmations since.
    multi : bool
        Whether the axis is multi-valued.
    thresholds : dict, optional
        Method to minimum confidence (default :data:`DEFAULT_THRESHOLDS`).
    """
    t = thresholds or DEFAULT_THRESHOLDS
    by_method: dict[str, list[Label]] = {m: [] for m in ORDER}
    for lab in candidates:
        by_method.setdefault(lab.method, []).append(lab)
    human = by_method.pop("human", [])
    corrected = [lab for lab in human if lab.status != "confirmed"]
    confirmed = [lab for lab in human if lab.status == "confirmed"]
    if corrected:
        return _dedupe(corrected + confirmed)
    if confirmed and not multi:
        return [confirmed[-1]]
    chosen: list[Label] = []
    for method in ORDER[1:]:
        passing = [lab for lab in by_method.get(method, []) if lab.confidence >= t.get(method, 0.5)]
        if passing:
            passing.sort(key=lambda lab: -lab.confidence)
            chosen = passing if multi else passing[:1]
            break
    if confirmed:
        keep = {lab.value for lab in confirmed}
        chosen = confirmed + [lab for lab in chosen if lab.value not in keep]
    return _dedupe(chosen)


def _dedupe(labels: list[Label]) -> list[Label]:
    seen: set[str] = set()
    out = []
    for lab in labels:
        if lab.value not in seen:
            seen.add(lab.value)
            out.append(lab)
    return out


def combine(
    candidates: Iterable[Label],
    axes: dict[str, bool],
    *,
    thresholds: dict[str, float] | None = None,
) -> dict[str, list[Label]]:
    """Apply the policy to one work's candidates on every axis (``axes``: name -> multi)."""
    grouped: dict[str, list[Label]] = {}
    for lab in candidates:
        grouped.setdefault(lab.axis, []).append(lab)
    out: dict[str, list[Label]] = {}
    for axis, labs in grouped.items():
        res = combine_axis(labs, multi=axes.get(axis, True), thresholds=thresholds)
        if res:
            out[axis] = res
    return out
