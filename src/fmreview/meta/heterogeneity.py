"""Confidence intervals for tau^2, tau, I^2 and H^2 (metafor's ``confint.rma.uni``).

* ``QP`` - Q-profile method (Viechtbauer 2007, *Stat Med* 26:37): the bounds are the
  tau^2 values where the generalised Q statistic equals the chi^2(k-p) quantiles.
* ``PL`` - profile likelihood (ML or REML fits): where the likelihood-ratio statistic
  equals ``qchisq(level, 1)``.

Bounds are found with R's ``uniroot`` (ported in ``_uniroot``) between ``tau2_min``
(0) and ``tau2_max`` (``max(100, 10 tau^2)``), with ``tol`` as in metafor (default
``.Machine$double.eps^0.25``; pass ``control={"tol": 1e-12}`` for converged bounds).
A bound that hits ``tau2_max`` is reported as that limit, as metafor does, and a
warning says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
from scipy import stats

from fmreview.errors import InputError, StatsError
from fmreview.meta._common import MetaWarning, level_alpha
from fmreview.meta._linalg import loglik, p_matrix, q_stat
from fmreview.meta._uniroot import R_DEFAULT_TOL, uniroot

__all__ = ["FittedRMA", "confint_tau2"]


class FittedRMA(Protocol):
    """What :func:`confint_tau2` reads from a fitted :class:`~fmreview.meta.RMA`."""

    method: str
    alpha_: float
    k_: int
    p_: int
    tau2_: float
    allvipos_: bool
    yi_: np.ndarray
    vi_: np.ndarray
    X_: np.ndarray
    I2_: float | None
    H2_: float | None

    def _check_fitted(self) -> None: ...


def confint_tau2(
    model: FittedRMA,
    *,
    type: str = "QP",
    level: float | None = None,
    control: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, float | None]]:
    """Return ``{"tau2"|"tau"|"I2"|"H2": {"estimate", "ci_lb", "ci_ub"}}`` (I^2 in percent)."""
    model._check_fitted()
    if model.method in ("EE", "FE"):
        raise StatsError(
            "An equal/fixed-effects model has no tau^2 to bound; fit a random-effects method"
        )
    alpha = model.alpha_ if level is None else level_alpha(level)
    k, p = model.k_, model.p_
    if k == 1:
        raise StatsError("Stopped because k = 1.")
    if not model.allvipos_:
        raise StatsError(
            "Cannot compute CI for tau^2 when there are non-positive sampling variances in the data."
        )
    con = {
        "tol": R_DEFAULT_TOL,
        "maxiter": 1000,
        "tau2_min": 0.0,
        "tau2_max": max(100.0, 10 * model.tau2_),
    }
    for key, val in (control or {}).items():
        kk = key.replace(".", "_")
        if kk not in con:
            raise InputError(
                f"Unknown confint control setting {key!r}; available: {', '.join(con)}"
            )
        con[kk] = val
    tol, maxiter = float(con["tol"]), int(con["maxiter"])
    tmin, tmax = float(min(con["tau2_min"], model.tau2_)), float(con["tau2_max"])
    y, v, X = model.yi_, model.vi_, model.X_
    notes: list[str] = []
    if type == "QP":
        crit_u = float(stats.chi2.isf(alpha / 2, k - p))
        crit_l = float(stats.chi2.ppf(alpha / 2, k - p))
        q_min = q_stat(y, v, X, tmin)
        q_max = q_stat(y, v, X, tmax)

        def bound(crit: float) -> float:
            if q_min < crit:
                return tmin
            if q_max > crit:
                notes.append(f"the Q-profile bound reached tau2_max = {tmax:g} (not a real bound)")
                return tmax
            root, _ = uniroot(
                lambda t: q_stat(y, v, X, t) - crit, tmin, tmax, tol=tol, maxiter=maxiter
            )
            return root

        lb, ub = bound(crit_u), bound(crit_l)
    elif type == "PL":
        if model.method not in ("ML", "REML"):
            raise StatsError(
                f"Profile-likelihood CIs need an ML or REML fit, not {model.method}; use type='QP'"
            )
        reml = model.method == "REML"
        ll_hat = loglik(y, v, X, model.tau2_, reml)
        obj = float(stats.chi2.ppf(1 - alpha, 1))

        def prof(t: float) -> float:
            return -2 * (loglik(y, v, X, t, reml) - ll_hat) - obj

        if prof(tmin) < 0:
            lb = tmin
        else:
            lb, _ = uniroot(prof, tmin, model.tau2_, tol=tol, maxiter=maxiter)
        if prof(tmax) < 0:
            notes.append(
                f"the profile-likelihood bound reached tau2_max = {tmax:g} (not a real bound)"
            )
            ub = tmax
        else:
            ub, _ = uniroot(prof, model.tau2_, tmax, tol=tol, maxiter=maxiter)
    else:
        raise InputError(f"Unknown confidence-interval type {type!r}; available: PL, QP")
    for note in notes:
        warnings.warn(note, MetaWarning, stacklevel=2)
    P0 = p_matrix(X, 1 / v)
    vt = (k - p) / float(np.trace(P0))

    def i2(t: float) -> float:
        return 100 * t / (vt + t)

    def h2(t: float) -> float:
        return 1 + t / vt

    return {
        "tau2": {"estimate": model.tau2_, "ci_lb": lb, "ci_ub": ub},
        "tau": {
            "estimate": math.sqrt(model.tau2_),
            "ci_lb": math.sqrt(max(lb, 0)),
            "ci_ub": math.sqrt(max(ub, 0)),
        },
        "I2": {"estimate": model.I2_, "ci_lb": i2(lb), "ci_ub": i2(ub)},
        "H2": {"estimate": model.H2_, "ci_lb": h2(lb), "ci_ub": h2(ub)},
    }
