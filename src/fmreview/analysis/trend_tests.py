"""Trend tests: Mann–Kendall with Sen's slope, axis x period tests, Cochran–Armitage.

Multiple testing: within each axis, the p-values of its values are adjusted with the
Benjamini–Hochberg step-up procedure (false discovery rate at the analysis alpha;
``statsmodels.stats.multitest.multipletests(method="fdr_bh")``); the adjusted value is in
the ``p_bh`` column next to the raw ``p_value``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from statsmodels.stats.multitest import multipletests

from .tidy import finite


def bh_adjust(p_values: list[float | None]) -> list[float | None]:
    """Benjamini–Hochberg adjusted p-values; None stays None (and is not counted)."""
    idx = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    out: list[float | None] = [None] * len(p_values)
    if idx:
        adj = multipletests([p_values[i] for i in idx], method="fdr_bh")[1]
        for i, a in zip(idx, adj, strict=True):
            out[i] = float(a)
    return out


# ------------------------------------------------------------------ Mann–Kendall
@dataclass
class MannKendall:
    """Mann–Kendall trend test and Sen's slope of one series."""

    n: int
    s: int
    var_s: float
    z: float
    p_value: float
    tau: float
    sen_slope: float | None
    sen_ci_low: float | None
    sen_ci_high: float | None
    trend: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mann_kendall(
    values: ArrayLike,
    times: ArrayLike | None = None,
    *,
    alpha: float = 0.05,
) -> MannKendall:
    """Mann–Kendall test (Mann 1945; Kendall 1975) with tie correction, and Sen's slope.

    ``S = sum_{i<j} sign(x_j - x_i)``; ``Var(S) = [n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5)]/18``
    over groups of tied values; ``Z = (S - sign(S)) / sqrt(Var S)`` (continuity correction);
    two-sided normal p-value. ``tau`` is Kendall's tau-a ``S / (n(n-1)/2)``.

    Written out here because the statistic is a few lines and the usual package
    (pymannkendall) is not a dependency; ``scipy.stats.kendalltau`` gives the same S and,
    without the continuity correction, the same p-value (checked in the tests). Sen's slope
    is ``scipy.stats.theilslopes`` (median of pairwise slopes) with its ``1 - alpha`` CI.
    """
    x = np.asarray(values, dtype=float)
    t = np.arange(len(x), dtype=float) if times is None else np.asarray(times, dtype=float)
    order = np.argsort(t, kind="stable")
    x, t = x[order], t[order]
    n = len(x)
    if n < 3:
        return MannKendall(n, 0, 0.0, 0.0, 1.0, 0.0, None, None, None, "too short")
    diff = x[None, :] - x[:, None]
    s = int(np.sign(diff[np.triu_indices(n, k=1)]).sum())
    _, tie_sizes = np.unique(x, return_counts=True)
    ties = sum(int(g) * (int(g) - 1) * (2 * int(g) + 5) for g in tie_sizes if g > 1)
    var_s = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    if var_s <= 0:
        z = 0.0
    elif s > 0:
        z = (s - 1) / math.sqrt(var_s)
    elif s < 0:
        z = (s + 1) / math.sqrt(var_s)
    else:
        z = 0.0
    p = 2.0 * float(stats.norm.sf(abs(z)))
    tau = s / (n * (n - 1) / 2)
    slope = stats.theilslopes(x, t, alpha=1 - alpha)
    trend = "no trend" if p >= alpha else ("increasing" if s > 0 else "decreasing")
    return MannKendall(
        n,
        s,
        float(var_s),
        float(z),
        p,
        float(tau),
        finite(slope.slope),
        finite(slope.low_slope),
        finite(slope.high_slope),
        trend,
    )


# ------------------------------------------------------------ Cochran–Armitage
@dataclass
class CochranArmitage:
    """Cochran–Armitage test for a linear trend in proportions."""

    n_groups: int
    n_total: int
    z: float | None
    chi2: float | None
    p_value: float | None
    slope: float | None  # least-squares change in the proportion per unit score
    p_first: float | None
    p_last: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cochran_armitage(
    successes: ArrayLike,
    totals: ArrayLike,
    scores: ArrayLike | None = None,
) -> CochranArmitage:
    """Cochran (1954) – Armitage (1955) trend test in proportions ``successes/totals``.

    ``T = sum_i s_i (x_i - n_i p)``, ``Var T = p(1-p) [sum n_i s_i^2 - (sum n_i s_i)^2 / N]``,
    ``Z = T / sqrt(Var T)``, two-sided normal p-value; ``Z^2`` equals R's
    ``prop.trend.test``. Groups with ``totals == 0`` are dropped. ``slope`` is ``T / S_ss``,
    the weighted least-squares slope of the proportion on the score.

    Written out (10 lines) because the textbook form, which reviewers compare with R, is
    not in scipy/statsmodels: ``statsmodels`` ``Table.test_ordinal_association`` uses the
    conditional (hypergeometric) variance, larger by ``N/(N-1)`` — the tests check that
    relation.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(totals, dtype=float)
    s = np.arange(len(x), dtype=float) if scores is None else np.asarray(scores, dtype=float)
    keep = n > 0
    x, n, s = x[keep], n[keep], s[keep]
    big_n = float(n.sum())
    if len(x) < 2 or big_n == 0:
        return CochranArmitage(len(x), int(big_n), None, None, None, None, None, None)
    p_bar = x.sum() / big_n
    t_stat = float(np.sum(s * (x - n * p_bar)))
    s_ss = float(np.sum(n * s**2) - np.sum(n * s) ** 2 / big_n)
    var = p_bar * (1 - p_bar) * s_ss
    props = x / n
    if var <= 0:
        return CochranArmitage(
            len(x), int(big_n), None, None, None, None, float(props[0]), float(props[-1])
        )
    z = t_stat / math.sqrt(var)
    return CochranArmitage(
        len(x),
        int(big_n),
        float(z),
        float(z * z),
        2.0 * float(stats.norm.sf(abs(z))),
        t_stat / s_ss if s_ss > 0 else None,
        float(props[0]),
        float(props[-1]),
    )


# ------------------------------------------------------- contingency (axis x period)
@dataclass
class ContingencyTest:
    """Independence test of an r x c table with adjusted standardised residuals."""

    test: str
    statistic: float | None
    dof: int | None
    p_value: float | None
    expected: np.ndarray
    adjusted_residuals: np.ndarray
    min_expected: float
    odds_ratio: float | None = None


def adjusted_residuals(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(expected counts, adjusted standardised residuals) of a two-way table.

    ``r_ij = (O_ij - E_ij) / sqrt(E_ij (1 - R_i/N) (1 - C_j/N))`` (Haberman 1973); roughly
    N(0, 1) under independence, so ``|r| > 1.96`` marks a cell that departs at 5%.
    """
    obs = np.asarray(table, dtype=float)
    big_n = obs.sum()
    rows = obs.sum(axis=1, keepdims=True)
    cols = obs.sum(axis=0, keepdims=True)
    expected = rows @ cols / big_n if big_n else np.zeros_like(obs)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = np.sqrt(expected * (1 - rows / big_n) * (1 - cols / big_n))
        resid = np.where(denom > 0, (obs - expected) / denom, np.nan)
    return expected, resid


def contingency_test(
    table: np.ndarray, *, min_expected: float = 5.0, random_state: int = 0, n_resamples: int = 9999
) -> ContingencyTest:
    """Pearson chi-square, or Fisher's exact test when an expected count is below
    ``min_expected``.

    The chi-square has no continuity correction. Fisher's test is exact for 2 x 2 tables
    (``scipy.stats.fisher_exact``) and a Monte Carlo estimate over tables with the
    observed margins for larger ones (scipy >= 1.15, ``n_resamples`` draws from one
    seeded generator). Empty rows and columns are dropped first.
    """
    obs = np.asarray(table, dtype=float)
    obs_kept = obs[obs.sum(axis=1) > 0][:, obs.sum(axis=0) > 0]
    expected, resid = adjusted_residuals(obs)
    if obs_kept.shape[0] < 2 or obs_kept.shape[1] < 2:
        return ContingencyTest(
            "not tested (a margin is empty)", None, None, None, expected, resid, 0.0
        )
    exp_kept, _ = adjusted_residuals(obs_kept)
    low = float(exp_kept.min())
    dof = (obs_kept.shape[0] - 1) * (obs_kept.shape[1] - 1)
    if low >= min_expected:
        chi2, p, _, _ = stats.chi2_contingency(obs_kept, correction=False)
        return ContingencyTest("chi-square", float(chi2), dof, float(p), expected, resid, low)
    ints = obs_kept.astype(int)
    if obs_kept.shape == (2, 2):
        res = stats.fisher_exact(ints)
        name, odds_ratio = "Fisher exact", finite(res.statistic)
    else:
        rng = np.random.default_rng(random_state)
        method = stats.MonteCarloMethod(n_resamples=n_resamples, rng=rng)
        res = stats.fisher_exact(ints, method=method)
        name, odds_ratio = f"Fisher exact (Monte Carlo, {n_resamples} tables)", None
    return ContingencyTest(name, None, None, float(res.pvalue), expected, resid, low, odds_ratio)
