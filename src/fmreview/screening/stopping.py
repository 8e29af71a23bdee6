"""Stopping rules: when is it safe to stop screening, and what recall does that give?

Every rule looks at the screening history — the labels (1 included, 0 excluded) in the
order the works were screened, and for each whether it was screened in the ranked phase or
drawn at random — plus the number of works in total, and answers with a :class:`StopCheck`.

Rules (``get_stopping_rule(name, **params)``; ``STOPPING_RULES`` is the registry):

``hypergeometric``
    Callaghan & Müller-Hansen (2020), *Statistical stopping criteria for automated
    screening in systematic reviews*, Systematic Reviews 9:273. After the ranked phase
    (ended here by ``switch_after`` consecutive irrelevant works, or by the reviewer), works
    are drawn **uniformly at random** from those not yet screened. H0: recall < target.
    With N works left when sampling began, n drawn and k of them relevant, and r relevant
    found in total, the smallest number of relevant works in the urn that makes H0 true is
    ``K = floor(r / target - (r - k)) + 1`` and the p-value is the hypergeometric
    ``P(X <= k | N, K, n)``. Stop when p < 1 - confidence. Because the sample is random, the
    chance of stopping with recall below target is at most 1 - confidence.
``hypergeometric_ranked``
    The same test applied, as in the authors' ``buscarpy`` code, to the last works of the
    ranked phase treated as if they were a random sample (every tail length is tried; the
    smallest p counts). Needs no random phase, but the guarantee rests on the assumption
    that the ranker puts relevant works *earlier* than chance.
``consecutive``
    Stop after ``n`` consecutive irrelevant works (a common heuristic; no guarantee).
``knee``
    Cormack & Grossman (2016), *Engineering quality and reliability in technology-assisted
    review*, SIGIR: find the knee of the gain curve (the point farthest from the line from the
    origin to the current point), and stop when the slope before the knee is at least
    ``156 - min(relevant, 150)`` times the slope after it (+1 smoothing), once at least
    ``min_screened`` works were screened.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import hypergeom

from fmreview.errors import InputError, build_by_name
from fmreview.screening.counting import CountingProcess, NegativeBinomial
from fmreview.screening.stopping_base import (
    SimStop,
    StopCheck,
    StoppingRule,
    _labels,
)
from fmreview.screening.target import QuantileBinomial, TargetMethod


def hypergeom_p(r_total: int, k: int, n: int, n_urn: int, target: float) -> float:
    """p-value of H0 'recall < target' from a random sample (Callaghan & Müller-Hansen 2020).

    Parameters
    ----------
    r_total : relevant works found in total (ranked phase + sample)
    k : relevant works in the random sample
    n : size of the random sample
    n_urn : works not yet screened when sampling began (the urn)
    target : recall target in (0, 1]
    """
    if n <= 0:
        return 1.0
    r_ranked = r_total - k
    k_tar = math.floor(r_total / target - r_ranked) + 1
    if k_tar > n_urn:
        # the urn cannot hold enough relevant works for H0: recall >= target already certain
        return 0.0
    return float(hypergeom.cdf(k, n_urn, k_tar, n))


def recall_interval(
    r_total: int, k: int, n: int, n_urn: int, confidence: float
) -> tuple[float, float, float]:
    """Recall point estimate and two one-sided ``confidence`` bounds from a random sample.

    The number of relevant works K in the urn is bounded by inverting the hypergeometric
    test: the upper bound is the largest K with ``P(X <= k) > 1 - confidence``, the lower
    bound the smallest K with ``P(X >= k) > 1 - confidence``.
    """
    r_ranked = r_total - k
    if n_urn <= 0:
        return 1.0, 1.0, 1.0  # everything screened
    if n <= 0:
        return float("nan"), 0.0, 1.0  # no sample yet: nothing is known
    alpha = 1.0 - confidence
    Ks = np.arange(k, n_urn - (n - k) + 1)
    cdf = hypergeom.cdf(k, n_urn, Ks, n)
    sf = hypergeom.sf(k - 1, n_urn, Ks, n)
    k_up = int(Ks[cdf > alpha].max()) if (cdf > alpha).any() else k
    k_low = int(Ks[sf > alpha].min()) if (sf > alpha).any() else k
    k_hat = k / n * n_urn
    denom = r_ranked + k_hat
    rec = r_total / denom if denom > 0 else 1.0
    low = r_total / (r_ranked + k_up) if (r_ranked + k_up) > 0 else 1.0
    high = r_total / (r_ranked + k_low) if (r_ranked + k_low) > 0 else 1.0
    return float(min(rec, 1.0)), float(min(low, 1.0)), float(min(high, 1.0))


class ConsecutiveIrrelevant(StoppingRule):
    """Stop after ``n`` consecutive irrelevant works (heuristic, no recall guarantee)."""

    name = "consecutive"

    def __init__(self, *, n: int = 100) -> None:
        self.n = n

    def check(self, labels: Any, n_total: int, *, random_phase: Any = None) -> StopCheck:
        lab = _labels(labels)
        ones = np.flatnonzero(lab)
        run = len(lab) - (int(ones[-1]) + 1 if len(ones) else 0)
        stop = run >= self.n or len(lab) >= n_total
        return StopCheck(
            rule=self.name,
            stop=bool(stop),
            message=f"{run} consecutive irrelevant (stop at {self.n})",
            detail={"run": run},
        )

    def first_stop(self, labels: Any, n_total: int) -> int | None:
        lab = _labels(labels)
        # position i (1-based) fires when lab[i-n:i] are all 0
        if len(lab) < self.n:
            return None
        win = np.convolve(lab, np.ones(self.n, dtype=np.int64), mode="valid")  # sums of windows
        hits = np.flatnonzero(win == 0)
        return int(hits[0] + self.n) if len(hits) else None


class Knee(StoppingRule):
    """Knee method (Cormack & Grossman 2016)."""

    name = "knee"

    def __init__(self, *, min_screened: int = 150, max_ratio: float = 156.0) -> None:
        self.min_screened = min_screened
        self.max_ratio = max_ratio

    def _ratio(self, cum: np.ndarray, s: int) -> tuple[float, int]:
        """Slope ratio at rank s (1-based) and the knee rank."""
        rel_s = float(cum[s - 1])
        if rel_s == 0:
            return 0.0, 0
        x = np.arange(1, s + 1, dtype=np.float64)
        y = cum[:s].astype(np.float64)
        # distance of (x, y) from the line through (0, 0) and (s, rel_s), up to a constant
        dist = (rel_s * x - s * y) * -1.0
        i = int(np.argmax(dist)) + 1
        rel_i = float(cum[i - 1])
        if i >= s:
            return 0.0, i
        ratio = (rel_i / i) / ((rel_s - rel_i + 1.0) / (s - i))
        return float(ratio), i

    def check(self, labels: Any, n_total: int, *, random_phase: Any = None) -> StopCheck:
        lab = _labels(labels)
        s = len(lab)
        if s == 0:
            return StopCheck(rule=self.name, stop=False, message="nothing screened yet")
        cum = np.cumsum(lab)
        ratio, knee = self._ratio(cum, s)
        need = self.max_ratio - min(float(cum[-1]), 150.0)
        stop = (s >= self.min_screened and ratio >= need) or s >= n_total
        return StopCheck(
            rule=self.name,
            stop=bool(stop),
            message=f"slope ratio {ratio:.1f} at knee {knee} (stop at {need:.0f})",
            detail={"ratio": ratio, "knee": knee, "needed": need},
        )

    def first_stop(self, labels: Any, n_total: int) -> int | None:
        lab = _labels(labels)
        cum = np.cumsum(lab)
        for s in range(max(1, self.min_screened), len(lab) + 1):
            ratio, _ = self._ratio(cum, s)
            if cum[s - 1] > 0 and ratio >= self.max_ratio - min(float(cum[s - 1]), 150.0):
                return s
        return None


class Hypergeometric(StoppingRule):
    """Callaghan & Müller-Hansen (2020) on a random sample drawn after the ranked phase."""

    name = "hypergeometric"
    needs_random_phase = True

    def __init__(
        self, *, recall: float = 0.95, confidence: float = 0.95, switch_after: int | float = 0.04
    ) -> None:
        self._keep_target(recall, confidence)
        self.switch_after = switch_after

    def switch_run(self, n_total: int) -> int:
        """Consecutive irrelevant works that end the ranked phase (a share if < 1)."""
        sa = self.switch_after
        return max(20, math.ceil(sa * n_total)) if sa < 1 else int(sa)

    def should_switch(self, labels: Any, n_total: int) -> bool:
        lab = _labels(labels)
        ones = np.flatnonzero(lab)
        run = len(lab) - (int(ones[-1]) + 1 if len(ones) else 0)
        return bool(len(ones) > 0 and run >= self.switch_run(n_total))

    def check(self, labels: Any, n_total: int, *, random_phase: Any = None) -> StopCheck:
        lab = _labels(labels)
        rp = (
            np.zeros(len(lab), dtype=bool)
            if random_phase is None
            else np.asarray(random_phase, dtype=bool)
        )
        if len(rp) != len(lab):
            raise InputError("random_phase must flag every screened work")
        start = int(np.argmax(rp)) if rp.any() else len(lab)
        if rp.any() and not rp[start:].all():
            raise InputError("the random phase must come after the ranked phase, without gaps")
        r_total = int(lab.sum())
        n_urn = n_total - start
        n = len(lab) - start
        k = int(lab[start:].sum())
        if n == 0:
            switch = self.should_switch(lab, n_total)
            return StopCheck(
                rule=self.name,
                stop=len(lab) >= n_total,
                phase="ranked",
                message=(
                    "ranked phase over: draw works at random now"
                    if switch
                    else f"ranked phase (random sampling starts after {self.switch_run(n_total)} "
                    "consecutive irrelevant works)"
                ),
                detail={"switch": switch, "relevant": r_total},
            )
        p = hypergeom_p(r_total, k, n, n_urn, self.recall)
        rec, low, high = recall_interval(r_total, k, n, n_urn, self.confidence)
        stop = p < 1 - self.confidence or len(lab) >= n_total
        return StopCheck(
            rule=self.name,
            stop=bool(stop),
            recall=rec,
            recall_low=low,
            recall_high=high,
            p_value=p,
            phase="random",
            message=(
                f"random sample {n} of {n_urn}, {k} relevant; p = {p:.3g} for recall < "
                f"{self.recall:.0%} (stop below {1 - self.confidence:.2g})"
            ),
            detail={"sample": n, "urn": n_urn, "sample_relevant": k, "relevant": r_total},
        )

    def simulate(self, ranked_labels: Any, rng: np.random.Generator) -> SimStop:
        lab = _labels(ranked_labels)
        N = len(lab)
        ones = np.flatnonzero(lab)
        run = self.switch_run(N)
        # ranked phase: ends at the first position after >= `run` consecutive irrelevant
        switch = N
        if len(ones):
            gaps_end = np.append(ones[1:], N)  # next relevant position after each relevant
            for o, nxt in zip(ones, gaps_end, strict=True):
                if nxt - o - 1 >= run:
                    switch = int(o + 1 + run)
                    break
        if switch >= N:
            return SimStop(screened=N, found=int(lab.sum()), stopped=False)
        r_ranked = int(lab[:switch].sum())
        urn = rng.permutation(lab[switch:])
        n_urn = len(urn)
        # the p-value after every draw at once (same formula as hypergeom_p, vectorised)
        k = np.cumsum(urn)
        n = np.arange(1, n_urn + 1)
        k_tar = np.floor((r_ranked + k) / self.recall - r_ranked) + 1
        p = np.where(k_tar > n_urn, 0.0, hypergeom.cdf(k, n_urn, np.minimum(k_tar, n_urn), n))
        hit = np.flatnonzero(p < 1 - self.confidence)
        if len(hit):
            i = int(hit[0])
            return SimStop(screened=switch + i + 1, found=r_ranked + int(k[i]), stopped=True)
        return SimStop(screened=N, found=int(lab.sum()), stopped=False)


class HypergeometricRanked(StoppingRule):
    """The hypergeometric test on the tail of the ranked phase (buscarpy's variant)."""

    name = "hypergeometric_ranked"

    def __init__(
        self, *, recall: float = 0.95, confidence: float = 0.95, min_screened: int = 1
    ) -> None:
        self.recall = recall
        self.confidence = confidence
        self.min_screened = min_screened

    def p_value(self, lab: np.ndarray, n_total: int) -> float:
        s = len(lab)
        r = int(lab.sum())
        if s == 0 or r == 0:
            return 1.0
        # Tails ending where the next work back is relevant are the only candidates for
        # the minimum: within a run of constant k, a longer tail gives a smaller p.
        rev = lab[::-1]
        ones = np.flatnonzero(rev)
        cand = np.unique(np.append(ones, s))  # tail lengths n = position of next relevant
        cand = cand[cand > 0]
        k = np.cumsum(rev)[cand - 1]  # relevant works within the tail of length n
        n_urn = n_total - s + cand
        k_tar = np.floor(r / self.recall - (r - k)) + 1
        ok = k_tar <= n_urn
        if not ok.all():
            return 0.0
        p = hypergeom.cdf(k, n_urn, k_tar, cand)
        return float(p.min())

    def check(self, labels: Any, n_total: int, *, random_phase: Any = None) -> StopCheck:
        lab = _labels(labels)
        p = self.p_value(lab, n_total)
        stop = (len(lab) >= self.min_screened and p < 1 - self.confidence) or len(lab) >= n_total
        return StopCheck(
            rule=self.name,
            stop=bool(stop),
            p_value=p,
            message=f"p = {p:.3g} for recall < {self.recall:.0%} (tail as quasi-random sample)",
        )

    def first_stop(self, labels: Any, n_total: int) -> int | None:
        """The first number screened at which :meth:`p_value` falls below 1 − confidence.

        The same stop as calling :meth:`p_value` after every work, found with far fewer
        p-values: between two relevant works every candidate tail keeps its k, its urn
        (N − s + n) and its k_tar while its length n grows with s, so each tail's p (a
        hypergeometric cdf in n) and their minimum only fall. So the last point of each
        run of irrelevant works is tested first, and the first run whose end passes is
        bisected. On cohen_2006 (2,544 works) that is about 2,000 p-values instead of
        about 80,000 (2 s to 0.05 s); tests/test_screening_stopping.py checks the stops
        against the point-by-point scan.
        """
        lab = _labels(labels)
        alpha = 1 - self.confidence
        found = np.cumsum(lab)
        # points worth testing: not right after a relevant work (the shortest tail has
        # k=1 and p rises) and with at least one relevant work found
        s_all = np.arange(max(1, self.min_screened), len(lab) + 1)
        s_all = s_all[(lab[s_all - 1] == 0) & (found[s_all - 1] > 0)]
        if len(s_all) == 0:
            return None
        # runs between relevant works: same number found; the last point of each
        run_of = found[s_all - 1]
        last = np.flatnonzero(np.append(run_of[1:] != run_of[:-1], True))
        passed = np.flatnonzero(self._min_p(lab, n_total, s_all[last]) < alpha)
        if len(passed) == 0:
            return None
        run = s_all[run_of == run_of[last[passed[0]]]]
        lo, hi = 0, len(run) - 1  # the run's first passing point, by bisection
        while lo < hi:
            mid = (lo + hi) // 2
            if self._min_p(lab, n_total, run[mid : mid + 1])[0] < alpha:
                hi = mid
            else:
                lo = mid + 1
        return int(run[lo])

    def _min_p(self, lab: np.ndarray, n_total: int, ss: np.ndarray) -> np.ndarray:
        """:meth:`p_value` after each of the first ``ss`` works (each with a relevant one
        found and an irrelevant one last), in one vectorised ``hypergeom.cdf`` call."""
        rel = np.flatnonzero(lab)
        r = np.cumsum(lab)[ss - 1]
        # tails for point s: length s - 1 - j for each relevant j < s, then s itself
        first = np.cumsum(r + 1) - (r + 1)
        seg = np.repeat(np.arange(len(ss)), r + 1)
        within = np.arange(len(seg)) - first[seg]
        is_all = within == r[seg]
        j = rel[np.minimum(within, len(rel) - 1)]
        s_rep = ss[seg]
        n = np.where(is_all, s_rep, s_rep - 1 - j)
        # relevant works inside the tail: those after j (all r for the whole run)
        k = np.where(is_all, r[seg], r[seg] - 1 - within)
        n_urn = n_total - s_rep + n
        r_rep = r[seg].astype(np.float64)
        k_tar = np.floor(r_rep / self.recall - (r_rep - k)) + 1
        p_min = np.minimum.reduceat(hypergeom.cdf(k, n_urn, k_tar, n), first)
        # an urn too small for H0 to hold: recall >= target certain, p = 0 (as p_value)
        certain = np.zeros(len(ss), dtype=bool)
        np.logical_or.at(certain, seg, k_tar > n_urn)
        return np.where(certain, 0.0, p_min)


STOPPING_RULES: dict[str, type[StoppingRule]] = {
    "hypergeometric": Hypergeometric,
    "hypergeometric_ranked": HypergeometricRanked,
    "consecutive": ConsecutiveIrrelevant,
    "knee": Knee,
    "poisson_process": CountingProcess,
    "negbin": NegativeBinomial,
    "target": TargetMethod,
    "qbcb": QuantileBinomial,
}


def get_stopping_rule(name: str, **params: Any) -> StoppingRule:
    """Build a stopping rule by name; a wrong name lists the available ones."""
    return build_by_name("stopping rule", STOPPING_RULES, name, params)


def rule_from_meta(meta: dict[str, Any]) -> StoppingRule:
    return get_stopping_rule(meta["name"], **meta.get("params", {}))


# ----------------------------------------------------------------------------- estimate
@dataclass
class RecallEstimate:
    """How far screening has got: the estimate a dashboard or ``screen status`` shows.

    ``relevant_*`` bound the number of relevant works among all ``n_total`` (found ones
    included) at ``confidence``; ``recall_*`` are the matching recall bounds (the low recall
    goes with the high relevant count). ``to_target`` is the expected number of further
    works, in ranked order, until the found ones reach ``target`` of the estimated total;
    ``to_stop`` the expected number until the stopping rule would fire if the ranking goes
    on as the model expects (its confidence bound tightening as the expected relevant works
    turn up). Both are None when they cannot be said (no relevant work yet, or a random
    phase is running); ``unscreened`` counts the works not screened yet. ``method`` names the model:
    ``poisson_process`` (rate of relevant works along the ranking, see
    :mod:`fmreview.screening.counting`) or ``hypergeometric`` (from the random sample).
    """

    method: str
    screened: int
    n_total: int
    unscreened: int
    found: int
    relevant: float | None
    relevant_low: float | None
    relevant_high: float | None
    recall: float | None
    recall_low: float | None
    recall_high: float | None
    to_target: int | None
    to_stop: int | None
    target: float
    confidence: float
    stop: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recall_estimate(
    labels: Any,
    n_total: int,
    *,
    random_phase: Any = None,
    target: float = 0.95,
    confidence: float = 0.95,
) -> RecallEstimate:
    """Estimated recall, its interval and the works left to screen, from the history.

    Parameters
    ----------
    labels : 0/1 labels of the screened works, in the order they were screened
    n_total : works to screen in all (screened + not yet screened)
    random_phase : per screened work, True when it was drawn at random (the sampling phase
        of the ``hypergeometric`` rule); with a random phase the estimate comes from that
        sample, otherwise from the counting-process model of the ranked order.
    target, confidence : the recall promised and the confidence it is promised with

    ``stop`` is the matching rule's verdict (``hypergeometric`` or ``poisson_process``).
    """
    from fmreview.screening.counting import CountingProcess

    lab = _labels(labels)
    s = len(lab)
    if n_total < s:
        raise InputError(f"n_total is {n_total} but {s} works were screened; expected >= {s}")
    found = int(lab.sum())
    rp = None if random_phase is None else np.asarray(random_phase, dtype=bool)
    common: dict[str, Any] = {
        "screened": s,
        "n_total": n_total,
        "unscreened": n_total - s,
        "found": found,
        "target": target,
        "confidence": confidence,
    }
    if rp is not None and rp.any():
        chk = Hypergeometric(recall=target, confidence=confidence).check(
            lab, n_total, random_phase=rp
        )
        start = int(np.argmax(rp))
        n, k, urn = s - start, int(lab[start:].sum()), n_total - start
        r_ranked = found - k
        rec, low, high = recall_interval(found, k, n, urn, confidence)
        khat = k / n * urn if n else float("nan")
        return RecallEstimate(
            method="hypergeometric",
            relevant=r_ranked + khat,
            relevant_low=found / high if high else None,
            relevant_high=found / low if low else None,
            recall=rec,
            recall_low=low,
            recall_high=high,
            to_target=None,
            to_stop=None,
            stop=chk.stop,
            **common,
        )
    rule = CountingProcess(recall=target, confidence=confidence)
    if s >= n_total:
        return RecallEstimate(
            method=rule.name,
            relevant=found,
            relevant_low=found,
            relevant_high=found,
            recall=1.0,
            recall_low=1.0,
            recall_high=1.0,
            to_target=0,
            to_stop=0,
            stop=True,
            **common,
        )
    fit, up = rule.bound(lab, n_total)
    if fit is None:
        return RecallEstimate(
            method=rule.name,
            relevant=None,
            relevant_low=None,
            relevant_high=None,
            recall=None,
            recall_low=None,
            recall_high=None,
            to_target=None,
            to_stop=None,
            stop=False,
            **common,
        )
    total = found + fit.remaining
    # expected works until found + expected(next k) >= target * expected total
    need = target * total - found
    ahead = fit.expected_between(np.arange(0, n_total - s + 1))
    reach = np.flatnonzero(ahead >= need - 1e-9)
    chk = rule.check(lab, n_total)
    to_stop = 0 if chk.stop else _expected_stop(fit, ahead, rule, n_total - s)
    return RecallEstimate(
        method=rule.name,
        relevant=total,
        relevant_low=float(found),
        relevant_high=found + up,
        recall=found / total if total > 0 else 1.0,
        recall_low=found / (found + up) if math.isfinite(up) else 0.0,
        recall_high=1.0,
        to_target=int(reach[0]) if len(reach) else n_total - s,
        to_stop=to_stop,
        stop=chk.stop,
        **common,
    )


def _expected_stop(fit: Any, ahead: np.ndarray, rule: Any, left: int) -> int:
    """Works until the counting rule fires if the relevant works turn up as expected.

    At ``k`` more works the found count is ``found + E(k)`` and the expected remaining
    ``mu - E(k)``, inflated by the same relative parameter uncertainty as now; the first
    ``k`` (at least the rule's minimum) where the bound meets the target is returned.
    """
    from scipy.stats import norm, poisson

    mu, se = fit.remaining, fit.remaining_se
    infl = math.exp(min(float(norm.ppf(rule.confidence)) * se / mu, 50.0)) if mu > 0 else 1.0
    k = np.arange(0, left + 1)
    found = fit.found + ahead
    up = poisson.ppf(rule.confidence, np.maximum(mu - ahead, 0.0) * infl)
    ok = (found >= rule.recall * (found + up)) & (fit.screened + k >= rule.min_run(fit.n_total))
    hit = np.flatnonzero(ok)
    return int(hit[0]) if len(hit) else left
