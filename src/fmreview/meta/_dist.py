"""Quantiles accurate to the last digits, independent of the installed SciPy version.

SciPy's ``t.isf`` from cephes (SciPy < 1.13) is off by up to ~1e-10 (e.g. the
97.5% quantile of t(8) by 1.7e-10), which shows up in every t-based confidence
interval; R's ``qt`` is exact to rounding.  So each quantile from SciPy is polished
with Newton steps on the (accurate) survival function / CDF.
"""

from __future__ import annotations

from scipy import stats


def _polish(x: float, target: float, fn, pdf, sign: float) -> float:  # type: ignore[no-untyped-def]
    for _ in range(3):
        d = float(pdf(x))
        if not d > 0:
            break
        step = sign * (float(fn(x)) - target) / d
        x = x + step
        if abs(step) <= 1e-16 * max(1.0, abs(x)):
            break
    return x


def t_isf(p: float, df: float) -> float:
    """Upper-tail quantile of Student's t: ``x`` with ``P(T > x) = p``."""
    x = float(stats.t.isf(p, df))
    return _polish(x, p, lambda z: stats.t.sf(z, df), lambda z: stats.t.pdf(z, df), 1.0)


def norm_isf(p: float) -> float:
    """Upper-tail quantile of the standard normal."""
    return float(stats.norm.isf(p))


def chi2_isf(p: float, df: float) -> float:
    """Upper-tail quantile of chi^2(df)."""
    x = float(stats.chi2.isf(p, df))
    return _polish(x, p, lambda z: stats.chi2.sf(z, df), lambda z: stats.chi2.pdf(z, df), 1.0)


def chi2_ppf(p: float, df: float) -> float:
    """Lower-tail quantile of chi^2(df)."""
    x = float(stats.chi2.ppf(p, df))
    return _polish(x, p, lambda z: stats.chi2.cdf(z, df), lambda z: stats.chi2.pdf(z, df), -1.0)
