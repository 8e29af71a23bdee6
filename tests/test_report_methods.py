"""The methods paragraph: each stage that ran is described, the others say 'not performed'."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sklearn.metrics import cohen_kappa_score

from fmreview.report.methods import methods_sections, methods_text, reviewer_agreement
from fmreview.store import Store, schema
from tests.test_report_prisma import (
    AUTO_IN,
    FT_IN,
    TA_CONFLICT,
    TA_EX_REVIEW,
    TA_IN,
    W,
    _now,
    make_review,
    memory_store,
    review_a,
)


@pytest.fixture
def store() -> Iterator[Store]:
    """Human screening with two reviewers per work, whatever the flagship protocol says."""
    s = memory_store()
    yield s
    s.close()


def _section(store: Store, key: str, analysis: dict | None = None) -> str:
    return next(s.text for s in methods_sections(store, analysis=analysis) if s.key == key)


def test_empty_review_says_not_performed(store: Store) -> None:
    secs = {s.key: s for s in methods_sections(store)}
    assert "not performed" in secs["search"].text
    assert "not performed" in secs["dedupe"].text
    assert "Automated eligibility screening: not performed" in secs["screening"].text
    assert "human reviewers: not performed" in secs["screening"].text
    assert "Stopping rule: not performed" in secs["screening"].text
    assert "not performed" in secs["extraction"].text
    assert "not analysed yet" in secs["synthesis"].text
    assert "meta-analysis: not performed" in secs["synthesis"].text
    assert "fmreview" in secs["software"].text
    assert not secs["dedupe"].performed and not secs["extraction"].performed


def test_stages_that_ran_are_described(store: Store) -> None:
    make_review(store, review_a(), searches={"openalex": 1200, "arxiv": 300})
    with store.run("dedupe", {"settings": {"upper": 0.9, "lower": 0.75}}) as run:
        run.counts.update({"clusters": 14, "merged": 3})
    with store.run("eligibility", {"criteria": ["E-DATE"]}) as run:
        run.counts.update({"excluded": 2})
    with store.run("extract", {"methods": ["list", "rule"]}) as run:
        run.counts.update({"labels": 4, "macro_f1": 0.81})
    with store.run("screen", {}) as run:
        run.counts.update(
            {
                "stopping": {
                    "rule": "hypergeometric",
                    "recall": 0.97,
                    "recall_low": 0.91,
                    "stop": True,
                }
            }
        )
    secs = {s.key: s for s in methods_sections(store)}
    assert any("query for openalex" in d and "1200 hits" in d for d in secs["search"].details)
    assert "curated lists" in secs["search"].text
    assert "upper = 0.9" in secs["dedupe"].text and "merged 3" in secs["dedupe"].text
    assert "fuzzy title/author/year matching" in secs["dedupe"].text
    scr = secs["screening"].text
    assert "Eligibility rules" in scr and "E-DATE" in scr
    assert "3 reviewers" in scr and "1 resolution)" in scr and "Cohen's kappa" in scr
    assert "logistic" in scr  # ranking model from the decisions' model JSON
    assert "estimated recall of 97.0%" in scr and "91.0%" in scr
    ext = secs["extraction"].text
    assert "list, rule" in ext and "macro_f1 0.81" in ext
    assert "4 labels are current on 2 of 14 works (rule 4)" in ext


def test_analysis_methods_are_quoted(store: Store) -> None:
    analysis = {
        "meta": {"n_works": 12, "methods": ["Mann-Kendall test with Sen's slope."]},
        "tables": {},
    }
    secs = {s.key: s for s in methods_sections(store, analysis=analysis)}
    assert "12 included works" in secs["synthesis"].text
    assert "Mann-Kendall test with Sen's slope." in secs["synthesis"].details


def test_kappa_equals_sklearn(store: Store) -> None:
    works = [
        W("a", decisions=AUTO_IN + TA_IN),
        W("b", decisions=AUTO_IN + TA_EX_REVIEW),
        W("c", decisions=AUTO_IN + TA_CONFLICT),
        W("d", decisions=AUTO_IN + TA_IN),
        W(
            "e",
            decisions=AUTO_IN
            + [
                ("title_abstract", "alice", "exclude", "E-REVIEW"),
                ("title_abstract", "bob", "maybe", None),
            ],
        ),
        W(
            "f", decisions=AUTO_IN + [("title_abstract", "alice", "include", None)]
        ),  # only one reviewer
    ]
    make_review(store, works)
    (ag,) = reviewer_agreement(store)
    alice = ["include", "exclude", "include", "include", "exclude"]
    bob = ["include", "exclude", "exclude", "include", "include"]
    assert ag.n == 5
    assert ag.kappa == pytest.approx(cohen_kappa_score(alice, bob))
    assert ag.agreement == pytest.approx(3 / 5)


def test_kappa_latest_vote_counts_and_undefined(store: Store) -> None:
    ids = make_review(store, [W("a", decisions=AUTO_IN + TA_IN), W("b", decisions=AUTO_IN + TA_IN)])
    (ag,) = reviewer_agreement(store)
    assert ag.kappa is None and ag.agreement == 1.0
    with store.begin() as conn:  # alice changes her mind on b
        conn.execute(
            sa.insert(schema.decisions).values(
                work_id=ids[1],
                stage="title_abstract",
                reviewer="alice",
                label="exclude",
                criterion="E-REVIEW",
                created_at=_now(),
            )
        )
    (ag,) = reviewer_agreement(store)
    assert ag.agreement == 0.5
    assert "kappa" in methods_text(store)


def test_full_text_agreement_separate(store: Store) -> None:
    make_review(store, [W("a", decisions=AUTO_IN + TA_IN + FT_IN)])
    stages = {a.stage for a in reviewer_agreement(store)}
    assert stages == {"title_abstract", "full_text"}


def test_rules_mode_is_stated() -> None:
    from fmreview.protocol.model import ScreeningSettings

    base = Store.memory()
    store = Store(
        base.engine,
        protocol=base.protocol.model_copy(update={"screening": ScreeningSettings(mode="rules")}),
    )
    assert "screening.mode: rules" in _section(store, "screening")
