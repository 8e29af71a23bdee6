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
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from fmreview.extract.store_io import current_labels
from fmreview.report.tables import pct as _pct
from fmreview.store import schema

if TYPE_CHECKING:
    from fmreview.store import Store

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


def current_label_frame(store: Store, *, work_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Current labels with an ``evidence`` kind column: ``work_id, axis, value, method, kind``."""
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
        return asdict(self)


def label_numbers(
    store: Store,
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


#: Below this share of labelled included studies a table or figure is flagged prominently
#: (the threshold issue #18 names; a reading rule, not a fitted parameter).
LOW_COVERAGE = 0.20


@dataclass
class AxisCoverage:
    """How much of the review one axis' tables and figures speak for, and on what evidence."""

    axis: str
    n_labelled: int  # included studies with at least one value on the axis
    n_included: int
    by_kind: dict[str, int] = field(default_factory=dict)  # labels per evidence kind

    @property
    def share(self) -> float:
        return self.n_labelled / self.n_included if self.n_included else 0.0

    @property
    def low(self) -> bool:
        return self.share < LOW_COVERAGE

    def evidence_text(self) -> str:
        total = sum(self.by_kind.values())
        if not total:
            return "no labels"
        return ", ".join(
            f"{k} {self.by_kind[k] / total:.0%}"
            for k in sorted(self.by_kind, key=lambda k: (-self.by_kind[k], k))
        )

    def text(self, what: str = "") -> str:
        """'Coverage: 111 of 747 included studies labelled (15%); evidence: rule 60%, ...'."""
        head = "Low coverage" if self.low else "Coverage"
        s = (
            f"{head}{' of ' + what if what else ''}: {self.n_labelled:,} of "
            f"{self.n_included:,} included studies labelled ({_pct(self.share)}); "
            f"evidence: {self.evidence_text()}."
        )
        if self.low:
            s += (
                f" Under {LOW_COVERAGE:.0%}: the numbers describe the few labelled studies, "
                "not the review; do not read them as findings."
            )
        return s

    def as_dict(self, what: str = "") -> dict[str, Any]:
        return {
            "axis": self.axis,
            "n_labelled": self.n_labelled,
            "n_included": self.n_included,
            "share": self.share,
            "low": self.low,
            "evidence": dict(self.by_kind),
            "text": self.text(what),
        }


def axis_coverage(frame: pd.DataFrame, included: Iterable[int]) -> dict[str, AxisCoverage]:
    """Coverage and evidence kinds of every axis over the included studies."""
    inc = {int(i) for i in included}
    out: dict[str, AxisCoverage] = {}
    if not len(frame):
        return out
    sub = frame[frame["work_id"].isin(inc)]
    for axis, grp in sub.groupby("axis", sort=True):
        out[str(axis)] = AxisCoverage(
            str(axis),
            int(grp["work_id"].nunique()),
            len(inc),
            dict(Counter(str(k) for k in grp["kind"])),
        )
    return out


def combined_coverage(
    frame: pd.DataFrame, included: Iterable[int], axes: Iterable[str], label: str
) -> AxisCoverage:
    """Coverage of studies labelled on *every* one of ``axes`` (e.g. a co-occurrence map)."""
    inc = {int(i) for i in included}
    axes = list(axes)
    if not len(frame) or not axes:
        return AxisCoverage(label, 0, len(inc))
    sub = frame[frame["work_id"].isin(inc) & frame["axis"].isin(axes)]
    per = sub.groupby("work_id")["axis"].nunique()
    both = set(per[per == len(set(axes))].index)
    kinds = Counter(str(k) for k in sub[sub["work_id"].isin(both)]["kind"])
    return AxisCoverage(label, len(both), len(inc), dict(kinds))
