"""metafor's functions for the case-script evaluator, written on fmreview.meta's public API.

Each R function here takes R's argument names (``rma(yi, vi, mods = ~ x, data = d,
method = "REML", control = list(...))``), calls the public fmreview function, and
returns an object whose ``$`` fields carry metafor's names (``beta``, ``ci.lb``,
``fit.stats``, ``k0``, ...).  Arguments of functions that take ``data`` are evaluated
among its columns first, as R does.  Arguments this layer does not know stop the
case with ``unsupported: <function>(<argument> = ...)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from rbase import floats, scalar_str, strs, truthy, vec
from rcore import Builtin, Closure, Env
from rcore import Interp as Interpreter
from rparse import Node, deparse
from rvalues import RList, RMatrix, RObj, RVec, Unsupported, chr, lgl, num

import fmreview.meta as fm
from fmreview.errors import InputError

__all__ = ["METAFOR"]

METAFOR: dict[str, Builtin] = {}


def mf(name: str, lazy: bool = False):  # type: ignore[no-untyped-def]
    def deco(fn):  # type: ignore[no-untyped-def]
        for n in name.split("|"):
            METAFOR[n] = Builtin(n, fn, lazy)
        return fn

    return deco


# ------------------------------------------------------------------ argument helpers
def _data_args(
    interp: Interpreter, args: list[tuple[str | None, Node | None]], env: Env, order: list[str]
) -> tuple[dict[str, Any], RList | None]:
    """Evaluate a call's arguments among the columns of its ``data`` (R's non-standard evaluation)."""
    data = None
    for name, a in args:
        if name == "data" and a is not None:
            data = interp.eval(a, env)
    denv = Env(env)
    if isinstance(data, RList):
        for n, c in zip(data.names or [], data.items, strict=True):
            denv.vars[n] = c
    out: dict[str, Any] = {}
    free = list(order)
    expanded: list[tuple[str | None, Any]] = []
    for name, a in args:
        if a is not None and a[0] == "ident" and a[1] == "...":
            expanded.extend((n, ("value", v)) for n, v in interp.lookup("...", env))
        else:
            expanded.append((name, a))
    for name, a in expanded:
        if a is None or name == "data":
            continue
        key = name
        if key is None:
            if not free:
                raise Unsupported(f"unsupported: too many positional arguments ({deparse(a)})")
            key = free[0]
        if key in free:
            free.remove(key)
        out[key] = interp.eval(a, denv)
    return out, data


def _frame_dict(data: RList | None) -> dict[str, list[Any]] | None:
    if data is None:
        return None
    out: dict[str, list[Any]] = {}
    for n, c in zip(data.names or [], data.items, strict=True):
        if isinstance(c, RVec):
            out[n] = list(strs(c)) if c.kind == "chr" else [float(x) for x in c.v]
    return out


def _control(x: Any) -> dict[str, Any] | None:
    if x is None:
        return None
    return {
        n: float(floats(v)[0]) for n, v in zip(x.names or [], x.items, strict=True) if v is not None
    }


def _opt_float(kw: dict[str, Any], key: str, default: float | None = None) -> float | None:
    return default if kw.get(key) is None else float(floats(kw[key])[0])


def _opt_str(kw: dict[str, Any], key: str, default: str) -> str:
    return default if kw.get(key) is None else scalar_str(kw[key])


def _reject(fn: str, kw: dict[str, Any], known: set[str]) -> None:
    for k in kw:
        if k not in known:
            raise Unsupported(f"unsupported: {fn}({k} = ...)")


def _nv(x: Any, names: list[str] | None = None) -> RVec:
    return num(np.atleast_1d(np.asarray(x, dtype=float)), names)


def _mat(m: np.ndarray, rn: list[str] | None = None, cn: list[str] | None = None) -> RMatrix:
    return RMatrix(np.atleast_2d(np.asarray(m, dtype=float)), rn, cn)


def _df(cols: dict[str, Any], n: int | None = None) -> RList:
    items = []
    for v in cols.values():
        if isinstance(v, RVec):
            items.append(v)
        elif (
            isinstance(v, (list, np.ndarray))
            and len(v)
            and isinstance(np.asarray(v).ravel()[0], str)
        ):
            items.append(chr(list(v)))
        else:
            items.append(num(v))
    rows = n if n is not None else (len(items[0]) if items else 0)
    return RList(items, list(cols), "data.frame", attrs={"row.names": list(range(1, rows + 1))})


def _transf(interp: Interpreter, kw: dict[str, Any]) -> Any:
    fn = kw.get("transf")
    if fn is None:
        return None
    targs = kw.get("targs")
    if isinstance(fn, Builtin) and fn.name.startswith("transf."):
        py = _TRANSF[fn.name]
        if targs is not None:
            extra = {n: floats(v) for n, v in zip(targs.names or [], targs.items, strict=True)}
            return lambda x: py(x, **extra)
        return py
    if isinstance(fn, Builtin) and fn.name == "exp":
        return fm.transf_exp
    if isinstance(fn, (Builtin, Closure)):
        return interp.as_python_fn(fn)
    raise Unsupported("unsupported: transf that is not a function")


# ------------------------------------------------------------------ escalc
@mf("escalc", lazy=True)
def _escalc(interp: Interpreter, args: list[Any], env: Env) -> Any:
    kw, data = _data_args(interp, args, env, ["measure", "ai", "bi", "ci", "di", "n1i", "n2i"])
    measure = _opt_str(kw, "measure", "")
    opts: dict[str, Any] = {}
    for k in ("add",):
        if k in kw:
            opts[k] = float(floats(kw[k])[0])
    if "to" in kw:
        opts["to"] = scalar_str(kw["to"])
    if "drop00" in kw:
        opts["drop00"] = truthy(kw["drop00"])
    if "vtype" in kw:
        opts["vtype"] = scalar_str(kw["vtype"])
    cells = {}
    for k, v in kw.items():
        if k in ("measure", "add", "to", "drop00", "vtype", "slab", "append", "var.names"):
            continue
        if k not in (
            "ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "x2i", "t1i", "t2i", "m1i", "m2i",
            "sd1i", "sd2i", "xi", "mi", "ni", "ti", "ri", "yi", "vi", "sei",
        ):  # fmt: skip
            raise Unsupported(f"unsupported: escalc({k} = ...)")
        cells[k] = floats(v)
    yi, vi = fm.escalc(measure, **opts, **cells)
    out = data.copy() if isinstance(data, RList) else RList([], [], "data.frame")
    out.cls = "data.frame"
    yv = num(yi)
    ni = _sample_sizes(cells)
    if ni is not None:  # metafor keeps the sample sizes as an attribute of yi (regtest uses them)
        yv.attrs["ni"] = ni
    out.set("yi", yv)
    out.set("vi", num(vi))
    out.attrs["row.names"] = list(range(1, len(yi) + 1))
    return out


def _sample_sizes(cells: dict[str, np.ndarray]) -> np.ndarray | None:
    if "ni" in cells:
        return cells["ni"]
    if "n1i" in cells and "n2i" in cells:
        return cells["n1i"] + cells["n2i"]
    if all(k in cells for k in ("ai", "bi", "ci", "di")):
        return cells["ai"] + cells["bi"] + cells["ci"] + cells["di"]
    return None


# ------------------------------------------------------------------ rma.uni
_ES_ARGS = {
    "ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "x2i", "t1i", "t2i", "m1i", "m2i",
    "sd1i", "sd2i", "xi", "mi", "ni", "ti", "ri",
}  # fmt: skip
_RMA_ARGS = {
    "yi", "vi", "sei", "weights", "mods", "method", "test", "level", "control", "subset",
    "slab", "tau2", "verbose", "digits", "intercept", "measure", "add", "to", "drop00",
    "vtype",
} | _ES_ARGS  # fmt: skip


@mf("rma|rma.uni", lazy=True)
def _rma(interp: Interpreter, args: list[Any], env: Env) -> Any:
    kw, data = _data_args(interp, args, env, ["yi", "vi", "weights", "mods"])
    _reject("rma", kw, _RMA_ARGS)
    if kw.get("weights") is not None:
        raise Unsupported("unsupported: rma(weights = ...)")
    yi = kw.get("yi")
    if isinstance(yi, RList):  # rma(yi = <escalc frame>)
        data, yi = yi, yi.get("yi")
        kw.setdefault("vi", data.get("vi"))
    cells = {k: floats(v) for k, v in kw.items() if k in _ES_ARGS and v is not None}
    if cells:  # rma(measure = "RR", ai = ..., ...): escalc first, as metafor does
        opts: dict[str, Any] = {}
        if kw.get("add") is not None:
            opts["add"] = float(floats(kw["add"])[0])
        for k in ("to", "vtype"):
            if kw.get(k) is not None:
                opts[k] = scalar_str(kw[k])
        if kw.get("drop00") is not None:
            opts["drop00"] = truthy(kw["drop00"])
        y, v = fm.escalc(_opt_str(kw, "measure", "GEN"), **opts, **cells)
        yi, kw["vi"] = num(y), num(v)
    mods = kw.get("mods")
    fdata = _frame_dict(data)
    mods_arg: Any = None
    names = None
    if isinstance(mods, RObj) and mods.cls == ["formula"]:
        mods_arg = "~ " + deparse(mods.py[2])
        if fdata is None:
            raise Unsupported("unsupported: a moderator formula without data = ")
        try:
            fm.model_matrix(mods_arg, fdata)
        except InputError as exc:
            if "unsupported term" in str(exc) or "not supported" in str(exc):
                raise Unsupported(f"unsupported: mods = {mods_arg} ({exc})") from exc
    elif isinstance(mods, RMatrix):
        mods_arg, names = mods.m, mods.colnames
    elif mods is not None:
        mods_arg = floats(mods)
    subset = kw.get("subset")
    sub: Any = None
    if subset is not None:
        sv = vec(subset)
        sub = (sv.v != 0) if sv.kind == "lgl" else (floats(sv).astype(int) - 1)
    intercept = truthy(kw["intercept"]) if kw.get("intercept") is not None else True
    tau2 = _opt_float(kw, "tau2")
    model = fm.RMA(
        method=_opt_str(kw, "method", "REML"),
        test=_opt_str(kw, "test", "z"),
        level=_opt_float(kw, "level", 95.0) or 95.0,
        control=_control(kw.get("control")),
        tau2=tau2,
        verbose=truthy(kw["verbose"]) if kw.get("verbose") is not None else False,
    )
    model.fit(
        floats(yi),
        None if kw.get("vi") is None else floats(kw["vi"]),
        mods_arg,
        sei=None if kw.get("sei") is None else floats(kw["sei"]),
        subset=sub,
        data=fdata if isinstance(mods_arg, str) else None,
        coef_names=names,
        intercept=intercept,
    )
    obj = rma_obj(model)
    if isinstance(kw.get("yi"), RVec) and "ni" in kw["yi"].attrs and sub is None:
        obj.fields["ni"] = num(kw["yi"].attrs["ni"])
    return obj


def rma_obj(r: Any, cls: str = "rma.uni") -> RObj:
    nm = list(r.coef_names_)
    fs = r.fit_stats_
    rows = ["ll", "dev", "AIC", "BIC", "AICc"]
    fit_stats = RList(
        [num([fs["ML"][x] for x in rows]), num([fs["REML"][x] for x in rows])],
        ["ML", "REML"],
        "data.frame",
        attrs={"row.names": rows},
    )
    qmdf = list(r.QMdf_)
    beta = _mat(r.beta_[:, None], nm)
    f = {
        "b": beta,
        "beta": beta,
        "se": _nv(r.se_),
        "zval": _nv(r.zval_),
        "pval": _nv(r.pval_),
        "ci.lb": _nv(r.ci_lb_),
        "ci.ub": _nv(r.ci_ub_),
        "vb": _mat(r.vb_, nm, nm),
        "tau2": num(r.tau2_),
        "se.tau2": num(r.se_tau2_),
        "k": num(r.k_),
        "p": num(r.p_),
        "k.all": num(int(r.not_na_.size)),
        "method": chr([r.method]),
        "test": chr([r.test_]),
        "level": num(r.alpha_),
        "ddf": num(r.ddf_),
        "I2": num(r.I2_),
        "H2": num(r.H2_),
        "R2": None if r.R2_ is None and r.p_ == 1 else num(r.R2_),
        "QE": num(r.QE_),
        "QEp": num(r.QEp_),
        "QM": num(r.QM_),
        "QMp": num(r.QMp_),
        "QMdf": num([qmdf[0], qmdf[1]]),
        "s2w": num(r.s2w_),
        "fit.stats": fit_stats,
        "yi": num(r.yi_),
        "vi": num(r.vi_),
        "X": _mat(r.X_, None, nm),
        "int.only": lgl([r.p_ == 1 and nm[0] == "intrcpt"]),
        "tau2.fix": lgl([r.tau2 is not None]),
        "trace": _df(
            {
                "iteration": [t["iteration"] for t in r.trace_],
                "tau2": [t["tau2"] for t in r.trace_],
                "change": [t["change"] for t in r.trace_],
            }
        )
        if r.trace_
        else None,
    }
    return RObj([cls, "rma"], f, r)


def _model(x: Any, fn: str) -> Any:
    if isinstance(x, RObj) and x.py is not None:
        return x.py
    raise Unsupported(f"unsupported: {fn}() of a {getattr(x, 'cls', type(x).__name__)}")


# ------------------------------------------------------------------ methods
def _pred_list(pr: dict[str, Any]) -> RList:
    items, names = [], []
    for k in ("pred", "se", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "cr_lb", "cr_ub"):
        if k in pr:
            v = pr[k]
            items.append(None if v is None else num(np.atleast_1d(np.asarray(v, dtype=float))))
            names.append(k.replace("_", "."))
    if "pi.lb" in names and "cr.lb" not in names:
        items += [items[names.index("pi.lb")], items[names.index("pi.ub")]]
        names += ["cr.lb", "cr.ub"]
    return RList(items, names, "list.rma")


@mf("predict")
def _predict(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    obj = pos[0]
    _reject("predict", kw, {"newmods", "transf", "targs", "digits", "intercept", "level"})
    model = _model(obj, "predict")
    tf = _transf(interp, kw)
    if isinstance(model, fm.RMA):
        nm = kw.get("newmods", pos[1] if len(pos) > 1 else None)
        newmods = None
        if nm is not None:
            newmods = nm.m if isinstance(nm, RMatrix) else floats(nm)
        return _pred_list(model.predict(newmods, transf=tf))
    if isinstance(model, fm.TrimFill):
        return _pred_list(model.model.predict(transf=tf))
    return _pred_list(model.predict(transf=tf))


@mf("confint")
def _confint(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    model = _model(pos[0], "confint")
    _reject(
        "confint", kw, {"type", "control", "fixed", "random", "level", "digits", "transf", "targs"}
    )
    tf = _transf(interp, kw)
    fixed = truthy(kw["fixed"]) if kw.get("fixed") is not None else False
    random = truthy(kw["random"]) if kw.get("random") is not None else True
    out = RList([], [], "confint.rma")
    nm = list(model.coef_names_)
    if model.method in ("EE", "FE"):
        fixed, random = True, False
    if random:
        ci = model.confint(
            type=_opt_str(kw, "type", "QP"), control=_control(kw.get("control")),
            level=_opt_float(kw, "level"),
        )  # fmt: skip
        rows = [ci[r] for r in ("tau2", "tau", "I2", "H2")]
        out.set(
            "random",
            _mat(
                [[r["estimate"], r["ci_lb"], r["ci_ub"]] for r in rows],
                ["tau^2", "tau", "I^2(%)", "H^2"],
                ["estimate", "ci.lb", "ci.ub"],
            ),
        )
    if fixed:
        vals = np.column_stack([model.beta_, model.ci_lb_, model.ci_ub_])
        if tf is not None:
            vals = np.asarray(tf(vals), dtype=float)
        out.set("fixed", _mat(vals, nm, ["estimate", "ci.lb", "ci.ub"]))
    return out


def _simple(names: str, fn: Any) -> None:
    for name in names.split("|"):

        def f(interp: Interpreter, pos: list[Any], kw: dict[str, Any], name: str = name) -> Any:
            return fn(_model(pos[0], name))

        METAFOR[name] = Builtin(name, f)


_simple("weights", lambda m: num(m.weights_))
_simple("fitted|fitted.values", lambda m: num(m.fitted()))
_simple("resid", lambda m: num(m.residuals()))
_simple("residuals", lambda m: num(m.residuals()))
_simple("hatvalues", lambda m: num(m.hatvalues()))
_simple("vcov", lambda m: _mat(m.vb_, list(m.coef_names_), list(m.coef_names_)))
_simple("rstandard", lambda m: _df({k: num(v) for k, v in m.rstandard().items()}))
_simple("cooks.distance", lambda m: num(fm.influence(m)["cook_d"]))
_simple(
    "leave1out", lambda m: _df({k.replace("_", "."): v for k, v in fm.leave_one_out(m).items()})
)
_simple("blup", lambda m: _df({k.replace("_", "."): v for k, v in fm.blup(m).items()}))
_simple("ranef", lambda m: _df({k.replace("_", "."): v for k, v in fm.ranef(m).items()}))
_simple("logLik", lambda m: num(m.loglik()))


@mf("coef")
def _coef(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RObj) and "lm" in x.cls:
        return x.fields["coefficients"]
    m = _model(x, "coef")
    if isinstance(x, RObj) and "summary.rma" in x.cls:
        stat = "zval" if m.test_ == "z" else "tval"
        df = _df(
            {
                "estimate": m.beta_,
                "se": m.se_,
                stat: m.zval_,
                "pval": m.pval_,
                "ci.lb": m.ci_lb_,
                "ci.ub": m.ci_ub_,
            }
        )
        df.attrs["row.names"] = list(m.coef_names_)
        return df
    return num(m.beta_, list(m.coef_names_))


@mf("fitstats")
def _fitstats(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    m = _model(pos[0], "fitstats")
    col = "REML" if m.method == "REML" else "ML"
    rows = ["ll", "dev", "AIC", "BIC", "AICc"]
    return RList(
        [num([m.fit_stats_[col][r] for r in rows])], [col], "data.frame", attrs={"row.names": rows}
    )


@mf("anova")
def _anova(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    from scipy import stats

    _reject("anova", kw, {"btt", "digits"})
    m = _model(pos[0], "anova")
    if len(pos) > 1:  # likelihood-ratio test of two nested models
        r = _model(pos[1], "anova")
        if m.method == "REML" and list(m.coef_names_) != list(r.coef_names_):
            raise Unsupported("unsupported: anova() LRT of REML fits with different moderators")
        col = "REML" if m.method == "REML" else "ML"
        full, red = (m, r) if m.p_ >= r.p_ else (r, m)
        lrt = max(0.0, 2 * (full.fit_stats_[col]["ll"] - red.fit_stats_[col]["ll"]))
        df = full.p_ - red.p_ + (0 if full.method in ("EE", "FE") else 0)
        return RObj(
            ["anova.rma"],
            {
                "LRT": num(lrt),
                "pval": num(float(stats.chi2.sf(lrt, df)) if df > 0 else None),
                "QE.f": num(full.QE_),
                "QE.r": num(red.QE_),
                "tau2.f": num(full.tau2_),
                "tau2.r": num(red.tau2_),
                "p.f": num(full.p_),
                "p.r": num(red.p_),
            },
            None,
        )
    btt = (floats(kw["btt"]).astype(int) - 1) if kw.get("btt") is not None else np.array(m.btt_)
    b = m.beta_[btt]
    vb = m.vb_[np.ix_(btt, btt)]
    qm = float(b @ np.linalg.solve(vb, b))
    q = len(btt)
    if m.test_ == "z":
        fields = {"QM": num(qm), "QMp": num(float(stats.chi2.sf(qm, q))), "QMdf": num([q, None])}
    else:
        ddf = m.k_ - m.p_
        fields = {
            "QM": num(qm / q),
            "QMp": num(float(stats.f.sf(qm / q, q, ddf))),
            "QMdf": num([q, ddf]),
        }
    fields["btt"] = num(btt + 1)
    return RObj(["anova.rma"], fields, None)


@mf("rstudent")
def _rstudent(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    inf = fm.influence(_model(pos[0], "rstudent"))
    return _df({"resid": inf["rstudent_resid"], "se": inf["rstudent_se"], "z": inf["rstudent"]})


@mf("influence")
def _influence(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    m = _model(pos[0], "influence")
    inf = fm.influence(m)
    tab = _df(
        {
            "rstudent": inf["rstudent"],
            "dffits": inf["dffits"],
            "cook.d": inf["cook_d"],
            "cov.r": inf["cov_r"],
            "tau2.del": inf["tau2_del"],
            "QE.del": inf["QE_del"],
            "hat": inf["hat"],
            "weight": inf["weight"],
            "inf": chr(list(inf["inf"])),
        }
    )
    dfbs = _df({n: inf["dfbetas"][:, j] for j, n in enumerate(m.coef_names_)})
    return RObj(["infl.rma.uni"], {"inf": tab, "dfbs": dfbs}, None)


@mf("dfbetas")
def _dfbetas(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    m = _model(pos[0], "dfbetas")
    inf = fm.influence(m)
    return _df({n: inf["dfbetas"][:, j] for j, n in enumerate(m.coef_names_)})


@mf("cumul")
def _cumul(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    m = _model(pos[0], "cumul")
    order = kw.get("order", pos[1] if len(pos) > 1 else None)
    c = fm.cumulative(m, order=None if order is None else floats(order))
    cols = {
        ("pvals" if k == "pval" else k.replace("_", ".")): v for k, v in c.items() if k != "index"
    }
    df = _df(cols)
    return RObj(["list.rma"], {"as.data.frame": df, "ids": num(np.asarray(c["index"]) + 1)}, None)


# ------------------------------------------------------------------ publication bias
def _rt_obj(r: Any) -> RObj:
    fit: Any = None
    if r.fit is not None:
        fit = rma_obj(r.fit)
    elif r.model == "lm":
        names = list(r.fit_beta)
        coefm = _mat(
            np.column_stack([list(r.fit_beta.values()), list(r.fit_se.values())]),
            names,
            ["Estimate", "Std. Error"],
        )
        fit = RObj(
            ["lm"], {"coefficients": num(list(r.fit_beta.values()), names), "_summary": coefm}, None
        )
    est = num(r.est, ["intrcpt"]) if r.model == "rma" else num(r.est)
    return RObj(
        ["regtest"],
        {
            "model": chr([r.model]),
            "predictor": chr([r.predictor]),
            "zval": num(r.zval),
            "pval": num(r.pval),
            "dfs": num(r.dfs),
            "ddf": num(r.ddf),
            "est": est,
            "ci.lb": num(r.ci_lb),
            "ci.ub": num(r.ci_ub),
            "fit": fit,
        },
        r,
    )


@mf("regtest", lazy=True)
def _regtest(interp: Interpreter, args: list[Any], env: Env) -> Any:
    kw, _ = _data_args(interp, args, env, ["x", "vi"])
    _reject(
        "regtest",
        kw,
        {
            "x",
            "vi",
            "sei",
            "ni",
            "model",
            "predictor",
            "ret.fit",
            "method",
            "test",
            "control",
            "level",
            "digits",
        },
    )
    x = kw["x"]
    opts: dict[str, Any] = {
        "model": _opt_str(kw, "model", "rma"),
        "predictor": _opt_str(kw, "predictor", "sei"),
    }
    if kw.get("ni") is not None:
        opts["ni"] = floats(kw["ni"])
    elif isinstance(x, RObj) and x.fields.get("ni") is not None:
        opts["ni"] = floats(x.fields["ni"])
    elif isinstance(x, RVec) and "ni" in x.attrs:
        opts["ni"] = x.attrs["ni"]
    if isinstance(x, RObj):
        r = fm.regtest(_model(x, "regtest"), **opts)
    else:
        r = fm.regtest(
            floats(x),
            None if kw.get("vi") is None else floats(kw["vi"]),
            sei=None if kw.get("sei") is None else floats(kw["sei"]),
            method=_opt_str(kw, "method", "REML"),
            test=_opt_str(kw, "test", "z"),
            control=_control(kw.get("control")),
            **opts,
        )
    obj = _rt_obj(r)
    if not (kw.get("ret.fit") is not None and truthy(kw["ret.fit"])):
        obj.fields["fit"] = None
    return obj


@mf("summary")
def _summary(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    x = pos[0]
    if isinstance(x, RObj) and "lm" in x.cls:
        return RList([x.fields["_summary"]], ["coefficients"])
    if isinstance(x, RObj) and "rma.uni" in x.cls:
        return RObj(["summary.rma", *x.cls], dict(x.fields), x.py)
    return x


@mf("ranktest", lazy=True)
def _ranktest(interp: Interpreter, args: list[Any], env: Env) -> Any:
    kw, _ = _data_args(interp, args, env, ["x", "vi"])
    _reject("ranktest", kw, {"x", "vi", "exact", "digits"})
    exact = truthy(kw["exact"]) if kw.get("exact") is not None else True
    x = kw["x"]
    r = (
        fm.ranktest(_model(x, "ranktest"), exact=exact)
        if isinstance(x, RObj)
        else fm.ranktest(floats(x), floats(kw["vi"]), exact=exact)
    )
    return RObj(["ranktest"], {"tau": num(r.tau), "pval": num(r.pval)}, None)


@mf("trimfill")
def _trimfill(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
    _reject("trimfill", kw, {"estimator", "side", "maxiter"})
    m = _model(pos[0], "trimfill")
    side = None if kw.get("side") is None else scalar_str(kw["side"])
    t = fm.trimfill(m, estimator=_opt_str(kw, "estimator", "L0"), side=side)
    obj = rma_obj(t.model)
    obj.cls = ["rma.uni.trimfill", "rma.uni", "rma"]
    obj.fields.update(
        {
            "k0": num(t.k0),
            "se.k0": num(t.se_k0),
            "side": chr([t.side]),
            "k0.est": chr([t.estimator]),
            "p.k0": num(t.p_k0),
            "fill": lgl(list(t.fill)),
            "yi": num(t.yi),
            "vi": num(t.vi),
        }
    )
    obj.py = t
    return obj


@mf("fsn", lazy=True)
def _fsn(interp: Interpreter, args: list[Any], env: Env) -> Any:
    kw, _ = _data_args(interp, args, env, ["yi", "vi", "sei"])
    _reject("fsn", kw, {"yi", "vi", "sei", "type", "alpha", "target", "digits"})
    vi = floats(kw["vi"]) if kw.get("vi") is not None else floats(kw["sei"]) ** 2
    f = fm.fsn(
        floats(kw["yi"]),
        vi,
        type=_opt_str(kw, "type", "Rosenthal"),
        alpha=_opt_float(kw, "alpha", 0.05) or 0.05,
        target=_opt_float(kw, "target"),
    )
    return RObj(
        ["fsn"],
        {
            "type": chr([f.type]),
            "fsnum": num(f.fsnum),
            "alpha": num(f.alpha),
            "pval": num(f.pval),
            "meanes": num(f.meanes),
            "target": num(f.target),
        },
        None,
    )


# ------------------------------------------------------------------ MH, Peto, GLMM, bivariate
def _mhpeto_obj(res: Any) -> RObj:
    fs = res.fit_stats_["ML"]
    rows = list(fs)
    f = {
        "measure": chr([res.measure]),
        "method": chr(["FE"]),
        "k": num(res.k_),
        "k.yi": num(res.k_yi_),
        "k.pos": num(getattr(res, "k_pos_", None)),
        "k.eff": num(res.k_),
        "k.all": num(res.k_all_),
        "beta": num(res.beta_),
        "se": num(res.se_),
        "zval": num(res.zval_),
        "pval": num(res.pval_),
        "ci.lb": num(res.ci_lb_),
        "ci.ub": num(res.ci_ub_),
        "QE": num(res.QE_),
        "QEp": num(res.QEp_),
        "I2": num(res.I2_),
        "H2": num(res.H2_),
        "fit.stats": RList(
            [num([fs[x] for x in rows])], ["ML"], "data.frame", attrs={"row.names": rows}
        ),
        "yi": num(res.yi_),
        "vi": num(res.vi_),
    }
    for k in ("MH", "MHp", "TA", "TAp", "CO", "COp", "BD", "BDp"):
        v = getattr(res, k + "_", None)
        f[k] = None if v is None else num(v)
    return RObj(["rma.mh", "rma"], f, res)


_TABLE = {"ai", "bi", "ci", "di", "n1i", "n2i"}


@mf("rma.mh", lazy=True)
def _rma_mh(interp: Interpreter, args: list[Any], env: Env) -> Any:
    kw, _ = _data_args(interp, args, env, ["ai", "bi", "ci", "di", "n1i", "n2i"])
    _reject(
        "rma.mh",
        kw,
        _TABLE | {"measure", "correct", "drop00", "add", "to", "level", "digits", "slab"},
    )
    opts: dict[str, Any] = {"measure": _opt_str(kw, "measure", "OR")}
    if kw.get("correct") is not None:
        opts["correct"] = truthy(kw["correct"])
    if kw.get("drop00") is not None:
        opts["drop00"] = truthy(kw["drop00"])
    tables = {k: floats(v) for k, v in kw.items() if k in _TABLE}
    return _mhpeto_obj(fm.MantelHaenszel(**opts).fit(**tables))


@mf("rma.peto", lazy=True)
def _rma_peto(interp: Interpreter, args: list[Any], env: Env) -> Any:
    kw, _ = _data_args(interp, args, env, ["ai", "bi", "ci", "di", "n1i", "n2i"])
    _reject("rma.peto", kw, _TABLE | {"level", "digits", "slab"})
    tables = {k: floats(v) for k, v in kw.items() if k in _TABLE}
    return _mhpeto_obj(fm.Peto().fit(**tables))


@mf("rma.glmm", lazy=True)
def _rma_glmm(interp: Interpreter, args: list[Any], env: Env) -> Any:
    kw, _ = _data_args(interp, args, env, ["ai", "bi", "ci", "di"])
    # control: lme4/optimiser settings; fmreview's fit is always converged (see glmm.py)
    _reject("rma.glmm", kw, {"measure", "xi", "ni", "digits", "control"})
    if _opt_str(kw, "measure", "") != "PLO":
        raise Unsupported("unsupported: rma.glmm(measure other than 'PLO')")
    g = fm.BinomialGLMM().fit(floats(kw["xi"]), floats(kw["ni"]))
    f = {
        k: num(getattr(g, a))
        for k, a in (
            ("beta", "beta_"), ("se", "se_"), ("zval", "zval_"), ("pval", "pval_"),
            ("ci.lb", "ci_lb_"), ("ci.ub", "ci_ub_"), ("tau2", "tau2_"), ("I2", "I2_"),
            ("H2", "H2_"), ("QE.Wld", "QE_Wld_"), ("QEp.Wld", "QEp_Wld_"),
            ("QE.LRT", "QE_LRT_"), ("QEp.LRT", "QEp_LRT_"),
        )
    }  # fmt: skip
    return RObj(["rma.glmm", "rma"], f, g)


@mf("rma.mv", lazy=True)
def _rma_mv(interp: Interpreter, args: list[Any], env: Env) -> Any:
    kw, data = _data_args(interp, args, env, ["yi", "V", "W", "mods", "random"])
    random = kw.get("random")
    mods = kw.get("mods")
    struct = _opt_str(kw, "struct", "CS")
    pattern = (
        isinstance(random, RObj)
        and isinstance(mods, RObj)
        and struct == "UN"
        and random.py[2][0] == "binop"
        and random.py[2][1] == "|"
        and deparse(mods.py[2]).replace(" ", "") in (f"{deparse(random.py[2][2])}-1",)
    )
    if not pattern or data is None:
        raise Unsupported(
            "unsupported: rma.mv(...) other than the bivariate model "
            'mods = ~ outcome - 1, random = ~ outcome | study, struct = "UN"'
        )
    outcome = strs(data.get(deparse(random.py[2][2])))
    study = strs(data.get(deparse(random.py[2][3])))
    y, v = floats(kw["yi"]), floats(kw["V"])
    levels = sorted({o for o in outcome if o is not None})
    if len(levels) != 2:
        raise Unsupported("unsupported: rma.mv with other than two outcomes")
    ids = list(dict.fromkeys(s for s in study if s is not None))
    pick = {(s, o): i for i, (s, o) in enumerate(zip(study, outcome, strict=True))}
    idx1 = [pick[(s, levels[0])] for s in ids]
    idx2 = [pick[(s, levels[1])] for s in ids]
    b = fm.BivariateDTA().fit_logits(y[idx1], v[idx1], y[idx2], v[idx2])
    on = "outcome" if deparse(random.py[2][2]) == "outcome" else deparse(random.py[2][2])
    nm = [f"{on}{lv}" for lv in levels]
    rows = list(b.fit_stats_)
    f = {
        "beta": _mat(np.asarray(b.beta_)[:, None], nm),
        "se": num(b.se_),
        "ci.lb": num(b.ci_lb_),
        "ci.ub": num(b.ci_ub_),
        "zval": num(b.zval_),
        "pval": num(b.pval_),
        "vb": _mat(b.vb_, nm, nm),
        "tau2": num(b.tau2_),
        "rho": num(b.rho_),
        "fit.stats": RList(
            [num([b.fit_stats_[x] for x in rows])],
            ["REML"],
            "data.frame",
            attrs={"row.names": rows},
        ),
        "QE": num(b.QE_),
        "QEp": num(b.QEp_),
    }
    return RObj(["rma.mv", "rma"], f, b)


# ------------------------------------------------------------------ transformations
_TRANSF = {
    "transf.ztor": fm.transf_ztor,
    "transf.rtoz": fm.transf_rtoz,
    "transf.ilogit": fm.transf_ilogit,
    "transf.logit": fm.transf_logit,
    "transf.iarcsin": fm.transf_iarcsin,
    "transf.arcsin": fm.transf_arcsin,
    "transf.ipft.hm": lambda x, ni=None: fm.transf_ipft_hm(x, ni),
    "transf.ipft": lambda x, ni=None: fm.transf_ipft(x, float(np.asarray(ni).ravel()[0])),
    "transf.exp.int": None,
}


def _make_transf(name: str) -> None:
    def f(interp: Interpreter, pos: list[Any], kw: dict[str, Any]) -> Any:
        py = _TRANSF[name]
        if py is None:
            raise Unsupported(f"unsupported: {name}()")
        targs = kw.get("targs")
        extra = (
            {}
            if targs is None
            else {n: floats(v) for n, v in zip(targs.names or [], targs.items, strict=True)}
        )
        return num(py(floats(pos[0]), **extra))

    METAFOR[name] = Builtin(name, f)


for _n in _TRANSF:
    _make_transf(_n)

_ = math
