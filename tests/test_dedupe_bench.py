"""Accuracy on real labelled sets (skipped when ../shared/bench is absent)."""

from __future__ import annotations

import pandas as pd
import pytest

from fmreview.dedupe import Deduplicator, hair_metrics
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
