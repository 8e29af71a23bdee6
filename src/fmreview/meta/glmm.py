"""Binomial-normal random-effects model for single proportions (metafor's
``rma.glmm(measure = "PLO")``: ``lme4::glmer(cbind(xi, ni - xi) ~ 1 + (1 | study),
family = binomial, nAGQ = 7)``).

Hand-written (statsmodels' binomial mixed GLM is Bayesian/variational, not ML with
adaptive quadrature).  The marginal likelihood is integrated with 7-point adaptive
Gauss-Hermite quadrature at each study's conditional mode, like lme4, and maximised
to a tight tolerance; the standard error of the pooled logit comes from the numerical
Hessian of the deviance in (tau, beta), as lme4's ``vcov`` does.  lme4's optimisers
stop earlier, so agreement with metafor is about 1e-6, not to the last digit.

Heterogeneity tests as metafor: ``QE_Wld`` (Wald test of the study-specific logits of
the saturated logistic model, fitted by R-style IRLS) and ``QE_LRT`` (likelihood
ratio test of the fixed-effects logistic model against the saturated one); I^2 and
H^2 use tau^2 and the "typical" variance of the escalc PLO variances.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import ArrayLike
from scipy import optimize, stats
from scipy.special import expit, gammaln
from sklearn.base import BaseEstimator

from fmreview.errors import InputError, StatsError
from fmreview.meta._common import level_alpha as _level_alpha
from fmreview.meta._json import jsonable
from fmreview.meta.escalc import escalc

__all__ = ["BinomialGLMM"]

_Z, _W = hermegauss(7)


def _study_loglik(x: np.ndarray, n: np.ndarray, beta: float, tau: float) -> np.ndarray:
    """log of int Binom(x | n, expit(beta + tau u)) phi(u) du per study (AGHQ, 7 nodes)."""
    lchoose = gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1)
    u = np.zeros_like(x, dtype=float)
    for _ in range(100):  # Newton for the conditional mode
        p = expit(beta + tau * u)
        g1 = tau * (x - n * p) - u
        g2 = -(tau**2) * n * p * (1 - p) - 1
        step = g1 / g2
        u = u - step
        if np.max(np.abs(step)) < 1e-12:
            break
    p = expit(beta + tau * u)
    s = 1 / np.sqrt(tau**2 * n * p * (1 - p) + 1)
    uu = u[:, None] + s[:, None] * _Z[None, :]
    eta = beta + tau * uu
    g = (
        x[:, None] * eta
        - n[:, None] * np.logaddexp(0, eta)
        - uu**2 / 2
        - 0.5 * math.log(2 * math.pi)
        + _Z[None, :] ** 2 / 2
    )
    gmax = g.max(axis=1)
    return (
        lchoose + gmax + np.log(np.sum(_W[None, :] * np.exp(g - gmax[:, None]), axis=1)) + np.log(s)
    )


def _irls_glm(y: np.ndarray, n: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """R's ``glm.fit`` for a binomial logit model: (coef, unscaled covariance, deviance)."""
    mu = (n * y + 0.5) / (n + 1)
    eta = np.log(mu / (1 - mu))

    def dev_of(mu_: np.ndarray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = np.where(y > 0, y * np.log(y / mu_), 0.0)
            t2 = np.where(y < 1, (1 - y) * np.log((1 - y) / (1 - mu_)), 0.0)
        return float(2 * np.sum(n * (t1 + t2)))

    dev = dev_of(mu)
    coef = np.zeros(X.shape[1])
    R = np.eye(X.shape[1])
    for _ in range(25):
        mu_eta = mu * (1 - mu)
        z = eta + (y - mu) / mu_eta
        w = np.sqrt(n * mu_eta)
        Q, R = np.linalg.qr(X * w[:, None])
        coef = np.linalg.solve(R, Q.T @ (z * w))
        eta = X @ coef
        mu = expit(eta)
        dev_new = dev_of(mu)
        if abs(dev_new - dev) / (abs(dev_new) + 0.1) < 1e-8:
            dev = dev_new
            break
        dev = dev_new
    Ri = np.linalg.inv(R)
    return coef, Ri @ Ri.T, dev


class BinomialGLMM(BaseEstimator):  # type: ignore[misc]
    """Random-intercept logistic model for proportions ``xi / ni`` (ML, AGHQ with 7 nodes).

    Attributes after :meth:`fit`: ``beta_``, ``se_``, ``zval_``, ``pval_``, ``ci_lb_``,
    ``ci_ub_``, ``tau2_``, ``I2_``, ``H2_``, ``QE_Wld_``, ``QEp_Wld_``, ``QE_LRT_``,
    ``QEp_LRT_``, ``loglik_``, ``k_``.
    """

    def __init__(self, *, level: float = 95.0) -> None:
        self.level = level

    def fit(self, xi: ArrayLike, ni: ArrayLike) -> BinomialGLMM:
        """Fit to event counts ``xi`` out of ``ni`` per study."""
        x = np.atleast_1d(np.asarray(xi, dtype=float))
        n = np.atleast_1d(np.asarray(ni, dtype=float))
        ok = ~(np.isnan(x) | np.isnan(n))
        x, n = x[ok], n[ok]
        if np.any(x < 0) or np.any(x > n):
            raise InputError("BinomialGLMM needs 0 <= xi <= ni")
        k = x.size
        if k < 2:
            raise StatsError(f"the binomial-normal model needs at least 2 studies; got {k}")
        self.alpha_ = _level_alpha(self.level)
        self.k_ = k

        def nll(theta: np.ndarray) -> float:
            return -float(np.sum(_study_loglik(x, n, theta[0], math.exp(theta[1]))))

        p0 = (x.sum() + 0.5) / (n.sum() + 1)
        start = np.array([math.log(p0 / (1 - p0)), math.log(0.5)])
        res = optimize.minimize(
            nll,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 5000},
        )
        res = optimize.minimize(nll, res.x, method="BFGS", options={"gtol": 1e-9})
        beta, tau = float(res.x[0]), math.exp(float(res.x[1]))

        def dev(theta: np.ndarray) -> float:  # deviance in (beta, tau) as lme4
            return 2 * -float(np.sum(_study_loglik(x, n, theta[0], theta[1])))

        H = _hessian(dev, np.array([beta, tau]))
        V = 2 * np.linalg.inv(H)
        self.beta_, self.tau2_ = beta, tau**2
        self.se_ = math.sqrt(V[0, 0])
        self.zval_ = beta / self.se_
        self.pval_ = float(2 * stats.norm.sf(abs(self.zval_)))
        crit = float(stats.norm.isf(self.alpha_ / 2))
        self.crit_ = crit
        self.ci_lb_, self.ci_ub_ = beta - crit * self.se_, beta + crit * self.se_
        self.loglik_ = -float(res.fun)
        # heterogeneity as metafor: tau^2-based I^2 with escalc's PLO variances
        _, vi = escalc("PLO", xi=x, ni=n)
        w = 1 / vi
        vt = (k - 1) / (np.sum(w) - np.sum(w**2) / np.sum(w))
        self.I2_ = 100 * self.tau2_ / (vt + self.tau2_)
        self.H2_ = self.tau2_ / vt + 1
        y = x / n
        Xs = np.column_stack([np.ones(k), np.eye(k)[:, 1:]])
        coef, cov, dev_sat = _irls_glm(y, n, Xs)
        b2 = coef[1:]
        self.QE_Wld_ = float(b2 @ np.linalg.solve(cov[1:, 1:], b2))
        self.QEp_Wld_ = float(stats.chi2.sf(self.QE_Wld_, k - 1))
        _, _, dev_fe = _irls_glm(y, n, np.ones((k, 1)))
        self.QE_LRT_ = dev_fe - dev_sat
        self.QEp_LRT_ = float(stats.chi2.sf(self.QE_LRT_, k - 1))
        return self

    def predict(self, *, transf: Any = None) -> dict[str, Any]:
        """Pooled logit with CI and prediction interval (normal quantile, as metafor)."""
        sp = math.sqrt(self.se_**2 + self.tau2_)
        out: dict[str, Any] = {
            "pred": self.beta_,
            "se": self.se_,
            "ci_lb": self.ci_lb_,
            "ci_ub": self.ci_ub_,
            "pi_lb": self.beta_ - self.crit_ * sp,
            "pi_ub": self.beta_ + self.crit_ * sp,
        }
        if transf is not None:
            out = {k: (None if k == "se" else float(transf(v))) for k, v in out.items()}
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        keys = (
            *("beta_", "se_", "zval_", "pval_", "ci_lb_", "ci_ub_", "tau2_", "I2_", "H2_"),
            *("QE_Wld_", "QEp_Wld_", "QE_LRT_", "QEp_LRT_", "k_"),
        )
        return jsonable({k.rstrip("_"): getattr(self, k) for k in keys})


def _hessian(f: Any, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central finite-difference Hessian."""
    m = x.size
    H = np.empty((m, m))
    for i in range(m):
        for j in range(i, m):
            ei = np.zeros(m)
            ej = np.zeros(m)
            ei[i] = h * max(1.0, abs(x[i]))
            ej[j] = h * max(1.0, abs(x[j]))
            val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
                4 * ei[i] * ej[j]
            )
            H[i, j] = H[j, i] = val
    return H
