"""Bivariate random-effects model for sensitivity and specificity (Reitsma et al. 2005,
*J Clin Epidemiol* 58:982), as metafor's ``rma.mv(yi, vi, mods = ~ outcome - 1,
random = ~ outcome | study, struct = "UN", method = "REML")`` on logit sensitivities
and logit specificities, with a summary ROC curve.

Hand-written (no Python package fits this model with metafor's REML likelihood).
The REML log-likelihood is maximised over ``(log tau_sens, log tau_spec, atanh rho)``
with L-BFGS-B, then the REML score equations are solved by Fisher scoring, so results
are the exact optimum (a derivative-free optimiser pins the parameters only to ~1e-7,
the square root of the log-likelihood's rounding).  metafor's default ``nlminb``
(finite-difference gradients, ``rel.tol = 1e-10``) stops where the REML gradient is
still ~1e-5 (log-likelihood 6e-10 lower; tau2/rho up to 3e-5 away); run to
convergence (``control = list(optimizer = "newuoa", rhoend = 1e-12)``) it agrees with
this fit to 7e-8 (validation/metafor/cases/kearon1998_bivariate_tight).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, stats
from sklearn.base import BaseEstimator

from fmreview.errors import InputError, StatsError
from fmreview.meta._common import level_alpha as _level_alpha
from fmreview.meta._json import jsonable
from fmreview.meta._linalg import LOG_2PI
from fmreview.meta.escalc import escalc
from fmreview.meta.transforms import ilogit

__all__ = ["BivariateDTA"]


class BivariateDTA(BaseEstimator):  # type: ignore[misc]
    """Bivariate REML model for diagnostic test accuracy.

    Parameters
    ----------
    level : confidence level (95 or 0.95)
    add, to : continuity correction for the logit transforms (metafor's escalc PLO)

    Fit with counts ``tp, fn, tn, fp`` (or ``tp, np_pos, tn, nn_neg``) per study.
    Attributes: ``beta_`` (logit sens, logit spec), ``se_``, ``vb_``, ``ci_lb_``,
    ``ci_ub_``, ``zval_``, ``pval_``, ``tau2_`` (2,), ``rho_``, ``loglik_``,
    ``fit_stats_``, ``QE_``, ``QEp_``, ``sens_``/``spec_`` with CIs.
    """

    def __init__(self, *, level: float = 95.0, add: float = 0.5, to: str = "only0") -> None:
        self.level = level
        self.add = add
        self.to = to

    def fit(self, tp: ArrayLike, fn: ArrayLike, tn: ArrayLike, fp: ArrayLike) -> BivariateDTA:
        """Fit to per-study true positives, false negatives, true negatives, false positives."""
        tp_, fn_, tn_, fp_ = (np.asarray(a, dtype=float) for a in (tp, fn, tn, fp))
        ys, vs = escalc("PLO", xi=tp_, ni=tp_ + fn_, add=self.add, to=self.to)
        yc, vc = escalc("PLO", xi=tn_, ni=tn_ + fp_, add=self.add, to=self.to)
        return self.fit_logits(ys, vs, yc, vc)

    def fit_logits(
        self, y_sens: ArrayLike, v_sens: ArrayLike, y_spec: ArrayLike, v_spec: ArrayLike
    ) -> BivariateDTA:
        """Fit to logit sensitivities/specificities and their sampling variances."""
        ys, vs, yc, vc = (np.asarray(a, dtype=float) for a in (y_sens, v_sens, y_spec, v_spec))
        ok = ~(np.isnan(ys) | np.isnan(vs) | np.isnan(yc) | np.isnan(vc))
        ys, vs, yc, vc = ys[ok], vs[ok], yc[ok], vc[ok]
        k = ys.size
        if k < 3:
            raise StatsError(
                f"The bivariate model needs at least 3 studies with both sensitivity and specificity; got {k}"
            )
        if np.any(vs <= 0) or np.any(vc <= 0):
            raise InputError("sampling variances of the logits must be positive")
        self.alpha_ = _level_alpha(self.level)
        self.k_ = k
        y = np.column_stack([ys, yc])  # (k, 2)
        v = np.column_stack([vs, vc])
        n, p = 2 * k, 2

        def parts(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
            t1, t2 = math.exp(2 * theta[0]), math.exp(2 * theta[1])
            rho = math.tanh(theta[2])
            c = rho * math.sqrt(t1 * t2)
            a = t1 + v[:, 0]
            d = t2 + v[:, 1]
            det = a * d - c * c
            # inverse of each 2x2 block
            inv = np.stack(
                [np.stack([d / det, -c / det], -1), np.stack([-c / det, a / det], -1)], -2
            )
            xtvx = inv.sum(axis=0)  # X is the 2x2 identity per study
            xtvy = np.einsum("kij,kj->i", inv, y)
            vb = np.linalg.inv(xtvx)
            beta = vb @ xtvy
            r = y - beta
            rss = float(np.einsum("ki,kij,kj->", r, inv, r))
            ll = -0.5 * (
                (n - p) * LOG_2PI
                + float(np.sum(np.log(det)))
                + float(np.linalg.slogdet(xtvx)[1])
                + rss
            ) + 0.5 * float(np.linalg.slogdet(np.eye(2) * k)[1])
            return ll, beta, vb

        def nll(theta: np.ndarray) -> float:
            return -parts(theta)[0]

        s0 = np.log(np.sqrt(np.maximum(np.var(y, axis=0, ddof=1) - v.mean(axis=0), 0.01)))
        best = None
        for r0 in (0.0, -0.5, 0.5):
            res = optimize.minimize(
                nll,
                np.array([s0[0], s0[1], r0]),
                method="L-BFGS-B",
                options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 5000},
            )
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        res = optimize.minimize(
            nll,
            best.x,
            method="Nelder-Mead",
            options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000},
        )
        theta = res.x if res.fun <= best.fun else best.x
        g = _reml_root(y, v, _theta_to_g(theta))
        if g is not None and parts(_g_to_theta(g))[0] >= -nll(theta) - 1e-9:
            theta = _g_to_theta(g)  # the score root, when scoring reaches it and it is the max
        else:
            g = None
        ll, beta, vb = parts(theta)
        self.converged_ = bool(best.success or res.success or g is not None)
        self.tau2_ = np.array([math.exp(2 * theta[0]), math.exp(2 * theta[1])])
        self.rho_ = math.tanh(theta[2])
        if g is not None:
            self.tau2_ = np.array([g[0], g[1]])
            self.rho_ = g[2] / math.sqrt(g[0] * g[1])
        self.beta_, self.vb_ = beta, vb
        self.se_ = np.sqrt(np.diag(vb))
        self.zval_ = beta / self.se_
        self.pval_ = 2 * stats.norm.sf(np.abs(self.zval_))
        crit = float(stats.norm.isf(self.alpha_ / 2))
        self.ci_lb_ = beta - crit * self.se_
        self.ci_ub_ = beta + crit * self.se_
        self.loglik_ = ll
        parms = p + 3
        m = max(n - p, parms + 2)
        self.fit_stats_ = {
            "ll": ll,
            "dev": -2 * ll,
            "AIC": -2 * ll + 2 * parms,
            "BIC": -2 * ll + parms * math.log(n - p),
            "AICc": -2 * ll + 2 * parms * m / (m - parms - 1),
        }
        w = 1 / v
        mu0 = (w * y).sum(axis=0) / w.sum(axis=0)
        self.QE_ = float(np.sum(w * (y - mu0) ** 2))
        self.QEp_ = float(stats.chi2.sf(self.QE_, n - p))
        self.sens_ = {
            "est": float(ilogit(beta[0])),
            "ci_lb": float(ilogit(self.ci_lb_[0])),
            "ci_ub": float(ilogit(self.ci_ub_[0])),
        }
        self.spec_ = {
            "est": float(ilogit(beta[1])),
            "ci_lb": float(ilogit(self.ci_lb_[1])),
            "ci_ub": float(ilogit(self.ci_ub_[1])),
        }
        self.y_ = y
        return self

    def sroc(self, fpr: ArrayLike | None = None, n: int = 101) -> dict[str, np.ndarray]:
        """Summary ROC curve (Reitsma/Rutter-Gatsonis: E[logit sens | logit FPR]).

        Returns ``{"fpr", "sens"}`` over ``fpr`` (default: the observed FPR range).
        """
        mu_s, mu_c = self.beta_
        t_s, t_c = np.sqrt(self.tau2_)
        cov_sf = -self.rho_ * t_s * t_c  # logit FPR = -logit spec
        if fpr is None:
            obs = ilogit(-self.y_[:, 1])
            fpr = np.linspace(max(float(obs.min()), 1e-4), min(float(obs.max()), 1 - 1e-4), n)
        f = np.asarray(fpr, dtype=float)
        x = np.log(f / (1 - f))
        ls = mu_s + cov_sf / t_c**2 * (x - (-mu_c))
        return {"fpr": f, "sens": ilogit(ls)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        return jsonable(
            {
                "k": self.k_,
                "beta": {"logit_sens": self.beta_[0], "logit_spec": self.beta_[1]},
                "se": list(self.se_),
                "ci_lb": list(self.ci_lb_),
                "ci_ub": list(self.ci_ub_),
                "tau2": list(self.tau2_),
                "rho": self.rho_,
                "sensitivity": self.sens_,
                "specificity": self.spec_,
                "fit_stats": self.fit_stats_,
                "QE": self.QE_,
                "QEp": self.QEp_,
            }
        )


def _theta_to_g(theta: np.ndarray) -> np.ndarray:
    """(log tau_sens, log tau_spec, atanh rho) -> (tau2_sens, tau2_spec, covariance)."""
    t1, t2 = math.exp(2 * theta[0]), math.exp(2 * theta[1])
    return np.array([t1, t2, math.tanh(theta[2]) * math.sqrt(t1 * t2)])


def _g_to_theta(g: np.ndarray) -> np.ndarray:
    return np.array(
        [0.5 * math.log(g[0]), 0.5 * math.log(g[1]), math.atanh(g[2] / math.sqrt(g[0] * g[1]))]
    )


_DV = np.array([[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])


def _reml_root(y: np.ndarray, v: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """Solve the REML score equations for (tau2_sens, tau2_spec, cov) by Fisher scoring
    from ``g`` (a point near the optimum), with the 2x2 block structure.

    A derivative-free optimiser locates the REML optimum only to about the square root
    of the rounding error of the log-likelihood (parameters to ~1e-7); the score root is
    exact to ~1e-12.  Returns None when scoring leaves the positive-definite region or
    does not settle, and the caller keeps the optimiser's point.
    """
    for _ in range(200):
        if g[0] <= 0 or g[1] <= 0 or g[2] ** 2 >= g[0] * g[1]:
            return None
        m = np.empty((y.shape[0], 2, 2))
        m[:, 0, 0] = g[0] + v[:, 0]
        m[:, 1, 1] = g[1] + v[:, 1]
        m[:, 0, 1] = m[:, 1, 0] = g[2]
        w = np.linalg.inv(m)  # W_i per study
        a = np.linalg.inv(w.sum(axis=0))  # (X'WX)^-1, X = stacked identities
        beta = a @ np.einsum("kij,kj->i", w, y)
        e = np.einsum("kij,kj->ki", w, y - beta)  # P y, per study
        wdw = [np.einsum("kij,jl,klm->kim", w, d, w) for d in _DV]  # W_i D_j W_i
        score = np.empty(3)
        info = np.empty((3, 3))
        for j, dj in enumerate(_DV):
            tr_pd = np.einsum("kij,ji->", w, dj) - np.trace(a @ wdw[j].sum(axis=0))
            score[j] = 0.5 * (np.einsum("ki,ij,kj->", e, dj, e) - tr_pd)
            for h in range(j, 3):
                dh = _DV[h]
                t1 = np.einsum("kij,ji->", wdw[j] @ dh, np.eye(2))
                s_j = wdw[j].sum(axis=0)
                s_h = wdw[h].sum(axis=0)
                t2 = np.trace(a @ np.einsum("kij,jl,klm->im", wdw[j], dh, w))
                info[j, h] = info[h, j] = 0.5 * (t1 - 2 * t2 + np.trace(a @ s_j @ a @ s_h))
        step = np.linalg.solve(info, score)
        g = g + step
        if np.max(np.abs(step) / np.maximum(np.abs(g), 1e-8)) < 1e-13:
            return g
    return None
