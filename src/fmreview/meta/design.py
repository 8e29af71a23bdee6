"""Moderator design matrices: from row dicts, or from an R formula such as ``~ factor(alloc) + year``.

Factors use R's treatment coding against the first level and R's coefficient names
(``factor(alloc)random``, ``allocrandom`` for a text column), so results read like
metafor's.  Formulas are parsed here (a dozen lines) rather than with patsy/formulaic:
those name coefficients ``C(alloc)[T.random]`` and sort numeric codes as text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fmreview.errors import InputError

__all__ = ["Data", "Frame", "design_matrix", "model_frame", "model_matrix"]

#: a data set: a pandas DataFrame, a dict of columns, or a list of row dicts
Data = Mapping[str, Any] | Sequence[Mapping[str, Any]] | Any


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


def _columns(data: Data | None) -> dict[str, list[Any]]:
    """``data`` as a dict of equal-length column lists."""
    if data is None:
        return {}
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # pandas DataFrame
        return {str(c): list(data[c]) for c in data.columns}
    if isinstance(data, Mapping):
        return {str(k): list(np.atleast_1d(np.asarray(v, dtype=object))) for k, v in data.items()}
    rows = list(data)
    names: list[str] = []
    for r in rows:
        names.extend(k for k in r if k not in names)
    return {n: [r.get(n) for r in rows] for n in names}


def _missing(x: Any) -> bool:
    return x is None or x == "" or (isinstance(x, float) and math.isnan(x))


def _r_number(x: float) -> str:
    """A number as R prints a factor level: ``1``, ``2.5``, ``1e-04``."""
    return f"{x:.15g}"


def _factor(vals: list[Any], name: str) -> tuple[list[np.ndarray], list[str]]:
    present = [v for v in vals if not _missing(v)]
    if all(_is_number(v) for v in present):
        nums = sorted({float(v) for v in present})
        labels = [_r_number(x) for x in nums]
        keyed = [None if _missing(v) else _r_number(float(v)) for v in vals]
    else:
        labels = sorted({str(v) for v in present}, key=lambda t: (t.lower(), t))
        keyed = [None if _missing(v) else str(v) for v in vals]
    if len(labels) < 2:
        raise InputError(f"factor {name} has fewer than two levels ({labels}); drop it")
    cols = [
        np.array([math.nan if v is None else float(v == lev) for v in keyed]) for lev in labels[1:]
    ]
    return cols, [f"{name}{lev}" for lev in labels[1:]]


_TERM = re.compile(r"^(?:(factor|as\.factor)\(\s*([A-Za-z_.][\w.]*)\s*\)|([A-Za-z_.][\w.]*))$")


def model_matrix(
    formula: str, data: Data, *, intercept: bool = True
) -> tuple[np.ndarray, list[str]]:
    """The design matrix of an R formula (``"~ factor(alloc) + year"``) over ``data``.

    Supported terms: a column name (numeric, or text = factor), ``factor(col)`` and
    ``as.factor(col)`` (also for numeric codes), ``1``/``0``/``- 1`` for the intercept.
    Returns the columns with the intercept first (named ``intrcpt`` as metafor) and
    the coefficient names.  Anything else raises ``InputError`` naming the term.
    """
    cols = _columns(data)
    text = formula.strip()
    if not text.startswith("~"):
        raise InputError(f"moderator formula {formula!r} must start with '~' (e.g. '~ year')")
    body = text[1:].strip()
    if not body:
        raise InputError(f"moderator formula {formula!r} has no terms")
    tokens = re.findall(r"[+-]|[^+-]+", body)
    sign = "+"
    terms: list[str] = []
    for tok in (t.strip() for t in tokens):
        if tok in ("+", "-"):
            sign = tok
            continue
        if tok in ("0", "1"):
            if sign == "-" or tok == "0":
                intercept = False if (sign == "-" and tok == "1") or tok == "0" else intercept
            continue
        if sign == "-":
            raise InputError(
                f"moderator formula {formula!r}: removing term {tok!r} is not supported"
            )
        terms.append(tok)
    n = len(next(iter(cols.values()))) if cols else 0
    out_cols: list[np.ndarray] = [np.ones(n)] if intercept else []
    names = ["intrcpt"] if intercept else []
    for term in terms:
        m = _TERM.match(term)
        if m is None:
            raise InputError(
                f"moderator formula {formula!r}: unsupported term {term!r}; use column names, "
                "factor(column), '+' and '- 1'"
            )
        col = m.group(2) or m.group(3)
        if col not in cols:
            raise InputError(
                f"moderator {col!r} is not in the data; available: {', '.join(sorted(cols))}"
            )
        vals = cols[col]
        if m.group(1) or not all(_is_number(v) for v in vals if not _missing(v)):
            fc, fn = _factor(vals, term if m.group(1) else col)
            if not intercept and not any(nm.startswith(("factor", "as.factor")) for nm in names):
                # no intercept: the first factor gets all its levels (R's full dummy coding)
                first = _first_level_column(vals)
                fc = [first[0], *fc]
                fn = [f"{term if m.group(1) else col}{first[1]}", *fn]
            out_cols.extend(fc)
            names.extend(fn)
        else:
            out_cols.append(np.array([math.nan if _missing(v) else float(v) for v in vals]))
            names.append(col)
    if not out_cols:
        raise InputError(f"moderator formula {formula!r} leaves no coefficient to estimate")
    return np.column_stack(out_cols), names


def _first_level_column(vals: list[Any]) -> tuple[np.ndarray, str]:
    present = [v for v in vals if not _missing(v)]
    if all(_is_number(v) for v in present):
        lev = _r_number(min(float(v) for v in present))
        keyed = [None if _missing(v) else _r_number(float(v)) for v in vals]
    else:
        lev = sorted({str(v) for v in present}, key=lambda t: (t.lower(), t))[0]
        keyed = [None if _missing(v) else str(v) for v in vals]
    return np.array([math.nan if v is None else float(v == lev) for v in keyed]), lev


@dataclass
class Frame:
    """Effect sizes, variances and the design matrix of one fit (after ``subset``)."""

    yi: np.ndarray
    vi: np.ndarray
    X: np.ndarray
    names: list[str]


def _vector(x: ArrayLike | str | None, cols: dict[str, list[Any]], what: str) -> np.ndarray | None:
    if x is None:
        return None
    if isinstance(x, str):
        if x not in cols:
            raise InputError(
                f"{what} names column {x!r}, which is not in the data; available: "
                f"{', '.join(sorted(cols)) or '(no data given)'}"
            )
        x = [math.nan if _missing(v) else v for v in cols[x]]
    return np.atleast_1d(np.asarray(x, dtype=float)).ravel()


def _subset_index(subset: ArrayLike | str, cols: dict[str, list[Any]], k: int) -> np.ndarray:
    s = cols[subset] if isinstance(subset, str) and subset in cols else subset
    if isinstance(s, str):
        raise InputError(f"subset names column {s!r}, which is not in the data")
    arr = np.atleast_1d(np.asarray(s))
    if arr.dtype == bool:
        if arr.size != k:
            raise InputError(f"subset has {arr.size} values for {k} studies; give one per study")
        return np.flatnonzero(arr)
    idx = arr.astype(int)
    if idx.size and (idx.min() < -k or idx.max() >= k):
        raise InputError(f"subset indices must lie in 0..{k - 1} (0-based); found {idx.tolist()}")
    return idx


def model_frame(
    yi: ArrayLike | str,
    vi: ArrayLike | str | None,
    sei: ArrayLike | str | None,
    mods: ArrayLike | str | None,
    subset: ArrayLike | str | None,
    data: Data | None,
    coef_names: Sequence[str] | None,
    intercept: bool,
) -> Frame:
    """Resolve ``rma``'s arguments (columns of ``data``, ``sei``, ``subset``, formula)."""
    cols = _columns(data)
    y = _vector(yi, cols, "yi")
    assert y is not None
    v = _vector(vi, cols, "vi")
    se = _vector(sei, cols, "sei")
    if v is None:
        if se is None:
            raise InputError("give the sampling variances 'vi' or the standard errors 'sei'")
        v = se**2
    if y.shape != v.shape:
        raise InputError(
            f"yi has {y.size} values but vi has {v.size}; give one variance per effect"
        )
    k = y.size
    if isinstance(mods, str):
        if not cols:
            raise InputError(f"the moderator formula {mods!r} needs data=")
        X, names = model_matrix(mods, cols, intercept=intercept)
        if X.shape[0] != k:
            raise InputError(f"data has {X.shape[0]} rows but there are {k} effects")
    else:
        X, names = _design(mods, k, coef_names, intercept)
    if subset is not None:
        idx = _subset_index(subset, cols, k)
        y, v, X = y[idx], v[idx], X[idx]
    return Frame(y, v, X, names)


def _design(
    mods: ArrayLike | None, k: int, names: Sequence[str] | None, intercept: bool
) -> tuple[np.ndarray, list[str]]:
    cols = []
    out_names: list[str] = []
    if intercept:
        cols.append(np.ones((k, 1)))
        out_names.append("intrcpt")
    if mods is not None:
        M = np.asarray(mods, dtype=float)
        if M.ndim == 1:
            M = M[:, None]
        if M.shape[0] != k:
            raise InputError(
                f"mods has {M.shape[0]} rows but there are {k} effects; give one row per effect"
            )
        cols.append(M)
        if names is not None and len(names) == M.shape[1]:
            out_names.extend(names)
        else:
            out_names.extend(f"mod{j + 1}" for j in range(M.shape[1]))
    if not cols:
        raise InputError("a model without intercept needs moderators")
    return np.hstack(cols), out_names
