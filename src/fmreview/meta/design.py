"""Moderator design matrices from row dicts (numeric and factor moderators, R-style coding)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from fmreview.errors import InputError

__all__ = ["design_matrix"]


def _is_number(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        return True
    try:
        float(str(x))
    except ValueError:
        return False
    return True


def design_matrix(
    rows: Sequence[dict[str, Any]], mods: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Columns for ``mods`` (without intercept) and their names.

    Numeric columns are used as they are; a column with any non-numeric value is a
    factor with treatment coding against its first level in sorted order (R's
    default), named ``<column><level>`` like R. Missing values become ``nan`` (the
    study is then left out of the fit, with a warning).
    """
    cols: list[np.ndarray] = []
    names: list[str] = []
    for m in mods:
        if rows and m not in rows[0] and not any(m in r for r in rows):
            raise InputError(
                f"moderator column {m!r} is not in the data; available: {', '.join(sorted(rows[0]))}"
            )
        vals = [r.get(m) for r in rows]
        vals = [
            None if (v is None or v == "" or (isinstance(v, float) and math.isnan(v))) else v
            for v in vals
        ]
        if all(_is_number(v) for v in vals):
            cols.append(np.array([math.nan if v is None else float(v) for v in vals]))
            names.append(m)
            continue
        levels = sorted({str(v) for v in vals if v is not None})
        if len(levels) < 2:
            raise InputError(
                f"factor moderator {m!r} has fewer than two levels ({levels}); drop it"
            )
        for lev in levels[1:]:
            cols.append(np.array([math.nan if v is None else float(str(v) == lev) for v in vals]))
            names.append(f"{m}{lev}")
    if not cols:
        return np.empty((len(rows), 0)), []
    return np.column_stack(cols), names
