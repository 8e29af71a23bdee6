"""The label counts every output prints, computed in one place.

The run summary (``fmreview extract`` / ``fmreview run``), the methods text, the
limitations and the report's coverage notes all say how many labels the review holds. They
used to count three different things (current labels, every stored candidate row, distinct
rows of included works) and printed 4,042, 10,486 and 6,688 for one review. Here a *label*
is one current value of one axis of one work, as :func:`fmreview.extract.store_io.current_labels`
resolves the append-only history (human > list > LLM > rule > model, above the confidence
threshold) — the same function the extraction stage counts with. Stored candidate rows
(every method's proposal, below-threshold ones included) are reported separately and named
as such.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa

from fmreview.store import schema

#: Evidence kinds in the order the report lists them.
EVIDENCE_KINDS = ("human", "list", "llm", "rule", "model")
#: What each kind means, for captions and the methods text.
EVIDENCE_TEXT = {
    "human": "confirmed or corrected by a person",
    "list": "given by the curated source lists",
    "llm": "proposed by a language model",
    "rule": "matched by a rule (text span)",
    "model": "predicted by the trained classifier",
}


def evidence_kind(method: Any, status: Any) -> str:
    """The kind of evidence behind one current label (``human`` for any confirmed label)."""
    m = str(method or "")
    if m == "human" or str(status or "") in ("confirmed", "corrected"):
        return "human"
    return m or "unknown"


def current_label_frame(store: Any, *, work_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Current labels with an ``evidence`` kind column: ``work_id, axis, value, method, kind``."""
    try:
        from fmreview.extract.store_io import current_labels
    except ModuleNotFoundError:  # the extraction stage is an optional part
        from fmreview.analysis_store import label_frame

        df = label_frame(store)
        if work_ids is not None:
            df = df[df["work_id"].isin(set(work_ids))]
        df = df.assign(status=None)
    else:
        df = current_labels(store, work_ids=work_ids)
    cols = ["work_id", "axis", "value", "method", "status"]
    if not len(df):
        return pd.DataFrame(columns=[*cols, "kind"])
    df = df[[c for c in cols if c in df.columns]].copy()
    df["kind"] = [evidence_kind(m, s) for m, s in zip(df["method"], df["status"], strict=True)]
    return df.reset_index(drop=True)


@dataclass
class LabelNumbers:
    """How many labels the review holds, for all works and for the included studies."""

    works: int = 0  # active works (studies after dedupe)
    works_labelled: int = 0
    labels: int = 0  # current labels of every work (what the extraction stage prints)
    by_kind: dict[str, int] = field(default_factory=dict)
    included: int = 0  # included studies
    included_labelled: int = 0
    included_labels: int = 0
    included_by_kind: dict[str, int] = field(default_factory=dict)
    rows_stored: int = 0  # every label row kept for audit (candidates, below threshold, history)

    @property
    def automatic(self) -> int:
        return sum(v for k, v in self.by_kind.items() if k in ("rule", "model", "llm"))

    @property
    def included_automatic(self) -> int:
        return sum(v for k, v in self.included_by_kind.items() if k in ("rule", "model", "llm"))

    def kinds_text(self, *, included: bool = False) -> str:
        """'list 1,656, rule 1,210, model 1,176' (kinds with at least one label)."""
        by = self.included_by_kind if included else self.by_kind
        return ", ".join(f"{k} {by[k]:,}" for k in EVIDENCE_KINDS if by.get(k))

    def as_dict(self) -> dict[str, Any]:
        return {
            "works": self.works,
            "works_labelled": self.works_labelled,
            "labels": self.labels,
            "by_kind": dict(self.by_kind),
            "included": self.included,
            "included_labelled": self.included_labelled,
            "included_labels": self.included_labels,
            "included_by_kind": dict(self.included_by_kind),
            "rows_stored": self.rows_stored,
        }


def label_numbers(
    store: Any,
    *,
    included: Iterable[int] | None = None,
    frame: pd.DataFrame | None = None,
) -> LabelNumbers:
    """The label counts of a review (see the module docstring).

    ``included`` are the included work ids (computed from the decisions when omitted);
    ``frame`` a :func:`current_label_frame` already computed, to avoid resolving twice.
    """
    if included is None:
        from fmreview.status import work_statuses

        included = [w for w, s in work_statuses(store).items() if s.status == "included"]
    inc = set(int(i) for i in included)
    df = frame if frame is not None else current_label_frame(store)
    w = schema.works
    with store.connect() as conn:
        n_works = int(
            conn.execute(
                sa.select(sa.func.count()).select_from(w).where(w.c.merged_into.is_(None))
            ).scalar_one()
        )
        rows = int(conn.execute(sa.select(sa.func.count()).select_from(schema.labels)).scalar_one())
    n = LabelNumbers(works=n_works, included=len(inc), rows_stored=rows)
    if len(df):
        n.labels = len(df)
        n.works_labelled = int(df["work_id"].nunique())
        n.by_kind = dict(Counter(df["kind"]))
        sub = df[df["work_id"].isin(inc)]
        n.included_labels = len(sub)
        n.included_labelled = int(sub["work_id"].nunique())
        n.included_by_kind = dict(Counter(sub["kind"]))
    return n
