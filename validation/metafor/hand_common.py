"""Hand translations of the golden cases' ``make.R``: shared helpers (public API only).

Each ``case_<name>(rows)`` takes the rows of the case's ``input.csv`` and returns a
nested dict with the *same keys* as metafor's ``expected.json``.  They serve the
tests (``tests/test_meta_agreement.py``), which run without the shared suite; the
agreement benchmark itself runs each case's ``make.R`` through :mod:`rlite`.
Errors are ``{"error": message}`` like the R side.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from compare import read_rows

from fmreview.errors import FmreviewError
from fmreview.meta import RMA, MetaWarning, escalc

__all__ = ["CASES", "TIGHT", "TIGHT_CI", "capture", "col", "fit_block", "read_rows"]

TIGHT = {"threshold": 1e-12, "tol": 1e-12, "maxiter": 10000, "stepadj": 1}
TIGHT_CI = {"tol": 1e-12, "maxiter": 10000}


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
