"""Turning tables and numbers into strict JSON values (no NaN, no numpy scalars)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd


def clean(obj: Any) -> Any:
    """Recursively convert to JSON-ready Python values; NaN and infinities become None."""
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        return value if math.isfinite(value) else None
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, pd.DataFrame):
        return records(obj)
    if isinstance(obj, Mapping):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset | np.ndarray | pd.Series):
        items = sorted(obj) if isinstance(obj, set | frozenset) else list(obj)
        return [clean(v) for v in items]
    if hasattr(obj, "to_dict"):
        return clean(obj.to_dict())
    return str(obj)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame as a list of JSON-ready row dicts."""
    cols = [str(c) for c in df.columns]
    return [
        {c: clean(v) for c, v in zip(cols, row, strict=True)}
        for row in df.itertuples(index=False, name=None)
    ]


def finite(value: float | None) -> float | None:
    """``value`` as a float, or None when missing or not finite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
