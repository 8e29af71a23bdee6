"""Equal-, fixed- and random-effects models and meta-regression (metafor's ``rma.uni``).

Hand-written: no Python package reproduces metafor (pimeta, PyMARE, statsmodels
and PythonMeta each differ in estimators, stopping rules or edge cases), so the
estimators follow metafor 3.8 line by line, including its stopping rules, so that
both metafor's *default* output and the converged ("tight") values can be matched:

* tau^2 by DL, HE, HS, HSk, SJ (closed form); ML, REML, EB by Fisher scoring with
  metafor's stopping rule ``|tau2_new - tau2_old| <= threshold`` (default 1e-5) started
  at the HE estimate; PM/PMM by R's ``uniroot`` on the generalised Q statistic.
* tests ``z``, ``t``, ``knha`` (Hartung-Knapp-Sidik-Jonkman) and ``adhoc`` (knha with
  ``max(1, s2w)``, Knapp & Hartung 2003 / Jackson et al. 2017).
* Where metafor stops with an error, :class:`RMA` raises :class:`StatsError` with the
  same message; where metafor warns, the warning is emitted (``MetaWarning``) and kept
  in ``warnings_``.  A Fisher-scoring run that does not converge stops with metafor's
  error by default; ``RMA(step_halving=True)`` retries with ``stepadj`` halved (0.5,
  0.25, ...), metafor's documented remedy, and says so in a warning.  Every iterate is
  kept in ``trace_`` (printed when ``verbose=True``).
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.base import BaseEstimator

from fmreview.errors import InputError, StatsError, unknown_name
from fmreview.meta._common import MetaWarning, level_alpha
from fmreview.meta._linalg import LOG_2PI, inv_xwx, loglik, p_matrix, q_stat, wls
from fmreview.meta._uniroot import R_DEFAULT_TOL, uniroot
from fmreview.meta.design import Data, model_frame
from fmreview.meta.heterogeneity import confint_tau2
from fmreview.meta.transforms import resolve_transform

__all__ = ["METHODS", "TESTS", "MetaWarning", "RMA", "default_control"]

METHODS = ("EE", "FE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM")
TESTS = ("z", "t", "knha", "adhoc")
DBL_EPS = 2.220446049250313e-16


def default_control() -> dict[str, Any]:
    """metafor's ``rma.uni`` control defaults."""
    return {
        "threshold": 1e-5,
        "maxiter": 100,
        "stepadj": 1.0,
        "tol": R_DEFAULT_TOL,
        "tau2_init": None,
        "tau2_min": 0.0,
        "tau2_max": 100.0,
    }


def _norm_control(control: Mapping[str, Any] | None) -> dict[str, Any]:
    con = default_control()
    for key, val in (control or {}).items():
        k = key.replace(".", "_")
        if k not in con:
            raise unknown_name("control setting", key, list(con))
        con[k] = val
    return con


#: kept for callers of the old private name
_level_alpha = level_alpha

NONCONVERGENCE = "Fisher scoring algorithm did not converge. See 'help(rma)' for possible remedies."


class RMA(BaseEstimator):  # type: ignore[misc]
    """Random-effects (or equal/fixed-effects) model, optionally with moderators.

    Parameters
    ----------
    method
        tau^2 estimator: EE, FE, DL, HE, HS, HSk, SJ, ML, REML, EB, PM, PMM.
    test
        ``z`` (normal), ``t`` (t with k-p df), ``knha`` (Hartung-Knapp) or ``adhoc``
        (Hartung-Knapp with the variance factor truncated at 1).
    level
        Confidence level in percent (95) or as a fraction (0.95).
    control
        metafor's control list: ``threshold``, ``maxiter``, ``stepadj``, ``tol``,
        ``tau2_init``, ``tau2_min``, ``tau2_max`` (dots or underscores).
    tau2
        Fix tau^2 at this value instead of estimating it.
    step_halving
        When Fisher scoring (ML/REML/EB) does not converge, retry with ``stepadj``
        halved up to ten times instead of stopping with metafor's error.
    verbose
        Print each Fisher-scoring iterate to stderr (they are also in ``trace_``).

    Attributes (after :meth:`fit`)
    ------------------------------
    beta_, se_, zval_, pval_, ci_lb_, ci_ub_, vb_ : coefficients, named by ``coef_names_``
    tau2_, se_tau2_, I2_, H2_, QE_, QEp_, QM_, QMp_, QMdf_, R2_, s2w_, weights_ (percent),
    fit_stats_ (``{"ML": {...}, "REML": {...}}``), k_, p_, ddf_, test_, warnings_,
    trace_ (Fisher-scoring iterates: ``{"iteration", "tau2", "change", "stepadj"}``).
    """

    def __init__(
        self,
        *,
        method: str = "REML",
        test: str = "z",
        level: float = 95.0,
        control: Mapping[str, Any] | None = None,
        tau2: float | None = None,
        step_halving: bool = False,
        verbose: bool = False,
    ) -> None:
        self.method = method
        self.test = test
        self.level = level
        self.control = control
        self.tau2 = tau2
        self.step_halving = step_halving
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def _warn(self, msg: str) -> None:
        self.warnings_.append(msg)
        warnings.warn(msg, MetaWarning, stacklevel=3)

    def fit(
        self,
        yi: ArrayLike | str,
        vi: ArrayLike | str | None = None,
        mods: ArrayLike | str | None = None,
        *,
        sei: ArrayLike | str | None = None,
        subset: ArrayLike | str | None = None,
        data: Data | None = None,
        coef_names: Sequence[str] | None = None,
        intercept: bool = True,
    ) -> RMA:
        """Fit the model to effect sizes ``yi`` with sampling variances ``vi``.

        As metafor's ``rma(yi, vi, mods, sei=, subset=, data=)``: ``sei`` (standard
        errors) may replace ``vi``; ``yi``/``vi``/``sei``/``subset`` may name columns
        of ``data`` (a DataFrame, a dict of columns or a list of row dicts); ``mods``
        is a ``(k, q)`` array (an intercept is added unless ``intercept=False``) or an
        R formula such as ``"~ factor(alloc) + year"`` over ``data`` (coefficients get
        R's names, e.g. ``factor(alloc)random``; ``- 1`` drops the intercept).
        ``subset`` is a boolean mask or 0-based row indices applied before anything
        else, like R's ``subset``.
        """
        frame = model_frame(yi, vi, sei, mods, subset, data, coef_names, intercept)
        return self._fit_arrays(frame.yi, frame.vi, frame.X, frame.names)

    def _fit_arrays(self, y: np.ndarray, v: np.ndarray, X: np.ndarray, names: list[str]) -> RMA:
        method = self.method
        if method not in METHODS:
            raise unknown_name("tau^2 estimator", method, METHODS)
        if self.test not in TESTS:
            raise unknown_name("test", self.test, TESTS)
        self.alpha_ = level_alpha(self.level)
        con = _norm_control(self.control)
        self.control_ = con
        self.warnings_: list[str] = []
        self.trace_: list[dict[str, float]] = []
        ok = ~(np.isnan(y) | np.isnan(v) | np.isnan(X).any(axis=1))
        if not ok.all():
            self._warn("Studies with NAs omitted from model fitting.")
        self.not_na_ = ok
        y, v, X = y[ok], v[ok], X[ok]
        if np.any(v <= 0):
            self._warn("There are outcomes with non-positive sampling variances.")
        if np.any(v < 0):
            self._warn("Negative sampling variances constrained to zero.")
            v = np.where(v < 0, 0.0, v)
        k, p = X.shape
        if k == 0:
            raise StatsError("Processing terminated since k = 0 (no study has both yi and vi).")
        if p > k:
            raise StatsError(
                f"Number of parameters to be estimated ({p}) is larger than the number of observations ({k}); "
                "drop moderators"
            )
        test = self.test
        if k == p and k > 1 and (method not in ("EE", "FE") or test != "z"):
            raise StatsError(
                f"{k} studies for {p} coefficients leave no degrees of freedom for tau^2 or a "
                f"{test} test; drop moderators or use method='EE' with test='z'"
            )
        if k == 1 and test != "z":
            self._warn('Setting argument test="z" since k=1.')
            test = "z"
        self.test_ = test
        self.yi_, self.vi_, self.X_, self.coef_names_ = y, v, X, list(names)
        self.k_, self.p_ = k, p
        self.allvipos_ = bool(np.all(v > 0))
        tau2, se_tau2 = self._estimate_tau2(y, v, X, con)
        self.tau2_ = float(tau2)
        self.se_tau2_ = None if se_tau2 is None or not np.isfinite(se_tau2) else float(se_tau2)
        self._finish(y, v, X, con)
        return self

    # ----------------------------------------------------------- tau^2 estimators
    def _estimate_tau2(self, y, v, X, con) -> tuple[float, float | None]:  # noqa: C901
        method = self.method
        k, p = X.shape
        if method in ("EE", "FE"):
            return 0.0, None
        if self.tau2 is not None:
            return float(self.tau2), None
        if k == 1:
            return 0.0, None
        tmin = float(con["tau2_min"])
        if method in ("DL", "HS", "HSk", "PM", "PMM") and not self.allvipos_:
            raise StatsError(
                f"{method} estimator cannot be used when there are non-positive sampling variances in the data."
            )
        if method in ("HE", "ML", "REML", "EB"):
            P = np.eye(k) - X @ np.linalg.inv(X.T @ X) @ X.T
            rss = wls(y, X, np.ones(k))[2]
            PV = P * v[None, :]
            trPV = float(np.trace(PV))
            tau2 = (rss - trPV) / (k - p)
            if method == "HE":
                t = max(tau2, 0.0)
                se = math.sqrt(
                    1 / (k - p) ** 2 * (2 * np.trace(PV @ PV) + 4 * t * trPV + 2 * t**2 * (k - p))
                )
                return max(tmin, tau2), se
            if con["tau2_init"] is not None:
                tau2 = float(con["tau2_init"])
            else:
                tau2 = max(0.0, tau2)
            return self._fisher_scoring(y, v, X, tau2, con)
        if method in ("DL", "HS", "HSk"):
            w = 1 / v
            P = p_matrix(X, w)
            rss = wls(y, X, w)[2]
            trP = float(np.trace(P))
            trPP = float(np.sum(P * P.T))
            if method == "DL":
                tau2 = (rss - (k - p)) / trP
                t = max(tau2, 0.0)
                se = math.sqrt(1 / trP**2 * (2 * (k - p) + 4 * t * trP + 2 * t**2 * trPP))
            else:
                if method == "HS":
                    tau2 = (rss - k) / np.sum(w)
                else:
                    tau2 = k / (k - p) * (rss - (k - p)) / np.sum(w)
                t = max(tau2, 0.0)
                se = math.sqrt(1 / np.sum(w) ** 2 * (2 * (k - p) + 4 * t * trP + 2 * t**2 * trPP))
                if method == "HSk":
                    se = se * k / (k - p)
            return max(tmin, tau2), se
        if method == "SJ":
            tau0 = (
                float(con["tau2_init"])
                if con["tau2_init"] is not None
                else float(np.var(y, ddof=1) * (k - 1) / k)
            )
            w = 1 / (v + tau0)
            P = p_matrix(X, w)
            rss = wls(y, X, w)[2]
            tau2 = tau0 * rss / (k - p)
            V = np.diag(v)
            PV = P @ V
            t = max(tau2, 0.0)
            se = math.sqrt(
                tau0**2
                / (k - p) ** 2
                * (2 * np.trace(PV @ PV) + 4 * t * np.trace(PV @ P) + 2 * t**2 * np.trace(P @ P))
            )
            return max(tmin, tau2), se
        # PM / PMM
        target = (k - p) if method == "PM" else float(stats.chi2.ppf(0.5, k - p))
        tmax = float(con["tau2_max"])

        def f(t: float) -> float:
            return q_stat(y, v, X, t) - target

        if f(tmin) < 0:
            tau2 = tmin
        else:
            if f(tmax) > 0:
                raise StatsError(
                    "Value of 'tau2.max' too low. Try increasing 'tau2.max' or switch to another 'method'."
                )
            tau2, _ = uniroot(
                f, tmin, tmax, tol=float(con["tol"]), maxiter=int(con["maxiter"]), what="PM tau^2"
            )
        return max(tmin, tau2), _se_eb(v, X, tau2)

    def _fisher_scoring(self, y, v, X, tau2_start, con) -> tuple[float, float | None]:
        """metafor's Fisher scoring; on non-convergence metafor's error, or with
        ``step_halving=True`` retries with ``stepadj`` halved (metafor's remedy)."""
        stepadj = float(con["stepadj"])
        try:
            return self._fisher_scoring_run(y, v, X, tau2_start, con, stepadj)
        except _NotConverged as exc:
            if not self.step_halving:
                raise StatsError(
                    f"{NONCONVERGENCE} (fmreview: last tau^2 = {exc.tau2:.6g} after "
                    f"{int(con['maxiter'])} iterations; set control={{'stepadj': {stepadj / 2:g}}} "
                    "or RMA(step_halving=True) to retry with step halving.)"
                ) from None
        for _ in range(10):
            stepadj /= 2
            try:
                out = self._fisher_scoring_run(y, v, X, tau2_start, con, stepadj)
            except _NotConverged:
                continue
            self._warn(
                f"Fisher scoring algorithm did not converge with stepadj = {float(con['stepadj']):g}; "
                f"converged with step halving, stepadj = {stepadj:g}."
            )
            return out
        raise StatsError(
            f"{NONCONVERGENCE} (fmreview: not even with step halving down to stepadj = {stepadj:g}; "
            "try another method.)"
        )

    def _score(self, y, v, X, tau2: float) -> float:
        """The ML/REML/EB estimating equation for tau^2 (zero at the estimate)."""
        k, p = X.shape
        w = 1 / (v + tau2)
        P = p_matrix(X, w)
        e = y - X @ wls(y, X, w)[0]
        py = w * e
        if self.method == "ML":
            return float(py @ py) - float(np.sum(w))
        if self.method == "REML":
            return float(py @ py) - float(np.trace(P))
        return float(py @ e) * k / (k - p) - k

    def _fisher_scoring_run(self, y, v, X, tau2, con, stepadj) -> tuple[float, float | None]:
        method = self.method
        k, p = X.shape
        threshold = float(con["threshold"])
        maxiter = int(con["maxiter"])
        tmin = float(con["tau2_min"])
        change = threshold + 1
        it = 0
        w = P = PP = None
        self.iterations_ = 0
        while change > threshold:
            it += 1
            old = tau2
            if np.any(tau2 + v < 0):
                raise StatsError("Some marginal variances are negative.")
            with np.errstate(divide="ignore"):
                w = 1 / (v + tau2)
            if np.any(np.isinf(w)):
                raise StatsError("Division by zero when computing the inverse variance weights.")
            P = p_matrix(X, w)
            beta = wls(y, X, w)[0]
            py = w * (y - X @ beta)  # P y, computed stably
            if method == "ML":
                adj = (float(py @ py) - float(np.sum(w))) / float(np.sum(w**2))
            elif method == "REML":
                PP = P @ P
                adj = (float(py @ py) - float(np.trace(P))) / float(np.trace(PP))
            else:  # EB
                adj = (float(py @ (y - X @ beta)) * k / (k - p) - k) / float(np.sum(w))
            adj *= stepadj
            while tau2 + adj < tmin:
                adj /= 2
            tau2 = tau2 + adj
            change = abs(old - tau2)
            self.trace_.append(
                {"iteration": it, "tau2": tau2, "change": change, "stepadj": stepadj}
            )
            if self.verbose:
                print(
                    f"Iteration {it}\ttau^2 = {tau2:.10g}\tchange = {change:.4g}",
                    file=sys.stderr,
                )
            if it > maxiter:
                raise _NotConverged(tau2)
        self.iterations_ = it
        tau2 = max(tmin, tau2)
        return tau2, self._se_iterative(v, X, tau2)

    def _se_iterative(self, v, X, tau2: float) -> float:
        """Standard error of the ML/REML/EB tau^2 at the final estimate (as metafor reports it)."""
        w = 1 / (v + tau2)
        P = p_matrix(X, w)
        if self.method == "ML":
            return math.sqrt(2 / float(np.sum(w**2)))
        if self.method == "REML":
            return math.sqrt(2 / float(np.sum(P * P.T)))
        return _se_eb(v, X, tau2, w=w, P=P)

    # -------------------------------------------------------------- inference
    def _finish(self, y, v, X, con) -> None:
        k, p = X.shape
        tau2 = self.tau2_
        with np.errstate(divide="ignore"):
            w = 1 / (v + tau2)
        if np.any(np.isinf(w)):
            raise StatsError("Division by zero when computing the inverse variance weights.")
        beta, vb, rss_f = wls(y, X, w)
        test = self.test_
        s2w = 1.0
        if test in ("knha", "adhoc"):
            s2w = 0.0 if rss_f <= DBL_EPS else rss_f / (k - p)
            if test == "adhoc":
                s2w = max(1.0, s2w)
            vb = s2w * vb
        self.s2w_ = s2w
        self.beta_, self.vb_ = beta, vb
        se = np.sqrt(np.diag(vb))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = beta / se
        self.se_, self.zval_ = se, z
        alpha = self.alpha_
        if test == "z":
            self.ddf_ = None
            self.pval_ = 2 * stats.norm.sf(np.abs(z))
            crit = float(stats.norm.isf(alpha / 2))
        else:
            self.ddf_ = k - p
            self.pval_ = 2 * stats.t.sf(np.abs(z), k - p)
            crit = float(stats.t.isf(alpha / 2, k - p))
        self.crit_ = crit
        self.ci_lb_ = beta - crit * se
        self.ci_ub_ = beta + crit * se
        self.weights_ = 100 * w / np.sum(w)
        self._w = w
        # omnibus test of moderators (intercept alone when there are none)
        btt = list(range(1, p)) if (p > 1 and self.coef_names_[0] == "intrcpt") else list(range(p))
        self.btt_ = btt
        bsub = beta[btt]
        vsub = vb[np.ix_(btt, btt)]
        m = len(btt)
        try:
            qm = float(bsub @ np.linalg.solve(vsub, bsub))
            if (
                not np.all(np.isfinite(np.linalg.eigvalsh(vsub)))
                or np.min(np.linalg.eigvalsh(vsub)) <= 0
            ):
                qm = math.nan
        except np.linalg.LinAlgError:
            qm = math.nan
        if test == "z":
            self.QM_, self.QMdf_ = qm, (m, None)
            self.QMp_ = float(stats.chi2.sf(qm, m))
        else:
            self.QM_, self.QMdf_ = qm / m, (m, k - p)
            self.QMp_ = float(stats.f.sf(qm / m, m, k - p))
        # heterogeneity with the equal-effects weights
        self.QE_: float | None
        self.QEp_: float | None
        self.I2_: float | None
        self.H2_: float | None
        if self.allvipos_:
            w0 = 1 / v
            P0 = p_matrix(X, w0)
            qe = max(0.0, wls(y, X, w0)[2])
            self.QE_ = qe
            self.QEp_ = float(stats.chi2.sf(qe, k - p)) if k - p >= 1 else 1.0
            trp = float(np.trace(P0))
            vt = (k - p) / trp if trp > 0 else math.nan
            self.vt_ = vt
            if k - p == 0:
                self.I2_, self.H2_ = 0.0, 1.0
            elif self.method in ("EE", "FE"):
                self.I2_ = 100 * max(0.0, (qe - (k - p)) / qe) if qe > 0 else 0.0
                self.H2_ = qe / (k - p) if k - p > 0 else 1.0
            else:
                self.I2_ = 100 * tau2 / (vt + tau2) if vt + tau2 > 0 else 0.0
                self.H2_ = tau2 / vt + 1 if k - p > 0 else 1.0
        else:
            self._warn(
                "Cannot compute Q-test, I^2, or H^2 when there are non-positive sampling variances in the data."
            )
            self.QE_ = self.QEp_ = self.I2_ = self.H2_ = None
            self.vt_ = math.nan
        self.fit_stats_ = self._fit_stats(y, v, X, tau2, rss_f)
        self.R2_ = None
        if p > 1 and self.coef_names_[0] == "intrcpt":
            self.R2_ = self._r2(y, v)

    def _fit_stats(self, y, v, X, tau2, rss_f) -> dict[str, dict[str, float]]:
        k, p = X.shape
        w = 1 / (v + tau2)
        ll_ml = float(-0.5 * k * LOG_2PI - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * rss_f)
        _, ld_xx = np.linalg.slogdet(X.T @ X)
        _, ld_xwx = np.linalg.slogdet(X.T @ (w[:, None] * X))
        ll_reml = float(
            -0.5 * (k - p) * LOG_2PI
            + 0.5 * ld_xx
            - 0.5 * np.sum(np.log(v + tau2))
            - 0.5 * ld_xwx
            - 0.5 * rss_f
        )
        with np.errstate(divide="ignore"):
            ll_qe = float(-0.5 * k * LOG_2PI - 0.5 * np.sum(np.log(v)))
        # metafor: the saturated log-likelihood is taken as 0 when some vi <= 0
        dev_ml = -2 * (ll_ml - ll_qe) if self.allvipos_ else -2 * ll_ml
        parms = p + (0 if self.method in ("EE", "FE") or self.tau2 is not None else 1)

        def block(ll: float, dev: float, n: int) -> dict[str, float]:
            m = max(n, parms + 2)
            with np.errstate(divide="ignore"):
                bic = -2 * ll + parms * (math.log(n) if n > 0 else -math.inf)
            return {
                "ll": ll,
                "dev": dev,
                "AIC": -2 * ll + 2 * parms,
                "BIC": bic,
                "AICc": -2 * ll + 2 * parms * m / (m - parms - 1),
            }

        return {"ML": block(ll_ml, dev_ml, k), "REML": block(ll_reml, -2 * ll_reml, k - p)}

    def _r2(self, y, v) -> float | None:
        base = RMA(
            method=self.method,
            test="z",
            level=self.level,
            control=self.control,
            step_halving=self.step_halving,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetaWarning)
            try:
                base.fit(y, v)
            except StatsError:
                return None
        if self.method in ("EE", "FE"):
            # metafor 3.8: for equal/fixed-effects fits R^2 compares H^2 = QE/df
            if base.H2_ is None or self.H2_ is None or base.H2_ <= 0:
                return None
            return max(0.0, 100 * (base.H2_ - self.H2_) / base.H2_)
        if base.tau2_ <= 0:
            return None
        return max(0.0, 100 * (base.tau2_ - self.tau2_) / base.tau2_)

    # --------------------------------------------------------------- outputs
    def _check_fitted(self) -> None:
        if not hasattr(self, "beta_"):
            raise StatsError("This RMA model is not fitted yet; call fit(yi, vi) first")

    def predict(
        self,
        newmods: ArrayLike | None = None,
        *,
        transf: Callable[[np.ndarray], np.ndarray] | str | None = None,
        targs: Mapping[str, Any] | None = None,
        intercept: bool = True,
    ) -> dict[str, Any]:
        """Predicted (pooled) effect with CI and, for random-effects models, prediction interval.

        The prediction interval is ``pred +- crit * sqrt(se^2 + tau2)`` with the
        same quantile as the CI (normal for ``z``, t(k-p) otherwise), as metafor;
        ``cr_lb``/``cr_ub`` are metafor's names for the same bounds.  ``transf`` is a
        callable (e.g. :func:`fmreview.meta.transf_ztor`, ``numpy.exp``) or the name of
        a back-transform (``"exp"``, ``"ilogit"``, ``"ztor"``, ``"iarcsin"``,
        ``"ipft_hm"`` with ``targs={"ni": ...}``), applied to pred and the bounds
        (``se`` becomes None), as ``predict(res, transf=, targs=)``.
        """
        self._check_fitted()
        p = self.p_
        if newmods is None:
            X0 = np.ones((1, 1)) if p == 1 else self.X_
        else:
            M = np.atleast_2d(np.asarray(newmods, dtype=float))
            if p - int(intercept) == 1 and M.shape[0] == 1 and M.shape[1] != 1:
                M = M.T
            X0 = np.hstack([np.ones((M.shape[0], 1)), M]) if intercept else M
            if X0.shape[1] != p:
                raise InputError(
                    f"newmods has {X0.shape[1] - int(intercept)} columns but the model has "
                    f"{p - int(intercept)} moderators"
                )
        pred = X0 @ self.beta_
        se = np.sqrt(np.einsum("ij,jk,ik->i", X0, self.vb_, X0))
        crit = self.crit_
        out: dict[str, Any] = {
            "pred": pred,
            "se": se,
            "ci_lb": pred - crit * se,
            "ci_ub": pred + crit * se,
        }
        if self.method not in ("EE", "FE"):
            sp = np.sqrt(se**2 + self.tau2_)
            out["pi_lb"] = pred - crit * sp
            out["pi_ub"] = pred + crit * sp
        if transf is not None:
            fn = (
                resolve_transform(transf, **dict(targs or {}))
                if isinstance(transf, str)
                else (lambda x: transf(x, **dict(targs or {})))  # noqa: E731
            )
            out = {
                key: (None if key == "se" else np.asarray(fn(val), dtype=float))
                for key, val in out.items()
            }
            for lo, hi in (("ci_lb", "ci_ub"), ("pi_lb", "pi_ub")):
                if lo in out:
                    a, b = out[lo], out[hi]
                    out[lo], out[hi] = np.minimum(a, b), np.maximum(a, b)
        if "pi_lb" in out:
            out["cr_lb"], out["cr_ub"] = out["pi_lb"], out["pi_ub"]
        return out

    def loglik(self, tau2: float | None = None, *, restricted: bool | None = None) -> float:
        """The log-likelihood at ``tau2`` (default: the estimate), as metafor's ``logLik``.

        ``restricted=True`` gives the restricted (REML) log-likelihood, ``False`` the
        ML one; by default REML for REML fits and ML otherwise.
        """
        self._check_fitted()
        t = self.tau2_ if tau2 is None else float(tau2)
        reml = self.method == "REML" if restricted is None else restricted
        return loglik(self.yi_, self.vi_, self.X_, t, reml)

    def fitted(self) -> np.ndarray:
        """Fitted values ``X beta`` for the studies used in the fit."""
        self._check_fitted()
        return self.X_ @ self.beta_

    def residuals(self) -> np.ndarray:
        """Raw residuals ``yi - X beta``."""
        return self.yi_ - self.fitted()

    def rstandard(self) -> dict[str, np.ndarray]:
        """Standardized residuals (metafor ``rstandard``): resid, se, z."""
        self._check_fitted()
        w = self._w
        X = self.X_
        H = X @ inv_xwx(X, w) @ (X.T * w)
        v = self.vi_ + self.tau2_
        # like metafor, the residual variances are not scaled by s2w under knha/adhoc
        var = (np.eye(self.k_) - H) @ np.diag(v) @ (np.eye(self.k_) - H).T
        e = self.residuals()
        se = np.sqrt(np.diag(var))
        with np.errstate(divide="ignore", invalid="ignore"):
            return {"resid": e, "se": se, "z": e / se}

    def hatvalues(self) -> np.ndarray:
        """Diagonal of the hat matrix."""
        self._check_fitted()
        w = self._w
        X = self.X_
        return np.diag(X @ inv_xwx(X, w) @ (X.T * w)).copy()

    def confint(
        self,
        *,
        type: str = "QP",
        level: float | None = None,
        control: Mapping[str, Any] | None = None,
    ):
        """Confidence intervals for tau^2, tau, I^2, H^2 (Q-profile ``QP`` or profile likelihood ``PL``)."""
        return confint_tau2(self, type=type, level=level, control=control)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (coefficients by name, heterogeneity, fit statistics)."""
        self._check_fitted()
        from fmreview.meta._json import jsonable

        names = self.coef_names_
        coefs = {
            n: {
                "estimate": self.beta_[i],
                "se": self.se_[i],
                "zval": self.zval_[i],
                "pval": self.pval_[i],
                "ci_lb": self.ci_lb_[i],
                "ci_ub": self.ci_ub_[i],
            }
            for i, n in enumerate(names)
        }
        return jsonable(
            {
                "method": self.method,
                "test": self.test_,
                "level": 100 * (1 - self.alpha_),
                "k": self.k_,
                "p": self.p_,
                "coefficients": coefs,
                "tau2": self.tau2_,
                "se_tau2": self.se_tau2_,
                "tau": math.sqrt(self.tau2_),
                "I2": self.I2_,
                "H2": self.H2_,
                "QE": self.QE_,
                "QEp": self.QEp_,
                "QEdf": self.k_ - self.p_,
                "QM": self.QM_,
                "QMp": self.QMp_,
                "QMdf": list(self.QMdf_),
                "R2": self.R2_,
                "s2w": self.s2w_,
                "ddf": self.ddf_,
                "weights_pct": self.weights_,
                "fit_stats": self.fit_stats_,
                "control": self.control_,
                "warnings": list(self.warnings_),
            }
        )


def _se_eb(v, X, tau2, w=None, P=None) -> float:
    """metafor's standard error of the EB (and PM/PMM) tau^2 estimate."""
    k, p = X.shape
    if w is None or P is None:
        w = 1 / (v + tau2)
        P = p_matrix(X, w)
    PV = P * v[None, :]
    t = max(tau2, 0.0)
    return math.sqrt(
        (k / (k - p)) ** 2
        / float(np.sum(w)) ** 2
        * (2 * np.trace(PV @ PV) + 4 * t * np.trace(PV @ P) + 2 * t**2 * np.trace(P @ P))
    )


class _NotConverged(Exception):
    def __init__(self, tau2: float) -> None:
        super().__init__(tau2)
        self.tau2 = tau2
