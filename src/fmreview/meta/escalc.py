"""Effect sizes and their sampling variances, following metafor's ``escalc``.

Hand-written because no maintained Python package reproduces metafor's
conventions (continuity corrections with ``add``/``to``/``drop00``, the exact
gamma-function Hedges correction, ``vtype`` choices); formulas follow metafor 3.8
(Viechtbauer 2010, *J Stat Softw* 36(3); ``help(escalc)``).

Every function returns ``(yi, vi)`` as float arrays with ``nan`` where metafor
returns ``NA``.  Measures:

* binary 2x2 tables (``ai, bi, ci, di`` or ``ai, n1i, ci, n2i``): RR, OR, RD, AS, PETO, OR2DL
* two-group continuous (``m1i, sd1i, n1i, m2i, sd2i, n2i``): MD, SMD, SMDH, ROM
* correlations (``ri, ni``): COR, ZCOR
* single proportions (``xi, ni``): PR, PLN, PLO, PAS, PFT
* precomputed (``yi`` and ``vi`` or ``sei``): GEN
* AUC with the Hanley-McNeil standard error: :func:`auc_hanley_mcneil`
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from fmreview.errors import InputError, unknown_name

__all__ = [
    "BINARY_MEASURES",
    "DIAGNOSTIC_MEASURES",
    "diagnostic_effects",
    "CONTINUOUS_MEASURES",
    "CORRELATION_MEASURES",
    "MEASURES",
    "PROPORTION_MEASURES",
    "auc_hanley_mcneil",
    "escalc",
    "hedges_correction",
]

BINARY_MEASURES = ("RR", "OR", "RD", "AS", "PETO", "OR2DL")
CONTINUOUS_MEASURES = ("MD", "SMD", "SMDH", "ROM")
CORRELATION_MEASURES = ("COR", "ZCOR")
PROPORTION_MEASURES = ("PR", "PLN", "PLO", "PAS", "PFT")
MEASURES = (
    BINARY_MEASURES + CONTINUOUS_MEASURES + CORRELATION_MEASURES + PROPORTION_MEASURES + ("GEN",)
)
#: diagnostic-accuracy measures computed from tp, fn, tn, fp (see :func:`diagnostic_effects`)
DIAGNOSTIC_MEASURES = ("SENS", "SPEC", "DOR")
_TO = ("only0", "all", "if0all", "none")


def _arr(x: ArrayLike | None, name: str) -> np.ndarray:
    if x is None:
        raise InputError(
            f"escalc needs the argument {name!r} for this measure; pass it as an array"
        )
    a = np.asarray(x, dtype=float)
    return np.atleast_1d(a)


def hedges_correction(m: ArrayLike) -> np.ndarray:
    """Exact small-sample correction ``gamma(m/2) / (sqrt(m/2) gamma((m-1)/2))`` (Hedges 1981)."""
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))
    return np.where(m > 1, out, np.nan)


def _correct(cells: list[np.ndarray], add: float, to: str, zero: np.ndarray) -> list[np.ndarray]:
    """Add ``add`` to every cell of the rows selected by ``to`` (metafor's rule)."""
    if to == "all":
        return [c + add for c in cells]
    if to == "only0":
        return [np.where(zero, c + add, c) for c in cells]
    if to == "if0all":
        return [c + add for c in cells] if bool(np.any(zero)) else cells
    return cells


def _binary(measure: str, d: Mapping[str, Any], add: float, to: str, drop00: bool) -> tuple:
    ai = _arr(d.get("ai"), "ai")
    ci = _arr(d.get("ci"), "ci")
    if d.get("bi") is not None:
        bi = _arr(d["bi"], "bi")
    else:
        bi = _arr(d.get("n1i"), "bi or n1i") - ai
    if d.get("di") is not None:
        di = _arr(d["di"], "di")
    else:
        di = _arr(d.get("n2i"), "di or n2i") - ci
    for name, v in (("ai", ai), ("bi", bi), ("ci", ci), ("di", di)):
        if np.any(v[~np.isnan(v)] < 0):
            raise InputError(f"escalc: negative cell count in {name!r}; counts must be >= 0")
    if drop00:
        both = ((ai == 0) & (ci == 0)) | ((bi == 0) & (di == 0))
        ai, bi, ci, di = (np.where(both, np.nan, v) for v in (ai, bi, ci, di))
    zero = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    ai, bi, ci, di = _correct([ai, bi, ci, di], add, to, zero)
    n1i = ai + bi
    n2i = ci + di
    ni = n1i + n2i
    with np.errstate(divide="ignore", invalid="ignore"):
        p1 = ai / n1i
        p2 = ci / n2i
        if measure == "RR":
            yi = np.log(p1) - np.log(p2)
            vi = 1 / ai - 1 / n1i + 1 / ci - 1 / n2i
        elif measure in ("OR", "OR2DL"):
            yi = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            vi = 1 / ai + 1 / bi + 1 / ci + 1 / di
            if measure == "OR2DL":
                yi = np.sqrt(3) / np.pi * yi
                vi = 3 / np.pi**2 * vi
        elif measure == "RD":
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1i + p2 * (1 - p2) / n2i
        elif measure == "AS":
            yi = np.arcsin(np.sqrt(p1)) - np.arcsin(np.sqrt(p2))
            vi = 1 / (4 * n1i) + 1 / (4 * n2i)
        else:  # PETO
            xt = ai + ci
            yt = bi + di
            ei = xt * n1i / ni
            v = xt * yt * (n1i / ni) * (n2i / ni) / (ni - 1)
            yi = (ai - ei) / v
            vi = 1 / v
    return _finite(yi), _finite(vi)


def _finite(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), x, np.nan)


def _continuous(measure: str, d: Mapping[str, Any], vtype: str) -> tuple:
    m1, m2 = _arr(d.get("m1i"), "m1i"), _arr(d.get("m2i"), "m2i")
    s1, s2 = _arr(d.get("sd1i"), "sd1i"), _arr(d.get("sd2i"), "sd2i")
    n1, n2 = _arr(d.get("n1i"), "n1i"), _arr(d.get("n2i"), "n2i")
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "MD":
            yi = m1 - m2
            if vtype == "HO":
                sp2 = ((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / (n1 + n2 - 2)
                vi = sp2 * (1 / n1 + 1 / n2)
            else:
                vi = s1**2 / n1 + s2**2 / n2
        elif measure == "SMD":
            mi = n1 + n2 - 2
            cmi = hedges_correction(mi)
            sdp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / mi)
            yi = cmi * (m1 - m2) / sdp
            if vtype == "UB":
                vi = 1 / n1 + 1 / n2 + (1 - (mi - 2) / (mi * cmi**2)) * yi**2
            elif vtype == "LS2":
                vi = cmi**2 * (1 / n1 + 1 / n2 + (yi / cmi) ** 2 / (2 * (n1 + n2)))
            else:
                vi = 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
        elif measure == "SMDH":
            mi = n1 + n2 - 2
            cmi = hedges_correction(mi)
            sdi = np.sqrt((s1**2 + s2**2) / 2)
            yi = cmi * (m1 - m2) / sdi
            vi = yi**2 * (s1**4 / (n1 - 1) + s2**4 / (n2 - 1)) / (2 * (s1**2 + s2**2) ** 2) + (
                s1**2 / (n1 - 1) + s2**2 / (n2 - 1)
            ) / ((s1**2 + s2**2) / 2)
            vi = cmi**2 * vi  # metafor plugs in the corrected yi and rescales (Bonett 2009)
        else:  # ROM
            yi = np.log(m1 / m2)
            vi = s1**2 / (n1 * m1**2) + s2**2 / (n2 * m2**2)
    return _finite(yi), _finite(vi)


def _correlation(measure: str, d: Mapping[str, Any]) -> tuple:
    ri, ni = _arr(d.get("ri"), "ri"), _arr(d.get("ni"), "ni")
    if np.any(np.abs(ri[~np.isnan(ri)]) > 1):
        raise InputError("escalc: a correlation 'ri' lies outside [-1, 1]; check the input")
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "COR":
            yi = ri.copy()
            vi = (1 - ri**2) ** 2 / (ni - 1)
        else:
            yi = np.arctanh(ri)
            vi = 1 / (ni - 3)
    return _finite(yi), _finite(vi)


def _proportion(measure: str, d: Mapping[str, Any], add: float, to: str) -> tuple:
    xi, ni = _arr(d.get("xi"), "xi"), _arr(d.get("ni"), "ni")
    if np.any(xi[~np.isnan(xi)] < 0) or np.any((xi > ni)[~np.isnan(xi + ni)]):
        raise InputError("escalc: proportions need 0 <= xi <= ni; check the 'xi' and 'ni' columns")
    mi = ni - xi
    if measure not in ("PAS", "PFT"):
        zero = (xi == 0) | (mi == 0)
        xi, mi = _correct([xi, mi], add, to, zero)
    ni = xi + mi
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = xi / ni
        if measure == "PR":
            yi, vi = pi, pi * (1 - pi) / ni
        elif measure == "PLN":
            yi, vi = np.log(pi), 1 / xi - 1 / ni
        elif measure == "PLO":
            yi, vi = np.log(pi / (1 - pi)), 1 / xi + 1 / mi
        elif measure == "PAS":
            yi, vi = np.arcsin(np.sqrt(pi)), 1 / (4 * ni)
        else:  # PFT
            yi = 0.5 * (np.arcsin(np.sqrt(xi / (ni + 1))) + np.arcsin(np.sqrt((xi + 1) / (ni + 1))))
            vi = 1 / (4 * ni + 2)
    return _finite(yi), _finite(vi)


def escalc(
    measure: str,
    *,
    add: float = 0.5,
    to: str = "only0",
    drop00: bool = False,
    vtype: str = "LS",
    **data: ArrayLike | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` like metafor's ``escalc``.

    Parameters
    ----------
    measure
        One of :data:`MEASURES` (case-insensitive).
    add, to, drop00
        metafor's continuity correction: ``add`` is added to every cell of the
        tables chosen by ``to`` ("only0": tables with a zero cell; "all";
        "if0all": all tables if any has a zero; "none").  ``drop00`` sets
        tables with no events (or only events) in both groups to missing.
        Single proportions get the same correction when ``xi`` is 0 or ``ni``
        (PR, PLN, PLO); PAS and PFT need none.
    vtype
        Variance type: "LS" (default), "UB" (SMD unbiased), "HO" (MD homoscedastic).
    **data
        Arrays named as in metafor: ``ai, bi, ci, di, n1i, n2i, m1i, m2i, sd1i,
        sd2i, xi, ni, ri, yi, vi, sei``.

    Returns
    -------
    (yi, vi)
        Float arrays; ``nan`` where metafor gives ``NA``.
    """
    m = str(measure).upper()
    if m not in MEASURES:
        raise unknown_name("effect-size measure", measure, MEASURES)
    if to not in _TO:
        raise unknown_name("continuity-correction rule 'to'", to, _TO)
    if m in BINARY_MEASURES:
        return _binary(m, data, add, to, drop00)
    if m in CONTINUOUS_MEASURES:
        return _continuous(m, data, vtype)
    if m in CORRELATION_MEASURES:
        return _correlation(m, data)
    if m in PROPORTION_MEASURES:
        return _proportion(m, data, add, to)
    yi = _arr(data.get("yi"), "yi")
    if data.get("vi") is not None:
        vi = _arr(data["vi"], "vi")
    else:
        vi = _arr(data.get("sei"), "vi or sei") ** 2
    return yi.copy(), vi.copy()


def auc_hanley_mcneil(
    auc: ArrayLike, n1: ArrayLike, n2: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """AUC and its sampling variance by Hanley & McNeil (1982, *Radiology* 143:29-36).

    ``n1`` = number of diseased (positive) cases, ``n2`` = non-diseased.  Returns
    ``(yi, vi)`` with ``yi = auc`` and
    ``vi = (A(1-A) + (n1-1)(Q1-A^2) + (n2-1)(Q2-A^2)) / (n1 n2)``,
    ``Q1 = A/(2-A)``, ``Q2 = 2A^2/(1+A)``.
    """
    a = np.atleast_1d(np.asarray(auc, dtype=float))
    m1 = np.atleast_1d(np.asarray(n1, dtype=float))
    m2 = np.atleast_1d(np.asarray(n2, dtype=float))
    if np.any((a < 0) | (a > 1)):
        raise InputError(
            "auc_hanley_mcneil: an AUC lies outside [0, 1]; pass AUCs as fractions, not percent"
        )
    q1 = a / (2 - a)
    q2 = 2 * a**2 / (1 + a)
    vi = (a * (1 - a) + (m1 - 1) * (q1 - a**2) + (m2 - 1) * (q2 - a**2)) / (m1 * m2)
    return a.copy(), vi


def diagnostic_effects(
    tp: ArrayLike,
    fn: ArrayLike,
    tn: ArrayLike,
    fp: ArrayLike,
    *,
    add: float = 0.5,
    to: str = "only0",
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Logit sensitivity, logit specificity and log diagnostic odds ratio with variances.

    As in metafor: ``SENS`` = ``escalc("PLO", xi=tp, ni=tp+fn)``, ``SPEC`` =
    ``escalc("PLO", xi=tn, ni=tn+fp)`` (1/2 added when a count is 0 or n), ``DOR`` =
    ``escalc("OR", ai=tp, bi=fn, ci=fp, di=tn)``.
    """
    tp_, fn_, tn_, fp_ = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (tp, fn, tn, fp))
    return {
        "SENS": escalc("PLO", xi=tp_, ni=tp_ + fn_, add=add, to=to),
        "SPEC": escalc("PLO", xi=tn_, ni=tn_ + fp_, add=add, to=to),
        "DOR": escalc("OR", ai=tp_, bi=fn_, ci=fp_, di=tn_, add=add, to=to),
    }
