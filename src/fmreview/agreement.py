"""Agreement between screeners: Cohen's kappa per reviewer pair, and Gwet's AC1, Fleiss'
kappa and Krippendorff's alpha over all reviewers, each with a confidence interval.

Active learning and dual screening make overlap partial: not every reviewer sees every
work. We therefore compute

- **Cohen's kappa per pair** on exactly the works *both* reviewers screened (their latest
  votes), with the large-sample standard error of Fleiss, Cohen & Everitt (1969) as
  implemented by ``statsmodels.stats.inter_rater.cohens_kappa``;
- **Gwet's AC1, Fleiss' kappa and Krippendorff's alpha** over every work with at least two
  votes, using the missing-rating formulas of Gwet (2014) (AC1 and Fleiss are written here:
  ten lines each, and the package that implements them, irrCAC, pins scipy to 1.12) and the
  ``krippendorff`` package, so works seen by only some reviewers still count.

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
            sa.select(d.c.work_id, d.c.reviewer, d.c.label)
            .where(d.c.stage == stage)
            .order_by(d.c.id)
        ):
            if label == "undo":  # a withdrawn vote is no vote
                latest.pop((wid, reviewer), None)
            else:
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


def _chance_corrected(counts: np.ndarray, method: str) -> float | None:
    """Fleiss' kappa or Gwet's AC1 from a works x categories count matrix (missing allowed).

    Gwet (2014), *Handbook of Inter-Rater Reliability*, ch. 2 and 4: observed agreement over
    works with at least two ratings; category propensities over every rated work.
    """
    r = counts.sum(axis=1)
    rated = r >= 1
    multi = r >= 2
    if multi.sum() == 0:
        return None
    cm, rm = counts[multi], r[multi]
    pa = float(np.mean((cm * (cm - 1)).sum(axis=1) / (rm * (rm - 1))))
    pi = (counts[rated] / r[rated, None]).mean(axis=0)
    q = counts.shape[1]
    pe = float((pi**2).sum()) if method == "fleiss" else float((pi * (1 - pi)).sum() / (q - 1))
    if math.isclose(pe, 1.0):
        return None
    return (pa - pe) / (1 - pe)


def _krippendorff(counts: np.ndarray) -> float | None:
    """Krippendorff's nominal alpha from a works x categories count matrix.

    Written from the coincidence matrix (Krippendorff 2011, "Computing Krippendorff's
    alpha-reliability") because the bootstrap evaluates it a thousand times and the
    ``krippendorff`` package costs ~25 ms a call; the tests check it against that package.
    """
    m = counts.sum(axis=1)
    keep = m >= 2
    c, m = counts[keep], m[keep]
    if len(c) == 0:
        return None
    # o[c, k] = sum_u r_uc (r_uk - [c == k]) / (m_u - 1)
    o = np.einsum("uc,uk->ck", c / (m - 1)[:, None], c) - np.diag(
        (c / (m - 1)[:, None]).sum(axis=0)
    )
    n_c = o.sum(axis=1)
    n = n_c.sum()
    expected = n * n - (n_c**2).sum()
    if expected <= 0:
        return None
    observed = o.sum() - np.trace(o)
    return float(1 - (n - 1) * observed / expected)


def multi_rater(
    frame: pd.DataFrame, *, alpha: float = 0.05, n_boot: int = 1000, random_state: int = 0
) -> list[Coefficient]:
    """Gwet's AC1, Fleiss' kappa and Krippendorff's alpha over works with >= 2 votes.

    Missing votes are allowed (partial overlap). Confidence intervals are percentile
    bootstrap intervals over works (``n_boot`` resamples from one generator seeded with
    ``random_state``): simpler than Gwet's linearised variances and valid for every
    coefficient alike. Krippendorff's alpha comes from the ``krippendorff`` package.
    """
    names = {
        "gwet": "Gwet's AC1",
        "fleiss": "Fleiss' kappa",
        "krippendorff": "Krippendorff's alpha",
    }
    if frame.empty or frame.shape[1] < 2:
        return []
    # Propensities use every rated work; observed agreement only works with >= 2 votes.
    rated = frame[frame.notna().sum(axis=1) >= 1]
    n = int((rated.notna().sum(axis=1) >= 2).sum())
    if n == 0:
        return [
            Coefficient(v, None, None, None, None, 0, "no work has two votes")
            for v in names.values()
        ]
    counts = np.stack([(rated == c).sum(axis=1).to_numpy() for c in CATEGORIES], axis=1).astype(
        float
    )
    if (counts.sum(axis=0) > 0).sum() < 2:
        return [
            Coefficient(v, None, None, None, None, n, "only one category used")
            for v in names.values()
        ]

    def estimate(idx: np.ndarray) -> dict[str, float | None]:
        return {
            "gwet": _chance_corrected(counts[idx], "gwet"),
            "fleiss": _chance_corrected(counts[idx], "fleiss"),
            "krippendorff": _krippendorff(counts[idx]),
        }

    point = estimate(np.arange(len(rated)))
    rng = np.random.default_rng(random_state)
    boots: dict[str, list[float]] = {k: [] for k in names}
    m = len(rated)
    for _ in range(n_boot if n >= 2 else 0):
        for k, v in estimate(rng.integers(0, m, m)).items():
            if v is not None and math.isfinite(v):
                boots[k].append(v)
    out = []
    for k, label in names.items():
        b = np.asarray(boots[k])
        if point[k] is None or len(b) < 10:
            out.append(
                Coefficient(
                    label, _finite(point[k]), None, None, None, n, "no interval: too few works"
                )
            )
            continue
        lo, hi = np.quantile(b, [alpha / 2, 1 - alpha / 2])
        out.append(
            Coefficient(
                label,
                _finite(point[k]),
                float(b.std(ddof=1)),
                float(lo),
                float(hi),
                n,
                "" if n >= 10 else f"only {n} works: interpret with care",
            )
        )
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
