"""Mantel-Haenszel and Peto, cross-checked against statsmodels and hand formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import StratifiedTable

from fmreview.errors import NotFoundError, StatsError
from fmreview.meta import MantelHaenszel, Peto, escalc

# dat.bcg 2x2 tables (tpos, tneg, cpos, cneg)
A = np.array([4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27], dtype=float)
B = np.array(
    [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886], dtype=float
)
C = np.array([11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29], dtype=float)
D = np.array(
    [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825], dtype=float
)


def _statsmodels() -> StratifiedTable:
    return StratifiedTable(
        [np.array([[a, b], [c, d]]) for a, b, c, d in zip(A, B, C, D, strict=True)]
    )


def test_mh_odds_ratio_matches_statsmodels() -> None:
    mh = MantelHaenszel(measure="OR").fit(A, B, C, D)
    st = _statsmodels()
    assert math.exp(mh.beta_) == pytest.approx(st.oddsratio_pooled, rel=1e-12)
    assert mh.se_ == pytest.approx(st.logodds_pooled_se, rel=1e-10)
    assert mh.MH_ == pytest.approx(st.test_null_odds(correction=True).statistic, rel=1e-10)
    nc = MantelHaenszel(measure="OR", correct=False).fit(A, B, C, D)
    assert nc.MH_ == pytest.approx(st.test_null_odds(correction=False).statistic, rel=1e-10)
    assert mh.BD_ == pytest.approx(st.test_equal_odds(adjust=False).statistic, rel=1e-8)
    assert mh.TA_ == pytest.approx(st.test_equal_odds(adjust=True).statistic, rel=1e-8)


def test_mh_risk_ratio_and_difference_by_hand() -> None:
    n1, n2 = A + B, C + D
    n = n1 + n2
    rr = MantelHaenszel(measure="RR").fit(A, B, C, D)
    assert math.exp(rr.beta_) == pytest.approx(np.sum(A * n2 / n) / np.sum(C * n1 / n))
    rd = MantelHaenszel(measure="RD").fit(A, B, C, D)
    assert rd.beta_ == pytest.approx(np.sum((A * n2 - C * n1) / n) / np.sum(n1 * n2 / n))
    assert sum(rd.weights_) == pytest.approx(100)


def test_single_table_mh_equals_the_table_odds_ratio() -> None:
    mh = MantelHaenszel(measure="OR").fit([10], [40], [15], [35])
    yi, vi = escalc("OR", ai=[10], bi=[40], ci=[15], di=[35])
    assert mh.beta_ == pytest.approx(yi[0])
    assert mh.se_**2 == pytest.approx(vi[0])
    assert mh.QE_ == pytest.approx(0, abs=1e-20) and mh.QEp_ == 1 and mh.BDp_ is None


def test_double_zero_tables_are_left_out_of_q_but_not_of_the_estimate() -> None:
    a, n1, c, n2 = [0, 1, 2, 0], [116, 44, 208, 118], [3, 3, 9, 0], [117, 35, 195, 105]
    with pytest.warns(UserWarning, match="Some yi/vi values are NA"):
        mh = MantelHaenszel(measure="OR").fit(a, ci=c, n1i=n1, n2i=n2)
    assert mh.k_ == 4 and mh.k_yi_ == 3 and mh.yi_.size == 3
    assert mh.k_pos_ == 3


def test_peto_by_hand() -> None:
    n1, n2 = A + B, C + D
    n = n1 + n2
    e = (A + C) * n1 / n
    v = (A + C) * (B + D) * n1 * n2 / (n**2 * (n - 1))
    pt = Peto().fit(A, B, C, D)
    assert pt.beta_ == pytest.approx(np.sum(A - e) / np.sum(v))
    assert pt.se_ == pytest.approx(1 / math.sqrt(np.sum(v)))
    assert pt.predict(transf=np.exp)["pred"] == pytest.approx(math.exp(pt.beta_))
    d = pt.to_dict()
    assert d["measure"] == "PETO" and len(d["weights_pct"]) == 13


def test_errors() -> None:
    with pytest.raises(NotFoundError, match="available: OR, RD, RR"):
        MantelHaenszel(measure="SMD").fit(A, B, C, D)
    with pytest.raises(StatsError, match="0 or infinite"):
        MantelHaenszel(measure="OR").fit([0, 0], [10, 10], [0, 0], [10, 10])
