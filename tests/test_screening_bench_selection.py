"""The screening benchmark's model selection (benchmarks/screening.py), on made-up tables."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest


def _benchmark(monkeypatch: pytest.MonkeyPatch, names: list[str]) -> Any:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "screening.py"
    spec = importlib.util.spec_from_file_location("screening_benchmark", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cands = {n: ("logistic", {}, {}, 0.075) for n in names}
    monkeypatch.setattr(module, "CANDIDATES", cands)
    return module


SETS = ["a", "b", "c"]
TABLE = {
    # best worst set (+0.012 on c), smaller mean
    "steady": {"a": 0.020, "b": 0.020, "c": 0.012},
    # worst +0.008: within one standard error (0.005) of +0.012, better mean
    "better_mean": {"a": 0.040, "b": 0.090, "c": 0.008},
    # worst +0.005: more than one standard error below, best mean
    "uneven": {"a": 0.060, "b": 0.130, "c": 0.005},
}


def _se(value: float) -> dict[str, dict[str, float]]:
    return {c: {s: value for s in SETS} for c in TABLE}


def test_one_standard_error_rule_prefers_the_better_mean_among_equals(monkeypatch) -> None:
    bench = _benchmark(monkeypatch, list(TABLE))
    assert bench.select_default(TABLE, SETS, _se(0.005)) == "better_mean"


def test_without_standard_errors_the_rule_is_plain_maximin(monkeypatch) -> None:
    bench = _benchmark(monkeypatch, list(TABLE))
    assert bench.select_default(TABLE, SETS) == "steady"
    assert bench.select_default(TABLE, SETS, _se(0.0)) == "steady"


def test_the_tolerance_is_the_best_candidates_own_standard_error(monkeypatch) -> None:
    bench = _benchmark(monkeypatch, list(TABLE))
    se = _se(0.001)
    se["steady"]["c"] = 0.008  # only the best candidate's worst set counts
    assert bench.select_default(TABLE, SETS, se) == "uneven"
    assert bench.select_default(TABLE, ["a", "b"], _se(0.0)) == "uneven"


def test_the_held_out_set_never_chooses(monkeypatch) -> None:
    bench = _benchmark(monkeypatch, list(TABLE))
    worse_on_c = {c: dict(v) for c, v in TABLE.items()}
    worse_on_c["better_mean"]["c"] = -0.5
    # leaving c out, its figures cannot change the choice
    assert bench.select_default(worse_on_c, ["a", "b"], _se(0.005)) == bench.select_default(
        TABLE, ["a", "b"], _se(0.005)
    )
