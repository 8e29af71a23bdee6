"""Re-run metafor's golden cases (``bench/metafor/<case>/make.R``) with this package.

Each ``case_<name>(rows)`` takes the rows of the case's ``input.csv`` and returns a
nested dict with the *same keys* as metafor's ``expected.json``, so that
``benchmarks/metafor_agreement.py`` and the tests can compare leaf by leaf.
Errors are ``{"error": message}`` like the R side.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fmreview.errors import FmreviewError
from fmreview.meta.escalc import escalc
from fmreview.meta.rma import RMA, MetaWarning
from fmreview.meta.transforms import iarcsin, ilogit, ipft_hm, ztor

__all__ = ["CASES", "read_rows", "run_case"]

TIGHT = {"threshold": 1e-12, "tol": 1e-12, "maxiter": 10000, "stepadj": 1}
TIGHT_CI = {"tol": 1e-12, "maxiter": 10000}


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read a CSV into dicts; numbers become floats, empty cells None."""
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rec: dict[str, Any] = {}
            for k, val in row.items():
                if val is None or val == "" or val == "NA":
                    rec[k] = None
                else:
                    try:
                        rec[k] = float(val)
                    except ValueError:
                        rec[k] = val
            out.append(rec)
    return out


def col(rows: list[dict[str, Any]], name: str) -> np.ndarray:
    return np.array([math.nan if r.get(name) is None else float(r[name]) for r in rows])


def capture(fn: Callable[[], Any]) -> tuple[Any, list[str], str | None]:
    """Run ``fn`` recording MetaWarnings and a domain error (like the R ``capture``)."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", MetaWarning)
        try:
            val = fn()
            err = None
        except FmreviewError as exc:
            val, err = None, str(exc)
    return val, [str(w.message) for w in rec if issubclass(w.category, MetaWarning)], err


def named(names: list[str], vals: Any) -> dict[str, float]:
    return {n: float(v) for n, v in zip(names, np.atleast_1d(vals), strict=True)}


def matrix(m: np.ndarray) -> dict[str, Any]:
    return {"values": [list(map(float, r)) for r in np.atleast_2d(m)]}


def rma_out(res: RMA, weights: bool = True) -> dict[str, Any]:
    nm = res.coef_names_
    o: dict[str, Any] = {
        "method": res.method,
        "test": res.test_,
        "k": res.k_,
        "p": res.p_,
        "level": 100 * (1 - res.alpha_),
        "beta": named(nm, res.beta_),
        "se": named(nm, res.se_),
        "zval": named(nm, res.zval_),
        "pval": named(nm, res.pval_),
        "ci.lb": named(nm, res.ci_lb_),
        "ci.ub": named(nm, res.ci_ub_),
        "vb": matrix(res.vb_),
        "ddf": None if res.ddf_ is None else {n: res.ddf_ for n in nm},
        "tau2": res.tau2_,
        "se.tau2": res.se_tau2_,
        "tau": math.sqrt(res.tau2_),
        "I2": res.I2_,
        "H2": res.H2_,
        "R2": res.R2_,
        "QE": res.QE_,
        "QEp": res.QEp_,
        "QEdf": res.k_ - res.p_,
        "QM": res.QM_,
        "QMp": res.QMp_,
        "QMdf": list(res.QMdf_),
        "s2w": res.s2w_,
        "fit.stats": res.fit_stats_,
    }
    if weights:
        o["weights_pct"] = list(res.weights_)
    return o


def predict_out(pr: dict[str, Any]) -> dict[str, Any]:
    o = {
        k.replace("_", "."): (None if v is None else list(np.atleast_1d(v))) for k, v in pr.items()
    }
    if "pi.lb" in o:
        o["cr.lb"], o["cr.ub"] = o["pi.lb"], o["pi.ub"]
    return o


def confint_out(ci: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rows = [ci[r] for r in ("tau2", "tau", "I2", "H2")]
    return {"random": {"values": [[r["estimate"], r["ci_lb"], r["ci_ub"]] for r in rows]}}


def fit_block(
    yi: Any,
    vi: Any,
    method: str,
    *,
    test: str = "z",
    ctrl: dict[str, Any] | None = None,
    mods: Any = None,
    names: list[str] | None = None,
    ci_key: str | None = "confint_QP",
    ci_ctrl: dict[str, Any] | None = None,
    pl: bool = False,
    transf: Callable[[np.ndarray], np.ndarray] | None = None,
    transf_key: str = "predict_exp",
) -> dict[str, Any]:
    """One ``rma`` fit serialised as the R helpers do (``rma_uni_out`` + extras)."""
    res, warns, err = capture(
        lambda: RMA(method=method, test=test, control=ctrl).fit(yi, vi, mods, coef_names=names)
    )
    if err is not None:
        return {"error": err, "warnings": warns}
    o = rma_out(res)
    o["warnings"] = warns
    if method in ("EE", "FE"):
        o["confint"] = {
            "fixed": {"values": [[float(res.beta_[0]), float(res.ci_lb_[0]), float(res.ci_ub_[0])]]}
        }
    elif ci_key is not None:
        ci, cw, cerr = capture(lambda: res.confint(type="QP", control=ci_ctrl))
        o[ci_key] = {"error": cerr} if cerr else confint_out(ci)
        if pl and method in ("ML", "REML"):
            ci, cw, cerr = capture(lambda: res.confint(type="PL", control=ci_ctrl))
            o["confint_PL"] = {"error": cerr} if cerr else confint_out(ci)
    o["predict"] = predict_out(res.predict())
    if transf is not None:
        o[transf_key] = predict_out(res.predict(transf=transf))
    o["_model"] = res
    return o


def strip(d: Any) -> Any:
    """Remove private entries (``_model``) before comparing or serialising."""
    if isinstance(d, dict):
        return {k: strip(v) for k, v in d.items() if not k.startswith("_")}
    if isinstance(d, list):
        return [strip(v) for v in d]
    return d


def es_out(yi: np.ndarray, vi: np.ndarray) -> dict[str, Any]:
    return {"yi": list(yi), "vi": list(vi)}


# ---------------------------------------------------------------------------- cases
METHODS_ALL = ["EE", "FE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM", "PMM"]


def case_bcg_rr_estimators(rows: list[dict[str, Any]]) -> dict[str, Any]:
    yi, vi = escalc(
        "RR", ai=col(rows, "tpos"), bi=col(rows, "tneg"), ci=col(rows, "cpos"), di=col(rows, "cneg")
    )

    def one(method: str, test: str = "z", ctrl: dict[str, Any] | None = None) -> dict[str, Any]:
        cictl = None if ctrl is None else TIGHT_CI
        return fit_block(
            yi, vi, method, test=test, ctrl=ctrl, ci_ctrl=cictl, pl=True, transf=np.exp
        )

    return {
        "escalc": es_out(yi, vi),
        "default": {m: one(m) for m in METHODS_ALL},
        "tight": {m: one(m, ctrl=TIGHT) for m in METHODS_ALL},
        "knha": {
            "REML": one("REML", "knha"),
            "DL": one("DL", "knha"),
            "REML_tight": one("REML", "knha", TIGHT),
            "PM_tight": one("PM", "knha", TIGHT),
        },
        "test_t": {"REML": one("REML", "t"), "DL": one("DL", "t")},
        "test_adhoc": {"REML": one("REML", "adhoc"), "DL": one("DL", "adhoc")},
    }


CASES: dict[str, Callable[[list[dict[str, Any]]], dict[str, Any]]] = {
    "bcg_rr_estimators": case_bcg_rr_estimators,
}


def run_case(name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Run the case called ``name`` (a directory name of the golden suite)."""
    from fmreview.meta.reference_cases import EXTRA_CASES
    from fmreview.meta.reference_more import MORE_CASES

    cases = {**CASES, **EXTRA_CASES, **MORE_CASES}
    if name not in cases:
        raise KeyError(name)
    return strip(cases[name](rows))


# ---------------------------------------------------------------------- comparison
def _num(x: Any) -> float | None:
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float, np.floating, np.integer)):
        return float(x)
    if isinstance(x, str) and x in ("NaN", "Inf", "-Inf"):
        return float(x.lower().replace("inf", "inf"))
    return None


def compare(expected: Any, got: Any, path: str = "") -> list[dict[str, Any]]:
    """Walk ``expected`` and report every leaf against ``got``.

    Each item: ``{"path", "kind", "expected", "got", "abs", "rel"}`` with kind one of
    ``num`` (both numbers), ``missing`` (not computed here), ``na`` (one side NA),
    ``text`` (strings differ), ``text_ok``, ``error`` (one side errored, other not).
    Metadata keys (case, description, notes, rownames, colnames) are skipped.
    """
    out: list[dict[str, Any]] = []
    skip = {"case", "description", "notes", "note", "rownames", "colnames", "newmods"}
    if isinstance(expected, dict):
        if isinstance(got, dict) and ("error" in expected) != ("error" in got):
            out.append(
                {
                    "path": path,
                    "kind": "error",
                    "expected": expected.get("error"),
                    "got": got.get("error"),
                }
            )
            return out
        if not isinstance(got, dict):
            got = {}
        for k, v in expected.items():
            if k in skip:
                continue
            sub = f"{path}.{k}" if path else k
            if k not in got:
                out.extend(_missing(v, sub))
            else:
                out.extend(compare(v, got[k], sub))
        return out
    if isinstance(expected, list):
        if not isinstance(got, list):
            got = [got] if got is not None and not isinstance(got, dict) else []
        for i, v in enumerate(expected):
            sub = f"{path}[{i}]"
            out.extend(compare(v, got[i], sub) if i < len(got) else _missing(v, sub))
        return out
    e = _num(expected)
    g = _num(got)
    if e is not None:
        if g is None or (math.isnan(g) and not math.isnan(e)):
            out.append(
                {
                    "path": path,
                    "kind": "na" if (got is None or g is not None) else "missing",
                    "expected": e,
                    "got": got,
                }
            )
        elif math.isnan(e) and math.isnan(g) or (math.isinf(e) and e == g):
            out.append(
                {"path": path, "kind": "num", "expected": e, "got": g, "abs": 0.0, "rel": 0.0}
            )
        else:
            a = abs(g - e)
            out.append(
                {
                    "path": path,
                    "kind": "num",
                    "expected": e,
                    "got": g,
                    "abs": a,
                    "rel": a / abs(e) if e else a,
                }
            )
        return out
    if expected is None:
        if got is not None and _num(got) is not None and not math.isnan(_num(got) or 0.0):
            out.append({"path": path, "kind": "na", "expected": None, "got": got})
        return out
    if isinstance(expected, str):
        kind = "text_ok" if expected == got else "text"
        out.append({"path": path, "kind": kind, "expected": expected, "got": got})
    return out


def _missing(v: Any, path: str) -> list[dict[str, Any]]:
    return [
        {**item, "kind": "missing", "got": None}
        for item in compare(v, None, path)
        if item["kind"] in ("num", "na", "missing", "text", "text_ok")
    ]


_ = (ilogit, iarcsin, ipft_hm, ztor)
