"""Accuracy on real labelled sets (skipped when ../shared/bench is absent)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fmreview.dedupe import DedupeMetrics, Deduplicator, hair_metrics
from tests.conftest import bench_dir

# the benchmark's settings: the gold sets count conference abstracts as duplicates and do
# not model version-of links (see benchmarks/dedupe.py)
PARAMS = {"link_versions": False, "merge_conference_abstracts": True}


def _run(name: str) -> tuple[float, float]:
    folder = bench_dir("dedupe", name)
    records = pd.read_csv(folder / "records.csv", dtype=str, keep_default_na=False)
    gold = pd.read_csv(folder / "gold.csv", dtype=str)
    model = Deduplicator(**PARAMS).fit(records)
    m = hair_metrics(
        model.clusters_,
        dict(zip(gold["record_id"], gold["group_id"], strict=True)),
        records["record_id"].tolist(),
    )
    return m.sensitivity, m.precision


@pytest.mark.parametrize(
    ("name", "min_sens", "min_prec"),
    [("sra-stroke", 0.98, 0.999), ("bibdedupe-special_cases", 1.0, 1.0)],
)
def test_accuracy_on_labelled_set(name: str, min_sens: float, min_prec: float) -> None:
    sens, prec = _run(name)
    assert sens >= min_sens
    assert prec >= min_prec


# ----------------------------------------------------------------------------- tuning
def _benchmark() -> Any:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "dedupe.py"
    spec = importlib.util.spec_from_file_location("dedupe_benchmark", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_leave_one_set_out_never_scores_a_set_it_was_tuned_on() -> None:
    bench = _benchmark()
    combos = [(u, t) for u in bench.GRID_UPPER for t in bench.GRID_TITLE_MIN]
    low, high = combos[0], combos[-1]

    def grid(best: tuple[float, float]) -> dict[tuple[float, float], DedupeMetrics]:
        # every setting costs 5 missed duplicates except ``best`` (none)
        return {c: DedupeMetrics(10, 0, 10, 0 if c == best else 5) for c in combos}

    # set "a" alone prefers the lowest setting, "b" and "c" the highest
    res = bench.leave_one_set_out({"a": grid(low), "b": grid(high), "c": grid(high)})
    chosen = {r["set"]: (r["upper"], r["title_min"]) for r in res["per_set"]}
    assert chosen["a"] == high  # tuned on b and c only
    assert res["per_set"][0]["fn"] == 5  # so "a" pays for not being seen
    assert chosen["b"] == chosen["c"] == high
    assert res["pooled"]["fn"] == 5
    assert (res["tuned_on_all"]["upper"], res["tuned_on_all"]["title_min"]) == high


def test_trap_suite_is_scored_by_the_benchmark() -> None:
    res = _benchmark().trap_suite({"link_versions": False, "merge_conference_abstracts": True})
    assert res["false_merges"] == 0
    assert res["hard_negative_pairs"] >= 20
    assert res["duplicates_merged"] == res["duplicate_pairs"] >= 2
