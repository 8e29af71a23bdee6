"""Statistics of fmreview.analysis: hand-computed values and cross-checks with scipy/statsmodels."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.contingency_tables import Table
from statsmodels.stats.multitest import multipletests

from fmreview.analysis import (
    adjusted_residuals,
    bh_adjust,
    cochran_armitage,
    contingency_test,
    fit_growth,
    fit_segmented,
    mann_kendall,
    post_indicator,
)

TOL = 1e-9  # exact arithmetic paths
FIT_TOL = 1e-6  # iterative fits (IRLS / BFGS) stop at their own tolerances


# ---------------------------------------------------------------- Mann–Kendall
def test_mann_kendall_by_hand_with_ties():
    # x = 1, 3, 2, 5, 5: pair signs 4 + 1 + 2 + 0 = S = 7;
    # Var S = [5*4*15 - 2*1*9] / 18 = 282/18 (one tie group of size 2)
    mk = mann_kendall([1, 3, 2, 5, 5])
    assert mk.s == 7
    assert mk.var_s == pytest.approx(282 / 18, abs=TOL)
    assert mk.z == pytest.approx(6 / math.sqrt(282 / 18), abs=TOL)  # continuity-corrected
    assert mk.p_value == pytest.approx(2 * stats.norm.sf(6 / math.sqrt(282 / 18)), abs=TOL)
    assert mk.tau == pytest.approx(0.7, abs=TOL)
    assert mk.trend == "no trend"  # p = 0.13


def test_sens_slope_by_hand():
    # pairwise slopes: 2, .5, 4/3, 1, -1, 1, 2/3, 3, 1.5, 0 -> median of 10 = (1 + 1)/2
    mk = mann_kendall([1, 3, 2, 5, 5], [0, 1, 2, 3, 4])
    assert mk.sen_slope == pytest.approx(1.0, abs=TOL)
    assert mk.sen_ci_low <= mk.sen_slope <= mk.sen_ci_high


def test_mann_kendall_matches_scipy_kendalltau():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 6, size=15).astype(float)  # many ties
    t = np.arange(2005, 2020)
    mk = mann_kendall(x, t)
    kt = stats.kendalltau(t, x, method="asymptotic")
    _, ties = np.unique(x, return_counts=True)
    n0 = 15 * 14 / 2
    n2 = sum(g * (g - 1) / 2 for g in ties)
    # tau-b = S / sqrt(n0 (n0 - n2)) when the times have no ties
    assert kt.statistic == pytest.approx(mk.s / math.sqrt(n0 * (n0 - n2)), abs=TOL)
    # scipy's asymptotic p has no continuity correction
    z_plain = mk.s / math.sqrt(mk.var_s)
    assert kt.pvalue == pytest.approx(2 * stats.norm.sf(abs(z_plain)), rel=1e-9)


def test_mann_kendall_orders_by_time_and_detects_trend():
    mk = mann_kendall([9, 1, 5, 3, 7], [2024, 2020, 2022, 2021, 2023])  # 1,3,5,7,9 in time order
    assert mk.s == 10
    assert mk.trend == "increasing"
    assert mk.sen_slope == pytest.approx(2.0)
    assert mann_kendall([5, 4, 3, 2, 1, 0]).trend == "decreasing"


def test_mann_kendall_short_and_constant_series():
    assert mann_kendall([1, 2]).trend == "too short"
    flat = mann_kendall([3, 3, 3, 3])
    assert flat.s == 0 and flat.z == 0 and flat.p_value == 1.0


# ------------------------------------------------------------- Cochran–Armitage
def test_cochran_armitage_by_hand():
    # p = 1/3; T = -1/3 + 2 * 8/3 = 5; S_ss = 10*5 - 30^2/30 = 20; Var = (1/3)(2/3)20 = 40/9
    ca = cochran_armitage([1, 3, 6], [10, 10, 10])
    assert ca.z == pytest.approx(5 / math.sqrt(40 / 9), abs=TOL)
    assert ca.chi2 == pytest.approx(5.625, abs=TOL)  # R: prop.trend.test(c(1,3,6), rep(10,3))
    assert ca.p_value == pytest.approx(2 * stats.norm.sf(5 / math.sqrt(40 / 9)), abs=TOL)
    assert ca.slope == pytest.approx(0.25, abs=TOL)  # LS slope of 0.1, 0.3, 0.6
    assert (ca.p_first, ca.p_last) == (0.1, 0.6)


def test_cochran_armitage_matches_statsmodels_up_to_n_over_n_minus_1():
    x = np.array([3, 5, 9, 14, 20])
    n = np.array([40, 38, 45, 50, 41])
    scores = np.array([2019, 2020, 2021, 2022, 2023])
    ca = cochran_armitage(x, n, scores)
    table = Table(np.column_stack([x, n - x]))
    sm_res = table.test_ordinal_association(row_scores=scores - 2019, col_scores=np.array([1, 0]))
    big_n = n.sum()
    # statsmodels uses the conditional (hypergeometric) variance: larger by N/(N-1)
    assert sm_res.zscore == pytest.approx(ca.z * math.sqrt((big_n - 1) / big_n), rel=1e-9)


def test_cochran_armitage_is_score_shift_invariant_and_drops_empty_groups():
    a = cochran_armitage([1, 3, 6], [10, 10, 10], [0, 1, 2])
    b = cochran_armitage([1, 3, 0, 6], [10, 10, 0, 10], [2000, 2001, 2001.5, 2002])
    assert a.z == pytest.approx(b.z)
    assert b.n_groups == 3


def test_cochran_armitage_constant_share_is_not_testable():
    ca = cochran_armitage([5, 5, 5], [5, 5, 5])
    assert ca.p_value is None and ca.z is None


# ---------------------------------------------------------------- contingency
def test_adjusted_residuals_by_hand():
    expected, resid = adjusted_residuals(np.array([[10, 20], [30, 40]]))
    assert expected[0, 0] == pytest.approx(12.0)
    assert resid[0, 0] == pytest.approx(-2 / math.sqrt(12 * 0.7 * 0.6), abs=TOL)
    # in a 2 x 2 table every adjusted residual squared is Pearson's chi-square
    chi2 = stats.chi2_contingency(np.array([[10, 20], [30, 40]]), correction=False)[0]
    assert np.allclose(resid**2, chi2)


def test_contingency_chi_square_matches_scipy():
    table = np.array([[20, 35, 50], [40, 30, 25]])
    res = contingency_test(table)
    chi2, p, dof, expected = stats.chi2_contingency(table, correction=False)
    assert res.test == "chi-square"
    assert res.statistic == pytest.approx(chi2) and res.p_value == pytest.approx(p)
    assert res.dof == dof
    assert np.allclose(res.expected, expected)


def test_contingency_small_2x2_uses_fisher_exact():
    table = np.array([[1, 9], [6, 4]])
    res = contingency_test(table)
    ref = stats.fisher_exact(table)
    assert res.test == "Fisher exact"
    assert res.p_value == pytest.approx(ref.pvalue)
    assert res.odds_ratio == pytest.approx(ref.statistic)


def test_contingency_small_rxc_monte_carlo_is_seeded():
    table = np.array([[1, 0, 5], [4, 6, 0]])
    a = contingency_test(table, random_state=7, n_resamples=2000)
    b = contingency_test(table, random_state=7, n_resamples=2000)
    assert a.test.startswith("Fisher exact") or a.test.startswith("chi-square")
    assert a.p_value == b.p_value
    assert 0 <= a.p_value < 0.05  # strongly associated


def test_contingency_empty_margin_is_not_tested():
    res = contingency_test(np.array([[0, 0], [3, 4]]))
    assert res.p_value is None and res.test.startswith("not tested")


def test_bh_adjust_matches_statsmodels_and_skips_missing():
    p = [0.01, None, 0.04, 0.03, float("nan"), 0.2]
    out = bh_adjust(p)
    ref = multipletests([0.01, 0.04, 0.03, 0.2], method="fdr_bh")[1]
    assert out[1] is None and out[4] is None
    assert [out[0], out[2], out[3], out[5]] == pytest.approx(list(ref))
    assert bh_adjust([]) == []


# --------------------------------------------------------------------- growth
def test_growth_exact_doubling_gives_rate_ratio_two():
    fit = fit_growth([5, 10, 20, 40, 80], [2019, 2020, 2021, 2022, 2023])
    assert fit.status == "ok" and fit.model == "poisson"
    assert fit.rate_ratio == pytest.approx(2.0, rel=FIT_TOL)
    assert fit.pearson_chi2_df == pytest.approx(0.0, abs=1e-8)
    assert fit.lr_p_value == pytest.approx(1.0)


def test_growth_poisson_matches_statsmodels_glm():
    y = np.array([2, 3, 6, 8, 15, 20])
    t = np.arange(2019, 2025)
    fit = fit_growth(y, t)
    ref = sm.GLM(y, sm.add_constant(t - 2019.0), family=sm.families.Poisson()).fit()
    assert fit.poisson_rate_ratio == pytest.approx(math.exp(ref.params[1]), rel=FIT_TOL)
    lo, hi = np.exp(ref.conf_int(0.05)[1])
    assert fit.poisson_ci_low == pytest.approx(lo, rel=FIT_TOL)
    assert fit.poisson_ci_high == pytest.approx(hi, rel=FIT_TOL)
    assert fit.poisson_p_value == pytest.approx(ref.pvalues[1], rel=1e-5)
    assert fit.pearson_chi2_df == pytest.approx(ref.pearson_chi2 / ref.df_resid, rel=FIT_TOL)


def test_growth_overdispersed_series_chooses_negative_binomial():
    y = np.array([1, 12, 2, 30, 5, 40, 8, 60])
    fit = fit_growth(y)
    assert fit.pearson_chi2_df > 5
    assert fit.model == "negative_binomial"
    # the rule: boundary-corrected LR test, p = chi2(1) tail / 2
    assert fit.lr_p_value == pytest.approx(0.5 * stats.chi2.sf(fit.lr_stat, 1))
    assert fit.lr_p_value < 0.05
    # NB2 at the estimated alpha, refitted as a GLM, gives the same slope
    X = sm.add_constant(np.arange(8.0))
    glm = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=fit.nb_alpha)).fit()
    assert math.exp(glm.params[1]) == pytest.approx(fit.rate_ratio, rel=1e-4)
    # NB confidence interval is wider than the (overconfident) Poisson one
    assert fit.ci_high - fit.ci_low > fit.poisson_ci_high - fit.poisson_ci_low


def test_growth_nb_alpha_is_a_likelihood_maximum():
    y = np.array([1, 12, 2, 30, 5, 40, 8, 60])
    X = sm.add_constant(np.arange(8.0))
    alpha = fit_growth(y).nb_alpha
    model = sm.NegativeBinomial(y, X, loglike_method="nb2")
    best = model.fit(disp=0, maxiter=500)
    assert alpha == pytest.approx(best.params[-1], rel=1e-3)


def test_growth_not_fitted_cases():
    assert fit_growth([0, 0, 0, 0]).status == "not_fitted"
    assert fit_growth([0, 0, 9, 0]).note == "counts in fewer than 2 periods"
    assert fit_growth([1, 2]).status == "not_fitted"
    assert fit_growth([1, 1, 1, 0], min_total=5).status == "not_fitted"


def test_growth_offset_models_the_share():
    totals = np.array([10, 20, 40, 80, 160.0])
    y = totals * 0.25  # constant share
    fit = fit_growth(y, offset=np.log(totals))
    assert fit.rate_ratio == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------------------------ segmented
def test_post_indicator_first_half_rule():
    years = [2021, 2022, 2023, 2024]
    starts = [dt.date(y, 1, 1) for y in years]
    ends = [dt.date(y + 1, 1, 1) for y in years]
    assert post_indicator(starts, ends, dt.date(2023, 4, 5)).tolist() == [0, 0, 1, 1]
    assert post_indicator(starts, ends, dt.date(2023, 8, 1)).tolist() == [0, 0, 0, 1]
    q_start, q_end = [dt.date(2023, 4, 1)], [dt.date(2023, 7, 1)]
    assert post_indicator(q_start, q_end, dt.date(2023, 4, 5)).tolist() == [1]
    assert post_indicator(q_start, q_end, dt.date(2023, 5, 20)).tolist() == [0]  # 49 of 91 days


def test_segmented_exact_level_change():
    y = [4, 4, 4, 4, 4, 12, 12, 12, 12, 12]
    post = [0] * 5 + [1] * 5
    fit = fit_segmented(y, post)
    assert fit.status == "ok" and fit.model == "poisson"
    assert fit.level_ratio == pytest.approx(3.0, rel=FIT_TOL)
    assert fit.slope_ratio == pytest.approx(1.0, rel=FIT_TOL)
    assert fit.pre_slope_ratio == pytest.approx(1.0, rel=FIT_TOL)
    assert fit.mean_post_ratio == pytest.approx(3.0, rel=FIT_TOL)
    assert fit.rate_ratio_post_pre == pytest.approx(3.0)


def test_segmented_matches_statsmodels_and_lr_test():
    y = np.array([2, 3, 2, 4, 3, 20, 25, 30, 33])
    post = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1.0])
    fit = fit_segmented(y, post)
    t = np.arange(9.0)
    X = np.column_stack([np.ones(9), t, post, (t - 5) * post])
    full = sm.GLM(y, X, family=sm.families.Poisson()).fit()
    reduced = sm.GLM(y, X[:, :2], family=sm.families.Poisson()).fit()
    assert fit.model == "poisson"
    assert fit.level_ratio == pytest.approx(math.exp(full.params[2]), rel=FIT_TOL)
    assert fit.slope_ratio == pytest.approx(math.exp(full.params[3]), rel=FIT_TOL)
    assert fit.level_p_value == pytest.approx(full.pvalues[2], rel=1e-5)
    lr = 2 * (full.llf - reduced.llf)
    assert fit.joint_lr_stat == pytest.approx(lr, rel=FIT_TOL)
    assert fit.joint_p_value == pytest.approx(stats.chi2.sf(lr, 2), rel=1e-5)


def test_segmented_zero_pre_period_falls_back_to_exact_rate_test():
    y = [0, 0, 0, 0, 0, 20, 25, 30, 33]
    post = [0] * 5 + [1] * 4
    fit = fit_segmented(y, post)
    assert fit.status == "fallback"
    assert fit.joint_p_value == pytest.approx(stats.binomtest(108, 108, 4 / 9).pvalue)
    assert fit.rate_ratio_post_pre is None  # infinite
    assert "not estimable" in fit.note


def test_segmented_rejects_bad_post_and_outside_event():
    assert fit_segmented([1, 2, 3, 4], [1, 0, 1, 1]).status == "not_fitted"
    assert (
        fit_segmented([1, 2, 3, 4], [0, 0, 0, 0]).note == "the event is outside the fitted periods"
    )


def test_segmented_no_change_is_not_significant():
    y = [10, 12, 9, 11, 10, 12, 9, 11, 10, 12]
    fit = fit_segmented(y, [0] * 5 + [1] * 5)
    assert fit.status == "ok"
    assert fit.joint_p_value > 0.5
    assert fit.level_ci_low < 1 < fit.level_ci_high
