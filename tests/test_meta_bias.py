"""Bias tests, trim and fill, fail-safe N, influence diagnostics, cumulative and bivariate models."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from fmreview.errors import NotFoundError, StatsError
from fmreview.meta import (
    RMA,
    BivariateDTA,
    blup,
    cumulative,
    fsn,
    influence,
    leave_one_out,
    ranef,
    ranktest,
    regtest,
    trimfill,
)
from fmreview.meta.bias import kendall_test

Y = np.array(
    [
        -0.8893,
        -1.5854,
        -1.3481,
        -1.4416,
        -0.2175,
        -0.7861,
        -1.6209,
        0.012,
        -0.4694,
        -1.3713,
        -0.3394,
        0.4459,
        -0.0173,
    ]
)
V = np.array(
    [
        0.3256,
        0.1946,
        0.4154,
        0.02,
        0.0512,
        0.0069,
        0.223,
        0.004,
        0.0564,
        0.073,
        0.0124,
        0.5325,
        0.0714,
    ]
)


def test_classic_egger_is_weighted_least_squares_with_t_test() -> None:
    rt = regtest(RMA(method="FE").fit(Y, V), model_type="lm")
    sei = np.sqrt(V)
    X = np.column_stack([np.ones(13), sei])
    W = np.diag(1 / V)
    beta = np.linalg.solve(X.T @ W @ X, X.T @ W @ Y)
    assert rt.fit_beta["Xsei"] == pytest.approx(beta[1])
    assert rt.dfs == 11
    # the rma variant with FE weights and a knha test is the same regression
    kn = regtest(RMA(method="FE", test="knha").fit(Y, V))
    assert kn.zval == pytest.approx(rt.zval) and kn.pval == pytest.approx(rt.pval)


def test_regtest_predictors() -> None:
    m = RMA(method="REML").fit(Y, V)
    for pred in ("sei", "vi"):
        rt = regtest(m, predictor=pred)
        assert rt.predictor == pred and 0 <= rt.pval <= 1
    ni = np.arange(13) * 10 + 50
    for pred in ("ni", "ninv", "sqrtninv"):
        assert 0 <= regtest(m, predictor=pred, ni=ni).pval <= 1
    with pytest.raises(NotFoundError):
        regtest(m, predictor="n")
    with pytest.raises(StatsError, match="without moderators"):
        regtest(RMA().fit(Y, V, np.arange(13.0)))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=4, max_size=12, unique=True))
def test_kendall_matches_scipy_without_ties(xs: list[float]) -> None:
    x = np.array(xs)
    y = np.arange(len(xs), dtype=float)[::-1] ** 1.5 + np.sin(x)
    if len(set(y.tolist())) < len(y):
        return
    ours = kendall_test(x, y, exact=True)
    ref = stats.kendalltau(x, y, method="exact")
    assert ours.tau == pytest.approx(ref.statistic)
    assert ours.pval == pytest.approx(ref.pvalue, rel=1e-9)


def test_ranktest_uses_the_equal_effects_standardisation() -> None:
    a = ranktest(RMA(method="FE").fit(Y, V))
    b = ranktest(RMA(method="REML").fit(Y, V))
    assert (a.tau, a.pval) == (b.tau, b.pval) and a.exact
    normal = ranktest(RMA(method="FE").fit(Y, V), exact=False)
    assert not normal.exact and normal.tau == a.tau


def test_trimfill_mirrors_and_is_symmetric_under_sign_flip() -> None:
    tf = trimfill(RMA(method="FE").fit(Y, V))
    flipped = trimfill(RMA(method="FE").fit(-Y, V))
    assert tf.k0 == flipped.k0 and tf.side != flipped.side
    assert tf.model.beta_[0] == pytest.approx(-flipped.model.beta_[0])
    assert tf.fill.sum() == tf.k0 and tf.yi.size == 13 + tf.k0
    for est in ("R0", "Q0"):
        assert trimfill(RMA(method="FE").fit(Y, V), estimator=est).k0 >= 0
    with pytest.raises(NotFoundError):
        trimfill(RMA(method="FE").fit(Y, V), estimator="X0")


def test_fail_safe_n() -> None:
    r = fsn(Y, V)
    z = Y / np.sqrt(V)
    assert r.fsnum == math.ceil(max(0, (np.sum(z) / 1.6448536269514722) ** 2 - 13))
    o = fsn(Y, V, type="Orwin", target=-0.1)
    assert o.fsnum == math.ceil(13 * (np.mean(Y) + 0.1) / -0.1)
    assert fsn(Y, V, type="Rosenberg").meanes == pytest.approx(np.sum(Y / V) / np.sum(1 / V))
    with pytest.raises(NotFoundError):
        fsn(Y, V, type="Begg")


def test_leave_one_out_and_influence_agree() -> None:
    m = RMA(method="REML").fit(Y, V)
    l1 = leave_one_out(m)
    inf = influence(m)
    assert inf["tau2_del"] == pytest.approx(l1["tau2"])
    assert inf["QE_del"] == pytest.approx(l1["Q"])
    assert inf["hat"].sum() == pytest.approx(1.0)  # trace of the hat matrix = p
    assert set(inf["inf"]) <= {"", "*"}
    manual = RMA(method="REML").fit(np.delete(Y, 3), np.delete(V, 3))
    assert l1["estimate"][3] == pytest.approx(manual.beta_[0])


def test_blup_is_fitted_plus_ranef() -> None:
    m = RMA(method="DL").fit(Y, V)
    b, r = blup(m), ranef(m)
    assert b["pred"] == pytest.approx(m.beta_[0] + r["pred"])


def test_cumulative_follows_the_order_and_ends_at_the_full_fit() -> None:
    m = RMA(method="DL").fit(Y, V)
    year = np.array([1948, 1949, 1960, 1977, 1973, 1953, 1973, 1980, 1968, 1961, 1974, 1969, 1976])
    c = cumulative(m, order=year)
    assert c["index"][0] == 0 and c["index"][1] == 1
    assert c["estimate"][-1] == pytest.approx(m.beta_[0])
    assert c["tau2"][0] == 0 and c["Q"][0] == 0


def test_bivariate_sroc_and_errors() -> None:
    tp = np.array([325, 20, 50, 40, 63, 30, 22, 17, 45])
    fn = np.array([8, 5, 4, 6, 5, 7, 3, 2, 6])
    tn = np.array([483, 29, 120, 95, 110, 70, 58, 44, 101])
    fp = np.array([22, 0, 10, 14, 9, 8, 6, 4, 12])
    b = BivariateDTA().fit(tp, fn, tn, fp)
    assert 0.5 < b.sens_["est"] < 1 and 0.5 < b.spec_["est"] < 1
    assert -1 < b.rho_ < 1 and np.all(b.tau2_ >= 0)
    curve = b.sroc(n=11)
    assert np.all(np.diff(curve["sens"]) >= -1e-12) or b.rho_ > 0
    assert b.to_dict()["k"] == 9
    with pytest.raises(StatsError, match="at least 3"):
        BivariateDTA().fit(tp[:2], fn[:2], tn[:2], fp[:2])


def test_binomial_glmm_tests_and_prediction() -> None:
    from fmreview.meta import BinomialGLMM
    from fmreview.meta.transforms import ilogit

    x = np.array([16, 10, 4, 43, 25, 13, 22, 4, 18, 58, 6], dtype=float)
    n = np.array([17, 12, 8, 58, 42, 14, 41, 5, 23, 68, 10], dtype=float)
    g = BinomialGLMM().fit(x, n)
    # the LRT compares the common-proportion logistic model with the saturated one
    p = x.sum() / n.sum()
    g2 = 2 * np.sum(x * np.log(x / (n * p)) + (n - x) * np.log((n - x) / (n * (1 - p))))
    assert g.QE_LRT_ == pytest.approx(g2, rel=1e-8)
    # without zero cells the Wald test is Cochran's Q of the raw logits
    y = np.log(x / (n - x))
    w = 1 / (1 / x + 1 / (n - x))
    assert g.QE_Wld_ == pytest.approx(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2), rel=1e-6)
    pr = g.predict(transf=ilogit)
    assert pr["pi_lb"] < pr["ci_lb"] < pr["pred"] < pr["ci_ub"] < pr["pi_ub"]
    assert g.tau2_ > 0 and g.to_dict()["k"] == 11
    with pytest.raises(StatsError, match="at least 2"):
        BinomialGLMM().fit([1], [2])
