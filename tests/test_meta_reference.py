"""The golden-suite comparator, the agreement benchmark, and symmetry properties of the estimators."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmreview.meta import RMA, MantelHaenszel, MetaWarning, escalc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "validation" / "metafor"))
from compare import compare, read_rows  # noqa: E402
from translations import run_case  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "bench" / "metafor"


def kinds(expected, got) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {i["path"]: i["kind"] for i in compare(expected, got)}


def test_compare_numbers_and_relative_deviation() -> None:
    items = compare({"a": 2.0, "b": {"c": [1.0, 3.0]}}, {"a": 2.0 + 2e-10, "b": {"c": [1.0]}})
    by = {i["path"]: i for i in items}
    assert by["a"]["kind"] == "num" and by["a"]["rel"] == pytest.approx(1e-10)
    assert by["b.c[0]"]["abs"] == 0 and by["b.c[1]"]["kind"] == "missing"


def test_compare_na_errors_texts_and_special_values() -> None:
    k = kinds(
        {"x": None, "y": 1.0, "z": "Inf", "w": "warn", "e": {"error": "boom"}, "case": "skip me"},
        {"x": 5.0, "y": float("nan"), "z": math.inf, "w": "other", "e": {"value": 1}},
    )
    assert k == {"x": "na", "y": "na", "z": "num", "w": "text", "e": "error"}
    assert kinds({"x": None}, {"x": float("nan")}) == {}
    assert kinds({"m": {"rownames": ["a"], "values": [[1.0]]}}, {"m": {"values": [[1.0]]}}) == {
        "m.values[0][0]": "num"
    }


def test_unknown_case_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        run_case("no_such_case", [])


def test_read_rows_types(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text('a,b,c\n1,x,\n2.5,"y z",NA\n')
    assert read_rows(p) == [{"a": 1.0, "b": "x", "c": None}, {"a": 2.5, "b": "y z", "c": None}]


@pytest.mark.skipif(
    not BENCH.exists(), reason="shared metafor golden suite (../shared/bench/metafor) is absent"
)
def test_benchmark_script_runs_on_one_case() -> None:
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "metafor_agreement.py"),
            str(BENCH / "edge_k2"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    res = json.loads(out.stdout)
    assert res[0]["case"] == "edge_k2" and res[0]["compared"] > 1000
    assert (
        res[0]["max_rel"] < 1e-10 and not res[0]["text_mismatch"] and not res[0]["error_mismatch"]
    )


counts = st.integers(0, 60)


@settings(max_examples=60, deadline=None)
@given(counts, counts, counts, counts)
def test_swapping_groups_negates_log_ratios(a: int, b: int, c: int, d: int) -> None:
    for m in ("OR", "RR", "RD", "AS", "PETO"):
        y1, v1 = escalc(m, ai=[a], bi=[b], ci=[c], di=[d])
        y2, v2 = escalc(m, ai=[c], bi=[d], ci=[a], di=[b])
        if np.isnan(y1[0]):
            assert np.isnan(y2[0])
            continue
        assert y1[0] == pytest.approx(-y2[0], abs=1e-12)
        assert v1[0] == pytest.approx(v2[0], rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-2, 2), st.floats(0.01, 1.0)), min_size=3, max_size=10),
    st.sampled_from(["DL", "REML", "ML", "PM", "HE", "SJ", "EB"]),
    st.floats(-5, 5),
)
def test_location_shift_moves_only_the_estimate(data, method: str, shift: float) -> None:  # type: ignore[no-untyped-def]
    y = np.array([d[0] for d in data])
    v = np.array([d[1] for d in data])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaWarning)
        tight = {"threshold": 1e-12, "tol": 1e-12, "maxiter": 10000}
        a = RMA(method=method, control=tight).fit(y, v)
        b = RMA(method=method, control=tight).fit(y + shift, v)
    assert b.beta_[0] == pytest.approx(a.beta_[0] + shift, abs=1e-6)
    assert b.tau2_ == pytest.approx(a.tau2_, abs=1e-6)
    assert b.QE_ == pytest.approx(a.QE_, rel=1e-6, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(counts, counts, counts, counts), min_size=2, max_size=8))
def test_mh_rd_is_antisymmetric(tables) -> None:  # type: ignore[no-untyped-def]
    a, b, c, d = (np.array([t[i] for t in tables], dtype=float) + 1 for i in range(4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetaWarning)
        x = MantelHaenszel(measure="RD").fit(a, b, c, d)
        y = MantelHaenszel(measure="RD").fit(c, d, a, b)
    assert x.beta_ == pytest.approx(-y.beta_, abs=1e-12)
    assert x.se_ == pytest.approx(y.se_, rel=1e-9)
