"""Growth models of yearly counts: Poisson and negative-binomial GLMs, segmented models.

Model choice rule (stated in every result)
------------------------------------------
Both a Poisson GLM and a negative-binomial (NB2) model are fitted by maximum likelihood.
The NB model is chosen when the likelihood-ratio test of the NB dispersion ``alpha = 0``
rejects at the analysis' alpha. Because ``alpha = 0`` lies on the boundary of the
parameter space the LR statistic follows a 50:50 mixture of chi2(0) and chi2(1), so its
p-value is half the chi2(1) tail (Self & Liang 1987; Cameron & Trivedi 2013, section 3.4).
Otherwise the Poisson model is kept. The Pearson chi2/df of the Poisson fit is reported as a
descriptive overdispersion index.

Segmented model (interrupted time series)
-----------------------------------------
``log mu_t = b0 + b1 t + b2 post_t + b3 (t - t0) post_t`` where ``post_t`` is 1 from the
first period after the event (a period that holds the event counts as *post* when the event
falls in its first half) and ``t0`` is that period's index. ``exp(b2)`` is the change in
level (rate ratio at the event), ``exp(b3)`` the change in the per-period rate ratio; a
likelihood-ratio test with 2 df tests both together (Wagner et al. 2002; Bernal et al. 2017).
``mean_post_ratio`` is the geometric mean, over the post periods, of the fitted rate over
the rate the pre-event trend predicts (above 1: more works than the old trend predicts).
When the pre- or post-event counts are all zero the level is not estimable; the result
then falls back to the exact conditional test of the two rates (binomial test of the post
count given the total, under equal rates per period; Przyborowski & Wilenski 1940).
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import statsmodels.api as sm
from numpy.typing import ArrayLike
from scipy import stats

from fmreview.errors import StatsError

from .tidy import finite

MODEL_RULE = (
    "negative binomial (NB2) when the boundary-corrected likelihood-ratio test of "
    "alpha = 0 rejects at the analysis alpha, else Poisson"
)


@dataclass
class _CountFit:
    model: str  # "poisson" | "negative_binomial"
    params: np.ndarray
    bse: np.ndarray
    llf: float
    converged: bool


@dataclass
class _FitPair:
    poisson: _CountFit
    nb: _CountFit | None
    nb_alpha: float | None
    lr_stat: float | None
    lr_p: float | None
    pearson_chi2_df: float | None

    def chosen(self, alpha: float) -> _CountFit:
        if self.nb is not None and self.lr_p is not None and self.lr_p < alpha:
            return self.nb
        return self.poisson


def _fit_pair(y: np.ndarray, X: np.ndarray, offset: np.ndarray | None) -> _FitPair:
    """Fit Poisson (GLM) and NB2 (discrete MLE) to the same design.

    Periods with zero exposure (offset ``-inf``) are dropped: their expected count is 0
    under every model, so they add nothing to the likelihood.
    """
    if offset is not None:
        offset = np.asarray(offset, dtype=float)
        empty = ~np.isfinite(offset)
        if np.any(empty & (y > 0)):
            raise StatsError(
                "a period has works but zero exposure (offset -inf); pass the totals the "
                "counts are part of"
            )
        if np.any(empty):
            y, X, offset = y[~empty], X[~empty], offset[~empty]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pois = sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit()
        df_resid = pois.df_resid
        pearson = float(pois.pearson_chi2 / df_resid) if df_resid > 0 else None
        p_fit = _CountFit(
            "poisson",
            np.asarray(pois.params),
            np.asarray(pois.bse),
            float(pois.llf),
            bool(pois.converged),
        )
        nb_fit: _CountFit | None = None
        nb_alpha = lr = lr_p = None
        mu = np.asarray(pois.fittedvalues)
        if float(np.sum((y - mu) ** 2 - y)) <= 0:
            # The NB2 score for alpha at 0 is sum((y - mu)^2 - y) / 2 (Cameron & Trivedi
            # 2013, 5.5): when it is not positive the likelihood falls as alpha leaves 0, so
            # the MLE is alpha = 0, the NB fit equals the Poisson fit and LR = 0.
            return _FitPair(p_fit, None, 0.0, 0.0, 1.0, pearson)
        try:
            start = np.append(np.asarray(pois.params), 0.1)
            model = sm.NegativeBinomial(y, X, loglike_method="nb2", offset=offset)
            # Newton with the analytic Hessian is fast; BFGS is the slower, sturdier fallback
            nb = model.fit(start_params=start, disp=0, maxiter=100, method="newton")
            if not nb.mle_retvals.get("converged", False) or not np.all(np.isfinite(nb.params)):
                nb = model.fit(start_params=start, disp=0, maxiter=500, method="bfgs")
            params = np.asarray(nb.params)
            bse = np.asarray(nb.bse)
            nb_alpha = float(params[-1])
            converged = bool(nb.mle_retvals.get("converged", True))
            if np.all(np.isfinite(params)) and nb_alpha >= 0:
                nb_fit = _CountFit(
                    "negative_binomial", params[:-1], bse[:-1], float(nb.llf), converged
                )
                lr = max(0.0, 2.0 * (nb_fit.llf - p_fit.llf))
                lr_p = 0.5 * float(stats.chi2.sf(lr, 1)) if lr > 0 else 1.0
        except (np.linalg.LinAlgError, ValueError, OverflowError):
            nb_fit = None
    return _FitPair(p_fit, nb_fit, nb_alpha, lr, lr_p, pearson)


def _ratio(
    fit: _CountFit, j: int, alpha: float
) -> tuple[float | None, float | None, float | None, float | None]:
    """(rate ratio, CI low, CI high, Wald p) for coefficient ``j``."""
    b, se = float(fit.params[j]), float(fit.bse[j])
    with np.errstate(over="ignore"):
        if not np.isfinite(se) or se <= 0:
            return finite(np.exp(b)), None, None, None
        z = stats.norm.ppf(1 - alpha / 2)
        p = 2 * float(stats.norm.sf(abs(b / se)))
        return finite(np.exp(b)), finite(np.exp(b - z * se)), finite(np.exp(b + z * se)), p


@dataclass
class GrowthFit:
    """A count-on-time model for one series (see the module docstring for the rule)."""

    status: str  # "ok" | "not_fitted"
    n_periods: int
    total: int
    model: str | None = None
    rate_ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    poisson_rate_ratio: float | None = None
    poisson_ci_low: float | None = None
    poisson_ci_high: float | None = None
    poisson_p_value: float | None = None
    pearson_chi2_df: float | None = None
    nb_alpha: float | None = None
    lr_stat: float | None = None
    lr_p_value: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_growth(
    counts: ArrayLike,
    times: ArrayLike | None = None,
    *,
    offset: np.ndarray | None = None,
    alpha: float = 0.05,
    min_total: int = 1,
) -> GrowthFit:
    """Yearly (per-period) rate ratio of a count series.

    Parameters
    ----------
    counts : array of int
        Counts per period, zeros included.
    times : array of float, optional
        Period times (e.g. years); default ``0..n-1``. Centred on the first time, so
        ``exp(slope)`` is the rate ratio per unit of time.
    offset : array, optional
        Log exposure per period, e.g. ``log(all works)`` to model the share; periods with
        ``-inf`` (no works at all) are left out of the fit.
    alpha : float
        Level of the CI and of the model choice rule.
    min_total : int
        Series with fewer counts in total are not fitted.
    """
    y = np.asarray(counts, dtype=float)
    t = np.arange(len(y), dtype=float) if times is None else np.asarray(times, dtype=float)
    total = int(y.sum())
    if len(y) < 3:
        return GrowthFit("not_fitted", len(y), total, note="fewer than 3 periods")
    if total < max(min_total, 1):
        return GrowthFit(
            "not_fitted", len(y), total, note=f"fewer than {max(min_total, 1)} works in total"
        )
    if np.count_nonzero(y) < 2:
        return GrowthFit("not_fitted", len(y), total, note="counts in fewer than 2 periods")
    X = sm.add_constant(t - t[0], has_constant="add")
    pair = _fit_pair(y, X, offset)
    chosen = pair.chosen(alpha)
    rr, lo, hi, p = _ratio(chosen, 1, alpha)
    prr, plo, phi, pp = _ratio(pair.poisson, 1, alpha)
    note = None if chosen.converged else "the chosen model did not report convergence"
    return GrowthFit(
        "ok",
        len(y),
        total,
        chosen.model,
        rr,
        lo,
        hi,
        p,
        prr,
        plo,
        phi,
        pp,
        finite(pair.pearson_chi2_df),
        finite(pair.nb_alpha),
        finite(pair.lr_stat),
        finite(pair.lr_p),
        note,
    )


@dataclass
class SegmentedFit:
    """An interrupted-time-series count model around one event."""

    status: str  # "ok" | "fallback" | "not_fitted"
    n_periods: int
    n_pre: int
    n_post: int
    total_pre: int
    total_post: int
    model: str | None = None
    level_ratio: float | None = None
    level_ci_low: float | None = None
    level_ci_high: float | None = None
    level_p_value: float | None = None
    slope_ratio: float | None = None
    slope_ci_low: float | None = None
    slope_ci_high: float | None = None
    slope_p_value: float | None = None
    pre_slope_ratio: float | None = None
    joint_lr_stat: float | None = None
    joint_p_value: float | None = None
    rate_ratio_post_pre: float | None = None
    mean_post_ratio: float | None = None
    test: str | None = None
    nb_alpha: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def post_indicator(starts: list[dt.date], ends: list[dt.date], event: dt.date) -> np.ndarray:
    """1 for periods after the event; a period holding the event is *post* when the event
    falls in its first half."""
    out = []
    for s, e in zip(starts, ends, strict=True):
        if s >= event:
            out.append(1.0)
        elif event < e:
            out.append(1.0 if (event - s) * 2 <= (e - s) else 0.0)
        else:
            out.append(0.0)
    return np.asarray(out)


def fit_segmented(
    counts: ArrayLike,
    post: ArrayLike,
    *,
    offset: np.ndarray | None = None,
    alpha: float = 0.05,
    min_total: int = 1,
) -> SegmentedFit:
    """Change in level and slope of a count series at an event.

    Parameters
    ----------
    counts : array
        Counts per period (equally spaced), zeros included.
    post : array of 0/1
        Post-event indicator per period (monotone: zeros then ones).
    offset, alpha, min_total
        As in :func:`fit_growth`.
    """
    y = np.asarray(counts, dtype=float)
    post_arr = np.asarray(post, dtype=float)
    n = len(y)
    n_post = int(post_arr.sum())
    n_pre = n - n_post
    tot_pre, tot_post = int(y[post_arr == 0].sum()), int(y[post_arr == 1].sum())
    base: dict[str, Any] = {
        "n_periods": n,
        "n_pre": n_pre,
        "n_post": n_post,
        "total_pre": tot_pre,
        "total_post": tot_post,
    }
    if np.any(np.diff(post_arr) < 0):
        return SegmentedFit("not_fitted", **base, note="post indicator is not zeros then ones")
    if n_pre < 1 or n_post < 1:
        return SegmentedFit("not_fitted", **base, note="the event is outside the fitted periods")
    if tot_pre + tot_post < max(min_total, 1):
        return SegmentedFit(
            "not_fitted", **base, note=f"fewer than {max(min_total, 1)} works in total"
        )
    mean_pre = tot_pre / n_pre
    mean_post = tot_post / n_post
    rr_pp = finite(mean_post / mean_pre) if mean_pre > 0 else None
    t = np.arange(n, dtype=float)
    t0 = float(np.argmax(post_arr))
    enough = n_pre >= 2 and n_post >= 2 and n >= 5
    if not enough or tot_pre == 0 or tot_post == 0:
        return _segmented_fallback(base, n_pre, n_post, tot_pre, tot_post, rr_pp, offset, enough)
    X = np.column_stack([np.ones(n), t, post_arr, (t - t0) * post_arr])
    pair = _fit_pair(y, X, offset)
    chosen = pair.chosen(alpha)
    lvl = _ratio(chosen, 2, alpha)
    slp = _ratio(chosen, 3, alpha)
    pre = _ratio(chosen, 1, alpha)
    # quasi-separation (e.g. a single non-zero pre period) shows as a huge standard error
    if not np.all(np.isfinite(chosen.bse[2:])) or float(np.max(chosen.bse[2:])) > 8:
        return _segmented_fallback(base, n_pre, n_post, tot_pre, tot_post, rr_pp, offset, True)
    reduced = _fit_pair(y, X[:, :2], offset)
    red = (
        reduced.nb
        if chosen.model == "negative_binomial" and reduced.nb is not None
        else reduced.poisson
    )
    lr = max(0.0, 2.0 * (chosen.llf - red.llf))
    # average post-event ratio of the fitted rate to the pre-trend counterfactual
    after = t[post_arr == 1] - t0
    with np.errstate(over="ignore"):
        mean_post = float(np.exp(np.mean(chosen.params[2] + chosen.params[3] * after)))
    return SegmentedFit(
        "ok",
        **base,
        model=chosen.model,
        level_ratio=lvl[0],
        level_ci_low=lvl[1],
        level_ci_high=lvl[2],
        level_p_value=lvl[3],
        slope_ratio=slp[0],
        slope_ci_low=slp[1],
        slope_ci_high=slp[2],
        slope_p_value=slp[3],
        pre_slope_ratio=pre[0],
        joint_lr_stat=finite(lr),
        joint_p_value=float(stats.chi2.sf(lr, 2)),
        rate_ratio_post_pre=rr_pp,
        mean_post_ratio=finite(mean_post),
        test="segmented GLM, LR test of level and slope change (2 df)",
        nb_alpha=finite(pair.nb_alpha) if chosen.model == "negative_binomial" else None,
        note=None if chosen.converged else "the chosen model did not report convergence",
    )


def _segmented_fallback(
    base: dict[str, Any],
    n_pre: int,
    n_post: int,
    tot_pre: int,
    tot_post: int,
    rr_pp: float | None,
    offset: np.ndarray | None,
    enough: bool,
) -> SegmentedFit:
    if offset is not None:
        return SegmentedFit(
            "not_fitted",
            **base,
            rate_ratio_post_pre=rr_pp,
            note="level not estimable (zero counts on one side) with an offset",
        )
    # exact conditional test: given the total, post counts ~ Binomial(total, n_post/n)
    res = stats.binomtest(tot_post, tot_pre + tot_post, n_post / (n_pre + n_post))
    why = (
        "too few periods on one side for a segmented model"
        if not enough
        else "level change not estimable (zero counts on one side, or quasi-separation)"
    )
    return SegmentedFit(
        "fallback",
        **base,
        rate_ratio_post_pre=rr_pp,
        joint_p_value=float(res.pvalue),
        test="exact conditional test of post vs pre rates (binomial)",
        note=why,
    )
