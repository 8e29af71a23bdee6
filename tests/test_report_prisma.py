"""PRISMA 2020 counts from the store: invariants and hand-computed values on synthetic reviews.

The helpers here (``Spec``, ``make_review``) are reused by the other report tests.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from fmreview.record import Author, Record
from fmreview.report.prisma import PrismaCounts, prisma_counts, record_version
from fmreview.report.prisma_diagram import build_layout, layout_svg, write_diagram
from fmreview.store import Store, add_records, schema


@dataclass
class W:
    """One synthetic work: its records (source, kind, link) and its decisions."""

    title: str
    sources: list[tuple[str, str]] = field(default_factory=lambda: [("openalex", "database")])
    links: list[str] = field(
        default_factory=list
    )  # link of each extra record: duplicate|version-of
    decisions: list[tuple[str, str, str, str | None]] = field(
        default_factory=list
    )  # stage, reviewer, label, crit
    year: int = 2023
    labels: dict[str, list[str]] = field(default_factory=dict)
    url: str = ""
    doi: str | None = None
    abstract: str = ""


def _now() -> Any:
    import datetime as dt

    return dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def make_review(
    store: Store, works: list[W], *, searches: dict[str, int] | None = None
) -> dict[int, int]:
    """Build a review in ``store``: records, works (extra records join the first as members),
    decisions and labels. Returns {index in ``works``: work id}."""
    with store.run("import", {}) as run:
        run_id = run.id
    search_ids: dict[str, int] = {}
    with store.begin() as conn:
        for src, hits in (searches or {}).items():
            search_ids[src] = conn.execute(
                sa.insert(schema.searches).values(
                    run_id=run_id,
                    source=src,
                    query={"q": f"query for {src}"},
                    started_at=_now(),
                    finished_at=_now(),
                    total_hits=hits,
                    fetched=hits,
                    status="done",
                    since="2018-01-01",
                )
            ).inserted_primary_key[0]
    first_ids: list[list[int]] = []
    for i, w in enumerate(works):
        ids = []
        for j, (src, kind) in enumerate(w.sources):
            rec = Record(
                title=w.title if j == 0 else f"{w.title} ",
                year=w.year,
                url=w.url,
                doi=w.doi,
                abstract=w.abstract,
                authors=[Author("Doe", "J")],
                position=i * 10 + j,
            )
            c = add_records(
                store,
                [rec],
                source=src,
                source_kind=kind,
                run_id=run_id,
                keep_ids=True,
                search_id=search_ids.get(src),
            )
            ids.extend(c.record_ids)
        first_ids.append(ids)
    # one work per first record; members join it
    wr = schema.work_records
    member_ids = {rid: (i, k) for i, ids in enumerate(first_ids) for k, rid in enumerate(ids[1:])}
    with store.begin() as conn:
        # make works only for the first record of each synthetic work
        for i, ids in enumerate(first_ids):
            m = dict(
                conn.execute(sa.select(schema.records).where(schema.records.c.id == ids[0]))
                .one()
                ._mapping
            )
            from fmreview.store.works import work_values_from_record

            wid = conn.execute(
                sa.insert(schema.works).values(
                    canonical_record_id=ids[0], created_run_id=run_id, **work_values_from_record(m)
                )
            ).inserted_primary_key[0]
            conn.execute(
                sa.insert(wr).values(
                    record_id=ids[0], work_id=wid, link="canonical", reason={}, run_id=run_id
                )
            )
            for rid in ids[1:]:
                _, k = member_ids[rid]
                link = works[i].links[k] if k < len(works[i].links) else "duplicate"
                conn.execute(
                    sa.insert(wr).values(
                        record_id=rid, work_id=wid, link=link, reason={}, run_id=run_id
                    )
                )
    wid_of: dict[int, int] = {}
    with store.connect() as conn:
        for i, ids in enumerate(first_ids):
            wid_of[i] = conn.execute(
                sa.select(wr.c.work_id).where(wr.c.record_id == ids[0])
            ).scalar_one()
    with store.begin() as conn:
        for i, w in enumerate(works):
            for stage, reviewer, label, crit in w.decisions:
                note = ""
                if stage.startswith("resolution:"):
                    stage, note = "resolution", stage.split(":", 1)[1]
                conn.execute(
                    sa.insert(schema.decisions).values(
                        work_id=wid_of[i],
                        stage=stage,
                        reviewer=reviewer,
                        label=label,
                        criterion=crit,
                        note=note,
                        created_at=_now(),
                        run_id=run_id,
                        model={"name": "logistic", "rank": 1}
                        if stage == "title_abstract"
                        else None,
                    )
                )
            for axis, values in w.labels.items():
                for v in values:
                    conn.execute(
                        sa.insert(schema.labels).values(
                            work_id=wid_of[i],
                            axis=axis,
                            value=v,
                            method="rule",
                            confidence=0.9,
                            evidence=[],
                            status="auto",
                            run_id=run_id,
                            created_at=_now(),
                        )
                    )
    return wid_of


def memory_store(mode: str = "human", reviewers: int = 2) -> Store:
    """An in-memory store with the flagship protocol, its screening mode pinned for the test."""
    from fmreview.store.store import _flagship

    proto = _flagship()
    screening = proto.screening.model_copy(update={"mode": mode, "reviewers_per_record": reviewers})
    return Store.memory(proto.model_copy(update={"screening": screening}))


@pytest.fixture
def store() -> Iterator[Store]:
    """Overrides conftest's: human screening, two reviewers per work (what these counts assume)."""
    s = memory_store()
    yield s
    s.close()


AUTO_EX = [("automation", "rules", "exclude", "E-DATE")]
AUTO_IN = [("automation", "rules", "include", None)]
TA_IN = [("title_abstract", "alice", "include", None), ("title_abstract", "bob", "include", None)]
TA_EX_REVIEW = [
    ("title_abstract", "alice", "exclude", "E-REVIEW"),
    ("title_abstract", "bob", "exclude", "E-REVIEW"),
]
TA_CONFLICT = [
    ("title_abstract", "alice", "include", None),
    ("title_abstract", "bob", "exclude", "E-REVIEW"),
]
FT_IN = [("full_text", "alice", "include", None), ("full_text", "bob", "include", None)]
FT_EX = [("full_text", "alice", "exclude", "E-PRE-FM"), ("full_text", "bob", "exclude", "E-PRE-FM")]
FT_NR = [
    ("full_text", "alice", "exclude", "not_retrieved"),
    ("full_text", "bob", "exclude", "not_retrieved"),
]


def review_a() -> list[W]:
    """Two databases and curated lists, duplicates and a preprint/published pair."""
    return [
        W("Old CNN 2015", year=2015, decisions=AUTO_EX),
        W(
            "Old CNN 2016",
            year=2016,
            sources=[("pubmed", "database"), ("openalex", "database")],
            decisions=AUTO_EX,
        ),
        W("A survey of foundation models", decisions=AUTO_IN + TA_EX_REVIEW),
        W("Another review", sources=[("arxiv", "database")], decisions=AUTO_IN + TA_EX_REVIEW),
        W("Conflict paper", decisions=AUTO_IN + TA_CONFLICT),
        W("Waiting paper", decisions=AUTO_IN),
        W("Half screened", decisions=AUTO_IN + TA_IN[:1]),
        W("Not retrieved paper", decisions=AUTO_IN + TA_IN + FT_NR),
        W("LSTM model", decisions=AUTO_IN + TA_IN + FT_EX),
        W("Awaiting full text", decisions=AUTO_IN + TA_IN),
        W(
            "SAM for CT",
            sources=[("openalex", "database"), ("arxiv", "database"), ("curated lists", "other")],
            links=["version-of", "duplicate"],
            decisions=AUTO_IN + TA_IN + FT_IN,
            labels={"fm_type": ["vision_only"], "modality": ["CT"]},
        ),
        W(
            "CLIP for X-ray",
            sources=[("curated lists", "other")],
            decisions=AUTO_IN + TA_IN + FT_IN,
            labels={"fm_type": ["vision_language"], "modality": ["X-ray"]},
        ),
        W(
            "Resolved paper",
            decisions=AUTO_IN
            + TA_CONFLICT
            + [("resolution:title_abstract", "carol", "include", None)]
            + FT_IN,
        ),
        W(
            "Full-text conflict",
            decisions=AUTO_IN
            + TA_IN
            + [
                ("full_text", "alice", "include", None),
                ("full_text", "bob", "exclude", "E-PRE-FM"),
            ],
        ),
    ]


def test_review_a_hand_counts(store: Store) -> None:
    make_review(store, review_a(), searches={"openalex": 1200, "arxiv": 300})
    c = prisma_counts(store)
    assert c.databases == {"arxiv": 2, "openalex": 12, "pubmed": 1}
    assert c.other_methods == {"curated lists": 2}
    assert c.database_hits == {"openalex": 1200, "arxiv": 300}
    assert c.records_identified == 17
    assert c.works == 14
    # "Old CNN 2016" twice and "SAM for CT" from the curated lists: the same report again
    assert c.duplicates_removed == 2
    assert c.versions_linked == 1  # the preprint of "SAM for CT": a second report of it
    assert c.reports_deduplicated == 15
    assert c.records_awaiting_dedupe == 0
    assert c.excluded_automation == 2 and c.excluded_automation_by == {"E-DATE": 2}
    # every box from here counts reports; "SAM for CT" (2 reports) passes all of them
    assert c.records_screened == 13 and c.studies_at("records_screened") == 12
    assert c.excluded_screening == 2 and c.excluded_screening_by == {"E-REVIEW": 2}
    assert c.conflict_screening == 1
    assert c.awaiting_screening == 2  # nothing yet, and one of two votes
    assert c.reports_sought == 8 and c.studies_at("reports_sought") == 7
    assert c.reports_not_retrieved == 1
    assert c.awaiting_full_text == 1
    assert c.reports_assessed == 6 and c.studies_at("reports_assessed") == 5
    assert c.excluded_full_text == 1 and c.excluded_full_text_by == {"E-PRE-FM": 1}
    assert c.conflict_full_text == 1
    assert c.studies_included == 3
    assert c.reports_included == 4  # SAM for CT has a version-of member
    # the reports that reach "included" are the reports assessed minus those excluded
    assert c.reports_assessed - c.excluded_full_text - c.conflict_full_text == c.reports_included
    assert c.included_human == 3 and c.included_rules == 0
    assert c.previous is None
    assert all(i.ok for i in c.invariants()), [i for i in c.invariants() if not i.ok]
    c.check()


def test_review_b_rules_mode_and_unmerged_records() -> None:
    from fmreview.protocol.model import ScreeningSettings

    store = Store.memory()
    proto = store.protocol.model_copy(
        update={"screening": ScreeningSettings(mode="rules", reviewers_per_record=1)}
    )
    store = Store(store.engine, protocol=proto)
    make_review(
        store,
        [
            W("Rules included 1", sources=[("curated lists", "other")], decisions=AUTO_IN),
            W(
                "Rules included 2",
                sources=[("curated lists", "other"), ("scopus.ris", "file")],
                decisions=AUTO_IN,
            ),
            W(
                "Human excluded",
                sources=[("curated lists", "other")],
                decisions=AUTO_IN + [("title_abstract", "alice", "exclude", None)],
            ),
            W(
                "Human included",
                sources=[("curated lists", "other")],
                decisions=AUTO_IN
                + [
                    ("title_abstract", "alice", "include", None),
                    ("full_text", "alice", "include", None),
                ],
            ),
            W(
                "Auto excluded",
                sources=[("curated lists", "other")],
                decisions=[("automation", "rules", "exclude", None)],
            ),
        ],
    )
    # a record that arrived after dedupe: not in any work yet
    with store.run("import", {}) as run:
        add_records(
            store,
            [Record(title="Late record", year=2024)],
            source="openalex",
            source_kind="database",
            run_id=run.id,
        )
    c = prisma_counts(store)
    assert c.records_identified == 7
    assert c.records_awaiting_dedupe == 1
    assert c.duplicates_removed == 1
    assert c.works == 5
    assert c.excluded_automation_by == {"unspecified": 1}
    assert c.excluded_screening_by == {"unspecified": 1}
    assert c.studies_included == 3
    assert c.included_rules == 2 and c.included_human == 1
    assert c.other_methods == {"curated lists": 5, "scopus.ris": 1}
    assert c.databases == {"openalex": 1}
    assert all(i.ok for i in c.invariants())


def test_empty_review(store: Store) -> None:
    c = prisma_counts(store)
    assert c.records_identified == 0 and c.studies_included == 0
    assert all(i.ok for i in c.invariants())


def test_merged_works_are_not_active(store: Store) -> None:
    ids = make_review(store, [W("One", decisions=AUTO_IN), W("Two", decisions=AUTO_IN)])
    with store.begin() as conn:
        conn.execute(
            sa.update(schema.works).where(schema.works.c.id == ids[1]).values(merged_into=ids[0])
        )
    c = prisma_counts(store)
    assert c.works == 1 and c.duplicates_removed == 1
    assert all(i.ok for i in c.invariants())


def test_previous_version_arm(store: Store) -> None:
    make_review(store, review_a())
    c1 = prisma_counts(store)
    with store.run("report", {}) as run:
        v1 = record_version(store, c1, run_id=run.id)
        assert v1 is not None
        assert record_version(store, c1, run_id=run.id) is None  # nothing changed
    assert prisma_counts(store).previous is None  # the newest version is the current state
    # an update: two new records; one new included study, one previously included now excluded
    make_review(
        store,
        [W("New SAM paper", decisions=AUTO_IN + TA_IN + FT_IN), W("New junk", decisions=AUTO_EX)],
    )
    first_included = c1.included_ids[0]
    with store.begin() as conn:
        conn.execute(
            sa.insert(schema.decisions).values(
                work_id=first_included,
                stage="resolution",
                reviewer="carol",
                label="exclude",
                criterion="E-PRE-FM",
                note="full_text",
                created_at=_now(),
            )
        )
    c2 = prisma_counts(store)
    assert c2.previous is not None
    p = c2.previous
    assert p.version_id == v1
    assert p.studies_included == 3
    assert p.new_records == 2
    assert p.new_studies == 1 and p.dropped_studies == 1
    assert c2.studies_included == 3
    assert all(i.ok for i in c2.invariants())
    with store.run("report", {}) as run:
        v2 = record_version(store, c2, run_id=run.id)
    # after recording v2 the previous version is still v1
    assert prisma_counts(store).previous.version_id == v1  # type: ignore[union-attr]
    assert v2 and v2 > v1


def test_check_raises_on_inconsistent_counts() -> None:
    from fmreview.errors import StatsError

    c = PrismaCounts(records_identified=5, databases={"x": 4})
    with pytest.raises(StatsError, match="identified = databases"):
        c.check()


def test_check_catches_reports_that_reappear(store: Store) -> None:
    """The old flaw: versions removed as duplicates came back as reports of included studies
    (747 assessed -> 751 included). Counting them once more at the end must fail a check."""
    make_review(store, review_a())
    c = prisma_counts(store)
    c.check()
    c.reports_included += 1  # a report that was not assessed
    bad = [i for i in c.invariants() if not i.ok]
    assert [i.name for i in bad] == [
        "assessed = excluded + conflicts + reports of included studies"
    ]
    from fmreview.errors import StatsError

    with pytest.raises(StatsError, match="reports of included studies"):
        c.check()
    c = prisma_counts(store)
    c.duplicates_removed += c.versions_linked  # versions counted as duplicates, as before
    assert {i.name for i in c.invariants() if not i.ok} == {
        "identified = duplicates + excluded by automation + awaiting dedupe + screened"
    }


def test_every_arrow_has_a_check(store: Store) -> None:
    """Each arrow drawn in the diagram is covered by a check in reports and in studies."""
    from fmreview.report.prisma import ARROWS

    make_review(store, review_a())
    c = prisma_counts(store)
    with store.run("report", {}) as run:
        record_version(store, c, run_id=run.id)
    make_review(store, [W("New SAM paper", decisions=AUTO_IN + TA_IN + FT_IN)])
    c = prisma_counts(store)
    assert c.previous is not None
    lay = build_layout(c)
    drawn = set(lay.arrow_keys)
    assert drawn == set(ARROWS)
    inv = c.invariants()
    for arrow in drawn:
        covering = [i for i in inv if arrow in i.arrows]
        assert covering, arrow
        if arrow != "previous->included":
            assert any("studies" in i.name or i.name.startswith("included =") for i in covering)
    assert all(i.ok for i in inv)


def test_flat_keys() -> None:
    c = PrismaCounts(databases={"openalex": 3}, excluded_screening_by={"E-REVIEW": 2})
    flat = c.flat()
    assert flat["databases.openalex"] == 3 and flat["excluded_screening_by.E-REVIEW"] == 2


def test_diagram_numbers_match_counts(store: Store, tmp_path: Path) -> None:
    make_review(store, review_a(), searches={"openalex": 1200})
    c = prisma_counts(store)
    svg = layout_svg(build_layout(c, descriptions={"E-REVIEW": "A review. More text."}))
    root = ET.fromstring(svg)
    shown = {
        e.get("data-key"): int(e.text or "")
        for e in root.iter("{http://www.w3.org/2000/svg}tspan")
        if e.get("data-key")
    }
    flat = c.flat()
    for key, n in shown.items():
        assert flat[key] == n, key
    for key in (
        "records_identified",
        "duplicates_removed",
        "records_screened",
        "reports_sought",
        "reports_assessed",
        "studies_included",
        "reports_included",
        "excluded_screening_by.E-REVIEW",
    ):
        assert key in shown
    paths = write_diagram(c, tmp_path)
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["pdf"].read_bytes()[:5] == b"%PDF-"
    ET.parse(paths["svg"])


def test_diagram_escapes_criterion_names(tmp_path: Path) -> None:
    c = PrismaCounts(
        records_identified=1,
        other_methods={"<script>alert(1)</script>": 1},
        works=1,
        records_screened=1,
        awaiting_screening=1,
    )
    svg = layout_svg(build_layout(c))
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert not list(root.iter("script")) and not list(
        root.iter("{http://www.w3.org/2000/svg}script")
    )


def test_previous_arm_drawn(store: Store) -> None:
    make_review(store, review_a())
    c = prisma_counts(store)
    with store.run("report", {}) as run:
        record_version(store, c, run_id=run.id)
    make_review(store, [W("New", decisions=AUTO_IN + TA_IN + FT_IN)])
    c2 = prisma_counts(store)
    svg = layout_svg(build_layout(c2))
    assert 'data-key="previous.studies_included"' in svg and "Previous version" in svg


# ----------------------------------------------------------------------------- random reviews
#: Each fate: the decisions that lead to it and the PRISMA box it must land in.
FATES: dict[str, tuple[list[tuple[str, str, str, str | None]], str]] = {
    "auto_date": (AUTO_EX, "excluded_automation"),
    "auto_lang": ([("automation", "rules", "exclude", "E-LANGUAGE")], "excluded_automation"),
    "ta_review": (AUTO_IN + TA_EX_REVIEW, "excluded_screening"),
    "ta_nocrit": (
        AUTO_IN
        + [
            ("title_abstract", "alice", "exclude", None),
            ("title_abstract", "bob", "exclude", None),
        ],
        "excluded_screening",
    ),
    "ta_conflict": (AUTO_IN + TA_CONFLICT, "conflict_screening"),
    "waiting": (AUTO_IN, "awaiting_screening"),
    "no_auto": ([], "awaiting_screening"),
    "half": (AUTO_IN + TA_IN[:1], "awaiting_screening"),
    "ft_waiting": (AUTO_IN + TA_IN, "awaiting_full_text"),
    "ft_nr": (AUTO_IN + TA_IN + FT_NR, "reports_not_retrieved"),
    "ft_ex": (AUTO_IN + TA_IN + FT_EX, "excluded_full_text"),
    "ft_conflict": (
        AUTO_IN
        + TA_IN
        + [("full_text", "alice", "include", None), ("full_text", "bob", "exclude", "X")],
        "conflict_full_text",
    ),
    "included": (AUTO_IN + TA_IN + FT_IN, "studies_included"),
    "resolved_in": (
        AUTO_IN + TA_CONFLICT + [("resolution:title_abstract", "carol", "include", None)] + FT_IN,
        "studies_included",
    ),
    "resolved_out": (
        AUTO_IN + TA_CONFLICT + [("resolution:title_abstract", "carol", "exclude", "E-REVIEW")],
        "excluded_screening",
    ),
    "changed_mind": (
        AUTO_IN + TA_IN + FT_IN + [("full_text", "bob", "exclude", "E-PRE-FM")],
        "conflict_full_text",
    ),
}
SOURCES = [
    ("openalex", "database"),
    ("pubmed", "database"),
    ("arxiv", "database"),
    ("curated lists", "other"),
    ("scopus.ris", "file"),
]


def _random_review(seed: int) -> tuple[list[W], dict[str, int], dict[str, int]]:
    """A random review and the expected box totals and records per source, by construction."""
    import random

    rng = random.Random(seed)
    works, boxes = [], {}
    per_source: dict[str, int] = {}
    n_records = 0
    for i in range(rng.randint(5, 40)):
        fate = rng.choice(list(FATES))
        decisions, box = FATES[fate]
        k = rng.choice([1, 1, 1, 2, 3])
        sources = rng.sample(SOURCES, k)
        links = [rng.choice(["duplicate", "version-of"]) for _ in range(k - 1)]
        works.append(W(f"{fate} {i}", sources=sources, links=links, decisions=list(decisions)))
        boxes[box] = boxes.get(box, 0) + 1
        for s, _ in sources:
            per_source[s] = per_source.get(s, 0) + 1
        n_records += k
    boxes["records_identified"] = n_records
    boxes["works"] = len(works)
    return works, boxes, per_source


@pytest.mark.parametrize("seed", range(6))
def test_random_reviews_add_up(seed: int) -> None:
    works, boxes, per_source = _random_review(seed)
    store = memory_store()
    make_review(store, works)
    c = prisma_counts(store)
    bad = [i for i in c.invariants() if not i.ok]
    assert not bad, bad
    assert c.records_identified == boxes["records_identified"]
    assert c.works == boxes["works"]
    for key in (
        "excluded_automation",
        "excluded_screening",
        "conflict_screening",
        "awaiting_screening",
        "awaiting_full_text",
        "reports_not_retrieved",
        "excluded_full_text",
        "conflict_full_text",
    ):
        # studies per box by construction, and reports: one per study plus its versions
        assert c.studies_at(key) == boxes.get(key, 0), key
        fate_reports = sum(
            1 + w.links.count("version-of") for w in works if FATES[w.title.split()[0]][1] == key
        )
        assert getattr(c, key) == fate_reports, key
    assert c.studies_included == boxes.get("studies_included", 0)
    n_versions = sum(w.links.count("version-of") for w in works)
    assert c.versions_linked == n_versions
    assert c.duplicates_removed == boxes["records_identified"] - boxes["works"] - n_versions
    assert {**c.databases, **c.other_methods} == per_source
    # reports: one per included study plus its version-of members
    expected_reports = sum(
        1 + w.links.count("version-of")
        for w in works
        if FATES[w.title.split()[0]][1] == "studies_included"
    )
    assert c.reports_included == expected_reports
    store.close()
