"""More golden-suite cases (split from ``reference`` to keep modules small)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hand_common import (
    TIGHT,
    TIGHT_CI,
    capture,
    col,
    es_out,
    fit_block,
    predict_out,
)

from fmreview.meta import RMA, escalc, hedges_correction
from fmreview.meta import transf_iarcsin as iarcsin
from fmreview.meta import transf_ilogit as ilogit
from fmreview.meta import transf_ipft_hm as ipft_hm

Rows = list[dict[str, Any]]


def _bcg(rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    return escalc(
        "RR", ai=col(rows, "tpos"), bi=col(rows, "tneg"), ci=col(rows, "cpos"), di=col(rows, "cneg")
    )


def case_bcg_metareg(rows: Rows) -> dict[str, Any]:
    yi, vi = _bcg(rows)
    ablat, year = col(rows, "ablat"), col(rows, "year")

    def fit(
        mods: np.ndarray, names: list[str], method: str = "REML", test: str = "z", ctrl=None
    ) -> dict:
        cictl = None if ctrl is None else TIGHT_CI
        o = fit_block(yi, vi, method, test=test, ctrl=ctrl, mods=mods, names=names, ci_ctrl=cictl)
        res = o.get("_model")
        if res is not None:
            o["fitted"] = list(res.fitted())
            o["resid"] = list(res.residuals())
            o["rstandard_z"] = list(res.rstandard()["z"])
        return o

    ay = np.column_stack([ablat, year])
    nay = ["ablat", "year"]
    newx = np.array([[10, 1950], [30, 1960], [50, 1970]], dtype=float)

    def pred(test: str = "z", ctrl=None) -> dict:
        res = RMA(method="REML", test=test, control=ctrl).fit(yi, vi, ay, coef_names=nay)
        return predict_out(res.predict(newx))

    return {
        "ablat_year": {
            "REML": fit(ay, nay),
            "REML_tight": fit(ay, nay, ctrl=TIGHT),
            "REML_knha": fit(ay, nay, test="knha"),
            "REML_knha_tight": fit(ay, nay, test="knha", ctrl=TIGHT),
            "ML": fit(ay, nay, method="ML"),
            "ML_tight": fit(ay, nay, method="ML", ctrl=TIGHT),
            "DL": fit(ay, nay, method="DL"),
            "FE": fit(ay, nay, method="FE"),
            "predict_REML": pred(),
            "predict_REML_tight": pred(ctrl=TIGHT),
            "predict_REML_knha": pred(test="knha"),
        },
        "ablat": {
            "REML": fit(ablat, ["ablat"]),
            "REML_tight": fit(ablat, ["ablat"], ctrl=TIGHT),
            "REML_knha": fit(ablat, ["ablat"], test="knha"),
            "DL": fit(ablat, ["ablat"], method="DL"),
            "FE": fit(ablat, ["ablat"], method="FE"),
        },
    }


def case_normand1999_smd(rows: Rows) -> dict[str, Any]:
    d: dict[str, Any] = {k: col(rows, k) for k in ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")}
    smd = escalc("SMD", **d)
    mi = d["n1i"] + d["n2i"] - 2
    sdp = np.sqrt(((d["n1i"] - 1) * d["sd1i"] ** 2 + (d["n2i"] - 1) * d["sd2i"] ** 2) / mi)

    def fit(e, method, ctrl=None, test="z"):
        return fit_block(
            e[0], e[1], method, test=test, ctrl=ctrl, ci_ctrl=None if ctrl is None else TIGHT_CI
        )

    md, rom = escalc("MD", **d), escalc("ROM", **d)
    return {
        "components": {
            "df": list(mi),
            "cm_exact": list(hedges_correction(mi)),
            "cm_approx": list(1 - 3 / (4 * mi - 1)),
            "sd_pooled": list(sdp),
            "d_uncorrected": list((d["m1i"] - d["m2i"]) / sdp),
        },
        "escalc": {
            "SMD": es_out(*smd),
            "SMD_vtype_UB": es_out(*escalc("SMD", vtype="UB", **d)),
            "MD": es_out(*md),
            "SMDH": es_out(*escalc("SMDH", **d)),
            "ROM": es_out(*rom),
        },
        "SMD": {
            "REML": fit(smd, "REML"),
            "REML_tight": fit(smd, "REML", TIGHT),
            "DL": fit(smd, "DL"),
            "FE": fit(smd, "FE"),
            "PM_tight": fit(smd, "PM", TIGHT),
            "REML_knha_tight": fit(smd, "REML", TIGHT, "knha"),
        },
        "MD": {"REML_tight": fit(md, "REML", TIGHT), "DL": fit(md, "DL")},
        "ROM": {"REML_tight": fit(rom, "REML", TIGHT), "DL": fit(rom, "DL")},
    }


def case_pritz1997_prop(rows: Rows) -> dict[str, Any]:
    xi, ni = col(rows, "xi"), col(rows, "ni")
    es = {m: escalc(m, xi=xi, ni=ni) for m in ("PLO", "PFT", "PR", "PAS", "PLN")}

    def ipft(x: np.ndarray) -> np.ndarray:
        return ipft_hm(x, ni)

    def fit(m, method, ctrl=None, test="z", transf=None):
        return fit_block(
            es[m][0],
            es[m][1],
            method,
            test=test,
            ctrl=ctrl,
            ci_ctrl=None if ctrl is None else TIGHT_CI,
            transf=transf,
            transf_key="predict_backtransformed",
        )

    return {
        "harmonic_mean_ni": float(1 / np.mean(1 / ni)),
        "escalc": {m: es_out(*e) for m, e in es.items()},
        "PLO": {
            "REML": fit("PLO", "REML", transf=ilogit),
            "REML_tight": fit("PLO", "REML", TIGHT, transf=ilogit),
            "DL": fit("PLO", "DL", transf=ilogit),
            "FE": fit("PLO", "FE", transf=ilogit),
            "REML_knha_tight": fit("PLO", "REML", TIGHT, "knha", transf=ilogit),
        },
        "PFT": {
            "REML": fit("PFT", "REML", transf=ipft),
            "REML_tight": fit("PFT", "REML", TIGHT, transf=ipft),
            "DL": fit("PFT", "DL", transf=ipft),
            "FE": fit("PFT", "FE", transf=ipft),
        },
        "PR": {"REML_tight": fit("PR", "REML", TIGHT), "DL": fit("PR", "DL")},
        "PAS": {
            "REML_tight": fit("PAS", "REML", TIGHT, transf=iarcsin),
            "DL": fit("PAS", "DL", transf=iarcsin),
        },
        "GLMM_PLO": _glmm(xi, ni),
    }


def _glmm(xi: np.ndarray, ni: np.ndarray) -> dict[str, Any]:
    from fmreview.meta import BinomialGLMM

    g, warns, err = capture(lambda: BinomialGLMM().fit(xi, ni))
    if err:
        return {"error": err}
    pr = g.predict(transf=ilogit)
    return {
        "beta": g.beta_,
        "se": g.se_,
        "zval": g.zval_,
        "pval": g.pval_,
        "ci.lb": g.ci_lb_,
        "ci.ub": g.ci_ub_,
        "tau2": g.tau2_,
        "I2": g.I2_,
        "H2": g.H2_,
        "QE.Wld": g.QE_Wld_,
        "QEp.Wld": g.QEp_Wld_,
        "QE.LRT": g.QE_LRT_,
        "QEp.LRT": g.QEp_LRT_,
        "predict_ilogit": predict_out({k: (None if v is None else [v]) for k, v in pr.items()}),
        "warnings": warns,
    }


def case_kearon1998_diagnostic(rows: Rows) -> dict[str, Any]:
    tp, np_, tn, nn = col(rows, "tp"), col(rows, "np"), col(rows, "tn"), col(rows, "nn")
    sens = escalc("PLO", xi=tp, ni=np_)
    spec = escalc("PLO", xi=tn, ni=nn)
    dor = escalc("OR", ai=tp, bi=np_ - tp, ci=nn - tn, di=tn)

    def fit(e, method="REML", ctrl=TIGHT, transf=None):
        return fit_block(
            e[0],
            e[1],
            method,
            ctrl=ctrl,
            ci_key=None,
            transf=transf,
            transf_key="predict_backtransformed",
        )

    out = {
        "escalc": {
            "logit_sens": es_out(*sens),
            "logit_spec": es_out(*spec),
            "logDOR": es_out(*dor),
        },
        "logit_sens_REML": fit(sens, transf=ilogit),
        "logit_spec_REML": fit(spec, transf=ilogit),
        "logDOR_REML": fit(dor, transf=np.exp),
        "logit_sens_DL": fit(sens, "DL", None, transf=ilogit),
        "logit_spec_DL": fit(spec, "DL", None, transf=ilogit),
    }
    try:
        from hand_more import bivariate_block

        out["bivariate_REML"] = bivariate_block(sens, spec)
    except ImportError:  # pragma: no cover - optional until the bivariate model exists
        pass
    return out


# ------------------------------------------------------------------- edge cases
def _edge_fit(yi, vi, method, test="z", ctrl=None) -> dict[str, Any]:
    o = fit_block(
        yi,
        vi,
        method,
        test=test,
        ctrl=ctrl,
        ci_key="confint_QP_tight",
        ci_ctrl=TIGHT_CI,  # the R helper always asks confint for tol = 1e-12
    )
    if "error" in o:
        return o
    res = o["_model"]
    if method not in ("EE", "FE"):
        _, cw, _ = capture(lambda: res.confint(type="QP", control=TIGHT_CI))
        o["confint_QP_tight_warnings"] = cw
    return o


def edge_suite(
    yi, vi, methods=("EE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
) -> dict[str, Any]:
    return {
        "default": {m: _edge_fit(yi, vi, m) for m in methods},
        "tight": {m: _edge_fit(yi, vi, m, ctrl=TIGHT) for m in methods},
        "knha": {
            "REML": _edge_fit(yi, vi, "REML", "knha", TIGHT),
            "DL": _edge_fit(yi, vi, "DL", "knha"),
        },
        "adhoc": {
            "REML": _edge_fit(yi, vi, "REML", "adhoc", TIGHT),
            "DL": _edge_fit(yi, vi, "DL", "adhoc"),
        },
    }


def _edge(methods=None) -> Callable[[Rows], dict[str, Any]]:
    def run(rows: Rows) -> dict[str, Any]:
        yi, vi = col(rows, "yi"), col(rows, "vi")
        return edge_suite(yi, vi, methods) if methods else edge_suite(yi, vi)

    return run


def case_edge_k1(rows: Rows) -> dict[str, Any]:
    out = _edge()(rows)
    try:
        from hand_more import mh_block

        out["MH_OR_k1"] = mh_block("OR", ai=[10], n1i=[50], ci=[15], n2i=[50])
    except ImportError:  # pragma: no cover
        pass
    return out


EXTRA_CASES: dict[str, Callable[[Rows], dict[str, Any]]] = {
    "bcg_metareg": case_bcg_metareg,
    "normand1999_smd": case_normand1999_smd,
    "pritz1997_prop": case_pritz1997_prop,
    "kearon1998_diagnostic": case_kearon1998_diagnostic,
    "edge_k1": case_edge_k1,
    "edge_k2": _edge(),
    "edge_identical": _edge(),
    "edge_homogeneous": _edge(),
    "edge_missing": _edge(("EE", "DL", "REML")),
    "edge_vi_zero": _edge(("EE", "DL", "HE", "HS", "HSk", "SJ", "ML", "REML", "EB", "PM")),
    "edge_vi_negative": _edge(("EE", "DL", "HE", "ML", "REML")),
}
