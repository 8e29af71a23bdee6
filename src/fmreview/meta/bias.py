"""Small-study effects and publication bias (metafor's ``regtest``, ``ranktest``, ``trimfill``, ``fsn``).

Hand-written to reproduce metafor 3.8 (no Python package implements these tests with
metafor's conventions):

* :func:`regtest` - Egger-type regression tests: the effect sizes regressed on a
  precision predictor (``sei``, ``vi``, ``ni``, ``ninv``, ``sqrtninv``) either as a
  meta-regression with the model's own tau^2 method and test (``model="rma"``) or as
  the classic weighted linear model of Egger et al. (1997) (``model="lm"``).
* :func:`ranktest` - Begg & Mazumdar's rank correlation (Kendall's tau-b, exact
  permutation p-value unless there are ties, as R's ``cor.test``).
* :func:`trimfill` - Duval & Tweedie's trim and fill with the L0, R0 and Q0 estimators.
* :func:`fsn` - fail-safe N (Rosenthal 1979, Orwin 1983, Rosenberg 2005).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from fmreview.errors import InputError, StatsError, unknown_name
from fmreview.meta._common import MetaWarning
from fmreview.meta._json import jsonable
from fmreview.meta.rma import RMA

__all__ = ["FailSafeN", "RankTest", "RegTest", "TrimFill", "fsn", "ranktest", "regtest", "trimfill"]

PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtninv")


@dataclass
class RegTest:
    """Result of :func:`regtest`: ``zval``/``pval`` test the predictor's slope; ``est`` is the limit estimate.

    ``dfs`` and ``ddf`` are the degrees of freedom of the test (None for a z-test);
    ``fit`` is the fitted regression (an :class:`RMA` for ``model="rma"``).
    """

    model: str
    predictor: str
    zval: float
    pval: float
    dfs: int | None
    est: float
    ci_lb: float
    ci_ub: float
    fit_beta: dict[str, float]
    fit_se: dict[str, float]
    fit_tau2: float | None
    ddf: int | None = None
    fit: RMA | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({k: v for k, v in self.__dict__.items() if k != "fit"})


def _predictor(pred: str, vi: np.ndarray, ni: np.ndarray | None) -> np.ndarray:
    if pred not in PREDICTORS:
        raise unknown_name("regtest predictor", pred, PREDICTORS)
    if pred == "sei":
        return np.sqrt(vi)
    if pred == "vi":
        return vi
    if ni is None:
        raise InputError(f"regtest predictor {pred!r} needs the sample sizes 'ni'")
    return {"ni": ni, "ninv": 1 / ni, "sqrtninv": 1 / np.sqrt(ni)}[pred]


def regtest(
    x: RMA | ArrayLike,
    vi: ArrayLike | None = None,
    *,
    sei: ArrayLike | None = None,
    model: str = "rma",
    predictor: str = "sei",
    ni: ArrayLike | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    control: Mapping[str, Any] | None = None,
    model_type: str | None = None,
) -> RegTest:
    """Egger-type regression test for funnel-plot asymmetry (metafor's ``regtest``).

    ``x`` is a fitted intercept-only :class:`RMA` (its method, test and control are
    reused, as ``regtest(res)``) or the effect sizes, with ``vi`` or ``sei``, as
    ``regtest(yi, vi, model="lm")``; then ``method``/``test``/``control`` set the
    meta-regression of ``model="rma"``.  ``model="lm"`` is the classic weighted
    regression of Egger et al. (1997) with a t-test on ``k - 2`` df.  Warnings of the
    inner fit reach the caller.
    """
    mt = model if model_type is None else model_type
    if isinstance(x, RMA):
        x._check_fitted()
        if x.p_ != 1:
            raise StatsError("regtest needs a model without moderators (fit an intercept-only RMA)")
        yi, v = x.yi_, x.vi_
        nn = None if ni is None else np.asarray(ni, dtype=float)[x.not_na_]
        method, test, level, control = x.method, x.test_, x.level, x.control
    else:
        y_all = np.atleast_1d(np.asarray(x, dtype=float))
        if vi is None:
            if sei is None:
                raise InputError("regtest(yi, ...) needs the sampling variances vi or sei")
            v_all = np.asarray(sei, dtype=float) ** 2
        else:
            v_all = np.asarray(vi, dtype=float)
        ok = ~(np.isnan(y_all) | np.isnan(v_all))
        yi, v = y_all[ok], v_all[ok]
        nn = None if ni is None else np.asarray(ni, dtype=float)[ok]
    xp = _predictor(predictor, v, nn)
    if mt == "rma":
        fit = RMA(method=method, test=test, level=level, control=control).fit(
            yi, v, xp, coef_names=[predictor]
        )
        dfs = fit.ddf_
        return RegTest(
            "rma",
            predictor,
            float(fit.zval_[1]),
            float(fit.pval_[1]),
            dfs,
            float(fit.beta_[0]),
            float(fit.ci_lb_[0]),
            float(fit.ci_ub_[0]),
            {"intrcpt": float(fit.beta_[0]), predictor: float(fit.beta_[1])},
            {"intrcpt": float(fit.se_[0]), predictor: float(fit.se_[1])},
            fit.tau2_,
            dfs,
            fit,
        )
    if mt != "lm":
        raise unknown_name("regtest model", mt, ("rma", "lm"))
    k = yi.size
    if k < 3:
        raise StatsError(f"regtest(model='lm') needs at least 3 studies; found {k}")
    X = np.column_stack([np.ones(k), xp])
    w = 1 / v
    sw = np.sqrt(w)
    Q, R = np.linalg.qr(X * sw[:, None])
    beta = np.linalg.solve(R, Q.T @ (yi * sw))
    res = yi - X @ beta
    s2 = float(np.sum(w * res**2)) / (k - 2)
    Ri = np.linalg.inv(R)
    se = np.sqrt(np.diag(Ri @ Ri.T) * s2)
    t = beta / se
    crit = float(stats.t.isf((1 - _frac(level)) / 2, k - 2))
    return RegTest(
        "lm",
        predictor,
        float(t[1]),
        float(2 * stats.t.sf(abs(t[1]), k - 2)),
        k - 2,
        float(beta[0]),
        float(beta[0] - crit * se[0]),
        float(beta[0] + crit * se[0]),
        {"X": float(beta[0]), "X" + predictor: float(beta[1])},
        {"X": float(se[0]), "X" + predictor: float(se[1])},
        None,
        k - 2,
    )


def _frac(level: float) -> float:
    lv = float(level)
    return lv / 100 if lv > 1 else lv


# ------------------------------------------------------------------ rank test
@dataclass
class RankTest:
    """Kendall's tau between standardized effects and variances, with its p-value."""

    tau: float
    pval: float
    exact: bool

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


def _kendall_counts(n: int) -> list[int]:
    """Number of permutations of n items with each number of inversions (R's ``ckendall``)."""
    counts = [1]
    for m in range(2, n + 1):
        new = [0] * (len(counts) + m - 1)
        for i, c in enumerate(counts):
            for j in range(m):
                new[i + j] += c
        counts = new
    return counts


def kendall_test(x: ArrayLike, y: ArrayLike, exact: bool = True) -> RankTest:
    """Kendall's tau-b and the two-sided p-value as R's ``cor.test(method="kendall")``."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    if n < 2:
        raise StatsError("Kendall's tau needs at least 2 studies")
    tau = float(stats.kendalltau(x, y, variant="b").statistic)
    ties = len(set(x.tolist())) < n or len(set(y.tolist())) < n
    if exact and not ties and n < 50 * 10:
        q = round((tau + 1) * n * (n - 1) / 4)
        counts = _kendall_counts(n)
        total = math.factorial(n)

        def pk(qq: int) -> float:
            if qq < 0:
                return 0.0
            return sum(counts[: qq + 1]) / total

        p = 1 - pk(q - 1) if q > n * (n - 1) / 4 else pk(q)
        return RankTest(tau, min(2 * p, 1.0), True)
    xt = np.array([c for c in Counter(x.tolist()).values() if c > 1], dtype=float)
    yt = np.array([c for c in Counter(y.tolist()).values() if c > 1], dtype=float)
    t0 = n * (n - 1) / 2
    t1 = float(np.sum(xt * (xt - 1)) / 2)
    t2 = float(np.sum(yt * (yt - 1)) / 2)
    s = tau * math.sqrt((t0 - t1) * (t0 - t2))
    v0 = n * (n - 1) * (2 * n + 5)
    vt = float(np.sum(xt * (xt - 1) * (2 * xt + 5)))
    vu = float(np.sum(yt * (yt - 1) * (2 * yt + 5)))
    v1 = float(np.sum(xt * (xt - 1)) * np.sum(yt * (yt - 1)))
    v2 = float(np.sum(xt * (xt - 1) * (xt - 2)) * np.sum(yt * (yt - 1) * (yt - 2)))
    var_s = (
        (v0 - vt - vu) / 18
        + v1 / (2 * n * (n - 1))
        + (v2 / (9 * n * (n - 1) * (n - 2)) if n > 2 else 0)
    )
    z = s / math.sqrt(var_s)
    return RankTest(tau, float(2 * min(stats.norm.cdf(z), stats.norm.sf(z))), False)


def ranktest(x: RMA | ArrayLike, vi: ArrayLike | None = None, *, exact: bool = True) -> RankTest:
    """Begg & Mazumdar (1994) rank correlation test; standardizes with the equal-effects estimate.

    ``x`` is a fitted :class:`RMA` or the effect sizes with their variances ``vi``.
    """
    if isinstance(x, RMA):
        x._check_fitted()
        yi, v = x.yi_, x.vi_
    else:
        if vi is None:
            raise InputError("ranktest(yi, vi): give the sampling variances vi")
        y_all, v_all = np.asarray(x, dtype=float), np.asarray(vi, dtype=float)
        ok = ~(np.isnan(y_all) | np.isnan(v_all))
        yi, v = y_all[ok], v_all[ok]
    fe = RMA(method="EE").fit(yi, v)
    vstar = v - float(fe.vb_[0, 0])
    ystar = (yi - float(fe.beta_[0])) / np.sqrt(vstar)
    return kendall_test(ystar, v, exact=exact)


# ------------------------------------------------------------------ trim and fill
@dataclass
class TrimFill:
    """Trim-and-fill result: ``model`` is the RMA fitted to observed plus filled studies."""

    k0: int
    se_k0: float
    side: str
    estimator: str
    p_k0: float | None
    model: RMA
    yi: np.ndarray
    vi: np.ndarray
    fill: np.ndarray = field(repr=False)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "k0": self.k0,
                "se_k0": self.se_k0,
                "side": self.side,
                "estimator": self.estimator,
                "p_k0": self.p_k0,
                "model": self.model.to_dict(),
                "yi": self.yi,
                "vi": self.vi,
                "fill": self.fill,
                "warnings": self.warnings,
            }
        )


def trimfill(
    model: RMA, *, estimator: str = "L0", side: str | None = None, maxiter: int = 100
) -> TrimFill:
    """Duval & Tweedie (2000) trim and fill on an intercept-only :class:`RMA` (as metafor's ``trimfill``).

    With no missing studies (``k0 = 0``) the result's ``model`` is the input model
    itself, as in metafor.  Warnings of the internal refits are re-emitted once each
    (prefixed ``trimfill:``) and listed in ``warnings``.
    """
    model._check_fitted()
    if model.p_ != 1:
        raise StatsError("trimfill needs a model without moderators (fit an intercept-only RMA)")
    if estimator not in ("L0", "R0", "Q0"):
        raise unknown_name("trim-and-fill estimator", estimator, ("L0", "R0", "Q0"))
    yi0, vi0 = model.yi_, model.vi_

    inner: list[str] = []

    def rma(y: np.ndarray, v: np.ndarray, mods: Any = None, test: str = "z") -> RMA:
        # metafor fits the trimmed data with rma's default control (not the model's)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always", MetaWarning)
            r = RMA(method=model.method, test=test, level=model.level).fit(y, v, mods)
        for w in rec:
            msg = str(w.message)
            if issubclass(w.category, MetaWarning) and msg not in inner:
                inner.append(msg)
        return r

    if side is None:
        r = rma(yi0, vi0, np.sqrt(vi0))
        side = "left" if (np.isnan(r.beta_[1]) or r.beta_[1] > 0) else "right"
    if side not in ("left", "right"):
        raise unknown_name("trim-and-fill side", side, ("left", "right"))
    yi = -yi0 if side == "right" else yi0.copy()
    order = np.argsort(yi, kind="stable")
    yi, vi = yi[order], vi0[order]
    k = yi.size
    k0, k0_sav, it = 0, -1, 0
    se_k0 = 0.0
    beta = 0.0
    yc = yi
    while abs(k0 - k0_sav) > 0:
        k0_sav = k0
        it += 1
        if it > maxiter:
            raise StatsError("Trim and fill algorithm did not converge.")
        r = rma(yi[: k - k0], vi[: k - k0])
        beta = float(r.beta_[0])
        yc = yi - beta
        ranks = stats.rankdata(np.abs(yc), method="ordinal")
        srank = np.sign(yc) * ranks
        if estimator == "R0":
            neg = -srank[srank < 0]
            k0f: float = float((k - (neg.max() if neg.size else 0)) - 1)
            se_k0 = math.sqrt(2 * max(0, k0f) + 2)
        else:
            sr = float(np.sum(srank[srank > 0]))
            if estimator == "L0":
                k0f = (4 * sr - k * (k + 1)) / (2 * k - 1)
            else:
                k0f = k - 0.5 - math.sqrt(2 * k**2 - 4 * sr + 0.25)
            var_sr = (
                k * (k + 1) * (2 * k + 1)
                + 10 * k0f**3
                + 27 * k0f**2
                + 17 * k0f
                - 18 * k * k0f**2
                - 18 * k * k0f
                + 6 * k**2 * k0f
            ) / 24
            if estimator == "L0":
                se_k0 = float(4 * np.sqrt(var_sr) / (2 * k - 1)) if var_sr >= 0 else math.nan
            else:
                with np.errstate(invalid="ignore"):
                    se_k0 = float(
                        2 * np.sqrt(var_sr) / np.sqrt((k - 0.5) ** 2 - k0f * (2 * k - k0f - 1))
                    )
        k0 = max(0, int(_r_round(k0f)))
        se_k0 = se_k0 if math.isnan(se_k0) else max(0.0, se_k0)
    if k0 > 0:
        yi_all = np.concatenate([yi0, _fill_values(yc, beta, k, k0, side)])
        vi_all = np.concatenate([vi0, vi[k - k0 :]])
    else:
        yi_all, vi_all = yi0.copy(), vi0.copy()
    fill = np.concatenate([np.zeros(yi0.size, bool), np.ones(yi_all.size - yi0.size, bool)])
    for msg in inner:
        warnings.warn(f"trimfill: {msg}", MetaWarning, stacklevel=2)
    if k0 > 0:
        final = RMA(method=model.method, test=model.test_, level=model.level).fit(yi_all, vi_all)
    else:  # nothing filled: metafor returns the input model unchanged
        final = model
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else None
    return TrimFill(
        k0, se_k0, side, estimator, p_k0, final, yi_all, vi_all, fill, [*inner, *final.warnings_]
    )


def _fill_values(yc: np.ndarray, beta: float, k: int, k0: int, side: str) -> np.ndarray:
    """metafor: ``yi.c <- -(yi.c - beta)`` (right) or ``yi.c - beta`` (left); fill = ``-yi.c[...]``."""
    yc2 = -1 * (yc - beta) if side == "right" else yc - beta
    return -1 * yc2[k - k0 :]


def _r_round(x: float) -> float:
    """R's ``round`` (half to even), the rounding metafor applies to k0."""
    return float(np.round(x))


# ------------------------------------------------------------------ fail-safe N
@dataclass
class FailSafeN:
    """Fail-safe N: how many null studies would overturn the result."""

    type: str
    fsnum: float
    alpha: float
    pval: float | None
    meanes: float | None
    target: float | None

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self.__dict__)


def fsn(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    type: str = "Rosenthal",
    alpha: float = 0.05,
    target: float | None = None,
) -> FailSafeN:
    """Fail-safe N of Rosenthal (1979), Orwin (1983) or Rosenberg (2005), as metafor's ``fsn``."""
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    ok = ~(np.isnan(y) | np.isnan(v))
    y, v = y[ok], v[ok]
    k = y.size
    if k == 0:
        raise StatsError("fail-safe N needs at least one study with yi and vi")
    if type == "Rosenthal":
        z = y / np.sqrt(v)
        z_avg = abs(float(np.sum(z)) / math.sqrt(k))
        pval = float(stats.norm.sf(z_avg))
        num = max(0.0, k * (z_avg / float(stats.norm.isf(alpha))) ** 2 - k)
        return FailSafeN("Rosenthal", float(math.ceil(num)), alpha, pval, None, None)
    if type == "Orwin":
        meanes = float(np.mean(y))
        tgt = meanes / 2 if target is None else float(target)
        num = max(0.0, k * (meanes - tgt) / tgt)
        return FailSafeN("Orwin", float(math.ceil(num)), alpha, None, meanes, tgt)
    if type == "Rosenberg":
        w = 1 / v
        meanes = float(np.sum(w * y) / np.sum(w))
        zval = meanes / math.sqrt(1 / float(np.sum(w)))
        wp = (float(np.sum(w * y)) / float(stats.norm.isf(alpha / 2))) ** 2 - float(np.sum(w))
        num = max(0.0, k * wp / float(np.sum(w)))
        pval = float(2 * stats.norm.sf(abs(zval)))
        return FailSafeN("Rosenberg", float(math.ceil(num)), alpha, pval, meanes, None)
    raise unknown_name("fail-safe N type", type, ("Rosenthal", "Orwin", "Rosenberg"))
