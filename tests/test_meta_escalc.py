"""Effect sizes (escalc) and back-transforms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gamma

from fmreview.errors import InputError, NotFoundError
from fmreview.meta import auc_hanley_mcneil, escalc, hedges_correction
from fmreview.meta.transforms import iarcsin, ilogit, ipft, ipft_hm, pft, resolve_transform, ztor


def test_odds_ratio_and_risk_ratio_by_hand() -> None:
    yi, vi = escalc("OR", ai=[10], bi=[40], ci=[15], di=[35])
    assert yi[0] == pytest.approx(math.log(10 * 35 / (40 * 15)))
    assert vi[0] == pytest.approx(1 / 10 + 1 / 40 + 1 / 15 + 1 / 35)
    yi, vi = escalc("RR", ai=[10], n1i=[50], ci=[15], n2i=[50])
    assert yi[0] == pytest.approx(math.log(10 / 15))
    assert vi[0] == pytest.approx(1 / 10 - 1 / 50 + 1 / 15 - 1 / 50)


def test_continuity_correction_only0_all_and_drop00() -> None:
    t = {"ai": [0, 2, 0], "bi": [10, 8, 10], "ci": [3, 4, 0], "di": [7, 6, 10]}
    y0, _ = escalc("OR", **t)
    assert y0[0] == pytest.approx(math.log(0.5 * 7.5 / (10.5 * 3.5)))
    assert y0[1] == pytest.approx(math.log(2 * 6 / (8 * 4)))  # no zero: unchanged
    assert np.isfinite(y0[2])  # double zero kept (drop00=False)
    ya, _ = escalc("OR", to="all", **t)
    assert ya[1] == pytest.approx(math.log(2.5 * 6.5 / (8.5 * 4.5)))
    yd, vd = escalc("OR", drop00=True, **t)
    assert math.isnan(yd[2]) and math.isnan(vd[2])
    yn, _ = escalc("OR", to="none", **t)
    assert math.isnan(yn[0])  # log(0) is not a number, reported as missing


def test_peto_and_rd_as() -> None:
    y, v = escalc("PETO", ai=[4], bi=[119], ci=[11], di=[128])
    n1, n2, n, m1 = 123, 139, 262, 15
    e = m1 * n1 / n
    var = m1 * (n - m1) * n1 * n2 / (n**2 * (n - 1))
    assert y[0] == pytest.approx((4 - e) / var) and v[0] == pytest.approx(1 / var)
    y, v = escalc("RD", ai=[4], n1i=[10], ci=[2], n2i=[10])
    assert y[0] == pytest.approx(0.2) and v[0] == pytest.approx(0.4 * 0.6 / 10 + 0.2 * 0.8 / 10)
    y, v = escalc("AS", ai=[4], n1i=[10], ci=[2], n2i=[10])
    assert v[0] == pytest.approx(1 / 40 + 1 / 40)


def test_hedges_correction_is_exact_and_close_to_the_approximation() -> None:
    m = np.array([2.0, 10.0, 40.0])
    exact = gamma(m / 2) / (np.sqrt(m / 2) * gamma((m - 1) / 2))
    assert hedges_correction(m) == pytest.approx(exact, rel=1e-12)
    assert hedges_correction([100.0])[0] == pytest.approx(1 - 3 / (4 * 100 - 1), rel=1e-4)


def test_smd_and_variants() -> None:
    d = {"m1i": [10.0], "sd1i": [2.0], "n1i": [20], "m2i": [9.0], "sd2i": [3.0], "n2i": [25]}
    yi, vi = escalc("SMD", **d)
    sp = math.sqrt((19 * 4 + 24 * 9) / 43)
    g = hedges_correction([43.0])[0] * 1 / sp
    assert yi[0] == pytest.approx(g)
    assert vi[0] == pytest.approx(1 / 20 + 1 / 25 + g**2 / (2 * 45))
    yub, vub = escalc("SMD", vtype="UB", **d)
    assert yub[0] == yi[0] and vub[0] != vi[0]
    ymd, vmd = escalc("MD", **d)
    assert ymd[0] == 1 and vmd[0] == pytest.approx(4 / 20 + 9 / 25)
    yr, vr = escalc("ROM", **d)
    assert yr[0] == pytest.approx(math.log(10 / 9))
    ys, vs = escalc("SMDH", **d)
    assert ys[0] == pytest.approx(hedges_correction([43.0])[0] / math.sqrt(6.5))
    assert vs[0] > 0


def test_correlations() -> None:
    y, v = escalc("ZCOR", ri=[0.5], ni=[53])
    assert y[0] == pytest.approx(math.atanh(0.5)) and v[0] == pytest.approx(1 / 50)
    y, v = escalc("COR", ri=[0.5], ni=[53])
    assert v[0] == pytest.approx(0.75**2 / 52)
    with pytest.raises(InputError, match="outside"):
        escalc("COR", ri=[1.5], ni=[10])


def test_proportions_add_half_at_zero_and_n() -> None:
    y, v = escalc("PLO", xi=[0, 5, 10], ni=[10, 10, 10])
    assert y[0] == pytest.approx(math.log(0.5 / 10.5)) and v[0] == pytest.approx(1 / 0.5 + 1 / 10.5)
    assert y[1] == 0 and y[2] == pytest.approx(-y[0])
    y, _ = escalc("PR", xi=[0], ni=[10])
    assert y[0] == pytest.approx(0.5 / 11)
    y, v = escalc("PFT", xi=[0], ni=[10])
    assert y[0] == pytest.approx(0.5 * (0 + math.asin(math.sqrt(1 / 11)))) and v[
        0
    ] == pytest.approx(1 / 42)
    y, v = escalc("PAS", xi=[5], ni=[20])
    assert y[0] == pytest.approx(math.asin(0.5)) and v[0] == pytest.approx(1 / 80)
    with pytest.raises(InputError, match="0 <= xi <= ni"):
        escalc("PR", xi=[11], ni=[10])


def test_generic_and_errors() -> None:
    y, v = escalc("GEN", yi=[0.1, 0.2], sei=[0.1, 0.2])
    assert v.tolist() == pytest.approx([0.01, 0.04])
    with pytest.raises(NotFoundError, match="available"):
        escalc("XYZ", yi=[1], vi=[1])
    with pytest.raises(InputError, match="'m1i'"):
        escalc("MD", m2i=[1])
    with pytest.raises(InputError, match="negative cell"):
        escalc("OR", ai=[-1], bi=[1], ci=[1], di=[1])


def test_auc_hanley_mcneil_formula() -> None:
    a, v = auc_hanley_mcneil([0.9], [50], [100])
    q1, q2 = 0.9 / 1.1, 2 * 0.81 / 1.9
    assert v[0] == pytest.approx((0.09 + 49 * (q1 - 0.81) + 99 * (q2 - 0.81)) / 5000)
    _, v_small = auc_hanley_mcneil([0.9], [500], [1000])
    assert v_small[0] < v[0]
    with pytest.raises(InputError, match="fractions"):
        auc_hanley_mcneil([90], [10], [10])


@settings(max_examples=50, deadline=None)
@given(st.floats(0.001, 0.999), st.integers(5, 500))
def test_freeman_tukey_inverts(p: float, n: int) -> None:
    assert float(ipft(pft(p, n), n)) == pytest.approx(p, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.floats(-8, 8))
def test_simple_back_transforms(x: float) -> None:
    p = float(ilogit(x))
    assert math.log(p / (1 - p)) == pytest.approx(x, abs=1e-6)
    assert float(ztor(math.atanh(math.tanh(x)))) == pytest.approx(math.tanh(x))


def test_ipft_hm_uses_the_harmonic_mean_and_clips() -> None:
    ni = [10, 20, 40]
    nhm = 1 / np.mean(1 / np.array(ni, dtype=float))
    assert float(ipft_hm(pft(0.3, nhm), ni)) == pytest.approx(0.3)
    assert float(ipft_hm(-1.0, ni)) == 0.0 and float(ipft_hm(2.0, ni)) == 1.0
    assert float(iarcsin(-0.1)) == 0.0 and float(iarcsin(2.0)) == 1.0
    with pytest.raises(InputError):
        resolve_transform("ipft_hm")
    with pytest.raises(NotFoundError):
        resolve_transform("sqrt")
