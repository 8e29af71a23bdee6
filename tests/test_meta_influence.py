"""Case-deletion diagnostics, BLUPs and cumulative meta-analysis, checked by explicit refits."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from fmreview.errors import StatsError
from fmreview.meta import RMA, MetaWarning, blup, cumulative, influence, leave_one_out, ranef

Y = np.array([0.12, 0.45, -0.05, 0.30, 0.62, 0.18, 0.25, 0.91])
V = np.array([0.02, 0.05, 0.03, 0.01, 0.08, 0.04, 0.02, 0.06])


def test_fe_cooks_distance_and_dfbetas_by_hand() -> None:
    m = RMA(method="FE").fit(Y, V)
    inf = influence(m)
    w = 1 / V
    for i in range(Y.size):
        keep = np.arange(Y.size) != i
        b_del = np.sum(w[keep] * Y[keep]) / np.sum(w[keep])
        d = m.beta_[0] - b_del
        assert inf["cook_d"][i] == pytest.approx(d**2 * np.sum(w), rel=1e-10)
        # metafor scales DFBETAS by the full-data variance at the deleted tau^2 (0 for FE)
        assert inf["dfbetas"][i, 0] == pytest.approx(d * math.sqrt(np.sum(w)), rel=1e-10)
        assert inf["cov_r"][i] == pytest.approx(np.sum(w) / np.sum(w[keep]), rel=1e-10)
        assert inf["QE_del"][i] == pytest.approx(
            np.sum(w[keep] * (Y[keep] - b_del) ** 2), rel=1e-10
        )


def test_rstudent_uses_the_deleted_fit() -> None:
    m = RMA(method="REML").fit(Y, V)
    inf = influence(m)
    f = RMA(method="REML").fit(Y[1:], V[1:])
    resid = Y[0] - f.beta_[0]
    se = math.sqrt(V[0] + f.tau2_ + f.vb_[0, 0])
    assert inf["rstudent"][0] == pytest.approx(resid / se, rel=1e-10)
    assert inf["tau2_del"][0] == pytest.approx(f.tau2_)


def test_hat_values_and_weights() -> None:
    m = RMA(method="DL").fit(Y, V)
    inf = influence(m)
    w = 1 / (V + m.tau2_)
    assert inf["hat"] == pytest.approx(w / w.sum())
    assert inf["weight"] == pytest.approx(100 * w / w.sum())
    assert m.hatvalues() == pytest.approx(inf["hat"])


def test_influence_in_meta_regression() -> None:
    x = np.arange(8.0)
    m = RMA(method="REML").fit(Y, V, x)
    inf = influence(m)
    assert inf["dfbetas"].shape == (8, 2)
    assert inf["hat"].sum() == pytest.approx(2.0)
    with pytest.raises(StatsError, match="without moderators"):
        leave_one_out(m)


def test_rstandard_of_fe_model() -> None:
    m = RMA(method="FE").fit(Y, V)
    rs = m.rstandard()
    h = (1 / V) / np.sum(1 / V)
    assert rs["se"] == pytest.approx(np.sqrt(V * (1 - h)), rel=1e-10)


def test_blup_shrinks_towards_the_mean() -> None:
    m = RMA(method="REML").fit(Y, V)
    b = blup(m)
    mu = m.beta_[0]
    assert np.all(np.abs(b["pred"] - mu) <= np.abs(Y - mu) + 1e-12)
    assert np.all(b["pi_lb"] < b["pred"]) and np.all(b["pred"] < b["pi_ub"])
    r = ranef(m)
    assert np.all(r["se"] >= 0)


def test_cumulative_handles_order_and_k1_steps() -> None:
    m = RMA(method="DL").fit(Y, V)
    order = np.array([2010, 2001, 2005, 2001, 2020, 2015, 2012, 2003])
    c = cumulative(m, order=order)
    assert list(c["index"][:3]) == [1, 3, 7]  # ties keep the input order
    assert c["estimate"][0] == pytest.approx(Y[1]) and c["se"][0] == pytest.approx(math.sqrt(V[1]))
    assert c["estimate"][-1] == pytest.approx(m.beta_[0])
    assert np.all(np.isfinite(c["I2"]))


def test_cumulative_with_missing_rows_aligns_the_order() -> None:
    y = np.array([0.1, np.nan, 0.3, 0.2])
    v = np.array([0.01, 0.02, 0.03, 0.02])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaWarning)
        m = RMA(method="DL").fit(y, v)
    c = cumulative(m, order=[4, 3, 1, 2])
    assert list(c["index"]) == [1, 2, 0]  # positions among the 3 studies used


def test_needs_two_studies() -> None:
    m = RMA(method="DL").fit([0.1], [0.01])
    with pytest.raises(StatsError, match="at least 2"):
        influence(m)
    with pytest.raises(StatsError, match="at least 2"):
        leave_one_out(m)
