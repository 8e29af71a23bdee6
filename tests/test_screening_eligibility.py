"""Eligibility rules from the protocol: matching and automation decisions in the store."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from fmreview.protocol.model import Criterion, Rule
from fmreview.record import Record
from fmreview.screening.eligibility import (
    AUTOMATION_STAGE,
    RULES_REVIEWER,
    apply_rules,
    automation_criteria,
    first_exclusion,
    rule_matches,
)
from fmreview.store import add_records, schema
from fmreview.store.works import works_from_records


def R(**kw):
    return Rule.model_validate(kw)


WORK = {
    "title": "A Survey of Segment Anything in Radiology",
    "abstract": "We review SAM for CT and MRI.",
    "keywords": ["foundation model", "segmentation"],
    "year": 2016,
    "language": "de",
    "type": "article",
    "venue": "",
}


def test_field_in_and_not_in() -> None:
    assert rule_matches(
        R(field="type", **{"in": ["editorial", "Article"]}), WORK
    )  # case-insensitive
    assert not rule_matches(R(field="type", **{"in": ["editorial"]}), WORK)
    assert rule_matches(R(field="language", not_in=["", "en", "english"]), WORK)
    assert not rule_matches(R(field="language", not_in=["", "en"]), {**WORK, "language": ""})
    # a list field matches when any element is in the list
    assert rule_matches(R(field="keywords", **{"in": ["segmentation"]}), WORK)


def test_min_max_range_and_missing_values() -> None:
    before_2018 = R(field="year", max=2017)
    assert rule_matches(before_2018, WORK)
    assert not rule_matches(before_2018, {**WORK, "year": 2018})
    assert not rule_matches(before_2018, {**WORK, "year": None})  # missing never matches a range
    assert rule_matches(R(field="year", min=2010, max=2016), WORK)
    assert not rule_matches(R(field="year", min=2017), WORK)


def test_any_all_none_patterns() -> None:
    assert rule_matches(R(any=[r"\bsurvey\b", r"\bmeta-analysis\b"]), WORK)
    assert not rule_matches(R(any=[r"\bprotein\b"]), WORK)
    assert rule_matches(R(all=[r"\bCT\b", r"\bMRI\b"]), WORK)
    assert not rule_matches(R(all=[r"\bCT\b", r"\bPET\b"]), WORK)
    assert rule_matches(R(none=[r"\bprotein\b"]), WORK)
    # any + none together: both must hold
    assert not rule_matches(R(any=[r"survey"], none=[r"radiology"]), WORK)
    assert rule_matches(R(any=[r"survey"], none=[r"protein"]), WORK)
    # fields restrict where patterns are searched; keywords are searched too
    assert not rule_matches(R(any=[r"\bCT\b"], fields=["title"]), WORK)
    assert rule_matches(R(any=[r"foundation model"], fields=["keywords"]), WORK)


def test_missing_rule() -> None:
    assert rule_matches(R(field="venue", missing=True), WORK)
    assert not rule_matches(R(field="title", missing=True), WORK)
    assert rule_matches(R(field="title", missing=False), WORK)
    assert rule_matches(R(field="abstract", missing=True), {**WORK, "abstract": "  "})


def test_first_exclusion_ignores_include_criteria() -> None:
    crit = [
        Criterion(id="I-X", description="inc", action="include", rule=R(any=["survey"])),
        Criterion(id="E-Y", description="exc", rule=R(field="year", max=2017)),
    ]
    c = first_exclusion(WORK, crit)
    assert c is not None and c.id == "E-Y"
    assert first_exclusion({**WORK, "year": 2020}, crit) is None


def _add(store, records):
    with store.run("import", {}) as run:
        add_records(store, records, source="test.ris", source_kind="file", run_id=run.id)
        works_from_records(store, run.id)


def test_apply_rules_records_automation_exclusions(store) -> None:
    crit = {c.id for c in automation_criteria(store.protocol.eligibility)}
    assert {"E-DATE", "E-LANGUAGE", "E-TYPE"} <= crit
    _add(
        store,
        [
            Record(title="Old paper on CNNs", abstract="x", year=2012, language="en"),
            Record(title="Ein Grundmodell", abstract="y", year=2023, language="de"),
            Record(title="An editorial on SAM", abstract="z", year=2023, type="editorial"),
            Record(
                title="MedSAM: segment anything in medical images",
                abstract="w",
                year=2024,
                language="en",
            ),
            Record(title="No year at all", abstract="v"),
        ],
    )
    counts = apply_rules(store)
    assert counts.checked == 5
    assert counts.excluded == 3
    assert counts.by_criterion["E-DATE"] == 1
    assert counts.by_criterion["E-LANGUAGE"] == 1
    assert counts.by_criterion["E-TYPE"] == 1
    d = schema.decisions
    with store.connect() as conn:
        rows = conn.execute(sa.select(d).order_by(d.c.id)).all()
        titles = dict(conn.execute(sa.select(schema.works.c.id, schema.works.c.title)).all())
    assert {(r.stage, r.reviewer, r.label) for r in rows} == {
        (AUTOMATION_STAGE, RULES_REVIEWER, "exclude")
    }
    by_title = {titles[r.work_id]: r.criterion for r in rows}
    assert by_title == {
        "Old paper on CNNs": "E-DATE",
        "Ein Grundmodell": "E-LANGUAGE",
        "An editorial on SAM": "E-TYPE",
    }
    assert all(r.model and "rule" in r.model and r.run_id for r in rows)
    # idempotent: running again adds nothing
    again = apply_rules(store)
    assert again.excluded == 0 and again.already == 3
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(d)).scalar() == 3


def test_apply_rules_title_abstract_stage_on_request(store) -> None:
    _add(store, [Record(title="A survey of foundation models", abstract="we review", year=2024)])
    assert apply_rules(store).excluded == 0
    counts = apply_rules(store, stages=("automation", "title_abstract"))
    assert counts.by_criterion["E-REVIEW"] == 1


def test_apply_rules_without_criteria_does_nothing(minimal_store) -> None:
    _add(minimal_store, [Record(title="t", abstract="a", year=1990)])
    assert apply_rules(minimal_store).excluded == 0


def test_invalid_rule_is_refused_by_the_protocol_model() -> None:
    with pytest.raises(ValueError):
        Rule.model_validate({"field": "year"})


# ---------------------------------------------------------------- include criteria, FM era
def _flagship_criteria():  # type: ignore[no-untyped-def]
    from fmreview.protocol import flagship_path, load_protocol

    p = load_protocol(flagship_path())
    return automation_criteria(p.eligibility, ("automation", "title_abstract", "full_text"))


LONG = " We describe the setting in detail." * 8


def test_include_criteria_need_an_abstract_to_judge() -> None:
    from fmreview.screening.eligibility import assess, include_failure

    crit = _flagship_criteria()
    title_only = {"title": "An attention network for polyp images", "year": 2023}
    assert assess(title_only, crit) is None  # a title alone is not evidence of absence
    with_abstract = {
        **title_only,
        "abstract": "We train an attention network on colonoscopy polyp images." + LONG,
    }
    c = include_failure(with_abstract, crit)
    assert c is not None and c.id == "I-FM"
    fm = {**with_abstract, "abstract": "We fine-tune a foundation model (SAM)." + LONG}
    assert assess(fm, crit) is None


def test_pre_foundation_model_era_and_untitled_works() -> None:
    from fmreview.screening.eligibility import assess

    crit = _flagship_criteria()
    agent = {"title": "Hybrid Retrieval-Generation Reinforced Agent for Report Generation"}
    assert assess({**agent, "year": 2018}, crit).id == "E-PRE-FM-ERA"  # type: ignore[union-attr]
    assert assess({**agent, "year": 2022}, crit) is None
    assert assess({**agent, "year": None}, crit) is None  # an unknown year is not evidence
    transfer = {"title": "Med3d: Transfer learning for 3d medical image analysis", "year": 2019}
    assert assess(transfer, crit) is None
    assert assess({"title": "", "year": 2023}, crit).id == "E-UNTITLED"  # type: ignore[union-attr]


def test_snapshot_year_from_the_lists_and_arxiv() -> None:
    from fmreview.snapshot import snapshot_year

    emnlp = {"year": "2018", "years_seen": "2018 | 2021", "year_from_arxiv_id": "2021"}
    assert snapshot_year(emnlp) == 2021
    assert snapshot_year({"year": "2023", "years_seen": "2023 | 2022"}) == 2022
    assert (
        snapshot_year({"year": "2023", "years_seen": "2023", "year_from_arxiv_id": "2019"}) == 2023
    )
    assert snapshot_year({"year": "", "years_seen": ""}) is None
