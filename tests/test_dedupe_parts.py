"""The dedupe building blocks: blocking passes, field scores, traps, union-find."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fmreview.dedupe.blocking import blocking_keys, candidate_pairs
from fmreview.dedupe.cluster import UnionFind, cluster_links
from fmreview.dedupe.engine import sorted_keys
from fmreview.dedupe.keys import record_keys
from fmreview.dedupe.scoring import (
    FIELDS,
    SUBTITLE_SIM,
    TRUNCATED_SIM,
    author_similarity,
    page_agreement,
    prefilter,
    reason,
    score_pairs,
    title_similarity,
)
from fmreview.dedupe.traps import TRAPS, pair_traps, record_flags


def keys_of(records: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return record_keys(records)


def pair_set(i: np.ndarray, j: np.ndarray) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in zip(i, j, strict=True)}


# ----------------------------------------------------------------------------- blocking
def test_blocking_finds_translated_titles_by_citation() -> None:
    filler = [
        {"id": k, "title": f"Filler study {k} of something", "year": 1990 + k % 30}
        for k in range(50)
    ]
    records = [
        *filler,
        {
            "id": "en",
            "title": "Antibiotic prophylaxis in pulmonary surgery",
            "authors": "Train, M.",
            "year": 1994,
            "volume": "13",
            "pages": "280-284",
        },
        {
            "id": "fr",
            "title": "[Comparaison de l'amoxicilline et du cefamandole]",
            "authors": "Train, M.",
            "year": 1994,
            "volume": "13",
            "pages": "280-284",
        },
    ]
    keys = keys_of(records)
    i, j, src = candidate_pairs(keys, window=2)
    pairs = pair_set(i, j)
    assert (50, 51) in pairs
    bits = src[np.flatnonzero((i == 50) & (j == 51))[0]]
    assert bits & 64  # the year+volume+page pass
    assert bits & 32  # the first author+year pass


def test_blocking_pairs_are_unique_ordered_and_linear() -> None:
    n = 2000
    records = [
        {"id": k, "title": "Editorial", "authors": "Smith, A.", "year": 2020} for k in range(n)
    ]
    keys = keys_of(records)
    i, j, _ = candidate_pairs(keys, window=4)
    assert np.all(i < j)
    assert len(pair_set(i, j)) == len(i)
    # a block of 2,000 identical titles does not make n^2/2 pairs
    assert len(i) <= 7 * 4 * n


def test_blocking_keys_words_ignore_order() -> None:
    keys = keys_of(
        [
            {"title": "segmentation of lung nodules with transformers"},
            {"title": "transformers: lung nodules segmentation"},
        ]
    )
    words = blocking_keys(keys)["words"]
    assert words[0] == words[1] != ""


def test_candidate_pairs_on_tiny_input() -> None:
    i, j, src = candidate_pairs(keys_of([{"title": "x"}]))
    assert len(i) == len(j) == len(src) == 0


# ----------------------------------------------------------------------------- scoring
def test_title_similarity_handles_truncation_and_order() -> None:
    a = np.array(
        [
            "optimal therapy of malignant pleural effusions",
            "lung nodules in ct",
            "",
            "x",
            "inherited complement deficiency in chronic inflammatory states",
            "can liver kidney transplantation cure ahus",
        ],
        dtype=object,
    )
    b = np.array(
        [
            "optimal therapy of malignant pleural effusions report of a randomized trial",
            "ct lung nodules in",
            "x",
            "",
            "inherited complement deficiency in chronic inflammatory statesthe examples of",
            "thrombotic microangiopathy can liver kidney transplantation cure ahus",
        ],
        dtype=object,
    )
    sim = title_similarity(a, b)
    # a subtitle (or series prefix) in one source only: as close as a typo
    assert sim[0] == pytest.approx(SUBTITLE_SIM)
    assert sim[5] == pytest.approx(SUBTITLE_SIM)
    assert sim[1] == pytest.approx(1.0)
    assert sim[2] == sim[3] == 0.0
    # cut inside a word (glued subtitle, truncated field): weaker
    assert sim[4] == pytest.approx(TRUNCATED_SIM)
    assert TRUNCATED_SIM < SUBTITLE_SIM


def test_author_similarity_missing_is_nan() -> None:
    sim = author_similarity(
        np.array(["ma he li", ""], dtype=object),
        np.array(["ma he", "ma"], dtype=object),
        (np.array(["ma", ""], dtype=object), np.array(["ma", "ma"], dtype=object)),
    )
    assert sim[0] == pytest.approx(1.0)
    assert np.isnan(sim[1])


def test_score_pairs_weights_add_up_to_the_logit() -> None:
    keys = keys_of(
        [
            {
                "title": "Deep learning for CT",
                "authors": "Doe, J.",
                "year": 2020,
                "venue": "Radiology",
                "volume": "3",
                "pages": "10-20",
                "doi": "10.1000/a",
            },
            {
                "title": "Deep learning for CT.",
                "authors": "Doe J",
                "year": 2020,
                "venue": "Radiology",
                "volume": "3",
                "pages": "10-20",
                "doi": "10.1000/a",
            },
            {
                "title": "Deep learning for CT",
                "authors": "Roe, K.",
                "year": 2015,
                "venue": "Cell",
                "volume": "9",
                "pages": "500-510",
                "doi": "10.1000/b",
            },
        ]
    )
    sc = score_pairs(keys, np.array([0, 0]), np.array([1, 2]))
    total = sc[[f"w_{f}" for f in FIELDS]].sum(axis=1).to_numpy()
    from fmreview.dedupe.scoring import PRIOR

    assert np.allclose(sc["logit"].to_numpy(), PRIOR + total)
    assert sc.loc[0, "score"] > 0.99 > 0.01 > sc.loc[1, "score"]
    assert sc.loc[0, "ids"] == 1 and sc.loc[1, "ids"] == -1
    why = reason(sc.iloc[1].to_dict())
    assert why["fields"]["ids"]["weight"] < 0 and why["fields"]["year"]["value"] == -2


def test_prefilter_keeps_shared_ids_and_citations() -> None:
    keys = keys_of(
        [
            {"title": "alpha beta gamma", "doi": "10.1000/x"},
            {"title": "completely different words", "doi": "10.1000/x"},
            {"title": "zzz", "volume": "1", "pages": "5-9"},
            {"title": "yyy qqq", "volume": "1", "pages": "5-9"},
            {"title": "one thing"},
        ]
    )
    keep, ratio = prefilter(keys, np.array([0, 2, 0]), np.array([1, 3, 4]))
    assert keep.tolist() == [True, True, False]
    assert ratio.shape == (3,)


# ----------------------------------------------------------------------------- traps
def test_record_flags() -> None:
    keys = record_keys(
        [
            {"id": 1, "title": "Erratum: deep learning", "venue": "Radiology"},
            {"id": 2, "title": "Editorial", "venue": "Radiology"},
            {"id": 3, "title": "A model", "venue": "arXiv", "arxiv": "2301.00001"},
            {"id": 4, "title": "A model for CT", "venue": "Proceedings of MICCAI"},
            {"id": 5, "title": "A model for CT", "venue": "Radiology", "pages": "S12"},
            {"id": 6, "title": "Fundus models, part II", "venue": "Eye"},
        ]
    )
    flags = record_flags(keys)
    assert flags["notice"].tolist() == [True, False, False, False, False, False]
    assert flags["generic"].tolist()[1]
    assert flags["kind"].tolist()[2:5] == ["preprint", "conference", "journal"]
    assert flags["conf_abstract"].tolist()[4]
    assert "pii" in flags["numbers"].tolist()[5]


def test_pair_traps_codes() -> None:
    keys = record_keys(
        [
            {"id": "a", "title": "Standards of care", "year": 2010},
            {"id": "b", "title": "Standards of care", "year": 2014},
        ]
    )
    flags = record_flags(keys)
    codes = pair_traps(keys, flags, np.array([0]), np.array([1]), np.array([1.0]))
    assert TRAPS[codes[0]] == "series"
    assert (
        len(pair_traps(keys, flags, np.array([], dtype=int), np.array([], dtype=int), np.array([])))
        == 0
    )


# ----------------------------------------------------------------------------- union-find
def test_cluster_links_without_constraints_is_connected_components() -> None:
    labels, accepted = cluster_links(
        6, np.array([0, 1, 3]), np.array([1, 2, 4]), np.array([0.9, 0.95, 0.99])
    )
    assert labels.tolist() == [0, 0, 0, 3, 3, 5]
    assert accepted.all()


def test_union_find_constraints_follow_merges() -> None:
    uf = UnionFind(5, cannot=[(0, 4), (2, 2)])
    assert uf.union(0, 1) and uf.union(3, 4)
    assert not uf.allowed(1, 3)
    assert uf.union(1, 2)
    assert uf.join(2, 3) == uf.find(4)  # a forced join ignores constraints
    assert len({uf.find(k) for k in range(5)}) == 1


def test_sorted_keys_carry_flags_and_sort_by_id() -> None:
    keys = sorted_keys([{"id": "b", "title": "Editorial"}, {"id": "a", "title": "Erratum to x"}])
    assert keys["id"].tolist() == ["a", "b"]
    assert keys["flag_notice"].tolist() == [True, False]
    assert keys["flag_generic"].tolist() == [False, True]


@pytest.mark.parametrize(
    ("pa", "pb"),
    [
        ("2141-2147", "2142-2147"),
        ("S359", "623-629"),
        ("Suppl-29", "S417-S429"),
        ("100-110", "300-310"),
        ("e12724", "1-6"),
        ("221-8", "300-328"),
        ("01-Jun", "5-9"),
    ],
)
def test_score_pairs_page_codes_match_page_agreement(pa: str, pb: str) -> None:
    """Scoring compares page fields vectorised; the codes are those of page_agreement."""
    keys = keys_of(
        [{"title": "A study of pages", "pages": pa}, {"title": "A study of pages", "pages": pb}]
    )
    sc = score_pairs(keys, np.array([0]), np.array([1]))
    assert int(sc["page"].iloc[0]) == page_agreement(pa, pb)
