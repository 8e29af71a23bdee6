"""Coverage on every table and figure, low coverage flagged, source coverage of years."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import lxml.html
import pytest
import sqlalchemy as sa

from fmreview.analysis_store import coverage_end_year, source_coverage, work_sources
from fmreview.report.build import build_report, low_coverage_years, report_context
from fmreview.report.numbers import LOW_COVERAGE, AxisCoverage
from fmreview.store import Store, schema
from tests.test_report_prisma import AUTO_IN, FT_IN, TA_IN, W, make_review, memory_store

INC = AUTO_IN + TA_IN + FT_IN


@pytest.fixture
def store() -> Iterator[Store]:
    s = memory_store()
    yield s
    s.close()


def _review(store: Store) -> dict[int, int]:
    works = [
        W(
            f"Study {i}",
            year=2020 + i % 5,
            decisions=INC,
            labels={"fm_type": ["vision_only"], **({"datasets": ["BraTS"]} if i == 0 else {})},
        )
        for i in range(10)
    ]
    return make_review(store, works)


def test_low_coverage_is_flagged_and_normal_is_stated(store: Store, tmp_path: Path) -> None:
    _review(store)
    ctx = report_context(store, tmp_path)
    tax = {t["axis"]: t["coverage"] for t in ctx["taxonomy"]}
    assert tax["fm_type"]["low"] is False
    assert tax["fm_type"]["text"].startswith("Coverage: 10 of 10 included studies labelled (100%)")
    assert "evidence: rule 100%" in tax["fm_type"]["text"]
    assert tax["datasets"]["low"] is True  # 1 of 10 < 20%
    assert tax["datasets"]["text"].startswith("Low coverage: 1 of 10")
    assert "do not read them as findings" in tax["datasets"]["text"]
    # the summary sentence says so too
    (ds,) = [s for s in ctx["summary_sentences"] if s.startswith("By Datasets")]
    assert "1 of 10 studies labelled: too few to describe the review" in ds
    # and the page shows it in the warning style
    res = build_report(store, out_dir=tmp_path / "r")
    doc = lxml.html.fromstring(Path(res["report_path"]).read_text(encoding="utf-8"))
    low = [p.text_content() for p in doc.xpath("//*[contains(@class, 'coverage low')]")]
    assert any("Low coverage: 1 of 10" in t for t in low)
    assert not any("FM type" in t or "10 of 10" in t for t in low)


@pytest.mark.parametrize(
    ("n", "of", "low"), [(19, 100, True), (20, 100, False), (0, 0, True), (1, 3, False)]
)
def test_low_coverage_threshold(n: int, of: int, low: bool) -> None:
    assert AxisCoverage("x", n, of).low is low
    assert LOW_COVERAGE == 0.20


def _set_lists(store: Store, ids: dict[int, int], lists: dict[int, list[str]]) -> None:
    with store.begin() as conn:
        for i, labs in lists.items():
            conn.execute(
                sa.update(schema.works)
                .where(schema.works.c.id == ids[i])
                .values(source_labels=labs)
            )


def test_years_after_the_coverage_rule_are_low(store: Store) -> None:
    """Three lists cover 2020-2024; in 2025 only one still adds works (1 of 3 < 50%)."""
    works = [W(f"w{y}-{k}", year=y, decisions=INC) for y in range(2020, 2026) for k in range(3)]
    ids = make_review(store, works)
    lists = {}
    for i, w in enumerate(works):
        k = int(w.title.rsplit("-", 1)[1])
        lists[i] = ["A"] if w.year == 2025 else [["A", "B", "C"][k]]
    _set_lists(store, ids, lists)
    cov = source_coverage(store)
    assert cov[2024] == (3, 3) and cov[2025] == (1, 3)
    assert coverage_end_year(store, 0.5) == 2024
    assert store.protocol.analyses.coverage_min_share == 0.5  # the flagship protocol's rule
    low, note = low_coverage_years(store, {"partial_years": [2026]})
    assert low == [2025]
    assert "2025: 1 of 3 sources" in note and "50%" in note and "not a decline" in note
    low, _ = low_coverage_years(store, {"partial_years": [2025]})
    assert low == []  # a partial year is marked as partial, not twice


def test_work_sources_prefers_lists_then_record_sources(store: Store) -> None:
    ids = make_review(
        store,
        [
            W("listed", sources=[("curated lists", "other")], decisions=INC),
            W(
                "searched",
                sources=[("openalex", "database"), ("pubmed", "database")],
                decisions=INC,
            ),
        ],
    )
    _set_lists(store, ids, {0: ["L1", "L2"]})
    src = work_sources(store)
    assert src == {ids[0]: {"L1", "L2"}, ids[1]: {"openalex", "pubmed"}}
    assert work_sources(store, [ids[1]]) == {ids[1]: {"openalex", "pubmed"}}


def test_analysis_stores_sensitivity_and_the_report_shows_it(store: Store, tmp_path: Path) -> None:
    from fmreview.analysis_store import analyze_store

    works = [
        W(
            f"w{y}-{k}",
            year=y,
            decisions=INC,
            labels={
                "fm_type": ["vision_language" if k % 2 else "vision_only"],
                "themes": ["prompting", "robustness"] if k == 0 else ["prompting"],
                "task": ["segmentation"],
            },
        )
        for y in range(2019, 2025)
        for k in range(y - 2017)
    ]
    ids = make_review(store, works)
    _set_lists(store, ids, {i: ["A"] if i % 3 else ["B"] for i in range(len(works))})
    stored = analyze_store(store)
    sens = stored.result.tables["sensitivity"]
    assert set(sens["left_out"]) == {"(all sources)", "A", "B"}
    assert len(sens) == 3 * len(stored.result.findings)
    cm = stored.result.tables["challenge_map"]
    assert {"themes", "task"} <= set(cm["col_axis"])
    ctx = report_context(store, tmp_path)
    assert ctx["sensitivity"]["computed"] and ctx["sensitivity"]["sources"] == ["A", "B"]
    assert len(ctx["sensitivity"]["rows"]) == len(stored.result.findings)
    for f in ctx["findings"]:
        assert f["robustness"].startswith(("holds in all 2", "FLIPS when"))
    (block,) = [b for b in ctx["challenge_blocks"] if b["col_axis"] == "themes"]
    (cell,) = block["cells"]
    assert (cell["row"], cell["col"], cell["n"]) == ("prompting", "robustness", 6)
    assert sorted(w["title"] for w in cell["works"]) == sorted(
        w.title for w in works if w.title.endswith("-0")
    )
    assert (tmp_path / "tables" / "sensitivity.csv").exists()
    assert (tmp_path / "tables" / "challenge_map.csv").exists()


def test_a_finding_on_a_thinly_labelled_axis_is_flagged(store: Store, tmp_path: Path) -> None:
    from fmreview.analysis_store import analyze_store

    works = [
        W(
            f"w{y}-{k}",
            year=y,
            decisions=INC,
            labels={"fm_type": ["vision_only"], **({"task": ["segmentation"]} if k == 0 else {})},
        )
        for y in range(2018, 2025)
        for k in range(8)
    ]
    make_review(store, works)
    findings = [
        {
            "id": "seg",
            "statement": "Segmentation rising",
            "kind": "growth",
            "axis": "task",
            "values": ["segmentation"],
        },
        {
            "id": "vo",
            "statement": "Vision-only rising",
            "kind": "growth",
            "axis": "fm_type",
            "values": ["vision_only"],
        },
    ]
    proto = store.protocol  # a copy, never the shared flagship protocol
    proto = proto.model_copy(
        update={"analyses": proto.analyses.model_copy(update={"findings": findings})}
    )
    store = Store(store.engine, protocol=proto)
    analyze_store(store)
    ctx = report_context(store, tmp_path)
    by = {f["statement"]: f for f in ctx["findings"]}
    assert (
        "7 of 56 included studies carry a Task label"
        in by["Segmentation rising"]["coverage_warning"]
    )
    assert by["Vision-only rising"]["coverage_warning"] == ""
    res = build_report(store, out_dir=tmp_path / "r")  # the page renders the warning
    html = Path(res["report_path"]).read_text(encoding="utf-8")
    assert "[low coverage: only 7 of 56 included studies carry a Task label]" in html
