"""R values for the case-script evaluator: atomic vectors, lists, data frames, matrices.

Numbers and logicals are float arrays (``nan`` = NA), strings object arrays (None = NA).
:func:`to_tree` turns a value into the JSON tree that ``_common.R``'s ``to_json`` writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "RError",
    "RList",
    "RMatrix",
    "RObj",
    "RVec",
    "Unsupported",
    "chr",
    "lgl",
    "num",
    "to_tree",
]


class RError(Exception):
    """An R-level error (``stop()``, a bad subscript): captured like metafor's errors."""


class Unsupported(Exception):
    """A construct the evaluator does not implement: never captured, always reported."""


@dataclass
class RVec:
    """An atomic vector: ``kind`` is ``dbl``, ``int``, ``lgl`` or ``chr``."""

    v: np.ndarray
    kind: str = "dbl"
    names: list[str] | None = None
    asis: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.v.size)

    def copy(self, **kw: Any) -> RVec:
        d = {
            "v": self.v.copy(),
            "kind": self.kind,
            "names": None if self.names is None else list(self.names),
            "asis": self.asis,
            "attrs": dict(self.attrs),
        }
        d.update(kw)
        return RVec(**d)


@dataclass
class RList:
    """A list; ``cls`` is ``data.frame`` for data frames (items are equal-length columns)."""

    items: list[Any]
    names: list[str] | None = None
    cls: str | None = None
    asis: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def get(self, name: str) -> Any:
        if self.names is None:
            return None
        for n, x in zip(self.names, self.items, strict=True):
            if n == name:
                return x
        if self.cls != "data.frame":  # R's partial matching of list names with $
            hits = [x for n, x in zip(self.names, self.items, strict=True) if n.startswith(name)]
            if len(hits) == 1:
                return hits[0]
        return None

    def set(self, name: str, value: Any) -> None:
        names = self.names if self.names is not None else [""] * len(self.items)
        if name in names:
            i = names.index(name)
            if value is None:
                del self.items[i]
                del names[i]
            else:
                self.items[i] = value
        elif value is not None:
            self.items.append(value)
            names.append(name)
        self.names = names

    def nrow(self) -> int:
        if "row.names" in self.attrs:
            return len(self.attrs["row.names"])
        return len(self.items[0]) if self.items else 0

    def copy(self) -> RList:
        return RList(
            list(self.items),
            None if self.names is None else list(self.names),
            self.cls,
            self.asis,
            dict(self.attrs),
        )


@dataclass
class RMatrix:
    """A numeric matrix with optional dimnames."""

    m: np.ndarray
    rownames: list[str] | None = None
    colnames: list[str] | None = None


@dataclass
class RObj:
    """A fitted metafor-like object: ``cls`` (e.g. ``rma.uni``) and ``fields`` read by ``$``."""

    cls: list[str]
    fields: dict[str, Any]
    py: Any = None  # the fmreview object behind it


def num(x: Any, names: list[str] | None = None, asis: bool = False) -> RVec:
    """A double vector from a number, a sequence or an array (None -> NA)."""
    if x is None:
        arr = np.array([math.nan])
    else:
        arr = np.atleast_1d(np.asarray(x, dtype=object))
        arr = np.array([math.nan if e is None else float(e) for e in arr.ravel()], dtype=float)
    return RVec(arr, "dbl", names, asis)


def lgl(x: Any) -> RVec:
    arr = np.atleast_1d(np.asarray(x, dtype=object)).ravel()
    return RVec(np.array([math.nan if e is None else float(bool(e)) for e in arr]), "lgl")


def chr(x: Any, names: list[str] | None = None) -> RVec:
    if isinstance(x, str):
        x = [x]
    arr = np.empty(len(x), dtype=object)
    for i, e in enumerate(x):
        arr[i] = None if e is None else str(e)
    return RVec(arr, "chr", names)


def _leaf(x: Any, kind: str) -> Any:
    if kind == "chr":
        return x
    if kind == "lgl":
        return None if math.isnan(x) else bool(x)
    x = float(x)
    if math.isnan(x):
        return math.nan
    if kind == "int":
        return int(x)
    return x


def to_tree(x: Any, force_array: bool = False) -> Any:
    """The JSON tree ``to_json`` (``_common.R``) writes for ``x``."""
    if x is None or callable(x):
        return None
    if isinstance(x, RObj):
        return {k: to_tree(v) for k, v in x.fields.items()}
    if isinstance(x, RMatrix):
        return {
            "rownames": x.rownames,
            "colnames": x.colnames,
            "values": [[float(e) for e in row] for row in np.atleast_2d(x.m)],
        }
    if isinstance(x, RList):
        if x.cls == "data.frame":
            return {n: to_tree(c, True) for n, c in zip(x.names or [], x.items, strict=True)}
        if not x.items:
            return [] if x.names is None else {}
        if x.names is not None:
            return {n: to_tree(v) for n, v in zip(x.names, x.items, strict=True)}
        return [to_tree(v) for v in x.items]
    if isinstance(x, RVec):
        vals = [_leaf(e, x.kind) for e in x.v]
        if x.names is not None and not x.asis and not force_array:
            return dict(zip(x.names, vals, strict=True))
        if len(vals) == 1 and not x.asis and not force_array:
            return vals[0]
        return vals
    if isinstance(x, (bool, int, float, str)):
        return x
    return str(x)
