"""What every meta-analysis module shares: the warning category and the level rule.

Kept apart from :mod:`.rma` so that the heterogeneity, Mantel-Haenszel, GLMM and
bivariate modules can use them without importing the model module (no import circle).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TypeVar

from fmreview.errors import InputError

__all__ = ["MetaWarning", "level_alpha"]


class MetaWarning(UserWarning):
    """A condition metafor warns about (the model was fitted, but read this)."""


def level_alpha(level: float) -> float:
    """``level`` as a percentage (95) or a fraction (0.95) -> alpha (0.05)."""
    lv = float(level)
    if lv > 1:
        lv = lv / 100.0
    if not 0 < lv < 1:
        raise InputError(f"level {level!r} is not a confidence level; use e.g. 95 or 0.95")
    return 1.0 - lv


T = TypeVar("T")


def record_warnings(fn: Callable[[], T], prefix: str, out: list[str]) -> T:
    """Run ``fn``; its MetaWarnings are kept in ``out`` as ``prefix + message`` (once each),
    for the caller to surface, and every other warning goes on to the caller unchanged."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", MetaWarning)
        try:
            return fn()
        finally:
            for w in rec:
                if issubclass(w.category, MetaWarning):
                    msg = f"{prefix}{w.message}"
                    if msg not in out:
                        out.append(msg)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
