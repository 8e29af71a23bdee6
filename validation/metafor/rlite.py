"""Evaluate metafor case scripts (``make.R``) with fmreview instead of R.

:class:`Interpreter` runs the subset of R that case scripts and their shared helpers
(``_common.R``) are written in: assignments, closures with lazy arguments, ``if``/``for``,
lists, data frames, matrices, vector arithmetic, indexing, ``lapply``/``do.call``/
``setNames`` and a few dozen base functions (:mod:`rbase`); metafor's functions map to
fmreview's public API (:mod:`rmetafor`).  A construct it does not implement stops the
case with ``Unsupported("unsupported: <call>")``; it is never mistaken for a metafor error.

Data sets (``dat.bcg``, ``dat.hackshaw1998``, ...) are the case's ``input.csv``: the
scripts write there exactly the data they use.  ``write_json(x)`` keeps ``x`` as the
result; ``capture(expr)`` records warnings and errors as ``_common.R``'s does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import rfuns  # noqa: F401  (registers the second half of base R into BASE)
from rbase import BASE, assign_index, assign_index2, binop, index, index2, set_attr_fn, unop
from rcore import (
    Builtin,
    Closure,
    Env,
    Promise,
    _Break,
    _Next,
    _Return,
    read_csv,
)
from rmetafor import METAFOR
from rparse import Node, deparse, parse
from rvalues import RError, RList, RObj, RVec, Unsupported, chr, num

__all__ = ["Interpreter", "dollar", "set_dollar"]


def _value_node(v: Any) -> Node:
    return ("value", v)


class Interpreter:
    """Evaluates one case folder's scripts; :meth:`run_case` returns the ``write_json`` tree."""

    def __init__(self, case_dir: Path) -> None:

        self.case_dir = Path(case_dir)
        self.globals = Env()
        self.result: Any = None
        self.datasets: dict[str, RList] = {}
        for table in (BASE, METAFOR):
            for name, b in table.items():
                self.globals.vars[name] = b
        self.globals.vars[".Machine"] = RList(
            [num(2.220446049250313e-16), num(1.797693134862316e308)], ["double.eps", "double.xmax"]
        )
        self.globals.vars["pi"] = num(math.pi)

    # ------------------------------------------------------------------ running
    def run_file(self, path: Path, env: Env | None = None) -> None:
        for stmt in parse(path.read_text(encoding="utf-8")):
            self.eval(stmt, env or self.globals)

    def run_case(self) -> Any:
        self.run_file(self.case_dir / "make.R")
        if self.result is None:
            raise Unsupported("unsupported: the script never calls write_json(...)")
        return self.result

    def input_frame(self) -> RList:
        path = self.case_dir / "input.csv"
        if "input" not in self.datasets:
            self.datasets["input"] = read_csv(path)
        return self.datasets["input"].copy()

    # --------------------------------------------------------------- evaluation
    def eval(self, node: Node, env: Env) -> Any:  # noqa: C901
        kind = node[0]
        if kind == "num":
            return num(node[1])
        if kind == "str":
            return chr([node[1]])
        if kind == "value":
            return node[1]
        if kind == "ident":
            return self.lookup(node[1], env)
        if kind == "paren":
            return self.eval(node[1], env)
        if kind == "block":
            out = None
            for s in node[1]:
                out = self.eval(s, env)
            return out
        if kind == "assign":
            value = self.eval(node[2], env)
            self.assign(node[1], value, env, node[3])
            return value
        if kind == "call":
            return self.call(node, env)
        if kind == "function":
            return Closure(node[1], node[2], env)
        if kind == "if":
            cond = self.truth(self.eval(node[1], env), node[1])
            if cond:
                return self.eval(node[2], env)
            return self.eval(node[3], env) if node[3] is not None else None
        if kind == "for":
            seq = self.eval(node[2], env)
            items = (
                seq.items
                if isinstance(seq, RList)
                else [_elem(seq, i) for i in range(len(seq or []))]
            )
            for it in items:
                env.vars[node[1]] = it
                try:
                    self.eval(node[3], env)
                except _Break:
                    break
                except _Next:
                    continue
            return None
        if kind == "while":
            while self.truth(self.eval(node[1], env), node[1]):
                try:
                    self.eval(node[2], env)
                except _Break:
                    break
                except _Next:
                    continue
            return None
        if kind == "formula":
            return RObj(["formula"], {}, py=node)
        if kind == "dollar":
            return dollar(self.eval(node[1], env), node[2])
        if kind in ("index", "index2"):
            obj = self.eval(node[1], env)
            args = [None if a is None else self.eval(a, env) for _, a in node[2]]
            return index(obj, args) if kind == "index" else index2(obj, args)
        if kind == "binop":
            op = node[1]
            if op in ("&&", "||"):
                a = self.truth(self.eval(node[2], env), node[2])
                if op == "&&" and not a:
                    return num([0.0]).copy(kind="lgl")
                if op == "||" and a:
                    return num([1.0]).copy(kind="lgl")
                b = self.truth(self.eval(node[3], env), node[3])
                return num([float(b)]).copy(kind="lgl")
            return binop(op, self.eval(node[2], env), self.eval(node[3], env), node)
        if kind == "unop":
            return unop(node[1], self.eval(node[2], env))
        raise Unsupported(f"unsupported: {deparse(node)}")

    def truth(self, v: Any, node: Node) -> bool:
        if not isinstance(v, RVec) or len(v) == 0:
            raise RError(f"argument is of length zero in: {deparse(node)}")
        x = v.v[0]
        if v.kind == "chr":
            return str(x).upper() in ("TRUE", "T")
        if math.isnan(float(x)):
            raise RError(f"missing value where TRUE/FALSE needed in: {deparse(node)}")
        return bool(x)

    def lookup(self, name: str, env: Env) -> Any:
        e = env.find(name)
        if e is None:
            consts = {
                "TRUE": 1.0,
                "T": 1.0,
                "FALSE": 0.0,
                "F": 0.0,
            }
            if name in consts:
                return num([consts[name]]).copy(kind="lgl")
            if name == "NA":
                return num([math.nan]).copy(kind="lgl")
            if name in ("NA_real_", "NA_integer_"):
                return num([math.nan])
            if name == "NA_character_":
                return chr([None])
            if name == "NULL":
                return None
            if name == "Inf":
                return num([math.inf])
            if name == "NaN":
                return num([math.nan])
            if name.startswith("dat."):
                return self.input_frame()
            raise Unsupported(f"unsupported: object '{name}' (not defined, not a known function)")
        v = e.vars[name]
        if isinstance(v, Promise):
            if not v.forced:
                v.value = self.eval(v.node, v.env)
                v.forced = True
            return v.value
        return v

    # ---------------------------------------------------------------- assignment
    def assign(self, target: Node, value: Any, env: Env, superassign: bool = False) -> None:
        kind = target[0]
        if kind in ("ident", "str"):
            name = target[1]
            if superassign:
                e = env.parent.find(name) if env.parent else None
                (e or self.globals).vars[name] = value
            else:
                old = env.vars.get(name)
                if isinstance(old, Builtin) and old.protected:
                    return  # _common.R redefines helpers implemented natively
                env.vars[name] = value
            return
        if kind == "dollar":
            obj = _copy(self.eval(target[1], env))
            obj = set_dollar(obj, target[2], value)
            self.assign(target[1], obj, env, superassign)
            return
        if kind == "index2":
            obj = _copy(self.eval(target[1], env))
            key = self.eval(target[2][0][1], env)
            self.assign(target[1], assign_index2(obj, key, value), env, superassign)
            return
        if kind == "index":
            obj = _copy(self.eval(target[1], env))
            args = [None if a is None else self.eval(a, env) for _, a in target[2]]
            self.assign(target[1], assign_index(obj, args, value), env, superassign)
            return
        if kind == "call" and target[1][0] == "ident":
            obj = _copy(self.eval(target[2][0][1], env))
            extra = [self.eval(a, env) for _, a in target[2][1:] if a is not None]
            obj = set_attr_fn(target[1][1], obj, value, extra)
            self.assign(target[2][0][1], obj, env, superassign)
            return
        raise Unsupported(f"unsupported: assignment to {deparse(target)}")

    # ---------------------------------------------------------------------- calls
    def call(self, node: Node, env: Env) -> Any:
        fn_node = node[1]
        if fn_node[0] == "ident":
            fn = self._find_function(fn_node[1], env)
        elif fn_node[0] == "str":
            fn = self._find_function(fn_node[1], env)
        else:
            fn = self.eval(fn_node, env)
        return self.apply(fn, node[2], env, node)

    def _find_function(self, name: str, env: Env) -> Any:
        e: Env | None = env
        while e is not None:
            if name in e.vars:
                v = e.vars[name]
                if isinstance(v, Promise):
                    v = self.lookup(name, e)
                if isinstance(v, (Closure, Builtin)):
                    return v
            e = e.parent
        raise Unsupported(f"unsupported: {name}() is not implemented")

    def apply(
        self, fn: Any, args: list[tuple[str | None, Node | None]], env: Env, node: Node
    ) -> Any:
        if isinstance(fn, Builtin):
            if fn.lazy:
                return fn.fn(self, args, env)
            pos: list[Any] = []
            kw: dict[str, Any] = {}
            for name, a in args:
                if a is not None and a[0] == "ident" and a[1] == "...":
                    dots = self.lookup("...", env)
                    for n, v in dots:
                        (kw.__setitem__(n, v) if n else pos.append(v))
                    continue
                v = None if a is None else self.eval(a, env)
                if name:
                    kw[name] = v
                else:
                    pos.append(v)
            try:
                return fn.fn(self, pos, kw)
            except TypeError as exc:
                raise Unsupported(f"unsupported: {deparse(node)} ({exc})") from exc
        if isinstance(fn, Closure):
            return self.call_closure(fn, args, env)
        raise RError(f"attempt to apply non-function: {deparse(node)}")

    def call_closure(
        self, fn: Closure, args: list[tuple[str | None, Node | None]], env: Env
    ) -> Any:
        local = Env(fn.env)
        pnames = [p for p, _ in fn.params]
        bound: dict[str, Any] = {}
        positional: list[Any] = []
        dots: list[tuple[str | None, Any]] = []
        for name, a in args:
            if a is not None and a[0] == "ident" and a[1] == "...":
                for n, v in self.lookup("...", env):
                    (
                        bound.__setitem__(n, v) if n in pnames else dots.append((n, v))
                    ) if n else positional.append(v)
                continue
            if a is None:
                continue  # an empty argument: the parameter stays missing
            p: Any = a[1] if a[0] == "value" else Promise(a, env)
            if name is not None:
                hits = [q for q in pnames if q == name] or [
                    q for q in pnames if q.startswith(name) and q != "..."
                ]
                if len(hits) == 1 and hits[0] not in bound:
                    bound[hits[0]] = p
                elif "..." in pnames:
                    dots.append((name, p))
                else:
                    raise RError(f"unused argument ({name} = {deparse(a)})")
            else:
                positional.append(p)
        free = [q for q in pnames if q not in bound and q != "..."]
        di = pnames.index("...") if "..." in pnames else len(pnames)
        for v in positional:
            before = [q for q in free if pnames.index(q) < di]
            if before:
                q = before[0]
                bound[q] = v
                free.remove(q)
            elif "..." in pnames:
                dots.append((None, v))
            else:
                raise RError("unused argument")
        for q, default in fn.params:
            if q == "...":
                local.vars["..."] = [(n, self._force(v)) for n, v in dots]
                continue
            if q in bound:
                local.vars[q] = bound[q]
            elif default is not None:
                local.vars[q] = Promise(default, local)
                local.missing.add(q)
            else:
                local.missing.add(q)
        try:
            return self.eval(fn.body, local)
        except _Return as r:
            return r.value

    def _force(self, v: Any) -> Any:
        if isinstance(v, Promise):
            if not v.forced:
                v.value = self.eval(v.node, v.env)
                v.forced = True
            return v.value
        return v

    def call_value(self, fn: Any, *pos: Any, **kw: Any) -> Any:
        """Call an R function value with evaluated arguments."""
        args = [(None, _value_node(v)) for v in pos] + [(k, _value_node(v)) for k, v in kw.items()]
        return self.apply(
            fn, args, self.globals, ("call", ("ident", getattr(fn, "name", "f")), args)
        )

    def as_python_fn(self, fn: Any, **extra: Any) -> Callable[[np.ndarray], np.ndarray]:
        """An R function (e.g. ``transf = exp``) as a numpy callable."""

        def f(x: np.ndarray) -> np.ndarray:
            out = self.call_value(fn, num(np.atleast_1d(x)), **extra)
            return np.asarray(out.v, dtype=float)

        return f


def _elem(v: Any, i: int) -> Any:
    if isinstance(v, RVec):
        return RVec(v.v[i : i + 1].copy(), v.kind)
    raise RError("cannot iterate")


def _copy(x: Any) -> Any:
    if isinstance(x, (RVec, RList)):
        return x.copy()
    if isinstance(x, RObj):
        return RObj(list(x.cls), dict(x.fields), x.py)
    return x


def dollar(obj: Any, name: str) -> Any:
    if isinstance(obj, RList):
        return obj.get(name)
    if isinstance(obj, RObj):
        if name in obj.fields:
            return obj.fields[name]
        hits = [k for k in obj.fields if k.startswith(name)]
        return obj.fields[hits[0]] if len(hits) == 1 else None
    if obj is None:
        return None
    raise RError(f"$ operator is invalid for atomic vectors (${name})")


def set_dollar(obj: Any, name: str, value: Any) -> Any:
    if obj is None:
        obj = RList([], [])
    if isinstance(obj, RList):
        if obj.cls == "data.frame" and isinstance(value, RVec):
            n = obj.nrow()
            if len(value) == 1 and n != 1:
                value = RVec(np.resize(value.v, n), value.kind)
        obj.set(name, value)
        return obj
    if isinstance(obj, RObj):
        obj.fields[name] = value
        return obj
    raise RError(f"cannot set ${name} on an atomic vector")
