"""Base-R functions and operators for the case-script evaluator (:mod:`rlite`)."""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np
from rcore import Builtin, Env, RWarning, _Break, _Next, _Return, capture_value
from rcore import Interp as Interpreter
from rparse import Node, deparse
from rvalues import RError, RList, RMatrix, RObj, RVec, Unsupported, chr, lgl, num

__all__ = [
    "BASE",
    "assign_index",
    "assign_index2",
    "binop",
    "combine",
    "floats",
    "index",
    "index2",
    "scalar_str",
    "strs",
    "truthy",
    "unop",
    "vec",
]

BASE: dict[str, Builtin] = {}


def builtin(name: str, lazy: bool = False, protected: bool = False):  # type: ignore[no-untyped-def]
    def deco(fn):  # type: ignore[no-untyped-def]
        for n in name.split("|"):
            BASE[n] = Builtin(n, fn, lazy, protected)
        return fn

    return deco


# ------------------------------------------------------------------ helpers
def vec(x: Any) -> RVec:
    if isinstance(x, RVec):
        return x
    if x is None:
        return RVec(np.array([], dtype=float))
    if isinstance(x, RMatrix):
        return num(x.m.ravel(order="F"))
    if isinstance(x, RList):
        return unlist(x)
    raise Unsupported(f"unsupported: using a {type(x).__name__} as a vector")


def floats(x: Any) -> np.ndarray:
    v = vec(x)
    if v.kind == "chr":
        out = []
        for e in v.v:
            try:
                out.append(math.nan if e is None else float(e))
            except ValueError:
                out.append(math.nan)
        return np.array(out, dtype=float)
    return v.v.astype(float)


def strs(x: Any) -> list[str | None]:
    v = vec(x)
    if v.kind == "chr":
        return list(v.v)
    return [None if math.isnan(e) else _fmt_num(e, v.kind) for e in v.v]


def _fmt_num(e: float, kind: str) -> str:
    if kind == "lgl":
        return "TRUE" if e else "FALSE"
    if float(e).is_integer() and abs(e) < 1e15:
        return str(int(e))
    return f"{e:.15g}"


def scalar_str(x: Any) -> str:
    s = strs(x)
    if not s or s[0] is None:
        raise RError("expected a string")
    return s[0]


def truthy(x: Any) -> bool:
    v = vec(x)
    return bool(len(v)) and bool(v.v[0]) and not (v.kind != "chr" and math.isnan(v.v[0]))


def unlist(x: RList) -> RVec:
    parts = []
    names: list[str] = []
    has_names = False
    for i, it in enumerate(x.items):
        v = vec(it) if not isinstance(it, RList) else unlist(it)
        parts.append(v)
        base = x.names[i] if x.names else ""
        if v.names or base:
            has_names = True
        for j in range(len(v)):
            inner = v.names[j] if v.names else ""
            if base and inner:
                names.append(f"{base}.{inner}")
            elif base:
                names.append(base if len(v) == 1 else f"{base}{j + 1}")
            else:
                names.append(inner)
    return combine(parts, names if has_names else None)


def combine(parts: list[RVec], names: list[str] | None = None) -> RVec:
    kinds = {p.kind for p in parts if len(p)}
    if not parts or not kinds:
        return RVec(np.array([], dtype=float), "lgl" if not parts else parts[0].kind)
    if "chr" in kinds:
        vals: list[Any] = []
        for p in parts:
            vals.extend(strs(p))
        return chr(vals, names)
    kind = "dbl" if "dbl" in kinds else ("int" if "int" in kinds else "lgl")
    return RVec(np.concatenate([p.v.astype(float) for p in parts]), kind, names)


def recycle(a: np.ndarray, n: int) -> np.ndarray:
    if a.size == n:
        return a
    if a.size == 0:
        return np.full(n, math.nan)
    return np.resize(a, n)


def _levels_of(v: RVec) -> list[str]:
    present = [s for s in strs(v) if s is not None]
    if v.kind != "chr":
        return [_fmt_num(x, "dbl") for x in sorted({float(s) for s in present})]
    return sorted(set(present), key=lambda t: (t.lower(), t))


# ------------------------------------------------------------------ operators
_ARITH = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "^": np.power,
}
_CMP = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    ">": np.greater,
    "<=": np.less_equal,
    ">=": np.greater_equal,
}


def binop(op: str, a: Any, b: Any, node: Node) -> Any:  # noqa: C901
    if op == "%in%":
        sa, sb = strs(a), set(strs(b))
        return lgl([x in sb for x in sa])
    if op == "%*%":
        ma = a.m if isinstance(a, RMatrix) else floats(a)[None, :]
        if isinstance(b, RMatrix):
            mb = b.m
        else:
            vb = floats(b)
            mb = vb[:, None] if ma.shape[1] == vb.size else vb[None, :]
        if not isinstance(a, RMatrix) and ma.shape[1] != mb.shape[0]:
            ma = ma.T
        return RMatrix(ma @ mb)
    if op == ":":
        lo, hi = floats(a)[0], floats(b)[0]
        step = 1 if hi >= lo else -1
        return RVec(np.arange(lo, hi + step * 0.5, step, dtype=float), "int")
    if isinstance(a, RMatrix) or isinstance(b, RMatrix):
        if op in _ARITH:
            ma = a.m if isinstance(a, RMatrix) else floats(a)
            mb = b.m if isinstance(b, RMatrix) else floats(b)
            with np.errstate(all="ignore"):
                out = _ARITH[op](ma, mb)
            ref = a if isinstance(a, RMatrix) else b
            return RMatrix(out, ref.rownames, ref.colnames)
        raise Unsupported(f"unsupported: matrix operator in {deparse(node)}")
    if a is None or b is None:
        return RVec(np.array([], dtype=float), "lgl")
    va, vb = vec(a), vec(b)
    n = max(len(va), len(vb)) if len(va) and len(vb) else 0
    names = (
        va.names if va.names and len(va) == n else (vb.names if vb.names and len(vb) == n else None)
    )
    if op in _CMP:
        if va.kind == "chr" or vb.kind == "chr":
            sa, sb = strs(va), strs(vb)
            sa = [sa[i % len(sa)] for i in range(n)]
            sb = [sb[i % len(sb)] for i in range(n)]
            res = [
                None
                if x is None or y is None
                else bool(_CMP[op](np.array(x, dtype=object), np.array(y, dtype=object)))
                for x, y in zip(sa, sb, strict=True)
            ]
            out = lgl(res)
            out.names = names
            return out
        x, y = recycle(va.v.astype(float), n), recycle(vb.v.astype(float), n)
        with np.errstate(invalid="ignore"):
            r = _CMP[op](x, y).astype(float)
        r[np.isnan(x) | np.isnan(y)] = math.nan
        return RVec(r, "lgl", names)
    if op in ("&", "|"):
        x, y = recycle(va.v.astype(float), n), recycle(vb.v.astype(float), n)
        r = np.where(op == "&", (x != 0) & (y != 0), (x != 0) | (y != 0)).astype(float)
        return RVec(r, "lgl", names)
    if op in _ARITH or op == "%%" or op == "%/%":
        x, y = recycle(floats(va), n), recycle(floats(vb), n)
        with np.errstate(all="ignore"):
            if op == "%%":
                r = np.mod(x, y)
            elif op == "%/%":
                r = np.floor_divide(x, y)
            else:
                r = _ARITH[op](x, y)
        kind = (
            "int"
            if va.kind in ("int", "lgl") and vb.kind in ("int", "lgl") and op in "+-*"
            else "dbl"
        )
        return RVec(r, kind, names)
    raise Unsupported(f"unsupported: operator {op} in {deparse(node)}")


def unop(op: str, a: Any) -> Any:
    v = vec(a)
    if op == "-":
        return RVec(-floats(v), "int" if v.kind in ("int", "lgl") else "dbl", v.names)
    if op == "+":
        return v
    r = (floats(v) == 0).astype(float)
    r[np.isnan(floats(v))] = math.nan
    return RVec(r, "lgl", v.names)


# ------------------------------------------------------------------ indexing
def _positions(i: Any, n: int, names: list[str] | None) -> np.ndarray:
    if i is None:
        return np.arange(n)
    v = vec(i)
    if v.kind == "chr":
        if names is None:
            raise RError("subscript out of bounds (no names)")
        out = []
        for s in v.v:
            if s not in names:
                raise RError(f"undefined columns selected: {s}")
            out.append(names.index(s))
        return np.array(out, dtype=int)
    if v.kind == "lgl":
        mask = recycle(v.v, n)
        return np.flatnonzero(np.nan_to_num(mask, nan=0.0) != 0)
    x = v.v.astype(float)
    x = x[x != 0]
    if x.size and np.all(x < 0):
        keep = np.ones(n, bool)
        keep[(-x - 1).astype(int)] = False
        return np.flatnonzero(keep)
    return (x - 1).astype(int)


def _take_vec(v: RVec, pos: np.ndarray) -> RVec:
    vals = np.array(
        [v.v[p] if p < len(v) else (None if v.kind == "chr" else math.nan) for p in pos],
        dtype=v.v.dtype,
    )
    names = [v.names[p] for p in pos] if v.names else None
    return RVec(vals, v.kind, names, False, {})


def index(obj: Any, args: list[Any]) -> Any:  # noqa: C901
    if obj is None:
        return None
    if isinstance(obj, RList) and obj.cls == "data.frame":
        if len(args) == 1:
            pos = _positions(args[0], len(obj.items), obj.names)
            return RList(
                [obj.items[p] for p in pos],
                [obj.names[p] for p in pos],
                "data.frame",
                attrs=dict(obj.attrs),
            )  # type: ignore[index]
        ri, ci = args[0], args[1]
        rows = _positions(ri, obj.nrow(), None) if ri is not None else None
        cols = _positions(ci, len(obj.items), obj.names)
        out_cols = [obj.items[c] for c in cols]
        if rows is not None:
            out_cols = [_take_col(c, rows) for c in out_cols]
        if len(cols) == 1 and ci is not None:
            return out_cols[0]
        rn = obj.attrs.get("row.names", list(range(1, obj.nrow() + 1)))
        attrs = {"row.names": [rn[r] for r in rows] if rows is not None else list(rn)}
        return RList(out_cols, [obj.names[c] for c in cols], "data.frame", attrs=attrs)  # type: ignore[index]
    if isinstance(obj, RMatrix):
        if len(args) == 1:
            return num(obj.m.ravel(order="F")[_positions(args[0], obj.m.size, None)])
        r = _positions(args[0], obj.m.shape[0], obj.rownames)
        c = _positions(args[1], obj.m.shape[1], obj.colnames)
        sub = obj.m[np.ix_(r, c)]
        rn = [obj.rownames[i] for i in r] if obj.rownames else None
        cn = [obj.colnames[i] for i in c] if obj.colnames else None
        if sub.shape == (1, 1):
            return num(sub[0, 0])
        if sub.shape[1] == 1:
            return num(sub[:, 0], rn)
        if sub.shape[0] == 1:
            return num(sub[0, :], cn)
        return RMatrix(sub, rn, cn)
    if isinstance(obj, RList):
        pos = _positions(args[0] if args else None, len(obj.items), obj.names)
        return RList(
            [obj.items[p] for p in pos], [obj.names[p] for p in pos] if obj.names else None, obj.cls
        )
    if isinstance(obj, RVec):
        if len(args) != 1:
            raise RError("incorrect number of dimensions")
        return _take_vec(obj, _positions(args[0], len(obj), obj.names))
    raise Unsupported(f"unsupported: indexing a {type(obj).__name__}")


def _take_col(c: Any, rows: np.ndarray) -> Any:
    if isinstance(c, RVec):
        return _take_vec(c, rows)
    raise Unsupported("unsupported: non-vector data-frame column")


def index2(obj: Any, args: list[Any]) -> Any:
    key = args[0]
    if isinstance(obj, RList):
        k = vec(key)
        if k.kind == "chr":
            return obj.get(str(k.v[0])) if obj.names and str(k.v[0]) in obj.names else None
        return obj.items[int(k.v[0]) - 1]
    if isinstance(obj, RObj):
        return obj.fields.get(scalar_str(key))
    if isinstance(obj, RVec):
        k = vec(key)
        p = obj.names.index(str(k.v[0])) if k.kind == "chr" and obj.names else int(k.v[0]) - 1
        return RVec(obj.v[p : p + 1].copy(), obj.kind)
    raise RError("subscript out of bounds")


def assign_index2(obj: Any, key: Any, value: Any) -> Any:
    if obj is None:
        obj = RList([], [])
    if isinstance(obj, RList):
        k = vec(key)
        if k.kind == "chr":
            obj.set(str(k.v[0]), value)
        else:
            i = int(k.v[0]) - 1
            while len(obj.items) <= i:
                obj.items.append(None)
                if obj.names is not None:
                    obj.names.append("")
            obj.items[i] = value
        return obj
    if isinstance(obj, RObj):
        obj.fields[scalar_str(key)] = value
        return obj
    return assign_index(obj, [key], value)


def assign_index(obj: Any, args: list[Any], value: Any) -> Any:
    if isinstance(obj, RVec) and len(args) == 1:
        pos = _positions(args[0], len(obj), obj.names)
        val = vec(value)
        kind = (
            "chr"
            if "chr" in (obj.kind, val.kind)
            else ("dbl" if "dbl" in (obj.kind, val.kind) else obj.kind)
        )
        base = np.array(strs(obj), dtype=object) if kind == "chr" else obj.v.astype(float)
        src = np.array(strs(val), dtype=object) if kind == "chr" else floats(val)
        n = max(len(obj), int(pos.max()) + 1 if pos.size else 0)
        if n > len(obj):
            base = np.concatenate(
                [base, np.full(n - len(obj), None if kind == "chr" else math.nan, dtype=base.dtype)]
            )
        base[pos] = (
            recycle(src, pos.size)
            if kind != "chr"
            else [src[i % len(src)] for i in range(pos.size)]
        )
        return RVec(base, kind, obj.names)
    if isinstance(obj, RList) and len(args) == 1 and obj.cls != "data.frame":
        v = vec(args[0])
        if v.kind == "chr":
            for s in v.v:
                obj.set(str(s), value)
            return obj
    raise Unsupported("unsupported: this form of x[...] <- value")


def set_attr_fn(fname: str, obj: Any, value: Any, extra: list[Any]) -> Any:
    if fname == "names":
        nm = None if value is None else [s or "" for s in strs(value)]
        if isinstance(obj, RVec):
            obj.names = nm
        elif isinstance(obj, RList):
            obj.names = nm
        return obj
    if fname in ("rownames", "row.names") and isinstance(obj, RList):
        obj.attrs["row.names"] = strs(value)
        return obj
    if fname == "rownames" and isinstance(obj, RMatrix):
        obj.rownames = None if value is None else [str(s) for s in strs(value)]
        return obj
    if fname == "colnames" and isinstance(obj, RMatrix):
        obj.colnames = None if value is None else [str(s) for s in strs(value)]
        return obj
    if fname == "class":
        if isinstance(obj, RList):
            obj.cls = scalar_str(value)
        return obj
    raise Unsupported(f"unsupported: {fname}(x) <- value")


# ------------------------------------------------------------------ language
@builtin("function", lazy=True)
def _function(interp: Interpreter, args: list[Any], env: Any) -> Any:
    raise Unsupported("unsupported: function used as a value")


@builtin("return")
def _return(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise _Return(pos[0] if pos else None)


@builtin("break")
def _break(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise _Break()


@builtin("next")
def _next(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise _Next()


@builtin("missing", lazy=True)
def _missing(interp: Interpreter, args: list[Any], env: Any) -> Any:
    name = args[0][1][1]
    return lgl([name in env.missing])


@builtin(
    "library|require|suppressPackageStartupMessages|options|set.seed|invisible|print|cat|message|Sys.setenv|rm",
    lazy=True,
)
def _noop(interp: Interpreter, args: list[Any], env: Any) -> Any:
    for _name, a in args:
        if a is not None and a[0] == "call":
            interp.eval(a, env)
    return None


@builtin("source", lazy=True)
def _source(interp: Interpreter, args: list[Any], env: Any) -> Any:
    path = scalar_str(interp.eval(args[0][1], env))
    interp.run_file((interp.case_dir / path).resolve(), interp.globals)
    return None


@builtin("stop")
def _stop(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise RError("".join(s or "" for p in pos for s in strs(p)))


@builtin("warning")
def _warning(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    warnings.warn("".join(s or "" for p in pos for s in strs(p)), RWarning, stacklevel=2)
    return None


@builtin("suppressWarnings", lazy=True)
def _suppress(interp: Interpreter, args: list[Any], env: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return interp.eval(args[0][1], env)


@builtin("tryCatch", lazy=True)
def _trycatch(interp: Interpreter, args: list[Any], env: Any) -> Any:
    expr = [a for n, a in args if n is None or n == "expr"][0]
    handler = {n: a for n, a in args if n in ("error", "warning", "finally")}
    from fmreview.errors import FmreviewError

    try:
        if "warning" in handler:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                return interp.eval(expr, env)
        return interp.eval(expr, env)
    except (FmreviewError, RError, UserWarning) as exc:
        key = "warning" if isinstance(exc, UserWarning) else "error"
        if key not in handler:
            raise
        fn = interp.eval(handler[key], env)
        cond = RList([chr([str(exc)])], ["message"], "condition")
        return interp.call_value(fn, cond)
    finally:
        if "finally" in handler:
            interp.eval(handler["finally"], env)


@builtin("conditionMessage")
def _cond_msg(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return pos[0].get("message")


@builtin("capture", lazy=True, protected=True)
def _capture(interp: Interpreter, args: list[Any], env: Any) -> Any:
    val, warns, err = capture_value(interp, lambda: interp.eval(args[0][1], env))
    items = [val, chr(warns), None if err is None else chr([err])]
    return RList(items, ["value", "warnings", "error"])


@builtin("write_json", protected=True)
def _write_json(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    interp.result = pos[0] if pos else kw.get("x")
    return None


@builtin("write_input|to_json|num1|jstr", protected=True)
def _write_input(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return None


@builtin("do.call")
def _do_call(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    fn = pos[0] if pos else kw["what"]
    if isinstance(fn, RVec):
        fn = interp._find_function(scalar_str(fn), interp.globals)
    lst = pos[1] if len(pos) > 1 else kw["args"]
    if isinstance(lst, RVec):
        lst = RList([_elem(lst, i) for i in range(len(lst))], lst.names)
    args = [
        ((n or None) if lst.names else None, ("value", v))
        for n, v in zip(lst.names or [None] * len(lst.items), lst.items, strict=True)
    ]
    return interp.apply(
        fn, args, interp.globals, ("call", ("ident", getattr(fn, "name", "f")), args)
    )


def _elem(v: RVec, i: int) -> RVec:
    return RVec(v.v[i : i + 1].copy(), v.kind)


@builtin("lapply")
def _lapply(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0] if pos else kw.pop("X")
    fn = pos[1] if len(pos) > 1 else kw.pop("FUN")
    extra = pos[2:]
    kw.pop("FUN.VALUE", None)
    if extra and isinstance(extra[0], RVec) and len(extra[0]) <= 1:
        extra = extra[1:]  # vapply's FUN.VALUE
    if isinstance(x, RList):
        items, names = x.items, x.names
    else:
        v = vec(x)
        items = [_elem(v, i) for i in range(len(v))]
        names = v.names if v.names else ([str(s) for s in v.v] if v.kind == "chr" else None)
    out = [interp.call_value(fn, it, *extra, **kw) for it in items]
    simplify = interp_simplify.get(id(interp), "lapply")
    res = RList(out, list(names) if names else None)
    if simplify != "lapply" and out and all(isinstance(o, RVec) and len(o) == 1 for o in out):
        v = combine(out, list(names) if names else None)
        return v
    return res


interp_simplify: dict[int, str] = {}


def _make_apply(kind: str):  # type: ignore[no-untyped-def]
    def f(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        interp_simplify[id(interp)] = kind
        try:
            return _lapply(interp, pos, kw)
        finally:
            interp_simplify[id(interp)] = "lapply"

    return f


BASE["sapply"] = Builtin("sapply", _make_apply("sapply"))
BASE["vapply"] = Builtin("vapply", _make_apply("vapply"))


@builtin("setNames")
def _setnames(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0].copy() if hasattr(pos[0], "copy") else pos[0]
    nm = pos[1] if len(pos) > 1 else kw.get("nm")
    return set_attr_fn("names", x, nm, [])


# ------------------------------------------------------------------ constructors
@builtin("c")
def _c(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    parts = list(pos) + list(kw.values())
    labels = [None] * len(pos) + list(kw)
    if any(isinstance(p, (RList, RObj)) for p in parts):
        items, names = [], []
        for lab, p in zip(labels, parts, strict=True):
            if isinstance(p, RList):
                items.extend(p.items)
                names.extend(p.names or [""] * len(p.items))
            elif p is not None:
                items.append(p)
                names.append(lab or "")
        return RList(items, names if any(names) else None)
    vecs, names = [], []
    has = False
    for lab, p in zip(labels, parts, strict=True):
        if p is None:
            continue
        v = vec(p)
        vecs.append(v)
        if lab and len(v) == 1:
            names.append(lab)
            has = True
        elif v.names:
            names.extend(f"{lab}.{n}" if lab else n for n in v.names)
            has = True
        else:
            names.extend(
                [lab or ""] * len(v) if not lab else [f"{lab}{j + 1}" for j in range(len(v))]
            )
            has = has or bool(lab)
    return combine(vecs, names if has else None)


@builtin("list")
def _list(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    items = list(pos) + list(kw.values())
    names = [""] * len(pos) + list(kw)
    return RList(items, names if kw else None)


@builtin("I")
def _asis(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if x is None:
        return None
    y = x.copy() if isinstance(x, (RVec, RList)) else x
    if isinstance(y, (RVec, RList)):
        y.asis = True
    return y


@builtin("data.frame", lazy=True)
def _data_frame(interp: Interpreter, args: list[Any], env: Any) -> Any:
    cols: list[Any] = []
    names: list[str] = []
    for name, a in args:
        if name in ("stringsAsFactors", "check.names"):
            continue
        v = interp.eval(a, env)
        if isinstance(v, RList) and v.cls == "data.frame":
            cols.extend(v.items)
            names.extend(v.names or [])
        elif isinstance(v, RMatrix):
            for j in range(v.m.shape[1]):
                cols.append(num(v.m[:, j]))
                names.append(v.colnames[j] if v.colnames else f"X{j + 1}")
        else:
            vv = vec(v)
            cols.append(vv.copy(names=None, asis=False))
            names.append(name or re.sub(r"[^\w.]", ".", deparse(a)).split("$")[-1])
    n = max((len(c) for c in cols), default=0)
    cols = [RVec(recycle(c.v, n) if c.kind != "chr" else np.resize(c.v, n), c.kind) for c in cols]
    return RList(cols, names, "data.frame", attrs={"row.names": list(range(1, n + 1))})


@builtin("rbind|cbind")
def _bind(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    parts = [p for p in pos if p is not None]
    if parts and all(isinstance(p, RList) and p.cls == "data.frame" for p in parts):
        first = parts[0]
        cols = []
        for n in first.names or []:
            cols.append(combine([vec(p.get(n)) for p in parts]))
        rn: list[Any] = []
        for p in parts:
            rn.extend(p.attrs.get("row.names", range(1, p.nrow() + 1)))
        return RList(
            cols,
            list(first.names or []),
            "data.frame",
            attrs={"row.names": list(range(1, len(rn) + 1))},
        )
    rows = [p.m if isinstance(p, RMatrix) else floats(p)[None, :] for p in parts]
    width = max(r.shape[1] for r in rows)
    return RMatrix(np.vstack([np.resize(r, (r.shape[0], width)) for r in rows]))


@builtin("cbind", lazy=True)
def _cbind(interp: Interpreter, args: list[Any], env: Any) -> Any:
    cols: list[np.ndarray] = []
    names: list[str] = []
    for name, a in args:
        p = interp.eval(a, env)
        if isinstance(p, RMatrix):
            cols.extend(p.m[:, j] for j in range(p.m.shape[1]))
            names.extend(p.colnames or [""] * p.m.shape[1])
        else:
            cols.append(floats(p))
            names.append(name or (a[1] if a[0] == "ident" else ""))
    n = max(c.size for c in cols)
    m = np.column_stack([recycle(c, n) for c in cols])
    return RMatrix(m, None, names if any(names) else None)


def _as_matrix(x: Any) -> np.ndarray:
    if isinstance(x, RMatrix):
        return x.m
    return floats(x)[:, None]


@builtin("t")
def _t(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RMatrix):
        return RMatrix(x.m.T.copy(), x.colnames, x.rownames)
    return RMatrix(floats(x)[None, :])


@builtin("diag")
def _diag(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RMatrix):
        return num(np.diag(x.m).copy())
    v = floats(x)
    if "nrow" in kw:
        return RMatrix(np.diag(recycle(v, int(floats(kw["nrow"])[0]))))
    if v.size == 1 and len(pos) == 1:
        return RMatrix(np.eye(int(v[0])))
    return RMatrix(np.diag(v))


@builtin("drop")
def _drop(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RMatrix) and 1 in x.m.shape:
        return num(x.m.ravel())
    return x


@builtin("split")
def _split(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x, f = pos[0], vec(pos[1] if len(pos) > 1 else kw["f"])
    keys = strs(f)
    levels = f.attrs.get("levels") or _levels_of(f)
    out = []
    for lev in levels:
        rows = np.array([i for i, k in enumerate(keys) if k == lev], dtype=int)
        if isinstance(x, RList) and x.cls == "data.frame":
            out.append(index(x, [num(rows + 1), None]))
        else:
            out.append(index(x, [num(rows + 1)]))
    return RList(out, list(levels))


@builtin("with", lazy=True)
def _with(interp: Interpreter, args: list[Any], env: Any) -> Any:
    data = interp.eval(args[0][1], env)
    local = Env(env)
    if isinstance(data, RList):
        for n, c in zip(data.names or [], data.items, strict=True):
            local.vars[n] = c
    return interp.eval(args[1][1], local)


@builtin("subset", lazy=True)
def _subset(interp: Interpreter, args: list[Any], env: Any) -> Any:
    data = interp.eval(args[0][1], env)
    if not (isinstance(data, RList) and data.cls == "data.frame"):
        raise Unsupported("unsupported: subset() of something other than a data frame")
    local = Env(env)
    for n, c in zip(data.names or [], data.items, strict=True):
        local.vars[n] = c
    cond = [a for n, a in args[1:] if n in (None, "subset")]
    out = data
    if cond:
        out = index(data, [interp.eval(cond[0], local), None])
    sel = [a for n, a in args[1:] if n == "select"]
    if sel:
        out = index(out, [None, interp.eval(sel[0], local)])
    return out


@builtin("solve")
def _solve(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    a = _as_matrix(pos[0])
    if len(pos) > 1:
        return RMatrix(np.linalg.solve(a, _as_matrix(pos[1])))
    return RMatrix(np.linalg.inv(a))


@builtin("crossprod|tcrossprod")
def _crossprod(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise Unsupported("unsupported: crossprod")


def _register_crossprod() -> None:
    def cp(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        a = _as_matrix(pos[0])
        b = _as_matrix(pos[1]) if len(pos) > 1 else a
        return RMatrix(a.T @ b)

    def tcp(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        a = _as_matrix(pos[0])
        b = _as_matrix(pos[1]) if len(pos) > 1 else a
        return RMatrix(a @ b.T)

    BASE["crossprod"] = Builtin("crossprod", cp)
    BASE["tcrossprod"] = Builtin("tcrossprod", tcp)


_register_crossprod()


@builtin("matrix")
def _matrix(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    data = floats(pos[0] if pos else kw["data"])
    nrow = int(floats(kw.get("nrow", pos[1] if len(pos) > 1 else num(data.size)))[0])
    ncol = int(floats(kw["ncol"])[0]) if "ncol" in kw else max(1, math.ceil(data.size / nrow))
    byrow = truthy(kw.get("byrow", lgl([False])))
    m = np.resize(data, nrow * ncol).reshape((nrow, ncol), order="C" if byrow else "F")
    return RMatrix(m)


@builtin("numeric|double|character|logical|integer|vector")
def _alloc(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    n = (
        int(floats(pos[-1] if pos else kw.get("length", num(0)))[0])
        if (pos or "length" in kw)
        else 0
    )
    mode = scalar_str(pos[0]) if pos and isinstance(pos[0], RVec) and pos[0].kind == "chr" else ""
    if mode == "list":
        return RList([None] * n)
    if mode == "character":
        return chr([""] * n)
    return RVec(np.zeros(n), "dbl")
