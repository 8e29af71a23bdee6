"""Stopping rules certified by a random sample of relevant works ("targets").

``target``
    Cormack & Grossman (2016), *Engineering quality and reliability in technology-assisted
    review*, SIGIR: draw works uniformly at random until ``t`` relevant ones (the targets)
    are found, then screen by rank until every target has been met again. If the targets
    are a random sample of the relevant works, recall stays below ``recall`` only when all
    ``t`` fall in its first ``recall`` share, with chance ``recall ** t``; so ``t`` is the
    smallest number with ``recall ** t <= 1 - confidence`` (59 for 95% / 95%).
``qbcb``
    Lewis, Yang & Frieder (2021), *Certifying one-phase technology-assisted reviews*, CIKM:
    a random sample of ``sample_size`` works holds ``r`` relevant ones; the ranked screening
    stops once ``j`` of them are met, with ``j`` the smallest count whose order statistic
    certifies the recall — the recall at the ``j``-th of ``r`` uniform positions is
    Beta(j, r - j + 1), so ``j`` is the smallest with ``P(Beta(j, r-j+1) >= recall) >=
    confidence`` (the Quantile Binomial Coefficient Bound). With too few relevant works in
    the sample no ``j`` certifies and every work is screened.

Both keep their promise by design, but they need many relevant works in a random sample
(at least 59 for 95% recall with 95% confidence), so on reviews with 2-8% relevant works the
sample alone costs much of the screening; ``benchmarks/screening.py`` shows the cost.
The sample's works count as screened.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from fmreview.errors import InputError
from fmreview.screening.stopping_base import SimStop, StopCheck, StoppingRule, _labels


def targets_needed(recall: float, confidence: float) -> int:
    """Smallest ``t`` with ``recall ** t <= 1 - confidence``."""
    if recall >= 1:
        raise InputError("the target method cannot certify a recall of 1; use a value below 1")
    return math.ceil(math.log(1 - confidence) / math.log(recall) - 1e-12)


def qbcb_count(r: int, recall: float, confidence: float) -> int | None:
    """Sample positives to meet before stopping (None: ``r`` is too small to certify)."""
    for j in range(1, r + 1):
        if stats.beta.sf(recall, j, r - j + 1) >= confidence:
            return j
    return None


def _stop_after_meeting(lab: np.ndarray, sample: np.ndarray, need: int | None) -> SimStop:
    """Screen by rank until ``need`` of the sample's relevant works are met."""
    N = len(lab)
    if need is None:
        return SimStop(screened=N, found=int(lab.sum()), stopped=False)
    pos = np.sort(sample[lab[sample] == 1])  # ranks of the sample's relevant works
    cut = int(pos[need - 1]) + 1 if need > 0 else 0
    seen = np.zeros(N, dtype=bool)
    seen[:cut] = True
    seen[sample] = True
    n = int(seen.sum())
    return SimStop(screened=n, found=int(lab[seen].sum()), stopped=n < N)


class SampleFirst(StoppingRule):
    """A rule whose random sample is drawn before ranked screening.

    Only :meth:`simulate` draws that sample; a live session has none, so :meth:`check`
    stops only once every work is screened and says what the rule would need.
    """

    def needs(self, n_total: int) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def check(self, labels: Any, n_total: int, *, random_phase: Any = None) -> StopCheck:
        lab = _labels(labels)
        return StopCheck(rule=self.name, stop=len(lab) >= n_total, message=self.needs(n_total))


class TargetMethod(SampleFirst):
    """Cormack & Grossman's target method (random targets, then ranked screening)."""

    name = "target"

    def __init__(self, *, recall: float = 0.95, confidence: float = 0.95) -> None:
        self.recall = recall
        self.confidence = confidence
        targets_needed(recall, confidence)

    def needs(self, n_total: int) -> str:
        t = targets_needed(self.recall, self.confidence)
        return f"needs {t} relevant works drawn at random before ranked screening"

    def simulate(self, ranked_labels: Any, rng: np.random.Generator) -> SimStop:
        lab = _labels(ranked_labels)
        t = targets_needed(self.recall, self.confidence)
        perm = rng.permutation(len(lab))
        hits = np.flatnonzero(lab[perm])
        if len(hits) < t:
            return SimStop(screened=len(lab), found=int(lab.sum()), stopped=False)
        sample = perm[: int(hits[t - 1]) + 1]
        return _stop_after_meeting(lab, sample, t)


class QuantileBinomial(SampleFirst):
    """Lewis, Yang & Frieder's QBCB on a random sample drawn before ranked screening."""

    name = "qbcb"

    def __init__(
        self, *, recall: float = 0.95, confidence: float = 0.95, sample_size: int | float = 0.1
    ) -> None:
        self.recall = recall
        self.confidence = confidence
        self.sample_size = sample_size

    def size(self, n_total: int) -> int:
        s = self.sample_size
        return min(n_total, math.ceil(s * n_total) if s < 1 else int(s))

    def needs(self, n_total: int) -> str:
        return f"needs a random sample of {self.size(n_total)} works first"

    def simulate(self, ranked_labels: Any, rng: np.random.Generator) -> SimStop:
        lab = _labels(ranked_labels)
        sample = rng.permutation(len(lab))[: self.size(len(lab))]
        r = int(lab[sample].sum())
        return _stop_after_meeting(lab, sample, qbcb_count(r, self.recall, self.confidence))
