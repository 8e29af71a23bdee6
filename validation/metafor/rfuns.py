"""Base-R functions, part 2: inspection, conversion, sequences, strings, maths (registered into ``BASE``)."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from rbase import (
    BASE,
    _elem,
    _levels_of,
    binop,
    builtin,
    floats,
    index,
    recycle,
    scalar_str,
    strs,
    truthy,
    unlist,
    vec,
)
from rcore import Builtin, Closure, read_csv
from rcore import Interp as Interpreter
from rvalues import RError, RList, RMatrix, RObj, RVec, Unsupported, chr, lgl, num
from scipy import special, stats

__all__: list[str] = []


# ------------------------------------------------------------------ inspection
@builtin("is.null")
def _is_null(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return lgl([pos[0] is None])


@builtin("is.na")
def _is_na(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RList):
        return lgl([it is None for it in x.items])
    v = vec(x)
    if v.kind == "chr":
        return lgl([e is None for e in v.v])
    return RVec(np.isnan(v.v.astype(float)).astype(float), "lgl", v.names)


@builtin("is.nan|is.finite|is.infinite")
def _is_nan(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise Unsupported("unsupported: is.nan/is.finite")


@builtin("is.numeric|is.character|is.logical|is.list|is.matrix|is.data.frame|is.function|is.factor")
def _is_type(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise Unsupported("unsupported: type predicates")


def _register_predicates() -> None:
    def mk(test):  # type: ignore[no-untyped-def]
        return lambda interp, pos, kw: lgl([test(pos[0])])

    preds = {
        "is.numeric": lambda x: isinstance(x, RVec) and x.kind in ("dbl", "int"),
        "is.character": lambda x: isinstance(x, RVec) and x.kind == "chr",
        "is.logical": lambda x: isinstance(x, RVec) and x.kind == "lgl",
        "is.list": lambda x: isinstance(x, (RList, RObj)),
        "is.matrix": lambda x: isinstance(x, RMatrix),
        "is.data.frame": lambda x: isinstance(x, RList) and x.cls == "data.frame",
        "is.function": lambda x: isinstance(x, (Builtin, Closure)),
        "is.factor": lambda x: False,
    }
    for n, t in preds.items():
        BASE[n] = Builtin(n, mk(t))

    def finite(kind: str):  # type: ignore[no-untyped-def]
        def f(interp, pos, kw):  # type: ignore[no-untyped-def]
            x = floats(pos[0])
            r = {"is.nan": np.isnan(x), "is.finite": np.isfinite(x), "is.infinite": np.isinf(x)}[
                kind
            ]
            return RVec(r.astype(float), "lgl")

        return f

    for n in ("is.nan", "is.finite", "is.infinite"):
        BASE[n] = Builtin(n, finite(n))


_register_predicates()


@builtin("inherits")
def _inherits(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x, what = pos[0], strs(pos[1] if len(pos) > 1 else kw["what"])
    cls: list[str] = []
    if isinstance(x, RObj):
        cls = x.cls
    elif isinstance(x, RList):
        cls = [x.cls] if x.cls else ["list"]
        if x.asis:
            cls.append("AsIs")
    elif isinstance(x, RVec) and x.asis:
        cls = ["AsIs"]
    elif isinstance(x, RMatrix):
        cls = ["matrix"]
    return lgl([any(w in cls for w in what)])


@builtin("length")
def _length(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if x is None:
        return num(0)
    if isinstance(x, RMatrix):
        return num(x.m.size)
    if isinstance(x, RObj):
        return num(len(x.fields))
    return num(len(x)).copy(kind="int")


@builtin("names")
def _names(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RObj):
        return chr(list(x.fields))
    nm = getattr(x, "names", None)
    return None if nm is None else chr(nm)


@builtin("rownames|row.names")
def _rownames(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RMatrix):
        return None if x.rownames is None else chr(x.rownames)
    if isinstance(x, RList) and x.cls == "data.frame":
        return chr([str(r) for r in x.attrs.get("row.names", range(1, x.nrow() + 1))])
    return None


@builtin("colnames")
def _colnames(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RMatrix):
        return None if x.colnames is None else chr(x.colnames)
    if isinstance(x, RList):
        return chr(x.names or [])
    return None


@builtin("nrow|NROW")
def _nrow(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RMatrix):
        return num(x.m.shape[0])
    if isinstance(x, RList):
        return num(x.nrow())
    return num(len(vec(x)))


@builtin("ncol|NCOL")
def _ncol(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RMatrix):
        return num(x.m.shape[1])
    if isinstance(x, RList):
        return num(len(x.items))
    return num(1)


@builtin("identical")
def _identical(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    from rvalues import to_tree

    return lgl([repr(to_tree(pos[0])) == repr(to_tree(pos[1]))])


# ------------------------------------------------------------------ conversion
@builtin("as.numeric|as.double")
def _as_numeric(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return RVec(floats(pos[0]), "dbl")


@builtin("as.integer")
def _as_integer(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return RVec(np.trunc(floats(pos[0])), "int")


@builtin("as.character")
def _as_character(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return chr(strs(pos[0]))


@builtin("as.logical")
def _as_logical(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    v = vec(pos[0])
    if v.kind == "chr":
        return lgl([None if s is None else s in ("TRUE", "T", "true") for s in v.v])
    r = (v.v.astype(float) != 0).astype(float)
    r[np.isnan(v.v.astype(float))] = math.nan
    return RVec(r, "lgl")


@builtin("as.vector|c.default")
def _as_vector(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RMatrix):
        return num(x.m.ravel(order="F"))
    if isinstance(x, RVec):
        return x.copy(names=None, asis=False)
    return x


@builtin("as.list")
def _as_list(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RList):
        return RList(list(x.items), x.names)
    if isinstance(x, RObj):
        return RList(list(x.fields.values()), list(x.fields))
    v = vec(x)
    return RList([_elem(v, i) for i in range(len(v))], v.names)


@builtin("as.data.frame")
def _as_data_frame(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RList) and x.cls == "data.frame":
        return x
    if isinstance(x, RObj) and "as.data.frame" in x.fields:
        return x.fields["as.data.frame"]
    if isinstance(x, RList):
        return RList(
            list(x.items), x.names, "data.frame", attrs={"row.names": list(range(1, x.nrow() + 1))}
        )
    if isinstance(x, RMatrix):
        cols = [num(x.m[:, j]) for j in range(x.m.shape[1])]
        return RList(cols, x.colnames or [f"V{j + 1}" for j in range(len(cols))], "data.frame")
    raise Unsupported(f"unsupported: as.data.frame of {type(x).__name__}")


@builtin("unname")
def _unname(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RVec):
        return x.copy(names=None)
    if isinstance(x, RMatrix):
        return RMatrix(x.m.copy())
    if isinstance(x, RList):
        y = x.copy()
        y.names = None
        return y
    return x


@builtin("unclass")
def _unclass(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RObj):
        return RList(list(x.fields.values()), list(x.fields))
    if isinstance(x, RList):
        y = x.copy()
        y.cls = None
        return y
    return x


@builtin("unlist")
def _unlist(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    return unlist(x) if isinstance(x, RList) else x


@builtin("factor|as.factor")
def _factor(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    v = vec(pos[0])
    out = chr(strs(v))
    out.attrs["levels"] = _levels_of(v) if kw.get("levels") is None else strs(kw["levels"])
    return out


@builtin("levels")
def _levels(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    v = vec(pos[0])
    return chr(v.attrs.get("levels") or _levels_of(v))


# ------------------------------------------------------------------ sequences and sets
@builtin("seq_len")
def _seq_len(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return RVec(np.arange(1, int(floats(pos[0])[0]) + 1, dtype=float), "int")


@builtin("seq_along")
def _seq_along(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    n = 0 if x is None else (len(x.fields) if isinstance(x, RObj) else len(x))
    return RVec(np.arange(1, n + 1, dtype=float), "int")


@builtin("seq")
def _seq(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    a = floats(pos[0] if pos else kw["from"])[0]
    b = floats(pos[1] if len(pos) > 1 else kw["to"])[0]
    if "length.out" in kw:
        return num(np.linspace(a, b, int(floats(kw["length.out"])[0])))
    by = floats(pos[2] if len(pos) > 2 else kw.get("by", num(1.0 if b >= a else -1.0)))[0]
    return num(np.arange(a, b + by * 1e-10, by))


@builtin("rep|rep_len")
def _rep(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    v = vec(pos[0])
    if "each" in kw:
        v = RVec(np.repeat(v.v, int(floats(kw["each"])[0])), v.kind)
    times = kw.get("times", pos[1] if len(pos) > 1 and "length.out" not in kw else None)
    n = kw.get("length.out")
    if n is None and len(pos) > 1 and times is None:
        n = pos[1]
    if n is not None:
        return RVec(np.resize(v.v, int(floats(n)[0])), v.kind)
    if times is not None:
        t = floats(times)
        if t.size == 1:
            return RVec(np.tile(v.v, int(t[0])), v.kind)
        return RVec(np.repeat(v.v, t.astype(int)), v.kind)
    return v


@builtin("order")
def _order(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    keys = [vec(p) for p in pos]
    dec = truthy(kw.get("decreasing", lgl([False])))
    n = len(keys[0])

    def key(i: int) -> tuple[Any, ...]:
        out = []
        for k in keys:
            e = k.v[i]
            if k.kind == "chr":
                out.append((e is None, (str(e).lower(), str(e)) if e is not None else ("", "")))
            else:
                out.append((math.isnan(e), -e if dec and not math.isnan(e) else e))
        return tuple(out)

    idx = sorted(range(n), key=key)
    return RVec(np.array(idx, dtype=float) + 1, "int")


@builtin("sort")
def _sort(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    v = vec(pos[0])
    if v.kind == "chr":
        return chr(sorted((s for s in v.v if s is not None), key=lambda t: (t.lower(), t)))
    x = v.v[~np.isnan(v.v)]
    return RVec(np.sort(x), v.kind)


@builtin("rev")
def _rev(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    v = vec(pos[0])
    return RVec(v.v[::-1].copy(), v.kind, v.names[::-1] if v.names else None)


@builtin("unique")
def _unique(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    v = vec(pos[0])
    seen: list[Any] = []
    for e in v.v:
        if not any(
            (e == s)
            or (
                e is not None
                and s is not None
                and isinstance(e, float)
                and math.isnan(e)
                and math.isnan(s)
            )
            for s in seen
        ):
            seen.append(e)
    return RVec(np.array(seen, dtype=v.v.dtype), v.kind)


@builtin("intersect")
def _intersect(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    a, b = strs(pos[0]), set(strs(pos[1]))
    out: list[Any] = []
    for x in a:
        if x in b and x not in out:
            out.append(x)
    return chr(out) if vec(pos[0]).kind == "chr" else num([float(x) for x in out])  # type: ignore[arg-type]


@builtin("which")
def _which(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    v = vec(pos[0])
    return RVec(np.flatnonzero(np.nan_to_num(v.v.astype(float)) != 0).astype(float) + 1, "int")


@builtin("complete.cases")
def _complete_cases(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    ok: np.ndarray | None = None
    for p in pos:
        cols = p.items if isinstance(p, RList) else [p]
        for c in cols:
            v = vec(c)
            good = (
                np.array([e is not None for e in v.v])
                if v.kind == "chr"
                else ~np.isnan(v.v.astype(float))
            )
            ok = good if ok is None else ok & good
    return lgl(ok if ok is not None else [])


@builtin("ifelse")
def _ifelse(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    t = floats(pos[0])
    yes, no = vec(pos[1]), vec(pos[2])
    n = t.size
    if "chr" in (yes.kind, no.kind):
        ys, ns = strs(yes), strs(no)
        return chr([ys[i % len(ys)] if t[i] else ns[i % len(ns)] for i in range(n)])
    return num(np.where(t != 0, recycle(floats(yes), n), recycle(floats(no), n)))


# ------------------------------------------------------------------ strings
@builtin("paste|paste0")
def _paste(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise Unsupported("unsupported: paste")


def _make_paste(default_sep: str):  # type: ignore[no-untyped-def]
    def f(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        sep = scalar_str(kw["sep"]) if "sep" in kw else default_sep
        parts = [[("NA" if s is None else s) for s in strs(p)] for p in pos if p is not None]
        n = max((len(p) for p in parts), default=0)
        out = [sep.join(p[i % len(p)] for p in parts if p) for i in range(n)]
        if "collapse" in kw and kw["collapse"] is not None:
            return chr([scalar_str(kw["collapse"]).join(out)])
        return chr(out)

    return f


BASE["paste"] = Builtin("paste", _make_paste(" "))
BASE["paste0"] = Builtin("paste0", _make_paste(""))


def _r_regex(p: str) -> str:
    return p.replace("[[:space:]]", r"\s").replace("[[:digit:]]", r"\d")


@builtin("gsub|sub")
def _gsub(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    pat = _r_regex(scalar_str(pos[0] if pos else kw["pattern"]))
    rep = scalar_str(pos[1] if len(pos) > 1 else kw["replacement"])
    x = pos[2] if len(pos) > 2 else kw["x"]
    fixed = truthy(kw.get("fixed", lgl([False])))
    rx = re.escape(pat) if fixed else pat
    rep_py = re.sub(r"\\(\d)", r"\\\1", rep)
    return chr([None if s is None else re.sub(rx, rep_py, s) for s in strs(x)])


@builtin("trimws")
def _trimws(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return chr([None if s is None else s.strip() for s in strs(pos[0])])


@builtin("grepl")
def _grepl(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    pat = _r_regex(scalar_str(pos[0]))
    return lgl([s is not None and re.search(pat, s) is not None for s in strs(pos[1])])


@builtin("sprintf")
def _sprintf(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    fmt = scalar_str(pos[0])
    vals = [floats(p)[0] if vec(p).kind != "chr" else scalar_str(p) for p in pos[1:]]
    return chr([fmt % tuple(vals)])


@builtin("toupper|tolower")
def _case(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise Unsupported("unsupported: toupper/tolower")


@builtin("basename")
def _basename(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return chr([None if s is None else s.rstrip("/").split("/")[-1] for s in strs(pos[0])])


@builtin("read.csv")
def _read_csv(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    path = interp.case_dir / scalar_str(pos[0] if pos else kw["file"])
    return read_csv(path)


@builtin("getwd")
def _getwd(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return chr([str(interp.case_dir.resolve())])


# ------------------------------------------------------------------ maths
def _math(name: str, f: Any) -> None:
    def fn(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        x = pos[0] if pos else next(iter(kw.values()))
        if isinstance(x, RMatrix):
            return RMatrix(f(x.m), x.rownames, x.colnames)
        v = vec(x)
        with np.errstate(all="ignore"):
            return RVec(np.asarray(f(floats(v)), dtype=float), "dbl", v.names)

    BASE[name] = Builtin(name, fn)


for _n, _f in {
    "sqrt": np.sqrt,
    "exp": np.exp,
    "abs": np.abs,
    "lgamma": special.gammaln,
    "gamma": special.gamma,
    "floor": np.floor,
    "ceiling": np.ceil,
    "tanh": np.tanh,
    "atanh": np.arctanh,
    "sin": np.sin,
    "cos": np.cos,
    "asin": np.arcsin,
    "log10": np.log10,
    "log2": np.log2,
    "log1p": np.log1p,
    "expm1": np.expm1,
    "cumsum": np.cumsum,
    "plogis": special.expit,
    "qlogis": special.logit,
    "trigamma": lambda x: special.polygamma(1, x),
    "digamma": special.digamma,
}.items():
    _math(_n, _f)


@builtin("log")
def _log(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = floats(pos[0])
    base = kw.get("base", pos[1] if len(pos) > 1 else None)
    with np.errstate(all="ignore"):
        r = np.log(x) if base is None else np.log(x) / math.log(floats(base)[0])
    return num(r, vec(pos[0]).names)


@builtin("round")
def _round(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    d = int(floats(kw.get("digits", pos[1] if len(pos) > 1 else num(0)))[0])
    return num(np.round(floats(pos[0]), d), vec(pos[0]).names)


def _reduce(name: str, f: Any) -> None:
    def fn(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        narm = truthy(kw.pop("na.rm", lgl([False])))
        x = np.concatenate([floats(p) for p in pos]) if pos else np.array([])
        if narm:
            x = x[~np.isnan(x)]
        return num(f(x))

    BASE[name] = Builtin(name, fn)


for _n, _f in {
    "sum": np.sum,
    "prod": np.prod,
    "mean": np.mean,
    "max": lambda x: np.max(x) if x.size else -math.inf,
    "min": lambda x: np.min(x) if x.size else math.inf,
    "var": lambda x: np.var(x, ddof=1),
    "sd": lambda x: np.std(x, ddof=1),
    "median": np.median,
}.items():
    _reduce(_n, _f)


@builtin("all|any")
def _allany(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise Unsupported("unsupported")


def _logical_reduce(name: str) -> None:
    def fn(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        x = np.concatenate([floats(p) for p in pos]) if pos else np.array([])
        if truthy(kw.get("na.rm", lgl([False]))):
            x = x[~np.isnan(x)]
        if name == "all":
            if np.any(x == 0):
                return lgl([False])
            return lgl([None]) if np.any(np.isnan(x)) else lgl([True])
        if np.any((x != 0) & ~np.isnan(x)):
            return lgl([True])
        return lgl([None]) if np.any(np.isnan(x)) else lgl([False])

    BASE[name] = Builtin(name, fn)


_logical_reduce("all")
_logical_reduce("any")


def _dist(name: str, f: Any) -> None:
    def fn(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        args = [floats(p) for p in pos]
        lower = truthy(kw.pop("lower.tail", lgl([True])))
        named = {k: floats(v)[0] for k, v in kw.items() if k not in ("log.p", "log")}
        return num(f(args, named, lower))

    BASE[name] = Builtin(name, fn)


_dist("pnorm", lambda a, k, lo: stats.norm.cdf(a[0]) if lo else stats.norm.sf(a[0]))
_dist("qnorm", lambda a, k, lo: stats.norm.ppf(a[0]) if lo else stats.norm.isf(a[0]))
_dist(
    "pt",
    lambda a, k, lo: (stats.t.cdf if lo else stats.t.sf)(a[0], a[1] if len(a) > 1 else k["df"]),
)
_dist(
    "qt",
    lambda a, k, lo: (stats.t.ppf if lo else stats.t.isf)(a[0], a[1] if len(a) > 1 else k["df"]),
)
_dist(
    "pchisq",
    lambda a, k, lo: (stats.chi2.cdf if lo else stats.chi2.sf)(
        a[0], a[1] if len(a) > 1 else k["df"]
    ),
)
_dist(
    "qchisq",
    lambda a, k, lo: (stats.chi2.ppf if lo else stats.chi2.isf)(
        a[0], a[1] if len(a) > 1 else k["df"]
    ),
)


# ------------------------------------------------------------------ more helpers
@builtin("Map|mapply")
def _map(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    fn = pos[0] if pos else kw.pop("f", kw.pop("FUN", None))
    kw.pop("SIMPLIFY", None)
    seqs = []
    for p in pos[1:]:
        if isinstance(p, RList):
            seqs.append(p.items)
        else:
            v = vec(p)
            seqs.append([_elem(v, i) for i in range(len(v))])
    first = pos[1] if len(pos) > 1 else None
    names = first.names if isinstance(first, (RList, RVec)) else None
    if names is None and isinstance(first, RVec) and first.kind == "chr":
        names = [str(s) for s in first.v]
    n = max((len(s) for s in seqs), default=0)
    out = [interp.call_value(fn, *[s[i % len(s)] for s in seqs], **kw) for i in range(n)]
    return RList(out, list(names) if names else None)


@builtin("Reduce")
def _reduce_fn(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    fn, x = pos[0], pos[1]
    items = x.items if isinstance(x, RList) else [_elem(vec(x), i) for i in range(len(vec(x)))]
    acc = kw.get("init", pos[2] if len(pos) > 2 else None)
    for it in items:
        acc = it if acc is None else interp.call_value(fn, acc, it)
    return acc


@builtin("nchar")
def _nchar(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    return num([len(s) if s is not None else 2 for s in strs(pos[0])])


BASE["toupper"] = Builtin(
    "toupper", lambda i, p, k: chr([None if s is None else s.upper() for s in strs(p[0])])
)
BASE["tolower"] = Builtin(
    "tolower", lambda i, p, k: chr([None if s is None else s.lower() for s in strs(p[0])])
)
BASE["which.max"] = Builtin("which.max", lambda i, p, k: num(float(np.nanargmax(floats(p[0]))) + 1))
BASE["which.min"] = Builtin("which.min", lambda i, p, k: num(float(np.nanargmin(floats(p[0]))) + 1))
BASE["isTRUE"] = Builtin(
    "isTRUE", lambda i, p, k: lgl([isinstance(p[0], RVec) and len(p[0]) == 1 and truthy(p[0])])
)
BASE["isFALSE"] = Builtin(
    "isFALSE",
    lambda i, p, k: lgl(
        [
            isinstance(p[0], RVec)
            and len(p[0]) == 1
            and not truthy(p[0])
            and not math.isnan(floats(p[0])[0])
        ]
    ),
)
BASE["is.element"] = Builtin(
    "is.element", lambda i, p, k: binop("%in%", p[0], p[1], ("value", None))
)
BASE["setdiff"] = Builtin(
    "setdiff",
    lambda i, p, k: chr([s for s in dict.fromkeys(strs(p[0])) if s not in set(strs(p[1]))]),
)
BASE["union"] = Builtin("union", lambda i, p, k: chr(list(dict.fromkeys(strs(p[0]) + strs(p[1])))))
BASE["signif"] = Builtin(
    "signif",
    lambda i, p, k: num(
        [float(f"{x:.{int(floats(p[1])[0]) if len(p) > 1 else 6}g}") for x in floats(p[0])]
    ),
)


@builtin("head|tail")
def _headtail(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    raise Unsupported("unsupported: head/tail")


def _ht(which: str):  # type: ignore[no-untyped-def]
    def f(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        x = pos[0]
        n = int(floats(pos[1] if len(pos) > 1 else kw.get("n", num(6)))[0])
        size = x.nrow() if isinstance(x, RList) and x.cls == "data.frame" else len(vec(x))
        rows = np.arange(size)[:n] if which == "head" else np.arange(size)[-n:]
        if isinstance(x, RList) and x.cls == "data.frame":
            return index(x, [num(rows + 1), None])
        return index(x, [num(rows + 1)])

    return f


BASE["head"] = Builtin("head", _ht("head"))
BASE["tail"] = Builtin("tail", _ht("tail"))


@builtin("stopifnot")
def _stopifnot(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    for p in list(pos) + list(kw.values()):
        if not all(floats(p) != 0):
            raise RError("stopifnot: a condition is not all TRUE")
    return None


@builtin("as.matrix")
def _as_matrix_fn(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RMatrix):
        return x
    if isinstance(x, RList) and x.cls == "data.frame":
        m = np.column_stack([floats(c) for c in x.items])
        rn = x.attrs.get("row.names")
        return RMatrix(m, [str(r) for r in rn] if rn else None, list(x.names or []))
    return RMatrix(floats(x)[:, None])
