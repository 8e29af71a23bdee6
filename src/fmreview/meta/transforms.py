"""Back-transformations of pooled effects to their natural scale (metafor's ``transf.*``).

* ``exp`` for log RR / log OR / ROM, ``ilogit`` for logit proportions,
  ``ztor`` for Fisher's z, ``iarcsin`` for the arcsine transform, and
  ``ipft_hm`` for the Freeman-Tukey double arcsine with the harmonic mean of
  the study sizes (Miller 1978, *Am Stat* 32:138), as ``transf.ipft.hm``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from fmreview.errors import InputError, unknown_name

__all__ = [
    "TRANSFORMS",
    "arcsin",
    "iarcsin",
    "ilogit",
    "ipft",
    "ipft_hm",
    "logit",
    "pft",
    "resolve_transform",
    "rtoz",
    "transf_arcsin",
    "transf_exp",
    "transf_iarcsin",
    "transf_ilogit",
    "transf_ipft",
    "transf_ipft_hm",
    "transf_logit",
    "transf_rtoz",
    "transf_ztor",
    "ztor",
]


def ilogit(x: ArrayLike) -> np.ndarray:
    """Inverse logit ``1 / (1 + exp(-x))``."""
    x = np.asarray(x, dtype=float)
    return 1.0 / (1.0 + np.exp(-x))


def ztor(x: ArrayLike) -> np.ndarray:
    """Fisher's z back to a correlation (``tanh``)."""
    return np.tanh(np.asarray(x, dtype=float))


def logit(x: ArrayLike) -> np.ndarray:
    """Logit ``log(x / (1 - x))``."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        return np.log(x / (1 - x))


def rtoz(x: ArrayLike) -> np.ndarray:
    """A correlation to Fisher's z (``atanh``)."""
    with np.errstate(divide="ignore"):
        return np.arctanh(np.asarray(x, dtype=float))


def arcsin(x: ArrayLike) -> np.ndarray:
    """Arcsine square-root transform of a proportion."""
    return np.arcsin(np.sqrt(np.asarray(x, dtype=float)))


def iarcsin(x: ArrayLike) -> np.ndarray:
    """Inverse of the arcsine square-root transform, clipped to [0, 1] like metafor."""
    x = np.asarray(x, dtype=float)
    z = np.sin(x) ** 2
    z = np.where(x < 0, 0.0, z)
    return np.where(x > np.pi / 2, 1.0, z)


def pft(p: ArrayLike, n: float) -> np.ndarray:
    """Freeman-Tukey double arcsine of a proportion ``p`` with sample size ``n``."""
    xi = np.asarray(p, dtype=float) * n
    return 0.5 * (np.arcsin(np.sqrt(xi / (n + 1))) + np.arcsin(np.sqrt((xi + 1) / (n + 1))))


def ipft(x: ArrayLike, n: float) -> np.ndarray:
    """Inverse Freeman-Tukey transform for sample size ``n`` (Miller 1978)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sin(2 * x)
        z = 0.5 * (1 - np.sign(np.cos(2 * x)) * np.sqrt(1 - (s + (s - 1 / s) / n) ** 2))
    z = np.where(np.isnan(z), np.nan, z)
    z = np.where(x > pft(1.0, n), 1.0, z)
    return np.where(x < pft(0.0, n), 0.0, z)


def ipft_hm(x: ArrayLike, ni: ArrayLike) -> np.ndarray:
    """``transf.ipft.hm``: inverse Freeman-Tukey with the harmonic mean of ``ni``."""
    n = np.asarray(ni, dtype=float)
    n = n[~np.isnan(n)]
    if n.size == 0:
        raise InputError("ipft_hm needs the study sample sizes 'ni'; none were given")
    nhm = 1.0 / np.mean(1.0 / n)
    return ipft(x, float(nhm))


def transf_exp(x: ArrayLike) -> np.ndarray:
    """``exp`` (log RR / log OR / ROM back to the ratio scale)."""
    return np.exp(np.asarray(x, dtype=float))


#: metafor's names (``transf.ztor`` -> ``transf_ztor``) for code translated from R
transf_ztor = ztor
transf_rtoz = rtoz
transf_ilogit = ilogit
transf_logit = logit
transf_iarcsin = iarcsin
transf_arcsin = arcsin
transf_ipft = ipft
transf_ipft_hm = ipft_hm

TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "none": lambda x: np.asarray(x, dtype=float),
    "exp": transf_exp,
    "ilogit": ilogit,
    "logit": logit,
    "ztor": ztor,
    "rtoz": rtoz,
    "iarcsin": iarcsin,
    "arcsin": arcsin,
}


def resolve_transform(
    name: str | None, ni: ArrayLike | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """Return the back-transform called ``name`` ("ipft_hm" needs ``ni``).

    metafor's spellings are accepted too: ``transf.ztor``, ``transf_ilogit``.
    """
    if name is not None:
        name = name.replace(".", "_")
        name = name[len("transf_") :] if name.startswith("transf_") else name
    if name is None:
        return TRANSFORMS["none"]
    if name == "ipft_hm":
        if ni is None:
            raise InputError("the 'ipft_hm' back-transform needs the study sizes 'ni'")
        nis = np.asarray(ni, dtype=float)
        return lambda x: ipft_hm(x, nis)
    if name not in TRANSFORMS:
        raise unknown_name("back-transform", name, [*TRANSFORMS, "ipft_hm"])
    return TRANSFORMS[name]
