"""Counting-process stopping rules: model the rate at which relevant works turn up.

Sneyd & Stevenson (2021), *Modelling stopping criteria for search results using Poisson
processes*, EMNLP, treat the relevant works found along a ranking as a Poisson process whose
rate falls as the ranking goes on. Fitting the rate to the part screened so far and
integrating it over the part not screened gives the expected number of relevant works
still unscreened, ``mu``; a quantile of its predictive distribution bounds it, and
screening may stop once the relevant works found are at least ``recall`` times the
relevant works found plus that bound.

The rate here is exponential, ``lambda(x) = exp(a + b x)`` at rank ``x`` (the form their
paper found to fit the gain curves of rankings best together with the hyperbolic one),
fitted by maximum likelihood on the 0/1 sequence of screened works. Two predictive
distributions are offered:

``poisson_process``
    The published rule with parameter uncertainty: the upper ``confidence`` bound of
    ``mu`` from the fit's Fisher information (delta method on log ``mu``), then the
    ``confidence`` quantile of a Poisson with that mean. With the point estimate of ``mu``
    alone (``parameter_uncertainty = False``, their original rule) it stopped before 95%
    recall in a third of the benchmark runs; with it, in none (``benchmarks/screening.py``).
``negbin``
    The number still unscreened as a gamma mixture of Poissons, i.e. negative binomial with
    mean ``mu`` and variance ``mu + se(mu)^2`` — the over-dispersed count model SWIFT-Active
    Screener (Howard et al. 2020, *Environment International* 138:105623) uses for its
    recall estimate, applied here to the fitted rate rather than to classifier
    probabilities.

Neither is a sampling guarantee like the hypergeometric test's: the promise holds as far as
the rate keeps falling the way it fell so far. They need no random phase, so every work a
reviewer screens is one the ranker chose.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from fmreview.screening.stopping_base import StopCheck, StoppingRule, _labels

#: Slope bound (per screened-so-far span) of the exponential rate: beyond it the fit is
#: degenerate (every relevant work at the very start or the very end) and clipped.
_B_MAX = 60.0


@dataclass
class RateFit:
    """An exponential rate fitted to the first ``screened`` works of a ranking.

    ``remaining`` is the expected number of relevant works among ranks ``screened + 1 ..
    n_total`` and ``remaining_se`` its standard error (delta method); ``cumulative(k)`` is
    the expected number among ranks ``screened + 1 .. screened + k``.
    """

    a: float
    b: float
    screened: int
    n_total: int
    found: int
    remaining: float
    remaining_se: float

    def expected_between(self, k: np.ndarray) -> np.ndarray:
        """Expected relevant works among the next ``k`` ranks (vectorised over ``k``)."""
        x = np.arange(self.screened + 1, self.n_total + 1, dtype=np.float64) / self.screened
        cum = np.concatenate([[0.0], np.cumsum(np.exp(self.a + self.b * x))])
        return np.asarray(cum[np.clip(k, 0, len(cum) - 1)], dtype=np.float64)


def fit_rate(labels: Any, n_total: int) -> RateFit | None:
    """Maximum-likelihood exponential rate of relevant works along the screened ranking.

    Ranks are scaled by the number screened (``x = rank / screened``) so the slope is
    comparable at every point. Returns None before the first relevant work. The slope
    solves the likelihood equation (mean rank of the relevant works = rate-weighted mean
    rank), which is monotone in it, by Brent's method.
    """
    lab = _labels(labels)
    s = len(lab)
    r = int(lab.sum())
    if r == 0 or s == 0:
        return None
    x = np.arange(1, s + 1, dtype=np.float64) / s
    xbar = float(lab @ x) / r

    def excess(b: float) -> float:
        w = np.exp(b * (x - 1.0))  # shifted for overflow safety; cancels in the mean
        return float(w @ x / w.sum()) - xbar

    lo, hi = excess(-_B_MAX), excess(_B_MAX)
    if lo >= 0:
        b = -_B_MAX
    elif hi <= 0:
        b = _B_MAX
    else:
        b = float(optimize.brentq(excess, -_B_MAX, _B_MAX, xtol=1e-8))
    lam_obs = np.exp(b * x)
    a = math.log(r / float(lam_obs.sum()))
    lam_obs *= math.exp(a)
    xr = np.arange(s + 1, n_total + 1, dtype=np.float64) / s
    lam_rem = np.exp(a + b * xr)
    mu = float(lam_rem.sum())
    fisher = np.array(
        [
            [lam_obs.sum(), lam_obs @ x],
            [lam_obs @ x, lam_obs @ (x * x)],
        ]
    )
    grad = np.array([mu, float(lam_rem @ xr)])
    try:
        var = float(grad @ np.linalg.solve(fisher, grad))
    except np.linalg.LinAlgError:
        var = float("inf")
    return RateFit(
        a=a,
        b=b,
        screened=s,
        n_total=n_total,
        found=r,
        remaining=mu,
        remaining_se=math.sqrt(max(var, 0.0)),
    )


def remaining_bound(
    fit: RateFit, confidence: float, *, dispersion: str, parameter_uncertainty: bool = True
) -> float:
    """Upper ``confidence`` bound on the relevant works not yet screened."""
    mu, se = fit.remaining, fit.remaining_se
    if fit.screened >= fit.n_total:
        return 0.0
    if dispersion == "poisson":
        if parameter_uncertainty and mu > 0:
            z = float(stats.norm.ppf(confidence))
            mu = mu * math.exp(min(z * se / mu, 50.0))
        return float(stats.poisson.ppf(confidence, mu)) if math.isfinite(mu) else math.inf
    # negative binomial: gamma(shape n, mean mu) mixture of Poissons, var = mu + se^2
    if not math.isfinite(se):
        return math.inf
    if se <= 0 or mu <= 0:
        return float(stats.poisson.ppf(confidence, mu))
    n = mu * mu / (se * se)
    return float(stats.nbinom.ppf(confidence, n, n / (n + mu)))


class CountingProcess(StoppingRule):
    """Stop when found >= recall x (found + upper bound on the relevant works left)."""

    name = "poisson_process"
    dispersion = "poisson"
    #: Widen ``mu`` by the fit's own uncertainty (False: the published point-estimate rule,
    #: which stopped short of 95% recall in a third of the benchmark runs). A class
    #: attribute, not a parameter: every parameter is a number a protocol can set.
    parameter_uncertainty = True

    def __init__(
        self,
        *,
        recall: float = 0.95,
        confidence: float = 0.95,
        min_screened: int | float = 0.05,
    ) -> None:
        self._keep_target(recall, confidence)
        self.min_screened = min_screened

    def min_run(self, n_total: int) -> int:
        """Works to screen before the rate is fitted (a share of all works if < 1).

        The default, 5% but at least 20 works, is a fixed floor so the fit has data; it was
        not tuned.
        """
        m = self.min_screened
        return max(20, math.ceil(m * n_total)) if m < 1 else int(m)

    def bound(self, labels: Any, n_total: int) -> tuple[RateFit | None, float]:
        fit = fit_rate(labels, n_total)
        if fit is None:
            return None, math.inf
        return fit, remaining_bound(
            fit,
            self.confidence,
            dispersion=self.dispersion,
            parameter_uncertainty=self.parameter_uncertainty,
        )

    def check(self, labels: Any, n_total: int, *, random_phase: Any = None) -> StopCheck:
        lab = _labels(labels)
        s = len(lab)
        found = int(lab.sum())
        if s >= n_total:
            return StopCheck(
                rule=self.name,
                stop=True,
                recall=1.0,
                recall_low=1.0,
                recall_high=1.0,
                message="every work screened",
            )
        fit, up = self.bound(lab, n_total)
        if fit is None:
            return StopCheck(rule=self.name, stop=False, message="no relevant work found yet")
        low = found / (found + up) if math.isfinite(up) else 0.0
        est = found / (found + fit.remaining)
        stop = s >= self.min_run(n_total) and low >= self.recall
        return StopCheck(
            rule=self.name,
            stop=bool(stop),
            recall=est,
            recall_low=low,
            recall_high=1.0,
            message=(
                f"{found} relevant found; about {fit.remaining:.1f} left "
                f"(at most {up:.0f} at {self.confidence:.0%}); recall >= {low:.3f}"
            ),
            detail={"remaining": fit.remaining, "remaining_upper": up, "slope": fit.b},
        )

    def first_stop(self, labels: Any, n_total: int) -> int | None:
        lab = _labels(labels)
        cum = np.cumsum(lab)
        # every work up to 1,000 works, then on a grid of 1/1,000 of the works (a stop
        # found on the grid is at most that much later than the exact one)
        step = max(1, len(lab) // 1000)
        for s in range(self.min_run(n_total), len(lab) + 1, step):
            found = int(cum[s - 1])
            if found == 0:
                continue
            _fit, up = self.bound(lab[:s], n_total)
            if found >= self.recall * (found + up):
                return s
        return None


class NegativeBinomial(CountingProcess):
    """The counting process with a negative-binomial (over-dispersed) predictive count."""

    name = "negbin"
    dispersion = "negbin"
