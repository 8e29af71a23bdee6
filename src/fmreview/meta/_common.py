"""What every meta-analysis module shares: the warning category and the level rule.

Kept apart from :mod:`.rma` so that the heterogeneity, Mantel-Haenszel, GLMM and
bivariate modules can use them without importing the model module (no import circle).
"""

from __future__ import annotations

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
