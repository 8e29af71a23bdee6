"""The extraction benchmark's dataset matcher: one-to-one, up to case and separators."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def extraction() -> ModuleType:
    sys.path.insert(0, str(BENCH_DIR))
    try:
        spec = importlib.util.spec_from_file_location(
            "bench_extraction", BENCH_DIR / "extraction.py"
        )
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(BENCH_DIR))
    return mod


def gold(*names: str) -> list[dict[str, str]]:
    return [{"name": n, "mention": n} for n in names]


def test_spelling_variants_match(extraction: ModuleType) -> None:
    m = extraction.dataset_matches
    assert m([["MIMIC-CXR"]], gold("MIMIC CXR")) == 1
    assert m([["ConSep"]], gold("CoNSeP")) == 1
    assert m([["HAM10000"]], gold("HAM10000 dataset")) == 1
    assert m([["MSD"]], gold("Medical Segmentation Decathlon (MSD)")) == 1
    assert m([["CheXpert"]], gold("MIMIC-CXR")) == 0


def test_one_to_one_and_order_free(extraction: ModuleType) -> None:
    m = extraction.dataset_matches
    # a greedy pairing would give "BraTS" the first gold it fits and lose a match
    assert m([["BraTS"], ["BraTS-Africa"]], gold("BraTS-Africa", "BraTS")) == 2
    # one prediction matches one gold dataset at most
    assert m([["BraTS"]], gold("BraTS", "BraTS 2021")) == 1
    assert m([["BraTS"], ["BraTS"]], gold("BraTS")) == 1
    assert m([], gold("BraTS")) == 0 and m([["BraTS"]], []) == 0


def test_releases_of_one_entity_count_apart(extraction: ModuleType) -> None:
    split = extraction.by_release
    assert split([["EndoVis", "EndoVis 2017", "EndoVis-18"]]) == [
        ["EndoVis", "EndoVis 2017"],
        ["EndoVis", "EndoVis-18"],
    ]
    # one release written two ways is one prediction; a name without a release too
    assert split([["BraTS", "BraTS 2021", "BraTS21"]]) == [["BraTS", "BraTS 2021", "BraTS21"]]
    assert split([["KiTS", "KiTS"]]) == [["KiTS", "KiTS"]]
    pred = split([["EndoVis", "EndoVis 2017", "EndoVis 2018"]])
    gold_ = gold("EndoVis 2017", "EndoVis 2018")
    assert extraction.dataset_matches(pred, gold_) == 2
