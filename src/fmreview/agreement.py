"""Agreement between screeners: Cohen's kappa per reviewer pair, and Gwet's AC1, Fleiss'
kappa and Krippendorff's alpha over all reviewers, each with a confidence interval.

Active learning and dual screening make overlap partial: not every reviewer sees every
work. We therefore compute

- **Cohen's kappa per pair** on exactly the works *both* reviewers screened (their latest
  votes), with the large-sample standard error of Fleiss, Cohen & Everitt (1969) as
  implemented by ``statsmodels.stats.inter_rater.cohens_kappa``;
- **Gwet's AC1, Fleiss' kappa and Krippendorff's alpha** over every work with at least two
  votes, using the missing-rating formulas of Gwet (2014) as implemented by ``irrCAC``
  (a port of Gwet's R package), so works seen by only some reviewers still count.

Votes are dichotomised: ``maybe`` counts with ``include`` (both move a work on to the next
stage), ``exclude`` is the other category. That is what a conflict means in
:mod:`fmreview.status`, so the statistics describe the disagreements reviewers resolve.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from fmreview.store import schema

CATEGORIES = ("exclude", "include")


def _binary(label: str) -> str:
    return "exclude" if label == "exclude" else "include"


def votes_frame(store: Any, stage: str = "title_abstract") -> pd.DataFrame:
    """Works × reviewers: each reviewer's latest vote (``include``/``exclude``), NaN if none."""
    d = schema.decisions
    latest: dict[tuple[int, str], str] = {}
    with store.connect() as conn:
        for wid, reviewer, label in conn.execute(
            sa.select(d.c.work_id, d.c.reviewer, d.c.label).where(d.c.stage == stage).order_by(d.c.id)
        ):
            latest[(wid, reviewer)] = _binary(label)
    if not latest:
        return pd.DataFrame()
    s = pd.Series(latest)
    s.index = pd.MultiIndex.from_tuples(s.index, names=["work_id", "reviewer"])
    return s.unstack("reviewer").sort_index()


@dataclass
class PairAgreement:
    reviewer_a: str
    reviewer_b: str
    n_both: int
    observed: float | None
    kappa: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Coefficient:
    name: str
    value: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    n_works: int
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def cohen_pair(a: pd.Series, b: pd.Series, *, alpha: float = 0.05) -> PairAgreement:
    """Cohen's kappa of two reviewers on the works both screened."""
    from statsmodels.stats.inter_rater import cohens_kappa

    both = a.notna() & b.notna()
    n = int(both.sum())
    pa = PairAgreement(str(a.name), str(b.name), n, None, None, None, None, None)
    if n == 0:
        pa.note = "no work screened by both"
        return pa
    table = np.zeros((2, 2))
    for x, y in zip(a[both], b[both], strict=True):
        table[CATEGORIES.index(x), CATEGORIES.index(y)] += 1
    pa.observed = float(np.trace(table) / n)
    pe = float((table.sum(0) * table.sum(1)).sum() / n**2)
    if math.isclose(pe, 1.0):
        pa.note = "kappa undefined: both reviewers used one category only"
        return pa
    from scipy.stats import norm

    res = cohens_kappa(table)
    pa.kappa = _finite(res.kappa)
    pa.se = _finite(res.std_kappa)
    if pa.kappa is not None and pa.se is not None:
        z = float(norm.ppf(1 - alpha / 2))  # statsmodels fixes 95 %; we honour ``alpha``
        pa.ci_low, pa.ci_high = pa.kappa - z * pa.se, min(1.0, pa.kappa + z * pa.se)
    if n < 10:
        pa.note = f"only {n} works in common: interpret with care"
    return pa


def multi_rater(frame: pd.DataFrame, *, alpha: float = 0.05) -> list[Coefficient]:
    """Gwet's AC1, Fleiss' kappa and Krippendorff's alpha over works with >= 2 votes."""
    from irrCAC.raw import CAC

    if frame.empty or frame.shape[1] < 2:
        return []
    rated = frame[frame.notna().sum(axis=1) >= 2]
    n = len(rated)
    names = {"gwet": "Gwet's AC1", "fleiss": "Fleiss' kappa", "krippendorff": "Krippendorff's alpha"}
    if n == 0:
        return [Coefficient(v, None, None, None, None, 0, "no work has two votes") for v in names.values()]
    values = sorted(set(rated.stack().unique()))
    if len(values) < 2:
        return [Coefficient(v, None, None, None, None, n, "only one category used") for v in names.values()]
    cac = CAC(rated.astype(object).where(rated.notna(), None), confidence_level=1 - alpha)
    out = []
    for method, label in names.items():
        est = getattr(cac, method)()["est"]
        lo, hi = est.get("confidence_interval", (None, None))
        out.append(Coefficient(label, _finite(est["coefficient_value"]), _finite(est.get("se")),
                               _finite(lo), _finite(hi), n))
    return out


@dataclass
class AgreementReport:
    stage: str
    reviewers: list[str]
    n_works: int
    pairs: list[PairAgreement]
    overall: list[Coefficient]
    method: str = __doc__.split("\n\n")[0] if __doc__ else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "reviewers": self.reviewers,
            "n_works": self.n_works,
            "pairs": [p.as_dict() for p in self.pairs],
            "overall": [c.as_dict() for c in self.overall],
            "overlap": "Cohen's kappa per pair on works both screened; multi-rater coefficients "
            "on every work with at least two votes (missing votes allowed); maybe counts as include.",
        }


def agreement(store: Any, stage: str = "title_abstract", *, alpha: float = 0.05) -> AgreementReport:
    """Agreement of the reviewers who screened ``stage``."""
    frame = votes_frame(store, stage)
    reviewers = [str(c) for c in frame.columns] if not frame.empty else []
    pairs = [cohen_pair(frame[a], frame[b], alpha=alpha) for a, b in combinations(reviewers, 2)]
    return AgreementReport(stage, reviewers, len(frame), pairs, multi_rater(frame, alpha=alpha))
