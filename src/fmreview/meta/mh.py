"""Mantel-Haenszel and Peto pooling of 2x2 tables (metafor's ``rma.mh`` and ``rma.peto``).

Hand-written to follow metafor 3.8 exactly (statsmodels' ``StratifiedTable`` has the
MH odds ratio, CMH and Breslow-Day tests but not MH risk ratios/differences, Peto, or
metafor's heterogeneity statistics).  Conventions copied from metafor:

* the pooled estimate uses the raw counts; the per-study ``yi/vi`` used for Q, I^2,
  H^2 and the log-likelihood come from :func:`escalc` with ``add=1/2``,
  ``to="only0"`` and ``drop00=True`` (double-zero tables are left out of Q);
* MH odds ratio with the Robins-Breslow-Greenland variance, the risk ratio with
  Greenland-Robins', the risk difference with Sato-Greenland-Robins';
* CMH test (``MH``, with continuity correction unless ``correct=False``), its
  variant with ``n`` instead of ``n - 1`` in the variance (``CO``), and the
  Breslow-Day test with (``TA``) and without (``BD``) Tarone's correction.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.base import BaseEstimator

from fmreview.errors import InputError, StatsError, unknown_name
from fmreview.meta._common import MetaWarning
from fmreview.meta._common import level_alpha as _level_alpha
from fmreview.meta._json import jsonable
from fmreview.meta._linalg import LOG_2PI
from fmreview.meta.escalc import escalc

__all__ = ["MantelHaenszel", "Peto"]


def _other_cell(cell: Any, total: Any, events: np.ndarray, names: str) -> np.ndarray:
    """A table's non-event cell: given, or the group total minus the events."""
    if cell is not None:
        return np.atleast_1d(np.asarray(cell, dtype=float))
    if total is None:
        raise InputError(f"give {names} for the 2x2 tables")
    return np.atleast_1d(np.asarray(total, dtype=float)) - events


def _tables(ai, bi, ci, di, n1i, n2i) -> tuple[np.ndarray, ...]:
    a = np.atleast_1d(np.asarray(ai, dtype=float))
    c = np.atleast_1d(np.asarray(ci, dtype=float))
    b = _other_cell(bi, n1i, a, "'bi' or 'n1i'")
    d = _other_cell(di, n2i, c, "'di' or 'n2i'")
    if np.any(np.array([a, b, c, d]) < 0):
        raise InputError("2x2 tables need non-negative counts; check ai, bi, ci, di (or n1i/n2i)")
    return a, b, c, d


# to_dict() key -> attribute, after the statistics
_TO_DICT_NAMES = (
    ("measure", "measure"),
    ("method", "method_label"),
    ("k", "k_"),
    ("k_yi", "k_yi_"),
    ("weights_pct", "weights_"),
    ("fit_stats", "fit_stats_"),
    ("warnings", "warnings_"),
)


class _TwoByTwo(BaseEstimator):  # type: ignore[misc]
    measure: str
    level: float
    add: float
    to: str
    drop00: bool
    weights_: np.ndarray
    MH_: float | None
    MHp_: float | None
    CO_: float | None
    COp_: float | None
    TA_: float | None
    TAp_: float | None
    BD_: float | None
    BDp_: float | None
    k_pos_: int | None
    method_label = "FE"

    def __init__(
        self, *, add: float = 0.5, to: str = "only0", drop00: bool = True, level: float = 95.0
    ) -> None:
        self.add = add
        self.to = to
        self.drop00 = drop00
        self.level = level

    def fit(
        self,
        ai: ArrayLike,
        bi: ArrayLike | None = None,
        ci: ArrayLike | None = None,
        di: ArrayLike | None = None,
        *,
        n1i: ArrayLike | None = None,
        n2i: ArrayLike | None = None,
    ) -> Self:
        """Fit to tables ``ai bi / ci di`` (or ``ai/n1i`` vs ``ci/n2i``)."""
        self._check()
        a, b, c, d = self._common_fit(ai, bi, ci, di, n1i, n2i)
        self._study_effects(a, b, c, d)
        self._pool(a, b, c, d)
        return self

    def _check(self) -> None:
        """Parameter checks before fitting (none for Peto)."""

    def _pool(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
        raise NotImplementedError

    def _common_fit(self, ai, bi, ci, di, n1i, n2i) -> tuple[np.ndarray, ...]:
        self.warnings_: list[str] = []
        self.alpha_ = _level_alpha(self.level)
        a, b, c, d = _tables(ai, bi, ci, di, n1i, n2i)
        ok = ~np.isnan(a + b + c + d)
        if not ok.all():
            self._warn("Studies with NAs omitted from model fitting.")
        a, b, c, d = a[ok], b[ok], c[ok], d[ok]
        if a.size == 0:
            raise StatsError("Processing terminated since k = 0.")
        self.k_ = int(a.size)
        self.k_all_ = int(ok.size)
        return a, b, c, d

    def _warn(self, msg: str) -> None:
        self.warnings_.append(msg)
        warnings.warn(msg, MetaWarning, stacklevel=3)

    def _study_effects(self, a, b, c, d) -> None:
        m = "PETO" if self.measure == "PETO" else self.measure
        yi, vi = escalc(m, ai=a, bi=b, ci=c, di=d, add=self.add, to=self.to, drop00=self.drop00)
        okyi = ~(np.isnan(yi) | np.isnan(vi))
        if not okyi.all():
            self._warn("Some yi/vi values are NA.")
        self.k_yi_ = int(okyi.sum())
        self.yi_, self.vi_ = yi[okyi], vi[okyi]  # like metafor's res$yi: NA tables left out
        self.study_ok_ = okyi

    def _inference(self, beta: float, vb: float) -> None:
        self.beta_ = float(beta)
        self.se_ = math.sqrt(vb) if vb >= 0 else math.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            self.zval_ = self.beta_ / self.se_
        self.pval_ = float(2 * stats.norm.sf(abs(self.zval_)))
        crit = float(stats.norm.isf(self.alpha_ / 2))
        self.ci_lb_ = self.beta_ - crit * self.se_
        self.ci_ub_ = self.beta_ + crit * self.se_

    def _heterogeneity(self, qe: float | None = None) -> None:
        y, v = self.yi_, self.vi_
        k = y.size
        rss = float(np.sum((y - self.beta_) ** 2 / v))
        self.QE_ = rss if qe is None else qe
        df = k - 1
        self.QEp_ = float(stats.chi2.sf(self.QE_, df)) if df >= 1 else 1.0
        if df >= 1 and self.QE_ > 0:
            self.I2_ = 100 * max(0.0, (self.QE_ - df) / self.QE_)
            self.H2_ = self.QE_ / df
        else:
            self.I2_, self.H2_ = 0.0, 1.0
        ll = float(-0.5 * k * LOG_2PI - 0.5 * np.sum(np.log(v)) - 0.5 * rss)
        ll_sat = float(-0.5 * k * LOG_2PI - 0.5 * np.sum(np.log(v)))
        m = max(k, 3)
        self.fit_stats_ = {
            "ML": {
                "ll": ll,
                "dev": -2 * (ll - ll_sat),
                "AIC": -2 * ll + 2,
                "BIC": -2 * ll + math.log(k) if k > 0 else math.nan,
                "AICc": -2 * ll + 2 * m / (m - 2),
            }
        }

    def predict(self, *, transf: Any = None) -> dict[str, Any]:
        """Pooled estimate and CI, optionally back-transformed (``transf=np.exp``)."""
        out: dict[str, Any] = {
            "pred": self.beta_,
            "se": self.se_,
            "ci_lb": self.ci_lb_,
            "ci_ub": self.ci_ub_,
        }
        if transf is not None:
            out = {k: (None if k == "se" else float(transf(v))) for k, v in out.items()}
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary."""
        keys = ("beta_", "se_", "zval_", "pval_", "ci_lb_", "ci_ub_", "QE_", "QEp_", "I2_", "H2_")
        out = {k.rstrip("_"): getattr(self, k) for k in keys}
        for k in ("MH_", "MHp_", "CO_", "COp_", "TA_", "TAp_", "BD_", "BDp_"):
            if getattr(self, k, None) is not None:
                out[k.rstrip("_")] = getattr(self, k)
        for key, attr in _TO_DICT_NAMES:
            out[key] = getattr(self, attr)
        return jsonable(out)


def _log_ratio(r: float, s: float, what: str) -> float:
    """``log(r / s)`` of the MH sums, or the error saying ``what`` is 0 or infinite."""
    if r == 0 or s == 0:
        raise StatsError(f"{what} is 0 or infinite")
    return math.log(r / s)


class MantelHaenszel(_TwoByTwo):
    """Mantel-Haenszel common OR, RR or RD over 2x2 tables.

    Parameters
    ----------
    measure : "OR", "RR" or "RD"
    correct : continuity correction in the CMH test (metafor default True)
    add, to, drop00 : continuity correction for the per-study effects used in Q
    level : confidence level (95 or 0.95)
    """

    def __init__(
        self,
        *,
        measure: str = "OR",
        correct: bool = True,
        add: float = 0.5,
        to: str = "only0",
        drop00: bool = True,
        level: float = 95.0,
    ) -> None:
        super().__init__(add=add, to=to, drop00=drop00, level=level)
        self.measure = measure
        self.correct = correct

    def _check(self) -> None:
        if self.measure not in ("OR", "RR", "RD"):
            raise unknown_name("Mantel-Haenszel measure", self.measure, ("OR", "RR", "RD"))

    def _pool(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
        n1, n2 = a + b, c + d
        n = n1 + n2
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.measure == "OR":
                R = float(np.sum(a * d / n))
                S = float(np.sum(b * c / n))
                beta = _log_ratio(
                    R, S, "All tables have a zero in the same diagonal; the MH odds ratio"
                )
                P = (a + d) / n
                Q = (b + c) / n
                vb = (
                    float(np.sum(P * a * d / n)) / (2 * R**2)
                    + float(np.sum(P * b * c / n + Q * a * d / n)) / (2 * R * S)
                    + float(np.sum(Q * b * c / n)) / (2 * S**2)
                )
                w = b * c / n
            elif self.measure == "RR":
                R = float(np.sum(a * n2 / n))
                S = float(np.sum(c * n1 / n))
                beta = _log_ratio(
                    R, S, "No events in one group across all tables; the MH risk ratio"
                )
                vb = float(np.sum((n1 * n2 * (a + c) - a * c * n) / n**2)) / (R * S)
                w = c * n1 / n
            else:
                W = float(np.sum(n1 * n2 / n))
                beta = float(np.sum(a * n2 / n - c * n1 / n)) / W
                P = float(np.sum((n1**2 * c - n2**2 * a + n1 * n2 * (n2 - n1) / 2) / n**2))
                Q = float(np.sum((a * (n2 - c) + c * (n1 - a)) / (2 * n)))
                vb = (beta * P + Q) / W**2
                w = n1 * n2 / n
        self.weights_ = 100 * w / np.sum(w)
        self._inference(beta, vb)
        self._heterogeneity()
        self.MH_ = self.MHp_ = self.CO_ = self.COp_ = None
        self.TA_ = self.TAp_ = self.BD_ = self.BDp_ = None
        self.k_pos_ = None
        if self.measure == "OR":
            self._or_tests(a, b, c, d)

    def _or_tests(self, a, b, c, d) -> None:
        n1, n2 = a + b, c + d
        n = n1 + n2
        xt, yt = a + c, b + d
        cc = 0.5 if self.correct else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            diff = abs(float(np.sum(a) - np.sum(xt * n1 / n)))
            v_mh = float(np.nansum(xt * yt * (n1 / n) * (n2 / n) / (n - 1)))
            v_co = float(np.nansum(xt * yt * (n1 / n) * (n2 / n) / n))
        self.MH_ = (diff - cc) ** 2 / v_mh
        self.MHp_ = float(stats.chi2.sf(self.MH_, 1))
        self.CO_ = (diff - cc) ** 2 / v_co
        self.COp_ = float(stats.chi2.sf(self.CO_, 1))
        # Breslow-Day (with and without Tarone's correction) over informative tables
        pos = (xt > 0) & (yt > 0)
        self.k_pos_ = int(pos.sum())
        psi = math.exp(self.beta_)
        a_, n1_, n2_, xt_ = a[pos], n1[pos], n2[pos], xt[pos]
        fitted = np.empty(a_.size)
        for i in range(a_.size):
            lo, hi = max(0.0, xt_[i] - n2_[i]), min(n1_[i], xt_[i])
            qa = 1 - psi
            qb = n2_[i] - xt_[i] + psi * (n1_[i] + xt_[i])
            qc = -psi * n1_[i] * xt_[i]
            if abs(qa) < 1e-14:
                roots = [-qc / qb]
            else:
                disc = math.sqrt(max(qb * qb - 4 * qa * qc, 0.0))
                roots = [(-qb + disc) / (2 * qa), (-qb - disc) / (2 * qa)]
            inside = [r for r in roots if lo - 1e-9 <= r <= hi + 1e-9]
            fitted[i] = inside[0] if inside else roots[0]
        fb, fc = n1_ - fitted, xt_ - fitted
        fd = n2_ - xt_ + fitted
        var = 1 / (1 / fitted + 1 / fb + 1 / fc + 1 / fd)
        bd = float(np.sum((a_ - fitted) ** 2 / var))
        ta = bd - float(np.sum(a_) - np.sum(fitted)) ** 2 / float(np.sum(var))
        df = self.k_pos_ - 1
        self.BD_, self.TA_ = bd, ta
        self.BDp_ = float(stats.chi2.sf(bd, df)) if df >= 1 else None
        self.TAp_ = float(stats.chi2.sf(ta, df)) if df >= 1 else None


class Peto(_TwoByTwo):
    """Peto's one-step odds ratio (metafor's ``rma.peto``)."""

    measure = "PETO"

    def _pool(self, a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> None:
        n1, n2 = a + b, c + d
        n = n1 + n2
        xt, yt = a + c, b + d
        with np.errstate(divide="ignore", invalid="ignore"):
            ei = xt * n1 / n
            vi = xt * yt * (n1 / n) * (n2 / n) / (n - 1)
        pos = vi > 0
        sv = float(np.sum(vi[pos]))
        if sv == 0:
            raise StatsError(
                "All tables are uninformative (no events or only events); Peto's OR is undefined"
            )
        oe = float(np.sum((a - ei)[pos]))
        beta = oe / sv
        self.weights_ = np.where(pos, vi, 0.0) / sv * 100
        self._inference(beta, 1 / sv)
        qe = float(np.sum(((a - ei) ** 2 / vi)[pos])) - oe**2 / sv
        self._heterogeneity(qe=qe)
        self.k_pos_ = int(pos.sum())
