"""The evaluator's core objects (environments, promises, functions, conditions) and the
``capture`` / ``read.csv`` helpers, shared by :mod:`rlite`, :mod:`rbase`, :mod:`rfuns` and
:mod:`rmetafor` without an import circle."""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rparse import Node
from rvalues import RError, RList, RVec, chr

__all__ = [
    "Builtin",
    "Closure",
    "Env",
    "Interp",
    "Promise",
    "RWarning",
    "capture_value",
    "read_csv",
]

#: the interpreter, as builtins see it (typed loosely: rlite imports this module)
Interp = Any


class RWarning(UserWarning):
    """A warning raised by R code (``warning("...")``)."""


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Next(Exception):
    pass


@dataclass
class Promise:
    node: Node
    env: Env
    value: Any = None
    forced: bool = False


class Env:
    def __init__(self, parent: Env | None = None) -> None:
        self.vars: dict[str, Any] = {}
        self.parent = parent
        self.missing: set[str] = set()

    def find(self, name: str) -> Env | None:
        e: Env | None = self
        while e is not None:
            if name in e.vars:
                return e
            e = e.parent
        return None


@dataclass
class Closure:
    params: list[tuple[str, Node | None]]
    body: Node
    env: Env
    name: str = "<function>"


@dataclass
class Builtin:
    """A function written in Python: ``fn(interp, args, env)``.

    Eager builtins get ``(positional values, {name: value})``; lazy ones get the
    unevaluated ``[(name, node)]`` and the calling environment.
    """

    name: str
    fn: Callable[..., Any]
    lazy: bool = False
    protected: bool = field(default=False)

    def __call__(self, x: Any) -> Any:  # so R functions can be passed where numpy expects callables
        raise TypeError("call through Interpreter.call_value")


def read_csv(path: Path) -> RList:
    """A data frame from ``input.csv`` (numeric columns where every cell parses)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    cols: list[Any] = []
    for j, _ in enumerate(header):
        raw = [r[j] if j < len(r) else "" for r in body]
        vals: list[float] | None = []
        for s in raw:
            if s in ("", "NA"):
                vals.append(math.nan)  # type: ignore[union-attr]
                continue
            try:
                vals.append(float(s))  # type: ignore[union-attr]
            except ValueError:
                vals = None
                break
        if vals is not None:
            integral = all(math.isnan(x) or float(x).is_integer() for x in vals)
            cols.append(RVec(np.array(vals, dtype=float), "int" if integral else "dbl"))
        elif all(s in ("TRUE", "FALSE", "", "NA") for s in raw):
            cols.append(
                RVec(
                    np.array([math.nan if s in ("", "NA") else float(s == "TRUE") for s in raw]),
                    "lgl",
                )
            )
        else:
            cols.append(chr([None if s == "NA" else s for s in raw]))
    return RList(
        cols, list(header), "data.frame", attrs={"row.names": list(range(1, len(body) + 1))}
    )


def capture_value(interp: Interp, thunk: Callable[[], Any]) -> tuple[Any, list[str], str | None]:
    """Run ``thunk`` as ``_common.R``'s ``capture``: (value, warnings, error message)."""
    from fmreview.errors import FmreviewError
    from fmreview.meta import MetaWarning

    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            val, err = thunk(), None
        except (FmreviewError, RError) as exc:
            val, err = None, str(exc)
    warns = [str(w.message) for w in rec if issubclass(w.category, (MetaWarning, RWarning))]
    return val, warns, err
