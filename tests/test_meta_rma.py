"""RMA: estimator contract, properties, edge cases and the non-convergence fallback."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from fmreview.errors import InputError, NotFoundError, StatsError
from fmreview.meta import METHODS, RMA, MetaWarning, confint_tau2, design_matrix
from fmreview.meta._linalg import loglik
from fmreview.meta._uniroot import uniroot

BCG_Y = np.array(
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
BCG_V = np.array(
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

# found by random search: metafor-style Fisher scoring for REML oscillates here
NONCONV_Y = np.array([0.96, -0.23, -0.57, 0.39, -0.25, -0.07, -0.01])
NONCONV_V = np.array([0.0132, 0.8999, 0.0346, 0.3153, 0.6474, 0.3328, 0.5976])

effects = st.lists(st.tuples(st.floats(-3, 3), st.floats(0.001, 2.0)), min_size=2, max_size=25).map(
    lambda xs: (np.array([x[0] for x in xs]), np.array([x[1] for x in xs]))
)


def quiet_fit(**kw):  # type: ignore[no-untyped-def]
    y, v = kw.pop("y"), kw.pop("v")
    mods = kw.pop("mods", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaWarning)
        return RMA(**kw).fit(y, v, mods)


def test_init_stores_parameters_unchanged_and_fit_returns_self() -> None:
    ctrl = {"threshold": 1e-9}
    m = RMA(method="DL", test="knha", level=90, control=ctrl)
    assert (m.method, m.test, m.level, m.control) == ("DL", "knha", 90, ctrl)
    assert m.fit(BCG_Y, BCG_V) is m
    assert m.control is ctrl and ctrl == {"threshold": 1e-9}
    assert hasattr(m, "beta_") and hasattr(m, "tau2_")


def test_keyword_only_init() -> None:
    with pytest.raises(TypeError):
        RMA("REML")  # type: ignore[misc]


def test_unknown_method_and_test_name_the_choices() -> None:
    with pytest.raises(NotFoundError, match="available: .*REML"):
        RMA(method="REMLX").fit(BCG_Y, BCG_V)
    with pytest.raises(NotFoundError, match="knha"):
        RMA(test="hksj").fit(BCG_Y, BCG_V)
    with pytest.raises(NotFoundError, match="threshold"):
        RMA(control={"treshold": 1}).fit(BCG_Y, BCG_V)


def test_bad_shapes_and_level() -> None:
    with pytest.raises(InputError, match="one variance per effect"):
        RMA().fit([1, 2], [0.1])
    with pytest.raises(InputError, match="confidence level"):
        RMA(level=120).fit(BCG_Y, BCG_V)
    with pytest.raises(InputError, match="one row per effect"):
        RMA().fit(BCG_Y, BCG_V, np.ones(3))


def test_level_as_fraction_equals_percent() -> None:
    a = RMA(level=0.9).fit(BCG_Y, BCG_V)
    b = RMA(level=90).fit(BCG_Y, BCG_V)
    assert a.ci_lb_[0] == b.ci_lb_[0]


@settings(max_examples=40, deadline=None)
@given(effects)
def test_ee_is_the_inverse_variance_weighted_mean(data) -> None:  # type: ignore[no-untyped-def]
    y, v = data
    m = quiet_fit(y=y, v=v, method="EE")
    w = 1 / v
    assert m.beta_[0] == pytest.approx(np.sum(w * y) / np.sum(w), rel=1e-10, abs=1e-12)
    assert m.se_[0] == pytest.approx(math.sqrt(1 / np.sum(w)), rel=1e-10)
    assert sum(m.weights_) == pytest.approx(100)


@settings(max_examples=40, deadline=None)
@given(effects)
def test_moment_estimators_are_non_negative_and_i2_in_range(data) -> None:  # type: ignore[no-untyped-def]
    y, v = data
    for method in ("DL", "HE", "HS", "HSk", "SJ", "PM"):
        m = quiet_fit(y=y, v=v, method=method)
        assert m.tau2_ >= 0
        assert 0 <= m.I2_ <= 100
        assert m.H2_ >= 1 - 1e-12


@settings(max_examples=25, deadline=None)
@given(effects)
def test_prediction_interval_contains_confidence_interval(data) -> None:  # type: ignore[no-untyped-def]
    y, v = data
    m = quiet_fit(y=y, v=v, method="DL")
    pr = m.predict()
    assert pr["pi_lb"][0] <= pr["ci_lb"][0] + 1e-12 and pr["pi_ub"][0] >= pr["ci_ub"][0] - 1e-12


@settings(max_examples=25, deadline=None)
@given(effects)
def test_adhoc_is_never_narrower_than_knha_or_t(data) -> None:  # type: ignore[no-untyped-def]
    y, v = data
    knha = quiet_fit(y=y, v=v, method="DL", test="knha")
    adhoc = quiet_fit(y=y, v=v, method="DL", test="adhoc")
    t = quiet_fit(y=y, v=v, method="DL", test="t")
    assert adhoc.se_[0] >= knha.se_[0] - 1e-12
    assert adhoc.se_[0] >= t.se_[0] - 1e-12
    assert adhoc.s2w_ == max(1.0, knha.s2w_)


def test_reml_maximises_the_restricted_likelihood() -> None:
    m = RMA(method="REML", control={"threshold": 1e-12}).fit(BCG_Y, BCG_V)
    res = optimize.minimize_scalar(
        lambda t: -loglik(BCG_Y, BCG_V, np.ones((13, 1)), t, True),
        bounds=(0, 5),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert m.tau2_ == pytest.approx(res.x, abs=1e-7)
    assert m.fit_stats_["REML"]["ll"] == pytest.approx(-res.fun, abs=1e-10)


def test_pm_solves_the_generalised_q_equation() -> None:
    m = RMA(method="PM", control={"tol": 1e-14}).fit(BCG_Y, BCG_V)
    w = 1 / (BCG_V + m.tau2_)
    mu = np.sum(w * BCG_Y) / np.sum(w)
    assert np.sum(w * (BCG_Y - mu) ** 2) == pytest.approx(12, abs=1e-8)


def test_default_control_stops_like_metafor_and_tight_control_converges() -> None:
    d = RMA(method="REML").fit(BCG_Y, BCG_V)
    t = RMA(method="REML", control={"threshold": 1e-12}).fit(BCG_Y, BCG_V)
    assert 0 < abs(d.tau2_ - t.tau2_) < 1e-5
    assert t.iterations_ > d.iterations_


def test_nonconvergence_stops_with_metafors_error_naming_the_remedies() -> None:
    for control in (None, {"stepadj": 1}, {"stepadj": 1.0, "maxiter": 100}):
        with pytest.raises(StatsError) as err:
            RMA(method="REML", control=control).fit(NONCONV_Y, NONCONV_V)
        msg = str(err.value)
        assert msg.startswith(
            "Fisher scoring algorithm did not converge. See 'help(rma)' for possible remedies."
        )
        assert "step_halving=True" in msg and "'stepadj': 0.5" in msg


def test_step_halving_is_an_explicit_option_and_says_so() -> None:
    with pytest.warns(MetaWarning, match="did not converge .*step halving, stepadj = 0.5"):
        m = RMA(method="REML", step_halving=True).fit(NONCONV_Y, NONCONV_V)
    assert any("stepadj = 0.5" in w for w in m.warnings_)
    res = optimize.minimize_scalar(
        lambda t: -loglik(NONCONV_Y, NONCONV_V, np.ones((7, 1)), t, True),
        bounds=(0, 10),
        method="bounded",
        options={"xatol": 1e-12},
    )
    assert m.tau2_ == pytest.approx(res.x, abs=1e-4)
    # the same value by metafor's own remedy, a smaller stepadj, without any warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", MetaWarning)
        s = RMA(method="REML", control={"stepadj": 0.5}).fit(NONCONV_Y, NONCONV_V)
    assert s.tau2_ == m.tau2_ and s.warnings_ == []


def test_step_halving_that_cannot_help_is_still_an_error() -> None:
    with pytest.raises(StatsError, match="not even with step halving"):
        RMA(method="REML", control={"maxiter": 1}, step_halving=True).fit(BCG_Y, BCG_V)


def test_fisher_scoring_trace_records_every_iterate(capsys: pytest.CaptureFixture[str]) -> None:
    m = RMA(method="REML", control={"threshold": 1e-12}, verbose=True).fit(BCG_Y, BCG_V)
    assert len(m.trace_) == m.iterations_ >= 3
    assert m.trace_[-1]["tau2"] == m.tau2_ and m.trace_[-1]["change"] <= 1e-12
    assert [t["iteration"] for t in m.trace_] == list(range(1, m.iterations_ + 1))
    err = capsys.readouterr().err
    assert err.count("Iteration") == m.iterations_
    quiet = RMA(method="REML", control={"threshold": 1e-12}).fit(BCG_Y, BCG_V)
    assert quiet.trace_ == m.trace_ and capsys.readouterr().err == ""


def test_k1_forces_z_and_zero_tau2() -> None:
    with pytest.warns(MetaWarning, match='test="z" since k=1'):
        m = RMA(method="REML", test="knha").fit([0.5], [0.1])
    assert m.tau2_ == 0 and m.test_ == "z" and m.se_tau2_ is None
    with pytest.raises(StatsError, match="k = 1"):
        m.confint()


def test_identical_effects_knha_gives_zero_width_interval() -> None:
    m = RMA(method="REML", test="knha").fit([0.3] * 4, [0.1, 0.05, 0.2, 0.08])
    assert m.tau2_ == 0 and m.se_[0] == 0 and m.ci_lb_[0] == pytest.approx(0.3)
    a = RMA(method="REML", test="adhoc").fit([0.3] * 4, [0.1, 0.05, 0.2, 0.08])
    assert a.se_[0] > 0
    ci = m.confint(control={"tol": 1e-12})
    assert ci["tau2"]["ci_lb"] == 0 and ci["tau2"]["ci_ub"] == 0


def test_missing_values_are_dropped_with_a_warning() -> None:
    with pytest.warns(MetaWarning, match="NAs omitted"):
        m = RMA(method="DL").fit([0.1, np.nan, 0.5, 0.2], [0.02, 0.05, np.nan, 0.08])
    assert m.k_ == 2 and list(m.not_na_) == [True, False, False, True]


def test_zero_and_negative_variances_follow_metafor() -> None:
    y, v = [0.1, 0.3, 0.5, 0.2], [0.0, 0.05, 0.2, 0.08]
    with pytest.raises(StatsError, match="DL estimator cannot be used"):
        quiet_fit(y=y, v=v, method="DL")
    with pytest.raises(StatsError, match="Division by zero"):
        quiet_fit(y=y, v=v, method="REML")
    with (
        warnings.catch_warnings(record=True) as rec,
        pytest.raises(StatsError, match="Division by zero"),
    ):
        warnings.simplefilter("always", MetaWarning)
        RMA(method="EE").fit(y, [-0.01, 0.05, 0.2, 0.08])
    assert [str(w.message) for w in rec] == [
        "There are outcomes with non-positive sampling variances.",
        "Negative sampling variances constrained to zero.",
    ]
    sj = quiet_fit(y=y, v=v, method="SJ")
    assert sj.QE_ is None and sj.I2_ is None and sj.tau2_ > 0
    with pytest.raises(StatsError, match="non-positive sampling variances"):
        sj.confint()


def test_every_method_fits_bcg() -> None:
    for method in METHODS:
        m = RMA(method=method).fit(BCG_Y, BCG_V)
        assert np.isfinite(m.beta_[0])
        json.dumps(m.to_dict())


def test_meta_regression_qm_r2_and_predict() -> None:
    ablat = np.array([44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33], dtype=float)
    m = RMA(method="REML").fit(BCG_Y, BCG_V, ablat[:, None], coef_names=["ablat"])
    assert m.coef_names_ == ["intrcpt", "ablat"]
    assert m.beta_[1] < 0 and m.QMp_ < 0.01 and 0 <= m.R2_ <= 100
    pr = m.predict([[10], [50]])
    assert pr["pred"][0] > pr["pred"][1]
    assert m.fitted() + m.residuals() == pytest.approx(BCG_Y)


def test_factor_design_matrix_uses_treatment_coding() -> None:
    rows = [{"g": "b", "x": 1}, {"g": "a", "x": 2}, {"g": "c", "x": None}]
    M, names = design_matrix(rows, ["g", "x"])
    assert names == ["gb", "gc", "x"]
    assert M[0].tolist()[:2] == [1.0, 0.0] and M[1].tolist()[:2] == [0.0, 0.0]
    assert math.isnan(M[2, 2])
    with pytest.raises(InputError, match="not in the data"):
        design_matrix(rows, ["nope"])


def test_profile_likelihood_ci_brackets_the_estimate() -> None:
    m = RMA(method="REML").fit(BCG_Y, BCG_V)
    pl = confint_tau2(m, type="PL", control={"tol": 1e-10})
    qp = m.confint(control={"tol": 1e-10})
    assert pl["tau2"]["ci_lb"] < m.tau2_ < pl["tau2"]["ci_ub"]
    assert qp["I2"]["ci_lb"] < m.I2_ < qp["I2"]["ci_ub"]
    with pytest.raises(StatsError, match="ML or REML"):
        confint_tau2(RMA(method="DL").fit(BCG_Y, BCG_V), type="PL")


def test_uniroot_matches_r_on_a_textbook_function() -> None:
    root, ok = uniroot(lambda x: x**3 - x - 1, 1, 2, tol=1e-12)
    assert ok and root == pytest.approx(1.324717957244746, abs=1e-11)
    with pytest.raises(StatsError, match="same sign"):
        uniroot(lambda x: x * x + 1, -1, 1)


def test_no_residual_degrees_of_freedom_is_an_error() -> None:
    with pytest.raises(StatsError, match="no degrees of freedom"):
        RMA(method="REML").fit([0.1, 0.4], [0.01, 0.02], [0.0, 1.0])
    m = RMA(method="EE").fit([0.1, 0.4], [0.01, 0.02], [0.0, 1.0])
    assert m.beta_[1] == pytest.approx(0.3)
