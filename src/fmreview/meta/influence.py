"""Sensitivity analyses on a fitted :class:`RMA`: leave-one-out, influence diagnostics,
BLUPs, cumulative meta-analysis (metafor's ``leave1out``, ``influence``, ``blup``,
``ranef``, ``cumul``; Viechtbauer & Cheung 2010, *Res Synth Methods* 1:112).

Each refit uses the model's own method, test, level and control; results are
dicts of per-study arrays in the order of the studies used in the fit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from fmreview.errors import StatsError
from fmreview.meta._linalg import inv_xwx, p_matrix
from fmreview.meta.rma import RMA

__all__ = ["blup", "cumulative", "influence", "leave_one_out", "ranef"]


def _refit(model: RMA, keep: np.ndarray) -> RMA:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X = model.X_[keep]
        mods = X[:, 1:] if model.coef_names_[0] == "intrcpt" else X
        if mods.shape[1] == 0:
            mods = None
        return RMA(
            method=model.method, test=model.test_, level=model.level, control=model.control
        ).fit(model.yi_[keep], model.vi_[keep], mods, intercept=model.coef_names_[0] == "intrcpt")


def _summary_rows(fits: Sequence[RMA | None]) -> dict[str, np.ndarray]:
    def g(f: RMA | None, attr: str) -> float:
        if f is None:
            return math.nan
        val = getattr(f, attr)
        if isinstance(val, np.ndarray):
            val = val[0]
        return math.nan if val is None else float(val)

    cols = {
        "estimate": "beta_",
        "se": "se_",
        "zval": "zval_",
        "pval": "pval_",
        "ci_lb": "ci_lb_",
        "ci_ub": "ci_ub_",
        "Q": "QE_",
        "Qp": "QEp_",
        "tau2": "tau2_",
        "I2": "I2_",
        "H2": "H2_",
    }
    return {name: np.array([g(f, attr) for f in fits]) for name, attr in cols.items()}


def leave_one_out(model: RMA) -> dict[str, np.ndarray]:
    """Refit the model k times, each time without one study (intercept-only models)."""
    model._check_fitted()
    if model.p_ != 1:
        raise StatsError("leave-one-out summaries need a model without moderators")
    k = model.k_
    if k < 2:
        raise StatsError("leave-one-out needs at least 2 studies")
    fits = [_refit(model, np.arange(k) != i) for i in range(k)]
    return _summary_rows(fits)


def influence(model: RMA) -> dict[str, Any]:
    """Case-deletion diagnostics: rstudent, dffits, cook_d, cov_r, tau2_del, QE_del, hat,
    weight (percent), dfbetas (k x p) and the metafor flag ``inf`` ("*" when influential)."""
    model._check_fitted()
    k, p = model.k_, model.p_
    if k < 2:
        raise StatsError("influence diagnostics need at least 2 studies")
    X, y, v = model.X_, model.yi_, model.vi_
    w = 1 / (v + model.tau2_)
    hat = np.diag(X @ inv_xwx(X, w) @ (X.T * w)).copy()
    vb_inv = np.linalg.pinv(model.vb_)
    out: dict[str, np.ndarray] = {
        k_: np.full(k, math.nan)
        for k_ in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "QE_del")
    }
    resid_del = np.full(k, math.nan)
    se_del = np.full(k, math.nan)
    dfbetas = np.full((k, p), math.nan)
    pred_full = X @ model.beta_
    det_full = np.linalg.det(model.vb_)
    for i in range(k):
        try:
            f = _refit(model, np.arange(k) != i)
        except StatsError:
            continue
        xi = X[i]
        pred_i = float(xi @ f.beta_)
        resid_del[i] = y[i] - pred_i
        se_del[i] = math.sqrt(v[i] + f.tau2_ + float(xi @ f.vb_ @ xi))
        out["rstudent"][i] = resid_del[i] / se_del[i]
        out["dffits"][i] = (pred_full[i] - pred_i) / math.sqrt(
            model.s2w_ * hat[i] * (f.tau2_ + v[i])
        )
        d = model.beta_ - f.beta_
        out["cook_d"][i] = float(d @ vb_inv @ d)
        out["cov_r"][i] = np.linalg.det(f.vb_) / det_full
        out["tau2_del"][i] = f.tau2_
        out["QE_del"][i] = math.nan if f.QE_ is None else f.QE_
        # metafor scales DFBETAS with (X'W X)^-1 on all k studies at the deleted tau^2
        vb_del = inv_xwx(X, 1 / (v + f.tau2_))
        dfbetas[i] = d / np.sqrt(model.s2w_ * np.diag(vb_del))
    flag = (
        (np.abs(out["dffits"]) > 3 * math.sqrt(p / (k - p)))
        | (stats.chi2.cdf(out["cook_d"], p) > 0.5)
        | (hat > 3 * p / k)
        | np.any(np.abs(dfbetas) > 1, axis=1)
    )
    out.update(
        hat=hat,
        weight=100 * w / np.sum(w),
        dfbetas=dfbetas,
        inf=np.where(flag, "*", ""),
        rstudent_resid=resid_del,
        rstudent_se=se_del,
    )
    return out


def blup(model: RMA) -> dict[str, np.ndarray]:
    """Best linear unbiased predictions of the study-specific true effects (random-effects fits)."""
    model._check_fitted()
    X, y, v, tau2 = model.X_, model.yi_, model.vi_, model.tau2_
    li = tau2 / (tau2 + v)
    xb = X @ model.beta_
    pred = li * y + (1 - li) * xb
    xvx = np.einsum("ij,jk,ik->i", X, model.vb_, X)
    se = np.sqrt(li * v + (1 - li) ** 2 * xvx)
    crit = model.crit_
    return {"pred": pred, "se": se, "pi_lb": pred - crit * se, "pi_ub": pred + crit * se}


def ranef(model: RMA) -> dict[str, np.ndarray]:
    """Best linear unbiased predictions of the random effects ``u_i`` (deviation from X beta)."""
    model._check_fitted()
    X, y, v, tau2 = model.X_, model.yi_, model.vi_, model.tau2_
    li = tau2 / (tau2 + v)
    pred = li * (y - X @ model.beta_)
    P = p_matrix(X, 1 / (v + tau2))
    se = np.sqrt(np.maximum(tau2 - tau2**2 * np.diag(P), 0))
    crit = model.crit_
    return {"pred": pred, "se": se, "pi_lb": pred - crit * se, "pi_ub": pred + crit * se}


def cumulative(model: RMA, order: ArrayLike | None = None) -> dict[str, np.ndarray]:
    """Cumulative meta-analysis: add studies one at a time in ``order`` (e.g. year; stable).

    Returns per-step summaries and ``index`` = the 0-based position (in the fit's
    studies) of the study added at each step.
    """
    model._check_fitted()
    if model.p_ != 1:
        raise StatsError("cumulative meta-analysis needs a model without moderators")
    k = model.k_
    if order is None:
        idx = np.arange(k)
    else:
        key = np.asarray(order)
        if key.size == model.not_na_.size and key.size != k:
            key = key[model.not_na_]
        idx = np.argsort(key, kind="stable")
    fits: list[RMA | None] = []
    for j in range(1, k + 1):
        keep = np.zeros(k, bool)
        keep[idx[:j]] = True
        sub = _refit_subset(model, idx[:j])
        fits.append(sub)
    out = _summary_rows(fits)
    out["index"] = idx
    return out


def _refit_subset(model: RMA, rows: np.ndarray) -> RMA | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return RMA(
                method=model.method, test=model.test_, level=model.level, control=model.control
            ).fit(model.yi_[rows], model.vi_[rows])
        except StatsError:
            return None
