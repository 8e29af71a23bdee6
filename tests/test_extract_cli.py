"""``fmreview extract``, ``extract review`` (evidence highlighted, scripted input) and ``find``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from rich.text import Text
from typer.testing import CliRunner

from fmreview.cli.extract import highlight, register, review_labels
from fmreview.extract.atlas import find, resolve_value
from fmreview.extract.store_io import current_labels, extract_store
from fmreview.record import Record
from fmreview.store import Store, schema
from fmreview.store.records import add_records
from fmreview.store.works import works_from_records

runner = CliRunner()

STUDIES = [
    (
        "MedSAM: segment anything in CT and MRI",
        2024,
        {
            "weights_available": "yes",
            "code_available": "yes",
            "model_name": "MedSAM",
            "fm_type": "vision_only",
        },
    ),
    ("A SAM adapter for liver CT segmentation", 2023, {"code_available": "no"}),
    ("CXR-CLIP: chest X-ray language-image pretraining", 2023, {"fm_type": "vision_language"}),
    ("Text-prompted universal segmentation of CT", 2025, {"weights_available": "no"}),
    ("Old CT segmentation network", 2019, {}),
]


def app() -> typer.Typer:
    a = typer.Typer()

    @a.callback()
    def _root() -> None:
        """Test root."""

    register(a)
    return a


def populate(store: Store) -> dict[str, int]:
    recs = [
        Record(title=t, year=y, extra=e, doi=f"10.1/{i}") for i, (t, y, e) in enumerate(STUDIES)
    ]
    with store.run("import") as run:
        add_records(store, recs, source="t", source_kind="other", run_id=run.id)
        works_from_records(store, run.id)
    with store.connect() as conn:
        return {
            r.title: int(r.id)
            for r in conn.execute(sa.select(schema.works.c.id, schema.works.c.title))
        }


@pytest.fixture
def review(file_store: Store) -> tuple[Store, dict[str, int]]:
    ids = populate(file_store)
    return file_store, ids


def test_extract_command_reports_origins(review: tuple[Store, dict[str, int]]) -> None:
    store, _ = review
    res = runner.invoke(app(), ["extract", "--dir", str(store.folder), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "labels on 5 works:" in res.output
    assert (
        "human-confirmed" in res.output and "list-given" in res.output and "automatic" in res.output
    )
    res = runner.invoke(app(), ["extract", "--dir", str(store.folder), "--json"])
    counts = json.loads(res.output)
    assert counts["works"] == 5 and counts["rows_added"] == {}
    assert counts["list"] >= 2


def run_extract(store: Store) -> None:
    with store.run("extract") as run:
        extract_store(store, run_id=run.id)


def test_find_ct_segmentation_newest_first(review: tuple[Store, dict[str, int]]) -> None:
    store, ids = review
    run_extract(store)
    rows = find(store, modality="CT", task="segmentation")
    titles = [r["title"] for r in rows]
    assert titles == [
        "Text-prompted universal segmentation of CT",
        "MedSAM: segment anything in CT and MRI",
        "A SAM adapter for liver CT segmentation",
        "Old CT segmentation network",
    ]
    assert rows[0]["fm_type"] == "vision_language" and rows[1]["fm_type"] == "vision_only"
    assert rows[1]["links"]["doi"].startswith("https://doi.org/10.1/")
    assert rows[1]["model_name"] == "MedSAM"
    assert [
        r["title"] for r in find(store, modality="ct", task="segmentation", open_weights=True)
    ] == ["MedSAM: segment anything in CT and MRI"]
    assert [r["title"] for r in find(store, fm_type="vision-language", modality="X-ray")] == [
        "CXR-CLIP: chest X-ray language-image pretraining"
    ]
    assert find(store, modality="CT", year_from=2024, fm_type="vision_only")[0]["year"] == 2024


def test_find_command_json_and_table(review: tuple[Store, dict[str, int]]) -> None:
    store, _ = review
    run_extract(store)
    res = runner.invoke(
        app(),
        [
            "find",
            "--dir",
            str(store.folder),
            "--modality",
            "CT",
            "--task",
            "segmentation",
            "--open-weights",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    assert [r["model_name"] for r in rows] == ["MedSAM"]
    res = runner.invoke(app(), ["find", "--dir", str(store.folder), "--modality", "CT"])
    assert res.exit_code == 0 and "studies" in res.output


def test_unknown_filter_value_lists_the_choices(review: tuple[Store, dict[str, int]]) -> None:
    store, _ = review
    with pytest.raises(Exception, match="xray"):
        resolve_value(store.protocol, "modality", "x-rey")
    assert resolve_value(store.protocol, "modality", "X-ray") == "xray"
    assert resolve_value(store.protocol, "task", "Visual Question Answering") == "vqa"


def test_highlight_marks_the_evidence() -> None:
    t = highlight(
        "MedSAM for CT",
        [
            {"field": "title", "start": 0, "end": 6, "text": "MedSAM"},
            {"field": "abstract", "start": 0, "end": 3},
        ],
        "title",
    )
    assert isinstance(t, Text)
    (span,) = t.spans
    assert (span.start, span.end) == (0, 6)


def test_review_with_scripted_answers(review: tuple[Store, dict[str, int]]) -> None:
    store, ids = review
    run_extract(store)
    shown: list[Any] = []
    answers = iter(["c", "x", "nonsense_value", "x", "vision_only", "s", "q"])
    counts = review_labels(
        store, "carol", ask=lambda _p: next(answers), show=shown.append, limit=10, axes=["fm_type"]
    )
    assert counts == {"confirmed": 1, "corrected": 1, "skipped": 1}
    assert any(isinstance(s, Text) and s.spans for s in shown)  # evidence highlighted
    assert any("not saved" in str(s) for s in shown)
    cur = current_labels(store)
    human = cur[cur.method == "human"]
    assert set(human.status) == {"confirmed", "corrected"} and set(human.reviewer) == {"carol"}


def test_review_command_with_input(review: tuple[Store, dict[str, int]]) -> None:
    store, _ = review
    run_extract(store)
    res = runner.invoke(
        app(),
        ["extract", "review", "--dir", str(store.folder), "--reviewer", "dan", "-n", "2"],
        input="c\ns\n",
    )
    assert res.exit_code == 0, res.output
    assert "1 confirmed, 0 corrected, 1 skipped" in " ".join(res.output.split())
    assert "confidence" in res.output and "evidence:" in res.output


def test_review_with_nothing_to_review(file_store: Store) -> None:
    shown: list[Any] = []
    assert review_labels(file_store, "x", ask=lambda _p: "q", show=shown.append) == {
        "confirmed": 0,
        "corrected": 0,
        "skipped": 0,
    }
    assert "nothing to review" in str(shown[0])


def test_extract_command_with_methods(review: tuple[Store, dict[str, int]]) -> None:
    store, _ = review
    res = runner.invoke(
        app(), ["extract", "--dir", str(store.folder), "--method", "rule", "--json"]
    )
    assert res.exit_code == 0, res.output
    counts = json.loads(res.output)
    assert set(counts["rows_added"]) == {"rule"} and counts["list"] == 0
    with store.connect() as conn:
        run = conn.execute(sa.select(schema.runs).where(schema.runs.c.command == "extract")).one()
    assert run.status == "ok" and run.params == {"methods": ["rule"]} and run.counts["works"] == 5
