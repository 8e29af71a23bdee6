"""Golden-suite cases for MH/Peto, bias tests, influence and the bivariate model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hand_common import TIGHT, capture, col, es_out, fit_block, predict_out, rma_out

from fmreview.meta import (
    RMA,
    FailSafeN,
    MantelHaenszel,
    Peto,
    RegTest,
    TrimFill,
    blup,
    cumulative,
    escalc,
    fsn,
    influence,
    leave_one_out,
    ranef,
    ranktest,
    regtest,
    trimfill,
)

Rows = list[dict[str, Any]]


def _mhpeto_out(res: MantelHaenszel | Peto) -> dict[str, Any]:
    o: dict[str, Any] = {
        "measure": res.measure,
        "method": "FE",
        "k": res.k_,
        "k.yi": res.k_yi_,
        "k.pos": getattr(res, "k_pos_", None),
        "k.eff": res.k_,
        "k.all": res.k_all_,
        "beta": res.beta_,
        "se": res.se_,
        "zval": res.zval_,
        "pval": res.pval_,
        "ci.lb": res.ci_lb_,
        "ci.ub": res.ci_ub_,
        "QE": res.QE_,
        "QEp": res.QEp_,
        "I2": res.I2_,
        "H2": res.H2_,
        "fit.stats": res.fit_stats_,
        "study_yi": list(res.yi_),
        "study_vi": list(res.vi_),
        "weights_pct": list(res.weights_),
        "warnings": res.warnings_,
    }
    for k in ("MH", "MHp", "TA", "TAp", "CO", "COp", "BD", "BDp"):
        o[k] = getattr(res, k + "_", None)
    if res.measure in ("OR", "RR"):
        pr = res.predict(transf=np.exp)
        o["exp"] = {
            "pred": [pr["pred"]],
            "se": None,
            "ci.lb": [pr["ci_lb"]],
            "ci.ub": [pr["ci_ub"]],
        }
    return o


def mh_block(measure: str, **tables: Any) -> dict[str, Any]:
    opts = {k: tables.pop(k) for k in ("correct", "drop00") if k in tables}
    res, warns, err = capture(lambda: MantelHaenszel(measure=measure, **opts).fit(**tables))
    if err:
        return {"error": err}
    o = _mhpeto_out(res)
    o["warnings"] = warns
    return o


def peto_block(**tables: Any) -> dict[str, Any]:
    res, warns, err = capture(lambda: Peto().fit(**tables))
    if err:
        return {"error": err}
    o = _mhpeto_out(res)
    o["warnings"] = warns
    return o


def case_bcg_mh_peto(rows: Rows) -> dict[str, Any]:
    t: dict[str, Any] = {
        "ai": col(rows, "tpos"),
        "bi": col(rows, "tneg"),
        "ci": col(rows, "cpos"),
        "di": col(rows, "cneg"),
    }
    return {
        "MH_OR": mh_block("OR", **t),
        "MH_RR": mh_block("RR", **t),
        "MH_RD": mh_block("RD", **t),
        "MH_OR_nocorrect": mh_block("OR", correct=False, **t),
        "PETO": peto_block(**t),
        "escalc": {m: es_out(*escalc(m, **t)) for m in ("OR", "RR", "RD", "AS", "PETO", "OR2DL")},
    }


def case_nielweise2007_zero_cells(rows: Rows) -> dict[str, Any]:
    t: dict[str, Any] = {
        "ai": col(rows, "ai"),
        "n1i": col(rows, "n1i"),
        "ci": col(rows, "ci"),
        "n2i": col(rows, "n2i"),
    }

    def es(measure: str, **kw: Any) -> dict[str, Any]:
        o = es_out(*escalc(measure, **t, **kw))
        o["warnings"] = []
        return o

    def re(measure: str, method: str = "REML") -> dict[str, Any]:
        yi, vi = escalc(measure, **t)
        return fit_block(yi, vi, method, ctrl=TIGHT, ci_key=None, transf=np.exp)

    return {
        "escalc": {
            "OR_default": es("OR"),
            "OR_all": es("OR", to="all"),
            "OR_drop00": es("OR", drop00=True),
            "RR_default": es("RR"),
            "RD_default": es("RD"),
            "PETO": es("PETO"),
        },
        "MH_OR": mh_block("OR", **t),
        "MH_RR": mh_block("RR", **t),
        "MH_RD": mh_block("RD", **t),
        "MH_OR_drop00": mh_block("OR", drop00=True, **t),
        "PETO": peto_block(**t),
        "IV_OR_REML_tight": re("OR"),
        "IV_OR_DL": re("OR", "DL"),
        "IV_OR_FE": re("OR", "FE"),
        "IV_RR_REML_tight": re("RR"),
    }


def _rma_simple(res: RMA) -> dict[str, Any]:
    from hand_common import rma_out

    return rma_out(res)


def case_pubbias(rows: Rows) -> dict[str, Any]:
    yi, vi = col(rows, "yi"), col(rows, "vi")
    re = RMA(method="REML", control=TIGHT).fit(yi, vi)
    re0 = RMA(method="REML").fit(yi, vi)
    fe = RMA(method="FE").fit(yi, vi)
    dl = RMA(method="DL").fit(yi, vi)

    def cap(fn: Callable[[], Any], out: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        val, warns, err = capture(fn)
        if err:
            return {"error": err}
        o = out(val)
        o["warnings"] = warns
        return o

    def rt(r: RegTest) -> dict[str, Any]:
        return {
            "model": r.model,
            "predictor": r.predictor,
            "zval": r.zval,
            "pval": r.pval,
            "dfs": r.dfs,
            "ddf": r.dfs,
            "est": {"intrcpt": r.est} if r.model == "rma" else r.est,
            "ci.lb": r.ci_lb,
            "ci.ub": r.ci_ub,
            "fit_beta": r.fit_beta,
            "fit_se": r.fit_se,
            "fit_tau2": r.fit_tau2,
        }

    def tf(t: TrimFill) -> dict[str, Any]:
        o = rma_out(t.model, weights=False)
        o.update(
            {
                "k0": t.k0,
                "se.k0": t.se_k0,
                "side": t.side,
                "estimator": t.estimator,
                "p.k0": t.p_k0,
                "fill": [bool(f) for f in t.fill],
                "yi_all": list(t.yi),
                "vi_all": list(t.vi),
                "predict_exp": predict_out(t.model.predict(transf=np.exp)),
            }
        )
        return o

    def fs(f: FailSafeN) -> dict[str, Any]:
        return {
            "type": f.type,
            "fsnum": f.fsnum,
            "alpha": f.alpha,
            "pval": f.pval,
            "meanes": f.meanes,
            "target": f.target,
        }

    knha = RMA(method="REML", test="knha", control=TIGHT).fit(yi, vi)
    return {
        "models": {"REML_tight": rma_out(re), "FE": rma_out(fe), "DL": rma_out(dl)},
        "regtest": {
            "rma_sei_REML": cap(lambda: regtest(re), rt),
            "rma_sei_REML_default_ctrl": cap(lambda: regtest(re0), rt),
            "rma_sei_FE": cap(lambda: regtest(fe), rt),
            "rma_vi_REML": cap(lambda: regtest(re, predictor="vi"), rt),
            "lm_sei_classic_egger": cap(lambda: regtest(re, model_type="lm"), rt),
            "rma_sei_REML_knha": cap(lambda: regtest(knha), rt),
        },
        "ranktest": {
            "from_FE": cap(lambda: ranktest(fe), lambda r: {"tau": r.tau, "pval": r.pval}),
            "from_REML": cap(lambda: ranktest(re), lambda r: {"tau": r.tau, "pval": r.pval}),
            "exact_false": cap(
                lambda: ranktest(fe, exact=False), lambda r: {"tau": r.tau, "pval": r.pval}
            ),
        },
        "trimfill": {
            "FE_L0": cap(lambda: trimfill(fe), tf),
            "FE_R0": cap(lambda: trimfill(fe, estimator="R0"), tf),
            "FE_Q0": cap(lambda: trimfill(fe, estimator="Q0"), tf),
            "REML_L0": cap(lambda: trimfill(re), tf),
            "REML_R0": cap(lambda: trimfill(re, estimator="R0"), tf),
            "DL_L0": cap(lambda: trimfill(dl), tf),
        },
        "fsn": {
            "Rosenthal": cap(lambda: fsn(yi, vi), fs),
            "Orwin": cap(lambda: fsn(yi, vi, type="Orwin"), fs),
            "Rosenberg": cap(lambda: fsn(yi, vi, type="Rosenberg"), fs),
        },
    }


def _diag_block(res: RMA) -> dict[str, Any]:
    l1 = leave_one_out(res)
    inf = influence(res)
    rs = res.rstandard()
    o: dict[str, Any] = {
        "model": rma_out(res),
        "leave1out": {k.replace("_", "."): list(v) for k, v in l1.items()},
        "influence": {
            "rstudent": list(inf["rstudent"]),
            "dffits": list(inf["dffits"]),
            "cook.d": list(inf["cook_d"]),
            "cov.r": list(inf["cov_r"]),
            "tau2.del": list(inf["tau2_del"]),
            "QE.del": list(inf["QE_del"]),
            "hat": list(inf["hat"]),
            "weight": list(inf["weight"]),
            "inf": list(inf["inf"]),
        },
        "dfbetas": {n: list(inf["dfbetas"][:, j]) for j, n in enumerate(res.coef_names_)},
        "cooks_distance": list(inf["cook_d"]),
        "rstandard": {k: list(v) for k, v in rs.items()},
        "rstudent": {
            "resid": list(inf["rstudent_resid"]),
            "se": list(inf["rstudent_se"]),
            "z": list(inf["rstudent"]),
        },
        "hatvalues": list(res.hatvalues()),
    }
    if res.method not in ("EE", "FE"):
        o["blup"] = {k.replace("_", "."): list(v) for k, v in blup(res).items()}
        o["ranef"] = {k.replace("_", "."): list(v) for k, v in ranef(res).items()}
    return o


def case_bcg_influence(rows: Rows) -> dict[str, Any]:
    yi, vi = escalc(
        "RR", ai=col(rows, "tpos"), bi=col(rows, "tneg"), ci=col(rows, "cpos"), di=col(rows, "cneg")
    )
    year = col(rows, "year")
    trial = col(rows, "trial")

    def cum(res: RMA) -> dict[str, Any]:
        c = cumulative(res, order=year)
        o = {k.replace("_", "."): list(v) for k, v in c.items() if k != "index"}
        o["pvals"] = o.pop("pval")
        o["trial"] = [int(trial[i]) for i in c["index"]]
        return o

    re_t = RMA(method="REML", control=TIGHT).fit(yi, vi)
    re_d = RMA(method="REML").fit(yi, vi)
    fe = RMA(method="FE").fit(yi, vi)
    dl = RMA(method="DL").fit(yi, vi)
    return {
        "REML_tight": _diag_block(re_t),
        "REML_default": _diag_block(re_d),
        "DL": _diag_block(dl),
        "FE": _diag_block(fe),
        "cumul_REML_tight": cum(re_t),
        "cumul_DL": cum(dl),
    }


MORE_CASES: dict[str, Callable[[Rows], dict[str, Any]]] = {
    "bcg_mh_peto": case_bcg_mh_peto,
    "nielweise2007_zero_cells": case_nielweise2007_zero_cells,
    "pubbias_hackshaw1998": case_pubbias,
    "pubbias_bcg": case_pubbias,
    "bcg_leave1out_influence": case_bcg_influence,
}


def bivariate_block(
    sens: tuple[np.ndarray, np.ndarray], spec: tuple[np.ndarray, np.ndarray]
) -> dict[str, Any]:
    from fmreview.meta import BivariateDTA

    b, warns, err = capture(lambda: BivariateDTA().fit_logits(sens[0], sens[1], spec[0], spec[1]))
    if err:
        return {"error": err}
    nm = ["outcomesens", "outcomespec"]

    def nv(x: Any) -> dict[str, float]:
        return {n: float(v) for n, v in zip(nm, x, strict=True)}

    return {
        "beta": nv(b.beta_),
        "se": nv(b.se_),
        "ci.lb": nv(b.ci_lb_),
        "ci.ub": nv(b.ci_ub_),
        "zval": nv(b.zval_),
        "pval": nv(b.pval_),
        "vb": {"values": [list(r) for r in b.vb_]},
        "tau2": list(b.tau2_),
        "rho": b.rho_,
        "fit.stats_REML": b.fit_stats_,
        "QE": b.QE_,
        "QEp": b.QEp_,
        "sens_spec": {
            "sens": b.sens_["est"],
            "sens.lb": b.sens_["ci_lb"],
            "sens.ub": b.sens_["ci_ub"],
            "spec": b.spec_["est"],
            "spec.lb": b.spec_["ci_lb"],
            "spec.ub": b.spec_["ci_ub"],
        },
        "warnings": warns,
    }
