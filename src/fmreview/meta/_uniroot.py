"""R's ``uniroot`` (Brent's zeroin as in R's ``src/library/stats/src/zeroin.c``).

Ported line by line instead of using :func:`scipy.optimize.brentq` because metafor's
*default* results (PM/PMM tau^2, Q-profile and profile-likelihood bounds) stop at
``tol = .Machine$double.eps^0.25``; reproducing them to the last digit needs R's
exact sequence of iterates, which scipy's implementation does not follow.
"""

from __future__ import annotations

from collections.abc import Callable

from fmreview.errors import StatsError

DBL_EPS = 2.220446049250313e-16
R_DEFAULT_TOL = DBL_EPS**0.25


def zeroin2(
    f: Callable[[float], float], ax: float, bx: float, fa: float, fb: float, tol: float, maxit: int
) -> tuple[float, int, float]:
    """Return ``(root, iterations, estim_prec)``; iterations = -1 when not converged."""
    a, b = ax, bx
    c, fc = a, fa
    n_left = maxit + 1
    if fa == 0.0:
        return a, 0, 0.0
    if fb == 0.0:
        return b, 0, 0.0
    while n_left:
        n_left -= 1
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * DBL_EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b, maxit + 1 - n_left - 1, abs(c - b)
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b, -1, -1.0


def uniroot(
    f: Callable[[float], float],
    lower: float,
    upper: float,
    *,
    tol: float = R_DEFAULT_TOL,
    maxiter: int = 1000,
    what: str = "root",
) -> tuple[float, bool]:
    """Find a root of ``f`` in ``[lower, upper]`` like R's ``uniroot``.

    Returns ``(root, converged)``.  Raises :class:`StatsError` when ``f`` has the
    same sign at both ends (R: "f() values at end points not of opposite sign").
    """
    flo = float(f(lower))
    fup = float(f(upper))
    if flo * fup > 0:
        raise StatsError(
            f"Cannot find the {what}: the function has the same sign at both ends of "
            f"[{lower:g}, {upper:g}]; widen the search interval"
        )
    root, it, _ = zeroin2(f, lower, upper, flo, fup, tol, maxiter)
    return root, it >= 0
