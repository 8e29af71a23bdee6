"""Bivariate random-effects model for sensitivity and specificity (Reitsma et al. 2005,
*J Clin Epidemiol* 58:982), as metafor's ``rma.mv(yi, vi, mods = ~ outcome - 1,
random = ~ outcome | study, struct = "UN", method = "REML")`` on logit sensitivities
and logit specificities, with a summary ROC curve.

Hand-written (no Python package fits this model with metafor's REML likelihood).
The REML log-likelihood is maximised over ``(log tau_sens, log tau_spec, atanh rho)``
with L-BFGS-B to a tight tolerance, so results are the optimum; metafor's ``nlminb``
stops earlier, which puts its numbers within about 1e-5 of ours.
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
        ll, beta, vb = parts(theta)
        self.converged_ = bool(best.success or res.success)
        self.tau2_ = np.array([math.exp(2 * theta[0]), math.exp(2 * theta[1])])
        self.rho_ = math.tanh(theta[2])
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
