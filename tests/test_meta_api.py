"""What a metafor user needs when translating R code: sei=, subset=, formulas with
factor(), regtest without a model, transf, cr bounds, restricted log-likelihood,
trimfill with k0 = 0, and warnings of inner fits reaching the caller."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

import fmreview.meta as fm
from fmreview.errors import InputError
from fmreview.meta import RMA, MetaWarning, regtest, subgroup_analysis, trimfill

DATA = Path(__file__).parent / "data" / "metafor"


def bcg() -> dict[str, list]:
    import csv

    with open(DATA / "bcg_rr_estimators_input.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols: dict[str, list] = {k: [r[k] for r in rows] for k in rows[0]}
    for k in ("trial", "year", "tpos", "tneg", "cpos", "cneg", "ablat"):
        cols[k] = [float(x) for x in cols[k]]
    yi, vi = fm.escalc("RR", ai=cols["tpos"], bi=cols["tneg"], ci=cols["cpos"], di=cols["cneg"])
    cols["yi"], cols["vi"] = list(yi), list(vi)
    return cols


TIGHT = {"threshold": 1e-12, "tol": 1e-12, "maxiter": 10000}


def test_sei_and_column_names_equal_vi_arrays() -> None:
    d = bcg()
    a = RMA(control=TIGHT).fit(d["yi"], d["vi"])
    b = RMA(control=TIGHT).fit("yi", sei=np.sqrt(d["vi"]), data=d)
    assert b.tau2_ == pytest.approx(a.tau2_, rel=1e-12)
    with pytest.raises(InputError, match="'vi' or the standard errors 'sei'"):
        RMA().fit(d["yi"])
    with pytest.raises(InputError, match="column 'nope'"):
        RMA().fit("yi", "nope", data=d)


def test_subset_selects_rows_before_fitting_like_r() -> None:
    d = bcg()
    mask = np.array([a == "random" for a in d["alloc"]])
    a = RMA(method="DL").fit(np.array(d["yi"])[mask], np.array(d["vi"])[mask])
    b = RMA(method="DL").fit("yi", "vi", data=d, subset=mask)
    c = RMA(method="DL").fit(d["yi"], d["vi"], subset=np.flatnonzero(mask))
    assert a.k_ == b.k_ == c.k_ == 7
    assert b.tau2_ == a.tau2_ == c.tau2_
    with pytest.raises(InputError, match="subset has 3 values for 13 studies"):
        RMA().fit(d["yi"], d["vi"], subset=[True, False, True])


def test_formula_moderators_get_r_coefficient_names_and_the_same_fit() -> None:
    d = bcg()
    d["code"] = [{"random": 2.0, "alternate": 10.0, "systematic": 1.0}[a] for a in d["alloc"]]
    f = RMA(method="REML", control=TIGHT).fit("yi", "vi", "~ factor(alloc) + ablat", data=d)
    assert f.coef_names_ == ["intrcpt", "factor(alloc)random", "factor(alloc)systematic", "ablat"]
    M, names = fm.design_matrix(
        [{"alloc": a, "ablat": x} for a, x in zip(d["alloc"], d["ablat"], strict=True)],
        ["alloc", "ablat"],
    )
    g = RMA(method="REML", control=TIGHT).fit(d["yi"], d["vi"], M, coef_names=names)
    assert np.allclose(f.beta_, g.beta_, rtol=1e-12)
    # numeric codes as a factor: levels in numeric order (1, 2, 10), as R orders them
    h = RMA(method="DL").fit("yi", "vi", "~ factor(code)", data=d)
    assert h.coef_names_ == ["intrcpt", "factor(code)2", "factor(code)10"]
    text = RMA(method="DL").fit("yi", "vi", "~ alloc", data=d)
    assert text.coef_names_ == ["intrcpt", "allocrandom", "allocsystematic"]
    no_int = RMA(method="DL").fit("yi", "vi", "~ alloc - 1", data=d)
    assert no_int.coef_names_ == ["allocalternate", "allocrandom", "allocsystematic"]
    with pytest.raises(InputError, match="unsupported term 'log\\(ablat\\)'"):
        RMA().fit("yi", "vi", "~ log(ablat)", data=d)


def test_regtest_from_yi_vi_is_the_classic_egger_test_with_ddf() -> None:
    d = bcg()
    m = RMA(method="FE").fit(d["yi"], d["vi"])
    a = regtest(m, model="lm")
    b = regtest(d["yi"], d["vi"], model="lm")
    assert a.zval == b.zval and b.ddf == b.dfs == 11
    c = regtest(d["yi"], sei=np.sqrt(d["vi"]), method="FE")
    assert c.zval == pytest.approx(regtest(m).zval, rel=1e-12) and c.ddf is None
    assert isinstance(c.fit, RMA) and c.fit.coef_names_ == ["intrcpt", "sei"]


def test_predict_transf_by_name_or_function_and_cr_bounds() -> None:
    d = bcg()
    m = RMA().fit(d["yi"], d["vi"])
    by_name = m.predict(transf="exp")
    by_fn = m.predict(transf=fm.transf_exp)
    raw = m.predict()
    assert by_name["pred"][0] == pytest.approx(math.exp(raw["pred"][0]), rel=1e-15)
    assert by_fn["ci_ub"][0] == by_name["ci_ub"][0] and by_name["se"] is None
    assert raw["cr_lb"][0] == raw["pi_lb"][0] and raw["cr_ub"][0] == raw["pi_ub"][0]
    assert fm.transf_ztor(np.array([fm.transf_rtoz(0.3)]))[0] == pytest.approx(0.3)
    assert m.predict(transf="transf.ilogit")["pred"][0] == pytest.approx(
        1 / (1 + math.exp(-raw["pred"][0]))
    )
    assert "cr_lb" not in RMA(method="FE").fit(d["yi"], d["vi"]).predict()


def test_restricted_log_likelihood_is_public() -> None:
    d = bcg()
    m = RMA(method="REML").fit(d["yi"], d["vi"])
    assert m.loglik() == pytest.approx(m.fit_stats_["REML"]["ll"], rel=1e-13)
    assert m.loglik(restricted=False) == pytest.approx(m.fit_stats_["ML"]["ll"], rel=1e-13)
    assert m.loglik(0.1) < m.loglik()


def test_trimfill_without_filled_studies_returns_the_input_model() -> None:
    d = bcg()
    m = RMA(method="REML", control=TIGHT).fit(d["yi"], d["vi"])
    t = trimfill(m, estimator="R0")
    assert t.k0 == 0 and t.model is m
    assert t.model.tau2_ == m.tau2_  # no refit with default control
    assert t.p_k0 == 0.5


def test_subgroup_analysis_returns_the_full_factor_model_and_surfaces_warnings() -> None:
    d = bcg()
    groups = list(d["alloc"])
    groups[0] = "single"  # a subgroup of one study: knha falls back to z, with a warning
    with pytest.warns(MetaWarning, match=r'subgroup single: Setting argument test="z" since k=1'):
        sg = subgroup_analysis(d["yi"], d["vi"], groups, test="knha", name="alloc")
    assert any("subgroup single" in w for w in sg["warnings"])
    model = sg["model"]
    assert isinstance(model, RMA)
    assert model.coef_names_ == ["intrcpt", "allocrandom", "allocsingle", "allocsystematic"]
    assert sg["moderator"]["QM"] == model.QM_ and sg["moderator"]["formula"] == "~ alloc"
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetaWarning)
        subgroup_analysis(d["yi"], d["vi"], d["alloc"])  # nothing to say: no warning


def test_rma_is_a_scikit_learn_style_estimator() -> None:
    m = RMA(method="DL", step_halving=True)
    assert m.get_params()["step_halving"] is True
    assert m.set_params(method="PM").method == "PM"
