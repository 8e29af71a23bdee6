"""Property tests (Hypothesis): invariants of counts, shares, explain and the statistics that
must hold for any small field, not just the hand-made ones."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from fmreview.analysis import (
    AnalysisSettings,
    cochran_armitage,
    cooccurrence,
    counts,
    explain_frame,
    mann_kendall,
    prepare,
)
from fmreview.analysis.tidy import records

AXES = {"modality": ["CT", "MRI", "X-ray"], "task": ["seg", "cls", "vqa", "rep"]}


@st.composite
def fields(draw):
    n = draw(st.integers(min_value=1, max_value=25))
    works, labels = [], []
    for wid in range(1, n + 1):
        year = draw(st.one_of(st.none(), st.integers(2019, 2025)))
        month = draw(st.one_of(st.none(), st.integers(1, 12)))
        date = f"{year}-{month:02d}" if year is not None and month is not None else None
        works.append((wid, year, date, f"w{wid}"))
        for axis, values in AXES.items():
            chosen = draw(st.lists(st.sampled_from(values), max_size=3))
            labels += [(wid, axis, v) for v in chosen]
    w = pd.DataFrame(works, columns=["work_id", "year", "date", "title"])
    lab = pd.DataFrame(labels, columns=["work_id", "axis", "value"])
    return w, lab


SETTINGS = AnalysisSettings(as_of=dt.date(2025, 6, 1), min_cell=2)
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(fields())
def test_count_invariants(field):
    w, lab = field
    if lab.empty:
        return
    f = prepare(w, lab, SETTINGS)
    c = counts(f, "year")
    assert (c["n_works"] <= c["period_labelled"]).all()
    assert (c["period_labelled"] <= c["period_works"]).all()
    assert (c["n_fractional"] <= c["n_works"] + 1e-9).all()
    for (_axis, _period), grp in c.groupby(["axis", "period"]):
        labelled = grp["period_labelled"].iloc[0]
        # per-label view partitions the labelled works; per-work view covers them
        assert math.isclose(grp["n_fractional"].sum(), labelled, abs_tol=1e-9)
        assert grp["n_works"].sum() >= labelled
        if labelled:
            assert math.isclose(grp["share_of_labels"].sum(), 1.0, abs_tol=1e-9)
    # every non-empty cell is explainable with exactly its count
    for row in c[c.n_works > 0].head(6).itertuples():
        assert len(explain_frame(f, f"{row.axis}={row.value} {row.period}")) == row.n_works
    json.dumps(records(c), allow_nan=False)


@FAST
@given(fields())
def test_cooccurrence_is_the_transpose_of_its_mirror(field):
    w, lab = field
    if lab.empty or lab["axis"].nunique() < 2:
        return
    f = prepare(w, lab, SETTINGS)
    a = cooccurrence(f, "modality", "task").set_index(["row_value", "col_value"])["n_works"]
    b = cooccurrence(f, "task", "modality").set_index(["col_value", "row_value"])["n_works"]
    b.index = b.index.set_names(["row_value", "col_value"])
    assert a.sort_index().tolist() == b.sort_index().tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=3, max_size=14))
def test_mann_kendall_agrees_with_kendalltau(values):
    x = np.array(values, dtype=float)
    mk = mann_kendall(x)
    t = np.arange(len(x))
    if np.all(x == x[0]):
        assert mk.s == 0 and mk.p_value == 1.0
        return
    kt = stats.kendalltau(t, x, method="asymptotic")
    n0 = len(x) * (len(x) - 1) / 2
    _, ties = np.unique(x, return_counts=True)
    n2 = float(sum(g * (g - 1) / 2 for g in ties))
    assert math.isclose(kt.statistic * math.sqrt(n0 * (n0 - n2)), mk.s, abs_tol=1e-9)
    # the continuity correction only makes the test more conservative
    assert mk.p_value >= kt.pvalue - 1e-12
    # reversing time flips the sign of S
    assert mann_kendall(x[::-1]).s == -mk.s


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 20)), min_size=2, max_size=8))
def test_cochran_armitage_symmetries(groups):
    x = np.array([min(a, b) for a, b in groups], dtype=float)
    n = np.array([b for _, b in groups], dtype=float)
    ca = cochran_armitage(x, n)
    if ca.z is None:
        return
    # counting failures instead of successes flips the sign; reversing the scores too
    assert math.isclose(cochran_armitage(n - x, n).z, -ca.z, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(
        cochran_armitage(x, n, -np.arange(len(x))).z, -ca.z, rel_tol=1e-9, abs_tol=1e-12
    )
    # a linear rescaling of the scores changes nothing
    assert math.isclose(
        cochran_armitage(x, n, 3 * np.arange(len(x)) + 7).z, ca.z, rel_tol=1e-9, abs_tol=1e-12
    )
    assert 0 <= ca.p_value <= 1
