"""Small weighted-least-squares helpers shared by the meta-analysis estimators."""

from __future__ import annotations

import math

import numpy as np

from fmreview.errors import StatsError

LOG_2PI = math.log(2 * math.pi)


def inv_xwx(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(X' W X)^-1`` for diagonal weights ``w`` (metafor's ``.invcalc``)."""
    xwx = X.T @ (w[:, None] * X)
    try:
        return np.linalg.inv(xwx)
    except np.linalg.LinAlgError as exc:
        raise StatsError(
            "The model matrix is not of full rank (X'WX is singular); remove redundant moderators"
        ) from exc


def p_matrix(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``P = W - W X (X'WX)^-1 X' W``."""
    stxwx = inv_xwx(X, w)
    wx = w[:, None] * X
    return np.diag(w) - wx @ stxwx @ wx.T


def q_stat(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float) -> float:
    """Generalised Q: ``y' P y`` with weights ``1/(v + tau2)`` (computed as a weighted RSS)."""
    w = 1.0 / (v + tau2)
    return wls(y, X, w)[2]


def wls(y: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted least squares: ``(beta, (X'WX)^-1, RSS)``.

    Solved by a QR decomposition of ``sqrt(W) X`` rather than metafor's normal
    equations: with badly scaled moderators (e.g. calendar year) the normal
    equations lose digits; for ``bcg`` with ``mods = ~ ablat + year`` metafor's QE is
    1.7e-9 away from the exact value (checked with 50-digit arithmetic), ours is not.
    """
    sw = np.sqrt(w)
    Q, R = np.linalg.qr(X * sw[:, None])
    if np.any(np.abs(np.diag(R)) <= 1e-12 * max(1.0, float(np.max(np.abs(np.diag(R)))))):
        raise StatsError("The model matrix is not of full rank; remove redundant moderators")
    beta = np.linalg.solve(R, Q.T @ (y * sw))
    Ri = np.linalg.inv(R)
    vb = Ri @ Ri.T
    res: np.ndarray = y - X @ beta
    return beta, vb, float(np.sum(w * res**2))


def loglik(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float, reml: bool) -> float:
    """metafor's ML or REML log-likelihood at a given tau^2 (REML with the ``REMLf`` term)."""
    k, p = X.shape
    w = 1.0 / (v + tau2)
    _, stxwx, rss = wls(y, X, w)
    if not reml:
        return float(-0.5 * k * LOG_2PI - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * rss)
    _, ld_xx = np.linalg.slogdet(X.T @ X)
    _, ld_xwx = np.linalg.slogdet(X.T @ (w[:, None] * X))
    return float(
        -0.5 * (k - p) * LOG_2PI
        + 0.5 * ld_xx
        - 0.5 * np.sum(np.log(v + tau2))
        - 0.5 * ld_xwx
        - 0.5 * rss
    )
