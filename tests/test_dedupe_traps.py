"""Contradicting evidence, generic titles and the trap suite: no false merges.

The trap suite (``tests/data/dedupe_traps``) holds real records from the shared labelled
sets (and a few derived from them) that look alike but are different works; Hypothesis
builds more such pairs from random records.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fmreview.dedupe import dedupe_store, pending_pairs
from fmreview.dedupe.engine import Deduplicator
from fmreview.dedupe.keys import name_words, record_keys, translated_title
from fmreview.dedupe.scoring import SUBTITLE_SIM
from fmreview.dedupe.traps import (
    doi_versions,
    generic_titles,
    hard_evidence,
    is_preprint_doi,
)
from fmreview.record import Author, Record
from fmreview.store import Store, add_records

TRAPS_DIR = Path(__file__).parent / "data" / "dedupe_traps"


def together(model: Deduplicator, a: Any, b: Any) -> bool:
    return model.clusters_[a] == model.clusters_[b]


# ----------------------------------------------------------------------------- trap suite
def load_traps() -> tuple[pd.DataFrame, pd.DataFrame]:
    records = pd.read_csv(TRAPS_DIR / "records.csv", dtype=str, keep_default_na=False)
    pairs = pd.read_csv(TRAPS_DIR / "pairs.csv", dtype=str)
    return records, pairs


@pytest.mark.parametrize(
    "params",
    [{}, {"link_versions": False, "merge_conference_abstracts": True}],
    ids=["product", "benchmark"],
)
def test_trap_suite_has_no_false_merge(params: dict[str, Any]) -> None:
    records, pairs = load_traps()
    model = Deduplicator(**params).fit(records)
    wrong = [
        (p.record_a, p.record_b, p.trap)
        for p in pairs.itertuples()
        if together(model, p.record_a, p.record_b) != (p.trap == "duplicate")
    ]
    assert wrong == []
    # the suite covers every kind it claims, and real duplicates still merge
    assert set(pairs["trap"]) >= {
        "part",
        "same_issue",
        "page_collision",
        "erratum",
        "serial_title",
        "comment_reply",
        "title_conflict",
        "duplicate",
    }


def test_trap_suite_gold_matches_its_pairs() -> None:
    records, pairs = load_traps()
    gold = pd.read_csv(TRAPS_DIR / "gold.csv", dtype=str)
    assert gold["record_id"].tolist() == records["record_id"].tolist()
    group = dict(zip(gold["record_id"], gold["group_id"], strict=True))
    for p in pairs.itertuples():
        assert (group[p.record_a] == group[p.record_b]) == (p.trap == "duplicate")


# ----------------------------------------------------------------------------- editorials
EDITOR = {
    "authors": "Zimmerhackl, L. B.",
    "year": 2010,
    "venue": "Pediatric Transplantation",
    "volume": "14",
}


def test_two_editorials_by_one_editor_in_one_journal_year_stay_two_works() -> None:
    model = Deduplicator().fit(
        [
            {"id": "a", "title": "Editorial", **EDITOR, "issue": "2", "pages": "154-155"},
            {"id": "b", "title": "Editorial", **EDITOR, "issue": "5", "pages": "431-432"},
            {"id": "c", "title": "Editorial", **EDITOR},
        ]
    )
    assert len(set(model.clusters_.values())) == 3
    # the pair with no pages to compare is not merged and goes to a person
    queued = {frozenset((r["a"], r["b"])) for r in model.uncertain_.to_dict("records")}
    assert frozenset(("a", "b")) not in queued  # different pages: two works, no question
    assert queued <= {frozenset(("a", "c")), frozenset(("b", "c"))}
    for row in model.uncertain_.to_dict("records"):
        assert row["reason"]["trap"] == "generic_title"


def test_editorial_copies_with_the_same_page_and_issue_merge() -> None:
    model = Deduplicator().fit(
        [
            {"id": "a", "title": "Editorial", **EDITOR, "issue": "2", "pages": "154-155"},
            {"id": "b", "title": "Editorial.", **EDITOR, "issue": "2", "pages": "154-5"},
        ]
    )
    assert together(model, "a", "b")
    (link,) = model.links_.to_dict("records")
    assert "generic_title" in link["reason"]["evidence"]


def test_editors_comments_on_page_iii_of_two_issues_stay_apart() -> None:
    base = {"title": "Editor's Comments", **EDITOR, "pages": "iii-v"}
    model = Deduplicator().fit(
        [{"id": "a", **base, "issue": "1"}, {"id": "b", **base, "issue": "2"}]
    )
    assert not together(model, "a", "b")


def test_human_same_decision_overrides_a_trap() -> None:
    recs = [
        {"id": "a", "title": "Editorial", **EDITOR, "pages": "154-155"},
        {"id": "b", "title": "Editorial", **EDITOR},
    ]
    assert not together(Deduplicator().fit(recs), "a", "b")
    assert together(Deduplicator().fit(recs, same=[("a", "b")]), "a", "b")


# ----------------------------------------------------------------------------- contradictions
PAPER = {
    "title": "Segment anything in medical images",
    "authors": "Ma, Jun and He, Yuting and Wang, Bo",
    "year": 2024,
    "venue": "Nature Communications",
    "volume": "15",
    "pages": "654-660",
}


def test_different_non_version_dois_are_two_works() -> None:
    model = Deduplicator().fit(
        [
            {"id": "a", **PAPER, "doi": "10.1038/s41467-024-44824-z"},
            {"id": "b", **PAPER, "doi": "10.1038/s41467-024-99999-x"},
        ]
    )
    assert not together(model, "a", "b")
    assert model.traps_["doi_conflict"] == 1
    assert len(model.uncertain_) == 0  # a contradiction decides; nobody is asked


def test_percent_encoded_doi_is_the_same_doi() -> None:
    keys = record_keys(
        [
            {"id": 1, "doi": "10.1016/s0025-7753%2817%2930624-3"},
            {"id": 2, "doi": "https://doi.org/10.1016/S0025-7753(17)30624-3"},
        ]
    )
    assert keys["doi"].iloc[0] == keys["doi"].iloc[1] == "10.1016/s0025-7753(17)30624-3"


def test_preprint_doi_and_journal_doi_are_versions() -> None:
    assert is_preprint_doi("10.48550/arxiv.2304.12306")
    assert is_preprint_doi("10.1101/2023.01.01.522")
    assert doi_versions("10.2139/ssrn.123456", "10.1287/isre.2020.1")
    assert doi_versions("10.1002/14651858.cd006828.pub2", "10.1002/14651858.cd006828.pub3")
    assert doi_versions("10.1371/journal.pone.0033693", "10.1371/journal.pone.0033693.t001")
    assert not doi_versions("10.1016/j.appet.2012.05.003", "10.1016/j.regpep.2012.05.039")
    model = Deduplicator().fit(
        [
            {"id": "pub", **PAPER, "doi": "10.1038/s41467-024-44824-z"},
            {
                "id": "pre",
                "title": PAPER["title"],
                "authors": PAPER["authors"],
                "year": 2023,
                "venue": "arXiv",
                "doi": "10.48550/arXiv.2304.12306",
            },
        ]
    )
    assert together(model, "pub", "pre")
    assert model.links_.iloc[0]["link"] == "version-of"


def test_different_page_ranges_in_one_venue_and_year_are_two_works() -> None:
    model = Deduplicator().fit([{"id": "a", **PAPER}, {"id": "b", **PAPER, "pages": "1200-1210"}])
    assert not together(model, "a", "b")
    assert model.traps_["page_conflict"] == 1


def test_another_volume_in_another_year_or_venue_is_another_publication() -> None:
    other_year = {**PAPER, "year": 2023, "volume": "14", "pages": ""}
    other_venue = {**PAPER, "venue": "Radiology", "volume": "310", "pages": ""}
    model = Deduplicator().fit(
        [{"id": "a", **PAPER}, {"id": "b", **other_year}, {"id": "c", **other_venue}]
    )
    assert len(set(model.clusters_.values())) == 3
    assert model.traps_["issue_conflict"] == 3  # a-b, a-c and b-c


def test_page_export_errors_are_not_a_contradiction() -> None:
    model = Deduplicator().fit([{"id": "a", **PAPER}, {"id": "b", **PAPER, "pages": "654-61"}])
    assert together(model, "a", "b")


def test_other_title_with_every_other_field_equal_is_not_merged() -> None:
    other = {**PAPER, "title": "Foundation models for chest radiograph report generation"}
    model = Deduplicator().fit([{"id": "a", **PAPER}, {"id": "b", **other}])
    assert not together(model, "a", "b")
    (row,) = model.uncertain_.to_dict("records")  # same citation: a person decides
    assert row["reason"]["trap"] == "title_conflict"
    assert "differ" in row["reason"]["evidence"]["title"]


def test_translated_title_with_the_same_citation_merges() -> None:
    assert translated_title("[Neoadjuvant chemotherapy in stage IIIA (the Essen concept)]")
    assert not translated_title("Incretins and the heart [French]")
    model = Deduplicator().fit(
        [
            {
                "id": "en",
                "title": "[Antibiotic prophylaxis in pulmonary surgery: amoxicillin or "
                "cefamandole]",
                "authors": "Train, M. and Soulard, D. and Bouyer, L.",
                "year": 1994,
                "venue": "Ann Fr Anesth Reanim",
                "volume": "13",
                "pages": "280-284",
            },
            {
                "id": "fr",
                "title": "Antibioprophylaxie en chirurgie pulmonaire: etude en double aveugle",
                "authors": "Train, M. and Soulard, D. and Bouyer, L.",
                "year": 1994,
                "venue": "Annales Francaises d Anesthesie et de Reanimation",
                "volume": "13",
                "pages": "280-284",
            },
        ]
    )
    assert together(model, "en", "fr")


def test_merge_explanation_names_the_evidence_weighed() -> None:
    model = Deduplicator().fit(
        [
            {"id": "a", **PAPER, "doi": "10.1038/s41467-024-44824-z"},
            {"id": "b", **PAPER, "title": PAPER["title"].upper() + "."},
        ]
    )
    (link,) = model.links_.to_dict("records")
    ev = link["reason"]["evidence"]
    assert ev["identifiers"] == "not both present"
    assert ev["pages"] == "same first page"
    assert ev["title"].startswith("similarity 1.000 (within a typo)")


# ----------------------------------------------------------------------------- false negatives
def test_swapped_author_names_still_match() -> None:
    assert name_words("Carignani, Andrea and Ko, J.") == "andrea carignani ko"
    base = {
        "title": "Digital platforms and the governance of value co-creation",
        "year": 2019,
        "venue": "Americas Conference on Information Systems",
    }
    model = Deduplicator().fit(
        [
            {"id": "a", **base, "authors": "Carignani, Andrea and Gemino, Andrew"},
            {"id": "b", **base, "authors": "Andrea, C. and Andrew, G."},
        ]
    )
    assert together(model, "a", "b")


def test_subtitle_in_one_source_only_still_matches() -> None:
    base = {
        "authors": "Oulasvirta, Antti and Rattenbury, Tye and Ma, Lingyi and Raita, Eeva",
        "year": 2012,
        "venue": "Personal and Ubiquitous Computing",
        "volume": "16",
        "pages": "105-114",
    }
    model = Deduplicator().fit(
        [
            {"id": "a", **base, "title": "Habits make smartphone use more pervasive"},
            {
                "id": "b",
                **base,
                "title": "Habits make smartphone use more pervasive: a field study",
            },
        ]
    )
    assert together(model, "a", "b")
    (link,) = model.links_.to_dict("records")
    assert link["reason"]["fields"]["title"]["value"] == pytest.approx(SUBTITLE_SIM)


def test_two_page_citation_carries_a_subtitle_and_swapped_names() -> None:
    """The same two-page range, volume, issue and year (and a subtitle in one source,
    the author's names parsed two ways) is one item."""
    base = {"year": 2009, "venue": "Nature Reviews Nephrology", "volume": "5", "issue": "10"}
    model = Deduplicator().fit(
        [
            {
                "id": "a",
                **base,
                "title": "Can liver-kidney transplantation cure aHUS?",
                "authors": "Il Cheong, H.",
                "pages": "556-557",
            },
            {
                "id": "b",
                **base,
                "title": "Thrombotic microangiopathy: can liver-kidney transplantation cure aHUS?",
                "authors": "Cheong, H. I.",
                "pages": "556-557",
            },
        ]
    )
    assert together(model, "a", "b")
    (link,) = model.links_.to_dict("records")
    assert link["reason"]["fields"]["citation"]["weight"] > 0


def test_generic_title_same_issue_one_year_apart_merges() -> None:
    """One issue of one volume appears in one year: a year one off (online first) with
    the same volume, issue and first page is hard evidence even for a generic title; the
    same fields in different issues are two works."""
    base = {
        "title": "Haemolytic uraemic syndrome",
        "authors": "Kavanagh, D. and Goodship, T.",
        "venue": "Nephron",
        "volume": "118",
        "pages": "37-42",
    }
    keys = record_keys(
        [
            {"id": "a", **base, "year": 2011, "issue": "1"},
            {"id": "b", **base, "year": 2010, "issue": "1"},
            {"id": "c", **base, "year": 2010, "issue": "2"},
            {"id": "d", **base, "year": 2008, "issue": "1"},
        ]
    )
    i, j = np.array([0, 0, 0]), np.array([1, 2, 3])
    assert hard_evidence(keys, i, j).tolist() == [True, False, False]


def test_generic_titles_are_learned_from_the_corpus() -> None:
    keys = record_keys(
        [
            {"id": 1, "title": "Issues and opinions", "year": 2010, "authors": "Smith, A."},
            {"id": 2, "title": "Issues and opinions", "year": 2014, "authors": "Jones, B."},
            {"id": 3, "title": "Research commentary on platforms", "authors": "Lee, C."},
            {"id": 4, "title": "Research commentary on platforms", "authors": "Park, D."},
            {"id": 5, "title": "Editor's comments"},
            {"id": 6, "title": "Remarks from the editor"},
            {"id": 7, "title": "Introduction to the special issue on digital platforms"},
            {"id": 8, "title": "Deep learning for retinal image segmentation"},
            {"id": 9, "title": "Deep learning for retinal image segmentation"},
        ]
    )
    assert generic_titles(keys).tolist() == [True] * 7 + [False, False]


# ----------------------------------------------------------------------------- Hypothesis
WORDS = st.text(alphabet=string.ascii_lowercase[:13], min_size=4, max_size=10)
#: Words of another alphabet: a title made of them shares no word and few letters.
OTHER_WORDS = st.text(alphabet=string.ascii_lowercase[13:], min_size=4, max_size=10)
SERIAL = ["Editorial", "Editor's comments", "Preface", "In this issue", "Erratum", "Reply"]


@st.composite
def paper(draw: st.DrawFn) -> dict[str, Any]:
    words = draw(st.lists(WORDS, min_size=6, max_size=12, unique=True))
    start = draw(st.integers(1, 2000))
    return {
        "title": " ".join(words).capitalize(),
        "authors": " and ".join(
            f"{w.capitalize()}, {w[0].upper()}."
            for w in draw(st.lists(WORDS, min_size=1, max_size=4))
        ),
        "year": draw(st.integers(1980, 2025)),
        "venue": "Journal of " + draw(WORDS).capitalize(),
        "volume": str(draw(st.integers(1, 300))),
        "issue": str(draw(st.integers(1, 12))),
        "pages": f"{start}-{start + draw(st.integers(2, 20))}",
    }


def _far_pages(pages: str, shift: int) -> str:
    first, last = (int(x) for x in pages.split("-"))
    return f"{first + shift}-{last + shift}"


@st.composite
def hard_negative(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A record and a different work that agrees with it on almost everything."""
    a = draw(paper())
    kind = draw(st.sampled_from(["serial", "doi", "pages", "title", "part", "notice"]))
    b = dict(a)
    if kind == "serial":
        a["title"] = b["title"] = draw(st.sampled_from(SERIAL))
        if draw(st.booleans()):
            b["pages"] = _far_pages(a["pages"], draw(st.integers(30, 500)))
            b["issue"] = str(int(a["issue"]) % 12 + 1)
        else:
            del b["pages"], b["issue"]
    elif kind == "doi":
        a["doi"] = f"10.1000/j.x.{draw(st.integers(1000, 4999))}"
        b["doi"] = f"10.1000/j.x.{draw(st.integers(5000, 9999))}"
    elif kind == "pages":
        b["pages"] = _far_pages(a["pages"], draw(st.integers(30, 500)))
    elif kind == "title":
        b["title"] = " ".join(draw(st.lists(OTHER_WORDS, min_size=6, max_size=12, unique=True)))
    elif kind == "part":
        a["title"] += ": part I"
        b["title"] += ": part II"
        b["pages"] = _far_pages(a["pages"], 40)
    else:
        b["title"] = "Erratum: " + a["title"]
        b["pages"] = str(int(a["pages"].split("-")[0]) + 300)
    return a, b, kind


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hard_negative(), st.booleans())
def test_generated_hard_negatives_never_merge(
    pair: tuple[dict[str, Any], dict[str, Any], str], swap: bool
) -> None:
    a, b, _kind = pair
    records = [{"id": "a", **a}, {"id": "b", **b}]
    if swap:
        records.reverse()
    model = Deduplicator().fit(records)
    assert not together(model, "a", "b")


@settings(max_examples=30, deadline=None)
@given(paper())
def test_generated_true_copies_still_merge(a: dict[str, Any]) -> None:
    b = {**a, "title": a["title"].upper() + ".", "pages": a["pages"].split("-")[0]}
    model = Deduplicator().fit([{"id": "a", **a}, {"id": "b", **b}])
    assert together(model, "a", "b")


# ----------------------------------------------------------------------------- a review
def test_a_review_keeps_two_editorials_by_one_editor_as_two_works(store: Store) -> None:
    editor = {
        "authors": [Author("Zimmerhackl", "L. B.")],
        "year": 2010,
        "venue": "Pediatric Transplantation",
        "volume": "14",
    }
    with store.run("import", {}) as run:
        ids = add_records(
            store,
            [
                Record(title="Editorial", **editor, issue="2", pages="154-155"),
                Record(title="Editorial", **editor, issue="5", pages="431-432"),
                Record(title="Editorial", **editor),
            ],
            source="test",
            source_kind="file",
            run_id=run.id,
            keep_ids=True,
        ).record_ids
    with store.run("dedupe", {}) as run:
        counts = dedupe_store(store, run_id=run.id)
    assert counts["works_created"] == 3 and counts["duplicate_links"] == 0
    # the editorial without pages is a question for a person, not a merge
    pending = pending_pairs(store)
    assert counts["uncertain_pairs"] == len(pending) >= 1
    assert all(p["reason"]["trap"] == "generic_title" for p in pending)
    assert all(ids[2] in (p["a"]["id"], p["b"]["id"]) for p in pending)
